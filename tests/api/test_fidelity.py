"""Where real clients stumbled: edits answer base64 unless a URL is asked for, OpenAI's own
examples' field combinations are accepted, JSON edits, rate-limit headers, and CORS for the
origins an operator names. Through the live endpoint, with the official SDK where a client
would use it."""

from __future__ import annotations

import io

import openai
import pytest
import requests

from tests.utils import b64, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(endpoint_url, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)


@pytest.fixture
def post(endpoint_url, api_key):
    def post(path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {api_key}", **kwargs.pop("headers", {})}
        return requests.post(f"{endpoint_url}{path}", headers=headers, timeout=30, **kwargs)

    return post


def square_png() -> bytes:
    return png_bytes((64, 64))


def test_an_edit_answers_base64_unless_a_url_is_asked_for(sdk):
    answer = sdk.images.edit(image=("in.png", io.BytesIO(square_png()), "image/png"), prompt="x")
    assert answer.data[0].b64_json and not answer.data[0].url
    answer = sdk.images.edit(
        image=("in.png", io.BytesIO(square_png()), "image/png"), prompt="x", response_format="url"
    )
    assert answer.data[0].url and not answer.data[0].b64_json


def test_output_compression_with_png_is_accepted(post):
    response = post(
        "/images/generations",
        json={"prompt": "x", "size": "256x256", "output_format": "png", "output_compression": 80},
    )
    assert response.status_code == 200, response.text


def test_partial_images_without_a_stream_are_accepted(sdk):
    answer = sdk.images.generate(prompt="x", size="256x256", partial_images=2, stream=False)
    assert len(answer.data) == 1


def test_a_json_edit_with_data_urls(post):
    data_url = "data:image/png;base64," + b64(square_png())
    response = post(
        "/images/edits",
        json={"prompt": "make it violet", "images": [{"image_url": data_url}], "n": 2},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data) == 2 and all(item.get("b64_json") for item in data)


@pytest.mark.parametrize(
    ("images", "param", "code"),
    [
        ([{"image_url": "https://example.com/a.png"}], "images[0]", "invalid_image_url"),
        ([{"file_id": "file-123"}], "images[0]", "unsupported_parameter"),
        ([{"image_url": "data:image/png;base64,@@@"}], "images[0]", "invalid_image_url"),
        ("not a list", "images", "invalid_type"),
        (None, "images", "missing_required_parameter"),
    ],
)
def test_a_bad_json_edit_names_what_is_wrong(post, images, param, code):
    body = {"prompt": "x"} if images is None else {"prompt": "x", "images": images}
    response = post("/images/edits", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)


def test_rate_limit_headers(settings, post, monkeypatch):
    import time
    from types import SimpleNamespace

    from api import services

    # One clock for the whole test, half-way through a minute: no window ends during it.
    monkeypatch.setattr(
        services, "time", SimpleNamespace(time=lambda: 1_800_000_030.0, monotonic=time.monotonic)
    )
    settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 5
    first = post("/images/generations", json={"prompt": "x", "size": "256x256"})
    second = post("/images/generations", json={"prompt": "x", "size": "256x256"})
    assert first.headers["x-ratelimit-limit-requests"] == "5"
    remaining = int(first.headers["x-ratelimit-remaining-requests"])
    assert int(second.headers["x-ratelimit-remaining-requests"]) == remaining - 1
    assert first.headers["x-ratelimit-reset-requests"] == "30s"
    for _ in range(remaining):
        post("/images/generations", json={"prompt": "x", "size": "256x256"})
    over = post("/images/generations", json={"prompt": "x", "size": "256x256"})
    assert over.status_code == 429
    assert over.headers["x-ratelimit-remaining-requests"] == "0"


ORIGIN = "https://app.example.com"


def test_cors_for_the_configured_origins(settings, endpoint_url, api_key):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    preflight = requests.options(
        f"{endpoint_url}/images/generations",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-stainless-os" in allowed
    answer = requests.post(
        f"{endpoint_url}/images/generations",
        json={"prompt": "x", "size": "256x256"},
        headers={"Origin": ORIGIN, "Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "x-novisurf-provider" in answer.headers["access-control-expose-headers"].lower()

    other = requests.options(
        f"{endpoint_url}/images/generations",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in other.headers
