"""Request bodies refused before they are read: the ASGI layer around Django.

Django's ASGI handler reads a whole body (spooling it to a temporary file past 2.5 MB) before
any middleware or view runs, so a cap or a login check in Django comes after the disk has
taken the body. Here, from the headers alone: a ``Content-Length`` over the route's cap is a
413; a body to the API without a valid key is a 401, to an upload page without a login a 403;
a body without a length (chunked) is passed on only up to the cap and cut there with a 413.
"""

from __future__ import annotations

import json
import re
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings

from novisurf.protocol import MAX_BODY_BYTES, body_too_large, error_envelope

SMALL_BODY = 64 * 1024  # a login form, a health probe
DEFAULT_BODY = 10 * 1024 * 1024  # any other form of the site

_EDIT_PAGE = re.compile(r"^/images/[0-9a-f-]{36}/edit$")


def body_cap(path: str) -> int:
    """The largest body ``path`` takes."""
    if path == "/v1/images/edits":
        return settings.NOVISURF_MAX_EDIT_BODY_BYTES
    if path.startswith("/v1/"):
        return MAX_BODY_BYTES
    if path == "/import":
        return settings.NOVISURF_MAX_IMPORT_BODY_BYTES
    if _EDIT_PAGE.match(path):
        return settings.NOVISURF_MAX_EDIT_BODY_BYTES
    if path in ("/healthz", "/readyz") or path.startswith(("/accounts/", "/admin/login")):
        return SMALL_BODY
    return DEFAULT_BODY


def _needs_login(path: str) -> bool:
    """Pages that take large uploads: only a person who is logged in may send one."""
    return path == "/import" or bool(_EDIT_PAGE.match(path))


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class BodyLimitMiddleware:
    """ASGI middleware: see the module's docstring."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        try:
            cap = body_cap(path)
            length = _declared_length(headers, cap)
            chunked = length is None and "chunked" in headers.get("transfer-encoding", "").lower()
            if length or chunked:
                await _check_sender(path, headers)
        except _Refused as refusal:
            return await _answer(send, path, refusal)
        if not chunked:
            return await self.app(scope, receive, send)
        await self._cut_at_cap(scope, receive, send, path=path, cap=cap)

    async def _cut_at_cap(self, scope, receive, send, *, path: str, cap: int) -> None:
        received = 0
        over = False
        started = False

        async def capped_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Django stops reading at a disconnect and answers nothing; we answer.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, capped_receive, watched_send)
        if over and not started:
            await _answer(send, path, _too_large(cap))


def _too_large(cap: int) -> _Refused:
    error = body_too_large(cap)
    return _Refused(error.status, error.message, error.code)


def _declared_length(headers: dict[str, str], cap: int) -> int | None:
    declared = headers.get("content-length")
    if declared is None:
        return None
    if not declared.strip().isdigit():
        raise _Refused(400, "The Content-Length header is not a number.", "bad_request")
    length = int(declared)
    if length > cap:
        raise _too_large(cap)
    return length


async def _check_sender(path: str, headers: dict[str, str]) -> None:
    if path.startswith("/v1/"):
        raw_key = _api_key(headers)
        if not raw_key:
            raise _Refused(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or "
                "'X-API-Key: KEY'.",
                "invalid_api_key",
            )
        if not await sync_to_async(_key_is_active)(raw_key):
            shown = raw_key[:8] + "…" if len(raw_key) > 8 else "…"
            raise _Refused(401, f"Incorrect API key provided: {shown}", "invalid_api_key")
    elif _needs_login(path) and not await sync_to_async(_logged_in)(headers.get("cookie", "")):
        raise _Refused(403, "Log in to upload.", "forbidden")


def _api_key(headers: dict[str, str]) -> str:
    raw = headers.get("x-api-key", "").strip()
    if raw:
        return raw
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _key_is_active(raw_key: str) -> bool:
    from api.services import apikey_is_active

    return apikey_is_active(raw_key=raw_key)


def _logged_in(cookie_header: str) -> bool:
    from http.cookies import CookieError, SimpleCookie
    from importlib import import_module

    try:
        cookies = SimpleCookie(cookie_header)
    except CookieError:
        return False
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    if morsel is None or not morsel.value:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    return bool(store.get("_auth_user_id"))


async def _answer(send, path: str, refusal: _Refused) -> None:
    if path.startswith("/v1/"):
        kind = "invalid_request_error"
        body = json.dumps(error_envelope(refusal.message, type=kind, code=refusal.code)).encode()
        content_type = b"application/json"
    else:
        body = refusal.message.encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", uuid.uuid4().hex.encode()),
        # The rest of the body is not read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    if refusal.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="novisurf"'))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
