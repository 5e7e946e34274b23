"""Edits from the gallery: a prompt and an optional mask make a new generation linked to the
image it came from; the worker sends the parent's original and the mask to /v1/images/edits;
the image page shows the lineage both ways. Per owner: another's image is a 404."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse
from PIL import Image as PILImage
from werkzeug import Response

from gallery import selectors, services
from gallery.models import Generation, Image
from tests.utils import b64, image_bytes

EDITS = "/v1/images/edits"
pytestmark = pytest.mark.django_db


def mask_png(size, *, hole=True) -> bytes:
    """Opaque, with a transparent square where the edit may paint (unless ``hole`` is off)."""
    mask = PILImage.new("RGBA", size, (0, 0, 0, 255))
    if hole:
        mask.paste((0, 0, 0, 0), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


def stored(user, data: bytes, *, prompt="a red barn in a snowy field", model="gpt-image-1.5"):
    generation = Generation.objects.create(
        owner=user,
        prompt=prompt,
        model=model,
        n=1,
        size="auto",
        response_format="b64_json",
        status=Generation.Status.DONE,
    )
    return services.image_store(generation=generation, index=0, data=data)


@pytest.fixture
def provider(settings, httpserver):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "sk-test"
    settings.NOVISURF_AUTH_HEADER = "bearer"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return httpserver


def run(generation: Generation) -> Generation:
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    return generation


def test_an_edit_sends_the_original_and_the_mask_and_links_its_images(provider, user, client):
    original = image_bytes((64, 48), (30, 90, 200), noise=True)
    parent = stored(user, original)
    mask = mask_png((64, 48))
    result = image_bytes((64, 48), (220, 200, 40))
    seen = {}

    def answer(request):
        seen["image"] = request.files["image"].read()
        seen["mask"] = request.files["mask"].read()
        seen["form"] = request.form.to_dict()
        body = {"created": 1, "data": [{"b64_json": b64(result)}], "usage": {"total_tokens": 7}}
        return Response(json.dumps(body), content_type="application/json")

    provider.expect_oneshot_request(EDITS, method="POST").respond_with_handler(answer)
    generation = services.edit_create(
        owner=user, image=parent, prompt="  add a small red kite  ", mask=mask
    )
    assert generation.kind == Generation.Kind.EDIT
    assert generation.parent_image == parent
    assert generation.model == "gpt-image-1.5"  # the parent's model, which edits
    with generation.mask.open("rb") as handle:
        assert handle.read() == mask

    generation = run(generation)
    assert generation.status == Generation.Status.DONE, generation.error
    assert seen["image"] == original  # the parent's bytes, as stored
    assert seen["mask"] == mask
    assert seen["form"]["prompt"] == "add a small red kite"
    assert seen["form"]["model"] == "gpt-image-1.5"
    child = Image.objects.get(generation=generation)
    with child.file.open("rb") as handle:
        assert handle.read() == result
    assert generation.total_tokens == 7

    assert selectors.image_lineage(image=child)["made_from"] == parent
    assert selectors.image_lineage(image=parent)["edited_into"] == [child]
    client.force_login(user)
    child_page = client.get(reverse("gallery:image", args=[child.pk])).content.decode()
    assert "Made from" in child_page
    assert reverse("gallery:image", args=[parent.pk]) in child_page
    parent_page = client.get(reverse("gallery:image", args=[parent.pk])).content.decode()
    assert "Edited into" in parent_page
    assert reverse("gallery:image", args=[child.pk]) in parent_page


def test_an_edit_through_the_page_redirects_to_its_generation(user, client):
    parent = stored(user, image_bytes((40, 30)))
    client.force_login(user)
    page = client.get(reverse("gallery:image", args=[parent.pk]))
    assert b'id="edit-toggle"' in page.content and b"What to change" in page.content
    response = client.post(
        reverse("gallery:image-edit", args=[parent.pk]),
        {
            "prompt": "paint it gold",
            "model": "novisurf-procedural",
            "mask": io.BytesIO(mask_png((40, 30))),
        },
    )
    generation = Generation.objects.get(kind=Generation.Kind.EDIT)
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:generation", args=[generation.pk])
    assert generation.parent_image == parent and generation.mask
    assert generation.model == "novisurf-procedural"


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (lambda: mask_png((20, 20)), "it must be the image&#x27;s size, 40x30"),
        (lambda: image_bytes((40, 30), format="JPEG"), "The mask must be a PNG"),
        (lambda: image_bytes((40, 30)), "The mask has no transparency"),
        (lambda: mask_png((40, 30), hole=False), "no transparent area"),
        (lambda: b"not an image", "not a readable PNG"),
    ],
)
def test_a_bad_mask_is_said_beside_the_field_and_nothing_is_made(user, client, mask, message):
    parent = stored(user, image_bytes((40, 30)))
    client.force_login(user)
    response = client.post(
        reverse("gallery:image-edit", args=[parent.pk]),
        {"prompt": "paint it gold", "model": "novisurf-procedural", "mask": io.BytesIO(mask())},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Generation.objects.filter(kind=Generation.Kind.EDIT).exists()


def test_a_blank_prompt_is_refused(user, client):
    parent = stored(user, image_bytes((40, 30)))
    client.force_login(user)
    response = client.post(
        reverse("gallery:image-edit", args=[parent.pk]),
        {"prompt": "   ", "model": "novisurf-procedural"},
    )
    assert response.status_code == 400
    assert b"What to change" in response.content
    assert not Generation.objects.filter(kind=Generation.Kind.EDIT).exists()


def test_another_persons_image_cannot_be_edited_or_seen(user, other_user, client):
    parent = stored(user, image_bytes((40, 30)))
    client.force_login(other_user)
    response = client.post(
        reverse("gallery:image-edit", args=[parent.pk]),
        {"prompt": "steal it", "model": "novisurf-procedural"},
    )
    assert response.status_code == 404
    assert not Generation.objects.filter(kind=Generation.Kind.EDIT).exists()
    with pytest.raises(services.EditRejected):
        services.edit_create(owner=other_user, image=parent, prompt="steal it")


def test_an_svg_parent_is_sent_as_a_png_of_its_size(provider, user):
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40">'
        b'<rect width="80" height="40" fill="#123456"/></svg>'
    )
    parent = stored(user, svg, model="gpt-image-2")
    seen = {}

    def answer(request):
        seen["image"] = request.files["image"].read()
        body = {"created": 1, "data": [{"b64_json": b64(image_bytes((80, 40)))}]}
        return Response(json.dumps(body), content_type="application/json")

    provider.expect_oneshot_request(EDITS, method="POST").respond_with_handler(answer)
    generation = run(services.edit_create(owner=user, image=parent, prompt="make it teal"))
    assert generation.status == Generation.Status.DONE, generation.error
    sent = PILImage.open(io.BytesIO(seen["image"]))
    assert (sent.format, sent.size) == ("PNG", (80, 40))
    assert sent.convert("RGB").getpixel((10, 10)) == (0x12, 0x34, 0x56)


def test_an_edit_whose_parent_was_deleted_fails_in_words(user):
    parent = stored(user, image_bytes((40, 30)))
    generation = services.edit_create(owner=user, image=parent, prompt="paint it gold")
    services.image_delete(image=parent)
    generation = run(generation)
    assert generation.status == Generation.Status.FAILED
    assert "has been deleted" in generation.error


def test_an_edit_by_the_built_in_renderer_through_the_live_endpoint(user, gallery_endpoint):
    parent = stored(user, image_bytes((64, 64), (10, 10, 10)), model="imported")
    generation = services.edit_create(
        owner=user, image=parent, prompt="a golden sun", mask=mask_png((64, 64))
    )
    assert generation.model == "novisurf-procedural"  # "imported" edits nothing
    generation = run(generation)
    assert generation.status == Generation.Status.DONE, generation.error
    child = Image.objects.get(generation=generation)
    assert (child.width, child.height) == (64, 64)  # an edit keeps the image's size
    with child.file.open("rb") as handle:
        pixels = PILImage.open(handle).convert("RGB")
        # Painted inside the mask's hole, untouched outside it.
        assert pixels.getpixel((2, 2)) == (10, 10, 10)
        assert pixels.getpixel((24, 24)) != (10, 10, 10)
