"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novisurf_site.settings")
# Settings choose connection reuse by server: a pool on PostgreSQL under ASGI.
os.environ.setdefault("NOVISURF_SERVER", "asgi")

django_application = get_asgi_application()

from novisurf_site.body_limits import BodyLimitMiddleware  # noqa: E402 - needs settings

# Bodies are refused from their headers before Django reads (and spools) them.
application = BodyLimitMiddleware(django_application)
