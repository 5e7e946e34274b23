"""Money in the gallery: a form generation's cost is recorded, and the form refuses, before
anything is queued, a generation that could cross the person's monthly budget."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from api import budgets
from api.models import Spend, month_start
from gallery import services
from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL
from tests.utils import b64, png_bytes

FORM = {
    "prompt": "a priced lighthouse",
    "model": "dall-e-3",
    "n": 1,
    "size": "1024x1024",
    "response_format": "b64_json",
    "tags": [],
    "options": {"quality": "standard"},
}


def _spent(user, amount: str) -> None:
    Spend.objects.create(
        scope=f"user:{user.pk}",
        month=month_start(datetime.now(UTC)),
        spent_micros=budgets.to_micros(Decimal(amount)),
    )


@pytest.mark.django_db
def test_the_form_says_what_is_left_and_when_it_resets(user, settings):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.05")
    _spent(user, "0.03")
    with pytest.raises(services.LimitReached) as refused:
        services.generation_create(owner=user, **FORM)
    message = refused.value.message
    assert "$0.04" in message and "$0.02 is left" in message and "$0.05" in message
    resets = budgets.month_end(datetime.now(UTC))
    assert f"resets on {resets.day} {resets:%B %Y} at 00:00 UTC" in message
    assert not Generation.objects.exists()


@pytest.mark.django_db
def test_the_form_page_shows_the_refusal_and_the_free_renderer_is_never_refused(
    client, user, settings
):
    from django.core.cache import cache

    from gallery.provider_client import _models_cache_key

    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.01")
    # The endpoint listed dall-e-3 (the form offers only the models it listed).
    cache.set(
        _models_cache_key(),
        [{"id": m, "name": None, "streams": False} for m in ("dall-e-3", PROCEDURAL_MODEL)],
    )
    client.force_login(user)
    form = {"prompt": "too dear", "model": "dall-e-3", "n": 1, "size": "1024x1024"}
    response = client.post(reverse("gallery:generate"), form)
    assert response.status_code == 200
    assert "$0.01 is left of your monthly budget" in response.content.decode()
    assert not Generation.objects.exists()
    free = {**form, "model": PROCEDURAL_MODEL}
    assert client.post(reverse("gallery:generate"), free).status_code == 302
    assert Generation.objects.count() == 1


@pytest.mark.django_db
def test_room_left_queues_as_before(user, settings):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0.05")
    _spent(user, "0.01")
    assert services.generation_create(owner=user, **FORM).status == Generation.Status.QUEUED


@pytest.mark.django_db
def test_no_budget_means_no_limit(user, settings):
    settings.NOVISURF_USER_MONTHLY_BUDGET = Decimal("0")
    _spent(user, "500")
    services.generation_create(owner=user, **FORM)


@pytest.mark.django_db(transaction=True)
def test_a_form_generation_records_what_the_endpoint_charged(user, gallery_endpoint, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    generation = services.generation_create(
        owner=user,
        prompt="free and said so",
        model=PROCEDURAL_MODEL,
        n=1,
        size="256x256",
        response_format="b64_json",
        tags=[],
        options={"partial_images": 0},  # a plain answer, whose headers say what it cost
    )
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE
    assert generation.cost == 0
    assert generation.provider == "novisurf"


@pytest.mark.django_db
def test_a_providers_usage_prices_a_form_generation(user, settings, httpserver):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "sk-test"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    usage = {"input_tokens": 100, "output_tokens": 1000, "total_tokens": 1100}
    httpserver.expect_request("/v1/images/generations").respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes())}], "usage": usage}
    )
    generation = services.generation_create(
        owner=user,
        prompt="tokens",
        model="gpt-image-1",
        n=1,
        size="1024x1024",
        response_format="b64_json",
        tags=[],
    )
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    # 100 input tokens at $5/M and 1000 output tokens at $40/M.
    assert generation.cost == Decimal("0.0405")


@pytest.mark.django_db(transaction=True)
def test_a_streamed_form_generation_is_priced_as_the_endpoint_prices_it(
    user, settings, tmp_path, httpserver
):
    """The gallery's stream carries no cost header: the endpoint's price book (here a
    provider's flat price) prices it through the site's seam, not OpenAI's token prices."""
    path = tmp_path / "providers.toml"
    path.write_text(
        f"""
[[providers]]
name = "flat-cloud"
kind = "openai"
base_url = "{httpserver.url_for("/v1")}"
models = ["gpt-image-1"]
price_per_image = 0.02
"""
    )
    settings.NOVISURF_PROVIDERS_FILE = str(path)
    generation = Generation.objects.create(
        owner=user,
        prompt="streamed",
        model="gpt-image-1",
        n=1,
        size="1024x1024",
        response_format="b64_json",
        status=Generation.Status.DONE,
    )
    services.generation_cost_record(
        generation, usage={"input_tokens": 10, "output_tokens": 4000}, images=1
    )
    generation.refresh_from_db()
    assert generation.cost == Decimal("0.02")
    assert generation.provider == "flat-cloud"
