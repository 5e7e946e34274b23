"""The gallery's full-text search: one way to ask, two indexes that answer alike.

Search covers an image's prompt, revised prompt, tag names and imported settings together
(:mod:`gallery.search.index` says what is indexed and how each database agrees on what a word
is). What a person types is read by :func:`parse_query` (:mod:`gallery.search.query`: words,
``"phrases"``, ``-exclusions``, ``OR``, ``tag:``, ``model:``, ``before:``/``after:``) and turned
here into SQL. The query is never handed to the database's query language as typed: every word
is quoted (FTS5) or passed as data (PostgreSQL), and only our own operators join them.
"""

# ruff: noqa: S608, S611 - SQL is built from our own constants and Django's table names; what a
# person typed only ever travels as a parameter.
from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from django.apps import apps as django_apps
from django.db import connections, models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .index import (
    CURRENT_SCHEMA,
    FTS_TABLE,
    KEY_TABLE,
    SCHEMA_0003,
    SCHEMA_0004,
    SCHEMA_0005,
    VECTOR_COLUMN,
    Schema,
    Tables,
    install,
    rebuild,
    tables_for,
    tidy,
    uninstall,
)
from .query import MAX_TERM_CHARS, MAX_TERMS, Match, SearchQuery, parse_query, search_terms

if TYPE_CHECKING:
    from django.db.models import QuerySet

__all__ = [
    "CURRENT_SCHEMA",
    "FTS_TABLE",
    "KEY_TABLE",
    "MAX_TERMS",
    "MAX_TERM_CHARS",
    "SCHEMA_0003",
    "SCHEMA_0004",
    "SCHEMA_0005",
    "VECTOR_COLUMN",
    "Match",
    "Schema",
    "SearchQuery",
    "Tables",
    "count_floor",
    "filter_images",
    "filters_lead",
    "fts5_match",
    "install",
    "parse_query",
    "rebuild",
    "search_terms",
    "tables_for",
    "tidy",
    "uninstall",
]

_IMAGE_TABLE = "gallery_image"

# SQLite: the owner's matches counted by the index, up to this many, choose the plan (see below).
FEW_MATCHES = 2_000
# PostgreSQL: of the owner's newest SAMPLE images, at least SAMPLE_MATCHES must match for the
# listing to lead (about a page within the first SAMPLE images walked).
SAMPLE = 1_000
SAMPLE_MATCHES = 24


# -- SQLite: FTS5 MATCH expressions ---------------------------------------------------------------


def _fts5_word(word: str) -> str:
    # A word holds word characters only, so never a quote; doubling is belt and braces.
    return '"' + word.replace('"', '""') + '"*'


def _fts5_match_one(match: Match) -> str:
    """A word prefix, or a phrase of prefixes side by side (``"snowy"* + "moun"*``)."""
    return " + ".join(_fts5_word(word) for word in match.words)


def fts5_match(terms: list[str]) -> str:
    """Every term a quoted prefix, all required (``"moun"* AND "lake"*``)."""
    return " AND ".join(_fts5_word(term) for term in terms)


def _fts5_any(matches) -> str:
    return "(" + " OR ".join(_fts5_match_one(match) for match in matches) + ")"


def _fts5_positive(query: SearchQuery) -> str:
    """What must match, by column; empty when only exclusions and filters were typed."""
    parts = []
    if query.groups:
        parts.append("body : (" + " AND ".join(_fts5_any(g) for g in query.groups) + ")")
    if query.models:
        parts.append("model : (" + " AND ".join(_fts5_any([m]) for m in query.models) + ")")
    return " AND ".join(parts)


def _fts5_excluded(query: SearchQuery) -> str:
    return "body : " + _fts5_any(query.excluded) if query.excluded else ""


def _owner_term(owner_id: object) -> str:
    return 'owner : "o' + str(owner_id).replace('"', '""') + '"'


def _count(images: QuerySet, sql: str, params: list) -> int:
    with connections[images.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


class _Probes:
    """The walk's test of one image, as probes of the index that each hold one word.

    FTS5 answers "does row X match?" by seeking each term's postings to X and, where X does not
    match, on to the next row that does: cheap for one word (one seek), but an AND, OR or
    phrase of several hunts through the postings for a row where they all agree, which for an
    image that does not match can be far away (milliseconds each). So the words are asked one
    by one, joined by SQL's AND/OR, which stop at the first answer; a phrase is asked whole
    only of an image that holds each of its words."""

    def __init__(self, table: str) -> None:
        self.probe = (
            f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s AND "
            f"{FTS_TABLE}.rowid = (SELECT k.rowid FROM {KEY_TABLE} k "
            f'WHERE k.image_id = "{table}"."id"))'
        )
        self.params: list[str] = []

    def one(self, column: str, match: Match) -> str:
        tests = []
        for word in match.words:
            self.params.append(f"{column} : {_fts5_word(word)}")
            tests.append(self.probe)
        if len(match.words) > 1:
            self.params.append(f"{column} : ({_fts5_match_one(match)})")
            tests.append(self.probe)
        return "(" + " AND ".join(tests) + ")"

    def any(self, column: str, matches) -> str:
        return "(" + " OR ".join(self.one(column, match) for match in matches) + ")"


def _sqlite_walk(images: QuerySet, query: SearchQuery) -> QuerySet:
    """The listing leads; each image walked is tested by probes of the index."""
    probes = _Probes(images.model._meta.db_table)
    tests = [probes.any("body", group) for group in query.groups]
    tests += [probes.one("model", model) for model in query.models]
    tests += [f"NOT {probes.one('body', match)}" for match in query.excluded]
    condition = " AND ".join(tests)
    return images.filter(RawSQL(condition, probes.params, output_field=models.BooleanField()))


# SQLite: the newest index rows sampled to tell a common word from a rare one, and how many of
# them must match for the walk to probe each image (about 2%: a page within 1,200 images).
DENSITY_SAMPLE = 2_000
DENSITY_MATCHES = 40


def _sqlite_dense(images: QuerySet, expression: str) -> bool:
    """Whether the newest ``DENSITY_SAMPLE`` rows of the index (everyone's; row ids rise as
    images are added) hold ``DENSITY_MATCHES`` matches: a seek and a short scan of each
    word's postings, whatever the size of the library."""
    return (
        _count(
            images,
            f"SELECT count(*) FROM (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "
            f"AND rowid > (SELECT coalesce(max(rowid), 0) FROM {KEY_TABLE}) - %s LIMIT %s)",
            [expression, DENSITY_SAMPLE, DENSITY_MATCHES],
        )
        >= DENSITY_MATCHES
    )


def _sqlite_text(
    images: QuerySet, query: SearchQuery, owner_id: object, whole: bool, counting: bool = False
) -> QuerySet:
    positive, excluded = _fts5_positive(query), _fts5_excluded(query)
    matches = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
    if counting and positive:
        # A count led by the filters (a tag's rows, a range of dates): the matches built once
        # as a set, each row walked tested against it, never a probe of the index per row.
        mine = f"{_owner_term(owner_id)} AND " if owner_id is not None else ""
        anyones = f"({positive}) NOT {excluded}" if excluded else positive
        table = images.model._meta.db_table
        condition = (
            f'+(SELECT k.rowid FROM {KEY_TABLE} k WHERE k.image_id = "{table}"."id") IN ({matches})'
        )
        return images.filter(
            RawSQL(condition, [mine + anyones], output_field=models.BooleanField())
        )
    whole = whole or counting
    if not positive:
        # Only exclusions: most images are kept, so the listing leads and each is probed; a
        # bulk action over all of them asks the index once for the few to leave out.
        if whole:
            return images.exclude(
                pk__in=RawSQL(
                    f"SELECT k.image_id FROM {KEY_TABLE} k WHERE k.rowid IN ({matches})",
                    [excluded],
                )
            )
        return _sqlite_walk(images, query)
    anyones = f"({positive}) NOT {excluded}" if excluded else positive
    mine = f"{_owner_term(owner_id)} AND {anyones}" if owner_id is not None else anyones
    counted = (
        0
        if whole
        else _count(images, f"SELECT count(*) FROM ({matches} LIMIT %s)", [mine, FEW_MATCHES + 1])
    )
    if counted <= FEW_MATCHES or whole:
        return images.filter(
            pk__in=RawSQL(
                f"SELECT k.image_id FROM {KEY_TABLE} k WHERE k.rowid IN ({matches})", [mine]
            )
        )
    if len(query.groups) + len(query.models) > 1 or not _sqlite_dense(images, anyones):
        # Several words that must all match, or matches too sparse for a page to be near:
        # probing each image walked costs more, in the bench, than building the set of
        # everyone's matches once and walking past it. The unary + keeps SQLite from leading
        # with that set.
        table = images.model._meta.db_table
        condition = (
            f'+(SELECT k.rowid FROM {KEY_TABLE} k WHERE k.image_id = "{table}"."id") IN ({matches})'
        )
        return images.filter(RawSQL(condition, [anyones], output_field=models.BooleanField()))
    return _sqlite_walk(images, query)


# -- PostgreSQL: tsquery built from data ----------------------------------------------------------


def _pg_match_one(match: Match, weight: str) -> tuple[str, list]:
    sql = " || ' <-> ' || ".join(["novisurf_search_term(%s, %s)"] * len(match.words))
    params = [value for word in match.words for value in (word, weight)]
    return f"'(' || {sql} || ')'", params


def _pg_any(matches, weight: str) -> tuple[str, list]:
    parts, params = [], []
    for match in matches:
        sql, more = _pg_match_one(match, weight)
        parts.append(sql)
        params += more
    return "'(' || " + " || ' | ' || ".join(parts) + " || ')'", params


def _pg_tsquery(query: SearchQuery) -> tuple[str, list]:
    """SQL whose value is the query's tsquery: our operators as constants, words as data.
    Body words are weight D, the model's weight A, so that each matches its own part."""
    parts, params = [], []
    for group in query.groups:
        sql, more = _pg_any(group, "D")
        parts.append(sql)
        params += more
    for model in query.models:
        sql, more = _pg_any([model], "A")
        parts.append(sql)
        params += more
    if query.excluded:
        sql, more = _pg_any(query.excluded, "D")
        parts.append(f"'!' || {sql}")
        params += more
    return "(" + " || ' & ' || ".join(parts) + ")::tsquery", params


def _postgresql_text(
    images: QuerySet, query: SearchQuery, owner_id: object, whole: bool
) -> QuerySet:
    table = images.model._meta.db_table
    tsquery, params = _pg_tsquery(query)
    if not (query.groups or query.models):
        # Only exclusions: the index cannot list what a word is not in; the listing leads.
        condition = f'"{table}"."{VECTOR_COLUMN}" @@ {tsquery}'
        return images.filter(RawSQL(condition, params, output_field=models.BooleanField()))
    mine, mine_params = ("owner_id = %s", [owner_id]) if owner_id is not None else ("TRUE", [])
    newest = (
        f'SELECT {VECTOR_COLUMN} FROM "{table}" WHERE {mine} '
        f"ORDER BY created_at DESC, id DESC LIMIT {SAMPLE}"
    )
    sampled = (
        0
        if whole
        else _count(
            images,
            # Stops at SAMPLE_MATCHES: for a common word, after a few dozen images.
            f"SELECT count(*) FROM (SELECT 1 FROM ({newest}) AS newest "
            f"WHERE {VECTOR_COLUMN} @@ {tsquery} LIMIT {SAMPLE_MATCHES}) AS found",
            [*mine_params, *params],
        )
    )
    if sampled >= SAMPLE_MATCHES:
        # The planner walks the owner's newest images for a common word (hiding the column
        # from the GIN index, tried, made it sort every image of the owner instead).
        condition = f'"{table}"."{VECTOR_COLUMN}" @@ {tsquery}'
    else:
        # An array built once (an InitPlan) from the GIN index: the planner cannot turn it
        # into a walk of every image the owner has.
        condition = (
            f'"{table}"."id" = ANY(ARRAY(SELECT id FROM "{table}" '
            f"WHERE {mine} AND {VECTOR_COLUMN} @@ {tsquery}))"
        )
        params = [*mine_params, *params]
    return images.filter(RawSQL(condition, params, output_field=models.BooleanField()))


# -- any other database: no index, the same words as substrings ----------------------------------


def _other_text(images: QuerySet, query: SearchQuery) -> QuerySet:
    def one(match: Match) -> models.Q:
        condition = models.Q()
        for word in match.words:
            condition &= (
                models.Q(prompt__icontains=word)
                | models.Q(revised_prompt__icontains=word)
                | models.Q(tags__name__icontains=word)
            )
        return condition

    for group in query.groups:
        either = models.Q()
        for match in group:
            either |= one(match)
        images = images.filter(either)
    for match in query.excluded:
        images = images.exclude(one(match))
    for model in query.models:
        for word in model.words:
            images = images.filter(model__icontains=word)
    return images.distinct()


def count_floor(using: str, query: str | SearchQuery, *, owner_id: object) -> int | None:
    """At least how many of the owner's images in the gallery match a query of words alone:
    the index's count of their matches (up to ``FEW_MATCHES + 1``, trashed ones included) less
    every image of theirs in the trash. Two cheap questions instead of a walk of the listing;
    ``None`` where the index cannot answer alone (PostgreSQL, filters, only exclusions)."""
    parsed = parse_query(query) if isinstance(query, str) else query
    if connections[using].vendor != "sqlite" or parsed.tags or parsed.excluded_tags:
        return None
    positive = _fts5_positive(parsed)
    if not positive or parsed.after or parsed.before or parsed.finds_nothing:
        return None
    if parsed.excluded:
        positive = f"({positive}) NOT {_fts5_excluded(parsed)}"
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "
            "LIMIT %s)",
            [f"{_owner_term(owner_id)} AND {positive}", FEW_MATCHES + 1],
        )
        matches = cursor.fetchone()[0]
        # Through the trashed_at index (a few rows), not the owner's (every row): SQLite ranges
        # over an index for a comparison, not for IS NOT NULL, and the unary + hides owner_id.
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {_IMAGE_TABLE} WHERE trashed_at > '' "
            "AND +owner_id = %s LIMIT %s)",
            [owner_id, matches + 1],
        )
        return matches - cursor.fetchone()[0]


def filters_lead(query: str | SearchQuery) -> bool:
    """Whether a count of ``query``'s matches is best led by its filters (``tag:``, dates)."""
    parsed = parse_query(query) if isinstance(query, str) else query
    return bool(parsed.tags or parsed.after or parsed.before)


def _day_start(day: date) -> datetime:
    """The first instant of ``day`` in the site's time zone (the day a person sees)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _filters(
    images: QuerySet, query: SearchQuery, owner_id: object, counting: bool = False
) -> QuerySet:
    """``tag:``, ``-tag:``, ``after:`` and ``before:``: plain conditions on indexed columns."""
    tag_model = django_apps.get_model("gallery", "Tag")
    tagged_model = django_apps.get_model("gallery", "TaggedImage")

    def tagged(name: str) -> models.Exists:
        # A test of the image at hand (one index lookup), not a join: the database checks it
        # before the full-text probes that follow, which cost more.
        tags = tag_model.objects.filter(name__iexact=name)
        if owner_id is not None:
            tags = tags.filter(owner_id=owner_id)
        return models.Exists(
            tagged_model.objects.filter(content_object_id=models.OuterRef("pk"), tag__in=tags)
        )

    for name in query.tags:
        if counting:
            # A count, in no order: the tag's rows may lead (its index), the rest tested.
            tags = tag_model.objects.filter(name__iexact=name)
            if owner_id is not None:
                tags = tags.filter(owner_id=owner_id)
            images = images.filter(
                pk__in=tagged_model.objects.filter(tag__in=tags).values("content_object_id")
            )
            continue
        images = images.filter(tagged(name))
    for name in query.excluded_tags:
        images = images.exclude(tagged(name))
    if query.after:
        images = images.filter(created_at__gte=_day_start(query.after))
    if query.before:
        images = images.filter(created_at__lt=_day_start(query.before))
    return images


def filter_images(
    images: QuerySet,
    query: str | SearchQuery,
    *,
    owner_id: object = None,
    whole: bool = False,
    counting: bool = False,
) -> QuerySet:
    """``images`` narrowed to those matching ``query`` (typed text, or already parsed).

    A query with nothing to search by (only punctuation, or only parts that were dropped)
    finds nothing, as a search for nothing should; the page names what was dropped.

    ``whole``: the caller wants every match (a bulk action, a ZIP), not a page of them, so the
    matches lead whatever their number: the walk below pays a probe per image walked, which
    is cheap for a page of 24 and ruinous for every image of a person.

    ``owner_id`` says that ``images`` hold only that person's images (``owned_by`` sets it),
    so that the plan can be chosen for their images alone. One cheap question first:

    - SQLite: how many of the owner's images match, asked of the index (FTS5 holds the owner,
      and prefix indexes make a prefix of up to 12 characters one lookup), up to FEW_MATCHES.
    - PostgreSQL: how many of the owner's newest ``SAMPLE`` images match (a walk of the
      ``image_owner_recent`` index). The GIN index is not asked: it reads every posting of a
      prefix before it answers, which for a common prefix costs more than the page.

    Then one of two plans, each with the same result, only the cost differs:

    - Few matches: the matches lead; the database fetches those rows and sorts them.
    - Many: the listing leads; the database walks the owner's images newest first, from the
      keyset cursor on, and probes the index for each (about 80 images walked for a word in
      30%), stopping when the page is full.

    ``counting``: the caller counts the matches in no order, up to a cap, when filters narrow
    them (``tag:``, dates): on SQLite the filters lead and the index's matches are a set.

    Left to itself, each database picks one plan for every query (SQLite the first, PostgreSQL
    the second), and each is slow where the other is fast.
    """
    parsed = parse_query(query) if isinstance(query, str) else query
    if parsed.is_empty or parsed.finds_nothing:
        return images.none()
    # The plain filters first: a database tests conditions in about the order they come.
    vendor = connections[images.db].vendor
    counting = counting and vendor == "sqlite"
    images = _filters(images, parsed, owner_id, counting)
    if parsed.has_text:
        if vendor == "sqlite":
            images = _sqlite_text(images, parsed, owner_id, whole, counting)
        elif vendor == "postgresql":
            images = _postgresql_text(images, parsed, owner_id, whole or counting)
        else:
            images = _other_text(images, parsed)
    return images
