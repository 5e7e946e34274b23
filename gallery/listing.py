"""What a listing is: its filters and order as a page's querystring carries them, cursors into
it (created_at + id, a total order), and its images grouped under day headings.

:class:`Listing` is the one reader and writer of a listing's parameters: every page, "Select
all", the ZIP link and the selection toolbar parse and render them here, so that what a bulk
action acts on is what the page shows. Plain data, no queries: the selectors turn a
:class:`Listing` into rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.formats import date_format

NEWEST = "newest"
OLDEST = "oldest"
ORDERS = (NEWEST, OLDEST)
MAX_QUERY_CHARS = 500
MAX_TAG_CHARS = 100
# What a person may type for "on" in ``?favourites=``; anything else (``0``, ``no``, ``off``,
# empty, a typo) lists every image, on the page and in "Select all" alike.
TRUE_WORDS = frozenset({"1", "on", "true", "yes", "y", "t"})
# The selection toolbar has a "tag" field of its own (the tag to add), so its form carries the
# listing's tag under this name.
FORM_TAG = "tag_filter"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Listing:
    """The filters of one listing: what the gallery shows and what the viewer walks."""

    tag: str = ""
    query: str = ""
    favourites: bool = False
    board: int | None = None
    order: str = NEWEST
    # Where the page starts (never part of :meth:`params`: a link to the listing starts at its
    # head): after or before a cursor, or at the page holding one (the viewer's way back).
    after: Cursor | None = field(default=None, compare=False)
    before: Cursor | None = field(default=None, compare=False)
    at: Cursor | None = field(default=None, compare=False)

    @classmethod
    def from_params(cls, params, *, tag_key: str = "tag", board: int | None = None) -> Listing:
        """From a querystring (a QueryDict or a dict, such as :meth:`params` wrote); anything
        malformed is ignored, never an error: a listing link typed by hand still opens a
        listing. ``board`` is the board a board's own page lists, whatever the querystring says.
        """

        def text(name: str, limit: int) -> str:
            value = params.get(name, "")
            return " ".join(str(value).split())[:limit] if value else ""

        if board is None:
            board = _board_id(params.get("board", ""))
        order = params.get("order", NEWEST)
        return cls(
            tag=text(tag_key, MAX_TAG_CHARS),
            query=text("q", MAX_QUERY_CHARS),
            favourites=str(params.get("favourites", "")).strip().lower() in TRUE_WORDS,
            board=board,
            order=order if order in ORDERS else NEWEST,
            after=Cursor.parse(params.get("after")),
            before=Cursor.parse(params.get("before")),
            at=Cursor.parse(params.get("at")),
        )

    @classmethod
    def from_form(cls, data) -> Listing:
        """From the selection toolbar's form, as :meth:`form_fields` wrote it."""
        return cls.from_params(data, tag_key=FORM_TAG)

    def form_fields(self) -> list[tuple[str, str]]:
        """The hidden fields that carry this listing in the selection toolbar's form."""
        return [
            (FORM_TAG if name == "tag" else name, value) for name, value in self.params().items()
        ]

    def url(self, path: str) -> str:
        """``path`` with this listing's querystring."""
        query = self.querystring
        return f"{path}?{query}" if query else path

    def params(self) -> dict[str, str]:
        """Only what differs from the plain gallery, in a stable order."""
        params: dict[str, str] = {}
        if self.tag:
            params["tag"] = self.tag
        if self.query:
            params["q"] = self.query
        if self.favourites:
            params["favourites"] = "1"
        if self.board is not None:
            params["board"] = str(self.board)
        if self.order != NEWEST:
            params["order"] = self.order
        return params

    @property
    def querystring(self) -> str:
        return urlencode(self.params())

    @property
    def is_filtered(self) -> bool:
        return bool(self.tag or self.query or self.favourites or self.board is not None)

    def title(self, board=None) -> str:
        """The heading: says every filter, "Tagged “sea” matching “boat”"."""
        parts = []
        if board is not None:
            parts.append(
                f"Board \N{LEFT DOUBLE QUOTATION MARK}{board.name}\N{RIGHT DOUBLE QUOTATION MARK}"
            )
        elif self.favourites:
            parts.append("Favourites")
        if self.tag:
            parts.append(
                f"tagged \N{LEFT DOUBLE QUOTATION MARK}{self.tag}\N{RIGHT DOUBLE QUOTATION MARK}"
            )
        if self.query:
            parts.append(
                f"matching \N{LEFT DOUBLE QUOTATION MARK}{self.query}\N{RIGHT DOUBLE QUOTATION MARK}"
            )
        if not parts:
            return "Your gallery"
        title = " ".join(parts)
        return title[0].upper() + title[1:]

    def with_order(self, order: str) -> str:
        """The querystring of this listing in another order."""
        params = self.params()
        params.pop("order", None)
        if order != NEWEST:
            params["order"] = order
        return urlencode(params)


def _board_id(value) -> int | None:
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


@dataclass(frozen=True)
class Cursor:
    """A position in a listing: the value of its order's key (``created_at``, or ``trashed_at``
    in the trash) and the id of an image (ids break ties)."""

    created_at: datetime
    id: uuid.UUID

    @classmethod
    def of(cls, image, key: str = "created_at") -> Cursor:
        return cls(getattr(image, key), image.pk)

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """``None`` for anything that is not a cursor we wrote: a bad link shows the first page."""
        if not text or not isinstance(text, str) or len(text) > 80 or "~" not in text:
            return None
        micros, _, hex_id = text.partition("~")
        try:
            when = _EPOCH + timedelta(microseconds=int(micros))
            return cls(when, uuid.UUID(hex=hex_id))
        except (ValueError, OverflowError):
            return None

    def __str__(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}~{self.id.hex}"


@dataclass
class ImagePage:
    """One page of a listing, in the listing's order, with cursors to its neighbours."""

    images: list
    forward: str | None = None  # the cursor for the page after this one (older, when newest)
    backward: str | None = None  # the cursor for the page before this one
    at_head: bool = True

    @property
    def sections(self) -> list[DaySection]:
        return day_sections(self.images)


@dataclass
class DaySection:
    day: date
    label: str
    images: list = field(default_factory=list)


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def day_label(day: date, *, today: date | None = None) -> str:
    today = today or timezone.localdate()
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day.year == today.year:
        return date_format(day, "l j F")
    return date_format(day, "j F Y")


def day_sections(images) -> list[DaySection]:
    """Images grouped by the local day they were made. Every page starts with a heading; the
    page's script merges a loaded page's first day into the last one already shown."""
    today = timezone.localdate()
    sections: list[DaySection] = []
    for image in images:
        day = local_day(image.created_at)
        if not sections or sections[-1].day != day:
            sections.append(DaySection(day=day, label=day_label(day, today=today)))
        sections[-1].images.append(image)
    return sections
