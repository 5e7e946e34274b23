"""Small parsing helpers the organising views share: where to go back to, what was selected."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from ..services.archive import coalesce

LISTING_FILTERS = ("tag", "q", "favourites", "board")


def back(request: HttpRequest, default: str = "gallery:home", **kwargs) -> HttpResponse:
    """Redirect to ``next`` when it is a page of this site, else to ``default``."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect(default, **kwargs)


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


def listing_filters(data, *, tag_key: str = "tag") -> dict:
    """A listing's filters from a querystring or a form: what "Select all" means."""
    keys = {key: tag_key if key == "tag" else key for key in LISTING_FILTERS}
    filters = {key: data.get(name, "").strip() for key, name in keys.items() if data.get(name)}
    if filters.get("board") and not filters["board"].isdigit():
        filters["board"] = "0"  # no such board: selects nothing
    if "favourites" in filters:
        filters["favourites"] = filters["favourites"] not in ("0", "false", "")
    return filters


def selection_from(data) -> dict:
    """``{"filters": {...}}`` for "Select all", else ``{"ids": [...]}``."""
    if data.get("all") in ("1", "true", "on"):
        # The toolbar's own "tag" field is the tag to add; the listing's tag comes as tag_filter.
        return {"filters": listing_filters(data, tag_key="tag_filter")}
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
