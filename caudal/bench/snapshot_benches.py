"""The snapshot benchmark: ``caudal bench snapshot --size N`` (N = items open at the date).

Setup (not timed): a ledger of N open items over N / 8.7 accounts (the 20 million items
over 2.3 million accounts of issue 5), written with ADBC bulk ingest (SQLite prepared
inserts, PostgreSQL binary COPY) straight into the Django tables: one municipality, 10
zones, 100 sectors, 10 cycles, routes of 400 accounts, a customer and a property per
account; bills of three lines (water, sewer, fixed charge) spread over the last months
(one account in seven also owes bills a year older: heavy and DDR debt). About 1 % of the
items open at the cut-off date were paid the day after (a payment document, its credit item
and a clearing dated after the date: the as-of path), 0.1 % are blocked by a dated block
event. Built once per database: with ``--db FILE`` (SQLite) a second run reuses the file.
On PostgreSQL the load runs with ``session_replication_role = replica`` (no trigger, no
foreign-key check during the load: the rows are consistent by construction).

Timed: :func:`caudal.portfolio.snapshot.take_snapshot` end to end (connect, read items and
accounts, build, flows, write, the Snapshot/Run/audit rows); ``stages`` splits it.

``floor_seconds``: DuckDB reading the snapshot's own ``items.parquet``, grouping it by
account (SUM of open_amount) and writing the result to a Parquet file: the least any
engine does to turn the items into per-account figures.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection

from caudal.bench.harness import benchmark
from caudal.portfolio import extract, schema

ON = date(2026, 10, 31)
ITEMS_PER_ACCOUNT = 8.7
LINES_PER_BILL = 3
PER_ROUTE = 400
SEED = 5


def _days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _date_col(days: np.ndarray, sqlite: bool) -> pa.Array:
    arr = pa.array(days.astype(np.int32), type=pa.int32()).cast(pa.date32())
    return arr.cast(pa.string()) if sqlite else arr


def _text(values: Any) -> pa.Array:
    return pa.array(values, type=pa.string())


def _const(value: Any, n: int, typ: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=typ), n) if n else pa.array([], type=typ)


def _bool(values: np.ndarray, sqlite: bool) -> pa.Array:
    return pa.array(values.astype(np.int64)) if sqlite else pa.array(values.astype(bool))


def _ts(n: int, sqlite: bool) -> pa.Array:
    if sqlite:
        return _const("2026-11-01 08:00:00", n, pa.string())
    return _const(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), n, pa.timestamp("us", tz="UTC"))


def tables(size: int, *, sqlite: bool, on: date = ON) -> dict[str, pa.Table]:
    """The rows of every table, in load order (ids from 1: a fresh database)."""
    rng = np.random.default_rng(SEED)
    n_accounts = max(1, round(size / ITEMS_PER_ACCOUNT))
    n_docs = -(-size // LINES_PER_BILL)
    n_items = n_docs * LINES_PER_BILL  # the last bill may add up to two items past N
    n_routes = -(-n_accounts // PER_ROUTE)
    out: dict[str, pa.Table] = {}
    out["cadastre_municipality"] = pa.table(
        {
            "id": [1],
            "code": ["150101"],
            "name": ["Lima"],
            "department": ["Lima"],
            "altitude_m": pa.array([150], type=pa.int64()),
        }
    )
    out["cadastre_zone"] = pa.table(
        {
            "id": list(range(1, 11)),
            "code": [f"Z{z:02d}" for z in range(1, 11)],
            "name": [f"Zona {z}" for z in range(1, 11)],
            "municipality_id": [1] * 10,
        }
    )
    out["cadastre_sector"] = pa.table(
        {
            "id": list(range(1, 101)),
            "code": [f"S{s:03d}" for s in range(1, 101)],
            "name": [f"Sector {s}" for s in range(1, 101)],
            "zone_id": [(s - 1) // 10 + 1 for s in range(1, 101)],
        }
    )
    out["cadastre_cycle"] = pa.table(
        {
            "id": list(range(1, 11)),
            "code": [f"C{c:02d}" for c in range(1, 11)],
            "name": [f"Ciclo {c}" for c in range(1, 11)],
            "reading_day": [18] * 10,
            "billing_day": [6] * 10,
            "due_days": [20] * 10,
        }
    )
    route_ids = np.arange(1, n_routes + 1)
    out["cadastre_route"] = pa.table(
        {
            "id": route_ids,
            "code": _text([f"R{r:06d}" for r in route_ids]),
            "name": _const("", n_routes, pa.string()),
            "sector_id": (route_ids - 1) % 100 + 1,
            "cycle_id": (route_ids - 1) % 10 + 1,
        }
    )
    acc = np.arange(1, n_accounts + 1, dtype=np.int64)
    route = (acc - 1) // PER_ROUTE + 1
    sector = (route - 1) % 100 + 1
    number = pc.cast(pa.array(acc + 30_000_000), pa.string())
    out["cadastre_customer"] = pa.table(
        {
            "id": acc,
            "doc_type": _const("DNI", n_accounts, pa.string()),
            "doc_number": pc.cast(pa.array(acc + 40_000_000), pa.string()),
            "name": pc.binary_join_element_wise("Cliente ", number, ""),
            "email": _const("", n_accounts, pa.string()),
            "phone": _const("", n_accounts, pa.string()),
            "mobile": _const("", n_accounts, pa.string()),
            "consent_email": _bool(np.zeros(n_accounts, dtype=bool), sqlite),
            "consent_sms": _bool(np.zeros(n_accounts, dtype=bool), sqlite),
            "consent_date": _const(None, n_accounts, pa.string() if sqlite else pa.date32()),
            "created_at": _ts(n_accounts, sqlite),
        }
    )
    out["cadastre_property"] = pa.table(
        {
            "id": acc,
            "cadastral_code": pc.binary_join_element_wise("CAT-", number, ""),
            "address": pc.binary_join_element_wise(
                "Av. Demo ", pc.cast(pa.array((acc - 1) % PER_ROUTE + 1), pa.string()), ""
            ),
            "municipality_id": np.ones(n_accounts, dtype=np.int64),
            "zone_id": (sector - 1) // 10 + 1,
            "sector_id": sector,
            "route_id": route,
            "sequence": (acc - 1) % PER_ROUTE + 1,
            "latitude": _const(None, n_accounts, pa.string()),
            "longitude": _const(None, n_accounts, pa.string()),
            "municipal_ref": _const("", n_accounts, pa.string()),
        }
    )
    category = rng.choice(
        np.array(["domestic", "commercial", "social", "industrial", "state"]),
        size=n_accounts,
        p=[0.85, 0.08, 0.04, 0.01, 0.02],
    )
    out["cadastre_account"] = pa.table(
        {
            "id": acc,
            "number": number,
            "customer_id": acc,
            "property_id": acc,
            "category": _text(category),
            "units": np.ones(n_accounts, dtype=np.int64),
            "stratum": _const(None, n_accounts, pa.int64()),
            "segment": _text(np.where(rng.random(n_accounts) < 0.01, "vip", "regular")),
            "cycle_id": (route - 1) % 10 + 1,
            "opened_on": _date_col(np.full(n_accounts, _days(date(2015, 1, 1))), sqlite),
            "updated_at": _ts(n_accounts, sqlite),
        }
    )
    # Bills: document k belongs to account k % A, issued (k // A) months back; one account
    # in seven also owes a year older.
    k = np.arange(n_docs, dtype=np.int64)
    doc_account = k % n_accounts + 1
    months_back = k // n_accounts + np.where(doc_account % 7 == 0, 12, 0)
    issue = np.array([_days(on) - 10 - 30 * m for m in range(int(months_back.max()) + 1)])[
        months_back
    ]
    due = issue + 20
    line_amounts = np.stack(
        [
            rng.integers(800, 4_000, n_docs),  # water
            rng.integers(300, 1_500, n_docs),  # sewer
            np.full(n_docs, 577),  # fixed
        ],
        axis=1,
    )
    doc_ids = k + 1
    out["ledger_document"] = pa.table(
        {
            "id": doc_ids,
            "account_id": doc_account,
            "kind": _const("bill", n_docs, pa.string()),
            "reference": pc.cast(pa.array(doc_ids), pa.string()),
            "document_date": _date_col(issue, sqlite),
            "posting_date": _date_col(issue, sqlite),
            "amount": line_amounts.sum(axis=1),
            "reverses_id": _const(None, n_docs, pa.int64()),
            "reason": _const("", n_docs, pa.string()),
            "source": _const("bench", n_docs, pa.string()),
            "created_by_id": _const(None, n_docs, pa.int64()),
            "created_at": _ts(n_docs, sqlite),
        }
    )
    item_ids = np.arange(1, n_items + 1, dtype=np.int64)
    item_doc = np.repeat(doc_ids, LINES_PER_BILL)
    concept = np.tile(np.array(["water", "sewer", "fixed"]), n_docs)
    amount = line_amounts.reshape(-1)
    out["ledger_documentline"] = pa.table(
        {
            "id": item_ids,
            "document_id": item_doc,
            "line_no": np.tile(np.arange(1, LINES_PER_BILL + 1), n_docs),
            "concept": _text(concept),
            "amount": amount,
            "description": _const("", n_items, pa.string()),
        }
    )
    # 1 % of the items were paid the day after the cut-off: open at the date, not now.
    paid = rng.random(n_items) < 0.01
    blocked = (~paid) & (rng.random(n_items) < 0.001)
    n_paid = int(paid.sum())
    open_now = np.where(paid, 0, amount)
    out["ledger_openitem"] = pa.table(
        {
            "id": item_ids,
            "account_id": np.repeat(doc_account, LINES_PER_BILL),
            "document_id": item_doc,
            "line_id": item_ids,
            "concept": _text(concept),
            "side": _const("D", n_items, pa.string()),
            "issue_date": _date_col(np.repeat(issue, LINES_PER_BILL), sqlite),
            "due_date": _date_col(np.repeat(due, LINES_PER_BILL), sqlite),
            "amount": amount,
            "open_amount": open_now,
            "cleared_on": _date_col_nullable(paid, _days(on) + 1, sqlite),
            "blocked": _bool(blocked, sqlite),
            "block_reason": _text(np.where(blocked, "Reclamo", "")),
        }
    )
    # The payments of the day after: one document, one credit item, one clearing each.
    paid_items = item_ids[paid]
    paid_account = np.repeat(doc_account, LINES_PER_BILL)[paid]
    pay_docs = np.arange(n_docs + 1, n_docs + 1 + n_paid, dtype=np.int64)
    pay_lines = np.arange(n_items + 1, n_items + 1 + n_paid, dtype=np.int64)
    pay_amount = amount[paid]
    next_day = np.full(n_paid, _days(on) + 1)
    payments = {
        "ledger_document": pa.table(
            {
                "id": pay_docs,
                "account_id": paid_account,
                "kind": _const("payment", n_paid, pa.string()),
                "reference": pc.binary_join_element_wise(
                    "PAY-", pc.cast(pa.array(pay_docs), pa.string()), ""
                ),
                "document_date": _date_col(next_day, sqlite),
                "posting_date": _date_col(next_day, sqlite),
                "amount": -pay_amount,
                "reverses_id": _const(None, n_paid, pa.int64()),
                "reason": _const("", n_paid, pa.string()),
                "source": _const("bench", n_paid, pa.string()),
                "created_by_id": _const(None, n_paid, pa.int64()),
                "created_at": _ts(n_paid, sqlite),
            }
        ),
        "ledger_documentline": pa.table(
            {
                "id": pay_lines,
                "document_id": pay_docs,
                "line_no": np.ones(n_paid, dtype=np.int64),
                "concept": _const("payment", n_paid, pa.string()),
                "amount": -pay_amount,
                "description": _const("", n_paid, pa.string()),
            }
        ),
        "ledger_openitem": pa.table(
            {
                "id": pay_lines,
                "account_id": paid_account,
                "document_id": pay_docs,
                "line_id": pay_lines,
                "concept": _const("payment", n_paid, pa.string()),
                "side": _const("C", n_paid, pa.string()),
                "issue_date": _date_col(next_day, sqlite),
                "due_date": _date_col(next_day, sqlite),
                "amount": pay_amount,
                "open_amount": np.zeros(n_paid, dtype=np.int64),
                "cleared_on": _date_col(next_day, sqlite),
                "blocked": _bool(np.zeros(n_paid, dtype=bool), sqlite),
                "block_reason": _const("", n_paid, pa.string()),
            }
        ),
    }
    for name, extra in payments.items():
        out[name] = pa.concat_tables([out[name], extra])
    out["ledger_clearing"] = pa.table(
        {
            "id": np.arange(1, n_paid + 1, dtype=np.int64),
            "account_id": paid_account,
            "debit_item_id": paid_items,
            "credit_item_id": pay_lines,
            "amount": pay_amount,
            "cleared_on": _date_col(next_day, sqlite),
            "document_id": pay_docs,
            "resets_id": _const(None, n_paid, pa.int64()),
            "created_at": _ts(n_paid, sqlite),
        }
    )
    blocked_ids = item_ids[blocked]
    n_blocked = len(blocked_ids)
    out["ledger_blockevent"] = pa.table(
        {
            "id": np.arange(1, n_blocked + 1, dtype=np.int64),
            "item_id": blocked_ids,
            "blocked": _bool(np.ones(n_blocked, dtype=bool), sqlite),
            "effective_on": _date_col(np.full(n_blocked, _days(on) - 10), sqlite),
            "reason": _const("Reclamo", n_blocked, pa.string()),
            "case_ref": _const("", n_blocked, pa.string()),
            "responsible": _const("", n_blocked, pa.string()),
            "created_by_id": _const(None, n_blocked, pa.int64()),
            "created_at": _ts(n_blocked, sqlite),
        }
    )
    return out


def _date_col_nullable(mask: np.ndarray, day: int, sqlite: bool) -> pa.Array:
    days = pa.array(np.full(len(mask), day, dtype=np.int32), mask=~mask).cast(pa.date32())
    return days.cast(pa.string()) if sqlite else days


_PG_TYPES: dict[str, pa.DataType] = {
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "numeric": pa.decimal128(9, 6),
}


def _conform(cursor: Any, table: str, rows: pa.Table) -> pa.Table:
    """Cast the columns to the table's PostgreSQL types (binary COPY needs them exact)."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_name = '{table}'"
    )
    types = dict(cursor.fetchall())
    return pa.table(
        {
            name: rows[name].cast(_PG_TYPES.get(types.get(name, ""), rows[name].type))
            for name in rows.column_names
        }
    )


def populate(size: int) -> dict[str, Any]:
    """Load the benchmark's ledger into the (empty, migrated) database. Returns counts."""
    from caudal.cadastre.testing import make_utility

    make_utility("PE")
    sqlite = connection.vendor == "sqlite"
    started = time.perf_counter()
    data = tables(size, sqlite=sqlite)
    built = time.perf_counter() - started
    if sqlite and connection.is_in_memory_db():  # type: ignore[attr-defined]
        # The test suite's database: plain executemany through Django's connection.
        with connection.cursor() as django_cursor:
            for table, rows in data.items():
                cols = ", ".join(rows.column_names)
                marks = ", ".join(["%s"] * rows.num_columns)
                django_cursor.executemany(
                    f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                    [tuple(r.values()) for r in rows.to_pylist()],
                )
        return {
            "accounts": data["cadastre_account"].num_rows,
            "items_in_table": data["ledger_openitem"].num_rows,
        }
    connection.close()
    with extract.source() as src:
        if sqlite:
            import adbc_driver_sqlite.dbapi as sqlite_adbc

            conn = sqlite_adbc.connect(src.target)
        else:
            import adbc_driver_postgresql.dbapi as pg_adbc

            conn = pg_adbc.connect(src.target)
        try:
            cursor = conn.cursor()
            if not sqlite:
                cursor.execute("SET session_replication_role = replica")
            for table, rows in data.items():
                if not sqlite:
                    rows = _conform(cursor, table, rows)
                cursor.adbc_ingest(table, rows, mode="append")
            if not sqlite:
                for table, rows in data.items():
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"{int(pc.max(rows['id']).as_py())})"
                    )
            conn.commit()
            cursor.execute("ANALYZE")
            conn.commit()
            cursor.close()
        finally:
            conn.close()
    if sqlite:  # start from a database at rest
        with connection.cursor() as django_cursor:
            django_cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "accounts": data["cadastre_account"].num_rows,
        "items_in_table": data["ledger_openitem"].num_rows,
        "generate_seconds": round(built, 3),
        "load_seconds": round(time.perf_counter() - started - built, 3),
    }


def floor(items_path: Path, out: Path) -> float:
    """DuckDB: the items grouped by account (SUM open_amount), written to Parquet."""
    db = duckdb.connect()
    started = time.perf_counter()
    db.execute(
        f"COPY (SELECT account_id, SUM(open_amount) AS open_amount FROM read_parquet('{items_path}') "
        f"GROUP BY account_id) TO '{out}' (FORMAT parquet)"
    )
    seconds = time.perf_counter() - started
    db.close()
    return seconds


@benchmark(
    "snapshot",
    default_size=100_000,
    description="take_snapshot of N open items over N/8.7 accounts (as of a date)",
)
def bench_snapshot(size: int, workdir: Path) -> dict[str, Any]:
    from caudal.ledger.models import OpenItem
    from caudal.portfolio.snapshot import folder_for, take_snapshot

    setup: dict[str, Any] = {"reused": True}
    if not OpenItem.objects.exists():
        setup = populate(size)
    started = time.perf_counter()
    snap = take_snapshot(ON, actor="bench")
    seconds = time.perf_counter() - started
    folder = folder_for(ON)
    timings = (snap.run.counts or {}).get("timings", {}) if snap.run else {}
    floor_seconds = floor(folder / schema.ITEMS, workdir / "floor.parquet")
    if snap.items < size * 0.99:
        raise SystemExit(f"snapshot found {snap.items} items; expected about {size}")
    return {
        "seconds": seconds,
        "rate_per_s": round(snap.items / seconds, 1),
        "floor_seconds": floor_seconds,
        "items": snap.items,
        "accounts": snap.accounts,
        "stages": timings,
        "bytes": {
            p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.suffix == ".parquet"
        },
        "setup": setup,
    }
