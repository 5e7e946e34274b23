"""Site-wide middleware for operations: request ids, health answers, and request bodies sent
without a length.

Each works under WSGI (gunicorn) and ASGI (uvicorn) alike.
"""

from __future__ import annotations

import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware

from novisurf import logcontext

# An incoming id is kept when it is short and plain (what proxies and tracing tools send);
# anything else (too long, spaces, control characters, header injection) is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")


def request_id_for(request: HttpRequest) -> str:
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    if _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class _Middleware:
    """Sync and async capable: Django calls it the way the server calls Django."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)


class RequestIdMiddleware(_Middleware):
    """Every response carries ``x-request-id``; log lines made meanwhile carry the same id.

    First in MIDDLEWARE, so that whatever the layers below answer (a 400 for a bad Host, a 404,
    a 500 page), the answer passes through here.
    """

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._acall(request)
        self._begin(request)
        return self._end(request, self.get_response(request))

    async def _acall(self, request: HttpRequest):
        self._begin(request)
        return self._end(request, await self.get_response(request))

    @staticmethod
    def _begin(request: HttpRequest) -> None:
        request.request_id = request_id_for(request)
        # Not reset on the way out: Django logs "Not Found" and the like after the middleware
        # has returned, and those lines should carry the id too. Each request sets its own (an
        # ASGI request runs in a context of its own; a WSGI thread overwrites it on the next).
        logcontext.request_id.set(request.request_id)

    @staticmethod
    def _end(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response["X-Request-ID"] = request.request_id
        return response


class HealthMiddleware(_Middleware):
    """``/healthz`` and ``/readyz`` answered before host checks, sessions or anything else:
    load balancers probe by the internal address, which is not in ALLOWED_HOSTS."""

    def __call__(self, request: HttpRequest):
        from . import health

        answer = health.VIEWS.get(request.path_info)
        if answer is not None:
            if iscoroutinefunction(self):
                return _as_coroutine(answer, request)
            return answer(request)
        return self.get_response(request)


async def _as_coroutine(view, request):
    from asgiref.sync import sync_to_async

    return await sync_to_async(view, thread_sensitive=True)(request)


# Larger than any request this site takes (an edit's image with its mask); a length-less body
# past it is refused rather than read into memory.
CHUNKED_BODY_LIMIT = 64 * 1024 * 1024


class ChunkedBodyMiddleware(_Middleware):
    """A body sent with ``Transfer-Encoding: chunked`` (no Content-Length) is read like any other.

    Django takes the length of a body from Content-Length alone: without one, a JSON body reads
    as empty and a multipart form as no fields. Servers that de-chunk the body and mark the
    input as ending at its end (gunicorn's ``wsgi.input_terminated``; every ASGI server) let us
    read it to its end here and give Django its length. Where the input is not so marked, reading
    to the end could wait forever, so the request is refused with 411 (Length Required).
    """

    def __call__(self, request: HttpRequest):
        refusal = self._prepare(request)
        if refusal is not None:
            if iscoroutinefunction(self):
                return _ready(refusal)
            return refusal
        return self.get_response(request)

    def _prepare(self, request: HttpRequest) -> HttpResponse | None:
        from . import errors
        from .body_limits import body_cap

        meta = request.META
        cap = min(body_cap(request.path_info), CHUNKED_BODY_LIMIT)
        declared = meta.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > body_cap(request.path_info):
            # Under WSGI nothing is read yet (under ASGI body_limits refused it earlier).
            return errors.too_large(request, limit=body_cap(request.path_info))
        if declared or "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
            return None

        if "wsgi.input" in meta:
            if not meta.get("wsgi.input_terminated"):
                return errors.length_required(request)
            source = meta["wsgi.input"]
        else:  # ASGI: the whole body is already spooled.
            source = request._stream
        data = source.read(cap + 1)
        if len(data) > cap:
            return errors.too_large(request, limit=cap)
        from io import BytesIO

        from django.core.handlers.wsgi import LimitedStream

        request._stream = LimitedStream(BytesIO(data), len(data))
        meta["CONTENT_LENGTH"] = str(len(data))
        return None


async def _ready(response):
    return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise's static files, served the same way under ASGI without leaving the event loop.

    WhiteNoise's middleware is sync-only: under ASGI it made every request, static or not, hop
    from the event loop to a thread and back again before the layers below it. Finding a file
    is a lookup in a table built at start-up (or a stat in DEBUG), so here it runs in place.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=django_settings) -> None:
        super().__init__(get_response, settings)
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest):
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
