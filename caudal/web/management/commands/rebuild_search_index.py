"""``caudal rebuild-search-index``: (re)create the name and address search index."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from caudal.web import search_index


class Command(BaseCommand):
    help = (
        "Re-create the accent-insensitive search index on customer names and addresses "
        "(FTS5 on SQLite, pg_trgm on PostgreSQL) and refill it from the cadastre."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        with transaction.atomic(using=options["database"]):
            ok = search_index.install(connection)
        if not ok:
            raise CommandError(
                "the search index could not be created on this database "
                "(PostgreSQL needs the pg_trgm and unaccent extensions)"
            )
        self.stdout.write(self.style.SUCCESS("search index ready"))
