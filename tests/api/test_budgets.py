"""Prices and budgets at the endpoint: every answer's x-novisurf-cost from the price book or the
provider's usage, to the cent; a monthly budget per person and per key that concurrent requests
cannot overspend, refused with 429 insufficient_quota as OpenAI does.

The provider is a real HTTP server on loopback (pytest-httpserver); our endpoint is Django's live
server; the callers are the official SDK and plain requests in threads.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import openai
import pytest
import requests

from api import budgets
from api.models import ApiKey, Spend
from api.services import apikey_create
from gallery.models import UserLimits
from tests.utils import b64, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT = 20


@pytest.fixture
def upstream(settings, httpserver):
    settings.NOVISURF_UPSTREAM_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_UPSTREAM_KEY = "sk-upstream"
    settings.NOVISURF_UPSTREAM_TIMEOUT = 10.0
    return httpserver


def one_image(**fields) -> dict:
    return {"created": 1, "data": [{"b64_json": b64(png_bytes())}], **fields}


def post(endpoint_url: str, key: str, body: dict) -> requests.Response:
    return requests.post(
        f"{endpoint_url}/images/generations",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def spent(scope: str) -> Decimal:
    row = Spend.objects.filter(scope=scope).first()
    return budgets.from_micros(row.spent_micros) if row else Decimal(0)


def reserved(scope: str) -> int:
    row = Spend.objects.filter(scope=scope).first()
    return row.reserved_micros if row else 0


# -- costs -----------------------------------------------------------------------------------


def test_the_built_in_renderer_costs_nothing(endpoint_url, api_key):
    response = post(endpoint_url, api_key, {"prompt": "free", "size": "256x256"})
    assert response.status_code == 200
    assert response.headers["x-novisurf-cost"] == "0.00"


def test_a_price_book_answer_costs_its_table_price(endpoint_url, api_key, user, upstream):
    upstream.expect_request("/v1/images/generations").respond_with_json(one_image())
    response = post(
        endpoint_url,
        api_key,
        {
            "prompt": "hd and wide",
            "model": "dall-e-3",
            "quality": "hd",
            "size": "1792x1024",
            "response_format": "b64_json",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-novisurf-cost"] == "0.12"
    assert spent(f"user:{user.pk}") == Decimal("0.12")


def test_a_providers_usage_prices_the_answer_to_the_cent(endpoint_url, api_key, user, upstream):
    usage = {
        "input_tokens": 50,
        "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
        "output_tokens": 4160,
        "total_tokens": 4210,
    }
    upstream.expect_request("/v1/images/generations").respond_with_json(one_image(usage=usage))
    sdk = openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)
    raw = sdk.images.with_raw_response.generate(prompt="tokens", model="gpt-image-1")
    # 40 text tokens at $5/M, 10 image tokens at $10/M, 4160 output tokens at $40/M.
    expected = Decimal("0.0002") + Decimal("0.0001") + Decimal("0.1664")
    assert Decimal(raw.headers["x-novisurf-cost"]) == expected
    assert raw.parse().usage.output_tokens == 4160
    assert spent(f"user:{user.pk}") == expected


def test_a_providers_price_per_image_overrides_the_book(
    endpoint_url, api_key, settings, tmp_path, httpserver
):
    path = tmp_path / "providers.toml"
    path.write_text(
        f"""
[[providers]]
name = "cheap-cloud"
kind = "openai"
base_url = "{httpserver.url_for("/v1")}"
models = ["gpt-image-1"]
price_per_image = 0.015
"""
    )
    settings.NOVISURF_PROVIDERS_FILE = str(path)
    httpserver.expect_request("/v1/images/generations").respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes())}, {"b64_json": b64(png_bytes())}]}
    )
    response = post(endpoint_url, api_key, {"prompt": "two", "model": "gpt-image-1", "n": 2})
    assert response.status_code == 200, response.text
    assert response.headers["x-novisurf-provider"] == "cheap-cloud"
    assert response.headers["x-novisurf-cost"] == "0.03"


# -- budgets ---------------------------------------------------------------------------------


def _hammer(endpoint_url: str, key: str, body: dict) -> list[requests.Response]:
    """CONCURRENT requests released at once, each from its own thread."""
    start = threading.Barrier(CONCURRENT)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait(timeout=30)
        response = post(endpoint_url, key, body)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == CONCURRENT
    return answers


STANDARD_IMAGE = {
    "prompt": "four cents each",
    "model": "dall-e-3",
    "quality": "standard",
    "size": "1024x1024",
    "response_format": "b64_json",
}


def _refused(response: requests.Response) -> bool:
    if response.status_code != 429:
        return False
    error = response.json()["error"]
    assert error["type"] == error["code"] == "insufficient_quota"
    assert response.headers["x-should-retry"] == "false"  # the SDK does not ask again
    assert "$" in error["message"] and "resets" in error["message"]
    return True


def test_a_persons_budget_holds_under_concurrent_requests(
    endpoint_url, api_key, user, upstream, settings
):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.20")  # five images at $0.04
    upstream.expect_request("/v1/images/generations").respond_with_json(one_image())
    answers = _hammer(endpoint_url, api_key, STANDARD_IMAGE)
    served = [a for a in answers if a.status_code == 200]
    assert all(a.status_code == 200 or _refused(a) for a in answers)
    assert len(served) == 5
    assert sum(Decimal(a.headers["x-novisurf-cost"]) for a in served) == Decimal("0.20")
    assert spent(f"user:{user.pk}") == Decimal("0.20")
    assert reserved(f"user:{user.pk}") == 0
    # Spent to the cent: the next one is refused before the provider is asked.
    asked = len(upstream.log)
    assert _refused(post(endpoint_url, api_key, STANDARD_IMAGE))
    assert len(upstream.log) == asked


def test_a_keys_budget_holds_under_concurrent_requests(endpoint_url, user, upstream):
    key, raw = apikey_create(owner=user, name="capped", monthly_budget=Decimal("0.12"))
    upstream.expect_request("/v1/images/generations").respond_with_json(one_image())
    answers = _hammer(endpoint_url, raw, STANDARD_IMAGE)
    assert all(a.status_code == 200 or _refused(a) for a in answers)
    assert sum(a.status_code == 200 for a in answers) == 3
    assert spent(f"key:{key.pk}") == Decimal("0.12")
    # Another key of the same person is not held back by this key's budget.
    _, other = apikey_create(owner=user, name="free")
    assert post(endpoint_url, other, STANDARD_IMAGE).status_code == 200


def test_a_persons_own_budget_from_the_admin_overrides_the_default(
    endpoint_url, api_key, user, upstream, settings
):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("100")
    UserLimits.objects.create(user=user, monthly_budget=Decimal("0.05"))
    upstream.expect_request("/v1/images/generations").respond_with_json(one_image())
    assert post(endpoint_url, api_key, STANDARD_IMAGE).status_code == 200
    assert _refused(post(endpoint_url, api_key, STANDARD_IMAGE))


def test_a_failing_provider_spends_nothing_and_frees_its_hold(
    endpoint_url, api_key, user, upstream, settings
):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.04")
    upstream.expect_request("/v1/images/generations").respond_with_data("down", status=500)
    assert post(endpoint_url, api_key, STANDARD_IMAGE).status_code == 502
    assert spent(f"user:{user.pk}") == 0 and reserved(f"user:{user.pk}") == 0
    upstream.clear()
    upstream.expect_request("/v1/images/generations").respond_with_json(one_image())
    assert post(endpoint_url, api_key, STANDARD_IMAGE).status_code == 200


def test_a_refusal_costs_nothing(endpoint_url, api_key):
    response = post(endpoint_url, api_key, {"prompt": ""})
    assert response.status_code == 400
    assert response.headers["x-novisurf-cost"] == "0.00"


def test_the_sdk_sees_insufficient_quota(endpoint_url, api_key, upstream, settings):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.01")
    # The SDK's own retries left on: told not to, it asks once and raises.
    sdk = openai.OpenAI(base_url=endpoint_url, api_key=api_key)
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.images.generate(**{k: v for k, v in STANDARD_IMAGE.items()})
    assert raised.value.code == "insufficient_quota"
    assert raised.value.body["type"] == "insufficient_quota"
    assert not upstream.log


def test_the_free_renderer_is_never_refused(endpoint_url, api_key, settings):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.01")
    assert post(endpoint_url, api_key, {"prompt": "free", "size": "256x256"}).status_code == 200


def test_the_gallerys_key_spends_the_budget_of_the_person_it_names(
    endpoint_url, user, other_user, upstream, settings
):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.04")
    _, service = apikey_create(owner=user, name="gallery", is_service=True)
    upstream.expect_request("/v1/images/generations").respond_with_json(one_image())
    body = {**STANDARD_IMAGE, "user": f"novisurf:{other_user.pk}"}
    assert post(endpoint_url, service, body).status_code == 200
    assert spent(f"user:{other_user.pk}") == Decimal("0.04")
    assert spent(f"user:{user.pk}") == 0
    assert _refused(post(endpoint_url, service, body))
    # An outside key cannot spend someone else's budget by naming them.
    _, outside = apikey_create(owner=user, name="mine")
    assert post(endpoint_url, outside, body).status_code == 200
    assert spent(f"user:{user.pk}") == Decimal("0.04")
    assert ApiKey.objects.count() == 2
