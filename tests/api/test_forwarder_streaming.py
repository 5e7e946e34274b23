"""The forwarder with a provider that streams, edits and reports usage, on loopback.

The provider is a small threaded HTTP server that writes each event when the test lets it, so
that "relayed as it arrives" is checked by order of events, not by timing: the provider sends
its partial image and then waits until the caller has received it before it sends the rest.
Our endpoint runs under WSGI (Django's live server) and under ASGI (uvicorn), as `make run`.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
import requests
import uvicorn

from tests.utils import b64, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

UPSTREAM_KEY = "sk-upstream-secret-123"
MODEL = "gpt-image-2"
USAGE = {
    "input_tokens": 17,
    "input_tokens_details": {"text_tokens": 9, "image_tokens": 8},
    "output_tokens": 4160,
    "output_tokens_details": {"text_tokens": 0, "image_tokens": 4160},
    "total_tokens": 4177,
}
PARTIAL = png_bytes((32, 32), colour=(90, 90, 90))
FINAL = png_bytes((32, 32), colour=(200, 40, 90))


class Provider:
    """A streaming OpenAI-style provider. ``gate`` holds the stream after its first event."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.gate = threading.Event()
        self.gate_opened_in_time: bool | None = None
        self.fail_after_first = False
        self.refuse: tuple[int, dict] | None = None
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                provider.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if provider.refuse:
                    status, payload = provider.refuse
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                prefix = "image_edit" if self.path.endswith("/edits") else "image_generation"
                streaming = b'"stream": true' in body or b'name="stream"\r\n\r\ntrue' in body
                if not streaming:
                    payload = {
                        "created": 1700000000,
                        "data": [{"b64_json": b64(FINAL)}],
                        "usage": USAGE,
                        "background": "opaque",
                        "output_format": "png",
                        "quality": "medium",
                        "size": "1024x1024",
                    }
                    data = json.dumps(payload).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                # A stream delimited by closing the connection: no length, no chunks.
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                shared = {
                    "background": "opaque",
                    "created_at": 1700000000,
                    "output_format": "png",
                    "quality": "medium",
                    "size": "1024x1024",
                }
                self.send_event(
                    {
                        "type": f"{prefix}.partial_image",
                        "b64_json": b64(PARTIAL),
                        "partial_image_index": 0,
                        **shared,
                    }
                )
                provider.gate_opened_in_time = provider.gate.wait(10)
                if provider.fail_after_first:
                    self.wfile.write(b'data: {"type": "image_gen')  # and hang up mid-event
                    self.wfile.flush()
                    return
                self.send_event(
                    {
                        "type": f"{prefix}.completed",
                        "b64_json": b64(FINAL),
                        "usage": USAGE,
                        **shared,
                    }
                )

            def send_event(self, payload: dict) -> None:
                self.wfile.write(
                    f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()
                )
                self.wfile.flush()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(settings):
    provider = Provider()
    settings.NOVISURF_UPSTREAM_BASE = provider.base
    settings.NOVISURF_UPSTREAM_KEY = UPSTREAM_KEY
    settings.NOVISURF_UPSTREAM_AUTH_HEADER = "bearer"
    settings.NOVISURF_UPSTREAM_TIMEOUT = 20.0
    yield provider
    provider.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def asgi_url(live_server):
    """This site under uvicorn (ASGI), as `make run` serves it, on a free loopback port."""
    from novisurf_site.asgi import application

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(params=["wsgi", "asgi"])
def base_url(request, endpoint_url):
    return endpoint_url if request.param == "wsgi" else request.getfixturevalue("asgi_url")


def sdk_for(base_url: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)


# -- streams ---------------------------------------------------------------------------------


def test_a_stream_is_relayed_event_by_event_as_it_arrives(provider, base_url, api_key):
    stream = sdk_for(base_url, api_key).images.generate(
        prompt="a red fox", model=MODEL, stream=True, partial_images=1, size="1536x864"
    )
    first = next(stream)
    # The provider has not sent the rest yet: it waits for us to have this one.
    assert first.type == "image_generation.partial_image"
    assert first.partial_image_index == 0
    assert base64.b64decode(first.b64_json) == PARTIAL
    provider.gate.set()
    rest = list(stream)
    assert provider.gate_opened_in_time is True
    assert [event.type for event in rest] == ["image_generation.completed"]
    assert base64.b64decode(rest[0].b64_json) == FINAL
    assert rest[0].usage.model_dump() == USAGE

    (sent,) = provider.requests
    body = json.loads(sent["body"])
    assert body == {
        "prompt": "a red fox",
        "model": MODEL,
        "n": 1,
        "size": "1536x864",
        "stream": True,
        "partial_images": 1,
    }
    assert sent["headers"]["Authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_the_provider_breaking_off_is_an_error_event(provider, base_url, api_key):
    provider.fail_after_first = True
    provider.gate.set()
    stream = sdk_for(base_url, api_key).images.generate(
        prompt="a red fox", model=MODEL, stream=True, partial_images=1
    )
    assert next(stream).type == "image_generation.partial_image"
    with pytest.raises(openai.APIError) as info:
        list(stream)
    assert "Upstream" in info.value.message


def test_a_provider_refusing_a_stream_is_our_status(provider, endpoint_url, api_key):
    provider.refuse = (
        400,
        {
            "error": {
                "message": "Your prompt was refused.",
                "type": "invalid_request_error",
                "param": "prompt",
                "code": "content_policy_violation",
            }
        },
    )
    response = requests.post(
        f"{endpoint_url}/images/generations",
        json={"prompt": "something", "model": MODEL, "stream": True},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("prompt", "content_policy_violation")
    assert "refused" in error["message"]


def test_the_built_in_renderer_streams_under_asgi(asgi_url, api_key):
    events = list(
        sdk_for(asgi_url, api_key).images.generate(
            prompt="waves", size="256x256", stream=True, partial_images=2
        )
    )
    assert [event.type for event in events][-1] == "image_generation.completed"
    assert [event.partial_image_index for event in events[:-1]] == [0, 1]


# -- the whole answer --------------------------------------------------------------------------


def test_usage_and_the_answers_fields_are_passed_through(provider, endpoint_url, api_key):
    response = sdk_for(endpoint_url, api_key).images.generate(prompt="a red fox", model=MODEL)
    assert base64.b64decode(response.data[0].b64_json) == FINAL
    assert response.usage.model_dump() == USAGE
    assert (response.background, response.output_format, response.quality, response.size) == (
        "opaque",
        "png",
        "medium",
        "1024x1024",
    )


# -- edits -----------------------------------------------------------------------------------


def _parts(body: bytes, content_type: str) -> dict:
    """The multipart body a provider received, as {name: [values]} (files as bytes)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    parts: dict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts.setdefault(name, []).append(part.get_payload(decode=True))
    return parts


def test_an_edit_is_forwarded_as_multipart(provider, endpoint_url, api_key):
    image = png_bytes((64, 64))
    second = png_bytes((64, 64), colour=(1, 2, 3))
    mask = png_bytes((64, 64))  # the provider judges masks; we check only what we must
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(buffer, "PNG")
    mask = buffer.getvalue()
    response = sdk_for(endpoint_url, api_key).images.edit(
        image=[("a.png", image, "image/png"), ("b.png", second, "image/png")],
        mask=("mask.png", mask, "image/png"),
        prompt="add a hat",
        model="gpt-image-1.5",
        input_fidelity="high",
        quality="low",
    )
    assert base64.b64decode(response.data[0].b64_json) == FINAL
    assert response.usage.model_dump() == USAGE

    (sent,) = provider.requests
    assert sent["path"] == "/v1/images/edits"
    parts = _parts(sent["body"], sent["headers"]["Content-Type"])
    assert parts["image[]"] == [image, second]
    assert parts["mask"] == [mask]
    assert parts["prompt"] == [b"add a hat"]
    assert parts["model"] == [b"gpt-image-1.5"]
    assert parts["input_fidelity"] == [b"high"]
    assert parts["quality"] == [b"low"]
    assert "stream" not in parts


def test_an_edit_stream_is_relayed(provider, base_url, api_key):
    provider.gate.set()
    events = list(
        sdk_for(base_url, api_key).images.edit(
            image=("a.png", png_bytes((64, 64)), "image/png"),
            prompt="add a hat",
            model=MODEL,
            stream=True,
            partial_images=1,
        )
    )
    assert [event.type for event in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert events[-1].usage.model_dump() == USAGE
    parts = _parts(provider.requests[0]["body"], provider.requests[0]["headers"]["Content-Type"])
    assert (parts["stream"], parts["partial_images"]) == ([b"true"], [b"1"])
