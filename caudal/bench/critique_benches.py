"""``caudal bench reading-critique --size N``: the critique run over N accounts.

Setup (not timed): N metered accounts in one cycle, each with six periods of billed
readings and a reading of the current period, written in bulk (multi-row inserts from
NumPy/Polars columns, no ORM object per row). The current period holds the usual mix: 3 %
of the accounts have no reading (the run creates it), 2 % were not read (observation), and
a few per cent each of high, low, zero, below-previous, rollover, cut-with-consumption,
meter-problem and VIP readings; 3 % of the history periods were billed by average.

Timed: ``run_critique(period)`` end to end (loads, history summary, flags, writes, commit,
Run row).

``floor_seconds``: the raw engine writing the same rows: the readings are put back as
they were (untimed), then the very rows the run wrote are applied with a plain
``executemany`` of pre-built tuples (one ``UPDATE ... WHERE id = ?`` per row, plus the
inserts of the created rows) in one transaction with its commit.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from django.db import connection, transaction

from caudal.bench.harness import Timer, benchmark
from caudal.cadastre.imports import bulk_insert, bulk_session
from caudal.cadastre.testing import make_utility
from caudal.kernel.periods import Period
from caudal.metering.runs import run_critique

SEED = 20261124
PERIOD = Period(2026, 7)
HISTORY = 6
ACCOUNTS_PER_ROUTE = 400
NOW = "2026-07-20 12:00:00"


def _reference_rows(cursor: Any, routes: int) -> None:
    cursor.execute(
        "INSERT INTO cadastre_municipality (id, code, name, department) VALUES (1, 'M01', 'Cusco', '')"
    )
    cursor.execute(
        "INSERT INTO cadastre_zone (id, code, name, municipality_id) VALUES (1, 'Z01', 'Centro', 1)"
    )
    cursor.execute(
        "INSERT INTO cadastre_sector (id, code, name, zone_id) VALUES (1, 'S01', 'Sector 1', 1)"
    )
    cursor.execute(
        "INSERT INTO cadastre_cycle (id, code, name, reading_day, billing_day, due_days) "
        "VALUES (1, 'C01', 'Ciclo 1', 18, 6, 20)"
    )
    bulk_insert(
        cursor,
        "cadastre_route",
        pl.DataFrame(
            {
                "id": np.arange(1, routes + 1),
                "code": [f"R{i:05d}" for i in range(1, routes + 1)],
                "name": [""] * routes,
                "sector_id": [1] * routes,
                "cycle_id": [1] * routes,
            }
        ),
    )


def build(size: int, *, seed: int = SEED) -> dict[str, int]:
    """Write the cadastre and readings of ``size`` accounts (ids 1..size)."""
    rng = np.random.default_rng(seed)
    n = size
    ids = np.arange(1, n + 1, dtype=np.int64)
    routes = (n + ACCOUNTS_PER_ROUTE - 1) // ACCOUNTS_PER_ROUTE
    route = (ids - 1) // ACCOUNTS_PER_ROUTE + 1
    category = rng.choice(
        ["domestic", "commercial", "social", "state", "industrial"],
        n,
        p=[0.86, 0.09, 0.03, 0.01, 0.01],
    )
    vip = rng.random(n) < 0.01
    water = rng.choice(["active", "cut", "removed"], n, p=[0.94, 0.05, 0.01])
    base = np.clip(rng.lognormal(2.6, 0.6, n), 1, 400).astype(np.int64)  # ~15 m³
    base[category == "commercial"] *= 3
    base[category == "industrial"] *= 10
    base[water != "active"] = 0
    start = rng.integers(0, 90_000, n)
    near_top = rng.random(n) < 0.002
    start[near_top] = 99_999 - base[near_top] * (HISTORY + 1) + 3
    codes = [PERIOD.shift(k - HISTORY).code for k in range(HISTORY)]
    with bulk_session(), transaction.atomic(), connection.cursor() as cursor:
        _reference_rows(cursor, routes)
        number = pl.Series(ids).cast(pl.String).str.zfill(8)
        bulk_insert(
            cursor,
            "cadastre_customer",
            pl.DataFrame(
                {
                    "id": ids,
                    "doc_type": ["DNI"] * n,
                    "doc_number": (pl.Series(ids + 40_000_000)).cast(pl.String),
                    "name": ["Cliente " + s for s in number.to_list()],
                    "email": [""] * n,
                    "phone": [""] * n,
                    "mobile": [""] * n,
                    "consent_email": [False] * n,
                    "consent_sms": [False] * n,
                    "created_at": [NOW] * n,
                }
            ),
        )
        bulk_insert(
            cursor,
            "cadastre_property",
            pl.DataFrame(
                {
                    "id": ids,
                    "cadastral_code": ("CAT-" + number).to_list(),
                    "address": ["Av. El Sol " + s for s in number.to_list()],
                    "municipality_id": [1] * n,
                    "zone_id": [1] * n,
                    "sector_id": [1] * n,
                    "route_id": route,
                    "sequence": (ids - 1) % ACCOUNTS_PER_ROUTE * 10 + 10,
                    "municipal_ref": [""] * n,
                }
            ),
        )
        bulk_insert(
            cursor,
            "cadastre_account",
            pl.DataFrame(
                {
                    "id": ids,
                    "number": number,
                    "customer_id": ids,
                    "property_id": ids,
                    "category": category,
                    "units": [1] * n,
                    "segment": np.where(vip, "vip", "regular"),
                    "cycle_id": [1] * n,
                    "opened_on": ["2015-01-01"] * n,
                    "updated_at": [NOW] * n,
                }
            ),
        )
        bulk_insert(
            cursor,
            "cadastre_connection",
            pl.DataFrame(
                {
                    "id": ids,
                    "account_id": ids,
                    "service": ["water"] * n,
                    "status": water,
                    "status_since": ["2020-01-01"] * n,
                }
            ),
        )
        bulk_insert(
            cursor,
            "cadastre_meter",
            pl.DataFrame(
                {
                    "id": ids,
                    "account_id": ids,
                    "serial": ("ZN" + number).to_list(),
                    "brand": ["Zenner"] * n,
                    "diameter": ["1/2"] * n,
                    "digits": [5] * n,
                    "installed_on": ["2015-01-01"] * n,
                    "status": ["installed"] * n,
                }
            ),
        )
        value = start.copy()
        next_id = 1
        for code in codes:
            unread = rng.random(n) < 0.03
            used = rng.poisson(base).astype(np.int64)
            previous = value.copy()
            value = np.where(unread, value, (value + used) % 100_000)
            _insert_readings(
                cursor,
                first_id=next_id,
                account=ids,
                period=code,
                route=route,
                previous=previous,
                value=np.where(unread, -1, value),
                observation=np.where(unread, "no_access", ""),
                status=np.where(rng.random(n) < 0.02, "accepted", "ok"),
                consumption=np.where(unread, base, used),
                rule=np.where(unread, "average", "actual"),
            )
            next_id += n
        # The current period: the mix the critique has to sort out.
        kind = rng.choice(
            ["normal", "absent", "unread", "high", "low", "zero", "below", "problem"],
            n,
            p=[0.855, 0.03, 0.02, 0.03, 0.03, 0.02, 0.005, 0.01],
        )
        used = rng.poisson(base).astype(np.int64)
        used = np.where(kind == "high", base * 4 + 20, used)
        used = np.where(kind == "low", base // 5, used)
        used = np.where(kind == "zero", 0, used)
        current = (value + used) % 100_000
        current = np.where(kind == "below", np.maximum(value - 37, 0), current)
        present = kind != "absent"
        obs = np.select(
            [kind == "unread", kind == "problem"],
            [
                rng.choice(["no_access", "dog", "closed"], n),
                rng.choice(["broken", "illegible", "leak", "self_reconnected"], n),
            ],
            "",
        )
        _insert_readings(
            cursor,
            first_id=next_id,
            account=ids[present],
            period=PERIOD.code,
            route=route[present],
            previous=value[present],
            value=np.where(kind == "unread", -1, current)[present],
            observation=obs[present],
            status=np.full(int(present.sum()), "pending"),
            consumption=np.full(int(present.sum()), -1),
            rule=np.full(int(present.sum()), ""),
        )
        next_id += int(present.sum())
    return {"accounts": n, "readings": next_id - 1}


def _insert_readings(
    cursor: Any,
    *,
    first_id: int,
    account: np.ndarray,
    period: str,
    route: np.ndarray,
    previous: np.ndarray,
    value: np.ndarray,
    observation: np.ndarray,
    status: np.ndarray,
    consumption: np.ndarray,
    rule: np.ndarray,
) -> None:
    m = len(account)
    frame = pl.DataFrame(
        {
            "id": np.arange(first_id, first_id + m, dtype=np.int64),
            "account_id": account,
            "period": [period] * m,
            "route_id": route,
            "meter_id": account,
            "previous_value": previous,
            "value": value,
            "observation": observation,
            "source": ["handheld"] * m,
            "photo": [""] * m,
            "client_uuid": [""] * m,
            "status": status,
            "flags": [""] * m,
            "consumption": consumption,
            "consumption_rule": rule,
            "control_sample": [False] * m,
            "note": [""] * m,
            "updated_at": [NOW] * m,
        }
    ).with_columns(
        pl.when(pl.col("value") < 0).then(None).otherwise(pl.col("value")).alias("value"),
        pl.when(pl.col("consumption") < 0)
        .then(None)
        .otherwise(pl.col("consumption"))
        .alias("consumption"),
    )
    bulk_insert(cursor, "metering_reading", frame)


def _count_readings() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM metering_reading")
        return int(cursor.fetchone()[0])


def reset_current() -> None:
    """Undo a critique of the current period: drop the rows it created, clear the rest."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM metering_reading WHERE period = %s AND source = 'system'", [PERIOD.code]
        )
        cursor.execute(
            "UPDATE metering_reading SET status = 'pending', flags = '', consumption = NULL, "
            "consumption_rule = '', average = NULL, control_sample = %s WHERE period = %s",
            [False, PERIOD.code],
        )


WRITTEN = (
    "status",
    "flags",
    "consumption",
    "consumption_rule",
    "average",
    "previous_value",
    "meter_id",
    "control_sample",
    "updated_at",
)


def _floor(original: list[tuple[Any, ...]], created_from: int) -> float:
    """Put the period's readings back as before the run (untimed), then time the same
    writes with a plain one-row-per-statement ``executemany`` and the commit."""
    cols = ", ".join(WRITTEN)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {cols} FROM metering_reading WHERE period = %s AND id < %s",
            [PERIOD.code, created_from],
        )
        updated = cursor.fetchall()
        cursor.execute(
            "SELECT * FROM metering_reading WHERE period = %s AND id >= %s",
            [PERIOD.code, created_from],
        )
        created = cursor.fetchall()
        columns = [d[0] for d in cursor.description]
    reset = f"UPDATE metering_reading SET {', '.join(f'{c} = %s' for c in WRITTEN)} WHERE id = %s"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(reset, [(*row[1:], row[0]) for row in original])
        cursor.execute("DELETE FROM metering_reading WHERE id >= %s", [created_from])
    update_rows = [(*row[1:], row[0]) for row in updated]
    insert = (
        f"INSERT INTO metering_reading ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "sqlite":
        update_sql = reset.replace("%s", "?")
        insert_sql = insert.replace("%s", "?")
        with Timer() as timer:
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(update_sql, update_rows)
            raw.executemany(insert_sql, created)
            raw.execute("COMMIT")
        return timer.seconds
    with Timer() as timer, raw.cursor() as cur:
        cur.executemany(reset, update_rows)
        cur.executemany(insert, created)
        raw.commit()
    return timer.seconds


@benchmark(
    "reading-critique",
    default_size=200_000,
    description="caudal critique: flag N readings (6 periods of history each), decide consumption",
)
def bench_reading_critique(size: int, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM cadastre_account")
        existing = int(cursor.fetchone()[0])
    if existing:
        # A database kept from an earlier run (``--db PATH``): put the current period
        # back as the readers left it.
        if existing != size:
            raise SystemExit(f"the database has {existing} accounts, not --size {size}")
        reset_current()
        built = {"accounts": size, "readings": _count_readings()}
    else:
        make_utility()
        built = build(size)
    setup_seconds = time.perf_counter() - started
    cols = ", ".join(WRITTEN)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {cols} FROM metering_reading WHERE period = %s", [PERIOD.code])
        original = cursor.fetchall()
        cursor.execute("SELECT MAX(id) FROM metering_reading")
        created_from = int(cursor.fetchone()[0]) + 1
    with Timer() as timer:
        run = run_critique(PERIOD.code, actor="bench")
    counts = run.counts
    floor = _floor(original, created_from)
    return {
        "seconds": timer.seconds,
        "floor_seconds": floor,
        "setup_seconds": round(setup_seconds, 1),
        "readings": counts["readings"],
        "created": counts["created"],
        "updated": counts["updated"],
        "held": counts["statuses"].get("flagged", 0),
        "flags": counts["flags"],
        "timings": counts["timings"],
        "history_rows": built["readings"] - size,
    }
