"""Background work: the task takes an id, loads nothing itself, and calls the service."""

from __future__ import annotations

from django_tasks import task

from . import services


@task()
def run_generation(generation_id: str) -> None:
    services.generation_run(generation_id=generation_id)
