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
        self._wire_keeping()

    def _wire_keeping(self) -> None:
        """The endpoint and the gallery never import each other; the site joins them here:
        the gallery keeps what the endpoint answers and says what each person may spend; the
        endpoint says what is left of it. Either app alone still works (nobody listens)."""
        from django.apps import apps

        from . import keeping

        if apps.is_installed("gallery"):
            from gallery import services as gallery_services

            def keep(sender, answered, **kwargs) -> None:
                gallery_services.answer_enqueue(answered=answered)

            keeping.images_answered.connect(keep, dispatch_uid="gallery_keeps_answers", weak=False)
            keeping.person_budget_provider(gallery_services.monthly_budget_of)
        if apps.is_installed("api"):
            from api import budgets

            keeping.budget_provider(budgets.budget_status)
            keeping.pricer(budgets.answer_price)
