"""The engines behind the endpoint: the official SDK gets images from a ComfyUI, an A1111 and a
BFL by model name (providers file naming the fakes of ``tests/fakes``), streams ComfyUI's
previews as partial images, falls back through an alias when the first engine fails, and hears
an engine's refusals and timeouts in the OpenAI envelope with the engine's own words."""

from __future__ import annotations

import base64
import io
import json

import openai
import pytest
import requests
from PIL import Image

from tests.fakes.a1111 import FakeA1111
from tests.fakes.bfl import KEY as BFL_KEY
from tests.fakes.bfl import FakeBFL, FakeDelivery
from tests.fakes.comfyui import WORKFLOW, FakeComfyUI

pytestmark = pytest.mark.django_db(transaction=True)

FILE = """
[[providers]]
name = "home-comfy"
kind = "comfyui"
base_url = "{comfy}"
models = ["sdxl-comfy"]
workflow = "sdxl.json"
timeout = {timeout}
retry_backoff = 0

[[providers]]
name = "forge"
kind = "a1111"
base_url = "{webui}"
models = ["sd-forge"]
timeout = {timeout}
retry_backoff = 0

[[providers]]
name = "bfl"
kind = "bfl"
base_url = "{bfl}"
api_key = "env:BFL_TEST_KEY"
models = ["flux-pro-1.1"]
timeout = {timeout}
retry_backoff = 0

[[aliases]]
name = "fast"
models = ["sd-forge", "sdxl-comfy"]
"""


@pytest.fixture
def engines(settings, tmp_path, monkeypatch):
    """The three fakes, running, and a providers file naming them."""
    monkeypatch.setenv("BFL_TEST_KEY", BFL_KEY)
    with (
        FakeComfyUI() as comfy,
        FakeA1111() as webui,
        FakeDelivery() as delivery,
        FakeBFL(delivery) as bfl,
    ):
        (tmp_path / "sdxl.json").write_text(json.dumps(WORKFLOW))

        def write(timeout: float = 20) -> None:
            path = tmp_path / "providers.toml"
            path.write_text(
                FILE.format(comfy=comfy.url, webui=webui.url, bfl=bfl.url, timeout=timeout)
            )
            settings.NOVISURF_PROVIDERS_FILE = str(path)

        write()
        yield type("Engines", (), {"comfy": comfy, "webui": webui, "bfl": bfl, "write": write})


@pytest.fixture
def sdk(endpoint_url, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)


def size_of(b64_json: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(b64_json))).size


@pytest.mark.parametrize(
    ("model", "provider"),
    [("sdxl-comfy", "home-comfy"), ("sd-forge", "forge"), ("flux-pro-1.1", "bfl")],
)
def test_the_sdk_gets_images_from_each_engine_by_model_name(engines, sdk, model, provider):
    raw = sdk.images.with_raw_response.generate(
        model=model, prompt="a harbour at dawn", size="512x512", response_format="b64_json"
    )
    answer = raw.parse()
    assert raw.headers["x-novisurf-provider"] == provider
    assert size_of(answer.data[0].b64_json) == (512, 512)


def test_comfyuis_previews_stream_as_partial_images(engines, sdk):
    engines.comfy.steps = 4
    stream = sdk.images.generate(
        model="sdxl-comfy", prompt="a harbour", size="512x512", stream=True, partial_images=2
    )
    events = list(stream)
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert size_of(events[0].b64_json) == (64, 64)  # the engine's preview, not the image
    assert size_of(events[-1].b64_json) == (512, 512)


def test_a1111s_progress_streams_as_partial_images(engines, sdk):
    engines.webui.steps = 5
    engines.webui.step_delay = 0.2
    events = list(
        sdk.images.generate(
            model="sd-forge", prompt="a harbour", size="512x512", stream=True, partial_images=1
        )
    )
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]


def test_a_bfl_stream_carries_the_completed_event(engines, sdk):
    events = list(
        sdk.images.generate(model="flux-pro-1.1", prompt="a harbour", size="512x512", stream=True)
    )
    assert [e.type for e in events] == ["image_generation.completed"]


def test_an_alias_falls_back_when_the_first_engine_fails(engines, endpoint_url, api_key):
    engines.webui.status_faults = [(500, {})] * 3
    response = requests.post(
        f"{endpoint_url}/images/generations",
        json={"model": "fast", "prompt": "a harbour", "size": "512x512"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:300]
    assert response.headers["x-novisurf-provider"] == "home-comfy"
    assert len(engines.webui.requests_to("/sdapi/v1/txt2img")) == 3


def test_an_engines_refusal_reaches_the_sdk_in_its_own_words(engines, sdk):
    engines.bfl.final_status = "Request Moderated"
    engines.bfl.final_details = {"Moderation Reasons": ["Derivative Works Filter"]}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(model="flux-pro-1.1", prompt="a harbour", size="512x512")
    assert "Request Moderated" in caught.value.message
    assert "Derivative Works Filter" in caught.value.message


def test_an_engine_past_its_deadline_is_a_504(engines, sdk):
    engines.write(timeout=0.5)
    engines.comfy.never_finish = True
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.images.generate(model="sdxl-comfy", prompt="a harbour", size="512x512")
    assert caught.value.status_code == 504
    assert engines.comfy.interrupted.is_set()


def test_the_models_list_names_each_engines_models(engines, sdk):
    models = {model.id: model.owned_by for model in sdk.models.list()}
    assert models["sdxl-comfy"] == "home-comfy"
    assert models["sd-forge"] == "forge"
    assert models["flux-pro-1.1"] == "bfl"


def test_the_sdks_edit_goes_through_a_comfyui_workflow_that_loads_an_image(engines, sdk, tmp_path):
    from tests.fakes.comfyui import edit_workflow
    from tests.utils import png_bytes

    (tmp_path / "sdxl.json").write_text(json.dumps(edit_workflow()))
    engines.write(timeout=20.5)  # a new file: the router reads it again
    answer = sdk.images.edit(
        model="sdxl-comfy",
        image=("photo.png", png_bytes((64, 64)), "image/png"),
        prompt="make it night",
        size="512x512",
        response_format="b64_json",
    )
    assert size_of(answer.data[0].b64_json) == (512, 512)
    (upload,) = engines.comfy.requests_to("/upload/image")
    (queued,) = engines.comfy.requests_to("/prompt")
    assert queued.json["prompt"]["10"]["inputs"]["image"] == upload.files["image"][0]
