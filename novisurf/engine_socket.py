"""A websocket to an image engine (ComfyUI's ``/ws``): the only code that opens one.

Like :mod:`novisurf.client` for HTTP: timeouts always, and every failure one of the client's
exceptions with a message a person can read. The connection is synchronous (websocket-client):
one request's worker reads its own engine's messages, nothing else shares it.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit, urlunsplit

import websocket

from novisurf.client import EndpointTimeout, EndpointUnavailable

# A preview frame is one small JPEG or PNG; anything much larger is not what we asked for.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


def websocket_url(base_url: str, path: str) -> str:
    """``http://host:8188`` + ``/ws?clientId=x`` -> ``ws://host:8188/ws?clientId=x``."""
    parts = urlsplit(base_url.rstrip("/") + path)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"not an http or https URL: {base_url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


class EngineSocket:
    """``EngineSocket(url, headers=..., timeout=10).recv()`` -> text or bytes, until ``close()``.

    ``recv`` waits at most ``timeout`` seconds (the caller passes what is left of its deadline);
    a socket that stays silent longer is :class:`EndpointTimeout`, one that drops is
    :class:`EndpointUnavailable`.
    """

    def __init__(
        self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        self.url = url
        header = [f"{name}: {value}" for name, value in (headers or {}).items()]
        try:
            self._socket = websocket.create_connection(
                url, header=header, timeout=timeout, enable_multithread=True
            )
        except (websocket.WebSocketTimeoutException, TimeoutError):
            raise EndpointTimeout(
                f"Could not open the engine's websocket within {timeout:g} s.", code="timeout"
            ) from None
        except (websocket.WebSocketException, OSError) as exc:
            raise EndpointUnavailable(
                f"Could not open the engine's websocket at {_without_query(url)}: {exc}",
                code="connection_error",
            ) from None

    def recv(self, timeout: float) -> str | bytes:
        self._socket.settimeout(max(0.01, timeout))
        try:
            opcode, data = self._socket.recv_data()
        except (websocket.WebSocketTimeoutException, TimeoutError):
            raise EndpointTimeout(
                f"The engine's websocket stayed silent for {timeout:g} s.", code="timeout"
            ) from None
        except (websocket.WebSocketException, OSError) as exc:
            raise EndpointUnavailable(
                f"The engine's websocket broke off: {exc or type(exc).__name__}",
                code="stream_broken",
            ) from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise EndpointUnavailable("The engine closed its websocket.", code="stream_broken")
        if len(data) > MAX_MESSAGE_BYTES:
            raise EndpointUnavailable(
                "The engine sent a websocket message larger than "
                f"{MAX_MESSAGE_BYTES // (1024 * 1024)} MB.",
                code="too_large",
            )
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return data.decode("utf-8", "replace")
        return data

    def close(self) -> None:
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self._socket.close(timeout=1)

    def __enter__(self) -> EngineSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
