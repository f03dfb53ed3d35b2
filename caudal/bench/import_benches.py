"""Benchmarks of the file imports: ``caudal bench cadastre-import`` and ``balances-import``.

Each benchmark writes a valid file of N rows in the scratch folder (not timed), then
times the import end to end: read, validate, compare with the database, write, commit.

``floor_seconds`` is the raw engine inserting the same rows into the same tables with a
plain ``executemany`` of pre-built Python tuples in one transaction, nothing else. On
SQLite it runs on a second, fresh copy of the schema (a separate database file with the
same tables, indexes, triggers and pragmas) and includes the commit, as the import does.
On PostgreSQL it runs in the benchmark database inside a transaction that is rolled back
(the ledger tables refuse deletes), so there it excludes the commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from django.db import connection, transaction

from caudal.bench.harness import Timer, benchmark
from caudal.cadastre.imports import COLUMN_NAMES as CADASTRE_COLUMNS
from caudal.cadastre.imports import import_cadastre
from caudal.cadastre.testing import make_utility
from caudal.ledger.imports import import_balances

SEED = 20261123

SURNAMES = [
    "Quispe", "Mamani", "Huamán", "Condori", "Flores", "García", "Rodríguez", "Chávez",
    "Apaza", "Ccahuana", "Yupanqui", "Paucar", "Ramos", "Mendoza", "Torres", "Vargas",
    "Gutiérrez", "Salas", "Choque", "Ttito", "Puma", "Cusi", "Álvarez", "Villena",
]  # fmt: skip
GIVEN = [
    "Rosa", "Julio", "María", "Luis", "Carmen", "Wilber", "Ruth", "Edwin", "Yeni", "Fredy",
    "Teodora", "Pedro", "Felícitas", "Jhon", "Elena", "César", "Noemí", "Alberto",
]  # fmt: skip
STREETS = [
    "Jr. Tupac Amaru", "Av. El Sol", "Calle Saphi", "Av. de la Cultura", "Calle Plateros",
    "Jr. San Martín", "Av. Tullumayo", "Calle Los Pinos", "Pje. Los Jazmines", "Av. Garcilaso",
]  # fmt: skip


def _ruc_check(bases: np.ndarray) -> np.ndarray:
    """SUNAT check digit of 10-digit RUC bases (vectorized ``stdnum.pe.ruc``)."""
    weights = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])
    digits = (bases[:, None] // (10 ** np.arange(9, -1, -1))) % 10
    return (11 - (digits * weights).sum(axis=1) % 11) % 10


def _dates(rng: np.random.Generator, start: date, days: int, n: int) -> np.ndarray:
    return np.datetime64(start) + rng.integers(0, days, n).astype("timedelta64[D]")


def cadastre_frame(size: int, *, seed: int = SEED) -> pl.DataFrame:
    """A valid Peruvian cadastre of ``size`` accounts in route order (about 3 % of the
    customers hold two accounts; 4 % are companies with a RUC)."""
    rng = np.random.default_rng(seed)
    n = size
    idx = np.arange(n)
    dni_pool = np.unique(rng.integers(10_000_000, 80_000_000, int(n * 1.2) + 10))
    dni = rng.permutation(dni_pool)[:n]
    holder = idx.copy()
    shared = rng.random(n) < 0.03
    holder[shared] = np.maximum(idx[shared] - 1, 0)  # the previous account's customer
    is_ruc = rng.random(n) < 0.04
    ruc_base = 2_000_000_000 + holder % 100_000_000
    ruc = ruc_base * 10 + _ruc_check(ruc_base)
    doc_number = np.where(is_ruc[holder], ruc, dni[holder])
    doc_type = np.where(is_ruc[holder], "RUC", "DNI")
    opened = _dates(rng, date(1990, 1, 1), 12_000, n)
    status = rng.choice(
        ["active", "cut", "feasible", "removed", "clandestine"], n, p=[0.88, 0.07, 0.02, 0.02, 0.01]
    )
    status_since = np.where(
        status == "active", opened, opened + rng.integers(1, 365, n).astype("timedelta64[D]")
    )
    status_since = np.minimum(status_since, np.datetime64(date.today()))
    has_sewer = rng.random(n) < 0.85
    has_meter = rng.random(n) < 0.8
    route = idx // 100
    frame = pl.DataFrame(
        {
            "i": idx,
            "holder": holder,
            "doc_type": doc_type,
            "doc_number": doc_number,
            "surname1": rng.choice(SURNAMES, n),
            "surname2": rng.choice(SURNAMES, n),
            "given": rng.choice(GIVEN, n),
            "street": rng.choice(STREETS, n),
            "house": rng.integers(1, 2000, n),
            "route": route,
            "opened": opened,
            "status": status,
            "since": status_since,
            "sewer": has_sewer,
            "meter": has_meter,
            "lat": -13_500_000 - rng.integers(0, 60_000, n),
            "lon": -71_930_000 - rng.integers(0, 60_000, n),
            "category": rng.choice(
                ["domestic", "commercial", "social", "state", "industrial"],
                n,
                p=[0.86, 0.09, 0.03, 0.01, 0.01],
            ),
        }
    )
    # A shared customer keeps the name of the account it shares.
    names = pl.concat_str(["surname1", pl.lit(" "), "surname2", pl.lit(" "), "given"])
    frame = frame.with_columns(names.alias("name"))
    frame = frame.with_columns(pl.col("name").gather(pl.col("holder")).alias("name"))
    num = pl.col("i") + 1
    coord = lambda c: pl.format(  # noqa: E731
        "-{}.{}",
        (-pl.col(c) // 1_000_000).cast(pl.String),
        (-pl.col(c) % 1_000_000).cast(pl.String).str.zfill(6),
    )
    day = lambda c: pl.col(c).cast(pl.Date).cast(pl.String)  # noqa: E731
    when_meter = lambda e: pl.when(pl.col("meter")).then(e).otherwise(None)  # noqa: E731
    out = frame.select(
        num.cast(pl.String).str.zfill(8).alias("account_number"),
        pl.col("doc_type").alias("customer_doc_type"),
        pl.col("doc_number").cast(pl.String).str.zfill(8).alias("customer_doc_number"),
        pl.col("name").alias("customer_name"),
        pl.lit(None, dtype=pl.String).alias("email"),
        pl.lit(None, dtype=pl.String).alias("phone"),
        pl.format("9{}", (pl.col("doc_number") % 100_000_000).cast(pl.String).str.zfill(8)).alias(
            "mobile"
        ),
        pl.lit("0").alias("consent_email"),
        pl.lit("1").alias("consent_sms"),
        pl.lit(None, dtype=pl.String).alias("consent_date"),
        pl.format("CAT-{}", num.cast(pl.String).str.zfill(9)).alias("cadastral_code"),
        pl.format("{} {}", "street", "house").alias("address"),
        pl.format("0801{}", (pl.col("route") // 1000 % 5 + 1).cast(pl.String).str.zfill(2)).alias(
            "municipality_code"
        ),
        pl.lit(None, dtype=pl.String).alias("municipality_name"),
        pl.format("Z{}", (pl.col("route") // 100).cast(pl.String).str.zfill(3)).alias("zone_code"),
        pl.format("S{}", (pl.col("route") // 20).cast(pl.String).str.zfill(4)).alias("sector_code"),
        pl.format("R{}", pl.col("route").cast(pl.String).str.zfill(5)).alias("route_code"),
        pl.format("C{}", (pl.col("route") % 10 + 1).cast(pl.String).str.zfill(2)).alias(
            "cycle_code"
        ),
        (pl.col("i") % 100 * 10 + 10).cast(pl.String).alias("sequence"),
        coord("lat").alias("latitude"),
        coord("lon").alias("longitude"),
        pl.lit(None, dtype=pl.String).alias("municipal_ref"),
        pl.col("category"),
        pl.lit("1").alias("units"),
        pl.lit(None, dtype=pl.String).alias("stratum"),
        pl.lit("regular").alias("segment"),
        day("opened").alias("opened_on"),
        pl.col("status").alias("water_status"),
        day("since").alias("water_status_since"),
        pl.when(pl.col("sewer")).then(pl.col("status")).otherwise(None).alias("sewer_status"),
        pl.when(pl.col("sewer")).then(day("since")).otherwise(None).alias("sewer_status_since"),
        when_meter(pl.format("ZN{}", num.cast(pl.String).str.zfill(9))).alias("meter_serial"),
        when_meter(pl.lit("Zenner")).alias("meter_brand"),
        when_meter(pl.lit("1/2")).alias("meter_diameter"),
        when_meter(pl.lit("5")).alias("meter_digits"),
        when_meter(day("opened")).alias("meter_installed_on"),
    )
    assert tuple(out.columns) == CADASTRE_COLUMNS
    return out


def balances_frame(size: int, accounts: int, *, seed: int = SEED) -> pl.DataFrame:
    """``size`` legacy open items over ``accounts`` accounts (numbered as
    :func:`cadastre_frame` numbers them): bills of 1 to 4 lines, 5 % credits."""
    rng = np.random.default_rng(seed + 1)
    lines_per_doc = rng.integers(1, 5, size)
    credit = rng.random(size) < 0.05
    lines_per_doc[credit] = 1
    ends = np.cumsum(lines_per_doc)
    docs = int(np.searchsorted(ends, size)) + 1
    lines_per_doc = lines_per_doc[:docs].copy()
    credit = credit[:docs]
    lines_per_doc[-1] -= int(ends[docs - 1] - size)
    doc_account = np.sort(rng.integers(0, accounts, docs))
    issue = _dates(rng, date(2019, 1, 1), 2000, docs)
    doc = np.repeat(np.arange(len(lines_per_doc)), lines_per_doc)
    line_in_doc = np.arange(size) - np.repeat(
        np.cumsum(lines_per_doc) - lines_per_doc, lines_per_doc
    )
    cents = rng.integers(50, 9_000, size)
    is_credit = credit[doc]
    frame = pl.DataFrame(
        {
            "doc": doc,
            "line": line_in_doc,
            "account": doc_account[doc] + 1,
            "issue": issue[doc],
            "cents": np.where(is_credit, -cents, cents),
            "credit": is_credit,
        }
    )
    concept = pl.col("line").replace_strict(
        {0: "agua", 1: "alcantarillado", 2: "cargo_fijo", 3: "igv"}, return_dtype=pl.String
    )
    money = pl.format(
        "{}{}.{}",
        pl.when(pl.col("cents") < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (pl.col("cents").abs() // 100).cast(pl.String),
        (pl.col("cents").abs() % 100).cast(pl.String).str.zfill(2),
    )
    return frame.sort(["account", "doc", "line"]).select(
        pl.col("account").cast(pl.String).str.zfill(8).alias("account_number"),
        pl.format("R{}", pl.col("doc").cast(pl.String).str.zfill(10)).alias("document_reference"),
        pl.when(pl.col("credit")).then(pl.lit("saldo_a_favor")).otherwise(concept).alias("concept"),
        pl.col("issue").cast(pl.Date).cast(pl.String).alias("issue_date"),
        (pl.col("issue").cast(pl.Date) + timedelta(days=21)).cast(pl.String).alias("due_date"),
        money.alias("amount"),
        pl.when(pl.col("credit"))
        .then(pl.lit("opening"))
        .otherwise(pl.lit("bill"))
        .alias("document_kind"),
    )


# --- floors -----------------------------------------------------------------------------

NOW = "2026-01-01 00:00:00.000000"


def _sqlite_copy(workdir: Path) -> sqlite3.Connection:
    """A fresh database file with the schema of the benchmark database and its pragmas."""
    path = workdir / "floor.sqlite3"
    path.unlink(missing_ok=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 "
            "WHEN 'index' THEN 1 ELSE 2 END, rowid"
        )
        entries = cursor.fetchall()
    # A virtual table (FTS5 search index) creates its own shadow tables.
    virtual = [name for _t, name, sql in entries if sql.upper().startswith("CREATE VIRTUAL")]
    schema = [
        sql for _t, name, sql in entries if not any(name.startswith(f"{v}_") for v in virtual)
    ]
    db = sqlite3.connect(path, isolation_level=None)
    for command in connection.settings_dict["OPTIONS"].get("init_command", "").split(";"):
        if command.strip():
            db.execute(command)
    for sql in schema:
        db.execute(sql)
    return db


def _timed_floor(
    inserts: list[tuple[str, list[str], list[tuple[Any, ...]]]],
    *,
    workdir: Path,
    setup: list[tuple[str, list[str], list[tuple[Any, ...]]]] | None = None,
) -> float:
    """Seconds to executemany ``inserts`` (table, columns, rows) in one transaction."""

    def statement(table: str, columns: list[str], mark: str) -> str:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"

    if connection.vendor == "sqlite":
        db = _sqlite_copy(workdir)
        if setup:
            db.execute("BEGIN IMMEDIATE")
            for table, columns, rows in setup:
                db.executemany(statement(table, columns, "?"), rows)
            db.execute("COMMIT")
        with Timer() as timer:
            db.execute("BEGIN IMMEDIATE")
            for table, columns, rows in inserts:
                db.executemany(statement(table, columns, "?"), rows)
            db.execute("COMMIT")
        db.close()
        return timer.seconds

    class _Undo(Exception):
        pass

    seconds = 0.0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for table, columns, rows in setup or []:
                cursor.executemany(statement(table, columns, "%s"), rows)
            with Timer() as timer:
                for table, columns, rows in inserts:
                    cursor.executemany(statement(table, columns, "%s"), rows)
            seconds = timer.seconds
            raise _Undo
    except _Undo:
        pass
    return seconds


REFERENCE_SETUP: list[tuple[str, list[str], list[tuple[Any, ...]]]] = [
    ("cadastre_municipality", ["id", "code", "name", "department"], [(1, "M", "M", "")]),
    ("cadastre_zone", ["id", "code", "name", "municipality_id"], [(1, "Z", "Z", 1)]),
    ("cadastre_sector", ["id", "code", "name", "zone_id"], [(1, "S", "S", 1)]),
    ("cadastre_cycle", ["id", "code", "name", "reading_day", "billing_day", "due_days"], [(1, "C", "C", 18, 6, 20)]),
    ("cadastre_route", ["id", "code", "name", "sector_id", "cycle_id"], [(1, "R", "R", 1, 1)]),
]  # fmt: skip


def _cadastre_rows(frame: pl.DataFrame) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """The rows the import writes for ``frame``, as plain tuples (fixed reference ids)."""
    f = frame.with_row_index("id", offset=1)
    customers = f.unique(
        ["customer_doc_type", "customer_doc_number"], keep="first", maintain_order=True
    )
    cust_ids = customers.with_row_index("cid", offset=1).select(
        "customer_doc_type", "customer_doc_number", "cid"
    )
    f = f.join(cust_ids, on=["customer_doc_type", "customer_doc_number"], how="left").sort("id")
    cust = [
        (cid, t, num, name, "", "", mob, False, True, None, NOW)
        for cid, t, num, name, mob in customers.with_row_index("cid", offset=1)
        .select("cid", "customer_doc_type", "customer_doc_number", "customer_name", "mobile")
        .iter_rows()
    ]
    props = [
        (i, code, addr, int(seq), lat, lon, "", 1, 1, 1, 1)
        for i, code, addr, seq, lat, lon in f.select(
            "id", "cadastral_code", "address", "sequence", "latitude", "longitude"
        ).iter_rows()
    ]
    accounts = [
        (i, num, cat, 1, None, "regular", opened, NOW, cid, 1, i)
        for i, num, cat, opened, cid in f.select(
            "id", "account_number", "category", "opened_on", "cid"
        ).iter_rows()
    ]
    conns: list[tuple[Any, ...]] = []
    for i, ws, wsince, ss, ssince in f.select(
        "id", "water_status", "water_status_since", "sewer_status", "sewer_status_since"
    ).iter_rows():
        conns.append((len(conns) + 1, "water", ws, wsince, i))
        if ss is not None:
            conns.append((len(conns) + 1, "sewer", ss, ssince, i))
    history = [(c[2], "", c[3], "Importación de catastro", NOW, c[0]) for c in conns]
    meters = [
        (serial, brand, diam, int(digits), inst, None, "installed", i)
        for i, serial, brand, diam, digits, inst in f.filter(pl.col("meter_serial").is_not_null())
        .select(
            "id",
            "meter_serial",
            "meter_brand",
            "meter_diameter",
            "meter_digits",
            "meter_installed_on",
        )
        .iter_rows()
    ]
    return [
        ("cadastre_customer", ["id", "doc_type", "doc_number", "name", "email", "phone", "mobile", "consent_email", "consent_sms", "consent_date", "created_at"], cust),
        ("cadastre_property", ["id", "cadastral_code", "address", "sequence", "latitude", "longitude", "municipal_ref", "municipality_id", "zone_id", "sector_id", "route_id"], props),
        ("cadastre_account", ["id", "number", "category", "units", "stratum", "segment", "opened_on", "updated_at", "customer_id", "cycle_id", "property_id"], accounts),
        ("cadastre_connection", ["id", "service", "status", "status_since", "account_id"], conns),
        ("cadastre_connectionstatuschange", ["status", "previous_status", "effective_on", "reason", "recorded_at", "connection_id"], history),
        ("cadastre_meter", ["serial", "brand", "diameter", "digits", "installed_on", "removed_on", "status", "account_id"], meters),
    ]  # fmt: skip


def _balances_rows(frame: pl.DataFrame) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """Documents, lines and items for ``frame`` as plain tuples (account id = number)."""
    cents = pl.col("amount").str.replace(".", "", literal=True).cast(pl.Int64)
    f = frame.with_columns(
        cents.alias("cents"),
        pl.col("account_number").cast(pl.Int64).alias("account_id"),
    ).with_columns(
        pl.col("document_reference").rank("dense").cast(pl.Int64).alias("doc_id"),
        pl.int_range(pl.len()).over("document_reference").alias("line_no"),
    )
    docs = (
        f.group_by("doc_id")
        .agg(
            pl.col("account_id").first(),
            pl.col("document_kind").first(),
            pl.col("document_reference").first(),
            pl.col("issue_date").first(),
            pl.col("cents").sum(),
        )
        .sort("doc_id")
    )
    concept = {
        "agua": "water",
        "alcantarillado": "sewer",
        "cargo_fijo": "fixed",
        "igv": "tax",
        "saldo_a_favor": "credit",
    }
    documents = [
        (d, kind, ref, issue, issue, amount, "", "import", NOW, acct, None, None)
        for d, acct, kind, ref, issue, amount in docs.iter_rows()
    ]
    lines = []
    items = []
    for lid, (d, no, con, amount, acct, issue, due) in enumerate(
        f.select(
            "doc_id", "line_no", "concept", "cents", "account_id", "issue_date", "due_date"
        ).iter_rows(),
        1,
    ):
        lines.append((lid, no + 1, concept[con], amount, "", d))
        items.append(
            (
                concept[con],
                "D" if amount > 0 else "C",
                issue,
                due,
                abs(amount),
                abs(amount),
                None,
                False,
                "",
                acct,
                d,
                lid,
            )
        )
    return [
        ("ledger_document", ["id", "kind", "reference", "document_date", "posting_date", "amount", "reason", "source", "created_at", "account_id", "created_by_id", "reverses_id"], documents),
        ("ledger_documentline", ["id", "line_no", "concept", "amount", "description", "document_id"], lines),
        ("ledger_openitem", ["concept", "side", "issue_date", "due_date", "amount", "open_amount", "cleared_on", "blocked", "block_reason", "account_id", "document_id", "line_id"], items),
    ]  # fmt: skip


def _check(result: Any, expect: Callable[[Any], bool], what: str) -> None:
    if result.errors or not result.committed or not expect(result):
        first = [str(e) for e in result.errors[:5]]
        raise RuntimeError(f"{what} did not import cleanly: {result.as_dict() | {'errors': first}}")


@benchmark(
    "cadastre-import",
    default_size=100_000,
    description="caudal import-cadastre of N new accounts (CSV → 6 tables), vs raw executemany",
)
def bench_cadastre_import(size: int, workdir: Path) -> dict[str, Any]:
    make_utility("PE")
    frame = cadastre_frame(size)
    path = workdir / "cadastre.csv"
    frame.write_csv(path)
    inserts = _cadastre_rows(frame)
    floor = _timed_floor(inserts, workdir=workdir, setup=REFERENCE_SETUP)
    with Timer() as timer:
        result = import_cadastre(path, actor="bench")
    _check(result, lambda r: r.created == size, "cadastre")
    written = sum(len(rows) for _t, _c, rows in inserts)
    return {
        "seconds": timer.seconds,
        "floor_seconds": floor,
        "rows": size,
        "rate": round(size / timer.seconds, 1),
        "table_rows_written": written,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "counts": {k: v for k, v in result.as_dict().items() if k not in ("errors",)},
    }


@benchmark(
    "balances-import",
    default_size=500_000,
    description="caudal import-balances of N legacy open items (documents, lines, items), vs raw executemany",
)
def bench_balances_import(size: int, workdir: Path) -> dict[str, Any]:
    make_utility("PE")
    accounts = max(1, size // 8)
    cadastre = workdir / "accounts.csv"
    cad = cadastre_frame(accounts)
    cad.write_csv(cadastre)
    _check(
        import_cadastre(cadastre, actor="bench"), lambda r: r.created == accounts, "setup cadastre"
    )
    frame = balances_frame(size, accounts)
    path = workdir / "balances.csv"
    frame.write_csv(path)
    inserts = _balances_rows(frame)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, number FROM cadastre_account")
        by_number = {int(number): pk for pk, number in cursor.fetchall()}
    # The floor's copy of the schema needs the accounts the items point to.
    account_rows = [
        (pk, f"{n:08d}", "domestic", 1, None, "regular", "2000-01-01", NOW, 1, 1, 1)
        for n, pk in by_number.items()
    ]
    setup = [
        *REFERENCE_SETUP,
        ("cadastre_customer", ["id", "doc_type", "doc_number", "name", "email", "phone", "mobile", "consent_email", "consent_sms", "consent_date", "created_at"], [(1, "DNI", "00000001", "X", "", "", "", False, False, None, NOW)]),
        ("cadastre_property", ["id", "cadastral_code", "address", "sequence", "latitude", "longitude", "municipal_ref", "municipality_id", "zone_id", "sector_id", "route_id"], [(1, "P", "A", 1, None, None, "", 1, 1, 1, 1)]),
        ("cadastre_account", ["id", "number", "category", "units", "stratum", "segment", "opened_on", "updated_at", "customer_id", "cycle_id", "property_id"], account_rows),
    ]  # fmt: skip
    remapped = []
    for table, columns, rows in inserts:
        if "account_id" in columns:
            at = columns.index("account_id")
            rows = [(*r[:at], by_number[r[at]], *r[at + 1 :]) for r in rows]
        remapped.append((table, columns, rows))
    floor = _timed_floor(
        remapped, workdir=workdir, setup=setup if connection.vendor == "sqlite" else None
    )
    with Timer() as timer:
        result = import_balances(path, actor="bench")
    _check(result, lambda r: r.extra.get("items_created") == size, "balances")
    return {
        "seconds": timer.seconds,
        "floor_seconds": floor,
        "rows": size,
        "rate": round(size / timer.seconds, 1),
        "documents": result.created,
        "accounts": accounts,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "counts": {k: v for k, v in result.as_dict().items() if k not in ("errors",)},
    }
