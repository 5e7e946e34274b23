"""Favourites: a toggle on every tile and in the viewer."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .. import services
from .lookups import image_or_404


@login_required
@require_POST
def image_favourite(request: HttpRequest, image_id) -> HttpResponse:
    """POST ``favourite=on|off`` (or nothing, to toggle). JSON for scripts, a redirect for forms."""
    image = image_or_404(request, image_id)
    value = request.POST.get("favourite", "")
    favourite = not image.is_favourite if value not in ("on", "off") else value == "on"
    services.image_favourite_set(image=image, favourite=favourite)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"id": str(image.pk), "favourite": favourite})
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("gallery:image", image_id=image.pk)
