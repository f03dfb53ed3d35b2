"""The bank-file benchmark: ``caudal bench payments-file --size N``.

Setup (not timed): a utility of N accounts built by the billing benchmark's
:func:`~caudal.bench.billing_benches.build_utility`, every account owing 1 to 3 earlier
bills (about 5 % with an open credit too), a bank centre, and an Asobancaria 2001 file of N
payments (one per account, written by :func:`caudal.collection.formats.asobancaria.write`):
70 % pay the whole debt, 20 % part of it, 10 % more than it (the rest stays as a credit).

Timed: :func:`caudal.collection.imports.import_payments` end to end on the file's path:
read and parse, resolve the references, post (ledger documents, lines, open items,
clearings, updated debit items, payments, reconnection notes, audit) and commit.
``stages`` splits it (parse, resolve, post, commit) and ``post_steps`` the ``post`` stage
(number, read, settle, documents, clearings, items, payments, reconnections). On SQLite the
setup ends with a WAL checkpoint, so the import starts from a database at rest.

``floor_seconds``: the rows the import inserted into the ledger's document, line, open item
and clearing tables and into ``collection_payment`` (ids and unique keys shifted), inserted
again with plain one-row ``executemany`` in one transaction that is rolled back; only the
``executemany`` calls are timed (so the floor has no commit, no update and no read).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from django.db import connection

from caudal.bench import floor as engine_floor
from caudal.bench.billing_benches import SEED, build_utility
from caudal.bench.harness import benchmark
from caudal.cadastre.imports import fetch_frame
from caudal.collection.formats import asobancaria
from caudal.collection.imports import import_payments
from caudal.collection.models import CentreKind
from caudal.collection.testing import make_centre

CENTRE = "BANCO07"
PAID_ON = date(2026, 11, 10)
#: table → (unique text columns to make distinct, foreign id columns to shift)
FLOOR_TABLES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "ledger_document": (("reference",), {}),
    "ledger_documentline": ((), {"document_id": "ledger_document"}),
    "ledger_openitem": ((), {"document_id": "ledger_document", "line_id": "ledger_documentline"}),
    "ledger_clearing": ((), {"document_id": "ledger_document"}),
    "collection_payment": ((), {"document_id": "ledger_document"}),
}


def payment_records(size: int, *, seed: int = SEED) -> pl.DataFrame:
    """One payment per account with open debt: ``reference`` (account number), ``amount``."""
    with connection.cursor() as cursor:
        debt = fetch_frame(
            cursor,
            "SELECT a.number, SUM(i.open_amount) FROM ledger_openitem i "
            "JOIN cadastre_account a ON a.id = i.account_id "
            "WHERE i.open_amount > 0 AND i.side = 'D' GROUP BY a.number",
            [],
            {"reference": pl.String, "debt": pl.Int64},
        )
    rng = np.random.default_rng(seed)
    n = debt.height
    kind = rng.random(n)
    share = rng.uniform(0.2, 0.9, n)
    extra = rng.integers(100, 5_000, n)
    d = debt["debt"].to_numpy()
    amount = np.where(
        kind < 0.7, d, np.where(kind < 0.9, np.maximum(1, (d * share).astype(np.int64)), d + extra)
    )
    frame = debt.with_columns(pl.Series("amount", amount, dtype=pl.Int64)).sort("reference")
    if frame.height < size:
        raise SystemExit(f"only {frame.height} accounts owe something; expected {size}")
    return frame.head(size).select("reference", "amount")


def _fix_payment_row(table: str, row: list[Any], pos: dict[str, int]) -> None:
    if table == "collection_payment":
        row[pos["file_line"]] += 10_000_000  # (file, line) is unique


def floor_inserts(marks: dict[str, int]) -> tuple[int, float]:
    """The import's rows inserted again by one-row ``executemany`` (``caudal.bench.floor``)."""
    return engine_floor.reinsert(FLOOR_TABLES, marks, prefix="X", fix=_fix_payment_row)


@benchmark(
    "payments-file",
    default_size=100_000,
    description="caudal import-payments: an Asobancaria 2001 file of N payments, parse to commit",
)
def bench_payments_file(size: int, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    build_utility(size, debt_share=1.0, credit_share=0.05)
    make_centre(CENTRE, kind=CentreKind.BANK)
    records = payment_records(size)
    data = asobancaria.write(
        records,
        collector_nit="899999094",
        file_date=PAID_ON,
        collection_date=PAID_ON,
        batch_size=10_000,
    )
    path = workdir / f"asobancaria-{size}.txt"
    path.write_bytes(data)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Start from a database at rest, as a utility's is when a bank file arrives: the
            # setup's writes moved from the WAL into the database file.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        marks = {t: engine_floor.max_id(cursor, t) for t in FLOOR_TABLES}
    setup = time.perf_counter() - started
    t0 = time.perf_counter()
    result = import_payments(
        path, fmt="asobancaria2001", centre=CENTRE, actor="bench", file_name=path.name
    )
    seconds = time.perf_counter() - t0
    if not result.committed or result.posted != size:
        raise SystemExit(f"import did not post the file: {result.as_dict()['errors'][:3]}")
    rows, floor = floor_inserts(marks)
    return {
        "seconds": seconds,
        "setup_seconds": round(setup, 1),
        "payments_per_s": round(size / seconds, 1),
        "file_mb": round(len(data) / 1e6, 1),
        "posted": result.posted,
        "total": result.total,
        "credit_left": result.credit_left,
        "reconnections": result.reconnections,
        "stages": {k: round(v, 3) for k, v in result.timings.items()},
        "post_steps": {k: round(v, 3) for k, v in result.steps.items()},
        "rows_written": rows,
        "floor_seconds": floor,
        "floor": "one-row executemany of the same rows into the same tables, rolled back",
    }
