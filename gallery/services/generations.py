"""Generations: save what was asked, queue it fairly, run it under a lease, and heal the queue.

The Generation table is the queue. A task is only a wake-up: whichever worker runs it claims
the *fairest* runnable generation (the owner with the fewest running, then the one who started
least recently, then the oldest), so one person's backlog never starves another's. A running
generation holds a lease its worker renews; the sweeper takes up one whose lease lapsed (its
worker died) and makes sure every runnable generation has a wake-up waiting.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone
from django.utils.formats import date_format

from novisurf.client import (
    Cancelled,
    ClientError,
    EndpointError,
    EndpointUnavailable,
    RateLimited,
    ResultItem,
    decode_b64_strict,
)
from novisurf.protocol import MODELS, accepts_response_format

from .. import imaging
from ..endpoint import endpoint_client
from ..models import GalleryEvent, Generation, Image, UserLimits
from .events import event_emit
from .images import image_store


class EditSourceMissing(Exception):
    """The image an edit starts from is gone (deleted for good, or its file lost)."""


logger = logging.getLogger(__name__)

# After this many lapsed leases (workers that died running it) a generation fails for good.
MAX_ATTEMPTS = 5


class LimitReached(Exception):
    """A per-person limit stops this generation; the message says which and until when."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    max_running: int
    images_per_day: int  # 0: no limit
    max_bytes: int  # 0: no limit


def limits_for(*, user) -> Limits:
    override = UserLimits.objects.filter(user=user).first()

    def pick(name: str, default: int) -> int:
        value = getattr(override, name, None) if override else None
        return default if value is None else value

    return Limits(
        max_running=pick("max_running", settings.NOVISURF_USER_MAX_RUNNING),
        images_per_day=pick("images_per_day", settings.NOVISURF_USER_IMAGES_PER_DAY),
        max_bytes=pick("max_bytes", settings.NOVISURF_USER_MAX_BYTES),
    )


def limits_check(*, owner, n: int, now: datetime | None = None) -> None:
    """Raise :class:`LimitReached` if ``n`` more images would pass one of the owner's limits."""
    now = now or timezone.now()
    limits = limits_for(user=owner)
    if limits.images_per_day:
        day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        used = (
            Generation.objects.filter(owner=owner, created_at__gte=day_start)
            .exclude(status__in=(Generation.Status.FAILED, Generation.Status.CANCELLED))
            .aggregate(total=Sum("n"))["total"]
            or 0
        )
        if used + n > limits.images_per_day:
            resets = day_start + timedelta(days=1)
            left = max(0, limits.images_per_day - used)
            raise LimitReached(
                f"You have reached your limit of {limits.images_per_day} images a day "
                f"({used} made or on their way today, {left} left). It resets at "
                f"{date_format(timezone.localtime(resets), 'H:i')} "
                f"on {date_format(timezone.localtime(resets), 'j M')}.",
                limit="images_per_day",
            )
    if limits.max_bytes:
        stored = Image.objects.filter(owner=owner).aggregate(total=Sum("file_size"))["total"] or 0
        if stored >= limits.max_bytes:
            raise LimitReached(
                f"Your images take {_size(stored)} of your {_size(limits.max_bytes)} of storage "
                "(images in the trash count until it is emptied). Delete some to make room.",
                limit="max_bytes",
            )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def generation_create(
    *,
    owner,
    prompt: str,
    model: str,
    n: int,
    size: str,
    response_format: str,
    tags: list[str],
    options: dict | None = None,
    kind: str = Generation.Kind.GENERATE,
    parent_image: Image | None = None,
) -> Generation:
    """Save what was asked for and queue it in the same transaction: nothing typed is lost, and
    no committed row is ever left without a wake-up (the sweeper covers other task backends)."""
    limits_check(owner=owner, n=n)
    with transaction.atomic():
        generation = Generation.objects.create(
            owner=owner,
            prompt=prompt,
            model=model,
            n=n,
            size=size,
            response_format=response_format,
            tag_names=tags,
            options=options or {},
            kind=kind,
            parent_image=parent_image,
        )
        _emit(generation)
        queue_wake()
    return generation


def generation_retry(*, generation: Generation) -> Generation:
    """Run a failed (or stuck) generation again, with everything that was typed."""
    if not generation.can_retry:
        return generation
    with transaction.atomic():
        Generation.objects.filter(pk=generation.pk, status=generation.status).update(
            status=Generation.Status.QUEUED,
            error="",
            item_errors=[],
            started_at=None,
            finished_at=None,
            worker_id="",
            lease_expires_at=None,
            not_before=None,
            waiting_since=None,
            wait_reason="",
        )
        generation.refresh_from_db()
        _emit(generation)
        queue_wake()
    return generation


def generation_cancel(*, generation: Generation) -> Generation:
    """Stop a queued or running generation: it stores nothing more, and says "Cancelled".

    Only the row changes here; a worker running it sees the status between two steps (a retry,
    a download, a streamed event, an image to store), closes the stream or stops asking, and
    leaves the row as it is. Images already stored stay. A finished generation is left alone.
    """
    with transaction.atomic():
        changed = Generation.objects.filter(
            pk=generation.pk, status__in=(Generation.Status.QUEUED, Generation.Status.RUNNING)
        ).update(
            status=Generation.Status.CANCELLED,
            finished_at=timezone.now(),
            lease_expires_at=None,
            not_before=None,
            wait_reason="",
        )
        generation.refresh_from_db()
        if changed:
            _emit(generation)
    return generation


def _is_cancelled(generation_id) -> bool:
    return Generation.objects.filter(pk=generation_id, status=Generation.Status.CANCELLED).exists()


def queue_wake(*, run_after: datetime | None = None) -> None:
    """Enqueue a wake-up. On the database backend it joins the current transaction, so that the
    row and its wake-up commit together; on another backend it is sent after the commit."""
    from django_tasks_db import DatabaseBackend

    from ..tasks import generation_work

    task = generation_work.using(run_after=run_after) if run_after else generation_work
    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue()
    else:
        transaction.on_commit(task.enqueue)


def _runnable(now: datetime) -> Q:
    return Q(status=Generation.Status.QUEUED) & (
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )


def generation_pick(*, now: datetime | None = None) -> Generation | None:
    """The fairest runnable generation: per-owner round robin, under each owner's running cap.

    Four small queries over the owners with work, not over every queued row.
    """
    now = now or timezone.now()
    waiting = dict(
        Generation.objects.filter(_runnable(now))
        .values("owner")
        .annotate(oldest=Min("created_at"))
        .values_list("owner", "oldest")
    )
    if not waiting:
        return None
    running = dict(
        Generation.objects.filter(status=Generation.Status.RUNNING, owner__in=waiting)
        .values("owner")
        .annotate(count=Count("pk"))
        .values_list("owner", "count")
    )
    last_start = dict(
        Generation.objects.filter(owner__in=waiting, started_at__isnull=False)
        .values("owner")
        .annotate(last=Max("started_at"))
        .values_list("owner", "last")
    )
    caps = {
        user_id: cap
        for user_id, cap in UserLimits.objects.filter(
            user__in=waiting, max_running__isnull=False
        ).values_list("user", "max_running")
    }
    default_cap = settings.NOVISURF_USER_MAX_RUNNING
    never = datetime.min.replace(tzinfo=now.tzinfo)
    owners = [
        owner
        for owner in waiting
        if not caps.get(owner, default_cap) or running.get(owner, 0) < caps.get(owner, default_cap)
    ]
    if not owners:
        return None
    owner = min(
        owners,
        key=lambda o: (running.get(o, 0), last_start.get(o) or never, waiting[o], o),
    )
    return (
        Generation.objects.filter(_runnable(now), owner=owner).order_by("created_at", "id").first()
    )


def _claim(generation_id, *, worker_id: str, now: datetime) -> Generation | None:
    """Take a queued generation for ``worker_id`` with a fresh lease; None if another did."""
    claimed = Generation.objects.filter(pk=generation_id, status=Generation.Status.QUEUED).update(
        status=Generation.Status.RUNNING,
        worker_id=worker_id[:64],
        lease_expires_at=now + timedelta(seconds=settings.NOVISURF_LEASE_SECONDS),
        started_at=now,
        attempts=F("attempts") + 1,
        not_before=None,
        wait_reason="",
    )
    if not claimed:
        return None
    generation = Generation.objects.select_related("owner").get(pk=generation_id)
    _emit(generation)
    return generation


def generation_claim_next(*, worker_id: str, now: datetime | None = None) -> Generation | None:
    """Claim the fairest runnable generation for ``worker_id``, with a fresh lease."""
    for _ in range(5):  # another worker may claim our pick first: pick again
        moment = now or timezone.now()
        candidate = generation_pick(now=moment)
        if candidate is None:
            return None
        generation = _claim(candidate.pk, worker_id=worker_id, now=moment)
        if generation is not None:
            return generation
    return None


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{threading.get_native_id()}"[:64]


def generation_work(*, worker_id: str | None = None) -> Generation | None:
    """What a wake-up does: claim the fairest generation, run it under a renewed lease."""
    worker_id = worker_id or default_worker_id()
    generation = generation_claim_next(worker_id=worker_id)
    if generation is None:
        return None
    _run_leased(generation, worker_id=worker_id)
    # An owner held back by their running cap has runnable work that no wake-up may be left
    # for: leave one, now that a slot is free.
    if Generation.objects.filter(_runnable(timezone.now())).exists():
        queue_wake()
    return generation


def generation_run(*, generation_id: str) -> Generation | None:
    """Run this generation now if it is queued, whatever the queue's order (tests and scripts
    that name one); None if it is not queued."""
    worker_id = default_worker_id()
    generation = _claim(generation_id, worker_id=worker_id, now=timezone.now())
    if generation is not None:
        _run_leased(generation, worker_id=worker_id)
    return generation


def _run_leased(generation: Generation, *, worker_id: str) -> None:
    with _LeaseKeeper(generation.pk, worker_id):
        try:
            _generate(generation)
        except Exception:
            logger.exception("Generation %s stopped by an unexpected error", generation.pk)
            _finish(
                generation,
                item_errors=generation.item_errors,
                error="An unexpected error stopped this generation; the server log has details.",
            )


class _LeaseKeeper:
    """Renews a running generation's lease from a thread while the worker waits on the endpoint."""

    def __init__(self, generation_id, worker_id: str) -> None:
        self.generation_id = generation_id
        self.worker_id = worker_id[:64]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="lease-keeper")

    def __enter__(self) -> _LeaseKeeper:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        lease = settings.NOVISURF_LEASE_SECONDS
        try:
            while not self.stopped.wait(max(0.5, lease / 3)):
                try:
                    Generation.objects.filter(
                        pk=self.generation_id,
                        status=Generation.Status.RUNNING,
                        worker_id=self.worker_id,
                    ).update(lease_expires_at=timezone.now() + timedelta(seconds=lease))
                except Exception:
                    logger.warning("Could not renew the lease of %s", self.generation_id)
        finally:
            connection.close()


def _generate(generation: Generation) -> None:
    stop = _stopper(generation)
    wanted = _indexes_to_ask(generation)
    request = {
        "prompt": generation.prompt,
        "model": generation.model,
        "n": len(wanted),
        "size": generation.size,
        # The client takes either answer; models that refuse the field are sent none.
        "response_format": (
            generation.response_format if accepts_response_format(generation.model) else None
        ),
        **_request_options(generation),
    }
    try:
        if generation.kind == Generation.Kind.EDIT:
            items, usage = _edit(generation, request, wanted, stop)
        elif _streams(generation):
            items, usage = _generate_streaming(generation, request, wanted, stop)
        else:
            result = endpoint_client(stop=stop).generate(**request)
            items, usage = result.items, result.fields.get("usage")
    except Cancelled:
        return  # the row already says so; nothing more is stored
    except EditSourceMissing as exc:
        _finish(generation, item_errors=[], error=str(exc))
        return
    except ClientError as exc:
        if _should_wait(exc):
            _defer(generation, exc)
            return
        _finish(generation, item_errors=[], error=_error_text(exc))
        return
    _record_usage(generation, usage)
    item_errors = []
    # Each answer is stored at its own index; one already stored (by a worker that died after
    # storing it) is kept as it is: an image is never stored twice, whoever ran it before.
    for item, index in zip(items, wanted, strict=False):
        if stop():
            return
        reason = item.error
        if item.data is not None and reason is None:
            try:
                image_store(
                    generation=generation,
                    index=index,
                    data=item.data,
                    revised_prompt=item.revised_prompt or "",
                )
                continue
            except imaging.ImageRejected as exc:
                reason = str(exc)
        item_errors.append({"index": index, "reason": reason})
    _finish(generation, item_errors=item_errors, error="")


# Partial images the page shows while a streaming model works: how many, and how big.
PARTIAL_IMAGES = 2
PARTIAL_PREVIEW_SIDE = 256


def _streams(generation: Generation) -> bool:
    """Stream when the table says the model streams and the format can be streamed."""
    spec = MODELS.get(generation.model)
    options = generation.options or {}
    return (
        spec is not None
        and spec.streams
        and options.get("partial_images", PARTIAL_IMAGES) != 0
        and options.get("output_format") not in ("gif", "svg")
    )


def _stopper(generation: Generation):
    """``stop()`` for one run: True once the generation was cancelled (one small query)."""
    return lambda: _is_cancelled(generation.pk)


def _generate_streaming(
    generation: Generation, request: dict, indexes, stop
) -> tuple[list, dict | None]:
    """The images of a streamed generation; each partial image on the way becomes a
    ``partial`` event carrying a small WebP preview, for the generation page."""
    request = {k: v for k, v in request.items() if k not in ("stream", "response_format")}
    request.setdefault("partial_images", PARTIAL_IMAGES)
    events = endpoint_client(stop=stop).generate_stream(**request)
    return _read_stream(generation, events, indexes, stop)


def _edit(generation: Generation, request: dict, indexes, stop) -> tuple[list, dict | None]:
    """An edit: ``/v1/images/edits`` with the parent's original and the mask, streamed where
    the model streams (its partial images shown as a generation's are)."""
    from .edits import edit_files  # edits builds on generation_create: imported when used

    files = edit_files(generation=generation)
    fields = {k: v for k, v in request.items() if v is not None and k != "stream"}
    if _streams(generation):
        fields.pop("response_format", None)
        fields.setdefault("partial_images", PARTIAL_IMAGES)
        events = endpoint_client(stop=stop).edit_stream(fields=fields, files=files)
        return _read_stream(generation, events, indexes, stop)
    result = endpoint_client(stop=stop).edit(fields=fields, files=files)
    return result.items, result.fields.get("usage")


def _read_stream(generation: Generation, events, indexes, stop) -> tuple[list, dict | None]:
    indexes = list(indexes)
    cap = settings.NOVISURF_MAX_IMAGE_BYTES
    items: list[ResultItem] = []
    usages: list[dict] = []
    for event in events:
        if stop():
            # Closing the stream closes the connection: the provider sees the client leave.
            close = getattr(events, "close", None)
            if close is not None:
                close()
            raise Cancelled("Cancelled while the image stream was open.")
        payload = event.json()
        kind = (payload.get("type") if isinstance(payload, dict) else None) or event.event or ""
        if kind == "error" or (isinstance(payload, dict) and payload.get("error")):
            error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
            raise EndpointUnavailable(error.get("message") or "The image stream failed.")
        if not isinstance(payload, dict) or len(items) >= len(indexes):
            continue
        if kind.endswith(".partial_image"):
            _emit_partial(generation, payload, index=indexes[len(items)])
        elif kind.endswith(".completed"):
            item = ResultItem(index=len(items), source="b64_json")
            try:
                item.data = decode_b64_strict(str(payload.get("b64_json", "")), cap)
            except ValueError as exc:
                item.error = str(exc)
            items.append(item)
            if isinstance(payload.get("usage"), dict):
                usages.append(payload["usage"])
    if not items:
        raise EndpointUnavailable("The image stream ended before any image was complete.")
    return items, _summed_usage(usages)


def _emit_partial(generation: Generation, payload: dict, *, index: int) -> None:
    try:
        data = decode_b64_strict(
            str(payload.get("b64_json", "")), settings.NOVISURF_MAX_IMAGE_BYTES
        )
        verified = imaging.verify(data, max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS)
        preview, width, height = imaging.thumbnail(verified.image, max_side=PARTIAL_PREVIEW_SIDE)
    except (ValueError, imaging.ImageRejected) as exc:
        logger.info("A partial image of %s was not shown: %s", generation.pk, exc)
        return
    event_emit(
        owner_id=generation.owner_id,
        kind=GalleryEvent.Kind.PARTIAL,
        generation_id=generation.pk,
        payload={
            "index": index,
            "partial_image_index": payload.get("partial_image_index"),
            "width": width,
            "height": height,
            "data_url": "data:image/webp;base64," + base64.b64encode(preview).decode("ascii"),
        },
    )


def _summed_usage(usages: list[dict]) -> dict | None:
    """One image's usage as sent; several images' token counts added up, each kept."""
    if not usages:
        return None
    if len(usages) == 1:
        return usages[0]
    total = {
        name: sum(u.get(name) or 0 for u in usages if isinstance(u.get(name), int))
        for name in ("input_tokens", "output_tokens", "total_tokens")
    }
    return {**total, "per_image": usages}


def _record_usage(generation: Generation, usage) -> None:
    """Keep the ``usage`` the answer carried, and its token counts as columns to sum."""
    if not isinstance(usage, dict):
        return
    generation.usage = usage
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        value = usage.get(name)
        setattr(generation, name, value if isinstance(value, int) and value >= 0 else None)
    generation.save(update_fields=["usage", "input_tokens", "output_tokens", "total_tokens"])


def _request_options(generation: Generation) -> dict:
    return {k: v for k, v in (generation.options or {}).items() if v not in (None, "")}


def _indexes_to_ask(generation: Generation) -> list[int]:
    """The indexes to ask the endpoint for: only the missing ones from a provider, whose images
    cost money and differ on every call; all of them again from a deterministic built-in
    renderer, which is free and draws (prompt, position in the request): asked for one image,
    it would repeat the first picture where the second is missing."""
    missing = _missing_indexes(generation)
    spec = MODELS.get(generation.model)
    if missing and len(missing) < generation.n and spec is not None and spec.procedural:
        return list(range(generation.n))
    return missing or list(range(generation.n))


def _missing_indexes(generation: Generation) -> list[int]:
    stored = set(generation.images.values_list("index", flat=True))
    return [index for index in range(generation.n) if index not in stored]


def _error_text(exc: ClientError) -> str:
    if isinstance(exc, EndpointError) and exc.status in (401, 403):
        return (
            f"{exc.message} — the gallery's API key (NOVISURF_API_KEY) was refused. With the "
            "built-in endpoint, run `make run` again: it makes a new key. With a provider, put "
            "a valid key in NOVISURF_API_KEY and restart."
        )
    return exc.message


def _should_wait(exc: ClientError) -> bool:
    """429 or 503 with a Retry-After longer than the client waits in line."""
    return (
        isinstance(exc, RateLimited | EndpointUnavailable)
        and exc.status in (429, 503)
        and exc.retry_after is not None
    )


def _defer(generation: Generation, exc: ClientError) -> None:
    now = timezone.now()
    since = generation.waiting_since or now
    until = now + timedelta(seconds=max(1.0, float(exc.retry_after or 0)))
    if until - since > timedelta(seconds=settings.NOVISURF_PROVIDER_MAX_WAIT):
        waited = int((now - since).total_seconds() // 60)
        _finish(
            generation,
            item_errors=[],
            error=f"{exc.message} (gave up after waiting {waited} min for the provider).",
        )
        return
    shown = date_format(timezone.localtime(until), "H:i")
    with transaction.atomic():
        deferred = (
            Generation.objects.filter(pk=generation.pk)
            .exclude(status=Generation.Status.CANCELLED)
            .update(
                status=Generation.Status.QUEUED,
                worker_id="",
                lease_expires_at=None,
                not_before=until,
                waiting_since=since,
                wait_reason=f"Waiting for the provider until {shown}: {exc.message}",
            )
        )
        generation.refresh_from_db()
        if deferred:
            _emit(generation)
            queue_wake(run_after=until)


def _finish(generation: Generation, *, item_errors: list, error: str) -> None:
    stored = generation.images.count()
    if not stored and not error:
        reasons = "; ".join(dict.fromkeys(e["reason"] for e in item_errors))
        error = f"No image could be kept: {reasons}"
    generation.status = Generation.Status.DONE if stored else Generation.Status.FAILED
    generation.error = error if not stored else ""
    generation.item_errors = item_errors
    generation.finished_at = timezone.now()
    generation.lease_expires_at = None
    generation.not_before = None
    generation.wait_reason = ""
    with transaction.atomic():
        # Only a running generation finishes: one cancelled meanwhile keeps saying so.
        finished = (
            Generation.objects.filter(pk=generation.pk)
            .exclude(status=Generation.Status.CANCELLED)
            .update(
                status=generation.status,
                error=generation.error,
                item_errors=generation.item_errors,
                finished_at=generation.finished_at,
                lease_expires_at=None,
                not_before=None,
                wait_reason="",
            )
        )
        if finished:
            _emit(generation)
        else:
            generation.refresh_from_db()


def _emit(generation: Generation) -> None:
    event_emit(
        owner_id=generation.owner_id,
        kind=GalleryEvent.Kind.GENERATION,
        generation_id=generation.pk,
        payload={"status": generation.status},
    )


# -- healing ---------------------------------------------------------------------------------


def queue_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Take up generations whose worker died, and leave a wake-up for every runnable one.

    Safe to run from every worker at once: each step is a conditional update.
    """
    now = now or timezone.now()
    taken_up = failed = 0
    lapsed = Generation.objects.filter(status=Generation.Status.RUNNING).filter(
        Q(lease_expires_at__lt=now)
        | Q(lease_expires_at__isnull=True, started_at__lt=now - timedelta(minutes=30))
    )
    for generation in lapsed.select_related("owner"):
        with transaction.atomic():
            if generation.attempts >= MAX_ATTEMPTS:
                done = Generation.objects.filter(
                    pk=generation.pk, status=Generation.Status.RUNNING
                ).update(
                    status=Generation.Status.FAILED,
                    error=(
                        f"The worker running this generation stopped {generation.attempts} times; "
                        "it was not tried again. Retry runs it once more."
                    ),
                    finished_at=now,
                    lease_expires_at=None,
                )
                failed += done
            else:
                done = Generation.objects.filter(
                    pk=generation.pk,
                    status=Generation.Status.RUNNING,
                    lease_expires_at=generation.lease_expires_at,
                ).update(status=Generation.Status.QUEUED, worker_id="", lease_expires_at=None)
                taken_up += done
            if done:
                generation.refresh_from_db()
                _emit(generation)
    woken = _wake_runnable(now)
    return {"taken_up": taken_up, "failed": failed, "woken": woken}


def _wake_runnable(now: datetime) -> int:
    """Enqueue wake-ups so that runnable generations are at least matched by ready ones."""
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    from ..tasks import generation_work

    backend = generation_work.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return 0
    runnable = Generation.objects.filter(_runnable(now)).count()
    if not runnable:
        return 0
    ready = (
        DBTaskResult.objects.ready()
        .filter(backend_name=backend.alias, task_path=generation_work.module_path)
        .count()
    )
    missing = min(runnable - ready, 50)
    for _ in range(max(0, missing)):
        queue_wake()
    return max(0, missing)


def worker_heartbeat(*, worker_id: str, pid: int) -> None:
    from ..models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id[:64],
        defaults={"hostname": socket.gethostname()[:200], "pid": pid, "last_seen": timezone.now()},
    )


def workers_alive(*, within: timedelta = timedelta(seconds=60)) -> int:
    from ..models import WorkerHeartbeat

    return WorkerHeartbeat.objects.filter(last_seen__gte=timezone.now() - within).count()
