"""The gallery's reads: what one person may see, with what the pages show fetched up front."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from taggit.models import Tag

from .models import Generation, Image, TaggedImage


def _with_tags(images: QuerySet[Image]) -> QuerySet[Image]:
    # One query for every shown image's tags, not one per image (see Image.tag_list).
    return images.prefetch_related(
        Prefetch("tagged_items", queryset=TaggedImage.objects.select_related("tag"))
    )


def image_list(*, owner, tag: str | None = None, query: str | None = None) -> QuerySet[Image]:
    images = Image.objects.owned_by(owner)
    if tag:
        images = images.tagged(tag)
    if query:
        images = images.search(query)
    # Listings show every image's tags: one query for all of them, not one per image.
    return _with_tags(images).order_by("-created_at", "-index")


def image_get(*, owner, image_id) -> Image:
    """The owner's image; ``Image.DoesNotExist`` for anyone else's, so that it is a 404."""
    return _with_tags(Image.objects.owned_by(owner)).get(pk=image_id)


def generation_get(*, owner, generation_id) -> Generation:
    return Generation.objects.filter(owner=owner).get(pk=generation_id)


def generation_images(*, generation: Generation) -> QuerySet[Image]:
    return generation.images.order_by("index")


def generation_list_recent(*, owner, limit: int = 6) -> QuerySet[Generation]:
    return Generation.objects.filter(owner=owner).order_by("-created_at")[:limit]


def tag_names(*, owner) -> list[str]:
    """The tags this person has used, most used first."""
    return list(
        Tag.objects.filter(gallery_taggedimage_items__content_object__owner=owner)
        .annotate(uses=Count("gallery_taggedimage_items"))
        .order_by("-uses", "name")
        .values_list("name", flat=True)[:30]
    )
