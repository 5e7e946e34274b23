"""Full-text search kept by the database: triggers on images, their tags and tag names.

The SQL differs per database (an FTS5 table on SQLite, a GIN-indexed tsvector column on
PostgreSQL); ``gallery.search`` holds both and says how they agree.
"""

from django.db import migrations

from gallery import search


def install(apps, schema_editor):
    search.install(schema_editor.connection, search.tables_for(apps), search.SCHEMA_0003)


def uninstall(apps, schema_editor):
    search.uninstall(schema_editor.connection, search.tables_for(apps), search.SCHEMA_0003)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0002_foundations"),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
        # Listings order by a unique tiebreaker, so that keyset pages never repeat or skip.
        migrations.AlterModelOptions(
            name="generation",
            options={"ordering": ["-created_at", "-id"]},
        ),
    ]
