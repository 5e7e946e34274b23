from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers

        # A wrong providers file stops every command (runserver, the worker, check) here, with
        # the file and the line, rather than failing one request at a time later.
        if settings.NOVISURF_PROVIDERS_FILE:
            from .renderers.base import ProviderConfigError
            from .renderers.registry import router

            try:
                router()
            except ProviderConfigError as exc:
                raise ImproperlyConfigured(str(exc)) from None
