"""The Replicate adapter against a fake Replicate API and delivery host on loopback
(``tests/fakes/replicate.py``): create a prediction, poll ``urls.get``, download the output;
faults."""

from __future__ import annotations

import pytest

from api.renderers.base import KINDS, ProviderConfig
from api.renderers.replicate import ReplicateRenderer
from novisurf.client import EndpointError, EndpointTimeout, EndpointUnavailable, RateLimited
from novisurf.protocol import GenerationRequest
from tests.fakes import FakeCDN
from tests.fakes.replicate import TOKEN, FakeReplicate


@pytest.fixture
def cdn():
    with FakeCDN() as fake:
        yield fake


@pytest.fixture
def replicate(cdn):
    with FakeReplicate(cdn) as fake:
        yield fake


def renderer(url: str, *, token: str = TOKEN, timeout: float = 20.0, **options):
    config = ProviderConfig(
        name="replicate",
        kind="replicate",
        base_url=url,
        api_key=token,
        models=("flux-schnell", "sdxl"),
        timeout=timeout,
        options={
            "retry_backoff": 0,
            "endpoints": {
                "flux-schnell": "black-forest-labs/flux-schnell",
                "sdxl": "stability-ai/sdxl:7762fd07cf82c948538e41f63f77d685e02b063e",
            },
            **options,
        },
    )
    ReplicateRenderer.check_config(config)
    return ReplicateRenderer(config)


def request(**fields) -> GenerationRequest:
    values = {
        "prompt": "a paper boat",
        "model": "flux-schnell",
        "n": 1,
        "size": "1536x1024",
        "response_format": "b64_json",
    }
    return GenerationRequest(**{**values, **fields})


def test_the_kind_is_registered():
    assert KINDS["replicate"] is ReplicateRenderer


def test_an_official_model_prediction_is_polled_and_its_outputs_downloaded(replicate, cdn):
    result = renderer(replicate.url).render(request(n=2))

    assert len(result.images) == 2
    (sent,) = replicate.requests_to("/v1/models/black-forest-labs/flux-schnell/predictions")
    assert sent.json["input"]["aspect_ratio"] == "3:2"
    assert sent.json["input"]["num_outputs"] == 2
    assert len([r for r in replicate.log if r.method == "GET"]) == 3
    assert [r.headers.get("authorization") for r in cdn.log] == [None, None]


def test_a_versioned_model_goes_to_predictions_with_its_version(replicate):
    renderer(replicate.url, size_param="width_height").render(request(model="sdxl"))
    (sent,) = replicate.requests_to("/v1/predictions", "POST")
    assert sent.json["version"] == "7762fd07cf82c948538e41f63f77d685e02b063e"
    assert (sent.json["input"]["width"], sent.json["input"]["height"]) == (1536, 1024)


def test_a_single_output_url_is_one_image(replicate):
    replicate.single_output = True
    assert len(renderer(replicate.url).render(request()).images) == 1


def test_a_failed_prediction_reports_its_error(replicate):
    replicate.fails_with = "CUDA error: device-side assert triggered"
    with pytest.raises(EndpointUnavailable, match="device-side assert"):
        renderer(replicate.url).render(request())


def test_an_nsfw_failure_is_a_refusal(replicate):
    replicate.fails_with = "NSFW content detected. Try running it again, or try a different prompt."
    with pytest.raises(EndpointError) as caught:
        renderer(replicate.url).render(request())
    assert caught.value.code == "moderation_blocked"


def test_a_prediction_that_never_succeeds_is_cancelled_at_the_deadline(replicate):
    replicate.never_succeeds = True
    with pytest.raises(EndpointTimeout, match=r"0\.5 s"):
        renderer(replicate.url, timeout=0.5).render(request())
    (prediction,) = replicate.predictions.values()
    assert prediction["status"] == "canceled"


def test_bad_input_reports_replicates_words(replicate):
    replicate.refuse = (
        422,
        {
            "title": "Input validation failed",
            "detail": "- input.num_outputs: Must be less than or equal to 4",
            "status": 422,
        },
    )
    with pytest.raises(EndpointError, match="num_outputs: Must be less than or equal to 4"):
        renderer(replicate.url).render(request())


def test_a_bad_token_is_refused(replicate):
    with pytest.raises(EndpointError, match="valid authentication token"):
        renderer(replicate.url, token="r8_wrong").render(request())


def test_throttling_is_waited_out_or_reported(replicate):
    replicate.status_faults = [(429, {"Retry-After": "0"})]
    assert renderer(replicate.url).render(request()).images
    replicate.status_faults = [(429, {"Retry-After": "100"})]
    with pytest.raises(RateLimited, match="throttled"):
        renderer(replicate.url).render(request())


def test_an_api_that_keeps_failing_is_unavailable(replicate):
    replicate.status_faults = [(500, {})] * 5
    with pytest.raises(EndpointUnavailable):
        renderer(replicate.url).render(request())


def test_an_output_that_is_not_an_image_is_an_error(replicate):
    replicate.not_an_image = True
    with pytest.raises(EndpointUnavailable, match="not an image"):
        renderer(replicate.url).render(request())
