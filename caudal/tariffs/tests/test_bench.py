"""The tariff-pricing benchmark runs at a small size and prices what the rules price."""

from __future__ import annotations

from datetime import date

import polars as pl

from caudal.bench.tariff_benches import accounts_frame, tariff_pricing
from caudal.tariffs import pricing, rules
from caudal.tariffs.testing import COLOMBIA, example_tariff


def test_benchmark_small(tmp_path):
    result = tariff_pricing(3000, tmp_path)
    assert result["lines"] > 3000 and result["co_lines"] > 3000
    assert result["seconds"] > 0 and result["cpu_seconds"] >= 0


def test_benchmark_accounts_are_priceable_and_agree_with_rules():
    co = example_tariff(COLOMBIA)
    frame = accounts_frame(400, colombia=True, seed=7)
    on = date(2025, 3, 1)
    assert pricing.unpriceable(frame, co, months=2, on=on).height == 0
    priced = pricing.price_accounts(frame, co, months=2, on=on)
    totals = dict(priced.group_by("account_id").agg(pl.col("amount").sum()).iter_rows())
    for row in frame.head(60).iter_rows(named=True):
        account = rules.AccountInput(
            category=row["category"],
            consumption_m3=row["consumption_m3"],
            units=row["units"],
            stratum=row["stratum"],
            municipality_code=row["municipality_code"],
            water=row["water"],
            sewer=row["sewer"],
        )
        expected = sum(c.amount for c in rules.price(account, co, months=2, on=on))
        assert totals.get(row["account_id"], 0) == expected
