"""From raw open items and account attributes to the snapshot's frames and files.

No database here: :mod:`caudal.portfolio.extract` reads the raw frames (Arrow-natively) and
:mod:`caudal.portfolio.synthetic` generates them; both end in :func:`build_frames` and
:func:`write_folder`, so a synthetic snapshot is computed exactly as a real one.

Raw items (one row per item open at the end of the date, as of that date)::

    item_id, account_id, document_id: int64; document_kind, concept, side ("D"/"C"): str;
    issue_date, due_date: date; amount, open_amount: int64 (open_amount as of the date);
    blocked: bool (as of the date)
    optional: blocked_since (date), block_case, block_responsible (str) of the block in
    force at the date (null / "" when not blocked; filled in when missing)

Raw accounts (attributes; more accounts than have items is fine)::

    account_id: int64, then schema.ACCOUNT_ATTRIBUTES, holder_name, address

Stages are classified per account (first matching rule, see :func:`rules.classify_stage`)
on the account's collectible days past due and collectible overdue amount (unblocked open
debits) and its segment; the same rule is applied column-wise here and proven equal to the
scalar rule by the tests.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl

from . import rules, schema

#: Parquet compression of the snapshot files (fast to write, read by DuckDB, Spark, Trino).
COMPRESSION: Final[Literal["lz4"]] = "lz4"


@dataclass(frozen=True)
class Policies:
    """The stage rules and age buckets a snapshot is computed with."""

    stage_rules: tuple[rules.StageRuleSpec, ...]
    bounds: tuple[int, ...] = rules.DEFAULT_BOUNDS
    light_from: int = 31
    heavy_from: int = 181
    ddr_from: int = 361
    stage_policy: str = ""  # e.g. "CO v1", for the manifest
    aging_policy: str = ""

    def __post_init__(self) -> None:
        rules.check_stage_rules(self.stage_rules)
        rules.check_bounds(self.bounds)

    @property
    def bucket_codes(self) -> list[str]:
        return rules.bucket_codes(self.bounds)


@dataclass
class Frames:
    on: date
    items: pl.DataFrame
    accounts: pl.DataFrame
    cube: pl.DataFrame
    bucket_codes: list[str]
    totals: dict[str, int] = field(default_factory=dict)


RAW_ITEM_SCHEMA: dict[str, Any] = {
    "item_id": pl.Int64,
    "account_id": pl.Int64,
    "document_id": pl.Int64,
    "document_kind": pl.String,
    "concept": pl.String,
    "side": pl.String,
    "issue_date": pl.Date,
    "due_date": pl.Date,
    "amount": pl.Int64,
    "open_amount": pl.Int64,
    "blocked": pl.Boolean,
}
RAW_ACCOUNT_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64,
    "account_number": pl.String,
    "category": pl.String,
    "stratum": pl.Int16,
    "segment": pl.String,
    "cycle": pl.String,
    "zone": pl.String,
    "municipality": pl.String,
    "sector": pl.String,
    "route": pl.String,
    "holder_name": pl.String,
    "address": pl.String,
}


def _bucket_expr(days: pl.Expr, bounds: Sequence[int]) -> pl.Expr:
    codes = rules.bucket_codes(bounds)
    expr: Any = pl.when(days <= bounds[0]).then(pl.lit(codes[0]))
    for code, bound in zip(codes[1:], bounds[1:], strict=False):
        expr = expr.when(days <= bound).then(pl.lit(code))
    return expr.otherwise(pl.lit(codes[-1]))


def _bucket_ranges(bounds: Sequence[int]) -> list[pl.Expr]:
    """One condition per bucket on ``days_past_due`` (integers: cheaper than comparing the
    bucket code strings), in the order of :func:`rules.bucket_codes`."""
    days = pl.col("days_past_due")
    conds = [days <= bounds[0]]
    for low, high in itertools.pairwise(bounds):
        conds.append((days > low) & (days <= high))
    conds.append(days > bounds[-1])
    return conds


def _age_class_expr(days: pl.Expr, p: Policies) -> pl.Expr:
    return (
        pl.when(days <= 0)
        .then(pl.lit("current"))
        .when(days >= p.ddr_from)
        .then(pl.lit("ddr"))
        .when(days >= p.heavy_from)
        .then(pl.lit("heavy"))
        .when(days >= p.light_from)
        .then(pl.lit("light"))
        .otherwise(pl.lit("early"))
    )


def _stage_order_expr(p: Policies) -> pl.Expr:
    """The order of the first matching rule, column-wise (see rules.StageRuleSpec.matches)."""
    ordered = rules.check_stage_rules(p.stage_rules)
    days, amount, segment = (
        pl.col("collectible_days"),
        pl.col("collectible_overdue"),
        pl.col("segment"),
    )
    expr: Any = None
    for rule in ordered:
        cond = days >= rule.min_days
        if rule.max_days is not None:
            cond = cond & (days <= rule.max_days)
        if rule.min_amount:
            cond = cond & (amount >= rule.min_amount)
        if rule.segment:
            cond = cond & (segment.fill_null("") == rule.segment)
        expr = (pl.when(cond) if expr is None else expr.when(cond)).then(pl.lit(rule.order))
    return expr.otherwise(pl.lit(ordered[-1].order))


def build_frames(
    on: date,
    items: pl.DataFrame,
    accounts: pl.DataFrame,
    policies: Policies,
    previous_stages: pl.DataFrame | None = None,
) -> Frames:
    """Compute the snapshot's items, accounts and cube frames (see :mod:`schema`).

    ``previous_stages`` (account_id, stage) is the previous snapshot's stage per account.
    Items with ``open_amount <= 0`` are dropped (not open at the date).
    """
    codes = policies.bucket_codes
    aged = schema.bucket_columns(codes)
    debit = pl.col("side") == "D"
    raw = items.lazy()
    present = set(items.columns)
    raw = raw.with_columns(
        *(
            []
            if "blocked_since" in present
            else [pl.lit(None, dtype=pl.Date).alias("blocked_since")]
        ),
        *([pl.lit("").alias(c) for c in ("block_case", "block_responsible") if c not in present]),
    ).with_columns(
        pl.when(pl.col("blocked")).then(pl.col("blocked_since")).alias("blocked_since"),
        pl.when(pl.col("blocked"))
        .then(pl.col("block_case").fill_null(""))
        .otherwise(pl.lit(""))
        .alias("block_case"),
        pl.when(pl.col("blocked"))
        .then(pl.col("block_responsible").fill_null(""))
        .otherwise(pl.lit(""))
        .alias("block_responsible"),
    )
    it = (
        raw.filter(pl.col("open_amount") > 0)
        .with_columns(
            pl.lit(on).alias("snapshot_date"),
            pl.when(debit)
            .then(pl.max_horizontal(pl.lit(0), (pl.lit(on) - pl.col("due_date")).dt.total_days()))
            .otherwise(0)
            .cast(pl.Int32)
            .alias("days_past_due"),
            pl.when(debit)
            .then(pl.col("open_amount"))
            .otherwise(-pl.col("open_amount"))
            .alias("signed_amount"),
        )
        .with_columns(
            pl.when(debit)
            .then(_bucket_expr(pl.col("days_past_due"), policies.bounds))
            .otherwise(pl.lit(rules.CREDIT_BUCKET))
            .alias("bucket")
        )
    )
    # Computed once: both the accounts and the items are made from it.
    it_sorted = it.sort(["account_id", "due_date", "item_id"]).collect()
    it = it_sorted.lazy()
    d_open = pl.when(debit).then(pl.col("open_amount")).otherwise(0)
    overdue = debit & (pl.col("days_past_due") >= 1)
    unblocked = ~pl.col("blocked")
    per_account = it.group_by("account_id").agg(
        pl.len().cast(pl.Int32).alias("items"),
        d_open.sum().alias("debit_open"),
        pl.when(~debit).then(pl.col("open_amount")).otherwise(0).sum().alias("credit_open"),
        pl.when(overdue).then(pl.col("open_amount")).otherwise(0).sum().alias("overdue"),
        pl.when(debit & pl.col("blocked"))
        .then(pl.col("open_amount"))
        .otherwise(0)
        .sum()
        .alias("blocked_amount"),
        (debit & pl.col("blocked")).sum().cast(pl.Int32).alias("blocked_items"),
        pl.when(overdue & unblocked)
        .then(pl.col("open_amount"))
        .otherwise(0)
        .sum()
        .alias("collectible_overdue"),
        pl.when(debit)
        .then(pl.col("days_past_due"))
        .otherwise(0)
        .max()
        .cast(pl.Int32)
        .alias("max_days_past_due"),
        pl.when(debit & unblocked)
        .then(pl.col("days_past_due"))
        .otherwise(0)
        .max()
        .cast(pl.Int32)
        .alias("collectible_days"),
        (debit & (pl.col("document_kind") == "agreement")).any().alias("in_agreement"),
        *[
            pl.when(debit & in_bucket).then(pl.col("open_amount")).otherwise(0).sum().alias(col)
            for in_bucket, col in zip(_bucket_ranges(policies.bounds), aged, strict=True)
        ],
    )
    rule_table = pl.DataFrame(
        {
            "stage_order": [r.order for r in policies.stage_rules],
            "stage": [r.stage for r in policies.stage_rules],
            "stage_name": [r.name for r in policies.stage_rules],
            "responsible": [r.responsible for r in policies.stage_rules],
        },
        schema={
            "stage_order": pl.Int64,
            "stage": pl.String,
            "stage_name": pl.String,
            "responsible": pl.String,
        },
    ).lazy()
    acc = (
        per_account.join(
            accounts.lazy().cast(RAW_ACCOUNT_SCHEMA, strict=False),  # type: ignore[arg-type]
            on="account_id",
            how="left",
        )
        .with_columns(
            pl.lit(on).alias("snapshot_date"),
            (pl.col("debit_open") - pl.col("credit_open")).alias("balance"),
            _bucket_expr(pl.col("max_days_past_due"), policies.bounds).alias("bucket"),
            _age_class_expr(pl.col("max_days_past_due"), policies).alias("age_class"),
            pl.when(pl.col("max_days_past_due") == 0)
            .then(pl.lit("vigente"))
            .otherwise(pl.lit("vencida"))
            .alias("testigo"),
            _stage_order_expr(policies).cast(pl.Int64).alias("stage_order"),
            pl.col("credit_open").alias("credit_amount"),
        )
        .join(rule_table, on="stage_order", how="left")
    )
    if previous_stages is not None and previous_stages.height:
        prev = previous_stages.lazy().select(
            pl.col("account_id").cast(pl.Int64), pl.col("stage").alias("previous_stage")
        )
        acc = acc.join(prev, on="account_id", how="left")
    else:
        acc = acc.with_columns(pl.lit(None, dtype=pl.String).alias("previous_stage"))
    acc = acc.with_columns(pl.col("previous_stage").fill_null(""))
    account_cols = [c for c in schema.ACCOUNT_COLUMNS] + aged + ["credit_amount"]
    accounts_df = acc.select(account_cols).sort("account_id").collect()

    attrs = accounts_df.lazy().select(
        "account_id", *schema.ACCOUNT_ATTRIBUTES, "stage", "responsible"
    )
    # The items are sorted before the attributes are joined (a narrower sort) and the join
    # keeps that order.
    items_df = (
        it_sorted.lazy()
        .join(attrs, on="account_id", how="left", maintain_order="left")
        .select(list(schema.ITEM_COLUMNS))
        .collect()
    )
    cube = (
        accounts_df.lazy()
        .group_by(list(schema.CUBE_DIMENSIONS))
        .agg(
            pl.len().cast(pl.Int64).alias("accounts"),
            *[pl.col(m).sum().cast(pl.Int64) for m in schema.CUBE_MEASURES if m != "accounts"],
            *[pl.col(c).sum() for c in aged],
            pl.col("credit_amount").sum(),
        )
        .sort(list(schema.CUBE_DIMENSIONS), nulls_last=True)
        .collect()
    )
    totals = {
        "items": items_df.height,
        "accounts": accounts_df.height,
        "debit_open": int(accounts_df["debit_open"].sum() or 0),
        "credit_open": int(accounts_df["credit_open"].sum() or 0),
        "balance": int(accounts_df["balance"].sum() or 0),
        "overdue": int(accounts_df["overdue"].sum() or 0),
        "blocked": int(accounts_df["blocked_amount"].sum() or 0),
    }
    return Frames(
        on=on, items=items_df, accounts=accounts_df, cube=cube, bucket_codes=codes, totals=totals
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_folder(
    folder: Path, frames: Frames, policies: Policies, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write items, accounts and cube Parquet files and ``manifest.json`` into ``folder``
    (created if missing; files of the same name are overwritten). Returns the manifest.

    Other files already in the folder (the flows) are listed in the manifest too.
    """
    folder.mkdir(parents=True, exist_ok=True)
    frames.items.write_parquet(folder / schema.ITEMS, compression=COMPRESSION, statistics=True)
    frames.accounts.write_parquet(
        folder / schema.ACCOUNTS, compression=COMPRESSION, statistics=True
    )
    frames.cube.write_parquet(folder / schema.CUBE, compression=COMPRESSION, statistics=True)
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.glob("*.parquet"))
    }
    manifest: dict[str, Any] = {
        "date": frames.on.isoformat(),
        "stage_policy": policies.stage_policy,
        "aging_policy": policies.aging_policy,
        "bounds": list(policies.bounds),
        "bucket_codes": frames.bucket_codes,
        "bucket_columns": schema.bucket_columns(frames.bucket_codes),
        "age_class_days": {
            "light": policies.light_from,
            "heavy": policies.heavy_from,
            "ddr": policies.ddr_from,
        },
        "stages": [
            {"order": r.order, "stage": r.stage, "name": r.name, "responsible": r.responsible}
            for r in policies.stage_rules
        ],
        "totals": frames.totals,
        "files": files,
        **(extra or {}),
    }
    (folder / schema.MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False), encoding="utf-8"
    )
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((folder / schema.MANIFEST).read_text(encoding="utf-8"))
    return result
