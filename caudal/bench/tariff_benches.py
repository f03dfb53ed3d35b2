"""Benchmark of the vectorised tariff pricing: ``caudal bench tariff-pricing --size N``.

Builds N synthetic accounts in memory (not timed) with a realistic mix — mostly domestic
accounts of one unit consuming 0–60 m³, some multi-unit, commercial up to a few thousand
m³, a few industrial and state accounts — and times ``price_accounts`` on the SEDAPAL 2015
example (monthly) and on the Colombian example (bimonthly, strata 1–6, two municipalities).
``seconds`` is the Peruvian run; ``co_seconds`` the Colombian one; ``cpu_seconds`` and
``co_cpu_seconds`` the process CPU time of each (all threads), which a busy machine does not
inflate the way it inflates wall time. No database work: the
billing run's budget for 2.3 M accounts is 5 minutes end to end, pricing must take seconds.

``distinct_keys`` counts the distinct (category, stratum, municipality, altitude) tuples
resolved with the scalar rules; everything per account is numpy integer arithmetic.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from caudal.bench.harness import benchmark
from caudal.tariffs.pricing import price_accounts
from caudal.tariffs.testing import COLOMBIA, SEDAPAL, example_tariff

SEED = 20261123
CATEGORIES = np.array(["domestic", "social", "commercial", "industrial", "state"])
WEIGHTS = np.array([0.85, 0.03, 0.09, 0.01, 0.02])


def accounts_frame(size: int, *, colombia: bool = False, seed: int = SEED) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cat = rng.choice(len(CATEGORIES), size=size, p=WEIGHTS)
    scale = np.array([18.0, 12.0, 90.0, 900.0, 120.0])[cat]
    consumption = np.floor(rng.gamma(1.6, scale / 1.6)).astype(np.int64)
    consumption[rng.random(size) < 0.04] = 0
    units = np.where(rng.random(size) < 0.08, rng.integers(2, 9, size), 1)
    stratum = rng.choice([1, 2, 3, 4, 5, 6], size=size, p=[0.1, 0.35, 0.3, 0.12, 0.08, 0.05])
    residential = cat <= 1
    frame = pl.DataFrame(
        {
            "account_id": np.arange(1, size + 1, dtype=np.int64),
            "category": CATEGORIES[cat],
            "stratum": np.where(residential & colombia, stratum, 0),
            "units": units.astype(np.int64),
            "municipality_code": np.where(rng.random(size) < 0.9, "11001", "25754"),
            "consumption_m3": consumption,
            "water": rng.random(size) < 0.995,
            "sewer": rng.random(size) < 0.93,
        }
    )
    return frame.with_columns(
        pl.when(pl.col("stratum") > 0).then(pl.col("stratum")).alias("stratum"),
        pl.lit(None, pl.Int64).alias("altitude_m"),
    )


@benchmark(
    "tariff-pricing",
    default_size=2_300_000,
    description="vectorised tariff pricing of N accounts (SEDAPAL monthly, Colombian bimonthly)",
)
def tariff_pricing(size: int, workdir: Path) -> dict[str, Any]:
    pe, co = example_tariff(SEDAPAL), example_tariff(COLOMBIA)
    pe_accounts = accounts_frame(size)
    co_accounts = accounts_frame(size, colombia=True)
    start, cpu = time.perf_counter(), time.process_time()
    pe_lines = price_accounts(pe_accounts, pe, months=1)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    co_lines = price_accounts(co_accounts, co, months=2, on=date(2025, 3, 1))
    co_seconds, co_cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    keys = ["category", "stratum", "municipality_code", "altitude_m"]
    return {
        "seconds": seconds,
        "cpu_seconds": round(cpu_seconds, 3),
        "lines": pe_lines.height,
        "billed_total": int(pe_lines["amount"].sum()),
        "co_seconds": round(co_seconds, 3),
        "co_cpu_seconds": round(co_cpu_seconds, 3),
        "co_lines": co_lines.height,
        "co_rate_per_s": round(size / co_seconds, 1) if co_seconds else None,
        "distinct_keys": co_accounts.select(keys).n_unique(),
    }
