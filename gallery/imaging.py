"""The gallery's name for :mod:`novisurf.imaging` (the Pillow work needs no Django)."""

from __future__ import annotations

from novisurf.imaging import *  # noqa: F403
from novisurf.imaging import (  # noqa: F401
    ALLOWED_FORMATS,
    CONTENT_TYPES,
    ImageRejected,
    VerifiedImage,
    as_edit_source,
    embed_png_text,
    png_text_keywords,
    thumbnail,
    thumbnail_for,
    verify,
)
