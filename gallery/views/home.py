"""The home page: the person's listing and the generation form, and the form's Generate."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from novisurf.protocol import DEFAULT_RESPONSE_FORMAT

from .. import live, search, selectors, services
from ..forms import GenerationForm
from ..listing import NEWEST, OLDEST, Listing
from ..models import Board, Image
from ..provider_client import model_choices
from ._common import generation_json, wants_json
from .lookups import listing_or_404, listing_url


def _form_initial(request: HttpRequest) -> tuple[dict, bool, list[str]]:
    """The form's starting values: an image's settings (``?from=<id>``, "Use these settings"),
    else the last generation's. Then whether to show the options open, and what of the image's
    settings the form could not take (said beside the form, never dropped silently)."""
    source = request.GET.get("from", "")
    if source:
        try:
            image = selectors.image_get(owner=request.user, image_id=uuid.UUID(source))
        except (ValueError, Image.DoesNotExist):
            image = None
        if image is not None:
            from ..parameters import settings_carry

            carried = settings_carry(image=image, available=[model for model, _ in model_choices()])
            body = dict(carried.body)
            fields = {name: body.pop(name, None) for name in ("prompt", "model", "n", "size")}
            response_format = body.pop("response_format", None) or DEFAULT_RESPONSE_FORMAT
            return (
                {
                    **fields,
                    "response_format": response_format,
                    "tags": ", ".join(t.name for t in image.tag_list),
                    "options": json.dumps(body) if body else "",
                    "parent_image": image.pk,
                },
                True,
                carried.dropped,
            )
    last = selectors.generation_last(owner=request.user)
    if last is None:
        return {}, False, []
    return (
        {
            "model": last.model,
            "n": last.n,
            "size": last.size,
            "response_format": last.response_format,
            "tags": ", ".join(last.tag_names),
        },
        False,
        [],
    )


def _search_summary(request: HttpRequest, listing: Listing, board: Board | None) -> dict:
    """How many images a search found (capped) and the parts of it that were not understood."""
    total, more = selectors.image_count_capped(
        owner=request.user,
        tag=listing.tag or None,
        query=listing.query,
        favourites=listing.favourites,
        board=board,
    )
    if more:
        summary = f"{total:,}+ images match"
    else:
        summary = f"{total:,} image matches" if total == 1 else f"{total:,} images match"
    return {
        "match_count": (total, more),
        "match_summary": summary,
        "search_problems": search.parse_query(listing.query).problems,
    }


@login_required
def home(request: HttpRequest, form: GenerationForm | None = None) -> HttpResponse:
    listing, board = listing_or_404(request)
    page = selectors.listing_page(
        owner=request.user, listing=listing, board=board, size=settings.GALLERY_PAGE_SIZE
    )
    context = {
        "page": page,
        "listing": listing,
        "board": board,
        "listing_qs": listing.querystring,
        "tile_next": listing_url(listing),
        "title": listing.title(board),
    }
    if request.GET.get("fragment") == "tiles":
        return render(request, "gallery/_listing_page.html", context)
    if listing.query:
        context.update(_search_summary(request, listing, board))
    options_open = bool(form is not None and form.errors)
    settings_dropped: list[str] = []
    if form is None:
        initial, options_open, settings_dropped = _form_initial(request)
        form = GenerationForm(initial=initial, model_choices=model_choices())
    return render(
        request,
        "gallery/home.html",
        {
            **context,
            "form": form,
            "options_open": options_open,
            "settings_dropped": settings_dropped,
            "tags": selectors.tag_names(owner=request.user),
            "recent": selectors.generation_list_recent(owner=request.user),
            "live_since": live.latest_event_id(owner=request.user),
            "order_links": {order: listing.with_order(order) for order in (NEWEST, OLDEST)},
        },
    )


@login_required
@require_POST
def generate(request: HttpRequest) -> HttpResponse:
    form = GenerationForm(request.POST, model_choices=model_choices())
    if not form.is_valid():
        return home(request, form=form)
    data = dict(form.cleaned_data)
    parent_id = data.pop("parent_image", None)
    parent = None
    if parent_id is not None:
        try:
            parent = selectors.image_get(owner=request.user, image_id=parent_id)
        except Image.DoesNotExist:
            form.add_error(None, "The image these settings came from is gone.")
            return home(request, form=form)
    try:
        generation = services.generation_create(owner=request.user, parent_image=parent, **data)
    except services.LimitReached as exc:
        form.add_error(None, exc.message)
        return home(request, form=form)
    if wants_json(request):
        # Generated from the gallery: the page stays, and shows it among the recent ones.
        return generation_json(request, generation, status=201)
    return redirect("gallery:generation", generation_id=generation.pk)
