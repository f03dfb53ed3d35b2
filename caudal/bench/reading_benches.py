"""``caudal bench reading-progress --size N``: the supervisors' progress page at scale.

Setup (not timed): the accounts and readings of ``critique_benches.build`` (N metered
accounts, 400 per route, six periods of history and the current period's readings), the
routes spread over 20 cycles (a realistic utility: one cycle read per working day), a
calendar row per cycle for the period, the reading times set.

Timed:

- ``seconds``: one htmx poll of the progress table of one cycle (``reading_progress``
  with the caches warm: the grouped query over that cycle's routes and the small
  look-ups), median of 20;
- ``grouped_query_p50_ms``: the grouped query alone;
- ``cold_seconds``: the first poll, which also fills the caches: the accounts to read per
  route (``route_totals_seconds``, kept 5 min) and the counts per route of the whole period
  for the cycle cards (``cycle_counts_seconds``, kept 1 min);
- ``floor_seconds``: ``SELECT route_id, COUNT(*) ... GROUP BY route_id`` over the same
  routes (index only), median of 20.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction

from caudal.bench.critique_benches import PERIOD, build
from caudal.bench.harness import benchmark
from caudal.cadastre.imports import keys_condition, keys_param
from caudal.metering.progress import cycle_counts, grouped, reading_progress, route_totals

CYCLES = 20
POLLS = 20


def _spread_over_cycles() -> list[int]:
    """Routes → 20 cycles (round robin); a calendar row per cycle; returns C01's routes.
    (Accounts keep cycle C01: the progress page goes by the route's cycle.)"""
    with transaction.atomic(), connection.cursor() as cursor:
        for k in range(2, CYCLES + 1):
            cursor.execute(
                "INSERT INTO cadastre_cycle (id, code, name, reading_day, billing_day, due_days) "
                "VALUES (%s, %s, %s, 18, 6, 20)",
                [k, f"C{k:02d}", f"Ciclo {k}"],
            )
        cursor.execute(f"UPDATE cadastre_route SET cycle_id = ((id - 1) % {CYCLES}) + 1")
        for k in range(1, CYCLES + 1):
            cursor.execute(
                "INSERT INTO metering_readingcalendar (cycle_id, period, months, read_from, "
                "read_to, critique_from, critique_to, billing_date, due_date, "
                "cut_warning_date, edited, closed) VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s)",
                [
                    k,
                    PERIOD.code,
                    PERIOD.day(18),
                    PERIOD.day(23),
                    PERIOD.day(24),
                    PERIOD.day(30),
                    PERIOD.next().day(6),
                    PERIOD.next().day(26),
                    PERIOD.next().day(26),
                    False,
                    False,
                ],
            )
        cursor.execute(
            "UPDATE metering_reading SET read_at = %s WHERE period = %s",
            [f"{PERIOD.day(20).isoformat()} 10:00:00", PERIOD.code],
        )
        cursor.execute("SELECT id FROM cadastre_route WHERE cycle_id = 1 ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def _median(fn: Any, n: int = POLLS) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@benchmark(
    "reading-progress",
    default_size=2_300_000,
    description="reading progress page poll (one cycle of 20) over N accounts' readings",
)
def bench_reading_progress(size: int, workdir: Path) -> dict[str, Any]:
    built = build(size)
    routes = _spread_over_cycles()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "ANALYZE metering_reading")
    cache.clear()
    started = time.perf_counter()
    route_totals(PERIOD.code)
    totals_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cycle_counts(PERIOD.code)
    cycle_seconds = time.perf_counter() - started
    cache.clear()
    started = time.perf_counter()
    first = reading_progress(PERIOD.code, cycle="C01")
    cold = time.perf_counter() - started
    poll = _median(lambda: reading_progress(PERIOD.code, cycle="C01"))
    query = _median(lambda: grouped(PERIOD.code, routes))

    def floor() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT route_id, COUNT(*) FROM metering_reading WHERE period = %s AND "
                + keys_condition("route_id")
                + " GROUP BY route_id",
                [PERIOD.code, keys_param(routes)],
            )
            cursor.fetchall()

    floor_seconds = _median(floor)
    shown = sum(r.total for r in first.routes)
    return {
        "seconds": round(poll, 4),
        "floor_seconds": round(floor_seconds, 4),
        "cold_seconds": round(cold, 3),
        "route_totals_seconds": round(totals_seconds, 3),
        "cycle_counts_seconds": round(cycle_seconds, 3),
        "grouped_query_p50_ms": round(query * 1000, 2),
        "routes_shown": len(first.routes),
        "accounts_shown": shown,
        "readings": built["readings"],
        "accounts": built["accounts"],
    }
