"""novisurf.client against hostile or broken providers: every answer and download has a
wall-clock deadline and a size cap, and only what was asked for is read.

The providers are raw sockets on loopback, so that they can do what no well-behaved server
does (trickle a byte at a time, lie about lengths, unpack to a gigabyte). Each test checks
that the client gave up while the provider was still going: it did not wait it out.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable

import pytest

from novisurf.client import (
    ClientConfig,
    EndpointTimeout,
    EndpointUnavailable,
    ImageClient,
)
from tests.utils import b64, png_bytes


class HostileServer:
    """A loopback server that runs ``handler(sock, request_head)`` for each connection."""

    def __init__(self, handler: Callable[[socket.socket, bytes], None]) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.busy = 0  # connections whose handler is still running
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.busy += 1
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                part = conn.recv(65536)
                if not part:
                    return
                head += part
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = head.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += conn.recv(65536)
            with self.lock:
                self.requests.append(head.split(b"\r\n", 1)[0])
            self.handler(conn, head)
        except OSError:
            pass  # the client hung up: what these tests want
        finally:
            conn.close()
            with self.lock:
                self.busy -= 1

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(timeout=2)


@pytest.fixture
def serve():
    servers: list[HostileServer] = []

    def start(handler) -> HostileServer:
        server = HostileServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def client_for(server: HostileServer, **config) -> ImageClient:
    defaults = {"max_retries": 0, "read_timeout": 5.0, "download_timeout": 5.0}
    return ImageClient(
        ClientConfig(base_url=f"{server.url}/v1", **{**defaults, **config}),
        sleep=lambda s: None,
    )


def trickle(conn: socket.socket, head: bytes, body: bytes, *, every: float = 0.3) -> None:
    conn.sendall(head)
    for byte in body[:200]:  # 200 bytes at 0.3 s: a minute, were it waited for
        conn.sendall(bytes([byte]))
        time.sleep(every)


JSON_OK = json.dumps({"created": 1, "data": [{"b64_json": b64(png_bytes())}]}).encode()


def headers(length: int | None, *, extra: str = "", kind: str = "application/json") -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    # Connection: close, as the server closes after each answer (a kept-alive connection that
    # the server has closed would fail the client's next request).
    close = "" if "Connection:" in extra else "Connection: close\r\n"
    return f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\n{size}{close}{extra}\r\n".encode()


def test_an_answer_trickling_a_byte_at_a_time_fails_at_its_deadline(serve):
    server = serve(lambda conn, _: trickle(conn, headers(len(JSON_OK)), JSON_OK))
    client = client_for(server, read_timeout=1.0, answer_timeout=2.0)
    with pytest.raises(EndpointTimeout, match="did not answer within 2 s"):
        client.generate(prompt="x", n=1)
    assert server.busy == 1  # the provider was still trickling when the client gave up


def test_a_download_trickling_a_byte_at_a_time_fails_at_its_deadline(serve):
    image = png_bytes()

    def handler(conn, head):
        if b"GET /slow.png" in head:
            trickle(conn, headers(len(image), kind="image/png"), image)
        else:
            answer = json.dumps({"data": [{"url": f"{server.url}/slow.png"}]}).encode()
            conn.sendall(headers(len(answer)) + answer)

    server = serve(handler)
    [item] = client_for(server, download_timeout=1.5).generate(prompt="x", n=1).items
    assert item.data is None
    assert "took longer than 1.5 s" in item.error
    assert server.busy == 1


def test_keep_alive_comments_do_not_keep_a_stream_open(serve):
    def handler(conn, head):
        conn.sendall(headers(None, kind="text/event-stream", extra="Connection: close\r\n"))
        for _ in range(200):  # a comment every 0.2 s, and never an event
            conn.sendall(b": keep-alive\n\n")
            time.sleep(0.2)

    server = serve(handler)
    events = client_for(server, read_timeout=1.0).generate_stream(prompt="x", n=1)
    with pytest.raises(EndpointTimeout, match="no image event"):
        list(events)
    assert server.busy == 1


def test_a_gzip_bomb_is_refused_when_it_unpacks_past_the_cap(serve):
    bomb = gzip.compress(b'{"data": [{"b64_json": "' + b"A" * (128 * 1024 * 1024), 1)
    assert len(bomb) < 1024 * 1024

    def handler(conn, head):
        conn.sendall(headers(len(bomb), extra="Content-Encoding: gzip\r\n") + bomb)

    server = serve(handler)
    with pytest.raises(EndpointUnavailable, match="larger than") as caught:
        client_for(server, read_timeout=5.0).generate(prompt="x", n=1)
    assert caught.value.code == "too_large"


def test_an_answer_claiming_300_mb_is_refused_before_it_is_read(serve):
    def handler(conn, head):
        conn.sendall(headers(300 * 1024 * 1024) + b'{"data": [')
        time.sleep(3)

    server = serve(handler)
    with pytest.raises(EndpointUnavailable, match="larger than"):
        client_for(server).generate(prompt="x", n=1)
    assert server.busy == 1


def test_items_beyond_n_are_not_read_or_downloaded(serve):
    image = png_bytes()

    def handler(conn, head):
        if b"GET /image/" in head:
            conn.sendall(headers(len(image), kind="image/png") + image)
        else:
            items = [{"url": f"{server.url}/image/{i}.png"} for i in range(10_000)]
            answer = json.dumps({"data": items}).encode()
            conn.sendall(headers(len(answer)) + answer)

    server = serve(handler)
    result = client_for(server).generate(prompt="x", n=1)
    assert [item.data for item in result.items] == [image]
    deadline = time.monotonic() + 2
    while server.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(1 for line in server.requests if line.startswith(b"GET")) == 1


def test_what_all_items_hold_together_is_capped(serve):
    image = png_bytes(noise=True)

    def handler(conn, head):
        if b"GET /image/" in head:
            conn.sendall(headers(len(image), kind="image/png") + image)
        else:
            items = [{"url": f"{server.url}/image/{i}.png"} for i in range(3)]
            answer = json.dumps({"data": items}).encode()
            conn.sendall(headers(len(answer)) + answer)

    server = serve(handler)
    # Each image is under the download cap; all three together pass the answer's cap.
    client = client_for(server, max_answer_bytes=len(image) * 2 + 100)
    items = client.generate(prompt="x", n=3).items
    assert [item.data is not None for item in items] == [True, True, False]
    assert "size limit" in items[2].error


def test_a_huge_error_answer_is_read_only_in_part(serve):
    body = json.dumps({"error": {"message": "x" * 2_000_000}}).encode()

    def handler(conn, head):
        conn.sendall(
            f"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    server = serve(handler)
    with pytest.raises(Exception) as caught:
        client_for(server).generate(prompt="x", n=1)
    assert len(str(caught.value)) < 70_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("nan", 0.0), ("-5", 0.0), ("1e400", 86400.0), ("soon", None)],
)
def test_retry_after_is_clamped(value, expected):
    from novisurf.client import _retry_after_seconds

    assert _retry_after_seconds({"Retry-After": value}) == expected


def test_a_retry_after_of_1e400_is_a_rate_limit_not_a_crash(serve):
    def handler(conn, head):
        body = b'{"error": {"message": "slow down"}}'
        conn.sendall(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1e400\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    server = serve(handler)
    from novisurf.client import RateLimited

    with pytest.raises(RateLimited) as caught:
        client_for(server, max_retries=3).generate(prompt="x", n=1)
    assert caught.value.retry_after == 86400.0
