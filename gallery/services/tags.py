"""A person's tags as a whole: rename one, merge one into another, delete one.

Tags are per owner (``Tag.owner``), so every service here takes the owner and touches only
their tags. The search index follows by itself: the database's triggers re-index the images of a
renamed tag and of every tagged row added or removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from ..models import Tag, TaggedImage

MAX_TAG_CHARS = 100


class TagNameInvalid(ValueError):
    """A tag name that cannot be used; the message says why, for a person."""


@dataclass(frozen=True)
class TagRenamed:
    tag: Tag  # the tag the images now carry: the renamed one, or the one it was merged into
    merged: bool  # the new name was another tag's: the two are one now
    moved: int  # images that took the other tag (merge) or kept this one under its new name


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TagNameInvalid("Type a name for the tag.")
    if len(name) > MAX_TAG_CHARS:
        raise TagNameInvalid(f"A tag name has at most {MAX_TAG_CHARS} characters.")
    if "," in name:
        # The forms split tags on commas: a name holding one could never be typed back.
        raise TagNameInvalid("A tag name cannot hold a comma.")
    return name


def tag_rename(*, owner, tag: Tag, name: str) -> TagRenamed:
    """Rename ``tag``; onto the name of another of the owner's tags (any case), merge into it:
    its images take that tag (once each) and ``tag`` is gone."""
    if tag.owner_id != owner.pk:
        raise Tag.DoesNotExist
    name = _clean_name(name)
    with transaction.atomic():
        target = (
            Tag.objects.select_for_update()
            .filter(owner=owner, name__iexact=name)
            .exclude(pk=tag.pk)
            .first()
        )
        if target is None:
            tag.name = name
            # The slug stays: it is unique across everyone's tags and nothing shows it.
            tag.save(update_fields=["name"])
            return TagRenamed(tag=tag, merged=False, moved=tag.tagged_items.count())
        already = TaggedImage.objects.filter(tag=target).values("content_object_id")
        moving = TaggedImage.objects.filter(tag=tag).exclude(content_object_id__in=already)
        moved = moving.update(tag=target)
        tag.delete()  # its rows left on images that already had the target go with it
        return TagRenamed(tag=target, merged=True, moved=moved)


def tag_delete(*, owner, tag: Tag) -> int:
    """Delete ``tag`` from every image it is on (the images stay); returns how many it was on."""
    if tag.owner_id != owner.pk:
        raise Tag.DoesNotExist
    with transaction.atomic():
        count = TaggedImage.objects.filter(tag=tag).count()
        tag.delete()
    return count
