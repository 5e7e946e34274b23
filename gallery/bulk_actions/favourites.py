"""Mark the selected images as favourites, or unmark them."""

from __future__ import annotations

from ..services.image_sets import images_favourite_set
from .base import BulkResult, ImageAction, images_text, register


@register
class Favourite(ImageAction):
    name = "favourite"
    label = "Favourite"

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        count = images_favourite_set(owner=owner, images=images, favourite=True)
        return BulkResult(cls.name, count, f"Marked {images_text(count)} as favourite.")


@register
class Unfavourite(ImageAction):
    name = "unfavourite"
    label = "Unfavourite"
    in_toolbar = False

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        count = images_favourite_set(owner=owner, images=images, favourite=False)
        return BulkResult(cls.name, count, f"Unmarked {images_text(count)} as favourite.")
