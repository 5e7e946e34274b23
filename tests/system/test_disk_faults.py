"""A full disk leaves nothing behind: a failed write removes its partial file, housekeeping
removes strays in every folder the site writes, /readyz says storage cannot be written, and
the API answers 503 rather than 500.

The full disk is a storage whose writes put a few bytes down and then fail with ENOSPC, as a
small tmpfs does (mounting one needs privileges the suite does not ask for).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage

from gallery import services
from gallery.models import Generation, Image
from novisurf.protocol import PROCEDURAL_MODEL
from tests.factories import distinct_png
from tests.utils import b64, png_bytes

pytestmark = pytest.mark.filesystem


@pytest.fixture
def full_disk(monkeypatch):
    def _save(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 10)  # what fitted before the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", _save)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def generation_for(user, **fields) -> Generation:
    defaults = {"prompt": "p", "model": "dall-e-2", "n": 1, "size": "256x256"}
    return Generation.objects.create(owner=user, **{**defaults, **fields})


@pytest.mark.django_db
def test_a_failed_write_leaves_no_partial_file(user, settings, full_disk):
    with pytest.raises(OSError):
        services.image_store(generation=generation_for(user), index=0, data=png_bytes())
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    assert Image.objects.count() == 0


@pytest.mark.django_db
def test_a_generation_on_a_full_disk_names_the_reason(user, settings, httpserver, full_disk):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    httpserver.expect_request("/v1/images/generations").respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes())}]}
    )
    generation = generation_for(user, response_format="b64_json")
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED
    assert "No space left on device" in generation.error
    assert "unexpected" not in generation.error
    assert files_under(Path(settings.MEDIA_ROOT)) == []


@pytest.mark.django_db
def test_the_api_answers_503_when_it_cannot_store(client, api_key, settings, full_disk):
    response = client.post(
        "/v1/images/generations",
        {"prompt": "a harbour", "model": PROCEDURAL_MODEL, "response_format": "url"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert response["Retry-After"]
    assert [n for n in files_under(Path(settings.MEDIA_ROOT)) if "api-results" in n] == []


@pytest.mark.django_db
def test_readyz_says_storage_cannot_be_written(client, full_disk):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"]


@pytest.mark.django_db
def test_one_housekeeping_round_removes_strays_in_every_folder(user, settings):
    kept = services.image_store(generation=generation_for(user), index=0, data=distinct_png())
    root = Path(settings.MEDIA_ROOT)
    strays = [
        "originals/2026/01/01/orphan.png",
        "thumbnails/2026/01/01/orphan.webp",
        "masks/2026/01/01/orphan.png",
        "api-results/2026/01/01/orphan.png",
    ]
    an_hour_and_more_ago = time.time() - 2 * 3600
    for name in strays:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")  # an empty original, as a full disk leaves them
        os.utime(path, (an_hour_and_more_ago, an_hour_and_more_ago))
    fresh = root / "originals/2026/01/01/being-written.png"
    fresh.write_bytes(b"x")  # too new to call a stray: its row may be about to commit
    services.maintenance_run()
    left = files_under(root)
    assert [name for name in strays if name in left] == []
    assert kept.file.name in left and kept.thumbnail.name in left
    assert "originals/2026/01/01/being-written.png" in left
