"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novisurf_site.settings")
# Settings choose connection reuse by server: a pool on PostgreSQL under ASGI.
os.environ.setdefault("NOVISURF_SERVER", "asgi")

application = get_asgi_application()
