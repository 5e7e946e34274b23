"""The live channel's view: one event stream per open page (see gallery.live)."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from .. import live
from .lookups import generation_or_404, listing_or_404


def _since(request: HttpRequest) -> int:
    """Where to start: the browser's Last-Event-ID on a reconnect, else the page's own mark."""
    for value in (request.headers.get("Last-Event-ID", ""), request.GET.get("since", "")):
        if value.isdigit() and len(value) < 19:
            return int(value)
    return -1


@login_required
@require_GET
def events(request: HttpRequest) -> StreamingHttpResponse:
    generation_id = request.GET.get("generation", "")
    if generation_id:
        try:
            generation = generation_or_404(request, uuid.UUID(generation_id))
        except ValueError:
            raise Http404("No such generation.") from None
        scope = live.LiveScope(owner_id=request.user.pk, generation_id=str(generation.pk))
    else:
        listing, board = listing_or_404(request)
        scope = live.LiveScope(owner_id=request.user.pk, listing=listing, board=board)
    since = _since(request)
    if since < 0:
        since = live.latest_event_id(owner=request.user)
    if isinstance(request, ASGIRequest):
        stream = live.async_stream(request, scope, since=since)
    else:
        stream = live.sync_stream(request, scope, since=since)
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass each message on at once
    return response
