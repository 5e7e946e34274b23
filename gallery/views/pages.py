"""The gallery's first pages: the home listing, the form, generations and one image."""

from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from novisurf.protocol import CONTENT_TYPES, DEFAULT_RESPONSE_FORMAT

from .. import delivery, live, search, selectors, services
from ..forms import EditForm, GenerationForm, TagForm
from ..listing import NEWEST, OLDEST, Cursor, Listing
from ..models import Board, Generation, Image
from ..provider_client import model_choices
from ._common import generation_json, wants_json

logger = logging.getLogger(__name__)


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


def edit_form_for(image: Image, data=None, files=None) -> EditForm:
    return EditForm(
        data,
        files,
        model_choices=model_choices(),
        initial_model=services.edit_model_for(image=image),
    )


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


@login_required
@require_GET
def image_detail(request: HttpRequest, image_id) -> HttpResponse:
    image = image_or_404(request, image_id)
    return image_page_render(request, image, TagForm())


# Shown elsewhere on the image's page: its heading, the revised prompt, and the first rows.
_SHOWN_APART = {"Prompt", "Revised prompt", "Model", "Size"}


def _shown_parameters(image: Image) -> list:
    """The rest of what is known of how the image was made (negative prompt, seed, steps,
    sampler, CFG scale, options, source), for the page's list of parameters."""
    from ..parameters import image_parameters_table

    made_with_key = image.generation_id and image.generation.source == "api"
    return [
        p
        for p in image_parameters_table(image)
        if p.label not in _SHOWN_APART and not (made_with_key and p.label == "Source")
    ]


def image_page_render(
    request: HttpRequest, image: Image, tag_form: TagForm, status: int = 200, **extra
) -> HttpResponse:
    """The viewer: the image large, its details, and the way through the listing it was opened
    from (its filters ride along in the querystring); its lineage, and the edit form (open when
    asked for with ``?edit``, or when an edit came back with errors)."""
    listing, board = listing_or_404(request)
    images = selectors.listing_images(owner=request.user, listing=listing, board=board)
    previous, following = selectors.image_neighbours(
        images=images, image=image, order=listing.order
    )
    query = listing.querystring
    suffix = f"?{query}" if query else ""

    def viewer_url(other: Image | None) -> str | None:
        return reverse("gallery:image", args=[other.pk]) + suffix if other else None

    back_query = urlencode({**listing.params(), "at": str(Cursor.of(image))})
    return render(
        request,
        "gallery/image.html",
        {
            "image": image,
            "parameters": _shown_parameters(image),
            "tag_form": tag_form,
            "listing": listing,
            "board": board,
            "listing_qs": query,
            "previous_url": viewer_url(previous),
            "next_url": viewer_url(following),
            "back_url": f"{reverse('gallery:home')}?{back_query}#tile-{image.pk}",
            "back_label": listing.title(board) if listing.is_filtered else "the gallery",
            "lineage": selectors.image_lineage(image=image),
            "edit_form": edit_form_for(image),
            "edit_open": "edit" in request.GET,
            **extra,
        },
        status=status,
    )


@login_required
@require_GET
def image_file(request: HttpRequest, image_id) -> HttpResponse:
    image = image_or_404(request, image_id)
    content_type = CONTENT_TYPES.get(image.format, "application/octet-stream")
    # An SVG is shown sandboxed (see gallery.delivery); on S3 it is always a download.
    filename = f"{services.download_stem(image)}.svg" if image.format == "svg" else ""
    try:
        return delivery.serve(request, image.file, content_type=content_type, filename=filename)
    except delivery.StorageUnavailable:
        return delivery.unavailable()


@login_required
@require_GET
def image_thumbnail(request: HttpRequest, image_id) -> HttpResponse:
    image = image_or_404(request, image_id)
    try:
        return delivery.serve(
            request, image.thumbnail, content_type=CONTENT_TYPES[image.thumbnail_format]
        )
    except delivery.StorageUnavailable:
        return delivery.unavailable(placeholder=True)


@login_required
@require_GET
def image_download(request: HttpRequest, image_id) -> HttpResponse:
    image = image_or_404(request, image_id)
    try:
        data, filename = services.image_download(image=image)
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    except Exception:
        # The download embeds the parameters, so it reads the bytes here: storage must answer.
        logger.warning("Could not read %s for a download", image.file.name, exc_info=True)
        return delivery.unavailable()
    response = HttpResponse(
        data, content_type=CONTENT_TYPES.get(image.format, "application/octet-stream")
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if image.format == "svg":
        delivery.sandbox(response)
    return response


@login_required
@require_POST
def image_tag_add(request: HttpRequest, image_id) -> HttpResponse:
    image = image_or_404(request, image_id)
    form = TagForm(request.POST)
    if not form.is_valid():
        return image_page_render(request, image, form, status=400)
    services.image_tag_add(image=image, names=form.cleaned_data["tag"])
    return redirect("gallery:image", image_id=image.pk)


@login_required
@require_POST
def image_tag_remove(request: HttpRequest, image_id, name: str) -> HttpResponse:
    image = image_or_404(request, image_id)
    services.image_tag_remove(image=image, name=name)
    return redirect("gallery:image", image_id=image.pk)


@login_required
def image_delete(request: HttpRequest, image_id) -> HttpResponse:
    image = image_or_404(request, image_id)
    if request.method == "POST":
        # Deletes for good (the image page's "Delete" button moves to the trash instead:
        # views.trash.image_trash, with "Undo").
        services.image_delete(image=image)
        return redirect("gallery:home")
    return render(request, "gallery/image_delete.html", {"image": image})
