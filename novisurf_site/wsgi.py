"""WSGI entry point: `gunicorn novisurf_site.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novisurf_site.settings")
# Settings choose connection reuse by server: persistent connections under WSGI.
os.environ.setdefault("NOVISURF_SERVER", "wsgi")

application = get_wsgi_application()
