"""gallery.services against a real HTTP server on loopback playing an image provider.

Every failure case ends the same way: a reason a person can read is recorded, no broken image is
stored (no row, no stray file), and nothing the person typed is lost.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading

import pytest
from PIL import Image as PILImage
from pytest_httpserver import HTTPServer
from werkzeug import Response

from gallery import services
from gallery.models import Generation, Image
from tests.utils import b64, image_bytes, is_stored, png_bytes, stored_names

GENERATIONS = "/v1/images/generations"
PROVIDER_KEY = "sk-test"


# -- helpers ----------------------------------------------------------------------------------


def answer(*items: dict) -> dict:
    return {"created": 1_700_000_000, "data": list(items)}


def files_under(folder: str) -> list[str]:
    return stored_names(folder)


def assert_nothing_stored(generation: Generation) -> None:
    assert not Image.objects.filter(generation=generation).exists()
    assert not Image.objects.exists()
    assert files_under("originals") == []
    assert files_under("thumbnails") == []


def assert_typed_kept(generation: Generation, **typed) -> None:
    for name, value in typed.items():
        assert getattr(generation, name) == value, name


def assert_failed_with(generation: Generation, *fragments: str) -> None:
    assert generation.status == Generation.Status.FAILED
    assert generation.finished_at is not None
    assert generation.error
    for fragment in fragments:
        assert fragment in generation.error, (fragment, generation.error)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def provider(settings, httpserver):
    """The gallery pointed at a provider served on loopback by pytest-httpserver."""
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = PROVIDER_KEY
    settings.NOVISURF_AUTH_HEADER = "bearer"
    settings.NOVISURF_API_TIMEOUT = 10.0
    settings.NOVISURF_MAX_IMAGE_PIXELS = 40_000_000
    settings.NOVISURF_MAX_IMAGE_BYTES = 50 * 1024 * 1024
    settings.NOVISURF_THUMBNAIL_SIZE = 32
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return httpserver


TYPED = {
    "prompt": "A lighthouse on a cliff at dawn, soft pastel light",
    "model": "dall-e-2",
    "n": 1,
    "size": "1024x1024",
    "tag_names": ["coast", "Dawn"],
}


@pytest.fixture
def make_generation(user):
    def make(**fields) -> Generation:
        values = {**TYPED, "response_format": "b64_json", **fields}
        return Generation.objects.create(owner=user, **values)

    return make


def run(generation: Generation) -> Generation:
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    return generation


def provider_requests(httpserver, path=GENERATIONS):
    return [request for request, _ in httpserver.log if request.path == path]


# -- success --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_b64_json_images_are_stored_exactly(provider, make_generation):
    sent = [
        png_bytes((64, 48), noise=True),
        image_bytes((80, 60), (10, 200, 50), format="JPEG", quality=90),
    ]
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(
        answer(
            {"b64_json": b64(sent[0]), "revised_prompt": "A lighthouse, revised"},
            {"b64_json": b64(sent[1])},
        )
    )
    generation = run(make_generation(n=2))

    assert generation.status == Generation.Status.DONE
    assert generation.error == ""
    assert generation.item_errors == []
    assert generation.attempts == 1
    assert generation.started_at is not None
    assert generation.finished_at is not None
    assert_typed_kept(generation, **{**TYPED, "n": 2})

    body = json.loads(provider_requests(provider)[0].get_data())
    assert body == {
        "prompt": TYPED["prompt"],
        "model": "dall-e-2",
        "n": 2,
        "size": "1024x1024",
        "response_format": "b64_json",
        # OpenAI's end-user id, by which this site's own endpoint charges the person's budget.
        "user": f"novisurf:{generation.owner_id}",
    }

    images = list(generation.images.order_by("index"))
    assert [i.index for i in images] == [0, 1]
    expected = [("png", 64, 48), ("jpeg", 80, 60)]
    for image, data, (fmt, width, height) in zip(images, sent, expected, strict=True):
        assert image.owner == generation.owner
        assert image.content_hash == hashlib.sha256(data).hexdigest()
        with image.file.open("rb") as handle:
            stored = handle.read()
        assert hashlib.sha256(stored).hexdigest() == image.content_hash
        assert stored == data
        assert (image.format, image.width, image.height) == (fmt, width, height)
        assert image.file_size == len(data)
        assert image.prompt == TYPED["prompt"]
        assert image.model == "dall-e-2"
        assert image.size == "1024x1024"
        assert sorted(t.name for t in image.tags.all()) == ["Dawn", "coast"]
        with image.thumbnail.open("rb") as handle:
            thumb = PILImage.open(io.BytesIO(handle.read()))
            assert thumb.format == "WEBP"
            assert thumb.size == (image.thumbnail_width, image.thumbnail_height)
            assert max(thumb.size) <= 32
    assert images[0].file.name.endswith(".png")
    assert images[1].file.name.endswith(".jpg")
    assert images[0].revised_prompt == "A lighthouse, revised"
    assert images[1].revised_prompt == ""
    assert len(files_under("originals")) == 2
    assert len(files_under("thumbnails")) == 2


@pytest.mark.django_db
def test_gpt_image_models_are_sent_no_response_format(provider, make_generation):
    # gpt-image models refuse the field and always answer b64_json.
    data = png_bytes()
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(
        answer({"b64_json": b64(data)})
    )
    generation = run(make_generation(model="gpt-image-1", response_format="url"))

    assert generation.status == Generation.Status.DONE, generation.error
    body = json.loads(provider_requests(provider)[0].get_data())
    assert "response_format" not in body
    assert body["model"] == "gpt-image-1"
    assert generation.response_format == "url"  # what was typed is still kept
    assert generation.images.get().content_hash == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db
def test_url_images_are_downloaded_and_stored_exactly(provider, make_generation):
    sent = [png_bytes((50, 50), noise=True), png_bytes((30, 70))]
    for i, data in enumerate(sent):
        provider.expect_request(f"/files/{i}.png", method="GET").respond_with_data(
            data, content_type="image/png"
        )
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(
        answer(*({"url": provider.url_for(f"/files/{i}.png")} for i in range(2)))
    )
    generation = run(make_generation(n=2, response_format="url"))

    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.item_errors == []
    assert_typed_kept(generation, **{**TYPED, "n": 2})
    images = list(generation.images.order_by("index"))
    assert [(i.width, i.height) for i in images] == [(50, 50), (30, 70)]
    for image, data in zip(images, sent, strict=True):
        assert image.content_hash == hashlib.sha256(data).hexdigest()
        assert image.file.read() == data
        image.file.close()
        assert image.format == "png"
        assert image.file_size == len(data)
    # Downloads from the endpoint's own origin carry its key.
    downloads = provider_requests(provider, "/files/0.png")
    assert downloads[0].headers.get("Authorization") == f"Bearer {PROVIDER_KEY}"


@pytest.mark.django_db
def test_url_on_another_origin_gets_no_credentials(provider, make_generation):
    data = png_bytes((20, 20))
    provider.expect_request("/cdn/0.png").respond_with_data(data, content_type="image/png")
    # Same server, but reached as 127.0.0.1 while the endpoint is "localhost": another origin.
    foreign = provider.url_for("/cdn/0.png").replace("localhost", "127.0.0.1")
    assert foreign != provider.url_for("/cdn/0.png")
    provider.expect_request(GENERATIONS).respond_with_json(answer({"url": foreign}))
    generation = run(make_generation(response_format="url"))

    assert generation.status == Generation.Status.DONE, generation.error
    download = provider_requests(provider, "/cdn/0.png")[0]
    assert "Authorization" not in download.headers
    assert "X-API-Key" not in download.headers


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
@pytest.mark.django_db
def test_redirect_to_another_origin_drops_the_credentials(
    provider, settings, make_generation, header
):
    settings.NOVISURF_AUTH_HEADER = header
    data = png_bytes((20, 20))
    provider.expect_request("/cdn/0.png").respond_with_data(data, content_type="image/png")
    foreign = provider.url_for("/cdn/0.png").replace("localhost", "127.0.0.1")
    provider.expect_request("/files/0.png").respond_with_data(
        "", status=302, headers={"Location": foreign}
    )
    provider.expect_request(GENERATIONS).respond_with_json(
        answer({"url": provider.url_for("/files/0.png")})
    )
    generation = run(make_generation(response_format="url"))

    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.images.get().content_hash == hashlib.sha256(data).hexdigest()
    own = provider_requests(provider, "/files/0.png")[0]
    assert own.headers.get("Authorization") or own.headers.get("X-API-Key")
    cdn = provider_requests(provider, "/cdn/0.png")[0]
    assert "Authorization" not in cdn.headers
    assert "X-API-Key" not in cdn.headers


@pytest.mark.django_db
def test_429_with_retry_after_then_success(provider, make_generation):
    data = png_bytes()
    provider.expect_oneshot_request(GENERATIONS, method="POST").respond_with_json(
        {"error": {"message": "Slow down", "type": "requests", "param": None, "code": None}},
        status=429,
        headers={"Retry-After": "0"},
    )
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(
        answer({"b64_json": b64(data)})
    )
    generation = run(make_generation())

    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.error == ""
    assert len(provider_requests(provider)) == 2
    assert generation.images.get().content_hash == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("header", "expected_present", "expected_value", "absent"),
    [
        ("bearer", "Authorization", f"Bearer {PROVIDER_KEY}", "X-API-Key"),
        ("x-api-key", "X-API-Key", PROVIDER_KEY, "Authorization"),
    ],
)
@pytest.mark.django_db
def test_auth_header_setting_is_what_the_provider_receives(
    provider, settings, make_generation, header, expected_present, expected_value, absent
):
    settings.NOVISURF_AUTH_HEADER = header
    provider.expect_request(
        GENERATIONS, method="POST", headers={expected_present: expected_value}
    ).respond_with_json(answer({"b64_json": b64(png_bytes())}))
    generation = run(make_generation())

    assert generation.status == Generation.Status.DONE, generation.error
    request = provider_requests(provider)[0]
    assert request.headers[expected_present] == expected_value
    assert absent not in request.headers


# -- the whole call fails -----------------------------------------------------------------------


@pytest.mark.django_db
def test_provider_500_fails_with_its_message(provider, make_generation):
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(
        {
            "error": {
                "message": "The server had an error processing your request.",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        },
        status=500,
        headers={"Retry-After": "0"},  # retried at once, so the test stays quick
    )
    generation = run(make_generation())

    assert_failed_with(generation, "The server had an error processing your request.")
    assert len(provider_requests(provider)) == 4  # the first try and three retries
    assert_nothing_stored(generation)
    assert_typed_kept(generation, **TYPED)


@pytest.fixture
def slow_provider(provider, settings):
    """A provider of its own that answers every request in its own thread, for slow answers:
    requests still waiting when the test ends cannot reach the shared server's next test."""
    server = HTTPServer(host="localhost", port=0, threaded=True)
    server.start()
    settings.NOVISURF_API_BASE = server.url_for("/v1")
    yield server
    server.clear()
    server.stop()


@pytest.mark.django_db
def test_provider_too_slow_fails_with_a_timeout(slow_provider, settings, make_generation):
    settings.NOVISURF_API_TIMEOUT = 0.5
    release = threading.Event()

    def slow(request):
        release.wait(2)  # longer than the read timeout; released at the end of the test
        return Response(json.dumps(answer({"b64_json": b64(png_bytes())})), 200)

    slow_provider.expect_request(GENERATIONS, method="POST").respond_with_handler(slow)
    try:
        generation = run(make_generation())
    finally:
        release.set()

    assert_failed_with(generation, "did not answer within 0.5 s")
    assert_nothing_stored(generation)
    assert_typed_kept(generation, **TYPED)


@pytest.mark.django_db
def test_content_policy_refusal_reaches_the_person(provider, make_generation):
    message = (
        "Your request was rejected as a result of our safety system. Your prompt may contain "
        "text that is not allowed by our safety system."
    )
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(
        {
            "error": {
                "message": message,
                "type": "image_generation_user_error",
                "param": None,
                "code": "content_policy_violation",
            }
        },
        status=400,
    )
    generation = run(make_generation())

    assert_failed_with(generation)
    assert generation.error == message
    assert len(provider_requests(provider)) == 1  # a 4xx is not retried
    assert_nothing_stored(generation)
    assert_typed_kept(generation, **TYPED)


@pytest.mark.django_db
def test_wrong_key_is_said_in_words(provider, make_generation):
    provider.expect_request(GENERATIONS).respond_with_json(
        {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
        status=401,
    )
    generation = run(make_generation())
    assert_failed_with(generation, "refused our API key", "Incorrect API key provided.")
    assert PROVIDER_KEY not in generation.error
    assert_nothing_stored(generation)


@pytest.mark.django_db
def test_non_json_answer_fails(provider, make_generation):
    provider.expect_request(GENERATIONS, method="POST").respond_with_data(
        "<html><body>Bad gateway page</body></html>", status=200, content_type="text/html"
    )
    generation = run(make_generation())

    assert_failed_with(generation, "not JSON")
    assert_nothing_stored(generation)
    assert_typed_kept(generation, **TYPED)


@pytest.mark.django_db
def test_empty_data_fails(provider, make_generation):
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(answer())
    generation = run(make_generation())

    assert_failed_with(generation, "no images")
    assert_nothing_stored(generation)
    assert_typed_kept(generation, **TYPED)


@pytest.mark.django_db
def test_answer_without_data_list_fails(provider, make_generation):
    provider.expect_request(GENERATIONS).respond_with_json({"created": 1, "images": []})
    generation = run(make_generation())
    assert_failed_with(generation, "no 'data' list")
    assert_nothing_stored(generation)


@pytest.mark.django_db
def test_unreachable_endpoint_fails_in_words(settings, make_generation, httpserver):
    # A port that nothing listens on: find one by binding and closing.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.NOVISURF_API_BASE = f"http://127.0.0.1:{port}/v1"
    settings.NOVISURF_API_KEY = PROVIDER_KEY
    settings.NOVISURF_AUTH_HEADER = "bearer"
    # Retried with backoff, then waited for within the wait budget (none here), then failed.
    settings.NOVISURF_PROVIDER_MAX_WAIT = 0
    generation = run(make_generation())
    assert_failed_with(generation, "Could not reach the image endpoint")
    assert_nothing_stored(generation)
    assert_typed_kept(generation, **TYPED)


# -- one item is broken ---------------------------------------------------------------------


def _one_item_case(provider, make_generation, item: dict, **generation_fields) -> Generation:
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(answer(item))
    return run(make_generation(**generation_fields))


def _assert_item_refused(generation: Generation, *fragments: str) -> None:
    assert_failed_with(generation, "No image could be kept")
    assert len(generation.item_errors) == 1
    assert generation.item_errors[0]["index"] == 0
    reason = generation.item_errors[0]["reason"]
    for fragment in fragments:
        assert fragment in reason, (fragment, reason)
        assert fragment in generation.error
    assert_nothing_stored(generation)
    assert_typed_kept(generation, prompt=TYPED["prompt"], model=TYPED["model"], size=TYPED["size"])
    assert generation.tag_names == TYPED["tag_names"]


@pytest.mark.django_db
def test_invalid_base64_is_refused(provider, make_generation):
    generation = _one_item_case(
        provider, make_generation, {"b64_json": "iVBORw0KGgo!!!*not base64*"}
    )
    _assert_item_refused(generation, "not valid base64")


@pytest.mark.django_db
def test_bytes_that_are_not_an_image_are_refused(provider, make_generation):
    generation = _one_item_case(provider, make_generation, {"b64_json": b64(os.urandom(2048))})
    _assert_item_refused(generation, "not an image")


@pytest.mark.django_db
def test_truncated_png_is_refused(provider, make_generation):
    data = png_bytes((128, 128), noise=True)
    generation = _one_item_case(
        provider, make_generation, {"b64_json": b64(data[: len(data) // 2])}
    )
    _assert_item_refused(generation, "damaged or incomplete")


@pytest.mark.django_db
def test_decompression_bomb_is_refused(provider, settings, make_generation):
    settings.NOVISURF_MAX_IMAGE_PIXELS = 100 * 100
    generation = _one_item_case(provider, make_generation, {"b64_json": b64(png_bytes((200, 200)))})
    _assert_item_refused(generation, "too large", "200x200", "10,000")


@pytest.mark.django_db
def test_bmp_is_refused(provider, make_generation):
    buffer = io.BytesIO()
    PILImage.new("RGB", (10, 10)).save(buffer, "BMP")
    generation = _one_item_case(provider, make_generation, {"b64_json": b64(buffer.getvalue())})
    _assert_item_refused(generation, "BMP")


@pytest.mark.django_db
def test_item_with_neither_b64_nor_url_is_refused(provider, make_generation):
    generation = _one_item_case(provider, make_generation, {"revised_prompt": "nothing else"})
    _assert_item_refused(generation, "neither")


@pytest.mark.django_db
def test_url_that_404s_is_refused(provider, make_generation):
    provider.expect_request("/files/gone.png").respond_with_data("Not Found", status=404)
    generation = _one_item_case(
        provider,
        make_generation,
        {"url": provider.url_for("/files/gone.png")},
        response_format="url",
    )
    _assert_item_refused(generation, "HTTP 404")


@pytest.mark.django_db
def test_non_http_url_is_refused(provider, make_generation):
    generation = _one_item_case(
        provider, make_generation, {"url": "file:///etc/passwd"}, response_format="url"
    )
    _assert_item_refused(generation, "non-http(s) URL")


@pytest.mark.django_db
def test_url_far_over_the_byte_cap_is_refused(provider, settings, make_generation):
    settings.NOVISURF_MAX_IMAGE_BYTES = 10_000
    big = png_bytes((200, 200), noise=True)
    assert len(big) > 100_000
    provider.expect_request("/files/big.png").respond_with_data(big, content_type="image/png")
    generation = _one_item_case(
        provider,
        make_generation,
        {"url": provider.url_for("/files/big.png")},
        response_format="url",
    )
    _assert_item_refused(generation, "larger than")


@pytest.mark.django_db
def test_url_over_the_byte_cap_without_content_length_is_refused(
    provider, settings, make_generation
):
    settings.NOVISURF_MAX_IMAGE_BYTES = 10_000
    big = png_bytes((200, 200), noise=True)

    def streamed(request):
        # A generator body: sent chunked, with no Content-Length to refuse it by.
        return Response((big[i : i + 4096] for i in range(0, len(big), 4096)), mimetype="image/png")

    provider.expect_request("/files/stream.png").respond_with_handler(streamed)
    generation = _one_item_case(
        provider,
        make_generation,
        {"url": provider.url_for("/files/stream.png")},
        response_format="url",
    )
    _assert_item_refused(generation, "larger than")


@pytest.mark.django_db
def test_b64_over_the_byte_cap_is_refused(provider, settings, make_generation):
    settings.NOVISURF_MAX_IMAGE_BYTES = 10_000
    big = png_bytes((200, 200), noise=True)
    generation = _one_item_case(provider, make_generation, {"b64_json": b64(big)})
    _assert_item_refused(generation, "larger than")


@pytest.mark.django_db
def test_one_bad_item_among_good_ones_fails_alone(provider, make_generation):
    good = [png_bytes((40, 40), colour=(i * 60, 0, 0)) for i in range(4)]
    truncated = png_bytes((128, 128), noise=True)
    provider.expect_request(GENERATIONS, method="POST").respond_with_json(
        answer(
            {"b64_json": b64(good[0])},
            {"b64_json": b64(good[1])},
            {"b64_json": b64(truncated[: len(truncated) // 2])},
            {"b64_json": b64(good[3])},
        )
    )
    generation = run(make_generation(n=4))

    assert generation.status == Generation.Status.DONE
    assert generation.error == ""
    assert len(generation.item_errors) == 1
    assert generation.item_errors[0]["index"] == 2
    assert "damaged or incomplete" in generation.item_errors[0]["reason"]
    images = list(generation.images.order_by("index"))
    assert [i.index for i in images] == [0, 1, 3]
    assert [i.content_hash for i in images] == [
        hashlib.sha256(good[i]).hexdigest() for i in (0, 1, 3)
    ]
    assert len(files_under("originals")) == 3
    assert len(files_under("thumbnails")) == 3
    assert_typed_kept(generation, **{**TYPED, "n": 4})


@pytest.mark.django_db
def test_one_bad_url_among_good_ones(provider, make_generation):
    good = png_bytes((16, 16))
    provider.expect_request("/files/ok.png").respond_with_data(good, content_type="image/png")
    provider.expect_request("/files/missing.png").respond_with_data("gone", status=404)
    provider.expect_request(GENERATIONS).respond_with_json(
        answer(
            {"url": provider.url_for("/files/ok.png")},
            {"url": provider.url_for("/files/missing.png")},
        )
    )
    generation = run(make_generation(n=2, response_format="url"))
    assert generation.status == Generation.Status.DONE
    assert [e["index"] for e in generation.item_errors] == [1]
    assert "HTTP 404" in generation.item_errors[0]["reason"]
    assert generation.images.count() == 1


# -- running twice, retrying, deleting ------------------------------------------------------


@pytest.mark.django_db
def test_running_twice_stores_nothing_twice(provider, make_generation):
    sent = [png_bytes((20, 20)), png_bytes((30, 30))]
    provider.expect_request(GENERATIONS).respond_with_json(
        answer(*({"b64_json": b64(d)} for d in sent))
    )
    generation = run(make_generation(n=2))
    assert generation.images.count() == 2

    # A second delivery of the same task: the generation is no longer queued, so nothing runs.
    assert services.generation_run(generation_id=str(generation.pk)) is None
    assert len(provider_requests(provider)) == 1

    # Even if it were run again from the start, each item is stored once.
    Generation.objects.filter(pk=generation.pk).update(status=Generation.Status.QUEUED)
    generation = run(generation)
    assert generation.status == Generation.Status.DONE
    assert len(provider_requests(provider)) == 2
    assert Image.objects.filter(generation=generation).count() == 2
    assert len(files_under("originals")) == 2
    assert len(files_under("thumbnails")) == 2


@pytest.mark.django_db
def test_image_store_twice_for_the_same_item_keeps_one(make_generation):
    generation = make_generation()
    first = services.image_store(generation=generation, index=0, data=png_bytes())
    second = services.image_store(generation=generation, index=0, data=png_bytes((9, 9)))
    assert first.pk == second.pk
    assert Image.objects.count() == 1
    assert len(files_under("originals")) == 1


@pytest.mark.django_db
def test_retry_requeues_a_failed_generation_with_the_same_fields(
    provider, settings, make_generation, django_capture_on_commit_callbacks
):
    provider.expect_oneshot_request(GENERATIONS).respond_with_json(
        {
            "error": {
                "message": "Billing hard limit has been reached.",
                "type": "billing",
                "param": None,
                "code": "billing_hard_limit_reached",
            }
        },
        status=400,
    )
    generation = run(make_generation(n=2))
    assert_failed_with(generation, "Billing hard limit")

    data = [png_bytes((12, 12)), png_bytes((14, 14))]
    provider.expect_request(GENERATIONS).respond_with_json(
        answer(*({"b64_json": b64(d)} for d in data))
    )
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks() as callbacks:
        retried = services.generation_retry(generation=generation)
        assert retried.status == Generation.Status.QUEUED
        assert retried.error == ""
        assert retried.item_errors == []
        assert retried.finished_at is None
        assert_typed_kept(retried, **{**TYPED, "n": 2}, response_format="b64_json")
    assert len(callbacks) == 1  # queued only once the retry is committed

    callbacks[0]()  # the immediate backend runs it now
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.attempts == 2
    assert generation.images.count() == 2
    body = json.loads(provider_requests(provider)[-1].get_data())
    assert body["prompt"] == TYPED["prompt"]
    assert body["n"] == 2
    assert body["model"] == TYPED["model"]


@pytest.mark.django_db
def test_retry_leaves_a_done_generation_alone(make_generation, django_capture_on_commit_callbacks):
    generation = make_generation(status=Generation.Status.DONE)
    with django_capture_on_commit_callbacks() as callbacks:
        services.generation_retry(generation=generation)
    assert callbacks == []
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE


@pytest.mark.django_db
def test_generation_create_saves_first_and_wakes_the_queue_on_commit_elsewhere(
    settings, user, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    from django_tasks import default_task_backend

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        generation = services.generation_create(
            owner=user,
            prompt=TYPED["prompt"],
            model="dall-e-3",
            n=1,
            size="1792x1024",
            response_format="url",
            tags=["sea"],
        )
        assert Generation.objects.filter(pk=generation.pk).exists()
        assert default_task_backend.results == []  # nothing queued before the commit
    assert len(callbacks) == 1
    saved = Generation.objects.get(pk=generation.pk)
    assert saved.status == Generation.Status.QUEUED
    assert (saved.model, saved.size, saved.response_format, saved.tag_names) == (
        "dall-e-3",
        "1792x1024",
        "url",
        ["sea"],
    )
    # A wake-up, not a named generation: the worker claims the fairest queued one.
    [queued] = default_task_backend.results
    assert queued.task.name == "generation_work"
    assert queued.args == []


@pytest.mark.django_db
def test_image_delete_removes_files_only_after_commit(
    make_generation, django_capture_on_commit_callbacks
):
    image = services.image_store(generation=make_generation(), index=0, data=png_bytes())
    original, thumbnail = image.file.name, image.thumbnail.name
    assert is_stored(original)
    assert is_stored(thumbnail)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.image_delete(image=image)
    assert not Image.objects.filter(pk=image.pk).exists()
    # Not committed yet: the files are still there (a rollback would need them).
    assert is_stored(original)
    assert is_stored(thumbnail)

    for callback in callbacks:
        callback()
    assert not is_stored(original)
    assert not is_stored(thumbnail)


@pytest.mark.django_db
def test_image_delete_with_commit(make_generation, django_capture_on_commit_callbacks):
    image = services.image_store(generation=make_generation(), index=0, data=png_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        services.image_delete(image=image)
    assert Image.objects.count() == 0
    assert files_under("originals") == []
    assert files_under("thumbnails") == []


@pytest.mark.django_db
def test_tags_add_and_remove_case_insensitively(make_generation):
    image = services.image_store(
        generation=make_generation(tag_names=[]), index=0, data=png_bytes()
    )
    services.image_tag_add(image=image, names=["Sunset", "  ", "sea"])
    assert sorted(t.name for t in image.tags.all()) == ["Sunset", "sea"]
    services.image_tag_remove(image=image, name="SUNSET")
    assert [t.name for t in image.tags.all()] == ["sea"]


@pytest.mark.django_db
def test_image_download_embeds_parameters_and_names_the_file(make_generation):
    data = png_bytes((25, 25), noise=True)
    image = services.image_store(
        generation=make_generation(prompt="Café on Mars: red, dusty"), index=0, data=data
    )
    downloaded, filename = services.image_download(image=image)
    assert filename == f"novisurf-cafe-on-mars-red-dusty-{image.id.hex[:8]}.png"
    decoded = PILImage.open(io.BytesIO(downloaded))
    lines = decoded.text["parameters"].split("\n")
    assert lines[0] == "Café on Mars: red, dusty"
    assert "Model: dall-e-2" in lines[1]
    assert "Size: 25x25" in lines[1]
    assert decoded.tobytes() == PILImage.open(io.BytesIO(data)).tobytes()


# -- end to end, against this site's own endpoint ---------------------------------------------


@pytest.mark.parametrize("response_format", ["b64_json", "url"])
@pytest.mark.django_db(transaction=True)
def test_end_to_end_against_the_sites_own_endpoint(gallery_endpoint, user, response_format):
    generation = Generation.objects.create(
        owner=user,
        prompt="a quiet harbour at night with lanterns",
        model="novisurf-procedural",
        n=3,
        size="256x256",
        response_format=response_format,
        tag_names=["harbour"],
    )
    generation = run(generation)

    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.item_errors == []
    images = list(generation.images.order_by("index"))
    assert [i.index for i in images] == [0, 1, 2]
    for image in images:
        assert (image.width, image.height) == (256, 256)
        assert image.format == "png"
        assert image.model == "novisurf-procedural"
        with image.file.open("rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == image.content_hash
        assert [t.name for t in image.tags.all()] == ["harbour"]
    # Different per image.
    assert len({i.content_hash for i in images}) == 3
    assert len(files_under("originals")) == 3
