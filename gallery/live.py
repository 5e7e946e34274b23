"""The live channel: server-sent events from the GalleryEvent change feed.

Open pages (the gallery, a generation) learn of new images and status changes through one
``text/event-stream`` each. What a page receives is already rendered by the server (a tile is the
one tile template), so the page's script only places it.

Under ASGI (``make run`` serves with uvicorn) one poller per process reads the feed every
:data:`POLL_SECONDS` and fans each event out to the connected pages of its owner, so the load on
the database does not grow with the number of open pages. Under WSGI (Django's test server, a
sync deployment) each connection polls for itself and ends after :data:`WSGI_STREAM_SECONDS`;
the browser's EventSource reconnects with ``Last-Event-ID`` and misses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from . import selectors
from .listing import Listing, local_day
from .models import GalleryEvent, Generation

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15
WSGI_STREAM_SECONDS = 25
BATCH = 500


@dataclass(frozen=True)
class LiveScope:
    """What one open page shows: a listing (the gallery) or one generation."""

    owner_id: int
    listing: Listing | None = None
    board: object | None = None
    generation_id: str | None = None

    @property
    def listing_qs(self) -> str:
        return self.listing.querystring if self.listing else ""

    @property
    def tile_next(self) -> str:
        if self.generation_id:
            return reverse("gallery:generation", args=[self.generation_id])
        query = self.listing_qs
        return reverse("gallery:home") + (f"?{query}" if query else "")


def latest_event_id(*, owner) -> int:
    """Where a page's live channel starts: the feed's last event when the page was rendered."""
    row = GalleryEvent.objects.filter(owner=owner).order_by("-id").values_list("id").first()
    return row[0] if row else 0


def _message(event: GalleryEvent, name: str, data: dict) -> str:
    return f"id: {event.id}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _tile(request: HttpRequest, image, scope: LiveScope) -> str:
    return render_to_string(
        "gallery/_tile.html",
        {"image": image, "listing_qs": scope.listing_qs, "tile_next": scope.tile_next},
        request=request,
    )


def generation_state(generation: Generation, *, kept: int | None = None) -> dict:
    """What a generation page needs to show itself: status, reasons, and how many images are
    kept (``generation.kept``, from ``selectors.generation_with_kept``, unless given)."""
    return {
        "id": str(generation.pk),
        "status": generation.status,
        "status_label": generation.get_status_display(),
        "finished": generation.is_finished,
        "waiting": generation.is_waiting,
        "wait_reason": generation.wait_reason if generation.is_waiting else "",
        "can_retry": generation.can_retry,
        "can_cancel": generation.can_cancel,
        "error": generation.error,
        "item_errors": generation.item_errors,
        "n": generation.n,
        "kept": generation.kept if kept is None else kept,
    }


def render_event(request: HttpRequest, event: GalleryEvent, scope: LiveScope) -> list[str]:
    """The messages ``event`` means for the page of ``scope``: none, or a few, each rendered."""
    kind = event.kind
    Kind = GalleryEvent.Kind
    messages: list[str] = []
    if scope.generation_id:
        mine = str(event.generation_id) == scope.generation_id if event.generation_id else False
        if kind in (Kind.IMAGE_STORED, Kind.IMAGE_RESTORED, Kind.IMAGE_CHANGED) and mine:
            image = selectors.image_visible_get(owner=request.user, image_id=event.image_id)
            if image is not None:
                messages.append(
                    _message(
                        event,
                        "tile",
                        {
                            "id": str(image.pk),
                            "index": image.index,
                            "html": _tile(request, image, scope),
                            "replace": kind == Kind.IMAGE_CHANGED,
                        },
                    )
                )
        if kind in (Kind.IMAGE_TRASHED, Kind.IMAGE_DELETED):
            messages.append(_message(event, "remove", {"id": str(event.image_id)}))
        if kind == Kind.PARTIAL:
            if mine:
                messages.append(_message(event, "partial", event.payload))
            return messages
        if mine or kind in (Kind.IMAGE_TRASHED, Kind.IMAGE_DELETED):
            generation = selectors.generation_with_kept(
                owner=request.user, generation_id=scope.generation_id
            )
            if generation is not None:
                messages.append(_message(event, "generation", generation_state(generation)))
        return messages

    # The gallery: tiles that belong to its listing, removals, and the recent generations.
    if kind in (Kind.IMAGE_STORED, Kind.IMAGE_CHANGED) and scope.listing is not None:
        images = selectors.listing_images(
            owner=request.user, listing=scope.listing, board=scope.board
        )
        image = images.only(*selectors.TILE_FIELDS).filter(pk=event.image_id).first()
        if image is not None:
            day = local_day(image.created_at)
            messages.append(
                _message(
                    event,
                    "tile",
                    {
                        "id": str(image.pk),
                        "day": day.isoformat(),
                        "html": _tile(request, image, scope),
                        "replace": kind == Kind.IMAGE_CHANGED,
                    },
                )
            )
        elif kind == Kind.IMAGE_CHANGED:
            # Changed so that it left this listing (a tag removed, unfavourited).
            messages.append(_message(event, "remove", {"id": str(event.image_id)}))
    if kind in (Kind.IMAGE_TRASHED, Kind.IMAGE_DELETED):
        messages.append(_message(event, "remove", {"id": str(event.image_id)}))
    if event.generation_id and kind in (Kind.GENERATION, Kind.IMAGE_STORED):
        generation = selectors.generation_with_kept(
            owner=request.user, generation_id=event.generation_id
        )
        if generation is not None:
            html = render_to_string("gallery/_recent_item.html", {"g": generation}, request=request)
            messages.append(_message(event, "recent", {"id": str(generation.pk), "html": html}))
    return messages


def _events_after(*, owner_id: int | None, after: int) -> list[GalleryEvent]:
    events = GalleryEvent.objects.filter(id__gt=after)
    if owner_id is not None:
        events = events.filter(owner_id=owner_id)
    return list(events.order_by("id")[:BATCH])


def still_logged_in(request: HttpRequest) -> bool:
    """Whether the session that opened a stream still exists: logging out (here or in another
    tab) deletes it, and the stream must then stop telling what happens in the gallery."""
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if session is None or not key:
        return False
    try:
        return bool(session.exists(key))
    except Exception:
        return False


# -- WSGI: one poll loop per connection, for a while -------------------------------------------


def sync_stream(request: HttpRequest, scope: LiveScope, *, since: int) -> Iterator[str]:
    yield "retry: 500\n\n"
    last = since
    deadline = time.monotonic() + getattr(settings, "GALLERY_LIVE_WSGI_SECONDS", 25)
    keepalive = time.monotonic() + KEEPALIVE_SECONDS
    # Django closes this thread's connection when the response is closed (request_finished).
    while time.monotonic() < deadline:
        events = _events_after(owner_id=scope.owner_id, after=last)
        due = time.monotonic() > keepalive
        if (events or due) and not still_logged_in(request):
            return
        for event in events:
            last = event.id
            yield from render_event(request, event, scope)
        if due:
            keepalive = time.monotonic() + KEEPALIVE_SECONDS
            yield ": keep-alive\n\n"
        time.sleep(POLL_SECONDS)


# -- ASGI: one poller per process, fanned out by owner ------------------------------------------


class EventHub:
    """Reads the change feed once for every open page of this process.

    Started by the first subscriber in the server's event loop; stops itself when the last one
    leaves, so an idle site does not poll.
    """

    def __init__(self) -> None:
        self._subscribers: dict[int, set[asyncio.Queue]] = {}
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last = 0
        self.polls = 0

    async def subscribe(self, owner_id: int) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        if self._loop is not loop:  # a new loop (tests, a reloaded server): start afresh
            self._subscribers, self._task, self._loop = {}, None, loop
        self._subscribers.setdefault(owner_id, set()).add(queue)
        if self._task is None or self._task.done():
            self._last = await sync_to_async(_latest_id)()
            self._task = loop.create_task(self._run())
        return queue

    def unsubscribe(self, owner_id: int, queue: asyncio.Queue) -> None:
        queues = self._subscribers.get(owner_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[owner_id]

    async def _run(self) -> None:
        while self._subscribers:
            try:
                events = await sync_to_async(_events_after)(owner_id=None, after=self._last)
                self.polls += 1
            except Exception:
                logger.exception("The live poller could not read the change feed.")
                await asyncio.sleep(1)
                continue
            for event in events:
                self._last = event.id
                for queue in self._subscribers.get(event.owner_id, ()):
                    if not queue.full():
                        queue.put_nowait(event)
            if len(events) < BATCH:
                await asyncio.sleep(POLL_SECONDS)
        self._task = None


def _latest_id() -> int:
    row = GalleryEvent.objects.order_by("-id").values_list("id").first()
    return row[0] if row else 0


HUB = EventHub()


async def async_stream(request: HttpRequest, scope: LiveScope, *, since: int) -> AsyncIterator[str]:
    queue = await HUB.subscribe(scope.owner_id)
    render = sync_to_async(render_event)
    logged_in = sync_to_async(still_logged_in)
    last = since
    try:
        yield "retry: 1000\n\n"
        # What happened between the page's rendering (or the last message) and now.
        backlog = await sync_to_async(_events_after)(owner_id=scope.owner_id, after=since)
        for event in backlog:
            last = event.id
            for message in await render(request, event, scope):
                yield message
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                if not await logged_in(request):
                    return
                yield ": keep-alive\n\n"
                continue
            if event.id <= last:
                continue
            if not await logged_in(request):
                return
            last = event.id
            for message in await render(request, event, scope):
                yield message
    finally:
        HUB.unsubscribe(scope.owner_id, queue)
