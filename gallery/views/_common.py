"""Small parsing helpers the organising views share: where to go back to, what was selected."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from ..listing import Listing
from ..services.archive import coalesce


def back(request: HttpRequest, default: str = "gallery:home", **kwargs) -> HttpResponse:
    """Redirect to ``next`` when it is a page of this site, else to ``default``."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect(default, **kwargs)


def listing_head_url(request: HttpRequest) -> str:
    """This listing's own page, without the cursor or the fragment a script asked for: where a
    tile's forms come back to when its tile was fetched as a further page of the listing."""
    query = request.GET.copy()
    for name in ("after", "before", "at", "fragment"):
        query.pop(name, None)
    encoded = query.urlencode()
    return request.path + (f"?{encoded}" if encoded else "")


def next_url(request: HttpRequest, default: str) -> str:
    """Where ``next`` points when it is a page of this site, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def confirmation(
    request: HttpRequest, *, question: str, button: str, cancel_url: str, danger: bool = True
) -> HttpResponse | None:
    """A page that asks ``question`` before a POST that cannot be taken back runs; None when
    there is nothing to ask or it was answered. The page posts the same form again, answered."""
    if not question or request.POST.get("confirmed") == "1":
        return None
    fields = [
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", "confirmed")
        for value in request.POST.getlist(name)
    ]
    context = {
        "question": question,
        "button": button,
        "danger": danger,
        "fields": fields,
        "action_url": request.path,
        "cancel_url": next_url(request, cancel_url),
    }
    return render(request, "gallery/confirm.html", context)


def wants_json(request: HttpRequest) -> bool:
    """A script asked (the gallery's Generate, Cancel and Retry), not a plain form."""
    return "application/json" in request.headers.get("Accept", "")


def generation_json(request: HttpRequest, generation, *, status: int = 200) -> JsonResponse:
    """A generation's state, and its entry of the gallery's recent list, for a script."""
    from .. import live, selectors

    generation = selectors.generation_with_kept(owner=request.user, generation_id=generation.pk)
    html = render_to_string("gallery/_recent_item.html", {"g": generation}, request=request)
    return JsonResponse(
        {
            **live.generation_state(generation),
            "url": reverse("gallery:generation", args=[generation.pk]),
            "html": html,
        },
        status=status,
    )


def uuids(values: list[str]) -> list[uuid.UUID]:
    """The values that are image ids; anything else is dropped (a tampered form selects less)."""
    found = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except (ValueError, AttributeError, TypeError):
            continue
    return found


def selection_from(data) -> dict:
    """``{"filters": {...}}`` for "Select all" (the listing's parameters, as the toolbar's form
    carries them), else ``{"ids": [...]}``."""
    if data.get("all") in ("1", "true", "on"):
        return {"filters": Listing.from_form(data).params()}
    return {"ids": [str(i) for i in uuids(data.getlist("ids"))]}


class ZipResponse(StreamingHttpResponse):
    """A ZIP streamed from a synchronous iterator under WSGI and ASGI alike.

    Under ASGI, Django's StreamingHttpResponse gathers a synchronous iterator into a list before
    sending the first byte (and warns); a ZIP of thousands of images would sit in memory. Here
    each chunk is pulled in the request's sync thread (where the database connection lives) and
    sent before the next is made.
    """

    def __init__(self, chunks, *, filename: str) -> None:
        super().__init__(coalesce(chunks), content_type="application/zip")
        self["Content-Disposition"] = f'attachment; filename="{filename}"'
        self["Cache-Control"] = "private, no-store"

    async def __aiter__(self):
        from asgiref.sync import sync_to_async

        iterator = iter(self.streaming_content)
        done = object()
        pull = sync_to_async(next, thread_sensitive=True)
        while (chunk := await pull(iterator, done)) is not done:
            yield chunk
