"""Acting on a set of images at once (tag, untag, favourite), in a constant number of queries
whatever the number of images: UPDATE and INSERT ... SELECT, never one per image."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet, Value

from ..models import GalleryEvent, Image, Tag, TaggedImage
from .events import event_emit
from .images import tags_for
from .sql import insert_from_select


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
