"""The gallery's reads: what one person may see, with what the pages show fetched up front."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import Generation, Image, Tag, TaggedImage


def _with_tags(images: QuerySet[Image]) -> QuerySet[Image]:
    # One query for every shown image's tags, not one per image (see Image.tag_list).
    return images.prefetch_related(
        Prefetch("tagged_items", queryset=TaggedImage.objects.select_related("tag"))
    )


def image_list(*, owner, tag: str | None = None, query: str | None = None) -> QuerySet[Image]:
    images = Image.objects.owned_by(owner).visible()
    if tag:
        images = images.tagged(tag)
    if query:
        images = images.search(query)
    # Listings show every image's tags: one query for all of them, not one per image.
    return _with_tags(images).order_by("-created_at", "-id")


def image_get(*, owner, image_id) -> Image:
    """The owner's image; ``Image.DoesNotExist`` for anyone else's, so that it is a 404."""
    return _with_tags(Image.objects.owned_by(owner)).get(pk=image_id)


def generation_get(*, owner, generation_id) -> Generation:
    return Generation.objects.filter(owner=owner).get(pk=generation_id)


def generation_images(*, generation: Generation) -> QuerySet[Image]:
    return generation.images.order_by("index")


def generation_list_recent(*, owner, limit: int = 6) -> QuerySet[Generation]:
    return Generation.objects.filter(owner=owner).order_by("-created_at", "-id")[:limit]


def tag_names(*, owner, limit: int = 30) -> list[str]:
    """This person's tags (tags are per owner), from their own small table: the cost does not
    grow with the number of tagged images."""
    return list(
        Tag.objects.filter(owner=owner)
        .order_by("name", "id")
        .values_list("name", flat=True)[:limit]
    )
