"""The trash: what was moved there, "Undo" right after, "Restore", "Delete forever", "Empty"."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
from ..listing import Listing
from ..models import Image
from ._common import back, uuids
from .pages import _image_or_404

UNDO_KEY = "novisurf_trash_undo"


def remember_undo(request: HttpRequest, *, at: datetime, count: int) -> None:
    """What "Undo" will restore: the batch's instant (see services.trash)."""
    request.session[UNDO_KEY] = {"at": at.isoformat(), "count": count}


@login_required
@require_POST
def image_trash(request: HttpRequest, image_id) -> HttpResponse:
    """The image page's "Delete": to the trash, with "Undo" offered on the next page."""
    image = _image_or_404(request, image_id)
    batch = services.images_trash(owner=request.user, images=Image.objects.filter(pk=image.pk))
    if batch.count:
        remember_undo(request, at=batch.at, count=batch.count)
        messages.success(request, "Moved 1 image to the trash.", extra_tags="trash-undo")
    return back(request)


@login_required
@require_POST
def trash_undo(request: HttpRequest) -> HttpResponse:
    undo = request.session.pop(UNDO_KEY, None)
    if not undo:
        messages.error(request, "There is nothing to undo.")
        return back(request)
    at = datetime.fromisoformat(undo["at"])
    if timezone.now() - at > timedelta(seconds=settings.NOVISURF_TRASH_UNDO_SECONDS):
        messages.error(request, "Too late to undo here: restore the images from the Trash page.")
        return back(request)
    restored = services.trash_undo(owner=request.user, at=at)
    messages.success(request, f"Restored {restored} image{'' if restored == 1 else 's'}.")
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


def _chosen(request: HttpRequest):
    return Image.objects.filter(owner=request.user, pk__in=uuids(request.POST.getlist("ids")))


@login_required
@require_POST
def trash_restore(request: HttpRequest) -> HttpResponse:
    count = services.images_restore(owner=request.user, images=_chosen(request))
    messages.success(request, f"Restored {count} image{'' if count == 1 else 's'}.")
    return redirect("gallery:trash")


@login_required
@require_POST
def trash_delete(request: HttpRequest) -> HttpResponse:
    count = services.images_delete_forever(owner=request.user, images=_chosen(request))
    messages.success(request, f"Deleted {count} image{'' if count == 1 else 's'} forever.")
    return redirect("gallery:trash")


@login_required
@require_POST
def trash_empty(request: HttpRequest) -> HttpResponse:
    count = services.trash_empty(owner=request.user)
    messages.success(request, f"Emptied the trash: {count} image{'' if count == 1 else 's'}.")
    return redirect("gallery:trash")
