"""The Gemini adapter against a fake Gemini API on loopback (``tests/fakes/gemini.py``):
generateContent with image output, Imagen's predict, blocks and faults."""

from __future__ import annotations

import pytest

from api.renderers.base import KINDS, ProviderConfig
from api.renderers.gemini import GeminiRenderer, nearest_ratio
from novisurf.client import EndpointError, EndpointUnavailable, RateLimited
from novisurf.protocol import GenerationRequest, InputFile
from tests.fakes.gemini import KEY, FakeGemini
from tests.utils import png_bytes


@pytest.fixture
def gemini():
    with FakeGemini() as fake:
        yield fake


def renderer(url: str, *, key: str = KEY) -> GeminiRenderer:
    config = ProviderConfig(
        name="google",
        kind="gemini",
        base_url=url,
        api_key=key,
        models=("nano-banana", "imagen-4"),
        timeout=20.0,
        options={
            "retry_backoff": 0,
            "endpoints": {
                "nano-banana": "gemini-2.5-flash-image",
                "imagen-4": "imagen-4.0-generate-001",
            },
        },
    )
    GeminiRenderer.check_config(config)
    return GeminiRenderer(config)


def request(**fields) -> GenerationRequest:
    values = {
        "prompt": "a snail on a leaf",
        "model": "nano-banana",
        "n": 1,
        "size": "1536x1024",
        "response_format": "b64_json",
    }
    return GenerationRequest(**{**values, **fields})


def test_the_kind_is_registered():
    assert KINDS["gemini"] is GeminiRenderer


def test_nearest_ratio():
    assert nearest_ratio(1536, 1024, ("1:1", "3:2", "16:9")) == "3:2"
    assert nearest_ratio(1024, 1024, ("1:1", "3:2")) == "1:1"


def test_generate_content_makes_one_image_per_call(gemini):
    result = renderer(gemini.url).render(request(n=2))

    assert len(result.images) == 2
    sent = gemini.requests_to("/v1beta/models/gemini-2.5-flash-image:generateContent")
    assert len(sent) == 2
    body = sent[0].json
    assert body["contents"][0]["parts"][0] == {"text": "a snail on a leaf"}
    assert body["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]
    assert body["generationConfig"]["imageConfig"]["aspectRatio"] == "3:2"
    assert sent[0].headers["x-goog-api-key"] == KEY


def test_an_edit_sends_the_image_as_an_inline_part(gemini):
    image = InputFile("image", "photo.png", "image/png", png_bytes((32, 32)))
    renderer(gemini.url).render(request(images=(image,)))
    (sent,) = gemini.requests_to("/v1beta/models/gemini-2.5-flash-image:generateContent")
    assert sent.json["contents"][0]["parts"][1]["inline_data"]["mime_type"] == "image/png"


def test_imagen_predicts_every_image_in_one_call(gemini):
    result = renderer(gemini.url).render(request(model="imagen-4", n=3, size="1024x1024"))
    assert len(result.images) == 3
    (sent,) = gemini.requests_to("/v1beta/models/imagen-4.0-generate-001:predict")
    assert sent.json["parameters"]["sampleCount"] == 3
    assert sent.json["parameters"]["aspectRatio"] == "1:1"


def test_a_blocked_prompt_is_a_refusal_naming_the_reason(gemini):
    gemini.block_prompt = "PROHIBITED_CONTENT"
    with pytest.raises(EndpointError) as caught:
        renderer(gemini.url).render(request())
    assert caught.value.code == "moderation_blocked"
    assert "PROHIBITED_CONTENT" in caught.value.message


def test_a_blocked_image_is_a_refusal(gemini):
    gemini.finish_reason = "IMAGE_SAFETY"
    with pytest.raises(EndpointError, match="IMAGE_SAFETY"):
        renderer(gemini.url).render(request())


def test_imagen_filtering_every_image_is_a_refusal(gemini):
    gemini.block_prompt = "yes"
    with pytest.raises(EndpointError, match="safety filter"):
        renderer(gemini.url).render(request(model="imagen-4"))


def test_a_bad_key_reports_googles_words(gemini):
    with pytest.raises(EndpointError, match="API key not valid"):
        renderer(gemini.url, key="wrong").render(request())


def test_quota_exhaustion_is_a_rate_limit(gemini):
    gemini.status_faults = [(429, {"Retry-After": "0"})]
    assert renderer(gemini.url).render(request()).images
    gemini.status_faults = [(429, {"Retry-After": "60"})]
    with pytest.raises(RateLimited, match="Resource has been exhausted"):
        renderer(gemini.url).render(request())


def test_a_failing_api_is_unavailable(gemini):
    gemini.status_faults = [(500, {})] * 5
    with pytest.raises(EndpointUnavailable, match="Internal error"):
        renderer(gemini.url).render(request())


def test_an_image_that_is_not_one_is_an_error(gemini):
    gemini.not_an_image = True
    with pytest.raises(EndpointUnavailable, match="not an image"):
        renderer(gemini.url).render(request())
