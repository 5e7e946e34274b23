"""WSGI entry point: `gunicorn novisurf_site.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novisurf_site.settings")

application = get_wsgi_application()
