"""``caudal update-search-index``: index the customers and properties added since last time.

On SQLite new rows reach the search index in batches (see ``caudal.web.search_index``);
the first search after a bulk import would do this work, so imports and the demo build
can run this command at their end instead (about 2 µs a row). A no-op on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from caudal.web import search_index


class Command(BaseCommand):
    help = "Index the customers and properties added since the last search (SQLite)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if not search_index.is_installed(connection):
            raise CommandError("the search index is missing: run `caudal rebuild-search-index`")
        added = search_index.catch_up(connection)
        if added < 0:
            self.stdout.write("search index rebuilt")
        else:
            self.stdout.write(f"search index: {added} new rows indexed")
