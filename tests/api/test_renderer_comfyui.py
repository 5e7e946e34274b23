"""The ComfyUI adapter against a fake ComfyUI on loopback (``tests/fakes/comfyui.py``): the
workflow's placeholders filled, images from the history and ``/view``, previews from the
websocket as partial images, edits through uploads, and the engine's faults."""

from __future__ import annotations

import base64
import io
import json
import struct

import pytest
from PIL import Image

from api.renderers import StreamEvent
from api.renderers.base import KINDS, ProviderConfig, ProviderConfigError
from api.renderers.comfyui import ComfyUIRenderer, fill_workflow
from novisurf.client import EndpointError, EndpointTimeout, EndpointUnavailable, RateLimited
from novisurf.protocol import GenerationRequest, InputFile, ProtocolError
from tests.fakes.comfyui import WORKFLOW, FakeComfyUI, edit_workflow
from tests.utils import free_port, png_bytes


@pytest.fixture
def comfy():
    with FakeComfyUI() as fake:
        yield fake


def renderer(url: str, workflow=None, **overrides) -> ComfyUIRenderer:
    config = ProviderConfig(
        name="home-comfy",
        kind="comfyui",
        base_url=url,
        models=("sdxl-comfy",),
        workflow=WORKFLOW if workflow is None else workflow,
        timeout=overrides.pop("timeout", 20.0),
        options={"retry_backoff": 0, **overrides.pop("options", {})},
        **overrides,
    )
    ComfyUIRenderer.check_config(config)
    return ComfyUIRenderer(config)


def request(**fields) -> GenerationRequest:
    values = {
        "prompt": "a lighthouse at dusk",
        "model": "sdxl-comfy",
        "n": 1,
        "size": "512x384",
        "response_format": "b64_json",
    }
    return GenerationRequest(**{**values, **fields})


def events_of(stream) -> list[dict]:
    return [json.loads(event.data) for event in stream]


def test_the_kind_is_registered():
    assert KINDS["comfyui"] is ComfyUIRenderer


def test_render_fills_the_workflow_and_returns_the_saved_images(comfy):
    result = renderer(comfy.url).render(request(n=2))

    assert len(result.images) == 2
    for image in result.images:
        assert image.content_type == "image/png"
        assert Image.open(io.BytesIO(image.data)).size == (512, 384)
    (sent,) = comfy.requests_to("/prompt", "POST")
    workflow = sent.json["prompt"]
    assert workflow["6"]["inputs"]["text"] == "a lighthouse at dusk"
    assert workflow["7"]["inputs"]["text"] == ""
    # Numbers as numbers: ComfyUI refuses "512" where an INT goes.
    assert workflow["5"]["inputs"] == {"batch_size": 2, "height": 384, "width": 512}
    assert isinstance(workflow["3"]["inputs"]["seed"], int)
    assert sent.json["client_id"]
    assert result.fields["size"] == "512x384"


def test_a_workflow_without_batch_size_is_queued_once_per_image_with_new_seeds(comfy):
    workflow = json.loads(json.dumps(WORKFLOW))
    workflow["5"]["inputs"]["batch_size"] = 1

    result = renderer(comfy.url, workflow).render(request(n=3))

    assert len(result.images) == 3
    seeds = [r.json["prompt"]["3"]["inputs"]["seed"] for r in comfy.requests_to("/prompt")]
    assert len(set(seeds)) == 3


def test_the_negative_prompt_comes_from_the_providers_options(comfy):
    renderer(comfy.url, options={"negative_prompt": "blurry"}).render(request())
    (sent,) = comfy.requests_to("/prompt")
    assert sent.json["prompt"]["7"]["inputs"]["text"] == "blurry"


def test_fill_workflow_replaces_only_whole_placeholders():
    workflow = {"1": {"class_type": "X", "inputs": {"a": "{{width}}", "b": "w={{width}}"}}}
    assert fill_workflow(workflow, {"width": 64})["1"]["inputs"] == {"a": 64, "b": "w={{width}}"}
    assert workflow["1"]["inputs"]["a"] == "{{width}}"  # the provider's copy is untouched


def test_stream_turns_websocket_previews_into_partial_images(comfy):
    comfy.steps = 6
    events = events_of(renderer(comfy.url).stream(request(stream=True, partial_images=2)))

    kinds = [e["type"] for e in events]
    assert kinds == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e["partial_image_index"] for e in events[:2]] == [0, 1]
    partial = base64.b64decode(events[0]["b64_json"])
    assert Image.open(io.BytesIO(partial)).format == "JPEG"  # ComfyUI's preview, as it came
    final = Image.open(io.BytesIO(base64.b64decode(events[-1]["b64_json"])))
    assert final.size == (512, 384)


def test_stream_without_partial_images_carries_the_completed_events_only(comfy):
    events = events_of(renderer(comfy.url).stream(request(n=2, stream=True, partial_images=0)))
    assert [e["type"] for e in events] == ["image_generation.completed"] * 2


def test_a_websocket_that_drops_falls_back_to_the_history(comfy):
    comfy.steps = 4
    comfy.step_delay = 0.05
    comfy.drop_socket_after_previews = 1

    events = events_of(renderer(comfy.url).stream(request(stream=True, partial_images=3)))

    kinds = [e["type"] for e in events]
    assert kinds[-1] == "image_generation.completed"
    assert kinds.count("image_generation.partial_image") == 1


def test_a_refused_workflow_reports_comfyuis_own_words(comfy):
    comfy.refuse = {
        "error": {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "",
            "extra_info": {},
        },
        "node_errors": {
            "4": {
                "errors": [
                    {
                        "type": "value_not_in_list",
                        "message": "Value not in list: ckpt_name: 'sdxl.safetensors' not in []",
                    }
                ],
                "dependent_outputs": ["9"],
                "class_type": "CheckpointLoaderSimple",
            }
        },
    }
    with pytest.raises(EndpointError) as caught:
        renderer(comfy.url).render(request())
    assert caught.value.status == 400
    assert "Prompt outputs failed validation" in caught.value.message
    assert "node 4 (CheckpointLoaderSimple): Value not in list" in caught.value.message


def test_a_rate_limit_is_waited_out_as_the_engine_asks(comfy):
    comfy.status_faults = [(429, {"Retry-After": "0"})]
    assert len(renderer(comfy.url).render(request()).images) == 1
    assert len(comfy.requests_to("/prompt")) == 2


def test_a_long_rate_limit_fails_at_once_with_its_retry_after(comfy):
    comfy.status_faults = [(429, {"Retry-After": "600"})]
    with pytest.raises(RateLimited) as caught:
        renderer(comfy.url).render(request())
    assert caught.value.retry_after == 600
    assert len(comfy.requests_to("/prompt")) == 1


def test_a_failing_engine_is_unavailable_after_the_retries(comfy):
    comfy.status_faults = [(500, {})] * 5
    with pytest.raises(EndpointUnavailable) as caught:
        renderer(comfy.url).render(request())
    assert caught.value.status == 500
    assert len(comfy.requests_to("/prompt")) == 3


def test_a_prompt_that_never_finishes_is_cancelled_at_the_deadline(comfy):
    comfy.never_finish = True
    with pytest.raises(EndpointTimeout) as caught:
        renderer(comfy.url, timeout=0.5).render(request())
    assert "0.5 s" in caught.value.message
    assert comfy.interrupted.is_set()
    assert comfy.deleted == comfy.queued  # taken off the queue too, in case it had not begun


def test_an_output_that_is_not_an_image_is_an_error(comfy):
    comfy.not_an_image = True
    with pytest.raises(EndpointUnavailable, match="not an image"):
        renderer(comfy.url).render(request())


def test_an_execution_error_reports_the_nodes_exception(comfy):
    comfy.execution_error = "CUDA out of memory. Tried to allocate 2.00 GiB"
    with pytest.raises(EndpointUnavailable) as caught:
        renderer(comfy.url).render(request())
    assert "KSampler" in caught.value.message
    assert "CUDA out of memory" in caught.value.message


def test_an_engine_that_is_not_running_is_unavailable():
    with pytest.raises(EndpointUnavailable, match="connection refused"):
        renderer(f"http://127.0.0.1:{free_port()}").render(request())


def _edit(**fields) -> GenerationRequest:
    image = InputFile("image", "photo.png", "image/png", png_bytes((64, 64)))
    return request(images=(image,), size="512x512", **fields)


def test_an_edit_uploads_the_image_for_the_workflows_load_image(comfy):
    result = renderer(comfy.url, edit_workflow()).render(_edit())

    assert len(result.images) == 1
    (upload,) = comfy.requests_to("/upload/image")
    assert upload.form["type"] == "input"
    (sent,) = comfy.requests_to("/prompt")
    assert sent.json["prompt"]["10"]["inputs"]["image"] == upload.files["image"][0]


def test_an_edit_with_a_mask_puts_it_in_the_images_alpha(comfy):
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 64))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    edit = _edit(mask=InputFile("mask", "mask.png", "image/png", buffer.getvalue()))

    renderer(comfy.url, edit_workflow()).render(edit)

    (upload,) = comfy.requests_to("/upload/image")
    (masked,) = comfy.requests_to("/upload/mask")
    assert json.loads(masked.form["original_ref"]) == {
        "filename": upload.files["image"][0],
        "subfolder": "",
        "type": "input",
    }
    (sent,) = comfy.requests_to("/prompt")
    assert sent.json["prompt"]["10"]["inputs"]["image"] == masked.files["image"][0]


def test_an_edit_is_refused_by_a_workflow_that_loads_no_image(comfy):
    with pytest.raises(ProtocolError) as caught:
        renderer(comfy.url).render(_edit())
    assert caught.value.param == "image"
    assert not comfy.log


@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        (None, "needs 'workflow'"),
        ({"nodes": [], "links": []}, "API format"),
        ({"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "fixed"}}}, "no {{prompt}}"),
        (
            {"6": {"class_type": "X", "inputs": {"text": "{{prompt}}", "steps": "{{stpes}}"}}},
            "{{stpes}}",
        ),
    ],
)
def test_a_workflow_it_cannot_use_is_refused_at_startup(workflow, message):
    config = ProviderConfig(name="c", kind="comfyui", base_url="http://x", workflow=workflow)
    with pytest.raises(ProviderConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        ComfyUIRenderer.check_config(config)


def test_stream_events_are_stream_events(comfy):
    events = list(renderer(comfy.url).stream(request(stream=True, partial_images=1)))
    assert all(isinstance(e, StreamEvent) for e in events)
    assert events[-1].event == "image_generation.completed"


def test_a_providers_file_with_a_misspelt_placeholder_names_the_line(tmp_path):
    from api.renderers.config import providers_file_load

    workflow = json.loads(json.dumps(WORKFLOW))
    workflow["3"]["inputs"]["seed"] = "{{sead}}"
    (tmp_path / "sdxl.json").write_text(json.dumps(workflow))
    path = tmp_path / "providers.toml"
    path.write_text(
        '[[providers]]\nname = "home-comfy"\nkind = "comfyui"\n'
        'base_url = "http://127.0.0.1:8188"\nmodels = ["sdxl-comfy"]\nworkflow = "sdxl.json"\n'
    )
    with pytest.raises(ProviderConfigError) as caught:
        providers_file_load(path)
    message = str(caught.value)
    assert "providers.toml" in message
    assert "{{sead}}" in message
    assert message.count("home-comfy") == 1


def test_a_preview_with_metadata_is_read_as_a_preview():
    from api.renderers.comfyui import _preview_bytes

    image = png_bytes((16, 16))
    metadata = json.dumps({"node_id": "3", "prompt_id": "p", "image_type": "image/png"}).encode()
    message = struct.pack(">II", 4, len(metadata)) + metadata + image
    assert _preview_bytes(message) == image
    assert _preview_bytes(struct.pack(">II", 1, 2) + image) == image
    assert _preview_bytes(struct.pack(">II", 3, 0) + b"text") is None


def test_a_stream_the_client_leaves_cancels_the_prompt(comfy):
    comfy.steps = 20
    comfy.step_delay = 0.1
    events = renderer(comfy.url).stream(request(stream=True, partial_images=2))
    assert next(events).event == "image_generation.partial_image"
    # Django closes the stream when the client goes away.
    events.close()
    assert comfy.interrupted.wait(5)
    assert comfy.deleted == comfy.queued


def test_a_stream_dropped_before_its_first_event_takes_its_prompt_off_the_queue(comfy):
    comfy.steps = 20
    comfy.step_delay = 0.1
    events = renderer(comfy.url).stream(request(stream=True, partial_images=2))
    assert len(comfy.queued) == 1  # queued before the first event, so that refusals are statuses
    del events
    assert comfy.deleted == comfy.queued
