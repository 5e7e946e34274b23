"""Malformed input answers 4xx with a reason, never a 500: deep ComfyUI metadata, a hand-made
options field, a board cover that names no image, files past the importer's limit, and the
API's files served inert."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from gallery import services
from gallery.models import Image
from tests.factories import distinct_png

DEEP = "[" * 50_000 + "]" * 50_000
DEEP_COMFY = '{"1": {"inputs": {"text": ' + DEEP + "}}}"


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_deep_comfyui_metadata_imports_the_image_without_it(client_in, user):
    response = client_in.post(
        reverse("gallery:upload"),
        {"files": [_file("deep.png", distinct_png(text={"prompt": DEEP_COMFY}))]},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["status"] == "imported"
    assert Image.objects.filter(owner=user).count() == 1


@pytest.mark.django_db
def test_importimages_goes_on_past_a_file_with_deep_metadata(user, tmp_path, capsys):
    (tmp_path / "a-deep.png").write_bytes(distinct_png(text={"workflow": DEEP_COMFY}))
    (tmp_path / "b-plain.png").write_bytes(distinct_png())
    call_command("importimages", str(tmp_path), "--user", user.username)
    assert Image.objects.filter(owner=user).count() == 2


@pytest.mark.django_db
def test_files_past_the_importers_limit_are_reported(client_in, monkeypatch):
    from gallery.views import imports

    monkeypatch.setattr(imports, "MAX_FILES_PER_REQUEST", 2)
    files = [_file(f"{n}.png", distinct_png()) for n in range(3)]
    response = client_in.post(
        reverse("gallery:upload"), {"files": files}, HTTP_ACCEPT="application/json"
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["imported", "imported", "failed"]
    assert "at most 2 files" in results[2]["reason"]
    assert results[2]["name"] == "2.png"


@pytest.mark.django_db
def test_options_of_three_thousand_brackets_are_a_form_error(client_in):
    response = client_in.post(
        reverse("gallery:generate"),
        {
            "prompt": "a harbour",
            "model": "dall-e-2",
            "n": 1,
            "size": "256x256",
            "options": "[" * 3000,
        },
    )
    assert response.status_code < 500


@pytest.mark.django_db
def test_a_board_cover_that_names_no_image_is_a_404(client_in, user):
    board = services.board_create(owner=user, name="Sea")
    response = client_in.post(reverse("gallery:board-cover", args=[board.pk]), {"image": "nope"})
    assert response.status_code == 404


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")
