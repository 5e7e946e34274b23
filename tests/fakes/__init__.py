"""Fakes of image engines: real HTTP servers on loopback that follow each engine's public API.

Each engine's fake is one module (``tests/fakes/<kind>.py``) built on :class:`FakeServer`: a
threaded ``http.server`` on 127.0.0.1 and a free port, a log of what it was sent, and the
engine's faults switched on by attributes (refusals with the engine's own error body, 429 with
Retry-After, 5xx, a job that never finishes, an image that is not one).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import socket
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

# Bounds every wait of a fake, so that no test can hang on one.
MAX_WAIT = 30.0


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)


class Reply:
    """An answer: status, body bytes, headers."""

    def __init__(self, status: int = 200, body: Any = b"", headers: dict | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, (bytes, bytearray)):
            self.body = bytes(body)
        else:
            self.body = json.dumps(body).encode()
            self.headers.setdefault("Content-Type", "application/json")


class FakeServer:
    """Subclasses define ``route(request) -> Reply`` (and may take over the socket with
    ``upgrade``). ``with Fake() as fake:`` starts it; ``fake.url`` is its base URL."""

    def __init__(self) -> None:
        self.log: list[Recorded] = []
        self.lock = threading.RLock()
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes: without this, Nagle's algorithm holds
                # the body until the client's delayed ACK (40 ms) and every answer seems slow.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                request = fake._record(self)
                if fake.upgrade(self, request):
                    self.close_connection = True
                    return
                try:
                    reply = fake.route(request)
                except Exception as exc:  # a bug in a fake must show, not hang the client
                    reply = Reply(500, {"error": f"fake crashed: {exc!r}"})
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def route(self, request: Recorded) -> Reply:
        return Reply(404, {"detail": "Not Found"})

    def upgrade(self, handler: BaseHTTPRequestHandler, request: Recorded) -> bool:
        return False

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        with self.lock:
            return [
                r for r in self.log if r.path == path and (method is None or r.method == method)
            ]

    def _record(self, handler: BaseHTTPRequestHandler) -> Recorded:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Recorded(
            method=handler.command,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json") and body:
            try:
                request.json = json.loads(body)
            except ValueError:
                request.json = None
        elif content_type.startswith("multipart/form-data"):
            request.form, request.files = parse_multipart(content_type, body)
        with self.lock:
            self.log.append(request)
        return request


class FakeCDN(FakeServer):
    """A provider's media host: result images by URL, with no key (another origin than the
    API, as fal.media or replicate.delivery are)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}

    def route(self, request: Recorded) -> Reply:
        data = self.files.get(request.path)
        if data is None:
            return Reply(404, b"Not Found", {})
        return Reply(200, data, {"Content-Type": "image/png"})


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    form: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = (filename, data, part.get_content_type())
        else:
            form[name] = data.decode()
    return form, files


def picture(width: int, height: int, seed: int = 0, *, format: str = "PNG") -> bytes:
    """An image made in memory: one colour from ``seed``."""
    colour = ((seed * 67) % 256, (seed * 131 + 40) % 256, (seed * 29 + 90) % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- a websocket, by RFC 6455, for fakes whose engine has one ---------------------------------

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ServerSocket:
    """The server side of one websocket, over the handler's connection: send text or binary
    frames (unmasked, as a server sends), and ``drop()`` the connection without a close frame."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        key = handler.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        handler.end_headers()
        handler.wfile.flush()
        self._handler = handler
        self._lock = threading.Lock()
        self.closed = False

    def send_text(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def send_json(self, payload: Any) -> None:
        self.send_text(json.dumps(payload))

    def send_binary(self, data: bytes) -> None:
        self._frame(0x2, data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                self._frame(0x8, b"\x03\xe8")
        self.closed = True

    def drop(self) -> None:
        """Cut the connection, as a crashing server or a proxy's idle timeout does."""
        self.closed = True
        with contextlib.suppress(OSError):
            self._handler.connection.shutdown(socket.SHUT_RDWR)

    def _frame(self, opcode: int, data: bytes) -> None:
        if self.closed:
            raise OSError("closed")
        size = len(data)
        if size < 126:
            header = bytes([0x80 | opcode, size])
        elif size < 65536:
            header = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
        with self._lock:
            self._handler.wfile.write(header + data)
            self._handler.wfile.flush()
