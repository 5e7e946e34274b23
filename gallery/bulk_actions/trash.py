"""The trash's actions: move the selected images there; from the Trash page, restore them or
delete them forever."""

from __future__ import annotations

from ..services.trash import images_delete_forever, images_restore, images_trash
from .base import TRASH, BulkResult, ImageAction, images_text, register


@register
class Trash(ImageAction):
    name = "trash"
    label = "Move to trash"
    danger = True

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        batch = images_trash(owner=owner, images=images)
        return BulkResult(
            cls.name,
            batch.count,
            f"Moved {images_text(batch.count)} to the trash.",
            trashed_at=batch.at,
        )


@register
class Restore(ImageAction):
    name = "restore"
    label = "Restore"
    scope = TRASH

    @classmethod
    def confirmation(cls, *, count: int, every: bool) -> str:
        return f"Restore all {images_text(count)} in the trash?" if every else ""

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        count = images_restore(owner=owner, images=images)
        return BulkResult(cls.name, count, f"Restored {images_text(count)}.")


@register
class DeleteForever(ImageAction):
    name = "delete-forever"
    label = "Delete forever"
    scope = TRASH
    danger = True

    @classmethod
    def confirmation(cls, *, count: int, every: bool) -> str:
        return f"Delete {images_text(count)} forever? This cannot be undone."

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        count = images_delete_forever(owner=owner, images=images)
        return BulkResult(cls.name, count, f"Deleted {images_text(count)} forever.")
