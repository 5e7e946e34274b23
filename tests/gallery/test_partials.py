"""Partial images and usage in the gallery: the worker streams from a model that streams, each
partial becomes a ``partial`` event with a small WebP preview the generation page shows, and
each generation records the ``usage`` its answer carried."""

from __future__ import annotations

import base64
import http.server
import io
import json
import threading
import time

import pytest
from PIL import Image as PILImage

from gallery import services
from gallery.models import GalleryEvent, Generation
from novisurf.protocol import PROCEDURAL_MODEL
from tests.utils import b64, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def run(generation: Generation) -> Generation:
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    return generation


class SlowStreamingProvider:
    """A provider that streams as OpenAI documents it (``image_generation.partial_image`` events,
    then ``image_generation.completed``), slowly: each event is written in small pieces with a
    pause between them, so that events and even CRLFs are split across reads."""

    def __init__(self, *, pause: float = 0.01, piece: int = 997) -> None:
        self.requests: list[dict] = []
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.requests.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                stream = b"".join(provider.events(body))
                for start in range(0, len(stream), piece):
                    self.wfile.write(stream[start : start + piece])
                    self.wfile.flush()
                    time.sleep(pause)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @staticmethod
    def events(body: dict):
        usage = {"input_tokens": 5, "output_tokens": 256, "total_tokens": 261}
        for index in range(body["n"]):
            for partial in range(body.get("partial_images", 0)):
                payload = {
                    "type": "image_generation.partial_image",
                    "b64_json": b64(png_bytes((512, 512), colour=(10, 20 * partial, 30))),
                    "partial_image_index": partial,
                }
                yield f"event: {payload['type']}\r\ndata: {json.dumps(payload)}\r\n\r\n".encode()
            payload = {
                "type": "image_generation.completed",
                "b64_json": b64(png_bytes((512, 512), colour=(index, 90, 90), noise=True)),
                "usage": usage,
            }
            yield f"event: {payload['type']}\r\ndata: {json.dumps(payload)}\r\n\r\n".encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_provider(settings):
    provider = SlowStreamingProvider()
    settings.NOVISURF_API_BASE = provider.url
    settings.NOVISURF_API_KEY = "sk-test"
    yield provider
    provider.stop()


def test_a_slow_streaming_provider_sends_partials_and_usage(slow_provider, no_tasks, user):
    generation = Generation.objects.create(
        owner=user,
        prompt="a neon city skyline at night",
        model="gpt-image-1",
        n=2,
        size="1024x1024",
        response_format="b64_json",
    )
    generation = run(generation)
    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.images.count() == 2
    ((sent),) = slow_provider.requests
    assert sent["stream"] is True and sent["partial_images"] == 2

    partials = list(
        GalleryEvent.objects.filter(generation_id=generation.pk, kind="partial").order_by("id")
    )
    assert [(e.payload["index"], e.payload["partial_image_index"]) for e in partials] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    for event in partials:
        assert event.owner_id == user.pk
        header, _, data = event.payload["data_url"].partition(",")
        assert header == "data:image/webp;base64"
        preview = PILImage.open(io.BytesIO(base64.b64decode(data)))
        assert preview.format == "WEBP"
        assert preview.size == (256, 256) == (event.payload["width"], event.payload["height"])

    assert generation.output_tokens == 2 * 256
    assert generation.input_tokens == 2 * 5
    assert generation.total_tokens == generation.input_tokens + generation.output_tokens
    assert len(generation.usage["per_image"]) == 2


def test_the_built_in_renderer_is_asked_without_partials(gallery_endpoint, no_tasks, user):
    # It answers in milliseconds: partial images would cost more than the image itself.
    generation = Generation.objects.create(
        owner=user,
        prompt="a neon city skyline at night",
        model=PROCEDURAL_MODEL,
        n=2,
        size="512x512",
        response_format="b64_json",
    )
    generation = run(generation)
    assert generation.status == Generation.Status.DONE
    assert generation.images.count() == 2
    assert not GalleryEvent.objects.filter(generation_id=generation.pk, kind="partial").exists()
    words = len(generation.prompt.split())
    assert generation.output_tokens == 2 * 16 * 16
    assert generation.input_tokens == words  # one request: its prompt counted once


def test_a_model_that_does_not_stream_records_its_usage(settings, httpserver, no_tasks, user):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    usage = {
        "input_tokens": 12,
        "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
        "output_tokens": 1056,
        "total_tokens": 1068,
    }
    httpserver.expect_request("/v1/images/generations").respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes())}], "usage": usage}
    )
    generation = Generation.objects.create(
        owner=user,
        prompt="a fox",
        model="dall-e-2",
        n=1,
        size="256x256",
        response_format="b64_json",
    )
    generation = run(generation)
    assert generation.status == Generation.Status.DONE
    assert generation.usage == usage
    assert (generation.input_tokens, generation.output_tokens, generation.total_tokens) == (
        12,
        1056,
        1068,
    )
    assert not GalleryEvent.objects.filter(kind="partial").exists()
    ((sent, _),) = httpserver.log
    assert "stream" not in sent.get_json()


def test_the_status_shows_the_latest_partial_until_the_end(client, user):
    generation = Generation.objects.create(
        owner=user,
        prompt="a fox",
        model=PROCEDURAL_MODEL,
        n=1,
        size="256x256",
        status=Generation.Status.RUNNING,
    )
    for index in (0, 1):
        services.event_emit(
            owner_id=user.pk,
            kind="partial",
            generation_id=generation.pk,
            payload={"index": 0, "partial_image_index": index, "data_url": f"data:,{index}"},
        )
    client.force_login(user)
    url = f"/generations/{generation.pk}/status"
    assert client.get(url).json()["partial"]["data_url"] == "data:,1"
    Generation.objects.filter(pk=generation.pk).update(status=Generation.Status.DONE)
    assert client.get(url).json()["partial"] is None


def test_a_person_sees_their_usage_per_day_and_per_model(client, user, other_user):
    for owner, model, tokens in (
        (user, PROCEDURAL_MODEL, 100),
        (user, PROCEDURAL_MODEL, 50),
        (user, "dall-e-2", 7),
        (other_user, "dall-e-2", 999_999),
    ):
        Generation.objects.create(
            owner=owner,
            prompt="x",
            model=model,
            n=1,
            size="256x256",
            input_tokens=1,
            output_tokens=tokens - 1,
            total_tokens=tokens,
        )
    client.force_login(user)
    page = client.get("/usage/").content.decode()
    assert "Novisurf procedural (not AI)" in page and "DALL·E 2 (retired)" in page
    assert ">150<" in page and ">7<" in page and ">157<" in page  # per model, per day
    assert "999999" not in page  # another person's usage is theirs


def test_the_admin_shows_usage_per_user(client, django_user_model, user, other_user):
    Generation.objects.create(
        owner=other_user, prompt="x", model="dall-e-2", n=1, size="256x256", total_tokens=4242
    )
    admin = django_user_model.objects.create_superuser("root", password="root-password-123")
    client.force_login(admin)
    page = client.get("/admin/gallery/generation/").content.decode()
    assert "Usage per user" in page
    assert '<th scope="row">bob</th>' in page and ">4242<" in page
