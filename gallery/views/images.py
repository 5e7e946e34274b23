"""One image's pages: its viewer page, its files (original, thumbnail, download), tags and delete."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from novisurf.protocol import CONTENT_TYPES

from .. import delivery, selectors, services
from ..forms import EditForm, TagForm
from ..listing import Cursor
from ..models import Image
from ..provider_client import model_choices
from .lookups import image_or_404, listing_or_404

logger = logging.getLogger(__name__)


def edit_form_for(image: Image, data=None, files=None) -> EditForm:
    return EditForm(
        data,
        files,
        model_choices=model_choices(),
        initial_model=services.edit_model_for(image=image),
    )


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
