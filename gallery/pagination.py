"""Keyset (cursor) pages over a listing ordered newest first by ``(created_at, id)``.

The id breaks ties between rows that share a timestamp (a generation of 10 images, an import of
thousands), so the order is total: a page starts strictly after the last row of the one before,
and no row is shown twice or never, whatever the database returns first among equals. The cost
of a page does not grow with how deep it is (no OFFSET).

A cursor is ``<created_at ISO>~<id>``, opaque to a person; one that does not parse is the first
page, never an error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

ORDER_NEWEST_FIRST = ("-created_at", "-id")


@dataclass(frozen=True)
class KeysetPage:
    items: list
    older: str | None  # cursor for the next (older) page, if there is one
    newer: str | None  # cursor for the previous (newer) page, if there is one


def cursor_for(row) -> str:
    return f"{row.created_at.isoformat()}~{row.pk}"


def _parse(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor or len(cursor) > 100:
        return None
    stamp, _, pk = cursor.partition("~")
    try:
        created_at = datetime.fromisoformat(stamp)
        key = uuid.UUID(pk)
    except ValueError:
        return None
    if created_at.tzinfo is None:
        return None
    return created_at, key


def keyset_page(
    rows: QuerySet, *, size: int, older_than: str | None = None, newer_than: str | None = None
) -> KeysetPage:
    """One page of ``rows`` (newest first): after ``older_than``, or before ``newer_than``."""
    before = _parse(older_than)
    after = None if before else _parse(newer_than)
    if after is not None:
        created_at, key = after
        # Walk up from the cursor in the opposite order, then show the page newest first.
        window = list(
            rows.filter(
                Q(created_at__gte=created_at),
                Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=key),
            ).order_by("created_at", "id")[: size + 1]
        )
        has_newer = len(window) > size
        items = list(reversed(window[:size]))
        return KeysetPage(
            items=items,
            older=cursor_for(items[-1]) if items else None,
            newer=cursor_for(items[0]) if items and has_newer else None,
        )
    if before is not None:
        created_at, key = before
        # The redundant created_at <= bound is what an index can start from (the OR alone makes
        # PostgreSQL walk every newer row to reach the cursor).
        rows = rows.filter(
            Q(created_at__lte=created_at),
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=key),
        )
    window = list(rows.order_by(*ORDER_NEWEST_FIRST)[: size + 1])
    items = window[:size]
    return KeysetPage(
        items=items,
        older=cursor_for(items[-1]) if len(window) > size else None,
        newer=cursor_for(items[0]) if items and before is not None else None,
    )
