"""Error answers that fit the caller: the OpenAI error envelope (JSON) on ``/v1/``, Django's
pages elsewhere. Used as the URLconf's handler400/403/404/500, so that a fault found before any
view runs (a Host not allowed, a body Django refuses, a crash in a middleware) is still JSON for
a program talking to the endpoint.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from novisurf.protocol import body_too_large, error_envelope


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/v1/") or request.path_info == "/v1"


def _json(message: str, *, status: int, code: str, type: str = "invalid_request_error"):
    return JsonResponse(error_envelope(message, type=type, code=code), status=status)


def bad_request(request: HttpRequest, exception=None, template_name: str = "400.html"):
    if is_api(request):
        return _json(
            "The request could not be understood: a header, the Host or the body is malformed.",
            status=400,
            code="bad_request",
        )
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request: HttpRequest, exception=None, template_name: str = "403.html"):
    if is_api(request):
        return _json("This request is not allowed.", status=403, code="forbidden")
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request: HttpRequest, exception=None, template_name: str = "404.html"):
    if is_api(request):
        return _json(
            f"Unknown endpoint: {request.method} {request.path}", status=404, code="unknown_url"
        )
    return defaults.page_not_found(request, exception, template_name)


def server_error(request: HttpRequest, template_name: str = "500.html"):
    if is_api(request):
        return _json(
            "The server had an error while processing your request.",
            status=500,
            code="internal_error",
            type="server_error",
        )
    return defaults.server_error(request, template_name)


def length_required(request: HttpRequest) -> HttpResponse:
    message = "This server cannot read a body without Content-Length here; send Content-Length."
    if is_api(request):
        return _json(message, status=411, code="length_required")
    return HttpResponse(message, status=411, content_type="text/plain; charset=utf-8")


def too_large(request: HttpRequest, *, limit: int | None = None) -> HttpResponse:
    error = body_too_large(limit)
    if is_api(request):
        return _json(error.message, status=error.status, code=error.code)
    return HttpResponse(
        error.message, status=error.status, content_type="text/plain; charset=utf-8"
    )
