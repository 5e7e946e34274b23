"""A generation's page and state (for the page's script and the gallery's recent list), and its
actions taken from wherever it is shown: retry and cancel."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import live, selectors, services
from ..models import Image
from ._common import back, generation_json, wants_json
from .lookups import generation_or_404


@login_required
@require_POST
def generation_cancel(request: HttpRequest, generation_id) -> HttpResponse:
    """Cancel a queued or running generation; a finished one is left as it is.

    A script (the gallery's Cancel buttons) gets the generation's state as JSON; a plain form
    goes back to where it was pressed.
    """
    generation = generation_or_404(request, generation_id)
    services.generation_cancel(generation=generation)
    if wants_json(request):
        return generation_json(request, generation)
    return back(request, "gallery:generation", generation_id=generation.pk)


@login_required
@require_GET
def generation_detail(request: HttpRequest, generation_id) -> HttpResponse:
    generation = generation_or_404(request, generation_id)
    images = list(selectors.generation_images(generation=generation))
    return render(
        request,
        "gallery/generation.html",
        {
            "generation": generation,
            "images": images,
            "kept": len(images),
            "live_since": live.latest_event_id(owner=request.user),
        },
    )


@login_required
@require_GET
def generation_status(request: HttpRequest, generation_id) -> JsonResponse:
    """The plain JSON fallback of the generation page (where EventSource fails)."""
    generation = generation_or_404(request, generation_id)
    images = list(selectors.generation_images(generation=generation))
    next_url = reverse("gallery:generation", args=[generation.pk])
    return JsonResponse(
        {
            # The same state the live channel sends, plus the tiles.
            **live.generation_state(generation, kept=len(images)),
            # While a streaming model works, its latest partial image, refining in place.
            "partial": (
                None
                if generation.is_finished
                else selectors.generation_latest_partial(generation=generation)
            ),
            "images": [
                {
                    "id": str(image.pk),
                    "index": image.index,
                    "url": reverse("gallery:image", args=[image.pk]),
                    "thumbnail": reverse("gallery:image-thumbnail", args=[image.pk]),
                    "width": image.thumbnail_width,
                    "height": image.thumbnail_height,
                    "alt": image.prompt,
                    "has_alpha": image.has_alpha,
                    "html": tile_html(request, image, listing_qs="", next_url=next_url),
                }
                for image in images
            ],
        }
    )


def tile_html(request: HttpRequest, image: Image, *, listing_qs: str, next_url: str) -> str:
    """One tile, rendered by the one tile template, for live updates."""
    return render_to_string(
        "gallery/_tile.html",
        {"image": image, "listing_qs": listing_qs, "tile_next": next_url},
        request=request,
    )


@login_required
@require_POST
def generation_retry(request: HttpRequest, generation_id) -> HttpResponse:
    generation = generation_or_404(request, generation_id)
    services.generation_retry(generation=generation)
    if wants_json(request):
        return generation_json(request, generation)
    return redirect("gallery:generation", generation_id=generation.pk)
