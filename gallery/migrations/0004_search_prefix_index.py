"""The search index rebuilt faster to ask: FTS5 prefix indexes, the owner in the index (FTS5 and
PostgreSQL), and a PostgreSQL query function that keeps its plan. ``gallery.search.Schema`` says
what each changes; the same words match as before.
"""

from django.db import migrations

from gallery import search


def forwards(apps, schema_editor):
    tables = search.tables_for(apps)
    search.uninstall(schema_editor.connection, tables, search.SCHEMA_0003)
    search.install(schema_editor.connection, tables, search.SCHEMA_0004)


def backwards(apps, schema_editor):
    tables = search.tables_for(apps)
    search.uninstall(schema_editor.connection, tables, search.SCHEMA_0004)
    search.install(schema_editor.connection, tables, search.SCHEMA_0003)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0003_search"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
