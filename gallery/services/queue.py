"""The queue: save what was asked, pick the fairest runnable generation, claim it under a lease,
and heal the queue.

The Generation table is the queue. A task is only a wake-up: whichever worker runs it claims
the *fairest* runnable generation (the owner with the fewest running, then the one who started
least recently, then the oldest), so one person's backlog never starves another's. A running
generation holds a lease its worker renews; the sweeper takes up one whose lease lapsed (its
worker died) and makes sure every runnable generation has a wake-up waiting.
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from .. import tasks
from ..models import GalleryEvent, Generation, Image, UserLimits, WorkerHeartbeat
from .events import event_emit
from .limits import limits_check
from .spending import budget_check

# After this many lapsed leases (workers that died running it) a generation fails for good.
MAX_ATTEMPTS = 5


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
    budget_check(owner=owner, model=model, size=size, options=options, n=n)
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
        generation_emit(generation)
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
        generation_emit(generation)
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
            generation_emit(generation)
    return generation


def generation_cancelled(generation_id) -> bool:
    return Generation.objects.filter(pk=generation_id, status=Generation.Status.CANCELLED).exists()


def queue_wake(*, run_after: datetime | None = None) -> None:
    """Enqueue a wake-up. On the database backend it joins the current transaction, so that the
    row and its wake-up commit together; on another backend it is sent after the commit."""
    from django_tasks_db import DatabaseBackend

    work = tasks.generation_work
    task = work.using(run_after=run_after) if run_after else work
    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue()
    else:
        transaction.on_commit(task.enqueue)


def runnable(now: datetime) -> Q:
    return Q(status=Generation.Status.QUEUED) & (
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )


def generation_pick(*, now: datetime | None = None) -> Generation | None:
    """The fairest runnable generation: per-owner round robin, under each owner's running cap.

    Four small queries over the owners with work, not over every queued row.
    """
    now = now or timezone.now()
    waiting = dict(
        Generation.objects.filter(runnable(now))
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
        Generation.objects.filter(runnable(now), owner=owner).order_by("created_at", "id").first()
    )


def generation_claim(generation_id, *, worker_id: str, now: datetime) -> Generation | None:
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
    generation_emit(generation)
    return generation


def generation_claim_next(*, worker_id: str, now: datetime | None = None) -> Generation | None:
    """Claim the fairest runnable generation for ``worker_id``, with a fresh lease."""
    for _ in range(5):  # another worker may claim our pick first: pick again
        moment = now or timezone.now()
        candidate = generation_pick(now=moment)
        if candidate is None:
            return None
        generation = generation_claim(candidate.pk, worker_id=worker_id, now=moment)
        if generation is not None:
            return generation
    return None


def generation_emit(generation: Generation) -> None:
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
                generation_emit(generation)
    woken = _wake_runnable(now)
    return {"taken_up": taken_up, "failed": failed, "woken": woken}


def _wake_runnable(now: datetime) -> int:
    """Enqueue wake-ups so that runnable generations are at least matched by ready ones."""
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    backend = tasks.generation_work.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return 0
    waiting = Generation.objects.filter(runnable(now)).count()
    if not waiting:
        return 0
    ready = (
        DBTaskResult.objects.ready()
        .filter(backend_name=backend.alias, task_path=tasks.generation_work.module_path)
        .count()
    )
    missing = min(waiting - ready, 50)
    for _ in range(max(0, missing)):
        queue_wake()
    return max(0, missing)


def worker_heartbeat(*, worker_id: str, pid: int) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id[:64],
        defaults={"hostname": socket.gethostname()[:200], "pid": pid, "last_seen": timezone.now()},
    )


def workers_alive(*, within: timedelta = timedelta(seconds=60)) -> int:
    return WorkerHeartbeat.objects.filter(last_seen__gte=timezone.now() - within).count()
