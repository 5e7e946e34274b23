"""Housekeeping that keeps one server healthy without anyone watching: run by every worker."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from django.utils.module_loading import import_string

from .. import search
from ..models import Image
from .events import events_prune
from .files import files_sweep
from .queue import queue_sweep

logger = logging.getLogger(__name__)


def trash_purge(*, now=None, limit: int = 500) -> int:
    """Delete images that have been in the trash longer than NOVISURF_TRASH_DAYS (their files
    follow on commit)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.NOVISURF_TRASH_DAYS)
    ids = list(Image.objects.filter(trashed_at__lt=cutoff).values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    deleted, _ = Image.objects.filter(pk__in=ids).delete()
    return len(ids) if deleted else 0


def stale_task_rows_fail(*, now=None, older_than: timedelta = timedelta(hours=2)) -> int:
    """Task rows left "running" by a worker that died: a generation's own lease has long since
    handed its work to another worker, so the row is only bookkeeping to close."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    return DBTaskResult.objects.filter(status="RUNNING", started_at__lt=now - older_than).update(
        status="FAILED", finished_at=now
    )


# Files no row names and no journal entry explains, older than this, are strays: removed.
STRAY_GRACE = timedelta(hours=1)
STRAY_SWEEP_EVERY = 3600  # seconds: walking every folder is not for every round


def maintenance_run(*, now=None) -> dict[str, int]:
    """One round: every step is idempotent and safe to run from several workers at once."""
    report = dict(queue_sweep(now=now))
    report["files"] = files_sweep(now=now)
    report["trash"] = trash_purge(now=now)
    report["events"] = events_prune()
    report["search_index"] = int(search.tidy(connections[Image.objects.db]))
    if cache.add("novisurf:strays-sweep", 1, STRAY_SWEEP_EVERY):
        report["strays"] = strays_sweep(now=now)
        # Other apps' housekeeping (the API's results folder), named in settings: the gallery
        # imports no other app.
        for path in settings.NOVISURF_HOUSEKEEPING:
            report[path.rsplit(".", 1)[-1]] = import_string(path)(now=now)
    return report


def strays_sweep(*, now=None) -> int:
    """Files in the gallery's folders that no row names and no journal entry explains (a write
    whose process died before journalling, a partial file of a full disk), older than
    :data:`STRAY_GRACE`: deleted."""
    from .files import storage
    from .storage_check import storage_check

    cutoff = (now or timezone.now()) - STRAY_GRACE
    removed = 0
    for name in storage_check().stray:
        try:
            if storage().get_modified_time(name) >= cutoff:
                continue
            storage().delete(name)
        except (OSError, NotImplementedError):
            logger.warning("Could not remove the stray file %s", name, exc_info=True)
            continue
        removed += 1
    return removed


def task_results_prune(*, now=None, older_than: timedelta = timedelta(days=1)) -> int:
    """Finished task rows are only history: keep a day of them."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    deleted, _ = DBTaskResult.objects.filter(
        status__in=("SUCCESSFUL", "FAILED"), finished_at__lt=now - older_than
    ).delete()
    return deleted
