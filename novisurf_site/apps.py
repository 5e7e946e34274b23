"""The site itself as an app: operations (request ids, health, log context for tasks)."""

from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "novisurf_site"
    verbose_name = "Novisurf site"

    def ready(self) -> None:
        from django.conf import settings
        from django_tasks.signals import task_finished, task_started

        from novisurf import client, logcontext

        # Result URLs of other origins may come from these hosts' private addresses.
        client.PRIVATE_DOWNLOAD_HOSTS = tuple(
            host.lower() for host in settings.NOVISURF_PRIVATE_DOWNLOAD_HOSTS
        )

        # A worker's log lines carry the id of the task they belong to.
        def started(sender, task_result, **kwargs) -> None:
            logcontext.task_id.set(str(task_result.id))

        def finished(sender, task_result, **kwargs) -> None:
            logcontext.task_id.set(None)

        task_started.connect(started, dispatch_uid="novisurf_task_id_started", weak=False)
        task_finished.connect(finished, dispatch_uid="novisurf_task_id_finished", weak=False)
