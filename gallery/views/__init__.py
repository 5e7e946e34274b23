"""The gallery's pages, one module per area: parse, call a service or a selector, render."""

from .favourites import image_favourite
from .live import events
from .pages import (
    generate,
    generation_detail,
    generation_retry,
    generation_status,
    home,
    image_delete,
    image_detail,
    image_download,
    image_file,
    image_tag_add,
    image_tag_remove,
    image_thumbnail,
)

__all__ = [
    "events",
    "generate",
    "generation_detail",
    "generation_retry",
    "generation_status",
    "home",
    "image_delete",
    "image_detail",
    "image_download",
    "image_favourite",
    "image_file",
    "image_tag_add",
    "image_tag_remove",
    "image_thumbnail",
]
