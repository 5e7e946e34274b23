"""Download the selected images as one ZIP (the view streams it; nothing is changed)."""

from __future__ import annotations

from .base import ImageAction, register


@register
class DownloadZip(ImageAction):
    name = "zip"
    label = "Download ZIP"
    download = True
