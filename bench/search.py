"""Search at 100,000 and 1,000,000 images: the page the gallery serves for a search, and its
count.

What is timed is what the home view runs for ``?q=…``: ``selectors.listing_images`` paged by
``selectors.image_page`` (the site's own keyset pager), plus ``selectors.image_count_capped``
(the "N images match" line and "Select all", capped at 1,000). The baseline is the raw SQL of a
first page without search, in the same run. At 1,000,000 each figure is also set beside its own
100,000 figure: search should stay flat as the library grows.

The rows are made by the database itself (one ``INSERT … SELECT`` per user, then the tags), so a
million images take a minute or two rather than a quarter of an hour. ``--million`` (or
``BENCH_MILLION=1``) adds the 1,000,000 size; on PostgreSQL give ``BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from bench.timing import Report, compare, format_seconds, measure
from gallery import search, selectors
from gallery.listing import NEWEST, Cursor, Listing
from gallery.models import Image, Tag, TaggedImage

SIZES = [100_000]
MILLION = 1_000_000
OTHERS_SHARE = 4  # other users hold a quarter as many rows again
TITLE = "Search: the gallery's search page (image_page + capped count) at 100,000 / 1,000,000"

# (label, query): how often each matches is set by the rows below.
QUERIES = [
    ("common word (~30%)", "mountain"),
    ("common prefix (~30%)", "moun"),
    ("two words (~6%)", "moun lake"),
    ("rare word (~1%)", "lighthouse"),
    ("rarest (a handful)", "item4242"),
    ("no match", "zzyzx"),
    ("exclusion (~70%)", "-moun"),
    ("phrase (~15%)", '"snowy mountains"'),
    ("OR (~21%)", "lake OR lighthouse"),
    ("tag: and a word", "tag:landscape moun"),
    ("model: (~10%)", "model:dreamshaper"),
    ("after: and a word", "moun after:{recent}"),
]

PLACES = ["harbour", "city", "forest", "desert", "castle", "river", "island", "garden", "valley"]
STYLES = ["oil painting", "watercolour", "photograph", "pencil sketch", "3d render", "pixel art"]
LIGHTS = ["at dusk", "at dawn", "at night", "in fog", "under snow", "in spring rain"]
TAG_NAMES = ["landscape", "portrait", "blue", "draft", "night", "favourite-set", "city", "study"]
TAGGED_EVERY = 5


def million_requested() -> bool:
    return os.environ.get("BENCH_MILLION", "") not in ("", "0", "false", "no")


def _pick(values: list[str], index_sql: str) -> str:
    """SQL choosing ``values[index_sql]`` on either database (index_sql is 0-based)."""
    if connection.vendor == "sqlite":
        return f"json_extract('{json.dumps(values)}', '$[' || ({index_sql}) || ']')"
    array = ", ".join(f"'{value}'" for value in values)
    return f"(ARRAY[{array}])[1 + ({index_sql})]"


def _prompt_sql() -> tuple[str, str, str]:
    """SQL for the prompt, revised prompt and model of row ``i``: ~15% "snowy mountains", ~15%
    "a mountain pass", ~20% "by a lake", ~1% "with a lighthouse", ~10% an imported model, and
    each its own number (``item<i>``, which makes ``item4242`` rare). Pseudo-random but fixed
    by ``i``, so both databases hold the same rows."""
    roll = "((i * 2654435761) % 1000)"
    concat = "||"
    first = (
        f"CASE WHEN {roll} < 150 THEN 'snowy mountains' WHEN {roll} < 300 THEN 'a mountain pass' "
        f"ELSE 'a ' {concat} {_pick(PLACES, 'i % 9')} END"
    )
    prompt = (
        f"{first} {concat} CASE WHEN (i * 40503 + 7) % 997 < 199 THEN ' by a lake' ELSE '' END "
        f"{concat} CASE WHEN (i * 69069 + 1) % 1009 < 10 THEN ' with a lighthouse' ELSE '' END "
        f"{concat} ' ' {concat} {_pick(LIGHTS, '(i / 7) % 6')} {concat} ' ' {concat} "
        f"{_pick(STYLES, '(i / 3) % 6')} {concat} ' item' {concat} i"
    )
    revised = (
        f"CASE WHEN i % 2 = 0 THEN 'A detailed ' {concat} {_pick(STYLES, '(i / 5) % 6')} "
        f"{concat} ' of ' {concat} {first} ELSE '' END"
    )
    model = (
        "CASE WHEN (i * 7 + 3) % 10 = 0 THEN 'dreamshaper_8.safetensors' "
        "ELSE 'novisurf-procedural' END"
    )
    # Both databases' drivers take %s parameters, so a modulo is written %%.
    return tuple(sql.replace(" % ", " %% ") for sql in (prompt, revised, model))


class Library:
    """The rows: one measured user and two others, grown in place from one size to the next."""

    def __init__(self) -> None:
        users = get_user_model().objects
        self.owner = users.create_user("search-bench", password="search-bench-password")
        self.others = [
            users.create_user(f"search-bench-{n}", password="search-bench-password")
            for n in range(2)
        ]
        self.made: dict[int, int] = {}  # user id -> rows made
        # Rows are made forward from here, a second apart: a million fit before now.
        self.start = timezone.now().replace(microsecond=0) - timedelta(days=60)
        self.tags: dict[int, list[int]] = {}

    def _tag_ids(self, user) -> list[int]:
        if user.pk not in self.tags:
            self.tags[user.pk] = [
                Tag.objects.create(owner=user, name=name, slug=f"{name}-{user.pk}").pk
                for name in TAG_NAMES
            ]
        return self.tags[user.pk]

    @contextlib.contextmanager
    def _tag_trigger_off(self):
        """PostgreSQL: each tag row re-indexes its image; off while the rows are made, so that
        each tagged image is re-indexed once, after (outside the transaction: ALTER TABLE
        refuses while deferred foreign-key checks are pending)."""
        if connection.vendor != "postgresql":
            yield
            return
        tagged = TaggedImage._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {tagged} DISABLE TRIGGER novisurf_tagged_search")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE {tagged} ENABLE TRIGGER novisurf_tagged_search")

    def _add(self, user, count: int, *, step: int, offset: int) -> None:
        """``count`` more rows for ``user``, row ``i`` made ``offset + i * step`` seconds after
        the start: each row is newer than the ones before, as in a library that grows (the
        index's row ids then rise with time, as they do in use). ``file_size`` holds ``i``,
        which picks the row's tags."""
        first = self.made.get(user.pk, 0)
        last = first + count - 1
        self.made[user.pk] = last + 1
        prompt, revised, model = _prompt_sql()
        image, tagged = Image._meta.db_table, TaggedImage._meta.db_table
        columns = (
            'id, owner_id, generation_id, "index", file, thumbnail, width, height, '
            "thumbnail_width, thumbnail_height, format, file_size, content_hash, prompt, "
            "revised_prompt, model, size, created_at, trashed_at, is_favourite, has_alpha, "
            "is_animated, metadata"
        )
        start = int(self.start.timestamp())
        constants = "'bench/original.png', 'bench/thumbnail.webp', 1024, 1024, 512, 512, 'png', i"
        tag_ids = self._tag_ids(user)
        with self._tag_trigger_off(), transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(
                    f"INSERT INTO {image} ({columns}) "
                    "WITH RECURSIVE seq(i) AS (SELECT %s UNION ALL SELECT i + 1 FROM seq "
                    "WHERE i < %s) "
                    f"SELECT lower(hex(randomblob(16))), %s, NULL, 0, {constants}, "
                    f"printf('%%064x', i), {prompt}, {revised}, {model}, '1024x1024', "
                    "strftime('%%Y-%%m-%%d %%H:%%M:%%S.000000', %s + %s + i * %s, 'unixepoch'), "
                    "NULL, 0, 0, 0, '{}' FROM seq",
                    [first, last, user.pk, start, offset, step],
                )
                pick = "json_extract(%s, '$[' || ((file_size / 5 + {k}) %% 8) || ']')"
                ids = json.dumps(tag_ids)
            else:
                cursor.execute(
                    f"INSERT INTO {image} ({columns}) "
                    f"SELECT gen_random_uuid(), %s, NULL, 0, {constants}, "
                    f"lpad(to_hex(i), 64, '0'), {prompt}, {revised}, {model}, '1024x1024', "
                    "to_timestamp(%s + %s + i * %s), NULL, false, false, false, '{}'::jsonb "
                    "FROM generate_series(%s::bigint, %s::bigint) AS i",
                    [user.pk, start, offset, step, first, last],
                )
                pick = "(%s::int[])[1 + (file_size / 5 + {k}) %% 8]"
                ids = tag_ids
            rows = "owner_id = %s AND file_size %% 5 = 0 AND file_size BETWEEN %s AND %s"
            for k in (0, 1):
                cursor.execute(
                    f"INSERT INTO {tagged} (content_object_id, tag_id) "
                    f"SELECT id, {pick.format(k=k)} FROM {image} WHERE {rows}",
                    [ids, user.pk, first, last],
                )
            if connection.vendor == "postgresql":
                columns = (
                    search.index._pg_columns(search.CURRENT_SCHEMA)
                    if hasattr(search, "index")
                    else "prompt, revised_prompt, id"
                )
                vector = f"novisurf_image_search_vector({columns})"
                cursor.execute(
                    f"UPDATE {image} SET {search.VECTOR_COLUMN} = {vector} WHERE {rows}",
                    [user.pk, first, last],
                )

    def grow(self, size: int) -> float:
        """Make the measured user hold ``size`` images (others a quarter as many); seconds."""
        began = time.perf_counter()
        self._add(self.owner, size - self.made.get(self.owner.pk, 0), step=1, offset=0)
        per_user = size // OTHERS_SHARE // len(self.others)
        for n, user in enumerate(self.others):
            self._add(user, per_user - self.made.get(user.pk, 0), step=8, offset=3 + n)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"VACUUM ANALYZE {Image._meta.db_table}")
                cursor.execute(f"ANALYZE {TaggedImage._meta.db_table}")
            else:
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


def _page(owner, query: str, after: Cursor | None = None):
    listing = Listing(query=query)
    images = selectors.listing_images(owner=owner, listing=listing)
    return selectors.image_page(
        images=images, order=NEWEST, size=settings.GALLERY_PAGE_SIZE, after=after
    )


def _count(owner, query: str) -> tuple[int, bool]:
    counted = getattr(selectors, "image_count_capped", None)
    if counted is not None:
        return counted(owner=owner, query=query)
    # The code before it (this file runs there too, for before/after figures): what the
    # "Select all" count ran.
    selection = selectors.image_selection(owner=owner, filters={"q": query})
    total = selection.order_by()[:1001].count()
    return min(total, 1000), total > 1000


def _measure_size(
    report: Report, library: Library, size: int, earlier: dict[str, float]
) -> dict[str, float]:
    owner = library.owner
    baseline = raw_first_page(owner.pk, settings.GALLERY_PAGE_SIZE)
    # after: the last tenth of the owner's images.
    recent = (library.start + timedelta(seconds=size * 9 // 10)).date().isoformat()
    figures: dict[str, float] = {}
    for label, template in QUERIES:
        query = template.format(recent=recent)

        def search_page(query: str = query) -> None:
            _page(owner, query)
            _count(owner, query)

        figure, floor = compare(search_page, baseline, repeats=7, warmup=1)
        figures[label] = figure
        report.row(f"{label}: {query!r}", figure, "raw SQL page, no search", floor)
        total, more = _count(owner, query)
        page_only = measure(lambda query=query: _page(owner, query), repeats=5, warmup=1)
        count_only = measure(lambda query=query: _count(owner, query), repeats=5, warmup=1)
        report.info(
            "  page / count",
            f"{format_seconds(page_only)} / {format_seconds(count_only)} "
            f"({total:,}{'+' if more else ''} match)",
        )
        first = _page(owner, query)
        if first.forward:
            cursor = Cursor.parse(first.forward)
            second = measure(lambda q=query, c=cursor: _page(owner, q, c), repeats=5, warmup=1)
            report.info("  2nd page (cursor)", format_seconds(second))
        if label in earlier:
            report.info(
                f"  vs {SIZES[0]:,} images", f"{figure / earlier[label]:.2f}x (goal <= 1.5x)"
            )
    return figures


def run(report: Report) -> None:
    sizes = [*SIZES, MILLION] if million_requested() else SIZES
    report.note(
        f"{connection.vendor}; other users hold a quarter as many rows again; "
        f"{settings.GALLERY_PAGE_SIZE} per page; count capped at 1,000; "
        "1,000,000 with --million (BENCH_MILLION=1)"
    )
    library = Library()
    earlier: dict[str, float] = {}
    for size in sizes:
        took = library.grow(size)
        report.section(f"{size:,} images of one user (+{size // OTHERS_SHARE:,} of others)")
        report.info("  made in", format_seconds(took))
        # What the housekeeping sweep does round after round: the bulk load left the index in
        # many segments, as months of single writes would.
        tidy = getattr(search, "tidy", None)
        if tidy is not None:
            began, rounds = time.perf_counter(), 0
            while rounds < 10_000 and tidy(connection):
                rounds += 1
            report.info(
                f"  index merged by housekeeping ({rounds} rounds)",
                format_seconds(time.perf_counter() - began),
            )
        figures = _measure_size(report, library, size, earlier)
        earlier = earlier or figures
    # What the index alone costs, for the profile: every match of a common prefix counted.
    terms = search.search_terms("moun")
    with connection.cursor() as cursor:
        began = time.perf_counter()
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
        matches = cursor.fetchone()[0]
    report.info(
        "  index alone: count every 'moun'",
        f"{format_seconds(time.perf_counter() - began)} ({matches:,}, all users)",
    )
