"""The search index's schema: installed by the migrations, rebuilt by ``rebuild_search_index``.

The index is kept by the database itself, with triggers, so every write reaches it: the
services, the admin, bulk ``update()``, cascades and raw SQL alike.

- SQLite: an FTS5 table ``gallery_image_search`` (tokenizer ``unicode61 remove_diacritics 2``),
  keyed through ``gallery_image_search_key`` (an INTEGER PRIMARY KEY per image id, so that VACUUM,
  which may renumber implicit rowids, cannot detach the index from its images). Columns: ``body``
  (what words match), ``owner`` (``o<id>``) and ``model`` (what ``model:`` matches).
- PostgreSQL: a ``tsvector`` column ``gallery_image.search_vector`` with a GIN index, built by the
  SQL function ``novisurf_image_search_vector``: the body's words at their positions (weight D),
  the model's words with weight A.

The body is the prompt, the revised prompt, the tag names, and what an imported file said about
how it was made (``metadata``: negative prompt, model, sampler, scheduler, seed, VAE).

One definition of a word on both, so that the same data gives the same results:

- A word is a run of Unicode letters (L*), digits (N*) and private-use characters (Co); anything
  else (spaces, punctuation, symbols, emoji, control characters) separates words. This is FTS5
  unicode61's default ``categories``; PostgreSQL splits on the same classes, generated from
  Python's Unicode tables here.
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
"""

# ruff: noqa: S608 - SQL is built from our own constants and Django's table names.
# ruff: noqa: RUF001, RUF002 - Greek and other letters here are the point, not look-alikes.
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .query import MAX_TERM_CHARS, _is_word_char

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

FTS_TABLE = "gallery_image_search"
KEY_TABLE = "gallery_image_search_key"
VECTOR_COLUMN = "search_vector"

# What an imported file's ``metadata["settings"]`` holds that is worth finding by its words.
SEARCHED_SETTINGS = (
    "Model",
    "Sampler",
    "sampler_name",
    "scheduler",
    "Schedule type",
    "VAE",
    "Seed",
    "seed",
)


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

    - ``metadata``: the body holds an imported file's settings too (:data:`SEARCHED_SETTINGS`),
      FTS5 has a ``model`` column, and PostgreSQL's vector keeps the words' positions (phrases
      need them) with the model's words at weight A.

    A PostgreSQL GIN index does not gain from the owner (a prefix's posting lists are read
    whole either way), and a composite (owner_id, vector) GIN needs the btree_gin extension.
    """

    fts5_owner: bool = False
    fts5_prefix: str = ""
    pg_query_function: str = "sql"
    metadata: bool = False


SCHEMA_0003 = Schema()
SCHEMA_0004 = Schema(fts5_owner=True, fts5_prefix="1 2 3 4", pg_query_function="plpgsql")
# Prefixes up to 12 characters are one lookup each: a longer word typed is a merge of every
# indexed word that starts with it, which for a common word costs tens of milliseconds a probe.
SCHEMA_0005 = Schema(
    fts5_owner=True,
    fts5_prefix="1 2 3 4 5 6 7 8 9 10 11 12",
    pg_query_function="plpgsql",
    metadata=True,
)
# What the latest migration installs, and what the queries and `rebuild_search_index` expect.
CURRENT_SCHEMA = SCHEMA_0005


def _sqlite_document(tables: Tables, alias: str, schema: Schema) -> str:
    document = (
        f"{alias}.prompt || ' ' || {alias}.revised_prompt || ' ' || coalesce(("
        f"SELECT group_concat(t.name, ' ') FROM {tables.tagged} ti "
        f"JOIN {tables.tag} t ON t.id = ti.tag_id WHERE ti.content_object_id = {alias}.id), '')"
    )
    if not schema.metadata:
        return document
    keys = ", ".join(f"'{key}'" for key in SEARCHED_SETTINGS)
    meta = f"{alias}.metadata"
    return (
        f"{document} || ' ' || CASE WHEN json_valid({meta}) AND json_type({meta}) = 'object' "
        f"THEN coalesce(json_extract({meta}, '$.negative_prompt'), '') || ' ' || "
        f"coalesce(json_extract({meta}, '$.model'), '') || ' ' || coalesce(("
        f"SELECT group_concat(s.value, ' ') FROM json_each({meta}, '$.settings') s "
        f"WHERE s.key IN ({keys})), '') ELSE '' END"
    )


def _sqlite_index(tables: Tables, schema: Schema) -> str:
    """``INSERT INTO`` the index ``SELECT`` images ``i`` with their keys ``k`` (WHERE to add)."""
    columns, values = "rowid, body", f"k.rowid, {_sqlite_document(tables, 'i', schema)}"
    if schema.fts5_owner:
        columns, values = f"{columns}, owner", f"{values}, 'o' || i.owner_id"
    if schema.metadata:
        columns, values = f"{columns}, model", f"{values}, i.model"
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
    if schema.metadata:
        columns += ", model"
    prefix = f", prefix = '{schema.fts5_prefix}'" if schema.fts5_prefix else ""
    watched = "id, prompt, revised_prompt" + (", owner_id" if schema.fts5_owner else "")
    if schema.metadata:
        watched += ", model, metadata"
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
    columns = _pg_columns(schema)
    new_columns = ", ".join(f"NEW.{column}" for column in columns.split(", "))
    reindex = f"UPDATE {image} SET {VECTOR_COLUMN} = novisurf_image_search_vector({columns})"
    body = (
        "coalesce(prompt, '') || ' ' || "
        "coalesce(revised_prompt, '') || ' ' || coalesce((SELECT string_agg(t.name, ' ') "
        f"FROM {tagged} ti JOIN {tag} t ON t.id = ti.tag_id "
        "WHERE ti.content_object_id = image_id), '')"
    )
    statements: list[str] = []
    if schema.metadata:
        keys = ", ".join(f"'{key}'" for key in SEARCHED_SETTINGS)
        settings = (
            "CASE WHEN jsonb_typeof(metadata -> 'settings') = 'object' "
            "THEN metadata -> 'settings' ELSE '{}'::jsonb END"
        )
        body += (
            " || ' ' || CASE WHEN jsonb_typeof(metadata) = 'object' THEN "
            "coalesce(metadata ->> 'negative_prompt', '') || ' ' || "
            "coalesce(metadata ->> 'model', '') || ' ' || coalesce((SELECT "
            f"string_agg(s.value, ' ') FROM jsonb_each_text({settings}) s "
            f"WHERE s.key IN ({keys})), '') ELSE '' END"
        )
        # A word quoted for tsvector's and tsquery's syntax: backslashes and quotes doubled.
        quoted = r"'''' || replace(replace(w.word, '\', '\\'), '''', '''''') || ''''"

        def lexemes(source: str, weight: str) -> str:
            # Each word at its position (phrases need them), with its weight.
            return (
                f"coalesce((SELECT string_agg({quoted} || ':' || least(w.n, 16383) || '{weight}'"
                f", ' ') FROM unnest(novisurf_search_words({source})) "
                "WITH ORDINALITY AS w(word, n)), '')"
            )

        vector = f"SELECT ({lexemes(body, '')} || ' ' || {lexemes('model', 'A')})::tsvector"
        statements = [
            # The words of a text in order, repeats kept: what a positional vector is made of.
            "CREATE FUNCTION novisurf_search_words(doc text) RETURNS text[] "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ "
            f"SELECT coalesce(array_agg(left(w.word, {MAX_TERM_CHARS}) ORDER BY w.n), '{{}}') "
            f"FROM regexp_split_to_table({folded}, '[^{_word_class()}]+') "
            "WITH ORDINALITY AS w(word, n) WHERE w.word <> '' $fn$",
            # One typed word as tsquery text: its folded word(s), each a prefix of this weight
            # ('D' the body, 'A' the model). The word comes as data and is quoted here.
            "CREATE FUNCTION novisurf_search_term(word text, weight text) RETURNS text "
            "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$ BEGIN RETURN (SELECT '(' || "
            f"coalesce(string_agg({quoted} || ':*' || weight, ' <-> ' ORDER BY w.n), "
            "'''''') || ')' FROM unnest(novisurf_search_words(word)) "
            "WITH ORDINALITY AS w(word, n)); END $fn$",
        ]
    else:
        vector = f"SELECT array_to_tsvector(novisurf_search_lexemes({body}))"
    return [
        # The words of a text, folded: what the index holds and what a query term becomes.
        "CREATE FUNCTION novisurf_search_lexemes(doc text) RETURNS text[] "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ "
        f"SELECT coalesce(array_agg(DISTINCT left(word, {MAX_TERM_CHARS})), '{{}}') "
        f"FROM regexp_split_to_table({folded}, '[^{_word_class()}]+') AS word "
        "WHERE word <> '' $fn$",
        *statements,
        f"CREATE FUNCTION novisurf_search_query(query text) RETURNS tsquery {query}",
        f"CREATE FUNCTION novisurf_image_search_vector({_pg_arguments(schema)}) "
        f"RETURNS tsvector LANGUAGE sql STABLE AS $fn$ {vector} $fn$",
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


def _pg_columns(schema: Schema) -> str:
    """The image's columns the vector is made of, in the order the function takes them."""
    return "prompt, revised_prompt, id" + (", model, metadata" if schema.metadata else "")


def _pg_arguments(schema: Schema) -> str:
    arguments = "prompt text, revised_prompt text, image_id uuid"
    return arguments + (", model text, metadata jsonb" if schema.metadata else "")


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
        "DROP FUNCTION IF EXISTS novisurf_image_search_vector(text, text, uuid, text, jsonb)",
        "DROP FUNCTION IF EXISTS novisurf_search_term(text, text)",
        "DROP FUNCTION IF EXISTS novisurf_search_words(text)",
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
                f"novisurf_image_search_vector({_pg_columns(schema)})"
            )
        cursor.execute(f'SELECT count(*) FROM "{tables.image}"')
        return cursor.fetchone()[0]


def tables_for(apps) -> Tables:
    """The table names from a (historical or current) app registry."""
    image = apps.get_model("gallery", "Image")
    tagged = apps.get_model("gallery", "TaggedImage")
    tag = tagged._meta.get_field("tag").related_model
    return Tables(image=image._meta.db_table, tagged=tagged._meta.db_table, tag=tag._meta.db_table)


# FTS5 pages merged per call of ``tidy``: bounded work (a fraction of a second) that holds the
# write lock briefly, repeated each housekeeping round until the index is one b-tree again.
MERGE_PAGES = 1_000


def tidy(connection: BaseDatabaseWrapper, *, pages: int = MERGE_PAGES) -> bool:
    """Merge some of the index's segments (SQLite FTS5): every write adds a small segment, and
    a query reads each, so a library written to image by image is searched slower than one
    just rebuilt. Returns whether there was work to do. PostgreSQL's GIN index is kept by
    autovacuum (its pending list is merged on VACUUM): nothing to do here."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT total_changes()")
        before = cursor.fetchone()[0]
        # A negative N: merge about N pages, segments of every level together, so that rounds
        # end in one b-tree (what 'optimize' makes at once, holding the lock for seconds).
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('merge', %s)", [-pages])
        cursor.execute("SELECT total_changes()")
        # FTS5 counts two changes or more when it merged anything.
        return cursor.fetchone()[0] - before >= 2
