"""A generation's own actions beyond its page: cancelling it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from .. import live, selectors, services
from ._common import back
from .pages import _generation_or_404


@login_required
@require_POST
def generation_cancel(request: HttpRequest, generation_id) -> HttpResponse:
    """Cancel a queued or running generation; a finished one is left as it is.

    A script (the gallery's Cancel buttons) gets the generation's state as JSON; a plain form
    goes back to where it was pressed.
    """
    generation = _generation_or_404(request, generation_id)
    services.generation_cancel(generation=generation)
    if "application/json" in request.headers.get("Accept", ""):
        kept = selectors.generation_with_kept(owner=request.user, generation_id=generation.pk)
        return JsonResponse(live.generation_state(kept))
    return back(request, "gallery:generation", generation_id=generation.pk)
