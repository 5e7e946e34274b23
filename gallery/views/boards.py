"""Boards: the list with its "Create board" form, one board as a gallery listing, rename,
delete (the images stay), cover, and an image's own boards."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .. import selectors, services
from ..listing import Listing
from ..models import Board, Image
from ._common import back
from .lookups import image_or_404


def _board_or_404(request: HttpRequest, board_id) -> Board:
    try:
        return selectors.board_get(owner=request.user, board_id=board_id)
    except Board.DoesNotExist:
        raise Http404("No such board.") from None


@login_required
@require_http_methods(["GET", "POST"])
def board_list(request: HttpRequest) -> HttpResponse:
    error = ""
    name = ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            board = services.board_create(owner=request.user, name=name)
        except services.BoardNameInvalid as exc:
            error = str(exc)
        else:
            messages.success(request, f"Made the board “{board.name}”.")
            return redirect("gallery:boards")
    return render(
        request,
        "gallery/boards.html",
        {"boards": selectors.board_list(owner=request.user), "error": error, "name": name},
        status=400 if error else 200,
    )


@login_required
def board_detail(request: HttpRequest, board_id) -> HttpResponse:
    board = _board_or_404(request, board_id)
    listing = Listing.from_params(request.GET, board=board.pk)
    page = selectors.listing_page(
        owner=request.user, listing=listing, board=board, size=settings.GALLERY_PAGE_SIZE
    )
    return render(
        request,
        "gallery/board.html",
        {
            "board": board,
            "page": page,
            "listing": listing,
            # An image opened from here walks this board (its viewer reads the board from it).
            "listing_qs": listing.querystring,
            "tags": selectors.tag_names(owner=request.user),
        },
    )


@login_required
@require_POST
def board_rename(request: HttpRequest, board_id) -> HttpResponse:
    board = _board_or_404(request, board_id)
    try:
        services.board_rename(board=board, name=request.POST.get("name", ""))
    except services.BoardNameInvalid as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Renamed the board to “{board.name}”.")
    return redirect("gallery:board", board_id=board.pk)


@login_required
@require_POST
def board_delete(request: HttpRequest, board_id) -> HttpResponse:
    board = _board_or_404(request, board_id)
    services.board_delete(board=board)
    messages.success(request, f"Deleted the board “{board.name}”; its images are still here.")
    return redirect("gallery:boards")


@login_required
@require_POST
def board_cover(request: HttpRequest, board_id) -> HttpResponse:
    board = _board_or_404(request, board_id)
    image = None
    if request.POST.get("image"):
        image = image_or_404(request, request.POST["image"])
    services.board_cover_set(board=board, image=image)
    messages.success(request, "Changed the board's cover.")
    return back(request, "gallery:board", board_id=board.pk)


@login_required
@require_POST
def board_remove_images(request: HttpRequest, board_id) -> HttpResponse:
    from ._common import uuids

    board = _board_or_404(request, board_id)
    chosen = Image.objects.filter(owner=request.user, pk__in=uuids(request.POST.getlist("ids")))
    removed = services.board_images_remove(board=board, images=chosen)
    messages.success(request, f"Took {removed} image{'' if removed == 1 else 's'} off the board.")
    return back(request, "gallery:board", board_id=board.pk)


@login_required
@require_POST
def image_boards(request: HttpRequest, image_id) -> HttpResponse:
    """The image page's "Add to board": the boards ticked, and a new one if named."""
    image = image_or_404(request, image_id)
    ids = [int(v) for v in request.POST.getlist("boards") if v.isdigit()]
    try:
        if request.POST.get("new_board", "").strip():
            board = services.board_get_or_create(owner=request.user, name=request.POST["new_board"])
            ids.append(board.pk)
    except services.BoardNameInvalid as exc:
        messages.error(request, str(exc))
        return redirect("gallery:image", image_id=image.pk)
    boards = list(Board.objects.filter(owner=request.user, pk__in=ids))
    if not boards:
        messages.error(request, "Choose a board (or name a new one) first.")
    else:
        services.board_images_add(boards=boards, images=Image.objects.filter(pk=image.pk))
        names = ", ".join(f"“{b.name}”" for b in boards)
        messages.success(request, f"Added to {names}.")
    return redirect("gallery:image", image_id=image.pk)
