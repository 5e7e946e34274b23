"""Compare: two of a person's images side by side, with where their parameters differ."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import selectors
from ..models import Image
from ..parameters import parameters_compared


def _image(request: HttpRequest, value: str) -> Image:
    try:
        return selectors.image_get(owner=request.user, image_id=uuid.UUID(value))
    except (ValueError, Image.DoesNotExist):
        raise Http404("No such image.") from None


def _local(url: str) -> str:
    """A path of this site to go back to, or nothing (never another site's address)."""
    return url if url.startswith("/") and not url.startswith(("//", "/\\")) else ""


@login_required
@require_GET
def image_compare(request: HttpRequest) -> HttpResponse:
    """``?a=<id>&b=<id>``: both must be the person's own images (else a 404, as for one)."""
    a = _image(request, request.GET.get("a", ""))
    b = _image(request, request.GET.get("b", ""))
    rows = parameters_compared(a, b)
    return render(
        request,
        "gallery/compare.html",
        {
            "pair": (a, b),
            "rows": rows,
            "differences": sum(1 for row in rows if row[3]),
            "back_url": _local(request.GET.get("back", "")),
        },
    )
