"""The forwarder: models this site does not render go to the configured upstream.

The upstream is a real HTTP server on loopback (pytest-httpserver); our endpoint is Django's live
server; the caller is the official SDK or plain requests.
"""

from __future__ import annotations

import base64
import io
import threading

import openai
import pytest
import requests
from PIL import Image
from werkzeug import Response

from tests.utils import b64, png_bytes, settle

pytestmark = pytest.mark.django_db(transaction=True)

UPSTREAM_KEY = "sk-upstream-secret-123"
MODEL = "gpt-image-1"


@pytest.fixture
def upstream(settings, httpserver):
    """A loopback OpenAI-compatible upstream, configured as ours."""
    settings.NOVISURF_UPSTREAM_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_UPSTREAM_KEY = UPSTREAM_KEY
    settings.NOVISURF_UPSTREAM_AUTH_HEADER = "bearer"
    settings.NOVISURF_UPSTREAM_TIMEOUT = 10.0
    return httpserver


@pytest.fixture
def sdk(endpoint_url, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)


@pytest.fixture
def post(endpoint_url, api_key):
    def post(body: dict) -> requests.Response:
        return requests.post(
            f"{endpoint_url}/images/generations",
            json=body,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
        )

    return post


def generation_requests(server) -> list:
    return [req for req, _ in server.log if req.path == "/v1/images/generations"]


def assert_envelope(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


# -- success -------------------------------------------------------------------------------------


def test_upstream_b64_json_is_passed_through(upstream, sdk, api_key):
    image = png_bytes()
    upstream.expect_request("/v1/images/generations", method="POST").respond_with_json(
        {
            "created": 1700000000,
            "data": [
                {"b64_json": b64(image), "revised_prompt": "A red fox, rendered better."},
                {"b64_json": b64(png_bytes(colour=(0, 0, 0)))},
            ],
        }
    )
    response = sdk.images.generate(
        prompt="a red fox", model=MODEL, n=2, quality="high", response_format="b64_json"
    )
    assert base64.b64decode(response.data[0].b64_json) == image
    assert response.data[0].revised_prompt == "A red fox, rendered better."
    assert response.data[1].revised_prompt is None
    assert Image.open(io.BytesIO(base64.b64decode(response.data[1].b64_json))).size == (64, 48)

    (sent,) = generation_requests(upstream)
    body = sent.get_json()
    assert body["prompt"] == "a red fox"
    assert body["model"] == MODEL
    assert body["n"] == 2
    assert body["quality"] == "high"
    # The caller's key stays with us; the upstream gets ours.
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert api_key not in str(sent.headers)


def test_upstream_urls_are_downloaded_and_served_again(upstream, sdk, live_server):
    first, second = png_bytes(colour=(1, 2, 3)), png_bytes(colour=(4, 5, 6))
    upstream.expect_request("/v1/images/generations", method="POST").respond_with_json(
        {
            "created": 1700000000,
            "data": [
                {"url": upstream.url_for("/results/first.png"), "revised_prompt": "better"},
                {"url": upstream.url_for("/results/second.png")},
            ],
        }
    )
    upstream.expect_request("/results/first.png").respond_with_data(first, content_type="image/png")
    upstream.expect_request("/results/second.png").respond_with_data(
        second, content_type="image/png"
    )

    # DALL·E 2 (retired, still served by this upstream) answers URLs; GPT image models never do.
    response = sdk.images.generate(
        prompt="two squares", model="dall-e-2", n=2, response_format="url"
    )
    urls = [item.url for item in response.data]
    # Our own links, not the upstream's.
    assert all(url.startswith(f"{live_server.url}/") for url in urls)
    assert [requests.get(url, timeout=10).content for url in urls] == [first, second]
    assert response.data[0].revised_prompt == "better"

    as_b64 = sdk.images.generate(
        prompt="two squares", model="dall-e-2", n=2, response_format="b64_json"
    )
    assert [base64.b64decode(item.b64_json) for item in as_b64.data] == [first, second]


def test_one_bad_item_of_several_is_left_out(upstream, post):
    good = png_bytes()
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {
            "data": [
                {"url": upstream.url_for("/results/expired.png")},
                {"b64_json": b64(good)},
            ]
        }
    )
    upstream.expect_request("/results/expired.png").respond_with_data("gone", status=404)
    response = post({"prompt": "x", "model": MODEL, "n": 2, "response_format": "b64_json"})
    assert response.status_code == 200
    assert [base64.b64decode(item["b64_json"]) for item in response.json()["data"]] == [good]


def test_upstream_429_then_200_is_retried(upstream, post):
    image = png_bytes()
    upstream.expect_oneshot_request("/v1/images/generations").respond_with_json(
        {"error": {"message": "Slow down", "type": "requests", "code": "rate_limit_exceeded"}},
        status=429,
        headers={"Retry-After": "0"},
    )
    upstream.expect_oneshot_request("/v1/images/generations").respond_with_json(
        {"data": [{"b64_json": b64(image)}]}
    )
    response = post({"prompt": "x", "model": MODEL, "response_format": "b64_json"})
    assert response.status_code == 200, response.text
    assert base64.b64decode(response.json()["data"][0]["b64_json"]) == image
    assert len(generation_requests(upstream)) == 2


def test_upstream_that_keeps_rate_limiting_is_a_429_with_retry_after(upstream, post):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {"error": {"message": "Quota exceeded for this minute", "type": "requests"}},
        status=429,
        headers={"Retry-After": "45"},  # longer than the forwarder waits for
    )
    response = post({"prompt": "x", "model": MODEL})
    error = assert_envelope(response, 429)
    assert "Quota exceeded for this minute" in error["message"]
    assert int(response.headers["Retry-After"]) == 45


# -- failures -------------------------------------------------------------------------------------


def test_upstream_500_is_a_502_with_its_message(upstream, sdk, post):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {"error": {"message": "The renderer is on fire", "type": "server_error", "code": None}},
        status=500,
        headers={"Retry-After": "0"},  # its retries need not wait
    )
    response = post({"prompt": "x", "model": MODEL})
    error = assert_envelope(response, 502)
    assert "The renderer is on fire" in error["message"]
    assert error["type"] == "server_error"
    # Retried before giving up.
    assert len(generation_requests(upstream)) > 1

    with pytest.raises(openai.InternalServerError) as info:
        sdk.images.generate(prompt="x", model=MODEL)
    assert info.value.status_code == 502
    assert "The renderer is on fire" in info.value.message


def test_slow_upstream_is_a_504(upstream, settings, post):
    settings.NOVISURF_UPSTREAM_TIMEOUT = 0.5
    released = threading.Event()

    def slow(request):
        released.wait(2.0)  # "sleeps 2 s", but lets go at once when the test is over
        return Response('{"data": []}', content_type="application/json")

    upstream.expect_request("/v1/images/generations").respond_with_handler(slow)
    try:
        response = post({"prompt": "x", "model": MODEL})
    finally:
        released.set()
        settle(upstream, 3)
    error = assert_envelope(response, 504)
    assert error["code"] == "upstream_timeout"
    assert "0.5" in error["message"]


def test_upstream_garbage_is_a_502(upstream, post):
    upstream.expect_request("/v1/images/generations").respond_with_data(
        "<html><body>Bad gateway, from a proxy</body></html>", content_type="text/html"
    )
    error = assert_envelope(post({"prompt": "x", "model": MODEL}), 502)
    assert "not JSON" in error["message"]


@pytest.mark.parametrize(
    "answer",
    [
        {"data": []},
        {"nothing": "here"},
        {"data": [{"b64_json": "!!!not base64!!!"}]},
        {"data": [{"b64_json": b64(b"these bytes are not an image")}]},
        {"data": [{"url": "file:///etc/passwd"}]},
    ],
    ids=["no images", "no data", "bad base64", "not an image", "file url"],
)
def test_upstream_without_a_usable_image_is_a_502(upstream, post, answer):
    upstream.expect_request("/v1/images/generations").respond_with_json(answer)
    error = assert_envelope(post({"prompt": "x", "model": MODEL}), 502)
    assert error["message"].startswith("Upstream:")


def test_upstream_content_policy_400_is_our_400(upstream, sdk):
    message = "Your request was rejected as a result of our safety system."
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "content_policy_violation",
            }
        },
        status=400,
    )
    with pytest.raises(openai.BadRequestError) as info:
        sdk.images.generate(prompt="something refused", model=MODEL)
    assert message in info.value.message
    assert info.value.code == "content_policy_violation"
    # A refusal is not retried.
    assert len(generation_requests(upstream)) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_refusing_our_key_is_a_502(upstream, post, status):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {
            "error": {
                "message": "Incorrect API key provided: sk-up***",
                "type": "invalid_request_error",
            }
        },
        status=status,
    )
    response = post({"prompt": "x", "model": MODEL})
    # Not a 401: the caller's key is fine, ours for the upstream is not.
    error = assert_envelope(response, 502)
    assert "Incorrect API key provided" in error["message"]
    assert error["code"] == "upstream_auth"


def test_unreachable_upstream_is_a_502(settings, post):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.NOVISURF_UPSTREAM_BASE = f"http://127.0.0.1:{port}/v1"
    error = assert_envelope(post({"prompt": "x", "model": MODEL}), 502)
    assert "Could not reach" in error["message"]


# -- the upstream's key ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth_header, header, value",
    [
        ("bearer", "Authorization", f"Bearer {UPSTREAM_KEY}"),
        ("x-api-key", "X-API-Key", UPSTREAM_KEY),
    ],
)
def test_upstream_gets_our_key_in_the_chosen_header(
    upstream, settings, post, auth_header, header, value
):
    settings.NOVISURF_UPSTREAM_AUTH_HEADER = auth_header
    upstream.expect_request(
        "/v1/images/generations", method="POST", headers={header: value}
    ).respond_with_json({"data": [{"b64_json": b64(png_bytes())}]})
    response = post({"prompt": "x", "model": MODEL, "response_format": "b64_json"})
    assert response.status_code == 200, response.text
    (sent,) = generation_requests(upstream)
    assert sent.headers[header] == value
    other = "X-API-Key" if header == "Authorization" else "Authorization"
    assert other not in sent.headers


# -- models ------------------------------------------------------------------------------------


def test_without_an_upstream_other_models_are_404(settings, sdk):
    settings.NOVISURF_UPSTREAM_BASE = ""
    with pytest.raises(openai.NotFoundError) as info:
        sdk.images.generate(prompt="x", model=MODEL)
    assert info.value.code == "model_not_found"
    assert info.value.body["param"] == "model"
    assert MODEL not in [model.id for model in sdk.models.list()]


def test_with_an_upstream_its_models_are_listed(upstream, sdk):
    ids = [model.id for model in sdk.models.list()]
    assert MODEL in ids
    assert "novisurf-procedural" in ids
    # The procedural model is still rendered here, never forwarded.
    response = sdk.images.generate(prompt="x", size="256x256", response_format="b64_json")
    assert len(response.data) == 1
    assert generation_requests(upstream) == []


def test_an_unknown_model_is_forwarded_when_an_upstream_is_configured(upstream, post):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {"data": [{"b64_json": b64(png_bytes())}]}
    )
    response = post({"prompt": "x", "model": "flux-pro", "size": "640x480"})
    assert response.status_code == 200, response.text
    (sent,) = generation_requests(upstream)
    assert sent.get_json()["model"] == "flux-pro"
    assert sent.get_json()["size"] == "640x480"


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims ``width`` x ``height`` pixels (and no pixel data)."""
    import struct
    import zlib

    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (png_bytes((64, 64), noise=True)[:600], "damaged or incomplete"),
        (_png_claiming(100_000, 100_000), "pixels"),
    ],
)
def test_upstream_bytes_are_verified_as_images_before_they_are_answered(
    upstream, post, data, words
):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {"data": [{"b64_json": b64(data)}]}
    )
    response = post({"prompt": "x", "model": MODEL})
    error = assert_envelope(response, 502)
    assert words in error["message"], error["message"]
