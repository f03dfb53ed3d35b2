"""Reads of billing: what the billing run loads (one grouped query each, into Polars) and
what the billing pages show.

The run's loads are raw SQL on the DB-API cursor: one row per account of the cycles, joined
with its property, municipality, connections, current meter and the period's reading, so a
2.3 M-account run reads the cadastre once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
from django.db import connection

from caudal.audit.models import Run, RunChunk
from caudal.cadastre.imports import fetch_frame, keys_condition, keys_param
from caudal.cadastre.models import Cycle
from caudal.ledger.bulk import ids_condition
from caudal.metering.models import ReadingCalendar

from . import rules
from .models import Bill

#: ``Run.kind`` of billing runs and simulations.
RUN_KIND = "billing"

ACCOUNT_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64,
    "number": pl.String,
    "category": pl.String,
    "units": pl.Int64,
    "stratum": pl.Int64,
    "cycle_id": pl.Int64,
    "route_id": pl.Int64,
    "sequence": pl.Int64,
    "municipality_code": pl.String,
    "altitude_m": pl.Int64,
    "water_status": pl.String,
    "sewer_status": pl.String,
    "meter_serial": pl.String,
    "meter_state": pl.String,
    "reading_status": pl.String,
    "reading_consumption": pl.Int64,
    "reading_rule": pl.String,
    "previous_reading": pl.Int64,
    "current_reading": pl.Int64,
    "reading_average": pl.Int64,
}

_ACCOUNTS_SQL = """
SELECT a.id, a.number, a.category, a.units, a.stratum, a.cycle_id, p.route_id, p.sequence,
       m.code, m.altitude_m, w.status, s.status, mt.serial,
       CASE
         WHEN mt.id IS NOT NULL AND mt.status IN ('installed', 'broken') THEN 'metered'
         WHEN mt.id IS NOT NULL THEN 'removed'
         WHEN EXISTS (SELECT 1 FROM cadastre_meter x WHERE x.account_id = a.id) THEN 'removed'
         ELSE 'unmetered'
       END,
       r.status, r.consumption, r.consumption_rule, r.previous_value, r.value, r.average
FROM cadastre_account a
JOIN cadastre_property p ON p.id = a.property_id
JOIN cadastre_municipality m ON m.id = p.municipality_id
LEFT JOIN cadastre_connection w ON w.account_id = a.id AND w.service = 'water'
LEFT JOIN cadastre_connection s ON s.account_id = a.id AND s.service = 'sewer'
LEFT JOIN cadastre_meter mt ON mt.account_id = a.id AND mt.removed_on IS NULL
LEFT JOIN metering_reading r ON r.account_id = a.id AND r.period = %s
WHERE {where}
"""


#: Tables the billing run reads by key, one route at a time.
KEYED_TABLES = (
    "cadastre_account",
    "ledger_openitem",
    "ledger_document",
    "billing_bill",
    "metering_reading",
)


def refresh_statistics(cursor: Any) -> list[str]:
    """PostgreSQL: ``ANALYZE`` the tables the run reads by key when more than a tenth of
    their rows changed since the last analysis (a bulk import or the previous run), so the
    per-route queries use their indexes instead of scanning. Returns the tables analysed.
    SQLite: nothing (its planner needs no statistics for these lookups)."""
    if connection.vendor != "postgresql":
        return []
    cursor.execute(
        "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) AND "
        "(last_analyze IS NULL AND last_autoanalyze IS NULL "
        "OR n_mod_since_analyze > 0.1 * GREATEST(n_live_tup, 1000))",
        [list(KEYED_TABLES)],
    )
    stale = sorted(row[0] for row in cursor.fetchall())
    for table in stale:
        cursor.execute(f"ANALYZE {table}")
    return stale


def cycles_in_scope(cycle_code: str | None) -> list[Cycle]:
    """The cycle named ``cycle_code``, or every cycle. Empty when the code is unknown."""
    qs = Cycle.objects.order_by("code")
    if cycle_code:
        qs = qs.filter(code=cycle_code)
    return list(qs)


def calendars(period: str, cycle_ids: Sequence[int]) -> dict[int, ReadingCalendar]:
    """The reading calendar of each cycle for ``period`` (cycles without one are absent)."""
    return {
        cal.cycle_id: cal
        for cal in ReadingCalendar.objects.filter(period=period, cycle_id__in=list(cycle_ids))
    }


def load_accounts(
    cursor: Any,
    period: str,
    cycle_ids: Sequence[int] | None,
    *,
    account_ids: Sequence[int] | None = None,
) -> pl.DataFrame:
    """One row per account of the cycles (every cycle when ``cycle_ids`` is None; only
    ``account_ids`` when given), with what billing needs (:data:`ACCOUNT_SCHEMA`), ordered
    by route and sequence."""
    conditions, params = ["1 = 1"], [period]
    if cycle_ids is not None:
        conditions.append(ids_condition("a.cycle_id"))
        params.append(keys_param(list(cycle_ids)))
    if account_ids is not None:
        conditions.append(ids_condition("a.id"))
        params.append(keys_param(list(account_ids)))
    sql = _ACCOUNTS_SQL.format(where=" AND ".join(conditions))
    frame = fetch_frame(cursor, sql, params, ACCOUNT_SCHEMA)
    return frame.sort(["route_id", "sequence", "account_id"])


def load_averages(cursor: Any, account_ids: Sequence[int], periods: Sequence[str]) -> pl.DataFrame:
    """Historical average (whole m³, half up) of the billable readings of ``periods`` for
    each account that has one: ``account_id``, ``history_average``."""
    schema = {"account_id": pl.Int64, "total": pl.Int64, "n": pl.Int64}
    if not account_ids or not periods:
        return pl.DataFrame(schema={"account_id": pl.Int64, "history_average": pl.Int64})
    statuses = ", ".join(f"'{s}'" for s in rules.BILLABLE)
    frame = fetch_frame(
        cursor,
        "SELECT account_id, SUM(consumption), COUNT(*) FROM metering_reading "
        f"WHERE status IN ({statuses}) AND consumption IS NOT NULL AND "
        + keys_condition("period")
        + " AND "
        + ids_condition("account_id")
        + " GROUP BY account_id",
        [keys_param(list(periods)), keys_param(list(account_ids))],
        schema,
    )
    return frame.select(
        "account_id",
        ((2 * pl.col("total") + pl.col("n")) // (2 * pl.col("n"))).alias("history_average"),
    )


def billed_accounts(cursor: Any, period: str, account_ids: Sequence[int] | None = None) -> set[int]:
    """Accounts that already have a bill (any version) for ``period``."""
    if account_ids is None:
        cursor.execute("SELECT DISTINCT account_id FROM billing_bill WHERE period = %s", [period])
    else:
        if not account_ids:
            return set()
        # ``period || ''``: the lookup goes through ``bill_account_period`` (account
        # first), never through ``bill_period_route``, which would read the whole period.
        cursor.execute(
            "SELECT account_id FROM billing_bill WHERE period || '' = %s AND "
            + ids_condition("account_id"),
            [period, keys_param(list(account_ids))],
        )
    return {row[0] for row in cursor.fetchall()}


#: Ledger document kinds that count as a bill for the red-bill rule (migrated legacy bills
#: are ``opening`` documents).
OVERDUE_KINDS = ("bill", "opening")


def debt_summary(
    cursor: Any, account_ids: Sequence[int], *, overdue_before: date
) -> dict[int, tuple[int, int, int, int]]:
    """Per account with open items: (unblocked open debit, open credit, overdue unblocked
    debit, number of overdue bills). Overdue: due date before ``overdue_before`` (the
    billing date minus the grace days). A bill counts once however many of its lines are
    open. Blocked (disputed) items are left out: they are not demanded."""
    if not account_ids:
        return {}
    kinds = ", ".join(f"'{k}'" for k in OVERDUE_KINDS)
    due = overdue_before.isoformat()
    cursor.execute(
        "SELECT i.account_id, "
        "SUM(CASE WHEN i.side = 'D' AND NOT i.blocked THEN i.open_amount ELSE 0 END), "
        "SUM(CASE WHEN i.side = 'C' THEN i.open_amount ELSE 0 END), "
        "SUM(CASE WHEN i.side = 'D' AND NOT i.blocked AND i.due_date < %s "
        "THEN i.open_amount ELSE 0 END), "
        "COUNT(DISTINCT CASE WHEN i.side = 'D' AND NOT i.blocked AND i.due_date < %s "
        f"AND (SELECT d.kind FROM ledger_document d WHERE d.id = i.document_id) IN ({kinds}) "
        "THEN i.document_id END) "
        "FROM ledger_openitem i WHERE i.open_amount > 0 AND "
        + ids_condition("i.account_id")
        + " GROUP BY i.account_id",
        [due, due, keys_param(list(account_ids))],
    )
    return {
        row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3] or 0), int(row[4] or 0))
        for row in cursor.fetchall()
    }


def document_kinds(cursor: Any, document_ids: Sequence[int]) -> dict[int, str]:
    if not document_ids:
        return {}
    cursor.execute(
        "SELECT id, kind FROM ledger_document WHERE " + ids_condition("id"),
        [keys_param(list(document_ids))],
    )
    return {row[0]: row[1] for row in cursor.fetchall()}


def period_bills(cursor: Any, period: str, cycle_ids: Sequence[int] | None) -> pl.DataFrame:
    """The bills of ``period`` (latest version of each account) of the cycles:
    ``account_id``, ``number`` (account number), ``consumption_m3``, ``amount``."""
    schema = {
        "account_id": pl.Int64,
        "number": pl.String,
        "consumption_m3": pl.Int64,
        "amount": pl.Int64,
        "version": pl.Int64,
    }
    where = "b.period = %s"
    params: list[Any] = [period]
    if cycle_ids is not None:
        where += " AND " + ids_condition("a.cycle_id")
        params.append(keys_param(list(cycle_ids)))
    frame = fetch_frame(
        cursor,
        "SELECT b.account_id, a.number, b.consumption, b.amount, b.version "
        "FROM billing_bill b JOIN cadastre_account a ON a.id = b.account_id WHERE " + where,
        params,
        schema,
    )
    return (
        frame.sort(["account_id", "version"])
        .unique("account_id", keep="last", maintain_order=True)
        .drop("version")
    )


# --- pages -----------------------------------------------------------------------------


def runs(limit: int = 50, *, before: int | None = None) -> list[Run]:
    """Billing runs and simulations, newest first (keyset on id)."""
    qs = Run.objects.filter(kind=RUN_KIND).select_related("actor").order_by("-id")
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return list(qs[:limit])


def run_problems(
    run: Run, *, reason: str | None = None, after: tuple[str, int] | None = None, limit: int = 100
) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    """Held and rejected accounts of a run, in route order, ``limit`` at a time.

    Keyset: ``after`` is (route code, index in that route's list) of the last row shown.
    Returns the rows (each with ``route``) and the key of the next page (None at the end).
    """
    chunks = RunChunk.objects.filter(run=run).exclude(errors=[]).order_by("key")
    if after is not None:
        chunks = chunks.filter(key__gte=after[0])
    out: list[dict[str, Any]] = []
    for chunk in chunks.iterator():
        start = after[1] + 1 if after is not None and chunk.key == after[0] else 0
        for pos, row in enumerate(chunk.errors[start:], start=start):
            if reason and row.get("reason") != reason:
                continue
            if len(out) == limit:
                return out, (out[-1]["route"], out[-1]["_pos"])
            out.append({**row, "route": chunk.key, "_pos": pos})
    return out, None


def run_chunks(run: Run) -> dict[str, int]:
    """Chunk counts by status."""
    out: dict[str, int] = {}
    for status in RunChunk.objects.filter(run=run).values_list("status", flat=True):
        out[status] = out.get(status, 0) + 1
    return out


def bills_of_run(run: Run, limit: int = 20) -> list[Bill]:
    return list(Bill.objects.filter(run=run).select_related("account").order_by("id")[:limit])


def vendor() -> str:
    return connection.vendor
