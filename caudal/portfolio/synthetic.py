"""Schema-true synthetic snapshots, without a database: for the dashboard benchmark at 20
million items, and for tests of the pages that read snapshots.

The raw items and accounts are drawn with numpy (vectorised, seeded) and go through the same
:func:`build.build_frames` and :func:`build.write_folder` as a real snapshot, so every
derived column (buckets, stages, cube) is computed by the production code.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import build, rules, schema

CATEGORIES = ("domestic", "domestic", "domestic", "domestic", "commercial", "social", "state")
DOC_KINDS = ("bill", "bill", "bill", "bill", "bill", "fee", "interest", "agreement", "opening")
CONCEPTS = ("water", "sewer", "fixed", "tax", "other")

#: Colombian default stages (the same as the data migration), for synthetic snapshots.
CO_STAGES: tuple[rules.StageRuleSpec, ...] = (
    rules.StageRuleSpec(1, "coactiva", "Cobro coactivo", 361, None, 0, "", "Jurisdicción Coactiva"),
    rules.StageRuleSpec(2, "persuasiva", "Cobro persuasivo", 91, 360, 0, "", "Cobro persuasivo"),
    rules.StageRuleSpec(3, "prejuridica", "Cobro prejurídico", 31, 90, 0, "", "Cobro prejurídico"),
    rules.StageRuleSpec(4, "current", "Cartera corriente", 0, None, 0, "", "Dirección comercial"),
)


def default_policies() -> build.Policies:
    return build.Policies(stage_rules=CO_STAGES, stage_policy="CO v1 (sintética)")


def raw_frames(
    on: date, *, accounts: int, items_per_account: float = 8.7, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Raw items and accounts (see :mod:`build`): ``accounts`` accounts and about
    ``accounts × items_per_account`` open items, 3 % of them credits, 1 % blocked."""
    rng = np.random.default_rng(seed)
    n_acc = accounts
    account_id = np.arange(1, n_acc + 1, dtype=np.int64)
    zones = np.array([f"Z{z:02d}" for z in range(1, 21)])
    munis = np.array([f"M{m:02d}" for m in range(1, 6)])
    cycles = np.array([f"C{c:02d}" for c in range(1, 11)])
    zone_idx = rng.integers(0, len(zones), n_acc)
    category = np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), n_acc)]
    stratum = np.where(category == "domestic", rng.integers(1, 7, n_acc), 0).astype(np.int16)
    acc = pl.DataFrame(
        {
            "account_id": account_id,
            "account_number": [f"{10000000 + i}" for i in range(1, n_acc + 1)],
            "category": category,
            "stratum": stratum,
            "segment": np.where(rng.random(n_acc) < 0.01, "vip", "regular"),
            "cycle": cycles[rng.integers(0, len(cycles), n_acc)],
            "zone": zones[zone_idx],
            "municipality": munis[zone_idx % len(munis)],
            "sector": np.char.add("S", (zone_idx * 3 + rng.integers(0, 3, n_acc)).astype(str)),
            "route": np.char.add("R", rng.integers(1, 400, n_acc).astype(str)),
            "holder_name": np.char.add("Titular ", account_id.astype(str)),
            "address": np.char.add("Calle ", rng.integers(1, 200, n_acc).astype(str)),
        }
    ).with_columns(pl.col("stratum").replace(0, None))
    # Items per account: geometric-ish, mean items_per_account.
    counts = rng.poisson(items_per_account, n_acc)
    counts[counts == 0] = 1
    n_items = int(counts.sum())
    owner = np.repeat(account_id, counts)
    # Age: most accounts current, a long tail of arrears (days past due up to 6 years).
    debtor_age = rng.choice(
        [0, 15, 45, 75, 130, 270, 500, 1200],
        size=n_acc,
        p=[0.55, 0.12, 0.09, 0.06, 0.06, 0.05, 0.04, 0.03],
    )
    age = np.repeat(debtor_age, counts) - rng.integers(0, 30, n_items)
    due = np.datetime64(on) - age.astype("timedelta64[D]")
    issue = due - np.timedelta64(20, "D")
    issue = np.minimum(issue, np.datetime64(on))
    side = np.where(rng.random(n_items) < 0.03, "C", "D")
    amount = rng.integers(500, 25000, n_items).astype(np.int64)
    paid = rng.random(n_items) < 0.1
    open_amount = np.where(paid, amount // 2, amount)
    items = pl.DataFrame(
        {
            "item_id": np.arange(1, n_items + 1, dtype=np.int64),
            "account_id": owner,
            "document_id": (np.arange(n_items, dtype=np.int64) // 4) + 1,
            "document_kind": np.array(DOC_KINDS)[rng.integers(0, len(DOC_KINDS), n_items)],
            "concept": np.array(CONCEPTS)[rng.integers(0, len(CONCEPTS), n_items)],
            "side": side,
            "issue_date": issue.astype("datetime64[D]"),
            "due_date": due.astype("datetime64[D]"),
            "amount": amount,
            "open_amount": open_amount,
            "blocked": rng.random(n_items) < 0.01,
        }
    ).with_columns(
        pl.when(pl.col("side") == "C")
        .then(pl.lit("payment"))
        .otherwise(pl.col("document_kind"))
        .alias("document_kind"),
        pl.when(pl.col("side") == "C")
        .then(pl.lit("payment"))
        .otherwise(pl.col("concept"))
        .alias("concept"),
        pl.col("issue_date").cast(pl.Date),
        pl.col("due_date").cast(pl.Date),
    )
    return items, acc


def months_frame(on: date, *, accounts: int, seed: int = 0) -> pl.DataFrame:
    """A plausible ``months.parquet``: 13 months of billing and collections."""
    rng = np.random.default_rng(seed + 7)
    first = date(on.year, on.month, 1)
    months = []
    for back in range(12, -1, -1):
        y, m = first.year, first.month - back
        while m <= 0:
            y, m = y - 1, m + 12
        months.append(date(y, m, 1))
    billed = (accounts * 4200 * (1 + 0.05 * rng.standard_normal(13))).astype(np.int64)
    current = (billed * rng.uniform(0.70, 0.85, 13)).astype(np.int64)
    arrears = (billed * rng.uniform(0.08, 0.2, 13)).astype(np.int64)
    return pl.DataFrame(
        {
            "month": months,
            "billed": billed,
            "collected": current + arrears,
            "collected_current": current,
            "collected_arrears": arrears,
        }
    )


def write_folder(
    folder: Path,
    *,
    on: date,
    accounts: int,
    items_per_account: float = 8.7,
    seed: int = 0,
    policies: build.Policies | None = None,
    previous_stages: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """Write a synthetic snapshot folder for ``on`` (items, accounts, cube, months,
    manifest). Returns the manifest."""
    policies = policies or default_policies()
    items, acc = raw_frames(on, accounts=accounts, items_per_account=items_per_account, seed=seed)
    frames = build.build_frames(on, items, acc, policies, previous_stages)
    folder.mkdir(parents=True, exist_ok=True)
    months_frame(on, accounts=accounts, seed=seed).write_parquet(folder / schema.MONTHS)
    return build.write_folder(folder, frames, policies, {"kind": "synthetic", "seed": seed})


def month_ends(last: date, count: int) -> list[date]:
    """The ``count`` month ends up to ``last`` (a month end), oldest first."""
    out = [last]
    while len(out) < count:
        first = out[-1].replace(day=1)
        out.append(first - timedelta(days=1))
    return list(reversed(out))


def write_series(
    root: Path, *, last: date, months: int = 12, accounts: int, seed: int = 0
) -> list[Path]:
    """Monthly synthetic snapshots (one folder per month end under ``root``), each with the
    previous month's stages, for trends and period comparisons."""
    folders: list[Path] = []
    previous: pl.DataFrame | None = None
    for i, on in enumerate(month_ends(last, months)):
        folder = root / on.isoformat()
        write_folder(folder, on=on, accounts=accounts, seed=seed + i, previous_stages=previous)
        previous = pl.read_parquet(folder / schema.ACCOUNTS, columns=["account_id", "stage"])
        folders.append(folder)
    return folders
