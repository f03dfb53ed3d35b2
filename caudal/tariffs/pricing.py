"""Vectorised pricing of many accounts at once (the billing run's hot path).

Contract (used by caudal.billing.runs; keep it stable):

``price_accounts(accounts, tariff, *, months) -> pl.DataFrame``

Input ``accounts`` columns: account_id Int64, category Utf8 (cadastre UseCategory values),
stratum Int64 (null in Peru), units Int64 (>= 1), municipality_code Utf8, altitude_m Int64
(nullable), consumption_m3 Int64 (>= 0), water Boolean (water service billable), sewer Boolean.

Output, one row per charge line: account_id Int64, line_no Int64 (1-based per account, print
order), concept Utf8 (ledger Concept: fixed, water, sewer, tax, other), description Utf8,
block Utf8 (nullable), volume_m3 Int64 (nullable), rate Utf8 (decimal text, nullable),
factor_pct Utf8 (subsidy negative / contribution positive, nullable), gross Int64 (minor units
before the factor), amount Int64 (minor units, > 0; zero lines are dropped).

It must give exactly what ``caudal.tariffs.rules.price`` gives for one account.
"""

from __future__ import annotations
