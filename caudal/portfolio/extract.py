"""Arrow-native reads of the ledger and the cadastre for a snapshot (no Python cursor loop).

:func:`read_raw` returns the two raw frames :func:`caudal.portfolio.build.build_frames`
takes (see the column lists in :mod:`caudal.portfolio.build`):

- **items**: every item open at the end of the cut-off date ``D``, with its open amount and
  blocked flag *as of* ``D``, read in ONE statement (so a payment posted while the snapshot
  runs is seen entirely or not at all). The open amount uses the identity::

      open_on(D) = open_amount_now + SUM(clearings of the item dated after D)

  (an item's clearings are ``ledger.Clearing`` rows naming it as ``debit_item`` or
  ``credit_item``; resets are negative rows, so the identity holds through them; the
  invariant ``open_amount = amount - all clearings`` is checked by
  :mod:`caudal.ledger.invariants`). So the statement reads the items open now (the partial
  index ``item_open_by_account``) plus the items touched by clearings dated after ``D``
  and keeps those issued on or before ``D`` with a positive open amount that day: the same
  definition as :func:`caudal.ledger.queries.state_as_of`.
- **blocked as of D** (``ledger.BlockEvent``): the last event with ``effective_on <= D``
  decides; when an item has events but none on or before ``D``, the opposite of its first
  event; with no events, today's flag (legacy imports set the flag without events).
- **accounts**: the account attributes of :data:`caudal.portfolio.schema.ACCOUNT_ATTRIBUTES`
  plus the holder's name and the property's address. These are *today's* values, not as of
  ``D`` (the cadastre keeps no history of them).

The reads go through their own connection (ADBC), built from Django's connection settings:
the SQLite file (read-only) or a libpq URI for PostgreSQL. Items and accounts are read in
parallel on two connections. A SQLite test database lives in memory, invisible to another
library: :func:`connect` then copies it to a temporary file with the sqlite3 backup API
from Django's own connection first (only the test suite does this).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import pyarrow as pa
from django.db import connections

from . import build


@dataclass
class Raw:
    """The raw frames of a snapshot and the seconds each read took."""

    on: date
    items: pl.DataFrame
    accounts: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    engine: str = ""


# --------------------------------------------------------------------------- connections


@dataclass(frozen=True)
class Source:
    """Where to read from: the engine (``sqlite`` / ``postgresql``) and how to connect."""

    engine: str
    target: str  # SQLite file path, or a libpq URI

    def open(self) -> Any:
        if self.engine == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite_adbc

            uri = f"file:{quote(self.target)}?mode=ro"
            return sqlite_adbc.connect(uri)
        import adbc_driver_postgresql.dbapi as pg_adbc

        # Read-only session: the snapshot never writes through this connection.
        sep = "&" if "?" in self.target else "?"
        return pg_adbc.connect(
            self.target + sep + "options=" + quote("-c default_transaction_read_only=on")
        )


def postgres_uri(settings_dict: dict[str, Any]) -> str:
    """A libpq URI from Django's connection settings (NAME, USER, PASSWORD, HOST, PORT and
    the ``sslmode`` option when set)."""
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    host = str(settings_dict.get("HOST") or "")
    port = str(settings_dict.get("PORT") or "")
    name = quote(str(settings_dict.get("NAME") or ""), safe="")
    auth = ""
    if user:
        auth = user + (f":{password}" if password else "") + "@"
    params: list[str] = []
    if host.startswith("/"):  # a Unix socket directory
        params.append("host=" + quote(host, safe=""))
        host = ""
    location = host + (f":{port}" if port else "")
    options = settings_dict.get("OPTIONS") or {}
    if options.get("sslmode"):
        params.append("sslmode=" + quote(str(options["sslmode"]), safe=""))
    query = ("?" + "&".join(params)) if params else ""
    return f"postgresql://{auth}{location}/{name}{query}"


@contextlib.contextmanager
def source(alias: str = "default") -> Iterator[Source]:
    """The :class:`Source` of Django's database ``alias``.

    An in-memory SQLite database (the test suite's) is copied to a temporary file with the
    sqlite3 backup API from Django's own connection, and the file removed afterwards.
    Only committed data is copied: tests that snapshot must commit
    (``django_db(transaction=True)``), as they must on PostgreSQL.
    """
    conn = connections[alias]
    if conn.vendor == "postgresql":
        yield Source("postgresql", postgres_uri(conn.settings_dict))
        return
    if conn.vendor != "sqlite":
        raise RuntimeError(f"snapshots read SQLite or PostgreSQL, not {conn.vendor}")
    if not conn.is_in_memory_db():  # type: ignore[attr-defined]
        yield Source("sqlite", str(conn.settings_dict["NAME"]))
        return
    conn.ensure_connection()
    handle, path = tempfile.mkstemp(prefix="caudal-snapshot-", suffix=".sqlite3")
    os.close(handle)
    try:
        target = sqlite3.connect(path)
        try:
            conn.connection.backup(target)  # tests only: the in-memory database
        finally:
            target.close()
        yield Source("sqlite", path)
    finally:
        Path(path).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- statements


def _date_literal(engine: str, on: date) -> str:
    # ``on`` is a datetime.date, so its ISO form is safe to inline (no user text).
    iso = date(on.year, on.month, on.day).isoformat()
    return f"DATE '{iso}'" if engine == "postgresql" else f"'{iso}'"


def items_sql(engine: str, on: date) -> str:
    """The one statement that reads the items open at the end of ``on`` (see the module
    docstring). Columns: build.RAW_ITEM_SCHEMA (dates as text on SQLite, blocked 0/1)."""
    d = _date_literal(engine, on)
    true = "TRUE" if engine == "postgresql" else "1"
    return f"""
WITH late AS (
    SELECT item_id, SUM(amount) AS back FROM (
        SELECT debit_item_id AS item_id, amount FROM ledger_clearing WHERE cleared_on > {d}
        UNION ALL
        SELECT credit_item_id AS item_id, amount FROM ledger_clearing WHERE cleared_on > {d}
    ) c GROUP BY item_id
),
touched AS (
    SELECT DISTINCT item_id FROM ledger_blockevent
),
blk AS (
    SELECT t.item_id, COALESCE(
        (SELECT CASE WHEN e.blocked = {true} THEN 1 ELSE 0 END FROM ledger_blockevent e
          WHERE e.item_id = t.item_id AND e.effective_on <= {d}
          ORDER BY e.effective_on DESC, e.id DESC LIMIT 1),
        (SELECT CASE WHEN e.blocked = {true} THEN 0 ELSE 1 END FROM ledger_blockevent e
          WHERE e.item_id = t.item_id
          ORDER BY e.effective_on, e.id LIMIT 1)
    ) AS blocked
    FROM touched t
),
open_items AS (
    SELECT i.id, i.account_id, i.document_id, i.concept, i.side, i.issue_date, i.due_date,
           i.amount, i.open_amount + COALESCE(l.back, 0) AS open_on, i.blocked
    FROM ledger_openitem i LEFT JOIN late l ON l.item_id = i.id
    WHERE i.open_amount > 0 AND i.issue_date <= {d}
    UNION ALL
    SELECT i.id, i.account_id, i.document_id, i.concept, i.side, i.issue_date, i.due_date,
           i.amount, l.back AS open_on, i.blocked
    FROM late l JOIN ledger_openitem i ON i.id = l.item_id
    WHERE i.open_amount = 0 AND i.issue_date <= {d} AND l.back > 0
)
SELECT o.id AS item_id, o.account_id, o.document_id, d.kind AS document_kind, o.concept,
       o.side, o.issue_date, o.due_date, o.amount, o.open_on AS open_amount,
       COALESCE(b.blocked, CASE WHEN o.blocked = {true} THEN 1 ELSE 0 END) AS blocked
FROM open_items o
JOIN ledger_document d ON d.id = o.document_id
LEFT JOIN blk b ON b.item_id = o.id
WHERE o.open_on > 0
"""


ACCOUNTS_SQL = """
SELECT a.id AS account_id, a.number AS account_number, a.category, a.stratum, a.segment,
       cy.code AS cycle, z.code AS zone, m.code AS municipality, s.code AS sector,
       r.code AS route, c.name AS holder_name, p.address
FROM cadastre_account a
JOIN cadastre_property p ON p.id = a.property_id
JOIN cadastre_customer c ON c.id = a.customer_id
JOIN cadastre_cycle cy ON cy.id = a.cycle_id
JOIN cadastre_zone z ON z.id = p.zone_id
JOIN cadastre_municipality m ON m.id = p.municipality_id
JOIN cadastre_sector s ON s.id = p.sector_id
JOIN cadastre_route r ON r.id = p.route_id
"""


# ------------------------------------------------------------------------------- reading


def fetch_arrow(src: Source, sql: str) -> pa.Table:
    """Run one statement on a fresh ADBC connection and return the whole result as Arrow."""
    conn = src.open()
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(sql)
            table: pa.Table = cursor.fetch_arrow_table()
        finally:
            cursor.close()
    finally:
        conn.close()
    return table


def _as_date(expr: pl.Expr, dtype: Any) -> pl.Expr:
    if dtype == pl.Date:
        return expr
    if dtype == pl.String:
        return expr.str.to_date("%Y-%m-%d")
    return expr.cast(pl.Date)


def _items_frame(table: pa.Table) -> pl.DataFrame:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    if df.height == 0:
        return pl.DataFrame(schema=build.RAW_ITEM_SCHEMA)
    return df.select(
        pl.col("item_id").cast(pl.Int64),
        pl.col("account_id").cast(pl.Int64),
        pl.col("document_id").cast(pl.Int64),
        pl.col("document_kind").cast(pl.String),
        pl.col("concept").cast(pl.String),
        pl.col("side").cast(pl.String),
        _as_date(pl.col("issue_date"), df.schema["issue_date"]).alias("issue_date"),
        _as_date(pl.col("due_date"), df.schema["due_date"]).alias("due_date"),
        pl.col("amount").cast(pl.Int64),
        pl.col("open_amount").cast(pl.Int64),
        (pl.col("blocked").cast(pl.Int64) != 0).alias("blocked"),
    )


def _accounts_frame(table: pa.Table) -> pl.DataFrame:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    if df.height == 0:
        return pl.DataFrame(schema=build.RAW_ACCOUNT_SCHEMA)
    return df.cast(build.RAW_ACCOUNT_SCHEMA, strict=False)  # type: ignore[arg-type]


def read_raw(on: date, *, alias: str = "default") -> Raw:
    """Read the raw items (as of ``on``) and account attributes (today's) in parallel."""
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], pl.DataFrame]) -> Callable[[], pl.DataFrame]:
        def run() -> pl.DataFrame:
            started = time.perf_counter()
            out = fn()
            timings[name] = round(time.perf_counter() - started, 4)
            return out

        return run

    started = time.perf_counter()
    with source(alias) as src:
        timings["connect"] = round(time.perf_counter() - started, 4)
        sql = items_sql(src.engine, on)
        with ThreadPoolExecutor(max_workers=2) as pool:
            items_f = pool.submit(timed("read_items", lambda: _items_frame(fetch_arrow(src, sql))))
            accounts_f = pool.submit(
                timed("read_accounts", lambda: _accounts_frame(fetch_arrow(src, ACCOUNTS_SQL)))
            )
            items, accounts = items_f.result(), accounts_f.result()
    timings["read"] = round(time.perf_counter() - started, 4)
    return Raw(on=on, items=items, accounts=accounts, timings=timings, engine=src.engine)


__all__ = ["Raw", "Source", "items_sql", "postgres_uri", "read_raw", "source"]
