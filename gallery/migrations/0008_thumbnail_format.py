from django.db import migrations, models

# One ALTER TABLE ... ADD COLUMN, the same SQL on SQLite and PostgreSQL: Django's AddField would
# rebuild the table on SQLite, which drops the search index's triggers on it.
ADD = "ALTER TABLE gallery_image ADD COLUMN thumbnail_format varchar(10) DEFAULT 'webp' NOT NULL"
DROP = "ALTER TABLE gallery_image DROP COLUMN thumbnail_format"


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0007_search_operators"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="image",
                    name="thumbnail_format",
                    field=models.CharField(db_default="webp", default="webp", max_length=10),
                ),
            ],
            database_operations=[migrations.RunSQL(ADD, reverse_sql=DROP)],
        ),
    ]
