"""Add a tag to, or remove it from, every selected image."""

from __future__ import annotations

from ..forms import split_tags
from ..services.image_sets import images_tag_add, images_tag_remove
from .base import BulkActionInvalid, BulkResult, ImageAction, images_text, register

MAX_TAGS = 20


class _TagAction(ImageAction):
    group = "tags"
    fields_template = "gallery/bulk_actions/tag_fields.html"

    @classmethod
    def params_from(cls, data, *, owner) -> dict:
        return {"tags": split_tags(data.get("tag", ""))[:MAX_TAGS]}


@register
class TagAdd(_TagAction):
    name = "tag-add"
    label = "Add tag"

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        names = params.get("tags") or []
        if not names:
            raise BulkActionInvalid("Type a tag name first.")
        count = images.count()
        images_tag_add(owner=owner, images=images, names=names)
        return BulkResult(cls.name, count, f"Tagged {images_text(count)} #{', #'.join(names)}.")


@register
class TagRemove(_TagAction):
    name = "tag-remove"
    label = "Remove tag"

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        names = params.get("tags") or []
        if not names:
            raise BulkActionInvalid("Type the tag to remove first.")
        removed = images_tag_remove(owner=owner, images=images, names=names)
        return BulkResult(
            cls.name, removed, f"Removed #{', #'.join(names)} from {images_text(removed)}."
        )
