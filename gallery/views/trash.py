"""The trash: what was moved there, "Undo" for its whole window, "Restore", "Delete forever"
(one image, the selection, or "Restore all"), "Empty trash"; whatever is permanent asks first."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
from ..bulk_actions.base import images_text
from ..listing import Listing
from ..models import Image
from ..undo import UndoTooLate, undo_remember, undo_take
from ._common import back, confirmation
from .lookups import image_or_404
from .selection import bulk_action_answer


@login_required
@require_POST
def image_trash(request: HttpRequest, image_id) -> HttpResponse:
    """The image page's "Delete": to the trash, with "Undo" offered on the next pages."""
    image = image_or_404(request, image_id)
    batch = services.images_trash(owner=request.user, images=Image.objects.filter(pk=image.pk))
    if batch.count:
        undo_remember(request, at=batch.at, count=batch.count)
    return back(request)


@login_required
@require_POST
def trash_undo(request: HttpRequest) -> HttpResponse:
    try:
        at = undo_take(request)
    except UndoTooLate:
        messages.error(request, "Too late to undo here: restore the images from the Trash page.")
        return back(request)
    if at is None:
        messages.error(request, "There is nothing to undo.")
        return back(request)
    restored = services.trash_undo(owner=request.user, at=at)
    messages.success(request, f"Restored {images_text(restored)}.")
    return back(request)


@login_required
@require_GET
def trash_list(request: HttpRequest) -> HttpResponse:
    listing = Listing.from_params(request.GET)
    page = selectors.trash_page(
        owner=request.user, listing=listing, size=settings.GALLERY_PAGE_SIZE
    )
    return render(
        request,
        "gallery/trash.html",
        {
            "page": page,
            "listing": Listing(),
            "in_trash": True,
            "trash_days": settings.NOVISURF_TRASH_DAYS,
        },
    )


@login_required
@require_POST
def trash_restore(request: HttpRequest) -> HttpResponse:
    """A tile's "Restore" (the toolbar's "Restore" and "Restore all" too, through /selection)."""
    return bulk_action_answer(request, "restore")


@login_required
@require_POST
def trash_delete(request: HttpRequest) -> HttpResponse:
    """A tile's "Delete forever", after the question."""
    return bulk_action_answer(request, "delete-forever")


@login_required
@require_POST
def trash_empty(request: HttpRequest) -> HttpResponse:
    count = selectors.trash_list(owner=request.user).count()
    asked = confirmation(
        request,
        question=f"Empty the trash: delete all {images_text(count)} forever? This cannot be undone.",
        button="Empty trash",
        cancel_url="/trash/",
    )
    if asked is not None:
        return asked
    count = services.trash_empty(owner=request.user)
    messages.success(request, f"Emptied the trash: {images_text(count)} deleted forever.")
    return redirect("gallery:trash")
