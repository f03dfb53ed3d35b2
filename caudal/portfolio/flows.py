"""Flows of the period: what was collected, what was financed, what was billed.

A snapshot folder holds the open items *at* a date (stocks). The follow-ups also need the
flows that led there: the money applied this month and the stage of the account it came
from (recaudo por etapa), the payment agreements (financiaciones) and the monthly billing
and collections the indicators divide. :func:`write_flows` writes them into the snapshot
folder of date D, after ``items.parquet`` and ``accounts.parquet``:

``recaudo.parquet``
    One row per ledger clearing (compensación) dated from the first day of D's month to D
    whose credit item is a payment (concept ``payment``: the line of a payment document,
    or a migrated payment credit), and per reset of such a clearing (a reversed payment or
    bill takes the money back: a negative row on the reversal's date). The clearing of a
    reversed payment against its own mirror item is not money applied and is left out.
    Sorted by ``cleared_on, clearing_id``.

    - ``clearing_id`` int64, ``cleared_on`` date32: the day the money was applied (or
      taken back, for a reset);
    - ``applied_on`` date32: the day of the application the row belongs to (``cleared_on``,
      or for a reset the date of the clearing it resets). The row is classified by it, so
      a reset cancels its clearing in the same current / arrears and stage columns;
    - ``account_id`` int64, ``payment_document_id`` int64, ``debit_item_id`` int64,
      ``debit_document_kind`` (ledger DocumentKind), ``concept`` (the debit's concept);
    - ``amount`` int64: positive applied, negative taken back;
    - ``due_date`` date32 and ``days_past_due`` int32 of the debit item at ``applied_on``
      (``max(0, applied_on - due_date)``, as the snapshot counts them); ``in_arrears``
      bool (``days_past_due >= 1``: collected arrears, otherwise collected current);
    - ``stage``: the account's stage when it paid, ``stage_source`` how it was found:
      ``snapshot`` = the stage in the latest done snapshot dated *before* ``applied_on``
      (the stage of the account on the morning it paid: a payment that clears the whole
      debt takes the account out of the snapshot of that same evening); ``cut_off`` = no
      done snapshot before that day, so the stage at D (``account_stages``); ``default``
      = the account had nothing open at that snapshot (or, without one, at D): the
      catch-all stage of the stage policy (the stage of an account that owes nothing due);
    - ``channel``: the kind of the collection centre of the payment (``office``, ``car``,
      ``bank``; ``""`` when the payment did not come through a centre, e.g. a migrated or
      ledger-only payment) and ``centre``: the centre's code.

``agreements.parquet``
    One row per agreement document (ledger ``DocumentKind.AGREEMENT``, convenio de pago)
    posted up to D. Sorted by ``posting_date, document_id``.

    - ``document_id`` int64, ``account_id`` int64, ``reference``, ``posting_date`` date32;
    - ``amount`` int64 (the financed amount), ``installments`` int32 (its open items);
    - ``open_amount`` int64: open at the end of D, with the snapshot's as-of rule (open
      now plus the clearings of its items dated after D);
    - ``active`` bool (``open_amount > 0``), ``reversed`` bool (a reversal dated up to D);
    - ``stage``, ``stage_source``: the account's stage at posting (rule as above).

``months.parquet``
    The 13 months up to D (D's month last, counted up to D). One row per month:

    - ``month`` date32 (first day), ``period`` ``YYYY-MM``, ``through`` date32 (the last
      day counted: the month's end, or D);
    - ``billed`` int64: amount of the bill documents posted in the month; ``bills`` int64
      their number; ``billed_reversed`` int64: amount of bill documents reversed by
      reversals posted in the month (``billed - billed_reversed`` is the net billing);
    - ``collected`` int64: payments applied in the month (as ``recaudo.parquet``: resets
      included); ``collected_current`` (applied to items not past due when paid) and
      ``collected_arrears`` (applied to items past due) sum to it.

Amounts are integer minor units. The database is read Arrow-natively (ADBC); only this
module's reads touch it, and nothing is written to it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection

from . import schema

RECAUDO_SCHEMA = pl.Schema(
    {
        "clearing_id": pl.Int64,
        "cleared_on": pl.Date,
        "applied_on": pl.Date,
        "account_id": pl.Int64,
        "payment_document_id": pl.Int64,
        "debit_item_id": pl.Int64,
        "debit_document_kind": pl.Utf8,
        "concept": pl.Utf8,
        "amount": pl.Int64,
        "due_date": pl.Date,
        "days_past_due": pl.Int32,
        "in_arrears": pl.Boolean,
        "stage": pl.Utf8,
        "stage_source": pl.Utf8,
        "channel": pl.Utf8,
        "centre": pl.Utf8,
    }
)

AGREEMENT_SCHEMA = pl.Schema(
    {
        "document_id": pl.Int64,
        "account_id": pl.Int64,
        "reference": pl.Utf8,
        "posting_date": pl.Date,
        "amount": pl.Int64,
        "installments": pl.Int32,
        "open_amount": pl.Int64,
        "active": pl.Boolean,
        "reversed": pl.Boolean,
        "stage": pl.Utf8,
        "stage_source": pl.Utf8,
    }
)

MONTH_SCHEMA = pl.Schema(
    {
        "month": pl.Date,
        "period": pl.Utf8,
        "through": pl.Date,
        "billed": pl.Int64,
        "bills": pl.Int64,
        "billed_reversed": pl.Int64,
        "collected": pl.Int64,
        "collected_current": pl.Int64,
        "collected_arrears": pl.Int64,
    }
)

#: How many months ``months.parquet`` holds (D's month and the 12 before it).
MONTHS_BACK = 13

STAGE_SOURCES = ("snapshot", "cut_off", "default")


# --- reading the database Arrow-natively ------------------------------------------------


def _lit(d: date) -> str:
    """A date as an SQL literal (ISO text: compares as a date on SQLite, where dates are
    ISO text, and is cast to ``date`` by PostgreSQL). Never user input: a ``date``."""
    return f"'{d.isoformat()}'"


def read_arrow(sql: str) -> pa.Table:
    """Run one SELECT on the default database and return an Arrow table.

    PostgreSQL and file SQLite databases are read by the ADBC drivers (binary, columnar:
    no Python loop over rows). ADBC opens its own connection, so it sees committed data
    only. An in-memory SQLite database (the test suite's) cannot be opened by a second
    library: it is read through Django's connection instead (which also sees the test's
    uncommitted rows).
    """
    if connection.vendor == "sqlite" and getattr(connection, "is_in_memory_db", bool)():
        with connection.cursor() as cur:
            cur.execute(sql)
            names = [c[0] for c in cur.description]
            rows = cur.fetchall()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})
    return adbc_read(connection.vendor, connection.settings_dict, sql)


def adbc_read(vendor: str, settings_dict: Mapping[str, Any], sql: str) -> pa.Table:
    """One SELECT through ADBC on a fresh connection, as the snapshot's extraction
    connects (:mod:`caudal.portfolio.extract`: a read-only session on PostgreSQL, the file
    opened read-only on SQLite)."""
    from . import extract

    if vendor == "postgresql":
        src = extract.Source("postgresql", extract.postgres_uri(dict(settings_dict)))
    elif vendor == "sqlite":
        src = extract.Source("sqlite", str(settings_dict["NAME"]))
    else:
        raise ValueError(f"no ADBC reader for the {vendor} database")
    return extract.fetch_arrow(src, sql)


def _frame(table: pa.Table, schema_: Mapping[str, Any]) -> pl.DataFrame:
    """The table as a Polars frame with the given dtypes: SQLite gives dates as ISO text
    and booleans as integers, and an empty result has no types at all."""
    if table.num_rows == 0:
        return pl.DataFrame(schema={k: v for k, v in schema_.items() if k in table.column_names})
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    casts = []
    for name, dtype in schema_.items():
        if name not in frame.columns:
            continue
        col = pl.col(name)
        current = frame.schema[name]
        if dtype == pl.Date and current == pl.Utf8:
            casts.append(col.str.slice(0, 10).str.to_date("%Y-%m-%d").alias(name))
        elif dtype == pl.Date and current == pl.Datetime:
            casts.append(col.dt.date().alias(name))
        elif current != dtype:
            casts.append(col.cast(dtype).alias(name))
    return frame.with_columns(casts) if casts else frame


def _query(sql: str, schema_: Mapping[str, Any]) -> pl.DataFrame:
    return _frame(read_arrow(sql), schema_)


# --- the stage of an account on a past day ----------------------------------------------


def _duck(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def done_snapshots(before: date) -> list[tuple[date, Path]]:
    """(date, folder) of the done snapshots dated before ``before`` whose accounts file
    exists, oldest first."""
    from .models import Snapshot, SnapshotStatus

    root = Path(settings.CAUDAL_SNAPSHOT_DIR)
    out = []
    for d, path in (
        Snapshot.objects.filter(status=SnapshotStatus.DONE, date__lt=before)
        .order_by("date")
        .values_list("date", "path")
    ):
        folder = root / path if path else root / d.isoformat()
        if (folder / schema.ACCOUNTS).exists():
            out.append((d, folder))
    return out


def default_stage(on: date) -> str:
    """The catch-all stage (the last rule) of the stage policy in force on ``on`` for the
    utility's country profile: the stage of an account with nothing overdue."""
    from caudal.cadastre.models import UtilitySettings

    from .models import StagePolicy

    utility = UtilitySettings.objects.filter(pk=1).first()
    policies = StagePolicy.objects.filter(valid_from__lte=on)
    if utility is not None:
        policies = policies.filter(country=utility.country)
    policy = policies.order_by("-valid_from", "-version").first()
    if policy is None:
        return "current"
    rule = policy.rules.order_by("-order").first()
    return rule.stage if rule is not None else "current"


def stages_at(
    needs: pl.DataFrame,
    account_stages: pl.DataFrame,
    *,
    snapshots: list[tuple[date, Path]],
    fallback: str,
) -> pl.DataFrame:
    """``needs`` (``row``, ``account_id``, ``at``) with ``stage`` and ``stage_source``: the
    account's stage in the latest snapshot dated before ``at`` (DuckDB ASOF JOIN), or
    ``account_stages`` when no snapshot is that old, or ``fallback`` when the account was
    not open then (see the module docstring)."""
    out_schema = {"row": pl.Int64, "stage": pl.Utf8, "stage_source": pl.Utf8}
    if needs.height == 0:
        return pl.DataFrame(schema=out_schema)
    dates = [d for d, _f in snapshots]
    # Only the files some row needs: the latest snapshot before each distinct day.
    wanted: dict[date, Path] = {}
    for on in needs["at"].unique().to_list():
        i = bisect.bisect_left(dates, on) - 1
        if i >= 0:
            wanted[dates[i]] = snapshots[i][1]
    con = duckdb.connect()
    try:
        con.register("needs", needs.select("row", "account_id", "at").to_arrow())
        snaps = pl.DataFrame({"snapshot_date": sorted(wanted)}, schema={"snapshot_date": pl.Date})
        con.register("snaps", snaps.to_arrow())
        matched = con.sql(
            "SELECT n.row, n.account_id, s.snapshot_date AS snap "
            "FROM needs n ASOF LEFT JOIN snaps s ON n.at > s.snapshot_date"
        )
        if wanted:
            files = [str(f / schema.ACCOUNTS) for f in wanted.values()]
            con.register("matched", matched.to_arrow_table())
            found = _duck(
                con,
                "SELECT m.row, m.snap, a.stage FROM matched m LEFT JOIN ("
                " SELECT snapshot_date, account_id, stage FROM read_parquet(?)"
                " WHERE account_id IN (SELECT account_id FROM matched)"
                ") a ON a.snapshot_date = m.snap AND a.account_id = m.account_id",
                [files],
            )
        else:
            found = pl.DataFrame(pl.from_arrow(matched.to_arrow_table())).select(
                "row", "snap", pl.lit(None, dtype=pl.Utf8).alias("stage")
            )
    finally:
        con.close()
    at_cut = account_stages.select("account_id", pl.col("stage").alias("cut_stage"))
    rows = found.join(needs.select("row", "account_id"), on="row", how="left").join(
        at_cut, on="account_id", how="left"
    )
    return rows.select(
        pl.col("row").cast(pl.Int64),
        pl.when(pl.col("snap").is_null())
        .then(pl.col("cut_stage").fill_null(fallback))
        .otherwise(pl.col("stage").fill_null(fallback))
        .alias("stage"),
        pl.when(pl.col("snap").is_not_null() & pl.col("stage").is_not_null())
        .then(pl.lit("snapshot"))
        .when(pl.col("snap").is_null() & pl.col("cut_stage").is_not_null())
        .then(pl.lit("cut_off"))
        .otherwise(pl.lit("default"))
        .alias("stage_source"),
    ).sort("row")


def _with_stages(
    frame: pl.DataFrame,
    on_column: str,
    account_stages: pl.DataFrame,
    snapshots: list[tuple[date, Path]],
    fallback: str,
) -> pl.DataFrame:
    numbered = frame.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    needs = numbered.select("row", "account_id", pl.col(on_column).alias("at"))
    stages = stages_at(needs, account_stages, snapshots=snapshots, fallback=fallback)
    return numbered.join(stages, on="row", how="left").drop("row")


# --- the three files --------------------------------------------------------------------


def _clearings_sql(start: date, end: date, *, grouped: bool) -> str:
    """Clearings dated ``start``..``end`` of a payment credit (a credit item of concept
    ``payment``: a payment document's line, or a migrated payment) against a debt, and
    their resets. The clearing of a reversed payment against its own mirror (a debit of
    concept ``payment``, only a reversal makes one) is left out. The concepts are on the
    items, so the documents are not joined (a third fewer lookups per clearing)."""
    joins = (
        "FROM ledger_clearing c "
        "JOIN ledger_openitem cr ON cr.id = c.credit_item_id "
        "JOIN ledger_openitem d ON d.id = c.debit_item_id "
        "LEFT JOIN ledger_clearing o ON o.id = c.resets_id "
    )
    where = (
        f"WHERE c.cleared_on >= {_lit(start)} AND c.cleared_on <= {_lit(end)} "
        "AND cr.concept = 'payment' AND d.concept <> 'payment'"
    )
    if grouped:
        return (
            "SELECT c.cleared_on AS day, "
            "CASE WHEN COALESCE(o.cleared_on, c.cleared_on) > d.due_date THEN 1 ELSE 0 END "
            "AS in_arrears, CAST(SUM(c.amount) AS BIGINT) AS amount "
            f"{joins}{where} GROUP BY 1, 2"
        )
    return (
        "SELECT c.id AS clearing_id, c.cleared_on AS cleared_on, "
        "COALESCE(o.cleared_on, c.cleared_on) AS applied_on, c.account_id AS account_id, "
        "cr.document_id AS payment_document_id, c.debit_item_id AS debit_item_id, "
        "dd.kind AS debit_document_kind, d.concept AS concept, c.amount AS amount, "
        "d.due_date AS due_date, COALESCE(ce.kind, '') AS channel, "
        "COALESCE(ce.code, '') AS centre "
        f"{joins}"
        "JOIN ledger_document dd ON dd.id = d.document_id "
        "LEFT JOIN collection_payment p ON p.document_id = cr.document_id "
        "LEFT JOIN collection_centre ce ON ce.id = p.centre_id "
        f"{where}"
    )


def recaudo_frame(
    on: date,
    account_stages: pl.DataFrame,
    *,
    snapshots: list[tuple[date, Path]],
    fallback: str,
) -> pl.DataFrame:
    """The rows of ``recaudo.parquet`` for the month of ``on`` up to ``on``."""
    raw = _query(_clearings_sql(on.replace(day=1), on, grouped=False), RECAUDO_SCHEMA)
    days = (pl.col("applied_on") - pl.col("due_date")).dt.total_days().clip(lower_bound=0)
    raw = raw.with_columns(days.cast(pl.Int32).alias("days_past_due")).with_columns(
        (pl.col("days_past_due") >= 1).alias("in_arrears")
    )
    staged = _with_stages(raw, "applied_on", account_stages, snapshots, fallback)
    return (
        staged.select(list(RECAUDO_SCHEMA)).cast(RECAUDO_SCHEMA).sort("cleared_on", "clearing_id")
    )


def agreements_frame(
    on: date,
    account_stages: pl.DataFrame,
    *,
    snapshots: list[tuple[date, Path]],
    fallback: str,
) -> pl.DataFrame:
    """The rows of ``agreements.parquet``: agreement documents posted up to ``on``."""
    docs = _query(
        "SELECT doc.id AS document_id, doc.account_id AS account_id, "
        "doc.reference AS reference, doc.posting_date AS posting_date, doc.amount AS amount, "
        "COUNT(i.id) AS installments, CAST(SUM(i.open_amount) AS BIGINT) AS open_now, "
        "CASE WHEN MAX(r.id) IS NULL THEN 0 ELSE 1 END AS reversed "
        "FROM ledger_document doc "
        "JOIN ledger_openitem i ON i.document_id = doc.id "
        "LEFT JOIN ledger_document r ON r.reverses_id = doc.id "
        f"AND r.posting_date <= {_lit(on)} "
        f"WHERE doc.kind = 'agreement' AND doc.posting_date <= {_lit(on)} "
        "GROUP BY doc.id, doc.account_id, doc.reference, doc.posting_date, doc.amount",
        pl.Schema([*AGREEMENT_SCHEMA.items(), ("open_now", pl.Int64())]),
    )
    later = _query(
        "SELECT i.document_id AS document_id, CAST(SUM(c.amount) AS BIGINT) AS later "
        "FROM ledger_clearing c "
        "JOIN ledger_openitem i ON i.id = c.debit_item_id "
        "JOIN ledger_document doc ON doc.id = i.document_id "
        f"WHERE doc.kind = 'agreement' AND doc.posting_date <= {_lit(on)} "
        f"AND c.cleared_on > {_lit(on)} GROUP BY i.document_id",
        {"document_id": pl.Int64, "later": pl.Int64},
    )
    frame = docs.join(later, on="document_id", how="left").with_columns(
        (pl.col("open_now") + pl.col("later").fill_null(0)).alias("open_amount")
    )
    frame = frame.with_columns((pl.col("open_amount") > 0).alias("active"))
    staged = _with_stages(frame, "posting_date", account_stages, snapshots, fallback)
    return (
        staged.select(list(AGREEMENT_SCHEMA))
        .cast(AGREEMENT_SCHEMA)
        .sort("posting_date", "document_id")
    )


def _month_start(d: date, back: int = 0) -> date:
    index = d.year * 12 + d.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return _month_start(first, -1) - timedelta(days=1)


def months_frame(on: date, recaudo: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``months.parquet``; D's month's collections come from ``recaudo``
    (the detail of the same clearings), the earlier months from one grouped query."""
    first = _month_start(on, MONTHS_BACK - 1)
    this_month = on.replace(day=1)
    day_schema = {"day": pl.Date, "amount": pl.Int64, "bills": pl.Int64, "in_arrears": pl.Int64}
    bills = _query(
        "SELECT posting_date AS day, COUNT(*) AS bills, CAST(SUM(amount) AS BIGINT) AS amount "
        "FROM ledger_document "
        f"WHERE kind = 'bill' AND posting_date >= {_lit(first)} AND posting_date <= {_lit(on)} "
        "GROUP BY posting_date",
        day_schema,
    )
    reversed_bills = _query(
        "SELECT r.posting_date AS day, CAST(SUM(o.amount) AS BIGINT) AS amount "
        "FROM ledger_document r JOIN ledger_document o ON o.id = r.reverses_id "
        f"WHERE r.kind = 'reversal' AND o.kind = 'bill' AND r.posting_date >= {_lit(first)} "
        f"AND r.posting_date <= {_lit(on)} GROUP BY r.posting_date",
        day_schema,
    )
    if this_month > first:
        earlier = _query(
            _clearings_sql(first, this_month - timedelta(days=1), grouped=True), day_schema
        )
    else:
        earlier = pl.DataFrame(schema={"day": pl.Date, "in_arrears": pl.Int64, "amount": pl.Int64})
    current = recaudo.select(
        pl.col("cleared_on").alias("day"),
        pl.col("in_arrears").cast(pl.Int64),
        pl.col("amount"),
    )
    collected = pl.concat([earlier.select("day", "in_arrears", "amount"), current])

    def by_month(frame: pl.DataFrame, *aggs: pl.Expr) -> pl.DataFrame:
        return frame.group_by(pl.col("day").dt.truncate("1mo").alias("month")).agg(*aggs)

    months = pl.DataFrame(
        {"month": [_month_start(on, b) for b in range(MONTHS_BACK - 1, -1, -1)]},
        schema={"month": pl.Date},
    )
    billed = by_month(bills, pl.col("amount").sum().alias("billed"), pl.col("bills").sum())
    rev = by_month(reversed_bills, pl.col("amount").sum().alias("billed_reversed"))
    coll = by_month(
        collected,
        pl.col("amount").sum().alias("collected"),
        pl.col("amount").filter(pl.col("in_arrears") == 0).sum().alias("collected_current"),
        pl.col("amount").filter(pl.col("in_arrears") == 1).sum().alias("collected_arrears"),
    )
    out = (
        months.join(billed, on="month", how="left")
        .join(rev, on="month", how="left")
        .join(coll, on="month", how="left")
        .with_columns(
            pl.col("month").dt.strftime("%Y-%m").alias("period"),
            pl.col("month")
            .map_elements(lambda m: min(_month_end(m), on), return_dtype=pl.Date)
            .alias("through"),
        )
    )
    return out.select(list(MONTH_SCHEMA)).cast(MONTH_SCHEMA).fill_null(0).sort("month")


def _write(frame: pl.DataFrame, path: Path) -> None:
    pq.write_table(frame.to_arrow(), path, compression="zstd")


def write_flows(
    on: date,
    folder: Path,
    account_stages: pl.DataFrame,
    *,
    fallback_stage: str | None = None,
) -> dict[str, Any]:
    """Write ``recaudo.parquet``, ``agreements.parquet`` and ``months.parquet`` of the
    cut-off date ``on`` into ``folder``; return their counts and totals for the manifest.

    ``account_stages`` has one row per account open at ``on`` with ``account_id`` and
    ``stage`` (other columns are ignored). ``fallback_stage`` is the catch-all stage of
    the policy used (looked up when not given).
    """
    started = time.perf_counter()
    folder = Path(folder)
    fallback = fallback_stage or default_stage(on)
    snapshots = done_snapshots(before=on)
    stages = account_stages.select(
        pl.col("account_id").cast(pl.Int64), pl.col("stage").cast(pl.Utf8)
    ).unique("account_id")
    recaudo = recaudo_frame(on, stages, snapshots=snapshots, fallback=fallback)
    t_recaudo = time.perf_counter()
    agreements = agreements_frame(on, stages, snapshots=snapshots, fallback=fallback)
    t_agreements = time.perf_counter()
    months = months_frame(on, recaudo)
    t_months = time.perf_counter()
    _write(recaudo, folder / schema.RECAUDO)
    _write(agreements, folder / schema.AGREEMENTS)
    _write(months, folder / schema.MONTHS)
    done = time.perf_counter()
    return {
        "recaudo_rows": recaudo.height,
        "recaudo_amount": int(recaudo["amount"].sum() or 0),
        "recaudo_stage_sources": {
            s: int((recaudo["stage_source"] == s).sum()) for s in STAGE_SOURCES
        },
        "agreements": agreements.height,
        "agreements_active": int(agreements["active"].sum() or 0),
        "agreements_open": int(agreements["open_amount"].sum() or 0),
        "months": months.height,
        "seconds": {
            "recaudo": round(t_recaudo - started, 3),
            "agreements": round(t_agreements - t_recaudo, 3),
            "months": round(t_months - t_agreements, 3),
            "write": round(done - t_months, 3),
        },
    }
