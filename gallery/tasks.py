"""Background work: tasks take ids (or nothing), load nothing themselves, and call a service."""

from __future__ import annotations

from django_tasks import TaskContext, task

from . import services


def _worker_id(context: TaskContext) -> str | None:
    worker_ids = getattr(context.task_result, "worker_ids", None) or []
    return worker_ids[-1] if worker_ids else None


@task(takes_context=True)
def generation_work(context: TaskContext) -> None:
    """A wake-up: run the fairest queued generation, if any (see services.generations)."""
    services.generation_work(worker_id=_worker_id(context))


@task()
def run_generation(generation_id: str) -> None:
    """Wake-ups queued before the fair queue named their generation; they now just wake."""
    services.generation_work()


@task()
def bulk_action_work(bulk_id: str) -> None:
    """Run one big bulk action (tag, trash, ... thousands of images) off the request."""
    services.bulk_action_run(bulk_id=bulk_id)
