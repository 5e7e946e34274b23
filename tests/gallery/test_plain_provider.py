"""The gallery's journey against the plainest OpenAI-compatible provider (no streaming, no
``/v1/models``, ``url`` answers: tests/fakes/openai_plain.py) and against a streaming one (this
site's own endpoint): the form offers what can work, a generation makes its images, and a bad
answer fails with its own reason.

The task queue is the real one (django_tasks_db's worker loop, in batch mode, in this process).
"""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_tasks_db.management.commands.db_worker import Worker

from gallery.models import GalleryEvent, Generation
from tests.fakes.comfyui import WORKFLOW, FakeComfyUI
from tests.fakes.openai_plain import KEY, FakePlainOpenAI
from tests.gallery.test_views import dom, labelled

pytestmark = pytest.mark.django_db(transaction=True)


def drain() -> None:
    """Run every ready task with the real worker loop, then return."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


@pytest.fixture
def plain(settings):
    with FakePlainOpenAI() as fake:
        settings.NOVISURF_API_BASE = f"{fake.url}/v1"
        settings.NOVISURF_API_KEY = KEY
        settings.NOVISURF_AUTH_HEADER = "bearer"
        settings.NOVISURF_THUMBNAIL_SIZE = 16
        yield fake


@pytest.fixture
def person(client, user):
    client.force_login(user)
    return client


def offered(client) -> list[str]:
    select = labelled(dom(client.get(reverse("gallery:home"))), "Model")
    return [option.attrs["value"] for option in select.find_all("option")]


def generate(client, model: str, *, before_run=None, **fields) -> Generation:
    data = {
        "prompt": "A lighthouse at dawn",
        "model": model,
        "n": "2",
        "size": "1024x1024",
        "response_format": "url",
        "tags": "sea",
        **fields,
    }
    response = client.post(reverse("gallery:generate"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    if before_run is not None:
        before_run()
    drain()
    return Generation.objects.get()


def test_a_plain_provider_makes_images_from_the_form(plain, person):
    offered(person)  # the first page asks a task for the provider's models
    drain()
    models = offered(person)
    # It lists no models: OpenAI's current ones are offered; the built-in renderer is not there.
    assert "gpt-image-1.5" in models and "novisurf-procedural" not in models

    generation = generate(person, "gpt-image-1.5")
    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.images.count() == 2
    assert generation.provider == ""  # a plain provider names none
    (sent,) = plain.requests_to("/v1/images/generations")
    assert "stream" not in sent.json and "partial_images" not in sent.json
    page = person.get(reverse("gallery:generation", args=[generation.pk])).content.decode()
    assert "empty image" not in page


def test_a_plain_answer_to_a_stream_request_is_read_as_a_plain_answer(plain, person):
    offered(person)
    drain()
    # A worker that has no model list yet (its cache is its own) goes by the protocol table,
    # which says this model streams: it asks to, and the provider answers plain JSON anyway.
    generation = generate(person, "gpt-image-1.5", n="1", before_run=cache.clear)
    (sent,) = plain.requests_to("/v1/images/generations")
    assert sent.json["stream"] is True
    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.images.count() == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("broken_json", "not JSON"),
        ("not_an_image", "not"),
        ("no_data", "no image"),
        ("500", "The model crashed"),
    ],
)
def test_a_bad_answer_fails_with_its_own_reason(plain, person, fault, reason):
    plain.fault = fault
    offered(person)
    drain()
    generation = generate(person, "gpt-image-1.5", n="1")
    assert generation.status == Generation.Status.FAILED
    text = generation.error + " ".join(e.get("reason", "") for e in generation.item_errors or [])
    assert reason.lower() in text.lower(), text
    assert "empty image" not in text


def test_a_streaming_provider_shows_partials_on_the_way(
    settings, tmp_path, gallery_endpoint, person
):
    # This site's own endpoint, routing a model to a ComfyUI (which previews): it lists the
    # model as one that streams, and the gallery asks it to.
    with FakeComfyUI() as comfy:
        comfy.steps = 4
        (tmp_path / "sdxl.json").write_text(json.dumps(WORKFLOW))
        path = tmp_path / "providers.toml"
        path.write_text(
            f"""
[[providers]]
name = "home-comfy"
kind = "comfyui"
base_url = "{comfy.url}"
models = ["sdxl-comfy"]
workflow = "sdxl.json"
"""
        )
        settings.NOVISURF_PROVIDERS_FILE = str(path)
        offered(person)
        drain()
        assert offered(person) == ["novisurf-procedural", "sdxl-comfy"]
        generation = generate(person, "sdxl-comfy", size="512x512", n="1")
    assert generation.status == Generation.Status.DONE, generation.error
    assert generation.images.count() == 1
    assert GalleryEvent.objects.filter(kind="partial", generation_id=generation.pk).exists()
    # The endpoint named the provider that served it, and the generation keeps that name.
    assert generation.provider == "home-comfy"


def test_nothing_configured_offers_the_built_in_model_and_says_why_others_fail(
    gallery_endpoint, person, user
):
    assert offered(person) == ["novisurf-procedural"]
    # A model the person asked for elsewhere (an old generation, a script) says no provider is
    # set up, in words.
    from gallery import services

    services.generation_create(
        owner=user,
        prompt="x",
        model="gpt-image-2",
        n=1,
        size="1024x1024",
        response_format="b64_json",
        tags=[],
    )
    drain()
    generation = Generation.objects.get(model="gpt-image-2")
    assert generation.status == Generation.Status.FAILED
    assert "No provider is set up for the model 'gpt-image-2'" in generation.error


def test_the_form_learns_the_list_a_worker_fetched(plain, person):
    from gallery.provider_client import _models_cache_key

    offered(person)
    drain()
    # The worker's cache is not the web process's: only the task's stored result is shared.
    cache.delete(_models_cache_key())
    models = offered(person)
    assert "gpt-image-1.5" in models and "novisurf-procedural" not in models
    assert len(plain.requests_to("/v1/models")) == 1
