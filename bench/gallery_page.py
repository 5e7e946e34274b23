"""The gallery's pages at 10,000 and 100,000 images of one person (1,000,000 with --million),
with as many rows of another person beside them, each page against the raw SQL of its own
main query run through ``connection.cursor()``.

Pages: the first page, a page deep in the listing (keyset cursor at 90% of it), a tag filter, a
one-word search, one image's page (with its previous/next in a tag's listing). The number of
SQL queries per page is printed at every size: it must not change with the number of images.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image as PILImage

from bench.fixtures import bench_user
from bench.timing import Report, compare
from gallery import selectors
from gallery.listing import Cursor, Listing
from gallery.models import Image, Tag, TaggedImage
from novisurf.protocol import PROCEDURAL_MODEL

SIZES = (10_000, 100_000)
MILLION = 1_000_000
TAGGED_EVERY = 5  # a fifth of the images carry two tags
TAG_NAMES = ["landscape", "city", "blue", "portrait", "night", "draft"]
WORDS = ["harbour", "mountain", "forest", "city", "desert", "garden", "river", "island"]
TITLE = "Gallery pages at 10,000 and 100,000 images (other people's rows beside them)"
_BATCH = 5_000


def _shared_files() -> tuple[str, str]:
    """One small original and thumbnail that every row points at."""
    names = []
    for fmt, name in (("PNG", "bench/original.png"), ("WEBP", "bench/thumbnail.webp")):
        buffer = ContentFile(b"", name=name)
        PILImage.new("RGB", (64, 64), (40, 90, 160)).save(buffer, fmt)
        names.append(default_storage.save(name, buffer))
    return names[0], names[1]


def _populate(owner, *, start: int, stop: int, files: tuple[str, str], tags: list[Tag]) -> None:
    """Rows ``start..stop`` of ``owner`` (bulk_create: no files written, no service run), a
    second apart, going back in time; every fifth with two of the owner's tags."""
    now = timezone.now()
    shapes = [(1024, 1024, 512, 512), (1792, 1024, 512, 293), (1024, 1792, 293, 512)]
    for low in range(start, stop, _BATCH):
        rows = []
        for i in range(low, min(stop, low + _BATCH)):
            width, height, tw, th = shapes[i % 3]
            rows.append(
                Image(
                    owner=owner,
                    index=0,
                    file=files[0],
                    thumbnail=files[1],
                    width=width,
                    height=height,
                    thumbnail_width=tw,
                    thumbnail_height=th,
                    format="png",
                    file_size=1234,
                    content_hash=f"{i:064x}",
                    prompt=(
                        f"bench image {i}: a quiet {WORDS[i % len(WORDS)]} at dusk, "
                        "boats and gulls, oil painting"
                    ),
                    model=PROCEDURAL_MODEL,
                    size=f"{width}x{height}",
                    created_at=now - timedelta(seconds=i),
                )
            )
        with transaction.atomic():
            made = Image.objects.bulk_create(rows, batch_size=1000)
            links = [
                TaggedImage(tag=tags[(i + k) % len(tags)], content_object=image)
                for i, image in zip(range(low, low + len(made)), made, strict=True)
                if i % TAGGED_EVERY == 0
                for k in (0, 1)
            ]
            TaggedImage.objects.bulk_create(links, batch_size=1000)


def _tags(owner) -> list[Tag]:
    return [Tag.objects.get_or_create(owner=owner, name=name)[0] for name in TAG_NAMES]


def _raw(queryset):
    """The queryset's own SQL, run through the cursor: the floor under the page."""
    sql, params = queryset.query.sql_with_params()

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    return run


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return len(queries)


def _cpu(fn, baseline, *, repeats: int = 9, warmup: int = 2) -> tuple[float, float]:
    """Median CPU seconds (``time.process_time``) of ``fn`` and of ``baseline``, in alternation:
    what a page costs the web process, apart from waiting on anything."""
    for _ in range(warmup):
        fn()
        baseline()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for target, into in ((fn, samples[0]), (baseline, samples[1])):
            start = time.process_time()
            target()
            into.append(time.process_time() - start)
    return statistics.median(samples[0]), statistics.median(samples[1])


def _measure(report: Report, owner, count: int) -> dict[str, int]:
    client = Client()
    client.force_login(owner)
    size = settings.GALLERY_PAGE_SIZE
    listing = Listing()
    images = selectors.listing_images(owner=owner, listing=listing)
    tiles = images.only(*selectors.TILE_FIELDS)
    deep_image = images.order_by("-created_at", "-id")[int(count * 0.9)]
    deep = Cursor.of(deep_image)
    tagged = selectors.image_list(owner=owner, tag=TAG_NAMES[0])
    searched = selectors.image_list(owner=owner, query=WORDS[0])
    shown = tagged.first()

    def get(path: str):
        def run() -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")

        return run

    pages = [
        ("first page  GET /", "/", _raw(tiles[: size + 1])),
        (
            "deep page   GET /?after=<90%>",
            f"/?after={deep}",
            _raw(selectors._beyond(tiles, deep, order="newest", forward=True)[: size + 1]),
        ),
        (
            f"tag filter  GET /?tag={TAG_NAMES[0]}",
            f"/?tag={TAG_NAMES[0]}",
            _raw(tagged.only(*selectors.TILE_FIELDS)[: size + 1]),
        ),
        (
            f"search      GET /?q={WORDS[0]}",
            f"/?q={WORDS[0]}",
            _raw(searched.only(*selectors.TILE_FIELDS)[: size + 1]),
        ),
        (
            "image page  GET /images/<id>/?tag=",
            f"/images/{shown.pk}/?tag={TAG_NAMES[0]}",
            _raw(Image.objects.filter(pk=shown.pk)),
        ),
    ]
    counts = {}
    for name, path, baseline in pages:
        page, floor = compare(get(path), baseline, repeats=9, warmup=2)
        report.row(f"{count:>9,} {name}", page, "raw SQL of its main query", floor)
        page_cpu, floor_cpu = _cpu(get(path), baseline)
        report.row(f"{count:>9,}   CPU of that page", page_cpu, "CPU of its raw SQL", floor_cpu)
        counts[name] = _queries(client, path)
    report.info(
        f"{count:>9,} SQL queries per page",
        " ".join(str(n) for n in counts.values()),
    )
    return counts


def run(report: Report, images_count: int | None = None) -> None:
    """At 10,000 and 100,000 images (and 1,000,000 with --million), or at ``images_count``."""
    # The form's model list comes from the cache, as on a warm site.
    # (the key the site reads: a cold cache would read the refresh task's result per page).
    from gallery.provider_client import _models_cache_key

    cache.set(
        _models_cache_key(),
        [{"id": PROCEDURAL_MODEL, "name": None, "streams": True}],
        None,
    )
    owner = bench_user()
    from django.contrib.auth import get_user_model

    other = get_user_model().objects.create_user("bench-other", password="bench-password-123")
    files = _shared_files()
    owner_tags, other_tags = _tags(owner), _tags(other)
    sizes = [*SIZES, MILLION] if os.environ.get("NOVISURF_BENCH_MILLION") else list(SIZES)
    if images_count:
        sizes = [images_count]
    done = 0
    counts = []
    for count in sizes:
        _populate(owner, start=done, stop=count, files=files, tags=owner_tags)
        _populate(other, start=done, stop=count, files=files, tags=other_tags)
        done = count
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics, as a live database keeps them
        counts.append(_measure(report, owner, count))
    if any(c != counts[0] for c in counts[1:]):
        report.failed = True
        report.note("FAILED: the number of SQL queries per page changes with the number of images")
    else:
        report.note(
            "SQL queries per page: the same at every size (first, deep, tag, search, image)"
        )
