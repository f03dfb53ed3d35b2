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

The reads go through their own connections (ADBC), built from Django's connection
settings: the SQLite file (read-only) or a libpq URI (read-only session) for PostgreSQL.
The items are read in id ranges (one per core) in parallel threads, with the accounts on
one more connection; all the connections read the same state of the database
(:class:`Pinned`: an exported snapshot on PostgreSQL, a checked fingerprint on SQLite),
so the result is the one statement's. A SQLite test database lives in memory, invisible to another
library: :func:`source` then serializes it from Django's own connection into a temporary
file first (only the test suite does this).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
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

    def open(self, *, autocommit: bool = False) -> Any:
        """A new read-only ADBC connection (DB-API). With ``autocommit`` the caller
        issues its own BEGIN (see :class:`Pinned`)."""
        if self.engine == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite_adbc

            uri = f"file:{quote(self.target)}?mode=ro"
            return sqlite_adbc.connect(uri, autocommit=autocommit)
        import adbc_driver_postgresql.dbapi as pg_adbc

        # Read-only session: the snapshot never writes through this connection.
        sep = "&" if "?" in self.target else "?"
        return pg_adbc.connect(
            self.target + sep + "options=" + quote("-c default_transaction_read_only=on"),
            autocommit=autocommit,
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

    An in-memory SQLite database (the test suite's) is serialized from Django's own
    connection into a temporary file, removed afterwards: what that connection sees,
    its open transaction included (the backup API would wait forever for the test's
    transaction to end on the shared-cache database). On PostgreSQL the reads use their
    own connections, so tests that snapshot there must commit
    (``django_db(transaction=True)``).
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
        Path(path).write_bytes(conn.connection.serialize())  # tests only: in-memory database
        yield Source("sqlite", path)
    finally:
        Path(path).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- statements


def _date_literal(engine: str, on: date) -> str:
    # ``on`` is a datetime.date, so its ISO form is safe to inline (no user text).
    iso = date(on.year, on.month, on.day).isoformat()
    return f"DATE '{iso}'" if engine == "postgresql" else f"'{iso}'"


#: The item columns every item statement returns (build.RAW_ITEM_SCHEMA; dates are text
#: on SQLite, ``blocked`` 0/1 there).
_ITEM_COLUMNS = (
    "i.id AS item_id, i.account_id, i.document_id, d.kind AS document_kind, i.concept, "
    "i.side, i.issue_date, i.due_date, i.amount, i.open_amount, i.blocked"
)


def _join(engine: str) -> str:
    # SQLite: CROSS JOIN keeps the written join order (items outer, a primary-key probe of
    # the document per item); left to itself the planner may scan every document and
    # index the items instead. PostgreSQL chooses a hash join itself.
    return "CROSS JOIN" if engine == "sqlite" else "JOIN"


def items_sql(engine: str, on: date, id_range: tuple[int, int] | None = None) -> str:
    """The items open now and issued on or before ``on`` (optionally only ids within
    ``id_range``, inclusive), with their document's kind: one scan of the item table."""
    d = _date_literal(engine, on)
    where = f"i.open_amount > 0 AND i.issue_date <= {d}"
    if id_range is not None:
        where += f" AND i.id BETWEEN {int(id_range[0])} AND {int(id_range[1])}"
    return (
        f"SELECT {_ITEM_COLUMNS} FROM ledger_openitem i {_join(engine)} ledger_document d "
        f"ON d.id = i.document_id WHERE {where}"
    )


def late_sql(engine: str, on: date) -> str:
    """The items touched by clearings dated after ``on`` (issued on or before it), with
    ``back``: the sum of those clearings, which ``open_on(D) = open_amount + back``
    restores. Open now or not (an item paid after ``on`` has ``open_amount`` 0)."""
    d = _date_literal(engine, on)
    return f"""
WITH late AS (
    SELECT c.item_id, CAST(SUM(c.amount) AS BIGINT) AS back FROM (
        SELECT debit_item_id AS item_id, amount FROM ledger_clearing WHERE cleared_on > {d}
        UNION ALL
        SELECT credit_item_id AS item_id, amount FROM ledger_clearing WHERE cleared_on > {d}
    ) c GROUP BY c.item_id
)
SELECT {_ITEM_COLUMNS}, l.back
FROM late l {_join(engine)} ledger_openitem i ON i.id = l.item_id
{_join(engine)} ledger_document d ON d.id = i.document_id
WHERE i.issue_date <= {d}
"""


def blocks_sql(engine: str, on: date) -> str:
    """The block events that decide each item's blocked flag as of ``on``: per item with
    events, its last event on or before ``on`` (``is_last``: 1) and its first event
    (``is_first``: 1; one row may be both). The last event on or before ``on`` decides;
    with none by then, the opposite of the first. Blocked items get the deciding event's
    date, complaint and responsible (``blocked_since``, ``block_case``,
    ``block_responsible``)."""
    d = _date_literal(engine, on)
    return f"""
SELECT item_id, blocked, effective_on, case_ref, responsible,
       CASE WHEN last_rank = 1 AND effective_on <= {d} THEN 1 ELSE 0 END AS is_last,
       CASE WHEN first_rank = 1 THEN 1 ELSE 0 END AS is_first
FROM (
    SELECT e.item_id, CASE WHEN e.blocked THEN 1 ELSE 0 END AS blocked, e.effective_on,
           e.case_ref, e.responsible,
           ROW_NUMBER() OVER (PARTITION BY e.item_id ORDER BY
               CASE WHEN e.effective_on <= {d} THEN 0 ELSE 1 END,
               e.effective_on DESC, e.id DESC) AS last_rank,
           ROW_NUMBER() OVER (PARTITION BY e.item_id ORDER BY e.effective_on, e.id)
               AS first_rank
    FROM ledger_blockevent e
) ranked
WHERE last_rank = 1 OR first_rank = 1
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

#: What identifies a state of the ledger: every ledger write adds a document, a clearing
#: or a block event (open amounts change only with clearings, blocked flags only with
#: block events), and ids grow (bulk posting reserves MAX(id) + 1 under the write lock).
FINGERPRINT_SQL = (
    "SELECT (SELECT MAX(id) FROM ledger_document), (SELECT MAX(id) FROM ledger_clearing), "
    "(SELECT MAX(id) FROM ledger_blockevent), (SELECT MAX(id) FROM ledger_openitem)"
)


SQLITE_BATCH_ROWS = "adbc.sqlite.query.batch_rows"


class Pinned:
    """Several connections reading the same state of the database, for parallel reads.

    PostgreSQL: the first connection opens a REPEATABLE READ, READ ONLY transaction and
    exports its snapshot (``pg_export_snapshot``); the others import it (``SET
    TRANSACTION SNAPSHOT``), so every statement sees exactly the same data, as one
    statement would. SQLite (WAL): each connection opens a read transaction, pinned by
    its first read (the ledger's fingerprint, :data:`FINGERPRINT_SQL`); when a writer
    committed between two of them, the fingerprints differ and :meth:`open` gives up
    (the caller retries, then falls back to one connection).
    """

    def __init__(self, src: Source, count: int) -> None:
        self.src = src
        self.count = count
        self.conns: list[Any] = []

    def open(self) -> bool:
        fingerprints = set()
        exported = ""
        for n in range(self.count):
            conn = self.src.open(autocommit=True)
            self.conns.append(conn)
            cur = conn.cursor()
            try:
                if self.src.engine == "postgresql":
                    cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    if n == 0:
                        cur.execute("SELECT pg_export_snapshot()")
                        exported = str(cur.fetchone()[0])
                    else:
                        cur.execute(f"SET TRANSACTION SNAPSHOT '{exported}'")
                else:
                    cur.execute("BEGIN")
                    cur.execute(FINGERPRINT_SQL)
                    fingerprints.add(tuple(cur.fetchone()))
            finally:
                cur.close()
        return len(fingerprints) <= 1

    def fetch(self, n: int, sql: str) -> pa.Table:
        cur = self.conns[n].cursor()
        try:
            if self.src.engine == "sqlite":
                # Record batches of 64 Ki rows instead of the driver's 1 Ki: 64 times fewer
                # chunks for Polars to put together (half the conversion time).
                cur.adbc_statement.set_options(**{SQLITE_BATCH_ROWS: "65536"})
            cur.execute(sql)
            table: pa.Table = cur.fetch_arrow_table()
        finally:
            cur.close()
        return table

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                cur = conn.cursor()
                cur.execute("ROLLBACK")
                cur.close()
            with contextlib.suppress(Exception):
                conn.close()
        self.conns = []


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


def _normalize(df: pl.DataFrame, *extra: str) -> pl.DataFrame:
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
        *[pl.col(c).cast(pl.Int64) for c in extra],
    )


def _frame(table: pa.Table) -> pl.DataFrame:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return df


def _apply_blocks(items: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """The blocked flag as of the date, and the deciding block's details, for the items
    with block events (see :func:`blocks_sql`)."""
    ev = events.select(
        pl.col("item_id").cast(pl.Int64),
        pl.col("blocked").cast(pl.Int64) != 0,
        _as_date(pl.col("effective_on"), events.schema["effective_on"]).alias("effective_on"),
        pl.col("case_ref").cast(pl.String),
        pl.col("responsible").cast(pl.String),
        pl.col("is_last").cast(pl.Int64) != 0,
        pl.col("is_first").cast(pl.Int64) != 0,
    )
    last = ev.filter(pl.col("is_last")).select(
        "item_id",
        pl.col("blocked").alias("_last"),
        pl.when(pl.col("blocked")).then(pl.col("effective_on")).alias("_since"),
        pl.when(pl.col("blocked")).then(pl.col("case_ref")).otherwise(pl.lit("")).alias("_case"),
        pl.when(pl.col("blocked")).then(pl.col("responsible")).otherwise(pl.lit("")).alias("_resp"),
    )
    first = ev.filter(pl.col("is_first")).select("item_id", (~pl.col("blocked")).alias("_before"))
    decided = first.join(last, on="item_id", how="full", coalesce=True).select(
        "item_id",
        pl.coalesce("_last", "_before").alias("_blocked"),
        "_since",
        pl.col("_case").fill_null(""),
        pl.col("_resp").fill_null(""),
    )
    if "blocked_since" not in items.columns:
        items = items.with_columns(
            pl.lit(None, dtype=pl.Date).alias("blocked_since"),
            pl.lit("").alias("block_case"),
            pl.lit("").alias("block_responsible"),
        )
    # Only the items with events are joined (a few); the rest keep today's flag.
    has_events = pl.col("item_id").is_in(decided["item_id"].implode())
    changed = (
        items.filter(has_events)
        .join(decided, on="item_id", how="left")
        .with_columns(
            pl.col("_blocked").alias("blocked"),
            pl.col("_since").alias("blocked_since"),
            pl.col("_case").alias("block_case"),
            pl.col("_resp").alias("block_responsible"),
        )
        .drop("_blocked", "_since", "_case", "_resp")
    )
    return pl.concat([items.filter(~has_events), changed], rechunk=False)


def _items_frame(scans: list[pa.Table], late: pa.Table, blocks: pa.Table) -> pl.DataFrame:
    """Items open now (the scans), with the items touched by clearings dated after the
    date put back as they were then (``open_amount + back``), and the blocked flag as of
    the date for items with block events. Items not open at the date are dropped."""
    frames = [_normalize(df) for df in map(_frame, scans) if df.height]
    items = (
        (pl.concat(frames, rechunk=False) if len(frames) > 1 else frames[0])
        if frames
        else pl.DataFrame(schema=build.RAW_ITEM_SCHEMA)
    )
    late_df = _frame(late)
    if late_df.height:
        restored = (
            _normalize(late_df, "back")
            .with_columns((pl.col("open_amount") + pl.col("back")).alias("open_amount"))
            .drop("back")
            .filter(pl.col("open_amount") > 0)
        )
        items = pl.concat(
            [
                items.filter(~pl.col("item_id").is_in(late_df["item_id"].cast(pl.Int64).implode())),
                restored,
            ],
            rechunk=False,
        )
    blocks_df = _frame(blocks)
    if blocks_df.height:
        items = _apply_blocks(items, blocks_df)
    return items


def _accounts_frame(table: pa.Table) -> pl.DataFrame:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    if df.height == 0:
        return pl.DataFrame(schema=build.RAW_ACCOUNT_SCHEMA)
    return df.cast(build.RAW_ACCOUNT_SCHEMA, strict=False)  # type: ignore[arg-type]


def default_partitions() -> int:
    """Item partitions read in parallel: one per core (``CAUDAL_SNAPSHOT_PARTITIONS``)."""
    env = os.environ.get("CAUDAL_SNAPSHOT_PARTITIONS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


def id_ranges(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous inclusive ranges covering ``low..high`` (fewer when small)."""
    if high < low:
        return [(low, high)]
    parts = max(1, min(parts, high - low + 1))
    step = -(-(high - low + 1) // parts)
    return [(lo, min(high, lo + step - 1)) for lo in range(low, high + 1, step)]


RETRIES = 3


def _read_pinned(
    src: Source, on: date, parts: int, *, one_connection: bool, timings: dict[str, float]
) -> tuple[pa.Table, pa.Table, pa.Table, list[pa.Table]] | None:
    """One attempt: the statements on connections pinned to one state (None when the
    SQLite connections did not agree)."""
    pinned = Pinned(src, 1 if one_connection else parts + 1)
    try:
        if not pinned.open():
            return None
        bounds = pinned.fetch(0, "SELECT MIN(id) AS lo, MAX(id) AS hi FROM ledger_openitem")
        lo, hi = bounds.column(0)[0].as_py(), bounds.column(1)[0].as_py()
        ranges: list[tuple[int, int] | None] = (
            [None] if parts == 1 or lo is None else list(id_ranges(lo, hi, parts))
        )
        aside = 0 if one_connection else parts
        # One worker per connection; each runs its statements in turn.
        work: dict[int, list[tuple[str, str]]] = {
            aside: [
                ("accounts", ACCOUNTS_SQL),
                ("late", late_sql(src.engine, on)),
                ("blocks", blocks_sql(src.engine, on)),
            ]
        }
        for n, rng in enumerate(ranges):
            work.setdefault(n, []).append((f"items_{n}", items_sql(src.engine, on, rng)))
        results: dict[str, pa.Table] = {}

        def run(n: int) -> None:
            for name, sql in work[n]:
                t0 = time.perf_counter()
                results[name] = pinned.fetch(n, sql)
                timings["read_" + name] = round(time.perf_counter() - t0, 4)

        with ThreadPoolExecutor(max_workers=len(work)) as pool:
            list(pool.map(run, sorted(work)))
        timings["partitions"] = len(ranges)
        return (
            results["accounts"],
            results["late"],
            results["blocks"],
            [results[f"items_{n}"] for n in range(len(ranges))],
        )
    finally:
        pinned.close()


def read_raw(on: date, *, alias: str = "default", partitions: int | None = None) -> Raw:
    """Read the raw items (as of ``on``) and account attributes (today's).

    The items are read in ``partitions`` id ranges on as many connections pinned to the
    same state of the database (:class:`Pinned`), in parallel threads, with the account
    attributes on one more; one partition is the single statement of :func:`items_sql`.
    """
    timings: dict[str, float] = {}
    parts = partitions or default_partitions()
    started = time.perf_counter()
    with source(alias) as src:
        timings["connect"] = round(time.perf_counter() - started, 4)
        items_tables: list[pa.Table] = []
        accounts_table: pa.Table | None = None
        late_table = blocks_table = pa.table({})
        for attempt in range(RETRIES + 1):
            last = attempt == RETRIES
            if last:  # writers kept committing between the connections: one connection
                parts = 1
            got = _read_pinned(src, on, parts, one_connection=last, timings=timings)
            if got is not None:
                accounts_table, late_table, blocks_table, items_tables = got
                break
        assert accounts_table is not None
        timings["read_sql"] = round(time.perf_counter() - started, 4)
        t0 = time.perf_counter()
        items = _items_frame(items_tables, late_table, blocks_table)
        accounts = _accounts_frame(accounts_table)
        timings["read_convert"] = round(time.perf_counter() - t0, 4)
    timings["read"] = round(time.perf_counter() - started, 4)
    return Raw(on=on, items=items, accounts=accounts, timings=timings, engine=src.engine)


__all__ = [
    "Pinned",
    "Raw",
    "Source",
    "blocks_sql",
    "default_partitions",
    "id_ranges",
    "items_sql",
    "late_sql",
    "postgres_uri",
    "read_raw",
    "source",
]
