"""The demo frames in the column layout of the import files (``docs/formats.md``).

``caudal.cadastre.imports.COLUMNS`` and the legacy balances columns of
``caudal.ledger.imports`` are the contract; the generator's own column names are mapped
here so that a change of format touches one file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from .generator import DemoData

#: cadastre CSV column → generator column (or expression)
CADASTRE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("account_number", "account_number"),
    ("customer_doc_type", "doc_type"),
    ("customer_doc_number", "doc_number"),
    ("customer_name", "customer_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("mobile", "mobile"),
    ("consent_email", "consent_email"),
    ("consent_sms", "consent_sms"),
    ("consent_date", "consent_date"),
    ("cadastral_code", "cadastral_code"),
    ("address", "address"),
    ("municipality_code", "municipality"),
    ("municipality_name", "municipality_name"),
    ("zone_code", "zone"),
    ("sector_code", "sector"),
    ("route_code", "route"),
    ("cycle_code", "cycle"),
    ("sequence", "sequence"),
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("category", "category"),
    ("units", "units"),
    ("stratum", "stratum"),
    ("segment", "segment"),
    ("opened_on", "opened_on"),
    ("water_status", "water_status"),
    ("water_status_since", "water_since"),
    ("sewer_status", "sewer_status"),
    ("sewer_status_since", "sewer_since"),
    ("meter_serial", "meter_serial"),
    ("meter_brand", "meter_brand"),
    ("meter_diameter", "meter_diameter"),
    ("meter_digits", "meter_digits"),
    ("meter_installed_on", "meter_installed_on"),
)

BALANCES_COLUMNS = (
    "account_number",
    "document_reference",
    "document_kind",
    "concept",
    "issue_date",
    "due_date",
    "amount",
)


def cadastre_frame(demo: DemoData) -> pl.DataFrame:
    names = demo.topology.municipalities.select(
        pl.col("code").alias("municipality"), pl.col("name").alias("municipality_name")
    )
    frame = demo.accounts.join(names, on="municipality", how="left", maintain_order="left")
    frame = frame.with_columns(
        pl.col("consent_email").cast(pl.Int8),
        pl.col("consent_sms").cast(pl.Int8),
        pl.when(pl.col("sewer_status") == "")
        .then(None)
        .otherwise(pl.col("sewer_since"))
        .alias("sewer_since"),
    )
    frame = frame.select([pl.col(src).alias(dst) for dst, src in CADASTRE_COLUMNS])
    # empty text is written as an empty field, not as ""
    return frame.with_columns(pl.col(pl.String).replace("", None))


def balances_frame(demo: DemoData) -> pl.DataFrame:
    from .generator import money_text

    # bills of the window keep their kind; consolidated older debt and credits are opening
    # balances of the migration
    kind = (
        pl.when(pl.col("legacy") | (pl.col("concept") == "credit"))
        .then(pl.lit("opening"))
        .otherwise(pl.lit("bill"))
    )
    return demo.balances.select(
        "account_number",
        "document_reference",
        kind.alias("document_kind"),
        "concept",
        "issue_date",
        "due_date",
        money_text(pl.col("amount"), demo.profile.currency).alias("amount"),
    )
