"""Select many, act once: tag, untag, favourite, add to boards, trash; each in a constant number
of queries, whatever the number of images (UPDATE and INSERT ... SELECT, never one per image).

A selection is either listed ids or "every image of this listing" (the listing's filters), so
that "Select all" on page 1 of 400 means all 400 pages. Big selections run in the background as
a :class:`BulkAction` whose page shows its progress; small ones run at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet, Value
from django.utils import timezone

from ..models import BulkAction, GalleryEvent, Image, TaggedImage
from .boards import board_images_add, board_images_remove
from .events import event_emit
from .images import tags_for
from .sql import insert_from_select
from .trash import images_trash

logger = logging.getLogger(__name__)

ACTIONS = (
    "tag-add",
    "tag-remove",
    "board-add",
    "board-remove",
    "favourite",
    "unfavourite",
    "trash",
)


class BulkActionInvalid(ValueError):
    """An action that cannot run as asked; the message says why, for a person."""


@dataclass
class BulkResult:
    action: str
    count: int
    message: str
    trashed_at: object = None
    details: dict = field(default_factory=dict)


def _changed(owner_id: int, action: str, count: int) -> None:
    # One event for the whole action: live pages reload their listing rather than learn
    # about ten thousand images one by one.
    event_emit(
        owner_id=owner_id,
        kind=GalleryEvent.Kind.BULK,
        payload={"event": GalleryEvent.Kind.IMAGE_CHANGED, "action": action, "count": count},
    )


def images_tag_add(*, owner, images: QuerySet[Image], names: list[str]) -> int:
    """Add each tag to every image: one INSERT ... SELECT per tag. Returns tags added."""
    tags = tags_for(owner=owner, names=names)
    added = 0
    with transaction.atomic():
        for tag in tags:
            source = (
                Image.objects.filter(owner=owner, pk__in=images.values("pk"))
                .order_by()
                .annotate(_tag=Value(tag.pk))
                .values_list("pk", "_tag")
            )
            added += insert_from_select(TaggedImage, ["content_object", "tag"], source)
        _changed(owner.pk, "tag-add", added)
    return added


def images_tag_remove(*, owner, images: QuerySet[Image], names: list[str]) -> int:
    lowered = [" ".join(name.split()).lower() for name in names if name.strip()]
    with transaction.atomic():
        deleted, _ = TaggedImage.objects.filter(
            tag__owner=owner,
            tag__name__in=_case_variants(owner, lowered),
            content_object__in=images.values("pk"),
        ).delete()
        _changed(owner.pk, "tag-remove", deleted)
    return deleted


def _case_variants(owner, lowered: list[str]) -> list[str]:
    from ..models import Tag

    return [
        name
        for name in Tag.objects.filter(owner=owner).values_list("name", flat=True)
        if name.lower() in lowered
    ]


def images_favourite_set(*, owner, images: QuerySet[Image], favourite: bool) -> int:
    with transaction.atomic():
        count = (
            Image.objects.owned_by(owner)
            .filter(pk__in=images.values("pk"))
            .update(is_favourite=favourite)
        )
        _changed(owner.pk, "favourite" if favourite else "unfavourite", count)
    return count


def bulk_apply(*, owner, action: str, params: dict, images: QuerySet[Image]) -> BulkResult:
    """Run one action on ``images`` now."""
    images = images.order_by().prefetch_related(None)
    if action == "tag-add":
        names = params.get("tags") or []
        if not names:
            raise BulkActionInvalid("Type a tag name first.")
        count = images.count()
        images_tag_add(owner=owner, images=images, names=names)
        return BulkResult(action, count, f"Tagged {_n(count)} #{', #'.join(names)}.")
    if action == "tag-remove":
        names = params.get("tags") or []
        if not names:
            raise BulkActionInvalid("Type the tag to remove first.")
        removed = images_tag_remove(owner=owner, images=images, names=names)
        return BulkResult(action, removed, f"Removed #{', #'.join(names)} from {_n(removed)}.")
    if action == "board-add":
        from ..models import Board

        boards = list(Board.objects.filter(owner=owner, pk__in=params.get("boards") or []))
        if not boards:
            raise BulkActionInvalid("Choose a board (or name a new one) first.")
        count = images.count()
        board_images_add(boards=boards, images=images)
        names = ", ".join(f"“{board.name}”" for board in boards)
        return BulkResult(action, count, f"Added {_n(count)} to {names}.")
    if action == "board-remove":
        from ..models import Board

        board = Board.objects.filter(owner=owner, pk=params.get("board") or 0).first()
        if board is None:
            raise BulkActionInvalid("That board is gone.")
        removed = board_images_remove(board=board, images=images)
        return BulkResult(action, removed, f"Took {_n(removed)} off “{board.name}”.")
    if action in ("favourite", "unfavourite"):
        count = images_favourite_set(owner=owner, images=images, favourite=action == "favourite")
        verb = "Marked" if action == "favourite" else "Unmarked"
        return BulkResult(action, count, f"{verb} {_n(count)} as favourite.")
    if action == "trash":
        batch = images_trash(owner=owner, images=images)
        return BulkResult(
            action, batch.count, f"Moved {_n(batch.count)} to the trash.", trashed_at=batch.at
        )
    raise BulkActionInvalid(f"Unknown action: {action!r}.")


def _n(count: int) -> str:
    return f"{count:,} image{'' if count == 1 else 's'}"


def bulk_action_start(
    *, owner, action: str, params: dict, selection: dict, images: QuerySet[Image]
) -> BulkResult | BulkAction:
    """Run the action at once when the selection is small, or queue it as a BulkAction that a
    worker runs (the page then shows its progress)."""
    if action not in ACTIONS:
        raise BulkActionInvalid(f"Unknown action: {action!r}.")
    total = images.order_by().count()
    if total == 0:
        raise BulkActionInvalid("Select one or more images first.")
    if total <= settings.NOVISURF_BULK_INLINE_LIMIT:
        return bulk_apply(owner=owner, action=action, params=params, images=images)
    from .. import tasks

    with transaction.atomic():
        bulk = BulkAction.objects.create(
            owner=owner, action=action, params=params, selection=selection, total=total
        )
        transaction.on_commit(lambda: tasks.bulk_action_work.enqueue(str(bulk.pk)))
    return bulk


def bulk_action_run(*, bulk_id) -> BulkAction | None:
    """Claim a queued BulkAction and run it (a second run of the same task does nothing)."""
    from .. import selectors

    claimed = BulkAction.objects.filter(pk=bulk_id, status=BulkAction.Status.QUEUED).update(
        status=BulkAction.Status.RUNNING
    )
    bulk = BulkAction.objects.select_related("owner").filter(pk=bulk_id).first()
    if not claimed or bulk is None:
        return bulk
    selection = bulk.selection or {}
    images = selectors.image_selection(
        owner=bulk.owner, ids=selection.get("ids"), filters=selection.get("filters")
    )
    try:
        result = bulk_apply(owner=bulk.owner, action=bulk.action, params=bulk.params, images=images)
    except Exception as exc:
        logger.exception("Bulk action %s failed", bulk.pk)
        bulk.status, bulk.error = BulkAction.Status.FAILED, str(exc) or type(exc).__name__
    else:
        bulk.status, bulk.done = BulkAction.Status.DONE, result.count
        bulk.params = {
            **bulk.params,
            "message": result.message,
            "trashed_at": result.trashed_at.isoformat() if result.trashed_at else None,
        }
    bulk.finished_at = timezone.now()
    bulk.save(update_fields=["status", "done", "error", "params", "finished_at"])
    event_emit(
        owner_id=bulk.owner_id,
        kind=GalleryEvent.Kind.BULK,
        payload={"bulk": str(bulk.pk), "status": bulk.status},
    )
    return bulk
