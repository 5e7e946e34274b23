"""Rows and files, compared: rows whose files are missing, and files no row refers to.

Walks storage through its own API (``listdir``), so that it works the same on S3; only the
gallery's own folders are walked, and names still in the file journal (a store under way, a
deletion waiting for the sweeper) are not called strays.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..models import FileJournal, Generation, Image
from .files import storage

GALLERY_FOLDERS = ("originals", "thumbnails", "masks")


@dataclass
class StorageReport:
    files: int = 0
    rows: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)  # (image id, file name)
    stray: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.missing and not self.stray


def storage_walk(folder: str) -> Iterator[str]:
    """Every file name under ``folder``, recursively, through the storage API."""
    try:
        directories, files = storage().listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield f"{folder}/{name}"
    for directory in directories:
        yield from storage_walk(f"{folder}/{directory}")


def storage_check(*, fix: bool = False) -> StorageReport:
    report = StorageReport()
    present: set[str] = set()
    for folder in GALLERY_FOLDERS:
        present.update(storage_walk(folder))
    report.files = len(present)
    referenced: set[str] = set()
    for image_id, file_name, thumb_name in Image.objects.values_list(
        "pk", "file", "thumbnail"
    ).iterator(chunk_size=2000):
        report.rows += 1
        for name in (file_name, thumb_name):
            if not name:
                continue
            referenced.add(name)
            if name not in present:
                report.missing.append((str(image_id), name))
    referenced.update(n for n in Generation.objects.exclude(mask="").values_list("mask", flat=True))
    journalled = set(FileJournal.objects.values_list("name", flat=True))
    report.stray = sorted(present - referenced - journalled)
    if fix:
        for name in report.stray:
            storage().delete(name)
            report.removed.append(name)
    return report
