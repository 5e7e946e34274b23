"""What a listing is: its filters and order as a page's querystring carries them, cursors into
it (created_at + id, a total order), and its images grouped under day headings.

Plain data, no queries: the selectors turn a :class:`Listing` into rows.
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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Listing:
    """The filters of one listing: what the gallery shows and what the viewer walks."""

    tag: str = ""
    query: str = ""
    favourites: bool = False
    board: int | None = None
    order: str = NEWEST

    @classmethod
    def from_params(cls, params) -> Listing:
        """From a querystring (a QueryDict or a dict); anything malformed is ignored, never an
        error: a listing link typed by hand still opens a listing."""

        def text(name: str, limit: int) -> str:
            value = params.get(name, "")
            return " ".join(str(value).split())[:limit] if value else ""

        board = params.get("board", "")
        order = params.get("order", NEWEST)
        return cls(
            tag=text("tag", MAX_TAG_CHARS),
            query=text("q", MAX_QUERY_CHARS),
            favourites=params.get("favourites", "") in ("1", "on", "true"),
            board=int(board) if str(board).isdigit() and len(str(board)) < 12 else None,
            order=order if order in ORDERS else NEWEST,
        )

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


@dataclass(frozen=True)
class Cursor:
    """A position in a listing: the created_at and id of an image (ids break ties)."""

    created_at: datetime
    id: uuid.UUID

    @classmethod
    def of(cls, image) -> Cursor:
        return cls(image.created_at, image.pk)

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """``None`` for anything that is not a cursor we wrote: a bad link shows the first page."""
        if not text or len(text) > 80 or "~" not in text:
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
