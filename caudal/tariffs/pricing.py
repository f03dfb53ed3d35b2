"""Vectorised pricing of many accounts at once (the billing run's hot path).

Contract (used by caudal.billing.runs; keep it stable):

``price_accounts(accounts, tariff, *, months, on=None) -> pl.DataFrame``

``tariff`` is a ``caudal.tariffs.schema.Tariff`` (``caudal.tariffs.queries.load(version)``).
``months`` is the number of months of the period (1 or 2). ``on`` is the day the Colombian
solidarity factors (subsidies / contributions, dated per municipality inside the tariff file)
are looked up: the billing run passes the period's first day; ``None`` means the tariff's
``valid_from``. Peru ignores it.

Input ``accounts`` columns: account_id Int64, category Utf8 (cadastre UseCategory values),
stratum Int64 (null in Peru), units Int64 (>= 1), municipality_code Utf8, altitude_m Int64
(nullable), consumption_m3 Int64 (>= 0), water Boolean (water service billable), sewer Boolean.

Output, one row per charge line: account_id Int64, line_no Int64 (1-based per account, print
order), concept Utf8 (ledger Concept: fixed, water, sewer, tax, other), description Utf8,
block Utf8 (nullable), volume_m3 Int64 (nullable), rate Utf8 (decimal text, nullable),
factor_pct Utf8 (subsidy negative / contribution positive, nullable), gross Int64 (minor units
before the factor), amount Int64 (minor units, > 0; zero lines are dropped).

Details of the output:

- Rows come grouped by account, accounts in input order, lines in ``line_no`` order:
  fixed charge(s), water blocks, sewer blocks, tax. An account with no line (nothing
  billable, or everything zero) has no row.
- Fixed-charge lines: ``volume_m3`` null, ``rate`` the charge per month (per unit of use
  when the category says ``fixed_per_unit``), ``block`` null.
- The tax line (IGV in Peru): ``block``, ``volume_m3`` and ``factor_pct`` null, ``rate`` the
  percentage (``"18"``), ``gross`` = ``amount``; its base is the sum of the amounts of the
  concepts the tariff taxes.
- ``description`` is complete text for the printed bill (``"Agua potable 10–25 m³"``,
  ``"Alcantarillado consumo básico"``); ``block`` is the block's label alone.
- Every account must be priceable: ``price_accounts`` raises ``PricingError`` otherwise.
  ``unpriceable(accounts, tariff, *, months, on=None) -> pl.DataFrame`` (account_id Int64,
  reason Utf8, in Spanish) lists the accounts it would refuse (category missing from the
  tariff, Colombian residential account without stratum, municipality without altitude or
  without solidarity factors on ``on``, negative consumption, units < 1), so a run can
  reject them with their reason and price the rest.

``assigned_volumes_frame(accounts, tariff, *, months) -> pl.DataFrame``: input columns
account_id Int64, category Utf8, units Int64; output account_id Int64, assigned_m3 Int64
(the assigned volume for an unmetered account, asignación de consumo: the category's
``assigned_m3`` per unit and month × units × months; null when the tariff gives none for the
category). Same rule as ``caudal.tariffs.rules.assigned_volume``.

It must give exactly what ``caudal.tariffs.rules.price`` gives for one account.
"""

from __future__ import annotations
