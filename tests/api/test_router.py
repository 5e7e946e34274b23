"""The router: every answer names its provider, a providers file routes models to providers of
each kind, aliases fall back on retryable failures only, and one provider's trouble is its own.

The providers are real HTTP servers on loopback (pytest-httpserver); our endpoint is Django's live
server; the caller is the official SDK or plain requests.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import openai
import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.utils import b64, png_bytes, settle

pytestmark = pytest.mark.django_db(transaction=True)

AZURE_KEY = "azure-secret-key"


@pytest.fixture
def second_server():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def providers_file(settings, tmp_path, monkeypatch):
    """Write ``text`` as the providers file the settings name."""
    monkeypatch.setenv("AZURE_TEST_KEY", AZURE_KEY)

    def write(text: str):
        path = tmp_path / "providers.toml"
        path.write_text(text)
        settings.NOVISURF_PROVIDERS_FILE = str(path)
        return path

    return write


@pytest.fixture
def post(endpoint_url, api_key):
    def post(body: dict, **kwargs) -> requests.Response:
        return requests.post(
            f"{endpoint_url}/images/generations",
            json=body,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
            **kwargs,
        )

    return post


def image_answer(colour=(10, 200, 30)) -> dict:
    return {"created": 1, "data": [{"b64_json": b64(png_bytes(colour=colour))}]}


def test_the_built_in_renderer_names_itself(post):
    response = post({"prompt": "a red circle", "size": "256x256"})
    assert response.status_code == 200
    assert response.headers["x-novisurf-provider"] == "novisurf"


def test_a_stream_names_its_provider(post):
    response = post({"prompt": "x", "size": "256x256", "stream": True, "partial_images": 1})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["x-novisurf-provider"] == "novisurf"


def test_the_upstream_settings_are_one_openai_provider(settings, httpserver, post):
    settings.NOVISURF_UPSTREAM_BASE = httpserver.url_for("/v1")
    httpserver.expect_request("/v1/images/generations").respond_with_json(image_answer())
    response = post({"prompt": "x", "model": "gpt-image-2"})
    assert response.status_code == 200, response.text
    assert response.headers["x-novisurf-provider"] == "upstream"


def test_azure_deployment_api_version_and_key_header(providers_file, httpserver, sdk_for):
    providers_file(
        f"""
[[providers]]
name = "my-azure"
kind = "azure"
base_url = "{httpserver.url_for("/")}"
api_key = "env:AZURE_TEST_KEY"
models = ["gpt-image-1.5"]
api_version = "2025-04-01-preview"
deployments = {{ "gpt-image-1.5" = "images-prod" }}
"""
    )
    httpserver.expect_request(
        "/openai/deployments/images-prod/images/generations",
        method="POST",
        query_string={"api-version": "2025-04-01-preview"},
        headers={"api-key": AZURE_KEY},
    ).respond_with_json(image_answer())
    raw = sdk_for().images.with_raw_response.generate(prompt="a lighthouse", model="gpt-image-1.5")
    assert raw.headers["x-novisurf-provider"] == "my-azure"
    assert raw.parse().data[0].b64_json
    (sent,) = [req for req, _ in httpserver.log]
    assert "Authorization" not in sent.headers
    assert sent.get_json()["prompt"] == "a lighthouse"
    assert "model" not in sent.get_json()  # the deployment is the model


def test_azure_v1_names_the_deployment_as_the_model(providers_file, httpserver, post):
    providers_file(
        f"""
[[providers]]
name = "az"
kind = "azure"
base_url = "{httpserver.url_for("/")}"
api_key = "env:AZURE_TEST_KEY"
models = ["house-style"]
api_version = "v1"
deployments = {{ house-style = "flux-deploy" }}
"""
    )
    httpserver.expect_request(
        "/openai/v1/images/generations", headers={"api-key": AZURE_KEY}
    ).respond_with_json(image_answer())
    response = post({"prompt": "x", "model": "house-style"})
    assert response.status_code == 200, response.text
    (sent,) = [req for req, _ in httpserver.log]
    assert sent.get_json()["model"] == "flux-deploy"


@pytest.fixture
def sdk_for(endpoint_url, api_key):
    def make() -> openai.OpenAI:
        return openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)

    return make


def two_providers(
    providers_file, first: HTTPServer, second: HTTPServer, timeout=2, **extra
) -> None:
    lines = "\n".join(f"{k} = {v}" for k, v in extra.items())
    providers_file(
        f"""
[[providers]]
name = "first"
kind = "openai"
base_url = "{first.url_for("/v1")}"
models = ["model-a"]
timeout = {timeout}
max_retries = 0
{lines}

[[providers]]
name = "second"
kind = "openai"
base_url = "{second.url_for("/v1")}"
models = ["model-b"]
max_retries = 0

[[aliases]]
name = "fast"
models = ["model-a", "model-b"]
"""
    )


def test_an_alias_falls_back_on_a_500(providers_file, httpserver, second_server, sdk_for):
    two_providers(providers_file, httpserver, second_server)
    httpserver.expect_request("/v1/images/generations").respond_with_json(
        {"error": {"message": "GPU on fire", "type": "server_error"}}, status=500
    )
    second_server.expect_request("/v1/images/generations").respond_with_json(image_answer())
    raw = sdk_for().images.with_raw_response.generate(
        prompt="x", model="fast", response_format="b64_json"
    )
    assert raw.headers["x-novisurf-provider"] == "second"
    assert raw.parse().data[0].b64_json
    (sent,) = [req for req, _ in second_server.log]
    assert sent.get_json()["model"] == "model-b"  # each provider hears its own model's name


def test_an_alias_falls_back_on_a_429_and_an_unreachable_provider(
    providers_file, httpserver, second_server, post
):
    two_providers(providers_file, httpserver, second_server)
    httpserver.expect_request("/v1/images/generations").respond_with_response(
        Response('{"error": {"message": "slow down"}}', status=429, headers={"Retry-After": "60"})
    )
    second_server.expect_request("/v1/images/generations").respond_with_json(image_answer())
    response = post({"prompt": "x", "model": "fast"})
    assert response.status_code == 200, response.text
    assert response.headers["x-novisurf-provider"] == "second"

    httpserver.stop()  # the first provider is now unreachable
    response = post({"prompt": "x", "model": "fast"})
    assert response.status_code == 200, response.text
    assert response.headers["x-novisurf-provider"] == "second"
    httpserver.start()


def test_an_alias_does_not_fall_back_on_a_refusal(providers_file, httpserver, second_server, post):
    two_providers(providers_file, httpserver, second_server)
    httpserver.expect_request("/v1/images/generations").respond_with_json(
        {"error": {"message": "Your prompt was refused", "code": "content_policy_violation"}},
        status=400,
    )
    response = post({"prompt": "x", "model": "fast"})
    assert response.status_code == 400
    assert "refused" in response.json()["error"]["message"]
    assert response.headers["x-novisurf-provider"] == "first"
    assert second_server.log == []


def test_an_alias_whose_providers_all_fail_says_the_last_reason(
    providers_file, httpserver, second_server, post
):
    two_providers(providers_file, httpserver, second_server)
    httpserver.expect_request("/v1/images/generations").respond_with_data("oops", status=503)
    second_server.expect_request("/v1/images/generations").respond_with_data("{broken", status=200)
    response = post({"prompt": "x", "model": "fast"})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["message"].startswith("Provider second:")
    assert response.headers["x-novisurf-provider"] == "second"


def test_a_provider_that_is_down_fails_only_its_own_models(
    providers_file, httpserver, second_server, post
):
    two_providers(providers_file, httpserver, second_server)
    httpserver.stop()
    second_server.expect_request("/v1/images/generations").respond_with_json(image_answer())
    down = post({"prompt": "x", "model": "model-a"})
    assert down.status_code == 502
    assert down.json()["error"]["message"].startswith("Provider first:")
    assert post({"prompt": "x", "model": "model-b"}).status_code == 200
    assert post({"prompt": "x", "size": "256x256"}).status_code == 200  # built in
    httpserver.start()


def test_a_slow_provider_is_a_504(providers_file, httpserver, second_server, post):
    two_providers(providers_file, httpserver, second_server)

    def slow(request):
        time.sleep(3)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/v1/images/generations").respond_with_handler(slow)
    response = post({"prompt": "x", "model": "model-a"})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    settle(httpserver, 1)


def test_a_provider_at_its_cap_makes_the_next_request_wait_then_429(
    providers_file, httpserver, second_server, post, monkeypatch
):
    from api.renderers import registry

    monkeypatch.setattr(registry, "SLOT_WAIT_SECONDS", 0.2)
    two_providers(providers_file, httpserver, second_server, timeout=20, max_concurrency=1)
    release, started = threading.Event(), threading.Event()

    def held(request):
        started.set()
        release.wait(10)
        return Response(json.dumps(image_answer()), content_type="application/json")

    httpserver.expect_request("/v1/images/generations").respond_with_handler(held)
    results = {}
    first = threading.Thread(
        target=lambda: results.setdefault("first", post({"prompt": "x", "model": "model-a"}))
    )
    first.start()
    assert started.wait(10)
    try:
        busy = post({"prompt": "x", "model": "model-a"})
        assert busy.status_code == 429
        assert busy.json()["error"]["code"] == "provider_busy"
        assert busy.headers["Retry-After"]
    finally:
        release.set()
        first.join(10)
    assert results["first"].status_code == 200


def test_a_plain_provider_asked_to_stream_answers_a_stream_all_the_same(settings, sdk_for):
    from tests.fakes.openai_plain import KEY, FakePlainOpenAI

    with FakePlainOpenAI() as plain:
        settings.NOVISURF_UPSTREAM_BASE = f"{plain.url}/v1"
        settings.NOVISURF_UPSTREAM_KEY = KEY
        events = list(
            sdk_for().images.generate(
                prompt="x", model="gpt-image-1.5", size="1024x1024", stream=True, partial_images=1
            )
        )
    # It ignored stream and answered JSON with a URL: the client still gets the SDK's events,
    # the image inlined as base64.
    assert [event.type for event in events] == ["image_generation.completed"]
    assert base64.b64decode(events[0].b64_json).startswith(b"\x89PNG")
    (sent,) = plain.requests_to("/v1/images/generations")
    assert sent.json["stream"] is True
