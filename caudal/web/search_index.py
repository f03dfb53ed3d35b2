"""Database-side indexes for accent- and case-insensitive search of names and addresses.

The cadastre tables belong to ``caudal.cadastre``; these indexes are the web's concern, so
they are created here, by raw SQL that depends on the engine:

- **PostgreSQL**: the ``pg_trgm`` and ``unaccent`` extensions (both trusted: the database
  owner can create them), an IMMUTABLE ``caudal_fold(text)`` = ``lower(unaccent(text))``
  and GIN trigram indexes on ``caudal_fold(name)`` and ``caudal_fold(address)``, kept up
  to date by PostgreSQL on every write (no measurable cost on the 200,000-account demo
  import). Search is by substring (``LIKE '%term%'``).
- **SQLite**: FTS5 external-content tables ``web_customer_fts`` (over
  ``cadastre_customer.name``) and ``web_property_fts`` (over ``cadastre_property.address``),
  tokenizer ``unicode61 remove_diacritics 2`` (case- and accent-folding) and prefix indexes
  for 1, 2 and 3 letters (without them a search for ``apv los portales`` took 200 ms on
  2.5 million properties; with them 2 ms, for three times the index size: 50 MB).
  Search is by word prefix: ``quis`` finds "Quispe", ``perez`` finds "PÉREZ".

  New rows are indexed in batches, not by an INSERT trigger: a per-row FTS5 trigger made
  the cadastre import of the demo twice as slow, and its cost grows with the index. A
  watermark (``web_search_watermark``: the highest id indexed per table) says which rows
  are indexed; :func:`catch_up` indexes the rows above it with one ``INSERT ... SELECT``
  (about 2 µs a row) and is called by the search before it reads the index, so a search
  never misses a new customer. After a bulk import the first search pays the catch-up
  once (or run ``caudal rebuild-search-index``). UPDATE and DELETE of rows already
  indexed are rare and single-row; triggers keep the index right for them.

  On SQLite a migration that remakes ``cadastre_customer`` or ``cadastre_property``
  (Django does that to alter a column) drops the triggers: run
  ``caudal rebuild-search-index`` (or call :func:`install` from that migration). Search
  detects a missing index and falls back to a plain, unindexed scan (with a warning in the
  log and the system check ``caudal.web.W001``) instead of returning stale results.
"""

from __future__ import annotations

import logging

from django.db import transaction
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


WATERMARK = "web_search_watermark"


def _sqlite_statements(fts: str, table: str, column: str) -> list[str]:
    indexed = f"(SELECT indexed_to FROM {WATERMARK} WHERE name = '{fts}')"
    return [
        f"DROP TRIGGER IF EXISTS {fts}_ai",  # the per-row insert trigger of earlier versions
        f"DROP TRIGGER IF EXISTS {fts}_ad",
        f"DROP TRIGGER IF EXISTS {fts}_au",
        f"DROP TABLE IF EXISTS {fts}",
        f"CREATE TABLE IF NOT EXISTS {WATERMARK} "
        "(name TEXT PRIMARY KEY, indexed_to INTEGER NOT NULL)",
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', "
        "content_rowid='id', detail='none', prefix='1 2 3', "
        "tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} WHEN old.id <= {indexed} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} "
        f"WHEN old.id <= {indexed} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        *_sqlite_rebuild(fts, table),
    ]


def _sqlite_rebuild(fts: str, table: str) -> list[str]:
    return [
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        f"INSERT OR REPLACE INTO {WATERMARK} (name, indexed_to) "
        f"VALUES ('{fts}', (SELECT coalesce(max(id), 0) FROM {table}))",
    ]


def catch_up(connection: BaseDatabaseWrapper) -> int:
    """Index the rows added since the last catch-up (SQLite; a no-op elsewhere).

    One cheap query when nothing is pending (two max() lookups on primary keys); else one
    ``INSERT ... SELECT`` per table inside an IMMEDIATE transaction. Returns the number of
    rows indexed (-1 after a full rebuild).
    """
    if connection.vendor != "sqlite":
        return 0
    parts = ", ".join(
        f"(SELECT coalesce(max(id), 0) FROM {table}), "
        f"(SELECT coalesce((SELECT indexed_to FROM {WATERMARK} WHERE name = '{fts}'), -1))"
        for fts, table, _column in SQLITE_FTS
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        marks = cursor.fetchone()
    pending = [
        (spec, marks[2 * i], marks[2 * i + 1])
        for i, spec in enumerate(SQLITE_FTS)
        if marks[2 * i] != marks[2 * i + 1]
    ]
    if not pending:
        return 0
    added = 0
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for (fts, table, column), _top, _seen in pending:
            # read again inside the write transaction: another process may have caught up
            cursor.execute(
                f"SELECT coalesce(max(id), 0), "
                f"(SELECT indexed_to FROM {WATERMARK} WHERE name = %s) FROM {table}",
                [fts],
            )
            top, seen = cursor.fetchone()
            if seen is None or top < seen:  # table emptied or ids reset: start over
                for sql in _sqlite_rebuild(fts, table):
                    cursor.execute(sql)
                added = -1
            elif top > seen:
                cursor.execute(
                    f"SELECT count(*) FROM {table} WHERE id > %s AND id <= %s", [seen, top]
                )
                count = cursor.fetchone()[0]
                cursor.execute(
                    f"INSERT INTO {fts}(rowid, {column}) "
                    f"SELECT id, {column} FROM {table} WHERE id > %s AND id <= %s",
                    [seen, top],
                )
                cursor.execute(
                    f"UPDATE {WATERMARK} SET indexed_to = %s WHERE name = %s", [top, fts]
                )
                if added >= 0:
                    added += count
    return added


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
            cursor.execute(f"DROP TABLE IF EXISTS {WATERMARK}")
        elif connection.vendor == "postgresql":
            for index, _table, _column in PG_TRGM:
                cursor.execute(f"DROP INDEX IF EXISTS {index}")
            cursor.execute("DROP FUNCTION IF EXISTS caudal_fold(text)")


def is_installed(connection: BaseDatabaseWrapper) -> bool:
    """True when every index and trigger is in place (one small catalogue query)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            names = [f"{fts}_{s}" for fts, _t, _c in SQLITE_FTS for s in ("ad", "au")]
            names += [fts for fts, _t, _c in SQLITE_FTS] + [WATERMARK]
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
