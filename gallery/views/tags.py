"""The Tags page: every tag of the person with its count, each a link that filters the
gallery; rename (onto another tag's name: merge) and delete, which asks first."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import selectors, services
from ..models import Tag


def _tag_or_404(request: HttpRequest, tag_id: int) -> Tag:
    try:
        return selectors.tag_get(owner=request.user, tag_id=tag_id)
    except Tag.DoesNotExist:
        raise Http404("No such tag.") from None


def _images(count: int) -> str:
    return f"{count:,} image" + ("" if count == 1 else "s")


@login_required
@require_GET
def tag_list(request: HttpRequest) -> HttpResponse:
    tags = selectors.tag_list(owner=request.user)
    return render(request, "gallery/tags.html", {"tags": tags})


@login_required
@require_POST
def tag_rename(request: HttpRequest, tag_id: int) -> HttpResponse:
    tag = _tag_or_404(request, tag_id)
    old_name = tag.name
    try:
        result = services.tag_rename(owner=request.user, tag=tag, name=request.POST.get("name", ""))
    except services.TagNameInvalid as exc:
        messages.error(
            request,
            f"\N{LEFT DOUBLE QUOTATION MARK}{old_name}\N{RIGHT DOUBLE QUOTATION MARK} was not renamed: {exc}",
        )
        return redirect("gallery:tags")
    new_name = result.tag.name
    if result.merged:
        messages.success(
            request,
            f"Merged \N{LEFT DOUBLE QUOTATION MARK}{old_name}\N{RIGHT DOUBLE QUOTATION MARK} "
            f"into \N{LEFT DOUBLE QUOTATION MARK}{new_name}\N{RIGHT DOUBLE QUOTATION MARK}: "
            f"{_images(result.moved)} took the tag.",
        )
    else:
        messages.success(
            request,
            f"Renamed \N{LEFT DOUBLE QUOTATION MARK}{old_name}\N{RIGHT DOUBLE QUOTATION MARK} "
            f"to \N{LEFT DOUBLE QUOTATION MARK}{new_name}\N{RIGHT DOUBLE QUOTATION MARK}.",
        )
    return redirect("gallery:tags")


@login_required
@require_http_methods(["GET", "POST"])
def tag_delete(request: HttpRequest, tag_id: int) -> HttpResponse:
    """GET asks (naming how many images carry the tag); POST deletes."""
    tag = _tag_or_404(request, tag_id)
    if request.method == "GET":
        return render(request, "gallery/tag_delete.html", {"tag": tag})
    count = services.tag_delete(owner=request.user, tag=tag)
    messages.success(
        request,
        f"Deleted the tag \N{LEFT DOUBLE QUOTATION MARK}{tag.name}\N{RIGHT DOUBLE QUOTATION MARK} "
        f"from {_images(count)}; the images stay.",
    )
    return redirect("gallery:tags")
