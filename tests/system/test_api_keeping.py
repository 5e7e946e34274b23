"""The endpoint's answers land in the key owner's library: the official SDK against the live
server, the keeping task run as a worker runs it, and the owner's pages looked at."""

from __future__ import annotations

import base64
import csv
import io
import logging
from decimal import Decimal

import openai
import pytest
import requests
from django.core.files.storage import storages
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from PIL import Image as PILImage

from api.models import ApiKey, Spend
from api.services import apikey_create
from gallery.models import Generation, Image
from novisurf.protocol import PROCEDURAL_MODEL
from tests.factories import make_images
from tests.utils import b64, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

KEEP_TASK = "gallery.tasks.answer_keep"


def run_keeping(*, ignore_run_after: bool = True) -> int:
    """Run the queued keeping tasks as the worker would (retries queued meanwhile included)."""
    ran = 0
    for _ in range(20):
        rows = DBTaskResult.objects.filter(task_path=KEEP_TASK, status="READY")
        if not ignore_run_after:
            rows = rows.ready()
        row = rows.order_by("enqueued_at").first()
        if row is None:
            return ran
        DBTaskResult.objects.filter(pk=row.pk).update(status="SUCCESSFUL")
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        ran += 1
    return ran


@pytest.fixture
def sdk(endpoint_url, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)


@pytest.fixture
def upstream(settings, httpserver):
    settings.NOVISURF_UPSTREAM_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_UPSTREAM_KEY = "sk-upstream"
    settings.NOVISURF_UPSTREAM_TIMEOUT = 10.0
    return httpserver


def kept(owner) -> list[Generation]:
    return list(Generation.objects.filter(owner=owner, source=Generation.Source.API))


def test_sdk_images_land_in_the_owners_gallery_and_only_there(
    sdk, user, other_user, client, endpoint_url
):
    prompt = "a lighthouse kept from the api"
    raw = sdk.images.with_raw_response.generate(
        prompt=prompt, model=PROCEDURAL_MODEL, n=2, size="256x256", response_format="b64_json"
    )
    answer = raw.parse()
    assert len(answer.data) == 2
    assert raw.headers["x-novisurf-cost"] == "0.00"
    assert raw.headers["x-novisurf-provider"]

    assert run_keeping() == 1
    [generation] = kept(user)
    assert generation.status == Generation.Status.DONE
    assert generation.api_key_name == "tests"
    assert generation.prompt == prompt and generation.n == 2 and generation.size == "256x256"
    assert generation.cost == 0
    images = list(Image.objects.filter(owner=user).order_by("index"))
    assert [image.file.read() for image in images] == [
        base64.b64decode(item.b64_json) for item in answer.data
    ]
    assert not Image.objects.filter(owner=other_user).exists()
    assert not kept(other_user)

    client.force_login(user)
    page = client.get(reverse("gallery:image", args=[images[0].pk]))
    assert "API key: tests" in page.content.decode()
    home = client.get(reverse("gallery:home")).content.decode()
    assert f'alt="{prompt}' in home
    client.force_login(other_user)
    assert client.get(reverse("gallery:image", args=[images[0].pk])).status_code == 404
    assert prompt not in client.get(reverse("gallery:home")).content.decode()


def test_a_streamed_answer_is_kept(sdk, user):
    stream = sdk.images.generate(
        prompt="a streamed harbour",
        model=PROCEDURAL_MODEL,
        size="256x256",
        stream=True,
        partial_images=1,
    )
    completed = [event for event in stream if event.type.endswith(".completed")]
    assert len(completed) == 1
    run_keeping()
    [generation] = kept(user)
    [image] = generation.images.all()
    assert image.file.read() == base64.b64decode(completed[0].b64_json)


def test_a_url_answer_is_kept_and_its_link_still_works(sdk, user):
    answer = sdk.images.generate(
        prompt="a url answer", model=PROCEDURAL_MODEL, size="256x256", response_format="url"
    )
    run_keeping()
    [generation] = kept(user)
    assert generation.images.count() == 1
    assert requests.get(answer.data[0].url, timeout=10).status_code == 200


def test_an_edit_of_an_owners_image_is_made_from_it(sdk, user, client):
    [source] = make_images(user, 1, prompt="the original")
    data = source.file.read()
    sdk.images.edit(
        image=("source.png", data, "image/png"),
        prompt="the same, at night",
        model=PROCEDURAL_MODEL,
        size="256x256",
    )
    run_keeping()
    [generation] = kept(user)
    assert generation.kind == Generation.Kind.EDIT
    assert generation.parent_image == source
    client.force_login(user)
    page = client.get(reverse("gallery:image", args=[generation.images.get().pk]))
    assert "Made from" in page.content.decode()


def test_an_edit_of_someone_elses_image_is_not_linked(sdk, user, other_user):
    [theirs] = make_images(other_user, 1, prompt="not yours")
    sdk.images.edit(
        image=("x.png", theirs.file.read(), "image/png"),
        prompt="mine now",
        model=PROCEDURAL_MODEL,
        size="256x256",
    )
    run_keeping()
    [generation] = kept(user)
    assert generation.parent_image is None


def test_forwarded_images_are_kept_with_their_provider(sdk, user, upstream):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {
            "created": 1,
            "data": [
                {"b64_json": b64(png_bytes())},
                {"b64_json": b64(png_bytes(colour=(1, 2, 3)))},
            ],
        }
    )
    sdk.images.generate(
        prompt="forwarded pair", model="gpt-image-1", n=2, quality="low", size="1024x1024"
    )
    run_keeping()
    [generation] = kept(user)
    assert generation.images.count() == 2
    assert generation.provider
    assert generation.cost == Decimal("0.022")


def test_a_failing_provider_keeps_nothing(sdk, user, upstream):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {"error": {"message": "boom", "type": "server_error"}}, status=400
    )
    with pytest.raises(openai.BadRequestError):
        sdk.images.generate(prompt="never made", model="gpt-image-1")
    assert run_keeping() == 0
    assert not Generation.objects.exists()


def test_a_key_that_says_no_keeps_nothing(sdk, user):
    ApiKey.objects.filter(owner=user).update(keep_images=False)
    sdk.images.generate(prompt="not kept", model=PROCEDURAL_MODEL, size="256x256")
    assert run_keeping() == 0
    assert not Generation.objects.exists()


def test_the_gallerys_own_key_is_not_kept_twice(endpoint_url, user):
    _, service = apikey_create(owner=user, name="gallery", is_service=True)
    sdk = openai.OpenAI(base_url=endpoint_url, api_key=service, max_retries=0)
    sdk.images.generate(prompt="the gallery's own", model=PROCEDURAL_MODEL, size="256x256")
    assert run_keeping() == 0


def test_the_gallerys_calls_are_not_kept_twice_even_with_a_plain_key(endpoint_url, user):
    """A deployment whose gallery key was made without --service: the gallery's own calls
    (which name their person in ``user``) are stored by the gallery, not kept again."""
    _, plain = apikey_create(owner=user, name="gallery")
    sdk = openai.OpenAI(base_url=endpoint_url, api_key=plain, max_retries=0)
    sdk.images.generate(
        prompt="the gallery's own",
        model=PROCEDURAL_MODEL,
        size="256x256",
        user=f"novisurf:{user.pk}",
    )
    assert run_keeping() == 0
    sdk.images.generate(prompt="a script's", model=PROCEDURAL_MODEL, size="256x256", user="bob")
    assert run_keeping() == 1


def _fail_originals(monkeypatch):
    """The storage (disk or S3) refuses the gallery's originals and thumbnails."""
    backend = type(storages["default"])
    real_save = backend._save

    def refusing(self, name, content):
        if name.startswith(("originals/", "thumbnails/")):
            raise OSError("the disk is gone")
        return real_save(self, name, content)

    monkeypatch.setattr(backend, "_save", refusing)


def test_a_storage_fault_in_the_background_is_retried_and_never_shown(
    sdk, user, monkeypatch, caplog
):
    _fail_originals(monkeypatch)
    answer = sdk.images.generate(
        prompt="kept later", model=PROCEDURAL_MODEL, size="256x256", response_format="b64_json"
    )
    assert PILImage.open(io.BytesIO(base64.b64decode(answer.data[0].b64_json))).size == (256, 256)
    with caplog.at_level(logging.WARNING):
        run_keeping_once = DBTaskResult.objects.filter(task_path=KEEP_TASK).count()
        assert run_keeping_once == 1
        # The first try meets the fault: logged, and a retry queued for later.
        row = DBTaskResult.objects.get(task_path=KEEP_TASK)
        DBTaskResult.objects.filter(pk=row.pk).update(status="SUCCESSFUL")
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
    assert "trying again" in caplog.text
    assert not Image.objects.exists()
    retry = DBTaskResult.objects.get(task_path=KEEP_TASK, status="READY")
    assert retry.args_kwargs["args"][1] == 1  # the second try
    assert retry.run_after.year < 9999  # deferred, not at once
    monkeypatch.undo()
    run_keeping()
    [generation] = kept(user)
    assert generation.images.get().file.read() == base64.b64decode(answer.data[0].b64_json)


def test_a_storage_fault_does_not_change_the_answer(endpoint_url, user, settings, monkeypatch):
    """The same request answered with keeping on (its store failing, run at once in the
    request's own thread) and with keeping off: the same status and the same images."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    _, keeping_key = apikey_create(owner=user, name="keeps")
    plain, plain_key = apikey_create(owner=user, name="plain")
    ApiKey.objects.filter(pk=plain.pk).update(keep_images=False)
    _fail_originals(monkeypatch)
    monkeypatch.setattr("gallery.services.keeping.KEEP_ATTEMPTS", 2)
    request = {
        "prompt": "identical",
        "model": PROCEDURAL_MODEL,
        "size": "256x256",
        "n": 2,
        "response_format": "b64_json",
    }
    keeping = openai.OpenAI(base_url=endpoint_url, api_key=keeping_key, max_retries=0)
    not_keeping = openai.OpenAI(base_url=endpoint_url, api_key=plain_key, max_retries=0)
    kept_answer = keeping.images.with_raw_response.generate(**request)
    plain_answer = not_keeping.images.with_raw_response.generate(**request)
    assert kept_answer.status_code == plain_answer.status_code == 200
    assert [d.b64_json for d in kept_answer.parse().data] == [
        d.b64_json for d in plain_answer.parse().data
    ]
    # The store was tried (and failed) for the keeping key only.
    assert Generation.objects.filter(source=Generation.Source.API).count() == 1
    assert not Image.objects.exists()


def test_the_usage_csv_sums_to_what_was_spent(sdk, user, upstream, client):
    upstream.expect_request("/v1/images/generations").respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes())}]}
    )
    for prompt in ("first priced", "second priced"):
        sdk.images.generate(
            prompt=prompt, model="dall-e-3", quality="standard", response_format="b64_json"
        )
    sdk.images.generate(prompt="free", model=PROCEDURAL_MODEL, size="256x256")
    run_keeping()
    spend = Spend.objects.get(scope=f"user:{user.pk}")
    client.force_login(user)
    response = client.get(reverse("gallery:usage-csv"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sum(Decimal(row["cost_usd"]) for row in rows) == Decimal("0.08")
    assert spend.spent_micros == 80_000
    assert sum(int(row["images"]) for row in rows) == 3
    assert {row["key"] for row in rows} == {"tests"}


def test_the_seam_imports_neither_app():
    """novisurf_site.keeping is what both apps import: it must import neither of them."""
    import ast
    from pathlib import Path

    import novisurf_site.keeping as seam

    tree = ast.parse(Path(seam.__file__).read_text())
    imported = {
        name.split(".", 1)[0]
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert not imported & {"api", "gallery"}
