"""Select many, act once. A selection is either listed ids or "every image of this listing"
(the listing's parameters), so that "Select all" on page 1 of 400 means all 400 pages. Big
selections run in the background as a :class:`BulkAction` whose page shows its progress; small
ones run at once. What each action does is its class in :mod:`gallery.bulk_actions`.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .. import bulk_actions, selectors, tasks
from ..bulk_actions import TRASH, BulkActionInvalid, BulkResult
from ..models import BulkAction, GalleryEvent, Image
from .events import event_emit

logger = logging.getLogger(__name__)

__all__ = ["BulkActionInvalid", "BulkResult", "bulk_action_run", "bulk_action_start", "bulk_apply"]


def bulk_apply(*, owner, action: str, params: dict, images: QuerySet[Image]) -> BulkResult:
    """Run one action on ``images`` now."""
    handler = bulk_actions.action_get(action)
    if handler.download:
        raise BulkActionInvalid(f"{handler.label} is a download, not a change.")
    return handler.apply(
        owner=owner, images=images.order_by().prefetch_related(None), params=params
    )


def bulk_action_start(
    *, owner, action: str, params: dict, selection: dict, images: QuerySet[Image]
) -> BulkResult | BulkAction:
    """Run the action at once when the selection is small, or queue it as a BulkAction that a
    worker runs (the page then shows its progress)."""
    bulk_actions.action_get(action)
    total = images.order_by().count()
    if total == 0:
        raise BulkActionInvalid("Select one or more images first.")
    if total <= settings.NOVISURF_BULK_INLINE_LIMIT:
        return bulk_apply(owner=owner, action=action, params=params, images=images)
    with transaction.atomic():
        bulk = BulkAction.objects.create(
            owner=owner, action=action, params=params, selection=selection, total=total
        )
        transaction.on_commit(lambda: tasks.bulk_action_work.enqueue(str(bulk.pk)))
    return bulk


def bulk_action_run(*, bulk_id) -> BulkAction | None:
    """Claim a queued BulkAction and run it (a second run of the same task does nothing)."""
    claimed = BulkAction.objects.filter(pk=bulk_id, status=BulkAction.Status.QUEUED).update(
        status=BulkAction.Status.RUNNING
    )
    bulk = BulkAction.objects.select_related("owner").filter(pk=bulk_id).first()
    if not claimed or bulk is None:
        return bulk
    selection = bulk.selection or {}
    try:
        images = selectors.image_selection(
            owner=bulk.owner,
            ids=selection.get("ids"),
            filters=selection.get("filters"),
            trashed=bulk_actions.action_get(bulk.action).scope == TRASH,
        )
        result = bulk_apply(owner=bulk.owner, action=bulk.action, params=bulk.params, images=images)
    except Exception as exc:
        logger.exception("Bulk action %s failed", bulk.pk)
        bulk.status, bulk.error = BulkAction.Status.FAILED, str(exc) or type(exc).__name__
    else:
        bulk.status, bulk.done = BulkAction.Status.DONE, result.count
        bulk.params = {
            **bulk.params,
            "message": result.message,
            "trashed_at": result.trashed_at.isoformat() if result.trashed_at else None,
        }
    bulk.finished_at = timezone.now()
    bulk.save(update_fields=["status", "done", "error", "params", "finished_at"])
    event_emit(
        owner_id=bulk.owner_id,
        kind=GalleryEvent.Kind.BULK,
        payload={"bulk": str(bulk.pk), "status": bulk.status},
    )
    return bulk
