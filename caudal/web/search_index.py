"""Database-side indexes for accent- and case-insensitive search of names and addresses.

The cadastre tables belong to ``caudal.cadastre``; these indexes are the web's concern, so
they are created here, by raw SQL that depends on the engine:

- **SQLite**: FTS5 external-content tables ``web_customer_fts`` (over
  ``cadastre_customer.name``) and ``web_property_fts`` (over ``cadastre_property.address``),
  tokenizer ``unicode61 remove_diacritics 2`` (case- and accent-folding), kept in sync by
  triggers on the cadastre tables. Search is by word prefix: ``quis`` finds "Quispe",
  ``perez`` finds "PÉREZ".
- **PostgreSQL**: the ``pg_trgm`` and ``unaccent`` extensions (both trusted: the database
  owner can create them), an IMMUTABLE ``caudal_fold(text)`` = ``lower(unaccent(text))``
  and GIN trigram indexes on ``caudal_fold(name)`` and ``caudal_fold(address)``. Search is
  by substring (``LIKE '%term%'``, terms of 3+ characters use the index).

Both are maintained by the database on every write, whatever the writer (ORM, bulk import,
raw SQL); the cost is paid on inserts (FTS5 insert per row; GIN with fastupdate on
PostgreSQL). On SQLite a migration that remakes ``cadastre_customer`` or
``cadastre_property`` (Django does that to alter a column) drops the triggers: run
``caudal rebuild-search-index`` (or call :func:`install` from the migration). Search
detects a missing index and falls back to a plain, unindexed scan (with a warning in the
log) instead of returning stale results.
"""

from __future__ import annotations

import logging

from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

# (fts table, content table, column)
SQLITE_FTS = (
    ("web_customer_fts", "cadastre_customer", "name"),
    ("web_property_fts", "cadastre_property", "address"),
)
PG_TRGM = (
    ("web_customer_name_trgm", "cadastre_customer", "name"),
    ("web_property_address_trgm", "cadastre_property", "address"),
)


def _sqlite_statements(fts: str, table: str, column: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {fts}_ai",
        f"DROP TRIGGER IF EXISTS {fts}_ad",
        f"DROP TRIGGER IF EXISTS {fts}_au",
        f"DROP TABLE IF EXISTS {fts}",
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', "
        "content_rowid='id', detail='none', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION caudal_fold(text) RETURNS text "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    "AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$"
)


def install(connection: BaseDatabaseWrapper) -> bool:
    """Create (or re-create) the search indexes. Returns False when the engine can't."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for fts, table, column in SQLITE_FTS:
                for sql in _sqlite_statements(fts, table, column):
                    cursor.execute(sql)
            return True
        if connection.vendor == "postgresql":
            try:
                cursor.execute("SAVEPOINT caudal_search_index")
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
                cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
                cursor.execute(PG_FUNCTION)
                cursor.execute("RELEASE SAVEPOINT caudal_search_index")
            except Exception:  # no privilege to create extensions: search still works, unindexed
                cursor.execute("ROLLBACK TO SAVEPOINT caudal_search_index")
                log.warning("search index: pg_trgm/unaccent unavailable; name search unindexed")
                return False
            for index, table, column in PG_TRGM:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {index} ON {table} "
                    f"USING gin (caudal_fold({column}) public.gin_trgm_ops)"
                )
            return True
    return False


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for fts, _table, _column in SQLITE_FTS:
                for suffix in ("ai", "ad", "au"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
                cursor.execute(f"DROP TABLE IF EXISTS {fts}")
        elif connection.vendor == "postgresql":
            for index, _table, _column in PG_TRGM:
                cursor.execute(f"DROP INDEX IF EXISTS {index}")
            cursor.execute("DROP FUNCTION IF EXISTS caudal_fold(text)")


def is_installed(connection: BaseDatabaseWrapper) -> bool:
    """True when every index and trigger is in place (one small catalogue query)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            names = [f"{fts}_{s}" for fts, _t, _c in SQLITE_FTS for s in ("ai", "ad", "au")]
            names += [fts for fts, _t, _c in SQLITE_FTS]
            marks = ", ".join(["%s"] * len(names))
            cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})", names)
            return cursor.fetchone()[0] == len(names)
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT (SELECT count(*) FROM pg_proc WHERE proname = 'caudal_fold')"
                " + (SELECT count(*) FROM pg_indexes WHERE indexname = ANY(%s))",
                [[index for index, _t, _c in PG_TRGM]],
            )
            return cursor.fetchone()[0] >= 1 + len(PG_TRGM)
    return False
