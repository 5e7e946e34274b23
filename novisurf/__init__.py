"""Novisurf's plain-Python core: the image-generation protocol and the client. No Django here."""
