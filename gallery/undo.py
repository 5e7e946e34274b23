""" "Undo" after a move to the trash: which batch, kept in the session for its whole window, so
that every page (the Trash page too) offers it until it expires or is used."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

SESSION_KEY = "novisurf_trash_undo"


def undo_remember(request, *, at: datetime, count: int) -> None:
    """What "Undo" will restore: the batch's instant (see services.trash)."""
    request.session[SESSION_KEY] = {"at": at.isoformat(), "count": count}


def undo_pending(request) -> dict | None:
    """``{"at", "count", "until"}`` while the last batch can still be undone, else None."""
    session = getattr(request, "session", None)
    undo = session.get(SESSION_KEY) if session is not None else None
    if not undo:
        return None
    try:
        at = datetime.fromisoformat(undo["at"])
    except (KeyError, TypeError, ValueError):
        return None
    until = at + timedelta(seconds=settings.NOVISURF_TRASH_UNDO_SECONDS)
    if timezone.now() > until:
        return None
    return {"at": at, "count": int(undo.get("count") or 0), "until": until}


class UndoTooLate(Exception):
    """The last batch's window has closed: the Trash page still restores it."""


def undo_take(request) -> datetime | None:
    """The batch to restore now (forgotten once taken); None when there was none; raises
    :class:`UndoTooLate` when its window has closed."""
    pending = undo_pending(request)
    remembered = request.session.pop(SESSION_KEY, None)
    if pending is None and remembered:
        raise UndoTooLate
    return pending["at"] if pending else None
