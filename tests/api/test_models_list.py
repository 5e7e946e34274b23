"""GET /v1/models tells the truth: exactly the models that can answer, owned by their provider,
with what each can do; and a key limited to some models gets the others as a 404."""

from __future__ import annotations

import openai
import pytest
import requests

from api.models import ApiKey
from api.services import apikey_create
from novisurf.protocol import PROCEDURAL_MODEL

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def providers(settings, tmp_path, httpserver):
    path = tmp_path / "providers.toml"
    path.write_text(
        f"""
[[providers]]
name = "local-ai"
kind = "openai"
base_url = "{httpserver.url_for("/v1")}"
models = ["flux-schnell", "gpt-image-2"]

[[providers]]
name = "forge"
kind = "a1111"
base_url = "http://127.0.0.1:9"
models = ["sdxl-forge"]

[[aliases]]
name = "fast"
models = ["sdxl-forge", "flux-schnell"]
"""
    )
    settings.NOVISURF_PROVIDERS_FILE = str(path)
    return httpserver


def listed(endpoint_url: str, raw_key: str) -> dict[str, dict]:
    response = requests.get(
        f"{endpoint_url}/models", headers={"Authorization": f"Bearer {raw_key}"}, timeout=10
    )
    assert response.status_code == 200
    return {model["id"]: model for model in response.json()["data"]}


def test_nothing_configured_lists_the_built_in_model_only(endpoint_url, api_key):
    models = listed(endpoint_url, api_key)
    assert list(models) == [PROCEDURAL_MODEL]
    assert models[PROCEDURAL_MODEL]["streams"] is True
    assert models[PROCEDURAL_MODEL]["edits"] is True


def test_each_provider_and_alias_is_listed_with_its_owner_and_abilities(
    providers, endpoint_url, api_key
):
    models = listed(endpoint_url, api_key)
    assert set(models) == {PROCEDURAL_MODEL, "flux-schnell", "gpt-image-2", "sdxl-forge", "fast"}
    assert models[PROCEDURAL_MODEL]["owned_by"] == "novisurf"
    assert models["flux-schnell"]["owned_by"] == "local-ai"
    assert models["sdxl-forge"]["owned_by"] == "forge"
    assert models["fast"]["owned_by"] == "forge"  # its first model's provider
    assert models["fast"]["aliases"] == ["sdxl-forge", "flux-schnell"]
    # From the protocol table for OpenAI's own models, from the kind for the others.
    assert models["gpt-image-2"]["streams"] is True
    assert models["gpt-image-2"]["sizes"] == ["1024x1024", "1536x1024", "1024x1536", "auto"]
    assert models["flux-schnell"]["streams"] is False  # an OpenAI-compatible server may not
    assert models["sdxl-forge"]["streams"] is True  # A1111 previews its progress
    for model in models.values():
        assert model["object"] == "model"
        assert isinstance(model["created"], int)


def test_the_sdk_lists_and_retrieves_them(providers, endpoint_url, api_key):
    sdk = openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)
    assert "sdxl-forge" in [model.id for model in sdk.models.list()]
    assert sdk.models.retrieve("sdxl-forge").owned_by == "forge"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("dall-e-3")


def test_a_model_without_a_provider_says_none_is_set_up(endpoint_url, api_key):
    sdk = openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        sdk.images.generate(prompt="x", model="gpt-image-2")
    assert info.value.code == "model_not_found"
    assert "No provider is set up for the model 'gpt-image-2'" in info.value.message


def test_a_key_limited_to_some_models(providers, user, endpoint_url):
    row, raw_key = apikey_create(owner=user, name="limited")
    row.allowed_models = [PROCEDURAL_MODEL, "fast"]
    row.save()
    assert set(listed(endpoint_url, raw_key)) == {PROCEDURAL_MODEL, "fast"}
    sdk = openai.OpenAI(base_url=endpoint_url, api_key=raw_key, max_retries=0)
    assert sdk.images.generate(prompt="x", size="256x256").data
    with pytest.raises(openai.NotFoundError) as info:
        sdk.images.generate(prompt="x", model="flux-schnell")
    assert info.value.code == "model_not_found"
    assert "this API key may use novisurf-procedural, fast only" in info.value.message
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("flux-schnell")
    assert providers.log == []


def test_the_keys_page_sets_a_keys_models(providers, client, user):
    row, _ = apikey_create(owner=user, name="script")
    client.force_login(user)
    page = client.get("/keys/")
    assert 'aria-label="Allowed models for key' in page.content.decode()
    response = client.post(f"/keys/{row.pk}/models", {"models": "fast, sdxl-forge"}, follow=True)
    assert "may use fast, sdxl-forge" in response.content.decode()
    row.refresh_from_db()
    assert row.allowed_models == ["fast", "sdxl-forge"]
    response = client.post(f"/keys/{row.pk}/models", {"models": "fsat"}, follow=True)
    assert "No provider serves fsat" in response.content.decode()
    row.refresh_from_db()
    assert row.allowed_models == ["fast", "sdxl-forge"]
    client.post(f"/keys/{row.pk}/models", {"models": ""})
    assert ApiKey.objects.get(pk=row.pk).allowed_models == []


def test_another_persons_key_is_a_404(providers, client, user, other_user):
    row, _ = apikey_create(owner=other_user, name="theirs")
    client.force_login(user)
    assert client.post(f"/keys/{row.pk}/models", {"models": "fast"}).status_code == 404
