"""Organise and take out: import by the command, a streamed ZIP, bulk actions on 10,000 images.

- Import of N PNGs by ``manage.py importimages`` against raw Pillow verify + thumbnail of the
  same files (goal: at most 1.2x).
- ZIP of the same N stored images, streamed by ``services.images_zip`` (parameters embedded,
  metadata.json), against copying the same bytes into a ZIP with ``zipfile`` alone; and the
  peak memory the streaming takes (tracemalloc), at N/10 and N images (goal: at most 50 MB,
  and not growing with N).
- Bulk tag and bulk trash of 10,000 images ("Select all" on a listing): time and SQL queries,
  against the same at 100 images (the count must not grow).

NOVISURF_BENCH_IMAGES sets N (default 1,000).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
import tracemalloc
import uuid
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from bench.fixtures import PROMPT
from bench.timing import Report, format_seconds
from gallery import selectors, services
from gallery.models import Image

N = int(os.environ.get("NOVISURF_BENCH_IMAGES", "1000"))
SIDE = int(os.environ.get("NOVISURF_BENCH_SIDE", "1024"))  # the site's default size
PER_FOLDER = 100
TITLE = f"Organise: import, ZIP ({N:,} images of {SIDE}x{SIDE}), bulk actions (10,000 images)"


class CountingSink(io.RawIOBase):
    """Where a ZIP goes when only its size matters (a socket, in production)."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)


def _write_folders(root: Path, count: int) -> list[Path]:
    """N distinct PNGs as another tool writes them (the same pixels, a different text chunk),
    in folders of a hundred, so that the two sides can be timed in alternation."""
    from api.renderers.procedural import compose

    base = compose(PROMPT, 0, SIDE, SIDE).convert("RGB")
    folders = []
    for index in range(count):
        folder = root / f"{index // PER_FOLDER:03d}"
        if index % PER_FOLDER == 0:
            folder.mkdir()
            folders.append(folder)
        info = PngInfo()
        info.add_text(
            "parameters", f"{PROMPT} {index}\nSteps: 20, Seed: {index}, Size: {SIDE}x{SIDE}"
        )
        base.save(folder / f"{index:05d}.png", "PNG", pnginfo=info, compress_level=6)
    return folders


def _raw_pillow(folder: Path) -> None:
    max_side = settings.NOVISURF_THUMBNAIL_SIZE
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        probe = PILImage.open(io.BytesIO(data))
        probe.verify()
        image = PILImage.open(io.BytesIO(data))
        image.load()
        thumb = image.copy()
        thumb.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS, reducing_gap=3.0)
        thumb.save(io.BytesIO(), "WEBP", quality=82, method=4)


def _organiser():
    """A person of this benchmark's own: other benchmarks fill the same throwaway database."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-organiser")
    return user


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _import(report: Report, folders: list[Path]) -> None:
    """Timed folder by folder, the two sides in alternation, so that both see the same load."""
    user = _organiser()
    raw = imported = 0.0
    for folder in folders:
        raw += _timed(lambda folder=folder: _raw_pillow(folder))
        imported += _timed(
            lambda folder=folder: call_command(
                "importimages", str(folder), user=user.username, verbosity=0, stdout=io.StringIO()
            )
        )
    count = Image.objects.filter(owner=user, generation=None).count()
    if count != N:
        raise AssertionError(f"imported {count} of {N}")
    report.row(f"importimages, {N:,} PNGs", imported, "Pillow verify + thumbnail", raw)
    report.info("  images per second", f"{N / imported:,.0f}/s")


def _zip_bytes(images) -> int:
    return sum(len(chunk) for chunk in services.images_zip(images=images))


def _zipfile_alone(images) -> int:
    sink = CountingSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in images.iterator(chunk_size=200):
            with image.file.open("rb") as handle:
                archive.writestr(f"{image.pk}.png", handle.read())
    return sink.size


def _peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - start) / 1e6


def _zip(report: Report) -> None:
    user = _organiser()
    images = selectors.image_list(owner=user)
    ours = _timed(lambda: _zip_bytes(images))
    alone = _timed(lambda: _zipfile_alone(images))
    size = _zip_bytes(images)
    report.row(f"images_zip, {N:,} images", ours, "zipfile alone, same bytes", alone)
    report.info("  ZIP size, throughput", f"{size / 1e6:,.0f} MB, {size / 1e6 / ours:,.0f} MB/s")
    tenth = Image.objects.filter(pk__in=list(images.values_list("pk", flat=True)[: N // 10]))
    small = _peak_mb(lambda: _zip_bytes(tenth))
    big = _peak_mb(lambda: _zip_bytes(images))
    report.info(f"  peak memory, {N // 10:,} images", f"{small:.1f} MB")
    report.info(f"  peak memory, {N:,} images", f"{big:.1f} MB")
    if big > 50:
        report.note(f"peak memory {big:.1f} MB is over the 50 MB goal")


def _fake_images(owner, count: int, prompt: str) -> None:
    """Rows only: bulk actions touch rows, never files."""
    now = timezone.now()
    Image.objects.bulk_create(
        [
            Image(
                owner=owner,
                file=f"originals/bench/{uuid.uuid4().hex}.png",
                thumbnail=f"thumbnails/bench/{uuid.uuid4().hex}.webp",
                width=512,
                height=512,
                thumbnail_width=512,
                thumbnail_height=512,
                format="png",
                file_size=1,
                content_hash=uuid.uuid4().hex,
                prompt=prompt,
                model="bench",
                size="512x512",
                created_at=now,
            )
            for _ in range(count)
        ],
        batch_size=500,
    )


def _bulk(report: Report) -> None:
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user(f"bulk-{uuid.uuid4().hex[:6]}")
    _fake_images(owner, 100, "small batch of harbours")
    _fake_images(owner, 10_000, "large batch of lighthouses")
    services.tags_for(owner=owner, names=["picked"])
    for label, query in (("100", "harbours"), ("10,000", "lighthouses")):
        for action, params in (("tag-add", {"tags": ["picked"]}), ("trash", {})):
            images = selectors.image_selection(owner=owner, filters={"q": query})
            with CaptureQueriesContext(connection) as queries:
                seconds = _timed(
                    lambda images=images, action=action, params=params: services.bulk_apply(
                        owner=owner, action=action, params=params, images=images
                    )
                )
            report.info(
                f"bulk {action}, {label} images",
                f"{format_seconds(seconds)}, {len(queries.captured_queries)} SQL queries",
            )
    tagged = selectors.image_list(owner=owner, tag="picked").count()
    trashed = Image.objects.filter(owner=owner).trashed().count()
    if trashed != 10_100:
        raise AssertionError(f"trashed {trashed} of 10,100 ({tagged} tagged)")


def run(report: Report) -> None:
    folder = Path(tempfile.mkdtemp(prefix="novisurf-import-"))
    try:
        _import(report, _write_folders(folder, N))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _zip(report)
    _bulk(report)
