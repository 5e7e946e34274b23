"""The AUTOMATIC1111 / Forge adapter against a fake web UI API on loopback
(``tests/fakes/a1111.py``): txt2img and img2img, the checkpoint per request, progress previews as
partial images, and the engine's faults."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from api.renderers.a1111 import A1111Renderer
from api.renderers.base import KINDS, ProviderConfig, ProviderConfigError
from novisurf.client import EndpointError, EndpointTimeout, EndpointUnavailable, RateLimited
from novisurf.protocol import GenerationRequest, InputFile
from tests.fakes.a1111 import FakeA1111
from tests.utils import free_port, png_bytes


@pytest.fixture
def webui():
    with FakeA1111() as fake:
        yield fake


def renderer(url: str, *, timeout: float = 20.0, api_key: str = "", **options) -> A1111Renderer:
    config = ProviderConfig(
        name="forge",
        kind="a1111",
        base_url=url,
        api_key=api_key,
        models=("sdxl-forge", "pony-forge"),
        timeout=timeout,
        options={"retry_backoff": 0, **options},
    )
    A1111Renderer.check_config(config)
    return A1111Renderer(config)


def request(**fields) -> GenerationRequest:
    values = {
        "prompt": "a fox in the snow",
        "model": "sdxl-forge",
        "n": 1,
        "size": "640x512",
        "response_format": "b64_json",
    }
    return GenerationRequest(**{**values, **fields})


def test_the_kind_is_registered():
    assert KINDS["a1111"] is A1111Renderer


def test_txt2img_returns_each_image_of_the_batch_without_the_grid(webui):
    result = renderer(webui.url).render(request(n=3))

    assert len(result.images) == 3
    for image in result.images:
        assert Image.open(io.BytesIO(image.data)).size == (640, 512)
    (sent,) = webui.requests_to("/sdapi/v1/txt2img")
    assert sent.json["prompt"] == "a fox in the snow"
    assert (sent.json["width"], sent.json["height"], sent.json["batch_size"]) == (640, 512, 3)


def test_the_checkpoint_is_chosen_per_request_and_the_global_option_is_left_alone(webui):
    global_checkpoint = webui.options["sd_model_checkpoint"]
    checkpoints = {"sdxl-forge": "sd_xl_base_1.0.safetensors", "pony-forge": "pony.safetensors"}
    engine = renderer(webui.url, checkpoints=checkpoints)

    engine.render(request(model="pony-forge"))
    engine.render(request(model="sdxl-forge"))

    assert webui.checkpoints_used == ["pony.safetensors", "sd_xl_base_1.0.safetensors"]
    sent = webui.requests_to("/sdapi/v1/txt2img")[0].json
    assert sent["override_settings"]["sd_model_checkpoint"] == "pony.safetensors"
    assert sent["override_settings_restore_afterwards"] is True
    assert not webui.requests_to("/sdapi/v1/options", "POST")
    assert webui.options["sd_model_checkpoint"] == global_checkpoint


def test_a_model_without_a_checkpoint_uses_what_the_server_has_loaded(webui):
    renderer(webui.url).render(request())
    assert webui.checkpoints_used == [webui.options["sd_model_checkpoint"]]


def test_checkpoints_for_models_the_provider_does_not_list_are_refused():
    with pytest.raises(ProviderConfigError, match="flux-forge"):
        renderer("http://127.0.0.1:1", checkpoints={"flux-forge": "flux.safetensors"})


def test_stream_turns_progress_previews_into_partial_images(webui):
    webui.steps = 6
    webui.step_delay = 0.2

    events = [
        json.loads(e.data)
        for e in renderer(webui.url).stream(request(stream=True, partial_images=2))
    ]

    kinds = [e["type"] for e in events]
    assert kinds[-1] == "image_generation.completed"
    partials = [e for e in events if e["type"] == "image_generation.partial_image"]
    assert 1 <= len(partials) <= 2
    first = Image.open(io.BytesIO(base64.b64decode(partials[0]["b64_json"])))
    assert first.size == (160, 128)  # the web UI's live preview, not the final image
    assert webui.requests_to("/sdapi/v1/progress")


def test_an_edit_goes_to_img2img_with_the_mask_as_a1111_reads_it(webui):
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 64))  # the left half is to be repainted
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    edit = request(
        images=(InputFile("image", "photo.png", "image/png", png_bytes((64, 64))),),
        mask=InputFile("mask", "mask.png", "image/png", buffer.getvalue()),
    )

    assert len(renderer(webui.url).render(edit).images) == 1

    (sent,) = webui.requests_to("/sdapi/v1/img2img")
    assert base64.b64decode(sent.json["init_images"][0]) == png_bytes((64, 64))
    a1111_mask = Image.open(io.BytesIO(base64.b64decode(sent.json["mask"]))).convert("L")
    assert a1111_mask.getpixel((10, 10)) == 255  # white: repaint
    assert a1111_mask.getpixel((50, 10)) == 0  # black: keep
    assert sent.json["inpainting_mask_invert"] == 0


def test_a_validation_error_reports_fastapis_words(webui):
    webui.refuse = (
        422,
        {
            "detail": [
                {
                    "loc": ["body", "steps"],
                    "msg": "value is not a valid integer",
                    "type": "type_error.integer",
                }
            ]
        },
    )
    with pytest.raises(EndpointError) as caught:
        renderer(webui.url).render(request())
    assert caught.value.status == 422
    assert "steps: value is not a valid integer" in caught.value.message


def test_an_exception_in_the_web_ui_reports_its_message(webui):
    webui.refuse = (
        500,
        {"error": "OutOfMemoryError", "detail": "", "body": "", "errors": "CUDA out of memory."},
    )
    with pytest.raises(EndpointUnavailable) as caught:
        renderer(webui.url).render(request())
    assert "OutOfMemoryError: CUDA out of memory." in caught.value.message


def test_a_rate_limit_is_waited_out(webui):
    webui.status_faults = [(429, {"Retry-After": "0"})]
    assert len(renderer(webui.url).render(request()).images) == 1
    assert len(webui.requests_to("/sdapi/v1/txt2img")) == 2


def test_a_long_rate_limit_fails_with_its_retry_after(webui):
    webui.status_faults = [(429, {"Retry-After": "120"})]
    with pytest.raises(RateLimited) as caught:
        renderer(webui.url).render(request())
    assert caught.value.retry_after == 120


def test_a_server_that_keeps_failing_is_unavailable(webui):
    webui.status_faults = [(502, {})] * 5
    with pytest.raises(EndpointUnavailable):
        renderer(webui.url).render(request())
    assert len(webui.requests_to("/sdapi/v1/txt2img")) == 3


def test_a_job_that_never_finishes_is_interrupted_at_the_deadline(webui):
    webui.never_finish = True
    with pytest.raises(EndpointTimeout, match=r"0\.5 s"):
        renderer(webui.url, timeout=0.5).render(request())
    assert webui.interrupted.wait(5)


def test_a_streamed_job_that_never_finishes_is_interrupted_at_the_deadline(webui):
    webui.never_finish = True
    events = renderer(webui.url, timeout=0.5).stream(request(stream=True, partial_images=1))
    with pytest.raises(EndpointTimeout):
        list(events)
    assert webui.interrupted.wait(5)


def test_an_image_that_is_not_one_is_an_error(webui):
    webui.not_an_image = True
    with pytest.raises(EndpointUnavailable, match="not an image"):
        renderer(webui.url).render(request())


def test_a_server_that_is_not_running_is_unavailable():
    with pytest.raises(EndpointUnavailable, match="connection refused"):
        renderer(f"http://127.0.0.1:{free_port()}").render(request())


def test_api_auth_user_and_password_go_as_http_basic(webui):
    renderer(webui.url, api_key="painter:s3cret").render(request())
    (sent,) = webui.requests_to("/sdapi/v1/txt2img")
    expected = base64.b64encode(b"painter:s3cret").decode()
    assert sent.headers["authorization"] == f"Basic {expected}"


def test_a_refused_stream_is_refused_before_its_first_event(webui):
    webui.refuse = (
        422,
        {"detail": [{"loc": ["body", "width"], "msg": "too large", "type": "value_error"}]},
    )
    with pytest.raises(EndpointError, match="width: too large"):
        renderer(webui.url).stream(request(stream=True, partial_images=2))


def test_more_images_than_one_batch_are_made_in_several(webui):
    result = renderer(webui.url, max_batch_size=2).render(request(n=3))
    assert len(result.images) == 3
    (sent,) = webui.requests_to("/sdapi/v1/txt2img")
    assert (sent.json["batch_size"], sent.json["n_iter"]) == (2, 2)
