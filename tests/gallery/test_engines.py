"""The gallery makes images through each engine kind: a generation for a ComfyUI, an A1111 and a
BFL model (a providers file naming the fakes of ``tests/fakes``) runs through this site's own
endpoint and is stored; an engine's refusal is the generation's reason, in its words."""

from __future__ import annotations

import json

import pytest

from gallery import services
from gallery.models import Generation
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
retry_backoff = 0

[[providers]]
name = "forge"
kind = "a1111"
base_url = "{webui}"
models = ["sd-forge"]
retry_backoff = 0

[[providers]]
name = "bfl"
kind = "bfl"
base_url = "{bfl}"
api_key = "env:BFL_TEST_KEY"
models = ["flux-pro-1.1"]
retry_backoff = 0
"""


@pytest.fixture
def engines(settings, tmp_path, monkeypatch, gallery_endpoint):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    monkeypatch.setenv("BFL_TEST_KEY", BFL_KEY)
    with (
        FakeComfyUI() as comfy,
        FakeA1111() as webui,
        FakeDelivery() as delivery,
        FakeBFL(delivery) as bfl,
    ):
        comfy.steps = 4
        (tmp_path / "sdxl.json").write_text(json.dumps(WORKFLOW))
        path = tmp_path / "providers.toml"
        path.write_text(FILE.format(comfy=comfy.url, webui=webui.url, bfl=bfl.url))
        settings.NOVISURF_PROVIDERS_FILE = str(path)
        yield comfy, webui, bfl


def generate(user, model: str, n: int = 1) -> Generation:
    generation = Generation.objects.create(
        owner=user,
        prompt="a lighthouse in the rain",
        model=model,
        n=n,
        size="512x512",
        response_format="b64_json",
    )
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    return generation


@pytest.mark.parametrize("model", ["sdxl-comfy", "sd-forge", "flux-pro-1.1"])
def test_the_gallery_makes_and_keeps_images_through_each_engine(engines, user, model):
    generation = generate(user, model, n=2)
    assert generation.status == Generation.Status.DONE, generation.error
    images = list(generation.images.all())
    assert len(images) == 2
    assert {(image.width, image.height) for image in images} == {(512, 512)}


def test_an_engines_refusal_is_the_generations_reason(engines, user):
    _comfy, _webui, bfl = engines
    bfl.final_status = "Content Moderated"
    generation = generate(user, "flux-pro-1.1")
    assert generation.status == Generation.Status.FAILED
    assert "Content Moderated" in generation.error
