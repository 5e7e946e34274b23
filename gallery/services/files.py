"""Files follow rows: names are journalled before bytes are written and before rows are deleted,
so that a worker killed mid-store or a storage outage mid-delete never loses track of a file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import FileJournal, Generation, Image

logger = logging.getLogger(__name__)

# A store in progress takes seconds; a "writing" entry this old belongs to a process that died.
WRITING_GRACE = timedelta(minutes=10)


def storage():
    return Image._meta.get_field("file").storage


def files_journal_writing(*, names: Iterable[str]) -> list[int]:
    """Record (and commit, when not inside a transaction) names about to be written."""
    with transaction.atomic():
        entries = FileJournal.objects.bulk_create(
            [FileJournal(name=name, reason=FileJournal.Reason.WRITING) for name in names if name]
        )
    return [entry.pk for entry in entries]


def files_journal_settle(*, entry_ids: list[int]) -> None:
    """The row that owns these names is committed (call inside the same transaction)."""
    FileJournal.objects.filter(pk__in=entry_ids).delete()


def files_delete_on_commit(*, names: Iterable[str]) -> None:
    """Journal ``names`` for deletion in the current transaction; delete them once it commits.

    If the deleting transaction rolls back, so does the journal entry and the files stay. If
    storage is down after the commit, the entries stay for :func:`files_sweep`.
    """
    names = [name for name in names if name]
    if not names:
        return
    entries = FileJournal.objects.bulk_create(
        [FileJournal(name=name, reason=FileJournal.Reason.DELETE) for name in names]
    )
    ids = [entry.pk for entry in entries]
    transaction.on_commit(lambda: _delete_now(ids))


def _delete_now(entry_ids: list[int]) -> None:
    for entry in FileJournal.objects.filter(pk__in=entry_ids):
        _settle(entry)


def files_delete_now(*, names: Iterable[str]) -> None:
    """Delete files no committed row refers to (a store that failed before its row was saved)."""
    for name in names:
        if not name:
            continue
        try:
            storage().delete(name)
        except Exception:
            logger.warning("Could not delete %s; journalled for the sweeper", name, exc_info=True)
            FileJournal.objects.create(name=name, reason=FileJournal.Reason.DELETE)


def _referenced(name: str) -> bool:
    return (
        Image.objects.filter(Q(file=name) | Q(thumbnail=name)).exists()
        or Generation.objects.filter(mask=name).exists()
    )


def _settle(entry: FileJournal) -> bool:
    """Delete the entry's file unless a row refers to it, then forget the entry.

    Returns False (and keeps the entry) when storage could not be reached.
    """
    if not _referenced(entry.name):
        try:
            storage().delete(entry.name)
        except Exception:
            logger.warning("Could not delete %s; will try again", entry.name, exc_info=True)
            FileJournal.objects.filter(pk=entry.pk).update(attempts=entry.attempts + 1)
            return False
    FileJournal.objects.filter(pk=entry.pk).delete()
    return True


def files_sweep(*, now=None, limit: int = 500) -> int:
    """Settle deletions that failed and writes whose process died. Returns entries settled."""
    now = now or timezone.now()
    entries = FileJournal.objects.filter(
        Q(reason=FileJournal.Reason.DELETE)
        | Q(reason=FileJournal.Reason.WRITING, created_at__lt=now - WRITING_GRACE)
    ).order_by("created_at", "id")[:limit]
    return sum(1 for entry in entries if _settle(entry))
