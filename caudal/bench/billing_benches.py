"""The billing-run benchmark and the synthetic utility it bills.

``caudal bench billing-run --size N`` builds (not timed) a utility of N accounts in bulk:
routes of about 400 accounts in up to 10 cycles, two connections per account, meters
(88 % metered, 8 % never metered, 4 % meter removed), the period's readings already
critiqued (97 % ``ok`` with consumption, the rest flagged or pending: held), reading
history for the removed meters, a calendar per cycle, the SEDAPAL 2015 example tariff
(``docs/examples/tariff-sedapal-2015.yaml``), and open debt: 30 % of the accounts owe 1 to
3 earlier bills, 3 % have an open credit (an overpayment), a few both. Then it times
``run_billing`` end to end (plan, pricing, posting, credits, bills, commits).

``floor_seconds``: the same rows the run wrote (documents, lines, open items, clearings,
bills, with ids and unique keys shifted), inserted again into the same tables with plain
one-row ``executemany`` in one transaction that is rolled back; only the ``executemany``
calls are timed.

:func:`build_utility` is also what the billing tests use, with a few dozen accounts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from django.db import connection, transaction
from django.utils import timezone

from caudal.bench import floor as engine_floor
from caudal.bench.harness import benchmark
from caudal.billing import runs
from caudal.cadastre.imports import bulk_insert, bulk_session, db_datetime, reserve_ids
from caudal.cadastre.models import Cycle, Municipality, Route, Sector, Zone
from caudal.cadastre.testing import make_utility
from caudal.kernel.periods import Period
from caudal.ledger import bulk
from caudal.metering.models import ReadingCalendar
from caudal.tariffs.models import TariffVersion

PERIOD = "2026-10"
SEED = 2026
ACCOUNTS_PER_ROUTE = 400


@dataclass
class Utility:
    period: str
    accounts: pl.DataFrame  # id, number, route_id, cycle_id, category, meter_state, ...
    cycles: list[Cycle]
    routes: list[Route]
    tariff: TariffVersion
    seconds: float = 0.0


def _pick(rng: np.random.Generator, n: int, values: list[Any], p: list[float]) -> np.ndarray:
    return rng.choice(np.array(values, dtype=object), size=n, p=p)


def _ids(table: str, n: int) -> np.ndarray:
    with connection.cursor() as cursor:
        start = reserve_ids(cursor, table, n)
    return np.arange(start, start + n, dtype=np.int64)


def calendar_for(cycle: Cycle, period: str) -> ReadingCalendar:
    p = Period.parse(period)
    billing = p.next().day(cycle.billing_day)
    due = billing + timedelta(days=cycle.due_days)
    return ReadingCalendar.objects.create(
        cycle=cycle,
        period=period,
        months=1,
        read_from=p.day(18),
        read_to=p.day(23),
        critique_from=p.day(24),
        critique_to=p.day(30),
        billing_date=billing,
        due_date=due,
        cut_warning_date=due + timedelta(days=10),
    )


def build_utility(
    size: int,
    *,
    period: str = PERIOD,
    seed: int = SEED,
    cycles: int | None = None,
    per_route: int = ACCOUNTS_PER_ROUTE,
    debt_share: float = 0.30,
    credit_share: float = 0.03,
    held_share: float = 0.03,
    tariff: TariffVersion | None = None,
) -> Utility:
    """A utility of ``size`` accounts ready to bill ``period`` (see the module docstring).
    Written in bulk; works inside a test transaction too."""
    from caudal.tariffs.testing import make_tariff

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    make_utility("PE")
    muni, _ = Municipality.objects.get_or_create(
        code="150101", defaults={"name": "Lima", "altitude_m": 150}
    )
    zone, _ = Zone.objects.get_or_create(
        code="Z1", defaults={"name": "Zona 1", "municipality": muni}
    )
    sector, _ = Sector.objects.get_or_create(code="S1", defaults={"name": "Sector 1", "zone": zone})
    n_cycles = cycles or int(np.clip(size // 50_000, 1, 10))
    cycle_rows = []
    for k in range(n_cycles):
        cycle, _ = Cycle.objects.get_or_create(
            code=f"B{k + 1:02d}", defaults={"name": f"Ciclo {k + 1}", "billing_day": 6}
        )
        cycle_rows.append(cycle)
    n_routes = max(1, -(-size // per_route))
    route_objs = Route.objects.bulk_create(
        [
            Route(code=f"B{r + 1:05d}", name="", sector=sector, cycle=cycle_rows[r % n_cycles])
            for r in range(n_routes)
        ],
        batch_size=2000,
    )
    route_ids = np.array([r.pk for r in route_objs], dtype=np.int64)
    route_cycle = np.array([r.cycle_id for r in route_objs], dtype=np.int64)
    for cycle in cycle_rows:
        if not ReadingCalendar.objects.filter(cycle=cycle, period=period).exists():
            calendar_for(cycle, period)
    version = tariff or make_tariff()
    now = db_datetime(timezone.now())
    n = size
    route_of = np.minimum(np.arange(n) // per_route, n_routes - 1)
    account_ids = _ids("cadastre_account", n)
    customer_ids = _ids("cadastre_customer", n)
    property_ids = _ids("cadastre_property", n)
    base = int(account_ids[0])
    category = _pick(
        rng,
        n,
        ["domestic", "commercial", "social", "industrial", "state"],
        [0.85, 0.08, 0.04, 0.01, 0.02],
    )
    units = np.where(rng.random(n) < 0.05, rng.integers(2, 5, n), 1)
    water = _pick(rng, n, ["active", "cut", "removed"], [0.95, 0.04, 0.01])
    sewer = np.where(
        water == "active",
        _pick(rng, n, ["active", "feasible"], [0.9, 0.1]),
        np.where(water == "cut", "cut", "removed"),
    )
    meter_state = _pick(rng, n, ["metered", "unmetered", "removed"], [0.88, 0.08, 0.04])
    consumption = rng.poisson(16, n) + np.where(category == "commercial", rng.poisson(30, n), 0)
    previous_value = rng.integers(100, 90_000, n)
    status = np.where(
        rng.random(n) < held_share,
        _pick(rng, n, ["flagged", "pending", "reread"], [0.6, 0.3, 0.1]),
        "ok",
    )
    frame = pl.DataFrame(
        {
            "id": account_ids,
            "customer_id": customer_ids,
            "property_id": property_ids,
            "route_id": route_ids[route_of],
            "cycle_id": route_cycle[route_of],
            "sequence": (np.arange(n) % per_route + 1) * 10,
            "category": category.astype(str),
            "units": units.astype(np.int64),
            "water": water.astype(str),
            "sewer": sewer.astype(str),
            "meter_state": meter_state.astype(str),
            "consumption": consumption.astype(np.int64),
            "previous_value": previous_value.astype(np.int64),
            "status": status.astype(str),
        }
    ).with_columns(
        pl.format("{}", pl.col("id") - base + 20_000_001).alias("number"),
    )
    with transaction.atomic(), bulk_session(), connection.cursor() as cursor:
        bulk_insert(
            cursor,
            "cadastre_customer",
            frame.select(
                pl.col("customer_id").alias("id"),
                pl.lit("DNI").alias("doc_type"),
                pl.format("{}", pl.col("customer_id") + 40_000_000).alias("doc_number"),
                pl.format("Cliente {}", pl.col("number")).alias("name"),
                pl.lit("").alias("email"),
                pl.lit("").alias("phone"),
                pl.lit("").alias("mobile"),
                pl.lit(False).alias("consent_email"),
                pl.lit(False).alias("consent_sms"),
                pl.lit(None, dtype=pl.String).alias("consent_date"),
                pl.lit(now).alias("created_at"),
            ),
        )
        bulk_insert(
            cursor,
            "cadastre_property",
            frame.select(
                pl.col("property_id").alias("id"),
                pl.format("CAT-{}", pl.col("number")).alias("cadastral_code"),
                pl.format("Av. Demo {}", pl.col("sequence")).alias("address"),
                pl.lit(muni.pk).alias("municipality_id"),
                pl.lit(zone.pk).alias("zone_id"),
                pl.lit(sector.pk).alias("sector_id"),
                "route_id",
                "sequence",
                pl.lit(None, dtype=pl.String).alias("latitude"),
                pl.lit(None, dtype=pl.String).alias("longitude"),
                pl.lit("").alias("municipal_ref"),
            ),
        )
        bulk_insert(
            cursor,
            "cadastre_account",
            frame.select(
                "id",
                "number",
                "customer_id",
                "property_id",
                "category",
                "units",
                pl.lit(None, dtype=pl.Int64).alias("stratum"),
                pl.lit("regular").alias("segment"),
                "cycle_id",
                pl.lit("2015-01-01").alias("opened_on"),
                pl.lit(now).alias("updated_at"),
            ),
        )
        connections = pl.concat(
            [
                frame.select(
                    pl.col("id").alias("account_id"),
                    pl.lit(service).alias("service"),
                    pl.col(service).alias("status"),
                )
                for service in ("water", "sewer")
            ]
        ).sort("account_id")
        bulk_insert(
            cursor,
            "cadastre_connection",
            connections.select(
                "account_id", "service", "status", pl.lit("2020-01-01").alias("status_since")
            ),
        )
        has_meter = frame.filter(pl.col("meter_state") != "unmetered")
        meter_ids = _ids("cadastre_meter", has_meter.height)
        meters = has_meter.with_columns(pl.Series("meter_id", meter_ids))
        bulk_insert(
            cursor,
            "cadastre_meter",
            meters.select(
                pl.col("meter_id").alias("id"),
                pl.col("id").alias("account_id"),
                pl.format("M{}", pl.col("number")).alias("serial"),
                pl.lit("Zenner").alias("brand"),
                pl.lit("1/2").alias("diameter"),
                pl.lit(5).alias("digits"),
                pl.lit("2018-01-01").alias("installed_on"),
                pl.when(pl.col("meter_state") == "removed")
                .then(pl.lit("2026-03-01"))
                .otherwise(None)
                .alias("removed_on"),
                pl.when(pl.col("meter_state") == "removed")
                .then(pl.lit("removed"))
                .otherwise(pl.lit("installed"))
                .alias("status"),
            ),
        )
        metered = meters.filter(pl.col("meter_state") == "metered")
        billable = pl.col("status") == "ok"
        readings = metered.select(
            pl.col("id").alias("account_id"),
            pl.lit(period).alias("period"),
            "route_id",
            "meter_id",
            "previous_value",
            (pl.col("previous_value") + pl.col("consumption")).alias("value"),
            pl.lit(now).alias("read_at"),
            pl.lit("").alias("observation"),
            pl.lit("handheld").alias("source"),
            pl.lit(None, dtype=pl.Int64).alias("reader_id"),
            pl.lit(None, dtype=pl.String).alias("latitude"),
            pl.lit(None, dtype=pl.String).alias("longitude"),
            pl.lit("").alias("photo"),
            pl.lit("").alias("client_uuid"),
            "status",
            pl.when(billable).then(pl.lit("")).otherwise(pl.lit("high")).alias("flags"),
            pl.when(billable).then(pl.col("consumption")).otherwise(None).alias("consumption"),
            pl.when(billable)
            .then(pl.lit("actual"))
            .otherwise(pl.lit(""))
            .alias("consumption_rule"),
            pl.col("consumption").alias("average"),
            pl.lit(False).alias("control_sample"),
            pl.lit(None, dtype=pl.Int64).alias("reviewed_by_id"),
            pl.lit(None, dtype=pl.String).alias("reviewed_at"),
            pl.lit("").alias("note"),
            pl.lit(now).alias("updated_at"),
        )
        removed = meters.filter(pl.col("meter_state") == "removed")
        history = pl.concat(
            [
                removed.select(
                    pl.col("id").alias("account_id"),
                    pl.lit(code).alias("period"),
                    "route_id",
                    "meter_id",
                    pl.lit(None, dtype=pl.Int64).alias("previous_value"),
                    pl.lit(None, dtype=pl.Int64).alias("value"),
                    pl.lit(now).alias("read_at"),
                    pl.lit("").alias("observation"),
                    pl.lit("import").alias("source"),
                    pl.lit(None, dtype=pl.Int64).alias("reader_id"),
                    pl.lit(None, dtype=pl.String).alias("latitude"),
                    pl.lit(None, dtype=pl.String).alias("longitude"),
                    pl.lit("").alias("photo"),
                    pl.lit("").alias("client_uuid"),
                    pl.lit("ok").alias("status"),
                    pl.lit("").alias("flags"),
                    (pl.col("consumption") + k).alias("consumption"),
                    pl.lit("actual").alias("consumption_rule"),
                    pl.lit(None, dtype=pl.Int64).alias("average"),
                    pl.lit(False).alias("control_sample"),
                    pl.lit(None, dtype=pl.Int64).alias("reviewed_by_id"),
                    pl.lit(None, dtype=pl.String).alias("reviewed_at"),
                    pl.lit("").alias("note"),
                    pl.lit(now).alias("updated_at"),
                )
                for k, code in enumerate(p.code for p in Period.parse(period).last(6))
            ]
        )
        bulk_insert(cursor, "metering_reading", pl.concat([readings, history]))
        _debt(
            cursor,
            frame,
            rng,
            period=period,
            debt_share=debt_share,
            credit_share=credit_share,
            now=now,
        )
    return Utility(
        period=period,
        accounts=frame,
        cycles=cycle_rows,
        routes=route_objs,
        tariff=version,
        seconds=time.perf_counter() - started,
    )


def _debt(
    cursor: Any,
    frame: pl.DataFrame,
    rng: np.random.Generator,
    *,
    period: str,
    debt_share: float,
    credit_share: float,
    now: Any,
) -> None:
    """Open debt: earlier bills of some accounts (one document per bill, two lines), and
    open credits (overpayments) of others, posted with ``ledger.bulk`` (credits left open,
    as a migration leaves them)."""
    n = frame.height
    p = Period.parse(period)
    owes = rng.random(n) < debt_share
    n_bills = np.where(owes, rng.integers(1, 4, n), 0)
    has_credit = rng.random(n) < credit_share
    # Mostly overpayments of accounts without debt; about one in six keeps both (migrated).
    has_credit &= ~owes | (rng.random(n) < 0.17)
    account = frame["id"].to_numpy()
    key = 0
    docs: list[tuple[int, int, str, str, date, date]] = []
    lines: list[tuple[int, int, str, int, str, date]] = []
    for k in range(1, 4):
        who = account[n_bills >= k]
        back = p.shift(-k)
        issue = back.next().day(6)
        due = issue + timedelta(days=20)
        for a in who.tolist():
            key += 1
            docs.append((key, a, "bill", f"OLD-{back.code}-{a}", issue, issue))
            lines.append((key, 1, "fixed", 577, "Cargo fijo", due))
            lines.append((key, 2, "water", int(rng.integers(800, 4000)), "Agua potable", due))
    for a in account[has_credit].tolist():
        key += 1
        issue = p.day(15)
        docs.append((key, a, "payment", f"PAY-{a}", issue, issue))
        lines.append((key, 1, "payment", -int(rng.integers(500, 6000)), "Pago en exceso", issue))
    if not docs:
        return
    doc_frame = pl.DataFrame(
        docs,
        schema={
            "key": pl.Int64,
            "account_id": pl.Int64,
            "kind": pl.String,
            "reference": pl.String,
            "document_date": pl.Date,
            "posting_date": pl.Date,
        },
        orient="row",
    )
    line_frame = pl.DataFrame(
        lines,
        schema={
            "key": pl.Int64,
            "line_no": pl.Int64,
            "concept": pl.String,
            "amount": pl.Int64,
            "description": pl.String,
            "due_date": pl.Date,
        },
        orient="row",
    )
    bulk.post(
        cursor,
        doc_frame,
        line_frame,
        apply_credits=False,
        created_by_id=None,
        created_at=now,
        source="bench",
    )


# --------------------------------------------------------------------------------- bench

#: table → (unique text columns to make distinct, foreign id columns to shift)
_FLOOR_TABLES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "ledger_document": (("reference",), {}),
    "ledger_documentline": ((), {"document_id": "ledger_document"}),
    "ledger_openitem": (
        (),
        {"document_id": "ledger_document", "line_id": "ledger_documentline"},
    ),
    "ledger_clearing": ((), {}),
    "billing_bill": (("number",), {"document_id": "ledger_document"}),
}


def _fix_bill_row(table: str, row: list[Any], pos: dict[str, int]) -> None:
    if table == "billing_bill":
        row[pos["period"]] = "9999-12"  # (account, period, version) is unique


def floor_inserts(marks: dict[str, int]) -> tuple[int, float]:
    """The run's rows inserted again by one-row ``executemany`` (``caudal.bench.floor``)."""
    return engine_floor.reinsert(
        _FLOOR_TABLES, marks, prefix="F", widths={"number": 24}, fix=_fix_bill_row
    )


@benchmark(
    "billing-run",
    default_size=100_000,
    description="caudal bill: plan, price and post N accounts (bills, ledger, credits), SEDAPAL tariff",
)
def bench_billing_run(size: int, workdir: Path) -> dict[str, Any]:
    utility = build_utility(size)
    with connection.cursor() as cursor:
        marks = {t: engine_floor.max_id(cursor, t) for t in _FLOOR_TABLES}
    started = time.perf_counter()
    run = runs.run_billing(utility.period, actor="bench")
    seconds = time.perf_counter() - started
    counts = run.counts
    if run.status != "done" or counts.get("billed", 0) == 0:
        raise SystemExit(f"billing run did not finish: {run.status} {run.errors[:3]}")
    rows, floor = floor_inserts(marks)
    return {
        "seconds": seconds,
        "setup_seconds": round(utility.seconds, 1),
        "accounts_per_s": round(size / seconds, 1),
        "billed": counts.get("billed"),
        "held": counts.get("held"),
        "rejected": counts.get("rejected"),
        "red": counts.get("red"),
        "lines": counts.get("lines"),
        "credit_applied": counts.get("credit_applied"),
        "chunks": counts.get("chunks"),
        "plan_seconds": counts.get("plan_seconds"),
        "write_seconds": counts.get("write_seconds"),
        "stages": counts.get("stages"),
        "rows_written": rows,
        "floor_seconds": floor,
        "floor": "one-row executemany of the same rows into the same tables, rolled back",
    }
