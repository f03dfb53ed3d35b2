"""System check: warn when the search index is missing (e.g. dropped by a table remake)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Tags, Warning, register
from django.db import DatabaseError, connections


@register(Tags.database)
def search_index_installed(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    from django.db.migrations.recorder import MigrationRecorder

    from . import search_index

    problems = []
    for alias in databases or []:
        connection = connections[alias]
        try:
            applied = (
                MigrationRecorder(connection)
                .migration_qs.filter(app="web", name="0002_search_index")
                .exists()
            )
            ok = not applied or search_index.is_installed(connection)
        except DatabaseError:  # not migrated yet
            continue
        if not ok:
            problems.append(
                Warning(
                    "The name/address search index is missing; search falls back to a slow scan.",
                    hint="Run `caudal rebuild-search-index`.",
                    id="caudal.web.W001",
                )
            )
    return problems
