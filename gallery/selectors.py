"""The gallery's reads: what one person may see, with what the pages show fetched up front."""

from __future__ import annotations

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, UUIDField
from django.db.models.functions import Lower, TruncDate

from .models import Board, BoardImage, GalleryEvent, Generation, Image, Tag, TaggedImage


def _with_tags(images: QuerySet[Image]) -> QuerySet[Image]:
    # One query for every shown image's tags, not one per image (see Image.tag_list).
    return images.prefetch_related(
        Prefetch("tagged_items", queryset=TaggedImage.objects.select_related("tag"))
    )


def image_list(
    *,
    owner,
    tag: str | None = None,
    query: str | None = None,
    favourites: bool = False,
    board: Board | None = None,
) -> QuerySet[Image]:
    images = Image.objects.owned_by(owner).visible()
    if tag:
        images = images.tagged(tag)
    if query:
        images = images.search(query)
    if favourites:
        images = images.filter(is_favourite=True)
    if board is not None:
        images = images.filter(board_entries__board=board)
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


# -- boards, selections, trash (issue 7) ---------------------------------------------------------


def board_list(*, owner) -> list[Board]:
    """The owner's boards, each with its count of visible images and the image its cover shows:
    the chosen cover while it is not in the trash, else the board's first image."""
    first = (
        BoardImage.objects.filter(board=OuterRef("pk"), image__trashed_at__isnull=True)
        .order_by("added_at", "id")
        .values("image_id")[:1]
    )
    boards = list(
        Board.objects.filter(owner=owner)
        .annotate(
            image_count=Count("entries", filter=Q(entries__image__trashed_at__isnull=True)),
            first_image_id=Subquery(first, output_field=UUIDField()),
            cover_trashed_at=F("cover__trashed_at"),
        )
        .order_by(Lower("name"), "id")
    )
    for board in boards:
        board.cover_image_id = (
            board.cover_id
            if board.cover_id and board.cover_trashed_at is None
            else board.first_image_id
        )
    return boards


def board_get(*, owner, board_id) -> Board:
    """The owner's board; ``Board.DoesNotExist`` for anyone else's, so that it is a 404."""
    return Board.objects.filter(owner=owner).get(pk=board_id)


def image_boards(*, image: Image) -> list[Board]:
    return list(Board.objects.filter(entries__image=image).order_by(Lower("name")))


def image_selection(*, owner, ids=None, filters: dict | None = None) -> QuerySet[Image]:
    """The images a person selected: listed ids, or every image of a listing ("Select all"),
    named by the listing's filters so that it covers every page. Only their own, never trashed.
    """
    if filters is not None:
        board = None
        if filters.get("board"):
            board = Board.objects.filter(owner=owner, pk=filters["board"]).first()
            if board is None:
                return Image.objects.none()
        return image_list(
            owner=owner,
            tag=filters.get("tag") or None,
            query=filters.get("q") or None,
            favourites=bool(filters.get("favourites")),
            board=board,
        )
    return Image.objects.owned_by(owner).visible().filter(pk__in=list(ids or []))


def trash_list(*, owner) -> QuerySet[Image]:
    return Image.objects.owned_by(owner).trashed().order_by("-trashed_at", "-id")


def generation_latest_partial(*, generation: Generation) -> dict | None:
    """The newest partial image a streaming model sent for ``generation``: its preview's
    ``data_url`` and where it belongs (``index``), or None."""
    event = (
        GalleryEvent.objects.filter(
            owner_id=generation.owner_id,
            generation_id=generation.pk,
            kind=GalleryEvent.Kind.PARTIAL,
        )
        .order_by("-id")
        .first()
    )
    return event.payload if event is not None else None


USAGE_SUMS = {
    "generations": Count("id"),
    "input_tokens": Sum("input_tokens"),
    "output_tokens": Sum("output_tokens"),
    "total_tokens": Sum("total_tokens"),
}


def usage_by_day(*, owner, days: int = 30) -> list[dict]:
    """Token counts of ``owner``'s generations per day (newest first), from their ``usage``."""
    rows = (
        Generation.objects.filter(owner=owner)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(**USAGE_SUMS)
        .order_by("-day")
    )
    return list(rows[:days])


def usage_by_model(*, owner) -> list[dict]:
    rows = (
        Generation.objects.filter(owner=owner)
        .values("model")
        .annotate(**USAGE_SUMS)
        .order_by("-total_tokens", "model")
    )
    return list(rows)


def usage_by_user() -> list[dict]:
    """Every person's token counts, most first: what an operator sees in the admin."""
    rows = (
        Generation.objects.values("owner__username")
        .annotate(**USAGE_SUMS)
        .order_by("-total_tokens", "owner__username")
    )
    return list(rows)
