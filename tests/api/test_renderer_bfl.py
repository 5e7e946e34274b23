"""The Black Forest Labs adapter against a fake BFL API and delivery host on loopback
(``tests/fakes/bfl.py``): submit, poll the polling URL until Ready, download the sample; the
documented statuses and faults."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from api.renderers.base import KINDS, ProviderConfig
from api.renderers.bfl import BFLRenderer
from novisurf.client import EndpointError, EndpointTimeout, EndpointUnavailable, RateLimited
from novisurf.protocol import GenerationRequest, InputFile
from tests.fakes import FakeServer
from tests.fakes.bfl import KEY, FakeBFL, FakeDelivery
from tests.utils import png_bytes


@pytest.fixture
def delivery():
    with FakeDelivery() as fake:
        yield fake


@pytest.fixture
def bfl(delivery):
    with FakeBFL(delivery) as fake:
        yield fake


def renderer(url: str, *, key: str = KEY, timeout: float = 20.0, **options) -> BFLRenderer:
    config = ProviderConfig(
        name="bfl",
        kind="bfl",
        base_url=url,
        api_key=key,
        models=("flux-pro-1.1", "flux-edit"),
        timeout=timeout,
        options={"retry_backoff": 0, **options},
    )
    BFLRenderer.check_config(config)
    return BFLRenderer(config)


def request(**fields) -> GenerationRequest:
    values = {
        "prompt": "a red kite over the dunes",
        "model": "flux-pro-1.1",
        "n": 1,
        "size": "1024x768",
        "response_format": "b64_json",
    }
    return GenerationRequest(**{**values, **fields})


def test_the_kind_is_registered():
    assert KINDS["bfl"] is BFLRenderer


def test_submit_poll_until_ready_and_download_the_sample(bfl, delivery):
    result = renderer(bfl.url).render(request(n=2))

    assert len(result.images) == 2
    assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 768)
    submitted = bfl.requests_to("/v1/flux-pro-1.1", "POST")
    assert [r.json["prompt"] for r in submitted] == ["a red kite over the dunes"] * 2
    assert (submitted[0].json["width"], submitted[0].json["height"]) == (1024, 768)
    assert len(bfl.requests_to("/v1/get_result")) == 2 * 3  # Pending, Pending, Ready each
    # The signed sample link gets no key: it is another host.
    assert [r.headers.get("x-key") for r in delivery.log] == [None, None]


def test_a_model_name_maps_to_its_bfl_endpoint_and_an_edit_sends_the_image(bfl):
    engine = renderer(bfl.url, endpoints={"flux-edit": "flux-kontext-pro"})
    image = InputFile("image", "photo.png", "image/png", png_bytes((64, 64)))

    engine.render(request(model="flux-edit", images=(image,), size="1536x1024"))

    (sent,) = bfl.requests_to("/v1/flux-kontext-pro", "POST")
    assert sent.json["aspect_ratio"] == "3:2"
    assert "width" not in sent.json
    assert sent.json["input_image"]


def test_a_polling_url_on_a_foreign_host_is_not_given_the_key(bfl):
    with FakeServer() as stranger:
        bfl.polling_base = stranger.url
        assert len(renderer(bfl.url).render(request()).images) == 1
    assert stranger.log == []
    assert bfl.requests_to("/v1/get_result")  # asked of the provider itself instead


@pytest.mark.parametrize("status", ["Request Moderated", "Content Moderated"])
def test_moderation_is_a_refusal_that_says_so(bfl, status):
    bfl.final_status = status
    bfl.final_details = {"Moderation Reasons": ["Derivative Works Filter"]}
    with pytest.raises(EndpointError) as caught:
        renderer(bfl.url).render(request())
    assert caught.value.status == 400
    assert caught.value.code == "moderation_blocked"
    assert status in caught.value.message
    assert "Derivative Works Filter" in caught.value.message


def test_an_error_status_is_the_engine_failing(bfl):
    bfl.final_status = "Error"
    bfl.final_details = {"error": "GPU worker crashed"}
    with pytest.raises(EndpointUnavailable, match="GPU worker crashed"):
        renderer(bfl.url).render(request())


def test_a_lost_task_is_unavailable(bfl):
    bfl.final_status = "Task not found"
    with pytest.raises(EndpointUnavailable, match="Task not found"):
        renderer(bfl.url).render(request())


def test_a_task_that_stays_pending_times_out_at_the_deadline(bfl):
    bfl.final_status = None
    with pytest.raises(EndpointTimeout, match=r"within 0\.5 s"):
        renderer(bfl.url, timeout=0.5).render(request())
    assert len(bfl.requests_to("/v1/get_result")) >= 2


def test_a_wrong_key_is_refused_in_bfls_words(bfl):
    with pytest.raises(EndpointError) as caught:
        renderer(bfl.url, key="wrong").render(request())
    assert caught.value.status == 403
    assert "Not authenticated" in caught.value.message


def test_no_credits_is_a_refusal_in_bfls_words(bfl):
    bfl.refuse = (402, {"detail": "Insufficient credits. Add credits to continue."})
    with pytest.raises(EndpointError, match="Insufficient credits"):
        renderer(bfl.url).render(request())


def test_a_size_bfl_refuses_reports_its_validation_error(bfl):
    with pytest.raises(EndpointError) as caught:
        renderer(bfl.url).render(request(size="1000x1000"))
    assert caught.value.status == 422
    assert "width: Input should be a multiple of 32" in caught.value.message


def test_too_many_active_tasks_is_waited_out_as_bfl_asks(bfl):
    bfl.status_faults = [(429, {"Retry-After": "0"})]
    assert len(renderer(bfl.url).render(request()).images) == 1


def test_a_long_rate_limit_fails_with_its_retry_after(bfl):
    bfl.status_faults = [(429, {"Retry-After": "90"})]
    with pytest.raises(RateLimited) as caught:
        renderer(bfl.url).render(request())
    assert caught.value.retry_after == 90
    assert "active tasks" in caught.value.message


def test_a_failing_api_is_unavailable_after_the_retries(bfl):
    bfl.status_faults = [(503, {})] * 5
    with pytest.raises(EndpointUnavailable):
        renderer(bfl.url).render(request())
    assert len(bfl.requests_to("/v1/flux-pro-1.1")) == 3


def test_a_sample_that_is_not_an_image_is_an_error(bfl):
    bfl.not_an_image = True
    with pytest.raises(EndpointUnavailable, match="not an image"):
        renderer(bfl.url).render(request())


def test_a_providers_file_entry_without_base_url_reaches_bfls_own_api(tmp_path):
    from api.renderers.config import providers_file_load

    path = tmp_path / "providers.toml"
    path.write_text(
        '[[providers]]\nname = "bfl"\nkind = "bfl"\napi_key = "env:BFL_KEY"\n'
        'models = ["flux-pro-1.1"]\n'
    )
    (config,) = providers_file_load(path, environ={"BFL_KEY": "k"}).providers
    assert config.base_url == "https://api.bfl.ai"


def test_a_rate_limited_poll_is_waited_out_as_bfl_asks(bfl):
    bfl.poll_faults = [(429, {"Retry-After": "0"})] * 2
    assert len(renderer(bfl.url).render(request()).images) == 1
    assert len(bfl.requests_to("/v1/get_result")) == 2 + 3
