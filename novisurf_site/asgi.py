"""ASGI entry point: Django's ASGI handler, running the middleware and the view in one thread hop.

Django's own middleware (sessions, CSRF, auth, messages...) is ``MiddlewareMixin``: under
Django's ASGI handler each of its ``process_request`` and ``process_response`` hops from the
event loop to a thread and back, a dozen hops for every request before a sync view runs in a
thread of its own anyway. Here the whole chain runs as under WSGI, in the request's thread,
entered once: the same layers in the same order, at a fraction of the CPU (see bench/hotpaths.py).
The event loop keeps what it is for: reading bodies, and sending streamed answers (the live
channel's events, ZIPs) without holding a thread. An async view still works: Django runs it
on the loop from the sync chain.
"""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novisurf_site.settings")
# Settings choose connection reuse by server: a pool on PostgreSQL under ASGI.
os.environ.setdefault("NOVISURF_SERVER", "asgi")


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


django.setup(set_prefix=False)
django_application = OneHopASGIHandler()

from novisurf_site.body_limits import BodyLimitMiddleware  # noqa: E402 - needs settings

# Bodies are refused from their headers before Django reads (and spools) them.
application = BodyLimitMiddleware(django_application)
