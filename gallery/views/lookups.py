"""The rows a view works on, the person's own or a 404, and the listing a request names."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.urls import reverse

from .. import selectors
from ..listing import Listing
from ..models import Board, Generation, Image


def image_or_404(request: HttpRequest, image_id) -> Image:
    try:
        return selectors.image_get(owner=request.user, image_id=image_id)
    except (Image.DoesNotExist, ValidationError, ValueError):
        # ValidationError: an id that is not a UUID at all (a hand-made form) names no image.
        raise Http404("No such image.") from None


def generation_or_404(request: HttpRequest, generation_id) -> Generation:
    try:
        return selectors.generation_get(owner=request.user, generation_id=generation_id)
    except Generation.DoesNotExist:
        raise Http404("No such generation.") from None


def listing_or_404(request: HttpRequest) -> tuple[Listing, Board | None]:
    listing = Listing.from_params(request.GET)
    board = None
    if listing.board is not None:
        try:
            board = selectors.board_get(owner=request.user, board_id=listing.board)
        except Board.DoesNotExist:
            raise Http404("No such board.") from None
    return listing, board


def listing_url(listing: Listing) -> str:
    query = listing.querystring
    return reverse("gallery:home") + (f"?{query}" if query else "")
