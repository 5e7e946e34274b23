"""Background work: tasks take ids (or nothing), load nothing themselves, and call a service.

Services enqueue these tasks, so each task imports the services inside its body: no module-level
circle between the two.
"""

from __future__ import annotations

from django_tasks import TaskContext, task


def _worker_id(context: TaskContext) -> str | None:
    worker_ids = getattr(context.task_result, "worker_ids", None) or []
    return worker_ids[-1] if worker_ids else None


@task(takes_context=True)
def generation_work(context: TaskContext) -> None:
    """A wake-up: run the fairest queued generation, if any (see services.queue)."""
    from .services import generation_work

    generation_work(worker_id=_worker_id(context))


@task()
def run_generation(generation_id: str) -> None:
    """Wake-ups queued before the fair queue named their generation; they now just wake."""
    from .services import generation_work

    generation_work()


@task()
def models_refresh() -> list[dict]:
    """Fill the cache of the endpoint's models, which the generation form offers. The list is
    also the task's result, which the web process reads when its own cache is another's."""
    from .provider_client import models_refresh

    return models_refresh()


@task()
def bulk_action_work(bulk_id: str) -> None:
    """Run one big bulk action (tag, trash, ... thousands of images) off the request."""
    from .services import bulk_action_run

    bulk_action_run(bulk_id=bulk_id)


@task()
def answer_keep(answered: dict, attempt: int = 0) -> None:
    """Keep an answer of the endpoint (an API call's images) in its key owner's gallery."""
    from .services import answer_keep_or_retry

    answer_keep_or_retry(answered=answered, attempt=attempt)
