"""The gallery's full-text search: one way to ask, two indexes that answer alike.

Search covers an image's prompt, revised prompt and tag names together. Every word of the query
must match (AND), each as a word prefix (``moun`` finds "mountains").

The index is kept by the database itself, with triggers that the migration ``0003_search``
installs, so every write reaches it: the services, the admin, bulk ``update()``, cascades and raw
SQL alike.

- SQLite: an FTS5 table ``gallery_image_search`` (tokenizer ``unicode61 remove_diacritics 2``),
  keyed through ``gallery_image_search_key`` (an INTEGER PRIMARY KEY per image id, so that VACUUM,
  which may renumber implicit rowids, cannot detach the index from its images).
- PostgreSQL: a ``tsvector`` column ``gallery_image.search_vector`` with a GIN index, built by the
  SQL function ``novisurf_search_lexemes`` and queried with prefix ``tsquery`` terms.

One definition of a word on both, so that the same data gives the same results:

- A word is a run of Unicode letters (L*), digits (N*) and private-use characters (Co); anything
  else (spaces, punctuation, symbols, emoji, control characters) separates words. This is FTS5
  unicode61's default ``categories``; PostgreSQL splits on the same classes, generated from
  Python's Unicode tables by the migration.
- Case is folded the same way: Ä/ä, É/é, Σ/σ/ς (final sigma is sigma), ẞ/ß. PostgreSQL lowers with
  the ICU root collation (``und-x-icu``) whatever the database's own locale, and maps the few
  letters that FTS5 folds but lowercasing does not (ς, ſ, µ and Greek symbol variants).
- Diacritics are ignored on Latin letters only: ``cafe`` finds "café", ``Ä`` finds "a", but ß, ø,
  æ stay letters of their own and Greek accents are kept. This is FTS5's ``remove_diacritics 2``;
  PostgreSQL decomposes (NFD), drops combining marks that follow a Latin letter, and recomposes.
- Text in scripts without spaces (Chinese, Japanese) is one word per run, so a CJK query matches
  from the start of such a run (``山の`` finds ``山の風景``).

Known differences, all outside ordinary text: characters added to Unicode after 6.1 (FTS5's
tables are 6.1), and decomposed (NFD) Greek. Words are indexed and queried up to 200 characters.

The query is never handed to the database's query language: it is tokenised here into words
made only of word characters, and each is quoted (FTS5) or passed as data (PostgreSQL), so quotes,
``*``, ``^``, ``NEAR``, ``:``, ``-``, parentheses, NUL or 10,000 characters are only text.
"""

# ruff: noqa: S608, S611 - SQL is built from our own constants and Django's table names; what a
# person typed only ever travels as a parameter.
# ruff: noqa: RUF001, RUF002 - Greek and other letters here are the point, not look-alikes.
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connections, models
from django.db.models.expressions import RawSQL

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import QuerySet

# Past these, a query is cut: a 10,000-character paste is searched by its first words.
MAX_TERMS = 32
MAX_TERM_CHARS = 200

FTS_TABLE = "gallery_image_search"
KEY_TABLE = "gallery_image_search_key"
VECTOR_COLUMN = "search_vector"


def _is_word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def search_terms(query: str) -> list[str]:
    """The words of ``query``, in order, without repeats: at most :data:`MAX_TERMS` of them."""
    terms: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFC", query) + " ":
        if _is_word_char(char):
            word.append(char)
            continue
        if word:
            term = "".join(word)[:MAX_TERM_CHARS]
            word = []
            if term not in terms:
                terms.append(term)
                if len(terms) == MAX_TERMS:
                    break
    return terms


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term, each a quoted prefix (``"moun"* AND "lake"*``)."""
    # A term holds word characters only, so it never holds a quote; doubling is belt and braces.
    return " AND ".join('"' + term.replace('"', '""') + '"*' for term in terms)


# SQLite: the owner's matches counted by the index, up to this many, choose the plan (see below).
FEW_MATCHES = 2_000
# PostgreSQL: of the owner's newest SAMPLE images, at least SAMPLE_MATCHES must match for the
# listing to lead (about a page within the first SAMPLE images walked).
SAMPLE = 1_000
SAMPLE_MATCHES = 24


def _count(images: QuerySet, sql: str, params: list) -> int:
    with connections[images.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def filter_images(
    images: QuerySet, query: str, *, owner_id: object = None, whole: bool = False
) -> QuerySet:
    """``images`` narrowed to those matching every word of ``query`` (none if it has no words).

    ``whole``: the caller wants every match (a bulk action, a ZIP), not a page of them, so the
    matches lead whatever their number: the walk below pays a lookup per image walked, which
    is cheap for a page of 24 and ruinous for every image of a person (45 s for 10,000).

    ``owner_id`` says that ``images`` hold only that person's images (``owned_by`` sets it),
    so that the plan can be chosen for their images alone. One cheap question first:

    - SQLite: how many of the owner's images match, asked of the index (FTS5 holds the owner,
      and prefix indexes make a short prefix one lookup), counting up to ``FEW_MATCHES``.
    - PostgreSQL: how many of the owner's newest ``SAMPLE`` images match (a walk of the
      ``image_owner_recent`` index). The GIN index is not asked: it reads every posting of a
      prefix before it answers, which for a common prefix costs more than the page.

    Then one of two plans, each with the same result, only the cost differs:

    - Few matches: the matches lead; the database fetches those rows and sorts them (a rare
      word or none: well under a millisecond).
    - Many: the listing leads; the database walks the owner's images newest first, from the
      keyset cursor on, and keeps those that match (about 80 images walked for a word in 30%).

    Left to itself, each database picks one plan for every query (SQLite the first, PostgreSQL
    the second), and each is slow where the other is fast.
    """
    terms = search_terms(query)
    if not terms:
        return images.none()
    vendor = connections[images.db].vendor
    table = images.model._meta.db_table
    if vendor == "postgresql":
        tsquery, params = "novisurf_search_query(%s)", [" ".join(terms)]
        mine, mine_params = ("owner_id = %s", [owner_id]) if owner_id is not None else ("TRUE", [])
        newest = (
            f'SELECT {VECTOR_COLUMN} FROM "{table}" WHERE {mine} '
            f"ORDER BY created_at DESC, id DESC LIMIT {SAMPLE}"
        )
        sampled = _count(
            images,
            # Stops at SAMPLE_MATCHES: for a common word, after a few dozen images.
            f"SELECT count(*) FROM (SELECT 1 FROM ({newest}) AS newest "
            f"WHERE {VECTOR_COLUMN} @@ {tsquery} LIMIT {SAMPLE_MATCHES}) AS found",
            [*mine_params, *params],
        )
        if sampled >= SAMPLE_MATCHES and not whole:
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
    if vendor == "sqlite":
        anyones = f"body : ({fts5_match(terms)})"
        match = anyones
        if owner_id is not None:
            match = f'owner : "o{str(owner_id).replace(chr(34), chr(34) * 2)}" AND {anyones}'
        matches = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
        counted = (
            0
            if whole
            else _count(
                images, f"SELECT count(*) FROM ({matches} LIMIT {FEW_MATCHES + 1})", [match]
            )
        )
        if counted <= FEW_MATCHES or whole:
            return images.filter(
                pk__in=RawSQL(
                    f"SELECT k.image_id FROM {KEY_TABLE} k WHERE k.rowid IN ({matches})", [match]
                )
            )
        # The unary + keeps SQLite from leading with the matches; the set of matching rowids is
        # built once, and each image walked costs one lookup of its key. That set is everyone's:
        # the walk keeps to the owner anyway, and intersecting with the owner's postings costs
        # more than the rows it saves.
        condition = (
            f'+(SELECT k.rowid FROM {KEY_TABLE} k WHERE k.image_id = "{table}"."id") IN ({matches})'
        )
        return images.filter(RawSQL(condition, [anyones], output_field=models.BooleanField()))
    # Another database: no index, the same words matched as substrings.
    condition = models.Q()
    for term in terms:
        condition &= (
            models.Q(prompt__icontains=term)
            | models.Q(revised_prompt__icontains=term)
            | models.Q(tags__name__icontains=term)
        )
    return images.filter(condition).distinct()


# -- the index's schema: installed by migration 0003, rebuilt by `manage.py rebuild_search_index` --


def _word_class() -> str:
    """A regular-expression bracket body of every word character (L*, N*, Co), as ranges."""
    ranges: list[tuple[int, int]] = []
    start = None
    for code in range(0x110000):
        if _is_word_char(chr(code)):
            if start is None:
                start = code
        elif start is not None:
            ranges.append((start, code - 1))
            start = None
    if start is not None:
        ranges.append((start, 0x10FFFF))

    def escape(code: int) -> str:
        return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"

    return "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges)


# Letters that FTS5 unicode61 folds together but lowercasing does not.
_FOLD_FROM = "ςſµϐϑϕϖϰϱϵẛ"
_FOLD_TO = "σsμβθφπκρεs"


class Tables:
    """The table names the triggers join (the historical models' names, in a migration)."""

    def __init__(self, *, image: str, tagged: str, tag: str) -> None:
        self.image, self.tagged, self.tag = image, tagged, tag


@dataclass(frozen=True)
class Schema:
    """One version of the index's schema: each migration that changes it names its own.

    - ``fts5_owner``: FTS5 indexes the image's owner too, in an ``owner`` column holding
      ``o<id>`` (queries are restricted to ``body``, so no word typed can match it): the index
      alone answers how many of *one person's* images match, whatever others' images hold.
    - ``fts5_prefix``: FTS5 prefix indexes (lengths in characters): a short prefix is one lookup
      instead of a merge of every indexed word that starts with it.
    - ``pg_query_function``: the language of PostgreSQL's ``novisurf_search_query``. ``sql``
      is planned afresh on every call, its 10 kB word class with it (milliseconds); ``plpgsql``
      keeps its plan for the session.

    A PostgreSQL GIN index does not gain from the owner (a prefix's posting lists are read
    whole either way), and a composite (owner_id, vector) GIN needs the btree_gin extension.
    """

    fts5_owner: bool = False
    fts5_prefix: str = ""
    pg_query_function: str = "sql"


SCHEMA_0003 = Schema()
SCHEMA_0004 = Schema(fts5_owner=True, fts5_prefix="1 2 3 4", pg_query_function="plpgsql")
# What the latest migration installs, and what the queries and `rebuild_search_index` expect.
CURRENT_SCHEMA = SCHEMA_0004


def _sqlite_document(tables: Tables, alias: str) -> str:
    return (
        f"{alias}.prompt || ' ' || {alias}.revised_prompt || ' ' || coalesce(("
        f"SELECT group_concat(t.name, ' ') FROM {tables.tagged} ti "
        f"JOIN {tables.tag} t ON t.id = ti.tag_id WHERE ti.content_object_id = {alias}.id), '')"
    )


def _sqlite_index(tables: Tables, schema: Schema) -> str:
    """``INSERT INTO`` the index ``SELECT`` images ``i`` with their keys ``k`` (WHERE to add)."""
    columns, values = "rowid, body", f"k.rowid, {_sqlite_document(tables, 'i')}"
    if schema.fts5_owner:
        columns, values = f"{columns}, owner", f"{values}, 'o' || i.owner_id"
    return (
        f"INSERT INTO {FTS_TABLE}({columns}) SELECT {values} "
        f"FROM {tables.image} i JOIN {KEY_TABLE} k ON k.image_id = i.id"
    )


def _sqlite_refresh(tables: Tables, image_id: str, schema: Schema) -> str:
    """Statements (for a trigger body) that re-index one image, or drop it if it is gone."""
    return (
        f"DELETE FROM {FTS_TABLE} WHERE rowid = "
        f"(SELECT rowid FROM {KEY_TABLE} WHERE image_id = {image_id});\n"
        f"{_sqlite_index(tables, schema)} WHERE i.id = {image_id};\n"
    )


def sqlite_install(tables: Tables, schema: Schema = CURRENT_SCHEMA) -> list[str]:
    def refresh(tables: Tables, image_id: str) -> str:
        return _sqlite_refresh(tables, image_id, schema)

    columns = "body, owner" if schema.fts5_owner else "body"
    prefix = f", prefix = '{schema.fts5_prefix}'" if schema.fts5_prefix else ""
    watched = "id, prompt, revised_prompt" + (", owner_id" if schema.fts5_owner else "")
    return [
        f"CREATE TABLE {KEY_TABLE} (rowid INTEGER PRIMARY KEY, image_id char(32) NOT NULL UNIQUE)",
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({columns}, "
        f"tokenize = 'unicode61 remove_diacritics 2'{prefix})",
        f"CREATE TRIGGER {FTS_TABLE}_image_insert AFTER INSERT ON {tables.image} BEGIN\n"
        f"INSERT OR IGNORE INTO {KEY_TABLE}(image_id) VALUES (NEW.id);\n"
        f"{refresh(tables, 'NEW.id')}END",
        f"CREATE TRIGGER {FTS_TABLE}_image_update "
        f"AFTER UPDATE OF {watched} ON {tables.image} BEGIN\n"
        f"UPDATE {KEY_TABLE} SET image_id = NEW.id WHERE image_id = OLD.id;\n"
        f"{refresh(tables, 'NEW.id')}END",
        f"CREATE TRIGGER {FTS_TABLE}_image_delete AFTER DELETE ON {tables.image} BEGIN\n"
        f"DELETE FROM {FTS_TABLE} WHERE rowid = "
        f"(SELECT rowid FROM {KEY_TABLE} WHERE image_id = OLD.id);\n"
        f"DELETE FROM {KEY_TABLE} WHERE image_id = OLD.id;\nEND",
        f"CREATE TRIGGER {FTS_TABLE}_tagged_insert AFTER INSERT ON {tables.tagged} BEGIN\n"
        f"{refresh(tables, 'NEW.content_object_id')}END",
        f"CREATE TRIGGER {FTS_TABLE}_tagged_delete AFTER DELETE ON {tables.tagged} BEGIN\n"
        f"{refresh(tables, 'OLD.content_object_id')}END",
        f"CREATE TRIGGER {FTS_TABLE}_tagged_update AFTER UPDATE ON {tables.tagged} BEGIN\n"
        f"{refresh(tables, 'OLD.content_object_id')}{refresh(tables, 'NEW.content_object_id')}END",
        f"CREATE TRIGGER {FTS_TABLE}_tag_rename AFTER UPDATE OF name ON {tables.tag} BEGIN\n"
        f"DELETE FROM {FTS_TABLE} WHERE rowid IN (SELECT k.rowid FROM {KEY_TABLE} k "
        f"JOIN {tables.tagged} ti ON ti.content_object_id = k.image_id WHERE ti.tag_id = NEW.id);\n"
        f"{_sqlite_index(tables, schema)} WHERE i.id IN "
        f"(SELECT content_object_id FROM {tables.tagged} WHERE tag_id = NEW.id);\nEND",
    ]


def sqlite_uninstall() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{name}"
        for name in (
            "image_insert",
            "image_update",
            "image_delete",
            "tagged_insert",
            "tagged_delete",
            "tagged_update",
            "tag_rename",
        )
    ] + [f"DROP TABLE IF EXISTS {FTS_TABLE}", f"DROP TABLE IF EXISTS {KEY_TABLE}"]


def postgresql_install(
    tables: Tables, *, collation: str, schema: Schema = CURRENT_SCHEMA
) -> list[str]:
    image, tagged, tag = (f'"{name}"' for name in (tables.image, tables.tagged, tables.tag))
    folded = (
        "translate(lower(normalize(regexp_replace(normalize(coalesce(doc, ''), NFD), "
        r"'([A-Za-z])[\u0300-\u036F]+', '\1', 'g'), NFC) "
        f"COLLATE \"{collation}\"), '{_FOLD_FROM}', '{_FOLD_TO}')"
    )
    # Every word of the query as a prefix, all required. The words come as data, quoted for
    # the tsquery syntax here, so nothing in them is an operator.
    query = (
        "SELECT coalesce(string_agg('''' || replace(replace(word, '\\', '\\\\'), '''', '''''') "
        "|| ''':*', ' & '), '')::tsquery "
        "FROM unnest(novisurf_search_lexemes(query)) AS word"
    )
    if schema.pg_query_function == "plpgsql":
        query = f"LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$ BEGIN RETURN ({query}); END $fn$"
    else:
        query = f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ {query} $fn$"
    columns = "prompt, revised_prompt, id"
    new_columns = ", ".join(f"NEW.{column}" for column in columns.split(", "))
    arguments = "prompt text, revised_prompt text, image_id uuid"
    reindex = f"UPDATE {image} SET {VECTOR_COLUMN} = novisurf_image_search_vector({columns})"
    return [
        # The words of a text, folded: what the index holds and what a query term becomes.
        "CREATE FUNCTION novisurf_search_lexemes(doc text) RETURNS text[] "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ "
        f"SELECT coalesce(array_agg(DISTINCT left(word, {MAX_TERM_CHARS})), '{{}}') "
        f"FROM regexp_split_to_table({folded}, '[^{_word_class()}]+') AS word "
        "WHERE word <> '' $fn$",
        f"CREATE FUNCTION novisurf_search_query(query text) RETURNS tsquery {query}",
        f"CREATE FUNCTION novisurf_image_search_vector({arguments}) "
        "RETURNS tsvector LANGUAGE sql STABLE AS $fn$ "
        "SELECT array_to_tsvector(novisurf_search_lexemes(coalesce(prompt, '') || ' ' || "
        "coalesce(revised_prompt, '') || ' ' || coalesce((SELECT string_agg(t.name, ' ') "
        f"FROM {tagged} ti JOIN {tag} t ON t.id = ti.tag_id "
        "WHERE ti.content_object_id = image_id), ''))) $fn$",
        f"ALTER TABLE {image} ADD COLUMN {VECTOR_COLUMN} tsvector",
        f'CREATE INDEX "gallery_image_search_gin" ON {image} USING gin ({VECTOR_COLUMN})',
        "CREATE FUNCTION novisurf_image_search_row() RETURNS trigger LANGUAGE plpgsql AS $fn$ "
        f"BEGIN NEW.{VECTOR_COLUMN} := novisurf_image_search_vector({new_columns}); "
        "RETURN NEW; END $fn$",
        f"CREATE TRIGGER novisurf_image_search BEFORE INSERT OR UPDATE OF {columns} "
        f"ON {image} FOR EACH ROW EXECUTE FUNCTION novisurf_image_search_row()",
        "CREATE FUNCTION novisurf_tagged_search() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {reindex} WHERE id = OLD.content_object_id; END IF; "
        f"IF TG_OP <> 'DELETE' THEN {reindex} WHERE id = NEW.content_object_id; END IF; "
        "RETURN NULL; END $fn$",
        f"CREATE TRIGGER novisurf_tagged_search AFTER INSERT OR UPDATE OR DELETE ON {tagged} "
        "FOR EACH ROW EXECUTE FUNCTION novisurf_tagged_search()",
        "CREATE FUNCTION novisurf_tag_search() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN "
        f"{reindex} WHERE id IN (SELECT content_object_id FROM {tagged} "
        "WHERE tag_id = NEW.id); RETURN NULL; END $fn$",
        f"CREATE TRIGGER novisurf_tag_search AFTER UPDATE OF name ON {tag} FOR EACH ROW "
        "WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION novisurf_tag_search()",
    ]


def postgresql_uninstall(tables: Tables) -> list[str]:
    image, tagged, tag = (f'"{name}"' for name in (tables.image, tables.tagged, tables.tag))
    return [
        f"DROP TRIGGER IF EXISTS novisurf_tag_search ON {tag}",
        f"DROP TRIGGER IF EXISTS novisurf_tagged_search ON {tagged}",
        f"DROP TRIGGER IF EXISTS novisurf_image_search ON {image}",
        "DROP FUNCTION IF EXISTS novisurf_tag_search()",
        "DROP FUNCTION IF EXISTS novisurf_tagged_search()",
        "DROP FUNCTION IF EXISTS novisurf_image_search_row()",
        f"ALTER TABLE {image} DROP COLUMN IF EXISTS {VECTOR_COLUMN}",
        "DROP FUNCTION IF EXISTS novisurf_image_search_vector(text, text, uuid)",
        "DROP FUNCTION IF EXISTS novisurf_search_query(text)",
        "DROP FUNCTION IF EXISTS novisurf_search_lexemes(text)",
    ]


def postgresql_collation(connection: BaseDatabaseWrapper) -> str:
    """ICU's root collation where the server has ICU (Debian's, the official images', the
    clouds'), so that case folding does not depend on the database's locale; else the default."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")
        return "und-x-icu" if cursor.fetchone() else "default"


def install(
    connection: BaseDatabaseWrapper, tables: Tables, schema: Schema = CURRENT_SCHEMA
) -> None:
    if connection.vendor == "sqlite":
        statements = sqlite_install(tables, schema)
    elif connection.vendor == "postgresql":
        collation = postgresql_collation(connection)
        statements = postgresql_install(tables, collation=collation, schema=schema)
    else:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    rebuild(connection, tables, schema)


def uninstall(
    connection: BaseDatabaseWrapper, tables: Tables, schema: Schema = CURRENT_SCHEMA
) -> None:
    if connection.vendor == "sqlite":
        statements = sqlite_uninstall()
    elif connection.vendor == "postgresql":
        statements = postgresql_uninstall(tables)
    else:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def rebuild(
    connection: BaseDatabaseWrapper, tables: Tables, schema: Schema = CURRENT_SCHEMA
) -> int:
    """Index every image afresh (after a restore, or to be sure); returns how many there are."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DELETE FROM {FTS_TABLE}")
            cursor.execute(f"DELETE FROM {KEY_TABLE}")
            cursor.execute(f"INSERT INTO {KEY_TABLE}(image_id) SELECT id FROM {tables.image}")
            cursor.execute(_sqlite_index(tables, schema))
            # One b-tree instead of segments: the index reads fastest so.
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")
        elif connection.vendor == "postgresql":
            cursor.execute(
                f'UPDATE "{tables.image}" SET {VECTOR_COLUMN} = '
                "novisurf_image_search_vector(prompt, revised_prompt, id)"
            )
        cursor.execute(f'SELECT count(*) FROM "{tables.image}"')
        return cursor.fetchone()[0]


def tables_for(apps) -> Tables:
    """The table names from a (historical or current) app registry."""
    image = apps.get_model("gallery", "Image")
    tagged = apps.get_model("gallery", "TaggedImage")
    tag = tagged._meta.get_field("tag").related_model
    return Tables(image=image._meta.db_table, tagged=tagged._meta.db_table, tag=tag._meta.db_table)
