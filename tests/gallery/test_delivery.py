"""Files served as the storage wants: presigned redirects on S3, the proxy's sendfile or a
stream on disk; storage that cannot be reached is a 503, never a 500; a delete while it is down
keeps track of the files for the sweeper."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from gallery import services
from gallery.models import FileJournal, Image
from tests.system.test_operations import s3_down  # noqa: F401 - a fixture, used by name
from tests.utils import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(user) -> Image:
    """An image of ``user`` with its original and thumbnail really in storage."""
    image = Image(
        owner=user,
        width=64,
        height=48,
        thumbnail_width=64,
        thumbnail_height=48,
        format="png",
        file_size=1,
        content_hash="0" * 64,
        prompt="a harbour at night",
        model="novisurf-procedural",
        size="1024x1024",
    )
    image.file.save("original.png", ContentFile(png_bytes()), save=False)
    image.thumbnail.save("thumbnail.webp", ContentFile(b"RIFF....WEBP"), save=False)
    image.save()
    return image


@pytest.fixture
def s3_after_storing(stored, request):
    """The image was stored on disk; now storage is S3, and that S3 is down."""
    return request.getfixturevalue("s3_down")


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


def thumbnail_url(image: Image) -> str:
    return reverse("gallery:image-thumbnail", args=[image.pk])


def original_url(image: Image) -> str:
    return reverse("gallery:image-file", args=[image.pk])


# -- on disk ----------------------------------------------------------------------------------


@pytest.mark.filesystem
def test_a_file_on_disk_is_streamed_once_then_not_modified(owner_client, stored):
    first = owner_client.get(original_url(stored))
    assert first.status_code == 200
    assert b"".join(first.streaming_content) == png_bytes()
    assert first["Cache-Control"].startswith("private")
    again = owner_client.get(original_url(stored), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]


@pytest.mark.filesystem
def test_sendfile_hands_the_file_to_the_proxy(owner_client, stored, settings):
    settings.NOVISURF_FILE_DELIVERY = "sendfile"
    settings.NOVISURF_SENDFILE_HEADER = "X-Accel-Redirect"
    settings.NOVISURF_SENDFILE_PREFIX = "/protected-media/"
    response = owner_client.get(thumbnail_url(stored))
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == "/protected-media/" + stored.thumbnail.name
    assert response["Content-Type"] == "image/webp"
    assert response["Cache-Control"].startswith("private")


@pytest.mark.filesystem
def test_disk_that_fails_is_a_503_with_a_placeholder_thumbnail(owner_client, stored, monkeypatch):
    def unreachable(name, mode="rb"):
        raise OSError("Input/output error")  # a lost network mount, say

    # On the storage itself, not the lazy default_storage in front of it: the settings fixture
    # may swap that before monkeypatch undoes this (the S3 run's disk-only tests).
    monkeypatch.setattr(stored.file.storage._wrapped, "open", unreachable)
    thumbnail = owner_client.get(thumbnail_url(stored))
    assert thumbnail.status_code == 503
    assert thumbnail["Content-Type"] == "image/svg+xml"
    assert b"Image unavailable" in thumbnail.content
    original = owner_client.get(original_url(stored))
    assert original.status_code == 503
    assert b"cannot be reached" in original.content
    assert original["Retry-After"]


@pytest.mark.filesystem
def test_a_missing_file_is_a_404(owner_client, stored):
    default_storage.delete(stored.file.name)
    assert owner_client.get(original_url(stored)).status_code == 404


# -- on S3 ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("stored", "s3_after_storing")
def test_s3_files_are_a_private_redirect_to_a_short_lived_presigned_url(owner_client, stored):
    # Presigning needs no network: it works even with the store down; the browser then asks it.
    for url, name in ((thumbnail_url(stored), stored.thumbnail.name), (original_url(stored), "")):
        response = owner_client.get(url)
        assert response.status_code == 302
        target = urlsplit(response["Location"])
        assert f"{target.scheme}://{target.netloc}" == "http://127.0.0.1:9"
        assert target.path.endswith(name or stored.file.name)
        query = parse_qs(target.query)
        assert "X-Amz-Signature" in query or "Signature" in query
        assert query.get("X-Amz-Expires", ["300"]) == ["300"]
        assert response["Cache-Control"] == "private, max-age=240"


@pytest.mark.usefixtures("stored", "s3_after_storing")
def test_another_persons_file_is_a_404_not_a_redirect(client, other_user, stored):
    client.force_login(other_user)
    assert client.get(thumbnail_url(stored)).status_code == 404


@pytest.mark.usefixtures("stored", "s3_after_storing")
def test_a_download_with_s3_down_is_a_503(owner_client, stored):
    response = owner_client.get(reverse("gallery:image-download", args=[stored.pk]))
    assert response.status_code == 503
    assert b"cannot be reached" in response.content


# -- deletes while storage is down --------------------------------------------------------------


def test_a_delete_while_storage_is_down_keeps_track_of_the_files(
    owner_client, stored, monkeypatch, django_capture_on_commit_callbacks
):
    names = {stored.file.name, stored.thumbnail.name}
    storage = stored.file.storage

    def unreachable(name):
        raise ConnectionError("storage is down")

    with monkeypatch.context() as patch:
        patch.setattr(storage, "delete", unreachable)
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(reverse("gallery:image-delete", args=[stored.pk]))
    assert response.status_code == 302  # not a 500
    assert not Image.objects.filter(pk=stored.pk).exists()
    assert set(FileJournal.objects.values_list("name", flat=True)) == names
    assert all(storage.exists(name) for name in names)  # nothing lost track of

    # Storage is back: the sweeper finishes the job.
    services.files_sweep()
    assert not any(storage.exists(name) for name in names)
    assert not FileJournal.objects.exists()
