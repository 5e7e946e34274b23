"""Search: one user's first page of newest-first results, at 10,000 and 100,000 images.

The library grows in steps (10,000, then 100,000; 1,000,000 with ``--million`` or
``BENCH_MILLION=1``), with other users' rows beside it (a quarter as many again, the same words),
varied prompts and per-owner tags on a fifth of the images. Each query is measured through what
the gallery runs, ``selectors.listing_page`` (the site's keyset pager over
``selectors.image_list(owner=…, query=…)``: first page, second page, and page 400 by cursor), beside the raw SQL for a first page *without*
search from the same run. The index alone answering (a raw count of every match, any owner) is
printed under each query, to show what a plan that reads every match would cost.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from bench.timing import Report, compare, format_seconds, measure
from gallery import search, selectors
from gallery.listing import Cursor, Listing
from gallery.models import Image, Tag, TaggedImage

SIZES = [10_000, 100_000]
MILLION = 1_000_000
OTHERS_SHARE = 4  # other users hold a quarter as many rows as the one measured
TAGGED_EVERY = 5
DEEP_PAGE = 400
TITLE = "Search: first page of one user's newest matches (selectors.listing_page)"

# (label, query): how often each matches is set by the prompt generator below.
QUERIES = [
    ("common prefix (~30%)", "moun"),
    ("common word (~30%)", "mountain"),
    ("two words (~6%)", "moun lake"),
    ("tag prefix (~7%)", "landsc"),
    ("uncommon word (~1%)", "lighthouse"),
    ("rare word (a handful)", "item4242"),
    ("no match", "zzyzx"),
]
DEEP_QUERIES = ["moun", "moun lake"]

PLACES = ["harbour", "city", "forest", "desert", "castle", "river", "island", "garden", "valley"]
STYLES = ["oil painting", "watercolour", "photograph", "pencil sketch", "3d render", "pixel art"]
LIGHTS = ["at dusk", "at dawn", "at night", "in fog", "under snow", "in spring rain"]
TAG_NAMES = ["landscape", "portrait", "blue", "draft", "night", "favourite-set", "city", "study"]


def million_requested() -> bool:
    return os.environ.get("BENCH_MILLION", "") not in ("", "0", "false", "no")


def prompt_for(rng: random.Random, i: int) -> tuple[str, str]:
    """A prompt and revised prompt: ~30% mention mountains, ~20% a lake, ~1% a lighthouse, and
    each carries its own number (``item<i>``), which makes ``item4242`` rare."""
    words = []
    roll = rng.random()
    if roll < 0.15:
        words.append("snowy mountains")
    elif roll < 0.30:
        words.append("a mountain pass")
    else:
        words.append(f"a {rng.choice(PLACES)}")
    if rng.random() < 0.20:
        words.append("by a lake")
    if rng.random() < 0.01:
        words.append("with a lighthouse")
    words.append(rng.choice(LIGHTS))
    words.append(rng.choice(STYLES))
    words.append(f"item{i}")
    revised = f"A detailed {rng.choice(STYLES)} of {words[0]}" if rng.random() < 0.5 else ""
    return " ".join(words), revised


class Library:
    """The rows: one measured user and two others, grown in place from one size to the next."""

    def __init__(self) -> None:
        users = get_user_model().objects
        self.owner = users.create_user("search-bench", password="search-bench-password")
        self.others = [
            users.create_user(f"search-bench-{n}", password="search-bench-password")
            for n in range(2)
        ]
        self.size = 0
        self.others_size = 0
        self.start = timezone.now()
        self.tags: dict[int, list[Tag]] = {}

    def _tags(self, user) -> list[Tag]:
        if user.pk not in self.tags:
            self.tags[user.pk] = [Tag.objects.create(owner=user, name=n) for n in TAG_NAMES]
        return self.tags[user.pk]

    def _add(self, user, first: int, count: int, step_seconds: float, rng: random.Random) -> None:
        tags = self._tags(user)
        batch = 5_000
        for start in range(first, first + count, batch):
            rows, links = [], []
            for i in range(start, min(first + count, start + batch)):
                prompt, revised = prompt_for(rng, i)
                rows.append(
                    Image(
                        owner=user,
                        file="bench/original.png",
                        thumbnail="bench/thumbnail.webp",
                        width=1024,
                        height=1024,
                        thumbnail_width=512,
                        thumbnail_height=512,
                        format="png",
                        file_size=1234,
                        content_hash=f"{i:064x}",
                        prompt=prompt,
                        revised_prompt=revised,
                        model="novisurf-procedural",
                        size="1024x1024",
                        # Older the further it is: the newest image is the first one made.
                        created_at=self.start - timedelta(seconds=i * step_seconds),
                    )
                )
            for n, image in enumerate(rows):
                if (start + n) % TAGGED_EVERY == 0:
                    links += [
                        TaggedImage(content_object=image, tag=tags[(start + n + k) % len(tags)])
                        for k in (0, 1)
                    ]
            with transaction.atomic():
                Image.objects.bulk_create(rows, batch_size=1_000)
                TaggedImage.objects.bulk_create(links, batch_size=1_000)

    def grow(self, size: int) -> float:
        """Make the measured user hold ``size`` images (others a quarter as many); seconds."""
        began = time.perf_counter()
        rng = random.Random(size)
        self._add(self.owner, self.size, size - self.size, 1.0, rng)
        self.size = size
        # Other users' images are spread over the same span of time, between the owner's.
        others = size // OTHERS_SHARE
        per_user = (others - self.others_size) // len(self.others)
        for user in self.others:
            self._add(user, self.others_size // len(self.others), per_user, 4.0 * 2, rng)
        self.others_size = others
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE gallery_image")
                cursor.execute("ANALYZE gallery_taggedimage")
        else:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        return time.perf_counter() - began


def raw_first_page(owner_id, size: int):
    """The raw SQL for a first page without search: the floor any listing stands on."""
    quote = connection.ops.quote_name
    sql = (
        f"SELECT * FROM {quote(Image._meta.db_table)} WHERE {quote('owner_id')} = %s "
        f"AND {quote('trashed_at')} IS NULL "
        f"ORDER BY {quote('created_at')} DESC, {quote('id')} DESC LIMIT %s"
    )

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [owner_id, size + 1])
            cursor.fetchall()

    return run


def raw_match_count(query: str) -> int:
    """Every match of ``query`` in the index, whoever owns it: the index alone answering."""
    terms = search.search_terms(query)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"SELECT count(*) FROM {search.FTS_TABLE} WHERE {search.FTS_TABLE} MATCH %s",
                [search.fts5_match(terms)],
            )
        else:
            cursor.execute(
                f"SELECT count(*) FROM gallery_image WHERE {search.VECTOR_COLUMN} "
                "@@ novisurf_search_query(%s)",
                [" ".join(terms)],
            )
        return cursor.fetchone()[0]


def _measure_size(report: Report, library: Library, size: int) -> None:
    owner = library.owner
    page_size = settings.GALLERY_PAGE_SIZE
    baseline = raw_first_page(owner.pk, page_size)

    def listing(query: str):
        return selectors.image_list(owner=owner, query=query)

    def keyset_page(query: str, after: str | None = None):
        # What the gallery's page runs for ?q=…&after=…
        listing = Listing(query=query, after=Cursor.parse(after))
        return selectors.listing_page(owner=owner, listing=listing, size=page_size)

    for label, query in QUERIES:

        def first_page(query: str = query) -> None:
            keyset_page(query)

        page, floor = compare(first_page, baseline, repeats=9, warmup=1)
        first = keyset_page(query)
        report.row(f"{label}: {query!r}", page, "raw SQL page, no search", floor)
        index_alone = measure(lambda query=query: raw_match_count(query), repeats=5, warmup=1)
        report.info(
            "  index alone: count every match",
            f"{format_seconds(index_alone)} ({raw_match_count(query):,} matches, all users)",
        )
        if first.forward:

            def second(query: str = query, cursor: str = first.forward) -> None:
                keyset_page(query, after=cursor)

            report.info("  2nd page (cursor)", format_seconds(measure(second, repeats=5)))
        if query in DEEP_QUERIES:
            rows = listing(query).order_by("-created_at", "-id")
            deep = rows[DEEP_PAGE * page_size - 1 : DEEP_PAGE * page_size]
            if deep:

                def deep_page(query: str = query, cursor: str = str(Cursor.of(deep[0]))) -> None:
                    keyset_page(query, after=cursor)

                report.info(
                    f"  page {DEEP_PAGE} (cursor)", format_seconds(measure(deep_page, repeats=5))
                )


def run(report: Report) -> None:
    sizes = [*SIZES, MILLION] if million_requested() else SIZES
    report.note(
        f"{connection.vendor}; other users hold a quarter as many rows again; "
        f"{settings.GALLERY_PAGE_SIZE} per page; 1,000,000 with --million (BENCH_MILLION=1)"
    )
    library = Library()
    for size in sizes:
        took = library.grow(size)
        report.section(f"{size:,} images of one user (+{size // OTHERS_SHARE:,} of others)")
        report.info("  made in", format_seconds(took))
        _measure_size(report, library, size)
