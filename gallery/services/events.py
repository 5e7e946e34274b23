"""The change feed: what open pages learn about, written in the same transaction as the change."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ..models import GalleryEvent

# Pages reconnect within seconds; a few minutes of history covers any reconnect.
EVENT_LIFETIME = timedelta(minutes=10)


def event_emit(
    *,
    owner_id: int,
    kind: str,
    image_id=None,
    generation_id=None,
    payload: dict | None = None,
) -> GalleryEvent:
    return GalleryEvent.objects.create(
        owner_id=owner_id,
        kind=kind,
        image_id=image_id,
        generation_id=generation_id,
        payload=payload or {},
    )


def events_emit_many(*, owner_id: int, kind: str, image_ids, payload: dict | None = None) -> None:
    """One event per image, in one query (bulk actions on thousands of images)."""
    GalleryEvent.objects.bulk_create(
        [
            GalleryEvent(owner_id=owner_id, kind=kind, image_id=image_id, payload=payload or {})
            for image_id in image_ids
        ],
        batch_size=500,
    )


def events_prune(*, older_than: timedelta = EVENT_LIFETIME) -> int:
    deleted, _ = GalleryEvent.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
