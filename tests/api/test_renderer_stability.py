"""The Stability AI adapter against a fake v2beta Stable Image API on loopback
(``tests/fakes/stability.py``): multipart generate and inpaint calls, refusals and faults."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from api.renderers.base import KINDS, ProviderConfig, ProviderConfigError
from api.renderers.stability import StabilityRenderer
from novisurf.client import EndpointError, EndpointUnavailable, RateLimited
from novisurf.protocol import GenerationRequest, InputFile
from tests.fakes.stability import KEY, FakeStability
from tests.utils import png_bytes


@pytest.fixture
def stability():
    with FakeStability() as fake:
        yield fake


def renderer(url: str, *, key: str = KEY, **options) -> StabilityRenderer:
    config = ProviderConfig(
        name="stability",
        kind="stability",
        base_url=url,
        api_key=key,
        models=("sd-core", "sd35"),
        timeout=20.0,
        options={
            "retry_backoff": 0,
            "endpoints": {"sd-core": "core", "sd35": "sd3:sd3.5-large"},
            **options,
        },
    )
    StabilityRenderer.check_config(config)
    return StabilityRenderer(config)


def request(**fields) -> GenerationRequest:
    values = {
        "prompt": "a lantern in fog",
        "model": "sd-core",
        "n": 1,
        "size": "1344x768",
        "response_format": "b64_json",
    }
    return GenerationRequest(**{**values, **fields})


def test_the_kind_is_registered():
    assert KINDS["stability"] is StabilityRenderer


def test_generate_is_multipart_with_the_nearest_aspect_ratio(stability):
    result = renderer(stability.url).render(request(n=2))

    assert len(result.images) == 2
    assert Image.open(io.BytesIO(result.images[0].data)).size == (1344, 768)
    sent = stability.requests_to("/v2beta/stable-image/generate/core")
    assert len(sent) == 2
    assert sent[0].form["prompt"] == "a lantern in fog"
    assert sent[0].form["aspect_ratio"] == "16:9"
    assert sent[0].headers["accept"] == "application/json"


def test_an_sd3_model_is_named_in_the_form(stability):
    renderer(stability.url).render(request(model="sd35"))
    (sent,) = stability.requests_to("/v2beta/stable-image/generate/sd3")
    assert sent.form["model"] == "sd3.5-large"


def test_an_edit_with_a_mask_goes_to_inpaint(stability):
    image = InputFile("image", "photo.png", "image/png", png_bytes((64, 64)))
    mask = InputFile("mask", "mask.png", "image/png", png_bytes((64, 64), (0, 0, 0)))
    renderer(stability.url).render(request(images=(image,), mask=mask))
    (sent,) = stability.requests_to("/v2beta/stable-image/edit/inpaint")
    assert set(sent.files) == {"image", "mask"}


def test_moderation_reports_stabilitys_words(stability):
    stability.moderate = True
    with pytest.raises(EndpointError) as caught:
        renderer(stability.url).render(request())
    assert caught.value.status == 403
    assert "flagged by our content moderation system" in caught.value.message


def test_a_filtered_image_is_a_refusal(stability):
    stability.filtered = True
    with pytest.raises(EndpointError) as caught:
        renderer(stability.url).render(request())
    assert caught.value.code == "moderation_blocked"


def test_a_bad_key_is_refused_in_stabilitys_words(stability):
    with pytest.raises(EndpointError, match="invalid or missing header value"):
        renderer(stability.url, key="sk-wrong").render(request())


def test_a_rate_limit_is_waited_out_or_reported(stability):
    stability.status_faults = [(429, {"Retry-After": "0"})]
    assert renderer(stability.url).render(request()).images
    stability.status_faults = [(429, {"Retry-After": "60"})]
    with pytest.raises(RateLimited, match="150 requests"):
        renderer(stability.url).render(request())


def test_a_failing_api_is_unavailable(stability):
    stability.status_faults = [(500, {})] * 5
    with pytest.raises(EndpointUnavailable, match="unexpected server error"):
        renderer(stability.url).render(request())


def test_an_image_that_is_not_one_is_an_error(stability):
    stability.not_an_image = True
    with pytest.raises(EndpointUnavailable, match="not an image"):
        renderer(stability.url).render(request())


def test_an_unknown_service_is_refused_at_startup():
    with pytest.raises(ProviderConfigError, match="sd-core = 'core3'"):
        renderer("http://127.0.0.1:1", endpoints={"sd-core": "core3"})
