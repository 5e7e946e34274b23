"""Running a claimed generation: ask the endpoint, store what came back, record what failed,
wait for a provider that asked us to, and finish."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.formats import date_format

from novisurf.client import Cancelled, ClientError, EndpointError, EndpointUnavailable, RateLimited
from novisurf.protocol import MODELS, accepts_response_format

from .. import imaging
from ..models import Generation
from ..provider_client import answered_provider, endpoint_client, forget_answers
from .edits import EditSourceMissing, edit_files
from .images import image_store
from .queue import (
    generation_cancelled,
    generation_claim,
    generation_claim_next,
    generation_emit,
    queue_wake,
    runnable,
)
from .spending import generation_cost_record
from .streaming import PARTIAL_IMAGES, generate_streaming, read_stream, record_usage, streams

logger = logging.getLogger(__name__)


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
    if Generation.objects.filter(runnable(timezone.now())).exists():
        queue_wake()
    return generation


def generation_run(*, generation_id: str) -> Generation | None:
    """Run this generation now if it is queued, whatever the queue's order (tests and scripts
    that name one); None if it is not queued."""
    worker_id = default_worker_id()
    generation = generation_claim(generation_id, worker_id=worker_id, now=timezone.now())
    if generation is not None:
        _run_leased(generation, worker_id=worker_id)
    return generation


# Time to verify and store what came back, on top of the provider call's own worst case.
STORE_SECONDS = 120


def _run_leased(generation: Generation, *, worker_id: str) -> None:
    try:
        _run_leased_once(generation, worker_id=worker_id)
    except OperationalError as exc:
        # A locked or restarting database: what is stored stays stored; the rest is asked for
        # again after a backoff, within the provider wait budget, like a provider outage.
        logger.warning("Generation %s deferred: the database failed (%s)", generation.pk, exc)
        # Still failing: the lease lapses and housekeeping takes it up again.
        with contextlib.suppress(DatabaseError):
            _defer(
                generation,
                EndpointUnavailable("The database was busy; trying again.", code="database"),
            )


def _run_leased_once(generation: Generation, *, worker_id: str) -> None:
    # Past the provider call's worst case the lease is no longer renewed: a worker stuck
    # beyond every deadline lets its lease lapse, and the sweeper takes the generation up.
    budget = endpoint_client().call_budget_seconds(downloads=generation.n) + STORE_SECONDS
    with _LeaseKeeper(generation.pk, worker_id, renew_for=budget):
        try:
            _generate(generation)
        except OperationalError:
            raise
        except Exception:
            logger.exception("Generation %s stopped by an unexpected error", generation.pk)
            _finish(
                generation,
                item_errors=generation.item_errors,
                error="An unexpected error stopped this generation; the server log has details.",
            )


class _LeaseKeeper:
    """Renews a running generation's lease from a thread while the worker waits on the endpoint."""

    def __init__(self, generation_id, worker_id: str, *, renew_for: float | None = None) -> None:
        self.generation_id = generation_id
        self.worker_id = worker_id[:64]
        self.renew_until = None if renew_for is None else time.monotonic() + renew_for
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
                if self.renew_until is not None and time.monotonic() > self.renew_until:
                    logger.warning(
                        "Generation %s ran past its deadline; its lease is left to lapse",
                        self.generation_id,
                    )
                    return
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
    # Asked between steps (a retry, a download, a streamed event, an image to store).
    def stop() -> bool:
        return generation_cancelled(generation.pk)

    wanted = _indexes_to_ask(generation)
    forget_answers()
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
        # OpenAI's end-user id: this site's own endpoint spends this person's budget for it.
        "user": f"novisurf:{generation.owner_id}",
    }
    answered_by = answered_cost = ""
    try:
        if generation.kind == Generation.Kind.EDIT:
            items, usage = _edit(generation, request, wanted, stop)
        elif streams(generation):
            items, usage = generate_streaming(generation, request, wanted, stop)
        else:
            result = endpoint_client(stop=stop).generate(**request)
            items, usage = result.items, result.fields.get("usage")
            answered_by, answered_cost = result.provider, result.cost
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
    record_usage(generation, usage)
    generation_cost_record(
        generation,
        usage=usage,
        # A streamed or edited answer's provider: from the headers its client last read.
        provider=answered_by or answered_provider(),
        cost=answered_cost,
        images=sum(1 for item in items if item.data is not None and item.error is None),
    )
    item_errors = []
    # Each answer is stored at its own index; one already stored (by a worker that died after
    # storing it) is kept as it is: an image is never stored twice, whoever ran it before.
    for index in wanted[len(items) :]:
        item_errors.append(
            {
                "index": index,
                "reason": f"The provider sent {len(items)} of the {len(wanted)} images asked for.",
            }
        )
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
            except OSError as exc:
                logger.warning("Could not store image %s of %s: %s", index, generation.pk, exc)
                reason = f"The image could not be stored (storage failed: {exc.strerror or exc})."
        item_errors.append({"index": index, "reason": reason})
    _finish(generation, item_errors=item_errors, error="")


def _edit(generation: Generation, request: dict, indexes, stop) -> tuple[list, dict | None]:
    """An edit: ``/v1/images/edits`` with the parent's original and the mask, streamed where
    the model streams (its partial images shown as a generation's are)."""
    files = edit_files(generation=generation)
    fields = {k: v for k, v in request.items() if v is not None and k != "stream"}
    if streams(generation):
        fields.pop("response_format", None)
        fields.setdefault("partial_images", PARTIAL_IMAGES)
        events = endpoint_client(stop=stop).edit_stream(fields=fields, files=files)
        return read_stream(generation, events, indexes, stop)
    result = endpoint_client(stop=stop).edit(fields=fields, files=files)
    return result.items, result.fields.get("usage")


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


# Faults that pass: the provider restarting (connection refused, a stream broken off), a
# database busy for a while.
TRANSIENT_CODES = frozenset({"connection_error", "stream_broken", "database"})
# Waits between tries of a deferred generation: at least this, growing with the time waited.
MIN_DEFER_SECONDS = 5.0
MAX_DEFER_SECONDS = 300.0


def _should_wait(exc: ClientError) -> bool:
    """A 429 or 503 with a Retry-After longer than the client waits in line, or a fault that
    passes (see :data:`TRANSIENT_CODES`): the generation waits and is tried again."""
    if isinstance(exc, RateLimited | EndpointUnavailable) and exc.status in (429, 503):
        return exc.retry_after is not None
    return isinstance(exc, EndpointUnavailable) and exc.code in TRANSIENT_CODES


def _defer_seconds(exc: ClientError, waited: float) -> float:
    """The provider's Retry-After, clamped (0, nan, negative or 1e400 must not make a storm or
    a crash), and never less than a backoff that grows with the time already waited."""
    asked = exc.retry_after
    if not isinstance(asked, int | float) or asked != asked:  # None or nan
        asked = 0.0
    backoff = min(MAX_DEFER_SECONDS, max(MIN_DEFER_SECONDS, waited / 2))
    # Past the wait budget is as good as for ever: the caller gives up then.
    ceiling = float(settings.NOVISURF_PROVIDER_MAX_WAIT) + 1.0
    return min(max(float(asked), backoff), ceiling)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _defer(generation: Generation, exc: ClientError) -> None:
    now = timezone.now()
    since = generation.waiting_since or now
    until = now + timedelta(seconds=_defer_seconds(exc, (now - since).total_seconds()))
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
                wait_reason=_clip(f"Waiting for the provider until {shown}: {exc.message}", 199),
            )
        )
        generation.refresh_from_db()
        if deferred:
            generation_emit(generation)
            queue_wake(run_after=until)


def _finish(generation: Generation, *, item_errors: list, error: str) -> None:
    stored = generation.images.count()
    if not stored and not error:
        reasons = "; ".join(dict.fromkeys(e["reason"] for e in item_errors))
        error = f"No image could be kept: {reasons}"
    generation.status = Generation.Status.DONE if stored else Generation.Status.FAILED
    # Provider text is capped where it is stored: a reason is a sentence, not megabytes.
    generation.error = _clip(error, 2000) if not stored else ""
    generation.item_errors = [
        {**entry, "reason": _clip(str(entry.get("reason") or ""), 1000)} for entry in item_errors
    ]
    generation.finished_at = timezone.now()
    generation.lease_expires_at = None
    generation.not_before = None
    generation.wait_reason = ""
    with transaction.atomic():
        # A generation cancelled meanwhile keeps saying so.
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
            generation_emit(generation)
        else:
            generation.refresh_from_db()
