"""Select many, act once: the toolbar's actions, ZIP downloads, and big actions' progress."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .. import bulk_actions, selectors, services
from ..listing import Listing
from ..models import Board, BulkAction
from ..undo import undo_remember
from ._common import ZipResponse, back, confirmation, selection_from


@login_required
@require_POST
def selection_act(request: HttpRequest) -> HttpResponse:
    """The selection toolbar's form: ``action`` (a name in the bulk-action registry) with the
    selection (ids, or ``all`` and the listing's parameters)."""
    return bulk_action_answer(request, request.POST.get("action", ""))


def bulk_action_answer(request: HttpRequest, name: str) -> HttpResponse:
    """Run the registry's action ``name`` on the posted selection; ask first if it asks."""
    try:
        action = bulk_actions.action_get(name)
    except services.BulkActionInvalid as exc:
        messages.error(request, str(exc))
        return back(request)
    selection = selection_from(request.POST)
    images = selectors.image_selection(
        owner=request.user,
        ids=selection.get("ids"),
        filters=selection.get("filters"),
        trashed=action.scope == bulk_actions.TRASH,
    )
    if action.download:
        return ZipResponse(services.images_zip(images=images), filename=f"novisurf-{_stamp()}.zip")
    question = action.confirmation(count=images.order_by().count(), every="filters" in selection)
    asked = confirmation(
        request,
        question=question,
        button=action.label,
        danger=action.danger,
        cancel_url=reverse(
            "gallery:trash" if action.scope == bulk_actions.TRASH else "gallery:home"
        ),
    )
    if asked is not None:
        return asked
    try:
        params = action.params_from(request.POST, owner=request.user)
        outcome = services.bulk_action_start(
            owner=request.user,
            action=action.name,
            params=params,
            selection=selection,
            images=images,
        )
    except (services.BulkActionInvalid, services.BoardNameInvalid) as exc:
        messages.error(request, str(exc))
        return back(request)
    if isinstance(outcome, BulkAction):
        return _progress_redirect(outcome)
    if outcome.trashed_at is not None:
        # The notice on every page says it, with "Undo", for its whole window.
        undo_remember(request, at=outcome.trashed_at, count=outcome.count)
    else:
        messages.success(request, outcome.message)
    return back(request)


def _progress_redirect(bulk: BulkAction) -> HttpResponse:
    from django.shortcuts import redirect

    return redirect("gallery:bulk-action", bulk_id=bulk.pk)


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M%S")


@login_required
@require_GET
def listing_zip(request: HttpRequest) -> HttpResponse:
    """Every image of a listing (a tag, a board, a search, favourites) as one ZIP."""
    listing = Listing.from_params(request.GET)
    images = selectors.image_selection(owner=request.user, listing=listing)
    label = ""
    if listing.board is not None:
        board = Board.objects.filter(owner=request.user, pk=listing.board).first()
        if board is None:
            raise Http404("No such board.")
        label = board.name
    label = label or listing.tag or ("favourites" if listing.favourites else "")
    slug = services.archive_slug(label) if label else "gallery"
    return ZipResponse(
        services.images_zip(images=images), filename=f"novisurf-{slug}-{_stamp()}.zip"
    )


@login_required
@require_GET
def bulk_action_detail(request: HttpRequest, bulk_id) -> HttpResponse:
    bulk = BulkAction.objects.filter(owner=request.user, pk=bulk_id).first()
    if bulk is None:
        raise Http404("No such action.")
    if bulk.status == BulkAction.Status.DONE and (bulk.params or {}).get("trashed_at"):
        from datetime import datetime

        undo_remember(
            request, at=datetime.fromisoformat(bulk.params["trashed_at"]), count=bulk.done
        )
    return render(request, "gallery/bulk_action.html", {"bulk": bulk})
