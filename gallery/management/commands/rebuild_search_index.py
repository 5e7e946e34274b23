"""``manage.py rebuild_search_index``: index every image afresh.

The database's triggers keep the index in step on every write; this is for after a restore from
a dump that skipped the index, or to be sure.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from gallery import search


class Command(BaseCommand):
    help = "Rebuild the gallery's full-text search index from every image, its prompts and tags."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database: str, **options) -> None:
        connection = connections[database]
        with transaction.atomic(using=database):
            count = search.rebuild(connection, search.tables_for(apps))
        self.stdout.write(f"Indexed {count} images for search.")
