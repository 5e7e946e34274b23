"""A generation's actions taken from wherever it is shown (the gallery, its page): cancelling it,
and the state a script shows afterwards."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from .. import services
from ._common import back, generation_json, wants_json
from .pages import generation_or_404


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
