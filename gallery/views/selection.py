"""Select many, act once: the toolbar's actions, ZIP downloads, and big actions' progress."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
from ..forms import split_tags
from ..listing import Listing
from ..models import Board, BulkAction
from ._common import ZipResponse, back, selection_from
from .trash import remember_undo


def _images(request: HttpRequest, selection: dict):
    return selectors.image_selection(
        owner=request.user, ids=selection.get("ids"), filters=selection.get("filters")
    )


def _boards(request: HttpRequest) -> list[int]:
    ids = [int(v) for v in request.POST.getlist("boards") if v.isdigit()]
    new_name = request.POST.get("new_board", "").strip()
    if new_name:
        ids.append(services.board_get_or_create(owner=request.user, name=new_name).pk)
    return ids


@login_required
@require_POST
def selection_act(request: HttpRequest) -> HttpResponse:
    """The selection toolbar's form: ``action`` with the selection (ids, or ``all`` and the
    listing's filters)."""
    action = request.POST.get("action", "")
    selection = selection_from(request.POST)
    images = _images(request, selection)
    if action == "zip":
        return ZipResponse(services.images_zip(images=images), filename=f"novisurf-{_stamp()}.zip")
    params: dict = {}
    try:
        if action in ("tag-add", "tag-remove"):
            params["tags"] = split_tags(request.POST.get("tag", ""))[:20]
        if action == "board-add":
            params["boards"] = _boards(request)
        if action == "board-remove":
            board = request.POST.get("board", "")
            params["board"] = int(board) if board.isdigit() else None
        outcome = services.bulk_action_start(
            owner=request.user, action=action, params=params, selection=selection, images=images
        )
    except (services.BulkActionInvalid, services.BoardNameInvalid) as exc:
        messages.error(request, str(exc))
        return back(request)
    if isinstance(outcome, BulkAction):
        return _progress_redirect(outcome)
    if outcome.trashed_at is not None:
        remember_undo(request, at=outcome.trashed_at, count=outcome.count)
        messages.success(request, outcome.message, extra_tags="trash-undo")
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

        remember_undo(
            request, at=datetime.fromisoformat(bulk.params["trashed_at"]), count=bulk.done
        )
    return render(request, "gallery/bulk_action.html", {"bulk": bulk})
