"""The gallery's first pages: the home listing, the form, generations and one image."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import delivery, selectors, services
from ..forms import GenerationForm, TagForm
from ..models import Generation, Image

logger = logging.getLogger(__name__)


def _image_or_404(request: HttpRequest, image_id) -> Image:
    try:
        return selectors.image_get(owner=request.user, image_id=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None


def _generation_or_404(request: HttpRequest, generation_id) -> Generation:
    try:
        return selectors.generation_get(owner=request.user, generation_id=generation_id)
    except Generation.DoesNotExist:
        raise Http404("No such generation.") from None


@login_required
def home(request: HttpRequest, form: GenerationForm | None = None) -> HttpResponse:
    tag = request.GET.get("tag", "").strip()
    query = request.GET.get("q", "").strip()
    favourites = request.GET.get("favourites", "") not in ("", "0")
    images = selectors.image_list(
        owner=request.user, tag=tag or None, query=query or None, favourites=favourites
    )
    page = Paginator(images, per_page=settings.GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "gallery/home.html",
        {
            "form": form or GenerationForm(),
            "page": page,
            "tag": tag,
            "query": query,
            "favourites": favourites,
            "tags": selectors.tag_names(owner=request.user),
            "recent": selectors.generation_list_recent(owner=request.user),
        },
    )


@login_required
@require_POST
def generate(request: HttpRequest) -> HttpResponse:
    form = GenerationForm(request.POST)
    if not form.is_valid():
        return home(request, form=form)
    try:
        generation = services.generation_create(owner=request.user, **form.cleaned_data)
    except services.LimitReached as exc:
        form.add_error(None, exc.message)
        return home(request, form=form)
    return redirect("gallery:generation", generation_id=generation.pk)


@login_required
@require_GET
def generation_detail(request: HttpRequest, generation_id) -> HttpResponse:
    generation = _generation_or_404(request, generation_id)
    return render(
        request,
        "gallery/generation.html",
        {
            "generation": generation,
            "images": selectors.generation_images(generation=generation),
        },
    )


@login_required
@require_GET
def generation_status(request: HttpRequest, generation_id) -> JsonResponse:
    """What the generation page polls: status, reasons, and the images stored so far."""
    generation = _generation_or_404(request, generation_id)
    images = selectors.generation_images(generation=generation)
    return JsonResponse(
        {
            "status": generation.status,
            "status_label": generation.get_status_display(),
            "waiting": generation.is_waiting,
            "wait_reason": generation.wait_reason if generation.is_waiting else "",
            "finished": generation.is_finished,
            "error": generation.error,
            "item_errors": generation.item_errors,
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
                }
                for image in images
            ],
        }
    )


@login_required
@require_POST
def generation_retry(request: HttpRequest, generation_id) -> HttpResponse:
    generation = _generation_or_404(request, generation_id)
    services.generation_retry(generation=generation)
    return redirect("gallery:generation", generation_id=generation.pk)


@login_required
@require_GET
def image_detail(request: HttpRequest, image_id) -> HttpResponse:
    image = _image_or_404(request, image_id)
    return render(request, "gallery/image.html", {"image": image, "tag_form": TagForm()})


@login_required
@require_GET
def image_file(request: HttpRequest, image_id) -> HttpResponse:
    image = _image_or_404(request, image_id)
    try:
        return delivery.serve(request, image.file, content_type=f"image/{image.format}")
    except delivery.StorageUnavailable:
        return delivery.unavailable()


@login_required
@require_GET
def image_thumbnail(request: HttpRequest, image_id) -> HttpResponse:
    image = _image_or_404(request, image_id)
    try:
        return delivery.serve(request, image.thumbnail, content_type="image/webp")
    except delivery.StorageUnavailable:
        return delivery.unavailable(placeholder=True)


@login_required
@require_GET
def image_download(request: HttpRequest, image_id) -> HttpResponse:
    image = _image_or_404(request, image_id)
    try:
        data, filename = services.image_download(image=image)
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    except Exception:
        # The download embeds the parameters, so it reads the bytes here: storage must answer.
        logger.warning("Could not read %s for a download", image.file.name, exc_info=True)
        return delivery.unavailable()
    response = HttpResponse(data, content_type=f"image/{image.format}")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_POST
def image_tag_add(request: HttpRequest, image_id) -> HttpResponse:
    image = _image_or_404(request, image_id)
    form = TagForm(request.POST)
    if not form.is_valid():
        return render(request, "gallery/image.html", {"image": image, "tag_form": form}, status=400)
    services.image_tag_add(image=image, names=form.cleaned_data["tag"])
    return redirect("gallery:image", image_id=image.pk)


@login_required
@require_POST
def image_tag_remove(request: HttpRequest, image_id, name: str) -> HttpResponse:
    image = _image_or_404(request, image_id)
    services.image_tag_remove(image=image, name=name)
    return redirect("gallery:image", image_id=image.pk)


@login_required
def image_delete(request: HttpRequest, image_id) -> HttpResponse:
    image = _image_or_404(request, image_id)
    if request.method == "POST":
        # Deletes for good (the image page's "Delete" button moves to the trash instead:
        # views.trash.image_trash, with "Undo").
        services.image_delete(image=image)
        return redirect("gallery:home")
    return render(request, "gallery/image_delete.html", {"image": image})
