"""Files follow rows: no store, delete or crash leaves a file without its row, or loses track.

Everything goes through the storage API, so these hold on disk and on S3 alike.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from gallery import services
from gallery.models import FileJournal, Generation, Image
from gallery.services.files import storage
from tests.utils import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def generation(user):
    return Generation.objects.create(
        owner=user, prompt="p", model="dall-e-2", n=2, size="256x256", response_format="url"
    )


def exists(name: str) -> bool:
    return storage().exists(name)


def storage_class():
    """The class of the configured storage (FileSystemStorage, S3Storage, ...)."""
    return type(storages["default"])


def test_a_write_that_fails_midway_leaves_no_file_and_no_row(generation, monkeypatch):
    real_save = storage_class().save
    written = []

    def failing_save(self, name, content, max_length=None):
        if name.startswith("thumbnails/"):
            raise OSError("disk full")
        saved = real_save(self, name, content, max_length=max_length)
        written.append(saved)
        return saved

    monkeypatch.setattr(storage_class(), "save", failing_save)
    with pytest.raises(OSError):
        services.image_store(generation=generation, index=0, data=png_bytes())
    assert not Image.objects.exists()
    assert written and not any(exists(name) for name in written)
    assert not FileJournal.objects.exists()


def test_files_left_by_a_worker_that_died_mid_store_are_swept(generation):
    # As a killed worker leaves things: names journalled, bytes written, no row committed.
    name = storage().save("originals/2026/01/01/orphan.png", ContentFile(png_bytes()))
    FileJournal.objects.create(
        name=name, reason=FileJournal.Reason.WRITING, created_at=timezone.now() - timedelta(hours=1)
    )
    kept = services.image_store(generation=generation, index=0, data=png_bytes())
    FileJournal.objects.create(
        name=kept.file.name,
        reason=FileJournal.Reason.WRITING,
        created_at=timezone.now() - timedelta(hours=1),
    )
    assert services.files_sweep() == 2
    assert not exists(name)
    assert exists(kept.file.name)  # a row owns it: only the journal entry goes
    assert not FileJournal.objects.exists()


def test_a_recent_write_in_progress_is_left_alone(generation):
    name = storage().save("originals/2026/01/01/in-progress.png", ContentFile(png_bytes()))
    FileJournal.objects.create(name=name, reason=FileJournal.Reason.WRITING)
    assert services.files_sweep() == 0
    assert exists(name)


def test_every_delete_path_removes_the_files_after_commit(generation, user, django_user_model):
    image = services.image_store(generation=generation, index=0, data=png_bytes())
    names = [image.file.name, image.thumbnail.name]
    assert all(exists(name) for name in names)
    # A deleted person: the cascade deletes the rows, the journal the files.
    django_user_model.objects.filter(pk=user.pk).delete()
    assert not Image.objects.exists()
    assert not any(exists(name) for name in names)
    assert not FileJournal.objects.exists()


def test_a_delete_that_cannot_reach_storage_keeps_track_of_the_file(generation, monkeypatch):
    image = services.image_store(generation=generation, index=0, data=png_bytes())
    names = {image.file.name, image.thumbnail.name}

    def unreachable(self, name):
        raise ConnectionError("storage is down")

    real_delete = storage_class().delete
    monkeypatch.setattr(storage_class(), "delete", unreachable)
    services.image_delete(image=image)
    assert not Image.objects.exists()
    assert set(FileJournal.objects.values_list("name", flat=True)) == names

    monkeypatch.setattr(storage_class(), "delete", real_delete)
    assert services.files_sweep() == 2
    assert not any(exists(name) for name in names)
    assert not FileJournal.objects.exists()
