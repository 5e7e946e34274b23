"""The gallery's reads: what one person may see, with what the pages show fetched up front.

Listings are keyset-paginated: a page is "the next N after this (created_at, id)", so page
4,000 costs what page 1 costs, and no page counts every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    UUIDField,
)
from django.db.models.functions import Coalesce, Lower, TruncDate

from . import search
from .listing import NEWEST, Cursor, ImagePage, Listing
from .models import Board, BoardImage, GalleryEvent, Generation, Image, Tag, TaggedImage

# What a tile shows: enough to draw it, nothing more (no metadata JSON, no revised prompt).
TILE_FIELDS = (
    "id",
    "owner_id",
    "generation_id",
    "index",
    "thumbnail",
    "thumbnail_width",
    "thumbnail_height",
    "width",
    "height",
    "prompt",
    "created_at",
    "is_favourite",
    "has_alpha",  # a transparent image's tile sits on a checkerboard
)


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
    order: str = NEWEST,
    whole: bool = False,
    counting: bool = False,
) -> QuerySet[Image]:
    """The owner's visible images matching every filter, in a total order (created_at, id).

    Unsliced: pages slice it with :func:`image_page`, "Select all" acts on all of it (and says
    so with ``whole``, so that a search plans for every match rather than for a page).
    """
    images = Image.objects.owned_by(owner).visible()
    if tag:
        # Tags are per owner: resolve the name in the owner's small tag table, in a subquery.
        images = images.filter(
            tagged_items__tag__in=Tag.objects.filter(owner=owner, name__iexact=tag)
        )
    if favourites:
        images = images.filter(is_favourite=True)
    if board is not None:
        images = images.filter(board_entries__board=board)
    if query:
        images = images.search(query, whole=whole, counting=counting)
    if order == NEWEST:
        return images.order_by("-created_at", "-id")
    return images.order_by("created_at", "id")


# A listing says how many images match, counting no further than this: past it, "1,000+".
MATCH_COUNT_CAP = 1_000


def image_count_capped(
    *,
    owner,
    tag: str | None = None,
    query: str | None = None,
    favourites: bool = False,
    board: Board | None = None,
    cap: int | None = None,
) -> tuple[int, bool]:
    """How many images a listing holds, up to ``cap``, and whether there are more.

    Never builds every match: the listing's own page plan walks no further than ``cap + 1``
    rows, and for a search alone the index may answer first (see ``search.count_floor``).
    """
    cap = MATCH_COUNT_CAP if cap is None else cap
    if query and not tag and not favourites and board is None:
        floor = search.count_floor(Image.objects.db, query, owner_id=owner.pk)
        if floor is not None and floor > cap:
            return cap, True
    if query and search.filters_lead(query):
        # ``tag:`` or dates: the filters lead a count in no order, the matches a set (a walk
        # in the listing's order tests many rows per match when the filters are narrow).
        images = image_list(
            owner=owner, tag=tag, query=query, favourites=favourites, board=board, counting=True
        )
        total = images.order_by().values("pk")[: cap + 1].count()
        return min(total, cap), total > cap
    images = image_list(owner=owner, tag=tag, query=query, favourites=favourites, board=board)
    # Sliced with its order kept: the walk stops at cap + 1 rows (without the order, SQLite
    # may first build every match of a common word).
    total = images.values("pk")[: cap + 1].count()
    return min(total, cap), total > cap


def listing_images(*, owner, listing: Listing, board: Board | None = None) -> QuerySet[Image]:
    return image_list(
        owner=owner,
        tag=listing.tag or None,
        query=listing.query or None,
        favourites=listing.favourites,
        board=board,
        order=listing.order,
    )


def listing_page(*, owner, listing: Listing, board: Board | None = None, size: int) -> ImagePage:
    """The page of a listing (the gallery, a board, a search) that its cursors name."""
    return image_page(
        images=listing_images(owner=owner, listing=listing, board=board),
        order=listing.order,
        size=size,
        after=listing.after,
        before=listing.before,
        at=listing.at,
    )


def trash_page(*, owner, listing: Listing, size: int) -> ImagePage:
    """A page of the trash, the last trashed first, by the same keyset pager on ``trashed_at``."""
    return image_page(
        images=trash_list(owner=owner),
        order=NEWEST,
        size=size,
        after=listing.after,
        before=listing.before,
        key="trashed_at",
    )


def _beyond(
    images: QuerySet[Image],
    cursor: Cursor,
    *,
    order: str,
    forward: bool,
    inclusive: bool = False,
    key: str = "created_at",
) -> QuerySet[Image]:
    """Images past ``cursor`` in the listing's order (``forward``) or before it.

    Written as ``created_at <= t AND (created_at < t OR id < i)`` rather than a bare OR, so that
    the database walks the (owner, created_at, id) index from the cursor on.
    """
    descending = (order == NEWEST) == forward
    value = cursor.created_at
    if descending:
        id_test = {"id__lte" if inclusive else "id__lt": cursor.id}
        images = images.filter(**{f"{key}__lte": value}).filter(
            Q(**{f"{key}__lt": value}) | Q(**id_test)
        )
        return images.order_by(f"-{key}", "-id")
    id_test = {"id__gte" if inclusive else "id__gt": cursor.id}
    images = images.filter(**{f"{key}__gte": value}).filter(
        Q(**{f"{key}__gt": value}) | Q(**id_test)
    )
    return images.order_by(key, "id")


def image_page(
    *,
    images: QuerySet[Image],
    order: str,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
    at: Cursor | None = None,
    key: str = "created_at",
) -> ImagePage:
    """One page of ``images`` (ordered by ``key`` then id, as :func:`image_list` orders): the
    first, the one after ``after``, the one before ``before``, or the one holding ``at`` (the
    viewer's way back). The one pager of every listing: the gallery, boards, search, trash.

    One query for the page, whatever its depth (plus one for ``at``); no COUNT.
    """
    tiles = images.only(*TILE_FIELDS, key)

    def beyond(cursor: Cursor, **kwargs) -> QuerySet[Image]:
        return _beyond(tiles, cursor, order=order, key=key, **kwargs)

    def cursor_of(row) -> str:
        return str(Cursor.of(row, key))

    if at is not None:
        # Back from the viewer: the first page if the image is on it, else a page starting there.
        newer = list(beyond(at, forward=False).values_list("id")[:size])
        if len(newer) < size:
            at = None
    if at is not None:
        rows = list(beyond(at, forward=True, inclusive=True)[: size + 1])
        more, rows = len(rows) > size, rows[:size]
        page = ImagePage(rows, forward=cursor_of(rows[-1]) if more else None)
        page.backward, page.at_head = cursor_of(rows[0]) if rows else None, False
    elif before is not None:
        rows = list(beyond(before, forward=False)[: size + 1])
        more, rows = len(rows) > size, rows[:size][::-1]
        page = ImagePage(rows, forward=cursor_of(rows[-1]) if rows else None)
        page.backward = cursor_of(rows[0]) if more else None
        page.at_head = not more
    elif after is not None:
        rows = list(beyond(after, forward=True)[: size + 1])
        more, rows = len(rows) > size, rows[:size]
        page = ImagePage(rows, forward=cursor_of(rows[-1]) if more else None)
        page.backward, page.at_head = cursor_of(rows[0]) if rows else None, False
    else:
        rows = list(tiles[: size + 1])
        more, rows = len(rows) > size, rows[:size]
        page = ImagePage(rows, forward=cursor_of(rows[-1]) if more else None)
    return page


def image_neighbours(
    *, images: QuerySet[Image], image: Image, order: str
) -> tuple[Image | None, Image | None]:
    """The images before and after ``image`` in a listing: two keyset queries of one row each,
    the same cost at any depth."""
    cursor = Cursor.of(image)
    fields = ("id", "created_at")
    previous = _beyond(images, cursor, order=order, forward=False).only(*fields).first()
    following = _beyond(images, cursor, order=order, forward=True).only(*fields).first()
    return previous, following


def image_get(*, owner, image_id) -> Image:
    """The owner's image; ``Image.DoesNotExist`` for anyone else's, so that it is a 404."""
    return _with_tags(Image.objects.owned_by(owner)).get(pk=image_id)


def image_visible_get(*, owner, image_id) -> Image | None:
    """A visible image of the owner with what its tile shows, or ``None``."""
    return Image.objects.owned_by(owner).visible().only(*TILE_FIELDS).filter(pk=image_id).first()


def generation_get(*, owner, generation_id) -> Generation:
    return Generation.objects.filter(owner=owner).get(pk=generation_id)


def generation_images(*, generation: Generation) -> QuerySet[Image]:
    """The generation's images still in the gallery (not in the trash), in their order."""
    return generation.images.visible().order_by("index")


def generation_last(*, owner) -> Generation | None:
    """The owner's last generation: the form starts from its settings."""
    return Generation.objects.filter(owner=owner).order_by("-created_at").first()


def _with_kept(generations: list[Generation]) -> list[Generation]:
    """Set ``kept`` (images of each still in the gallery) and ``kept_images`` (those images, in
    the generation's order, with the fields a thumbnail needs) with one query on the images'
    generation index; a join-and-count from the generations' side makes SQLite scan images."""
    kept: dict = {}
    rows = (
        Image.objects.filter(generation_id__in=[g.pk for g in generations])
        .visible()
        .order_by("generation_id", "index")
        .only("id", "generation_id", "index", "thumbnail_width", "thumbnail_height", "has_alpha")
    )
    for image in rows:
        kept.setdefault(image.generation_id, []).append(image)
    for generation in generations:
        generation.kept_images = kept.get(generation.pk, [])
        generation.kept = len(generation.kept_images)
        # Places still to fill while it works: the page shows them as empty tiles.
        waiting = 0 if generation.is_finished else max(0, generation.n - generation.kept)
        generation.pending_slots = range(waiting)
    return generations


def generation_list_recent(*, owner, limit: int = 6) -> list[Generation]:
    """The latest generations, each with ``kept``: how many of its images are in the gallery."""
    recent = list(Generation.objects.filter(owner=owner).order_by("-created_at", "-id")[:limit])
    return _with_kept(recent) if recent else recent


def generation_with_kept(*, owner, generation_id) -> Generation | None:
    generation = Generation.objects.filter(owner=owner, pk=generation_id).first()
    return _with_kept([generation])[0] if generation is not None else None


def tag_names(*, owner, limit: int = 30) -> list[str]:
    """This person's tags (tags are per owner), from their own small table: the cost does not
    grow with the number of tagged images."""
    return list(
        Tag.objects.filter(owner=owner)
        .order_by("name", "id")
        .values_list("name", flat=True)[:limit]
    )


def _with_counts(tags: QuerySet[Tag]) -> QuerySet[Tag]:
    # ``image_count``: images in the gallery; ``trashed_count``: in the trash (they lose the
    # tag too when it is deleted).
    in_gallery = Q(tagged_items__content_object__trashed_at__isnull=True)
    return tags.annotate(
        image_count=Count("tagged_items", filter=in_gallery),
        trashed_count=Count("tagged_items", filter=~in_gallery),
    )


def tag_list(*, owner) -> list[Tag]:
    """Every tag of the owner, by name, each with its counts."""
    return list(_with_counts(Tag.objects.filter(owner=owner)).order_by(Lower("name"), "id"))


def tag_get(*, owner, tag_id) -> Tag:
    """The owner's tag with its counts; ``Tag.DoesNotExist`` for anyone else's (a 404)."""
    return _with_counts(Tag.objects.filter(owner=owner)).get(pk=tag_id)


# -- boards, selections, trash ------------------------------------------------------------------


def board_choices(*, owner) -> list[Board]:
    """The owner's boards, id and name only, for menus: nothing counted."""
    return list(Board.objects.filter(owner=owner).only("id", "name").order_by(Lower("name"), "id"))


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


def image_selection(
    *,
    owner,
    ids=None,
    listing: Listing | None = None,
    filters: dict | None = None,
    trashed: bool = False,
) -> QuerySet[Image]:
    """The images a person selected: listed ids, or every image of a listing ("Select all"),
    so that it covers every page. ``filters`` are a listing's parameters as
    :meth:`Listing.params` wrote them (a queued bulk action keeps them so). Only their own;
    visible ones, or with ``trashed`` the ones in the trash (where "Select all" is all of it).
    """
    if filters is not None:
        listing = Listing.from_params(filters)
    if trashed:
        images = Image.objects.owned_by(owner).trashed()
        return images if listing is not None else images.filter(pk__in=list(ids or []))
    if listing is not None:
        board = None
        if listing.board is not None:
            board = Board.objects.filter(owner=owner, pk=listing.board).first()
            if board is None:
                return Image.objects.none()
        return image_list(
            owner=owner,
            tag=listing.tag or None,
            query=listing.query or None,
            favourites=listing.favourites,
            board=board,
            whole=True,
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
        .order_by(F("total_tokens").desc(nulls_last=True), "model")
    )
    return list(rows)


def usage_by_user() -> list[dict]:
    """Every person's token counts, most first: what an operator sees in the admin."""
    rows = (
        Generation.objects.values("owner__username")
        .annotate(**USAGE_SUMS)
        .order_by(F("total_tokens").desc(nulls_last=True), "owner__username")
    )
    return list(rows)


def image_lineage(*, image: Image, limit: int = 24) -> dict:
    """Where ``image`` came from and what was made from it, as its owner may see them:
    ``made_from`` (the image its generation was edited or remixed from, unless trashed) and
    ``edited_into`` (the owner's visible images whose generation started from this one)."""
    generation = image.generation
    parent = generation.parent_image if generation is not None else None
    if parent is not None and (parent.owner_id != image.owner_id or parent.trashed_at):
        parent = None
    # The generations made from this image first (by their own index: usually none, at most a
    # few); a join ordered by date would walk all of the owner's images to find them.
    derived = list(Generation.objects.filter(parent_image=image).values_list("pk", flat=True))
    children = (
        list(
            Image.objects.owned_by(image.owner)
            .visible()
            .filter(generation_id__in=derived)
            .select_related("generation")
            .order_by("-created_at", "-id")[:limit]
        )
        if derived
        else []
    )
    made_by = ""
    if parent is not None:
        made_by = "edited" if generation.kind == Generation.Kind.EDIT else "remixed"
    return {"made_from": parent, "made_by": made_by, "edited_into": children}


@dataclass(frozen=True)
class UsageRow:
    """One row of the usage page and its CSV: a day's images of one person by one source, key,
    model and provider, and what they cost (USD)."""

    day: date
    person: str
    source: str
    key: str
    model: str
    provider: str
    images: int
    cost: Decimal


def usage_rows(*, owner=None, start: datetime, end: datetime) -> list[UsageRow]:
    """Images made and their cost between ``start`` and ``end``, per day (newest first), source,
    key, model and provider: ``owner``'s, or everyone's when ``owner`` is None (staff).
    Imported images count under "import", at no cost."""
    generations = Generation.objects.filter(created_at__gte=start, created_at__lt=end)
    imports = Image.objects.filter(
        generation__isnull=True, created_at__gte=start, created_at__lt=end
    )
    if owner is not None:
        generations, imports = generations.filter(owner=owner), imports.filter(owner=owner)
    # Images counted per generation in a subquery: a join would repeat each generation's cost
    # once per image in the sum.
    per_generation = (
        Image.objects.filter(generation=OuterRef("pk"))
        .values("generation")
        .annotate(count=Count("id"))
        .values("count")
    )
    made = (
        generations.annotate(
            day=TruncDate("created_at"),
            made=Coalesce(Subquery(per_generation, output_field=IntegerField()), 0),
        )
        .values("day", "owner__username", "source", "api_key_name", "model", "provider")
        .annotate(images=Sum("made"), cost=Sum("cost"))
        .filter(Q(images__gt=0) | Q(cost__gt=0))
    )
    imported = (
        imports.annotate(day=TruncDate("created_at"))
        .values("day", "owner__username", "model")
        .annotate(images=Count("id"))
    )
    rows = [
        UsageRow(
            day=row["day"],
            person=row["owner__username"],
            source=row["source"],
            key=row["api_key_name"] if row["source"] == Generation.Source.API else "",
            model=row["model"],
            provider=row["provider"],
            images=row["images"],
            cost=row["cost"] or Decimal(0),
        )
        for row in made
    ] + [
        UsageRow(
            day=row["day"],
            person=row["owner__username"],
            source=Generation.Source.IMPORT,
            key="",
            model=row["model"],
            provider="",
            images=row["images"],
            cost=Decimal(0),
        )
        for row in imported
    ]
    return sorted(
        rows, key=lambda r: (-r.day.toordinal(), r.person, r.source, r.key, r.model, r.provider)
    )
