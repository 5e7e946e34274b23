"""The fal adapter against a fake fal queue and media host on loopback (``tests/fakes/fal.py``):
submit, poll the status until COMPLETED, read the response, download the images; faults."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from api.renderers.base import KINDS, ProviderConfig
from api.renderers.fal import FalRenderer
from novisurf.client import EndpointError, EndpointTimeout, EndpointUnavailable, RateLimited
from novisurf.protocol import GenerationRequest, InputFile
from tests.fakes.fal import KEY, FakeCDN, FakeFal
from tests.utils import png_bytes


@pytest.fixture
def cdn():
    with FakeCDN() as fake:
        yield fake


@pytest.fixture
def fal(cdn):
    with FakeFal(cdn) as fake:
        yield fake


def renderer(url: str, *, key: str = KEY, timeout: float = 20.0, **options) -> FalRenderer:
    config = ProviderConfig(
        name="fal",
        kind="fal",
        base_url=url,
        api_key=key,
        models=("flux-dev",),
        timeout=timeout,
        options={"retry_backoff": 0, "endpoints": {"flux-dev": "fal-ai/flux/dev"}, **options},
    )
    FalRenderer.check_config(config)
    return FalRenderer(config)


def request(**fields) -> GenerationRequest:
    values = {
        "prompt": "a tram in the rain",
        "model": "flux-dev",
        "n": 1,
        "size": "768x512",
        "response_format": "b64_json",
    }
    return GenerationRequest(**{**values, **fields})


def test_the_kind_is_registered():
    assert KINDS["fal"] is FalRenderer


def test_submit_poll_and_download_every_image(fal, cdn):
    result = renderer(fal.url).render(request(n=2))

    assert len(result.images) == 2
    assert Image.open(io.BytesIO(result.images[1].data)).size == (768, 512)
    (sent,) = fal.requests_to("/fal-ai/flux/dev", "POST")
    assert sent.json["image_size"] == {"width": 768, "height": 512}
    assert sent.json["num_images"] == 2
    assert sent.headers["authorization"] == f"Key {KEY}"
    statuses = [r for r in fal.log if r.path.endswith("/status")]
    assert len(statuses) == 3  # IN_QUEUE, IN_PROGRESS, COMPLETED
    assert all(r.path.startswith("/fal-ai/flux/requests/") for r in statuses)
    assert [r.headers.get("authorization") for r in cdn.log] == [None, None]


def test_an_edit_sends_the_image_as_a_data_url(fal):
    image = InputFile("image", "photo.png", "image/png", png_bytes((32, 32)))
    renderer(fal.url).render(request(images=(image,)))
    (sent,) = fal.requests_to("/fal-ai/flux/dev", "POST")
    assert sent.json["image_url"].startswith("data:image/png;base64,")


def test_a_request_that_never_completes_is_cancelled_at_the_deadline(fal):
    fal.never_completes = True
    with pytest.raises(EndpointTimeout, match=r"0\.5 s"):
        renderer(fal.url, timeout=0.5).render(request())
    assert fal.cancelled == list(fal.requests)


def test_a_failed_run_reports_fals_words(fal):
    fal.run_error = (
        422,
        {
            "detail": [
                {"loc": ["body", "prompt"], "msg": "Prompt is too long", "type": "value_error"}
            ]
        },
    )
    with pytest.raises(EndpointError, match="prompt: Prompt is too long"):
        renderer(fal.url).render(request())


def test_a_blocked_image_is_a_refusal(fal):
    fal.nsfw = True
    with pytest.raises(EndpointError) as caught:
        renderer(fal.url).render(request())
    assert caught.value.code == "moderation_blocked"


def test_a_wrong_key_is_refused(fal):
    with pytest.raises(EndpointError) as caught:
        renderer(fal.url, key="nope").render(request())
    assert caught.value.status == 401
    assert "No user found" in caught.value.message


def test_a_rate_limit_is_waited_out_or_reported(fal):
    fal.status_faults = [(429, {"Retry-After": "0"})]
    assert len(renderer(fal.url).render(request()).images) == 1
    fal.status_faults = [(429, {"Retry-After": "300"})]
    with pytest.raises(RateLimited):
        renderer(fal.url).render(request())


def test_a_failing_queue_is_unavailable(fal):
    fal.status_faults = [(500, {})] * 5
    with pytest.raises(EndpointUnavailable):
        renderer(fal.url).render(request())


def test_an_image_that_is_not_one_is_an_error(fal):
    fal.not_an_image = True
    with pytest.raises(EndpointUnavailable, match="not an image"):
        renderer(fal.url).render(request())
