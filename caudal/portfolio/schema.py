"""The snapshot folder: file names and columns. Other modules code against these names.

``settings.CAUDAL_SNAPSHOT_DIR / "YYYY-MM-DD" /``:

``items.parquet``
    One row per open item (debit or credit) as of the cut-off date, with its account's
    attributes and the account's stage. Sorted by ``account_id, due_date, item_id``.
``accounts.parquet``
    One row per account with at least one open item as of the date: totals, age bucket
    amounts (one column per bucket, names from :func:`bucket_columns`), stage, testigo.
    Sorted by ``account_id`` (so a lookup by account reads one row group).
``cube.parquet``
    ``accounts.parquet`` grouped by every dimension in :data:`CUBE_DIMENSIONS`, with the
    additive measures :data:`CUBE_MEASURES` plus the bucket columns. Dashboards and the
    follow-ups read this (tens of thousands of rows) instead of the detail.
``recaudo.parquet`` / ``agreements.parquet`` / ``months.parquet``
    Flows of the period, written by :mod:`caudal.portfolio.flows` (see its docstring).
``manifest.json``
    Date, kind, engine, policies used, the bucket columns, row counts and totals, the
    seconds each step took, and the SHA-256 of every file.

Amounts are integer minor units (int64). Dates are Arrow ``date32``.
"""

from __future__ import annotations

from collections.abc import Sequence

ITEMS = "items.parquet"
ACCOUNTS = "accounts.parquet"
CUBE = "cube.parquet"
RECAUDO = "recaudo.parquet"
AGREEMENTS = "agreements.parquet"
MONTHS = "months.parquet"
MANIFEST = "manifest.json"

#: Account attributes copied onto items and accounts (codes, not names: names are looked
#: up when displayed). ``category`` is the use (uso), ``stratum`` null outside Colombia.
ACCOUNT_ATTRIBUTES: tuple[str, ...] = (
    "account_number",
    "category",
    "stratum",
    "segment",
    "cycle",
    "zone",
    "municipality",
    "sector",
    "route",
)

ITEM_COLUMNS: tuple[str, ...] = (
    "snapshot_date",  # date32
    "item_id",  # int64
    "account_id",  # int64
    "document_id",  # int64
    "document_kind",  # ledger DocumentKind value
    "concept",  # ledger Concept value
    "side",  # "D" debit (owed) / "C" credit (unapplied money or credit note)
    "issue_date",  # date32
    "due_date",  # date32
    "amount",  # int64, the item's original amount (positive)
    "open_amount",  # int64, open at the end of the cut-off date (positive)
    "signed_amount",  # int64, +open_amount for debits, -open_amount for credits
    "days_past_due",  # int32, max(0, date - due_date) for debits; 0 for credits
    "bucket",  # bucket code of days_past_due (see rules.bucket_codes); "credit" for credits
    "blocked",  # bool, blocked (partida bloqueada) at the end of the date
    "blocked_since",  # date32, effective date of the block in force (null when not blocked)
    "block_case",  # complaint / case reference of that block ("" when none)
    "block_responsible",  # who handles the complaint, from the block event ("" when none)
    *ACCOUNT_ATTRIBUTES,
    "stage",  # the account's stage code
    "responsible",  # the account's stage's responsible unit
)

ACCOUNT_COLUMNS: tuple[str, ...] = (
    "snapshot_date",
    "account_id",
    *ACCOUNT_ATTRIBUTES,
    "holder_name",
    "address",
    "items",  # int32, open items (debits and credits)
    "debit_open",  # int64
    "credit_open",  # int64 (positive)
    "balance",  # int64, debit_open - credit_open
    "overdue",  # int64, open debits with days_past_due >= 1 (blocked included)
    "blocked_amount",  # int64, open debits blocked at the date
    "blocked_items",  # int32
    "collectible_overdue",  # int64, overdue and not blocked (what the stage rules use)
    "max_days_past_due",  # int32, oldest open debit (blocked included)
    "collectible_days",  # int32, oldest unblocked open debit (what the stage rules use)
    "bucket",  # bucket code of max_days_past_due
    "age_class",  # rules.AGE_CLASSES: current, early, light, heavy, ddr
    "testigo",  # "vigente" (max_days_past_due == 0) or "vencida"
    "stage",
    "stage_name",
    "responsible",
    "previous_stage",  # stage in the previous snapshot ("" when none or not open then)
    "in_agreement",  # bool, has open items of an agreement document (convenio)
    # ... then one int64 column per bucket: bucket_columns(bounds), then "credit_amount".
)

#: Dimensions of ``cube.parquet`` (all of them are account-level).
CUBE_DIMENSIONS: tuple[str, ...] = (
    "stage",
    "responsible",
    "bucket",
    "age_class",
    "testigo",
    "category",
    "stratum",
    "segment",
    "cycle",
    "zone",
    "municipality",
    "in_agreement",
)
#: Additive measures of ``cube.parquet`` (accounts = number of accounts in the group).
CUBE_MEASURES: tuple[str, ...] = (
    "accounts",
    "items",
    "debit_open",
    "credit_open",
    "balance",
    "overdue",
    "blocked_amount",
    "blocked_items",
    "collectible_overdue",
)


#: ``months.parquet``: one row per month (the 13 months up to the cut-off date), int64
#: amounts. ``collected_current`` was applied to items not past due when paid,
#: ``collected_arrears`` to items past due; ``collected`` is their sum.
MONTH_COLUMNS: tuple[str, ...] = (
    "month",  # date32, first day of the month
    "billed",
    "collected",
    "collected_current",
    "collected_arrears",
)


def bucket_column(code: str) -> str:
    """Column name of a bucket's amount: ``"1-30"`` → ``"aged_1_30"``, ``">360"`` →
    ``"aged_over_360"``."""
    return "aged_" + code.replace(">", "over_").replace("-", "_")


def bucket_columns(codes: Sequence[str]) -> list[str]:
    return [bucket_column(c) for c in codes]
