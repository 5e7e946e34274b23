"""The search index for search operators: an imported file's settings in the body, the model in
a column of its own (FTS5) or at weight A (PostgreSQL) for ``model:``, word positions on
PostgreSQL for phrases, and FTS5 prefix indexes up to 12 characters. ``gallery.search.index``
says what each schema holds.
"""

from django.db import migrations

from gallery import search


def forwards(apps, schema_editor):
    tables = search.tables_for(apps)
    search.uninstall(schema_editor.connection, tables, search.SCHEMA_0004)
    search.install(schema_editor.connection, tables, search.SCHEMA_0005)


def backwards(apps, schema_editor):
    tables = search.tables_for(apps)
    search.uninstall(schema_editor.connection, tables, search.SCHEMA_0005)
    search.install(schema_editor.connection, tables, search.SCHEMA_0004)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0006_generation_cancelled"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
