"""Set-based writes the ORM has no verb for: one INSERT ... SELECT, whatever the number of rows.

Bulk actions on ten thousand selected images must cost a constant number of queries; a
``bulk_create`` of fetched ids would cost one query per few hundred rows, and the ids would
travel to Python and back for nothing.
"""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Model, QuerySet


def insert_from_select(model: type[Model], fields: list[str], source: QuerySet) -> int:
    """``INSERT INTO model (fields) SELECT ... ON CONFLICT DO NOTHING``: ``source`` is a
    ``values_list`` whose columns line up with ``fields``. Rows that would break a unique
    constraint are skipped. Returns the number of rows inserted (SQLite and PostgreSQL both
    support the statement and report it)."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    select_sql, params = source.query.get_compiler(using=alias).as_sql()
    # SQLite needs a WHERE in the SELECT to tell ON CONFLICT from a join's ON; "WHERE true" is
    # harmless when the SELECT has its own (it always filters by owner here).
    # Only quoted identifiers and the ORM's own compiled SQL go into the text; values are params.
    table = quote(model._meta.db_table)
    sql = "INSERT INTO %s (%s) SELECT * FROM (%s) AS source WHERE true ON CONFLICT DO NOTHING" % (  # noqa: S608, UP031
        table,
        columns,
        select_sql,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)
