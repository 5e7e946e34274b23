"""POST /v1/images/generations and GET /v1/models, served for real and called as clients call them.

The official ``openai`` SDK, plain ``requests`` and the real ``curl`` binary talk to Django's
live server on loopback; nothing HTTP is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import openai
import pytest
import requests
from django.core.signing import TimestampSigner, b62_encode
from PIL import Image

from api.models import ApiKey
from api.services import apikey_create, apikey_revoke, issued_image_create, issued_image_path
from novisurf.protocol import MAX_BODY_BYTES, MAX_PROMPT_CHARS, MODELS, PROCEDURAL_MODEL
from tests.utils import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

PROCEDURAL_SIZES = MODELS[PROCEDURAL_MODEL].sizes
ISSUED_IMAGE_SALT = "novisurf.api.issued-image"


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def sdk(endpoint_url, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)


@pytest.fixture
def generations_url(endpoint_url) -> str:
    return f"{endpoint_url}/images/generations"


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def expected_dimensions(size: str) -> tuple[int, int]:
    if size == "auto":
        return (1024, 1024)
    width, height = size.split("x")
    return int(width), int(height)


def b64_images(response) -> list[bytes]:
    return [base64.b64decode(item.b64_json, validate=True) for item in response.data]


def assert_error_envelope(response: requests.Response, status: int) -> dict:
    """The OpenAI error envelope with ``status``, as JSON; returns the ``error`` object."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].split(";")[0].strip() == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    return error


# -- the SDK, both response formats ---------------------------------------------------------


def test_sdk_b64_json(sdk):
    response = sdk.images.generate(
        prompt="a lighthouse on a cliff at sunset", response_format="b64_json", size="512x512"
    )
    assert isinstance(response.created, int)
    assert abs(response.created - time.time()) < 300
    assert len(response.data) == 1
    assert response.data[0].url is None
    image = decode(b64_images(response)[0])
    assert image.format == "PNG"
    assert image.size == (512, 512)


def test_sdk_url_is_absolute_and_downloads_without_credentials(sdk, live_server):
    response = sdk.images.generate(prompt="a quiet harbour at dawn", size="1536x1024", n=2)
    assert len(response.data) == 2
    for item in response.data:
        assert item.b64_json is None
        assert item.url.startswith(f"{live_server.url}/")
        # Plain requests, no key, no session: anyone with the link may fetch it for an hour.
        download = requests.get(item.url, timeout=10)
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "image/png"
        image = decode(download.content)
        assert image.size == (1536, 1024)
    assert response.data[0].url != response.data[1].url


def test_url_and_b64_json_carry_the_same_image(sdk):
    prompt = "a red kite over green hills"
    as_url = sdk.images.generate(prompt=prompt, size="256x256")
    as_b64 = sdk.images.generate(prompt=prompt, size="256x256", response_format="b64_json")
    downloaded = requests.get(as_url.data[0].url, timeout=10).content
    assert downloaded == b64_images(as_b64)[0]


def test_sdk_n_up_to_ten_gives_ten_different_images(sdk):
    response = sdk.images.generate(
        prompt="bubbles in a teal sea", n=10, size="256x256", response_format="b64_json"
    )
    images = b64_images(response)
    assert len(images) == 10
    assert len({hashlib.sha256(data).hexdigest() for data in images}) == 10
    for data in images:
        assert decode(data).size == (256, 256)


@pytest.mark.parametrize("size", PROCEDURAL_SIZES)
def test_sdk_every_procedural_size(sdk, size):
    response = sdk.images.generate(
        prompt="stripes of neon light", size=size, response_format="b64_json"
    )
    assert decode(b64_images(response)[0]).size == expected_dimensions(size)


def test_default_size_is_1024_square(sdk):
    response = sdk.images.generate(prompt="a pastel morning sky", response_format="b64_json")
    assert decode(b64_images(response)[0]).size == (1024, 1024)


@pytest.mark.parametrize("output_format, pillow_format", [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_format_is_honoured(sdk, output_format, pillow_format):
    response = sdk.images.generate(
        prompt="a dark forest",
        size="256x256",
        output_format=output_format,
        response_format="b64_json",
    )
    image = decode(b64_images(response)[0])
    assert image.format == pillow_format
    assert image.size == (256, 256)


def test_the_longest_prompt_is_accepted(sdk):
    response = sdk.images.generate(
        prompt="ocean " * (MAX_PROMPT_CHARS // 6), size="256x256", response_format="b64_json"
    )
    assert len(response.data) == 1


# -- determinism --------------------------------------------------------------------------------


def test_same_prompt_and_index_give_identical_bytes(sdk):
    def generate(prompt: str) -> list[bytes]:
        return b64_images(
            sdk.images.generate(prompt=prompt, n=3, size="256x256", response_format="b64_json")
        )

    first = generate("mountains under a starry night")
    second = generate("mountains under a starry night")
    assert first == second
    # Image i differs from image j within one request.
    assert len(set(first)) == 3
    # A single image is the first image of a larger request.
    one = b64_images(
        sdk.images.generate(
            prompt="mountains under a starry night", size="256x256", response_format="b64_json"
        )
    )
    assert one[0] == first[0]


def test_different_prompts_give_different_images(sdk):
    prompts = ["a red fox", "a red fox.", "a blue whale", "city skyline at night"]
    images = [
        b64_images(sdk.images.generate(prompt=p, size="256x256", response_format="b64_json"))[0]
        for p in prompts
    ]
    assert len(set(images)) == len(prompts)
    # Different in what they show, not just in their bytes.
    pixels = [decode(data).convert("RGB").tobytes() for data in images]
    assert len(set(pixels)) == len(prompts)


# -- errors through the SDK ---------------------------------------------------------------------


def test_sdk_bad_request(sdk):
    with pytest.raises(openai.BadRequestError) as info:
        sdk.images.generate(prompt="a red fox", n=11)
    assert info.value.status_code == 400
    assert info.value.body["param"] == "n"
    assert "'n'" in info.value.message


def test_sdk_bad_size(sdk):
    with pytest.raises(openai.BadRequestError) as info:
        sdk.images.generate(prompt="a red fox", size="999x999")
    assert info.value.body["param"] == "size"


def test_sdk_wrong_key(endpoint_url):
    client = openai.OpenAI(base_url=endpoint_url, api_key="dkai_not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.images.generate(prompt="a red fox")
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    # The key is not echoed back whole.
    assert "dkai_not-a-real-key" not in info.value.message


def test_sdk_unknown_model(sdk):
    with pytest.raises(openai.NotFoundError) as info:
        sdk.images.generate(prompt="a red fox", model="no-such-model")
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"
    assert "no-such-model" in info.value.message


def test_sdk_rate_limited(sdk, settings):
    settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 1
    sdk.images.generate(prompt="a red fox", size="256x256", response_format="b64_json")
    # Two more tries, in case the first landed just before the minute's window turned over.
    with pytest.raises(openai.RateLimitError) as info:
        for _ in range(2):
            sdk.images.generate(prompt="a red fox", size="256x256", response_format="b64_json")
    assert info.value.status_code == 429
    assert info.value.code == "rate_limit_exceeded"
    assert int(info.value.response.headers["Retry-After"]) >= 1


# -- bad inputs, one table ------------------------------------------------------------------------

GOOD_BODY = {"prompt": "a red fox", "size": "256x256", "response_format": "b64_json"}


def with_(**changes) -> str:
    return json.dumps(GOOD_BODY | changes)


def without(name: str) -> str:
    return json.dumps({k: v for k, v in GOOD_BODY.items() if k != name})


# (id, body (str|bytes), key ("good"|"none"|"wrong"|"prefixless"|"revoked"), method, status, param, code)
BAD_INPUTS = [
    (
        "missing prompt",
        without("prompt"),
        "good",
        "POST",
        400,
        "prompt",
        "missing_required_parameter",
    ),
    (
        "null prompt",
        with_(prompt=None),
        "good",
        "POST",
        400,
        "prompt",
        "missing_required_parameter",
    ),
    ("blank prompt", with_(prompt="   \n "), "good", "POST", 400, "prompt", None),
    (
        "too long prompt",
        with_(prompt="x" * (MAX_PROMPT_CHARS + 1)),
        "good",
        "POST",
        400,
        "prompt",
        "string_above_max_length",
    ),
    ("non-string prompt", with_(prompt=42), "good", "POST", 400, "prompt", "invalid_type"),
    ("list prompt", with_(prompt=["a", "b"]), "good", "POST", 400, "prompt", "invalid_type"),
    ("n 0", with_(n=0), "good", "POST", 400, "n", "integer_out_of_range"),
    ("n 11", with_(n=11), "good", "POST", 400, "n", "integer_out_of_range"),
    ("n 'two'", with_(n="two"), "good", "POST", 400, "n", "invalid_type"),
    ("n true", with_(n=True), "good", "POST", 400, "n", "invalid_type"),
    ("n 1.5", with_(n=1.5), "good", "POST", 400, "n", "invalid_type"),
    ("size '1024'", with_(size="1024"), "good", "POST", 400, "size", "invalid_value"),
    ("size 1x1", with_(size="1x1"), "good", "POST", 400, "size", "invalid_value"),
    ("size 999x999", with_(size="999x999"), "good", "POST", 400, "size", "invalid_value"),
    ("size 1024 (number)", with_(size=1024), "good", "POST", 400, "size", "invalid_type"),
    (
        "unknown response_format",
        with_(response_format="png"),
        "good",
        "POST",
        400,
        "response_format",
        "invalid_value",
    ),
    ("unknown field", with_(colour="red"), "good", "POST", 400, "colour", "unknown_parameter"),
    ("bad quality", with_(quality="ultra"), "good", "POST", 400, "quality", "invalid_value"),
    ("stream 'yes'", with_(stream="yes"), "good", "POST", 400, "stream", "invalid_type"),
    (
        "partial_images 4",
        with_(stream=True, partial_images=4),
        "good",
        "POST",
        400,
        "partial_images",
        "integer_out_of_range",
    ),
    (
        "transparent jpeg",
        with_(background="transparent", output_format="jpeg"),
        "good",
        "POST",
        400,
        "background",
        "invalid_value",
    ),
    (
        "unknown model",
        with_(model="no-such-model"),
        "good",
        "POST",
        404,
        "model",
        "model_not_found",
    ),
    (
        "forwarded model, no upstream",
        with_(model="gpt-image-1"),
        "good",
        "POST",
        404,
        "model",
        "model_not_found",
    ),
    ("invalid JSON", '{"prompt": "a red fox", ', "good", "POST", 400, None, "invalid_json"),
    ("not UTF-8", b'{"prompt": "\xff\xfe"}', "good", "POST", 400, None, "invalid_json"),
    ("deeply nested JSON", "[" * 100_000, "good", "POST", 400, None, "invalid_json"),
    (
        "lone surrogate in prompt",
        with_(prompt="\ud800 fox"),
        "good",
        "POST",
        400,
        "prompt",
        "invalid_value",
    ),
    ("JSON array", json.dumps([GOOD_BODY]), "good", "POST", 400, None, "invalid_type"),
    ("JSON string", json.dumps("a red fox"), "good", "POST", 400, None, "invalid_type"),
    ("JSON null", "null", "good", "POST", 400, None, "invalid_type"),
    ("empty body", "", "good", "POST", 400, None, "invalid_json"),
    ("whitespace body", "  \n", "good", "POST", 400, None, "invalid_json"),
    (
        "body too large",
        with_(prompt="x" * (MAX_BODY_BYTES + 10)),
        "good",
        "POST",
        413,
        None,
        "request_too_large",
    ),
    ("GET", "", "good", "GET", 405, None, "method_not_allowed"),
    ("PUT", with_(), "good", "PUT", 405, None, "method_not_allowed"),
    ("DELETE", "", "none", "DELETE", 405, None, "method_not_allowed"),
    ("no key", with_(), "none", "POST", 401, None, "invalid_api_key"),
    ("wrong key", with_(), "wrong", "POST", 401, None, "invalid_api_key"),
    ("wrong key without prefix", with_(), "prefixless", "POST", 401, None, "invalid_api_key"),
    ("revoked key", with_(), "revoked", "POST", 401, None, "invalid_api_key"),
]


@pytest.fixture
def revoked_key(user) -> str:
    api_key, raw_key = apikey_create(owner=user, name="revoked")
    apikey_revoke(api_key=api_key)
    return raw_key


@pytest.mark.parametrize(
    "body, key, method, status, param, code",
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_gets_the_error_envelope(
    generations_url, api_key, revoked_key, body, key, method, status, param, code
):
    keys = {
        "good": api_key,
        "wrong": "dkai_" + "x" * 43,
        "prefixless": "sk-" + "x" * 40,
        "revoked": revoked_key,
    }
    headers = {"Content-Type": "application/json"}
    if key != "none":
        headers["Authorization"] = f"Bearer {keys[key]}"
    response = requests.request(method, generations_url, data=body, headers=headers, timeout=30)
    assert response.status_code != 500
    error = assert_error_envelope(response, status)
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if status == 405:
        assert response.headers["Allow"] == "POST"
    if param is not None and status == 400:
        assert param in error["message"]


def test_an_oversized_body_without_content_length_is_refused(generations_url, api_key):
    # A chunked upload declares no length: the body's real size decides.
    def chunks():
        payload = with_(prompt="x" * (MAX_BODY_BYTES + 10)).encode()
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    response = requests.post(
        generations_url,
        data=chunks(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code != 500
    # 411 where the server cannot de-chunk (the test server); 413 where it can (gunicorn, ASGI).
    assert response.status_code in (411, 413)
    assert_error_envelope(response, response.status_code)


def test_unknown_v1_path_is_a_json_404(endpoint_url, api_key):
    response = requests.get(
        f"{endpoint_url}/images/edits-that-do-not-exist",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    assert assert_error_envelope(response, 404)["code"] == "unknown_url"


# -- headers and nulls ------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["bearer", "x-api-key", "lowercase bearer"])
def test_both_auth_headers_work(generations_url, api_key, header):
    headers = {
        "bearer": {"Authorization": f"Bearer {api_key}"},
        "x-api-key": {"X-API-Key": api_key},
        "lowercase bearer": {"authorization": f"bearer {api_key}"},
    }[header]
    response = requests.post(generations_url, json=GOOD_BODY, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert decode(base64.b64decode(response.json()["data"][0]["b64_json"])).size == (256, 256)


def test_sdk_style_extra_headers_are_tolerated(generations_url, api_key):
    response = requests.post(
        generations_url,
        json=GOOD_BODY,
        headers={
            "Authorization": f"Bearer {api_key}",
            "X-Stainless-Lang": "python",
            "X-Stainless-Package-Version": "9.9.9",
            "X-Stainless-OS": "Linux",
            "X-Stainless-Retry-Count": "0",
            "X-Stainless-Read-Timeout": "600",
            "OpenAI-Organization": "org-abc123",
            "OpenAI-Project": "proj_abc123",
            "OpenAI-Beta": "assistants=v2",
            "User-Agent": "OpenAI/Python 9.9.9",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_sdk_with_organization_and_project(endpoint_url, api_key):
    client = openai.OpenAI(
        base_url=endpoint_url,
        api_key=api_key,
        organization="org-abc123",
        project="proj_abc123",
        max_retries=0,
    )
    response = client.images.generate(
        prompt="a red fox", size="256x256", response_format="b64_json"
    )
    assert len(response.data) == 1


def test_null_values_mean_defaults(generations_url, api_key):
    body = {
        "prompt": "a field of sunflowers",
        "model": None,
        "n": None,
        "size": None,
        "response_format": None,
        "quality": None,
        "style": None,
        "user": None,
        "output_format": None,
        "output_compression": None,
        "background": None,
        "moderation": None,
    }
    response = requests.post(generations_url, json=body, headers={"X-API-Key": api_key}, timeout=30)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data) == 1
    # Default response_format is url, default size 1024x1024.
    assert set(data[0]) == {"url"}
    image = decode(requests.get(data[0]["url"], timeout=10).content)
    assert image.size == (1024, 1024)


def test_success_answer_shape(generations_url, api_key):
    response = requests.post(
        generations_url, json=GOOD_BODY | {"n": 2}, headers={"X-API-Key": api_key}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {
        "created",
        "data",
        "background",
        "output_format",
        "quality",
        "size",
        "usage",
    }
    assert isinstance(body["created"], int)
    assert [set(item) for item in body["data"]] == [{"b64_json"}, {"b64_json"}]
    assert (body["background"], body["output_format"], body["size"]) == (
        "opaque",
        "png",
        "256x256",
    )
    # Honest counts: one text token per word of the prompt, one image token per 32x32 block.
    words = len(GOOD_BODY["prompt"].split())
    assert body["usage"] == {
        "input_tokens": words,
        "input_tokens_details": {"text_tokens": words, "image_tokens": 0},
        "output_tokens": 2 * 8 * 8,
        "output_tokens_details": {"text_tokens": 0, "image_tokens": 2 * 8 * 8},
        "total_tokens": words + 2 * 8 * 8,
    }


# -- models -----------------------------------------------------------------------------------


def test_models_list_in_openai_shape(endpoint_url, api_key):
    response = requests.get(
        f"{endpoint_url}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["object"] == "list"
    by_id = {model["id"]: model for model in body["data"]}
    assert PROCEDURAL_MODEL in by_id
    procedural = by_id[PROCEDURAL_MODEL]
    assert procedural["object"] == "model"
    assert procedural["owned_by"] == "novisurf"
    assert isinstance(procedural["created"], int)
    # It says what it is.
    assert "not AI" in procedural["description"] or "not AI" in procedural["name"]
    # With no upstream, nothing else is offered.
    assert set(by_id) == {PROCEDURAL_MODEL}


def test_models_list_needs_a_key(endpoint_url):
    response = requests.get(f"{endpoint_url}/models", timeout=10)
    assert assert_error_envelope(response, 401)["code"] == "invalid_api_key"


def test_sdk_models_list_and_retrieve(sdk):
    ids = [model.id for model in sdk.models.list()]
    assert PROCEDURAL_MODEL in ids
    model = sdk.models.retrieve(PROCEDURAL_MODEL)
    assert model.id == PROCEDURAL_MODEL
    assert model.owned_by == "novisurf"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-image-1")


# -- issued image URLs ------------------------------------------------------------------------


class _SignerAt(TimestampSigner):
    """The issued-image signer, signing as if it were ``at`` (unix seconds)."""

    def __init__(self, at: float) -> None:
        super().__init__(salt=ISSUED_IMAGE_SALT)
        self.at = at

    def timestamp(self) -> str:
        return b62_encode(int(self.at))


@pytest.fixture
def issued(api_key):
    api_key_row = ApiKey.objects.get()
    return issued_image_create(api_key=api_key_row, data=png_bytes(), content_type="image/png")


def test_a_token_signed_a_minute_ago_still_works(live_server, issued):
    token = _SignerAt(time.time() - 60).sign(issued.pk.hex)
    response = requests.get(f"{live_server.url}/v1/files/{token}", timeout=10)
    assert response.status_code == 200
    assert response.content == png_bytes()
    # And the path the service builds is the same kind of link.
    response = requests.get(f"{live_server.url}{issued_image_path(issued)}", timeout=10)
    assert response.status_code == 200


def test_an_expired_url_is_a_json_404(live_server, issued):
    token = _SignerAt(time.time() - 60 * 60 - 5).sign(issued.pk.hex)
    response = requests.get(f"{live_server.url}/v1/files/{token}", timeout=10)
    assert assert_error_envelope(response, 404)["code"] == "not_found"


@pytest.mark.parametrize("how", ["signature", "image id", "garbage", "other salt"])
def test_a_tampered_url_is_a_json_404(live_server, issued, how):
    good = issued_image_path(issued).rsplit("/", 1)[1]
    value, timestamp, signature = good.split(":")
    token = {
        "signature": f"{value}:{timestamp}:{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        "image id": f"{'0' * 32}:{timestamp}:{signature}",
        "garbage": "not-a-token",
        "other salt": TimestampSigner(salt="something-else").sign(issued.pk.hex),
    }[how]
    response = requests.get(f"{live_server.url}/v1/files/{token}", timeout=10)
    assert assert_error_envelope(response, 404)["code"] == "not_found"


def test_a_url_whose_image_is_gone_is_a_json_404(live_server, issued):
    path = issued_image_path(issued)
    issued.delete()
    response = requests.get(f"{live_server.url}{path}", timeout=10)
    assert assert_error_envelope(response, 404)["code"] == "not_found"


# -- the README's curl example ------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"
README_BASE_URL = "http://127.0.0.1:8000/v1"
README_KEY = "dkai_..."
README_AUTH = f'"Authorization: Bearer {README_KEY}"'


def readme_curl_example() -> str:
    """The first ```sh block of README.md that is a curl command, exactly as written there."""
    blocks = re.findall(r"```(?:sh|bash|shell)\n(.*?)```", README.read_text(), flags=re.DOTALL)
    examples = [block for block in blocks if block.lstrip().startswith("curl ")]
    assert examples, "README.md has no curl example in a ```sh block"
    return examples[0]


@pytest.mark.parametrize("auth", ["Authorization: Bearer {key}", "X-API-Key: {key}"])
def test_readme_curl_example(endpoint_url, api_key, auth):
    example = readme_curl_example()
    # Only the URL and the key are put in, as a reader would; and the other header for X-API-Key.
    assert README_BASE_URL in example
    assert README_AUTH in example
    command = example.replace(README_BASE_URL, endpoint_url).replace(
        README_AUTH, f'"{auth.format(key=api_key)}"'
    )
    # -sS and the status line are the only additions: quiet progress, and a way to see the code.
    command = command.replace("curl ", "curl -sS -w '\\n%{http_code}' ", 1)
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "200", body
    data = json.loads(body)["data"]
    assert len(data) == 1
    download = requests.get(data[0]["url"], timeout=10)
    assert download.status_code == 200
    assert decode(download.content).size == (1024, 1024)


def test_readme_curl_example_sends_the_documented_body():
    words = shlex.split(readme_curl_example())
    assert json.loads(words[words.index("-d") + 1]) == {
        "prompt": "A clean product illustration of a cloud dashboard on a dark background",
        "n": 1,
        "size": "1024x1024",
    }


# -- fields the SDK knows that only some models use -------------------------------------------


def test_sdk_only_fields_are_accepted(sdk):
    result = sdk.images.generate(
        prompt="a quiet harbour",
        size="256x256",
        response_format="b64_json",
        safety_identifier="user-7",
        quality="high",
        output_format="webp",
        output_compression=80,
    )
    image = decode(b64_images(result)[0])
    assert image.format == "WEBP"
    assert image.size == (256, 256)


@pytest.mark.parametrize(("output_format", "pillow_format"), [("jpeg", "JPEG"), ("gif", "GIF")])
def test_output_formats_of_the_procedural_model(sdk, output_format, pillow_format):
    result = sdk.images.generate(
        prompt="a quiet harbour",
        size="256x256",
        response_format="b64_json",
        output_format=output_format,
    )
    assert decode(b64_images(result)[0]).format == pillow_format


def test_svg_from_the_procedural_model_is_a_clear_400(generations_url, api_key):
    response = requests.post(
        generations_url,
        json={"prompt": "a quiet harbour", "output_format": "svg"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    error = assert_error_envelope(response, 400)
    assert error["param"] == "output_format"
    assert "svg" in error["message"] and "png" in error["message"]


def test_an_issued_svg_is_served_with_the_sandbox_policy(live_server, api_key):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    issued = issued_image_create(
        api_key=ApiKey.objects.get(), data=svg, content_type="image/svg+xml"
    )
    response = requests.get(f"{live_server.url}{issued_image_path(issued)}", timeout=10)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
