"""The trash: images leave every listing at once and can come back; their files stay until they
are deleted for good (here, or by :func:`maintenance.trash_purge` after NOVISURF_TRASH_DAYS).

Every image of one "Move to trash" gets the same ``trashed_at``: that instant is the batch's
name, so "Undo" restores exactly that batch, however many images it held, in one UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import GalleryEvent, Image
from .events import event_emit, events_emit_many

# Per-image events for the live pages up to this many; beyond it, one "bulk" event says "reload".
EVENTS_PER_IMAGE_UP_TO = 500


@dataclass(frozen=True)
class TrashBatch:
    count: int
    at: datetime


def _emit(owner_id: int, kind: str, ids_source: QuerySet[Image], count: int, **payload) -> None:
    if count <= EVENTS_PER_IMAGE_UP_TO:
        ids = list(ids_source.values_list("pk", flat=True)[:EVENTS_PER_IMAGE_UP_TO])
        events_emit_many(owner_id=owner_id, kind=kind, image_ids=ids)
    else:
        event_emit(
            owner_id=owner_id,
            kind=GalleryEvent.Kind.BULK,
            payload={"event": kind, "count": count, **payload},
        )


def images_trash(*, owner, images: QuerySet[Image]) -> TrashBatch:
    """Move the owner's ``images`` (those not in the trash yet) to the trash."""
    now = timezone.now()
    with transaction.atomic():
        count = (
            Image.objects.owned_by(owner)
            .visible()
            .filter(pk__in=images.values("pk"))
            .update(trashed_at=now)
        )
        if count:
            batch = Image.objects.filter(owner=owner, trashed_at=now)
            _emit(owner.pk, GalleryEvent.Kind.IMAGE_TRASHED, batch, count)
    return TrashBatch(count=count, at=now)


def images_restore(*, owner, images: QuerySet[Image]) -> int:
    with transaction.atomic():
        ids = Image.objects.owned_by(owner).trashed().filter(pk__in=images.values("pk"))
        return _restore(owner, ids)


def trash_undo(*, owner, at: datetime) -> int:
    """Restore the batch trashed at ``at`` (what "Undo" offers right after a move)."""
    with transaction.atomic():
        return _restore(owner, Image.objects.owned_by(owner).filter(trashed_at=at))


def _restore(owner, images: QuerySet[Image]) -> int:
    # Event ids first: once restored, the rows no longer say which they were.
    ids = list(images.values_list("pk", flat=True)[: EVENTS_PER_IMAGE_UP_TO + 1])
    count = Image.objects.filter(pk__in=images.values("pk")).update(trashed_at=None)
    if count and len(ids) <= EVENTS_PER_IMAGE_UP_TO:
        events_emit_many(owner_id=owner.pk, kind=GalleryEvent.Kind.IMAGE_RESTORED, image_ids=ids)
    elif count:
        event_emit(
            owner_id=owner.pk,
            kind=GalleryEvent.Kind.BULK,
            payload={"event": GalleryEvent.Kind.IMAGE_RESTORED, "count": count},
        )
    return count


def images_delete_forever(*, owner, images: QuerySet[Image]) -> int:
    """Delete the owner's trashed ``images`` for good; files follow once this commits."""
    with transaction.atomic():
        doomed = Image.objects.owned_by(owner).trashed().filter(pk__in=images.values("pk"))
        ids = list(doomed.values_list("pk", flat=True)[: EVENTS_PER_IMAGE_UP_TO + 1])
        deleted = doomed.count()
        Image.objects.filter(pk__in=doomed.values("pk")).delete()
        if deleted and len(ids) <= EVENTS_PER_IMAGE_UP_TO:
            events_emit_many(owner_id=owner.pk, kind=GalleryEvent.Kind.IMAGE_DELETED, image_ids=ids)
    return deleted


def trash_empty(*, owner) -> int:
    return images_delete_forever(owner=owner, images=Image.objects.owned_by(owner).trashed())
