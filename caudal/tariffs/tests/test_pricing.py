"""The vectorised pricing gives exactly what the one-account rules give. No database."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caudal.tariffs import pricing, rules
from caudal.tariffs.rules import AccountInput, PricingError
from caudal.tariffs.schema import decimal_text, parse_text
from caudal.tariffs.testing import COLOMBIA, SEDAPAL, example_tariff

# A Peruvian tariff that uses what the example does not: whole volume with units, no
# split, fixed per service and per unit, four-decimal rates, rounding to 10 céntimos,
# a tax on water only with a decimal rate, zero rates.
ODD_PE = parse_text(
    """
code: PRUEBA-PE
name: Prueba
country: PE
valid_from: 2024-01-01
currency: PEN
rounding: 10
tax: {name: IGV, rate_pct: 18.5, applies_to: [water]}
categories:
  domestic:
    fixed: {water: 2.5, sewer: 1.25}
    fixed_per_unit: true
    mode: whole
    blocks:
      - {from: 0, to: 8, water: 0.8765, sewer: 0.4321}
      - {from: 8, to: 20, water: 1.9, sewer: 0.0}
      - {from: 20, water: 3.3333, sewer: 1.5}
  commercial:
    fixed: 0
    split_by_units: false
    blocks:
      - {from: 0, to: 5, water: 0, sewer: 0}
      - {from: 5, water: 6.25, sewer: 2.125}
  social:
    fixed: 3
    mode: whole
    split_by_units: false
    blocks: [{from: 0, to: 3, water: 1, sewer: 1}, {from: 3, water: 2, sewer: 2}]
"""
)
# A Colombian tariff with a default municipality, a band without sumptuary range, a tax on
# the fixed charge, decimal factors and a municipality whose factors end mid-year.
ODD_CO = parse_text(
    """
code: PRUEBA-CO
name: Prueba
country: CO
valid_from: 2024-01-01
currency: COP
rounding: 1
tax: {name: IVA, rate_pct: 19, applies_to: [fixed]}
altitude_bands:
  - {from_m: 0, basic_m3: 16}
  - {from_m: 1500, basic_m3: 13, sumptuary_from_m3: 30}
municipalities:
  "*":
    factors:
      - valid_from: 2024-01-01
        subsidies: {1: 50.5, 2: 33.33}
        contributions: {6: 20.25, industrial: 10}
  "05001":
    altitude_m: 1495
    factors:
      - {valid_from: 2024-01-01, valid_to: 2024-06-30, subsidies: {1: 70}}
categories:
  domestic:
    fixed: {water: 1234.56}
    rates:
      basic: {water: 100.5, sewer: 90}
      complementary: {water: 200, sewer: 80.75}
      sumptuary: {water: 300.125, sewer: 120}
  industrial:
    fixed: 5000
    split_by_units: false
    rates: {all: {water: 3000.5, sewer: 2000}}
  state:
    fixed: {water: 100, sewer: 100}
    rates: {all: {water: 10, sewer: 10}}
"""
)
PE = example_tariff(SEDAPAL)
CO = example_tariff(COLOMBIA)
TARIFFS = [PE, CO, ODD_PE, ODD_CO]
CATEGORIES = ["social", "domestic", "commercial", "industrial", "state"]


def frame(accounts: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(accounts, schema=pricing.INPUT_SCHEMA)


def account_input(row: dict) -> AccountInput:
    return AccountInput(
        category=row["category"],
        consumption_m3=row["consumption_m3"],
        units=row["units"],
        stratum=row["stratum"],
        municipality_code=row["municipality_code"],
        altitude_m=row["altitude_m"],
        water=row["water"],
        sewer=row["sewer"],
    )


def expected_rows(rows: list[dict], tariff, months, on) -> list[tuple]:
    result = []
    for row in rows:
        for i, c in enumerate(rules.price(account_input(row), tariff, months=months, on=on), 1):
            result.append(
                (
                    row["account_id"],
                    i,
                    c.concept,
                    c.description,
                    c.block,
                    c.volume,
                    c.rate_text,
                    None if c.factor_pct is None else decimal_text(c.factor_pct),
                    c.gross,
                    c.amount,
                )
            )
    return result


consumption = st.one_of(
    st.integers(0, 60),
    st.integers(0, 3000),
    st.integers(0, 2_000_000),
    st.integers(-3, -1),
    st.integers(10**9, 10**10 + 5),  # beyond int64-safe products: the exact fallback
)


@st.composite
def accounts(draw):
    n = draw(st.integers(1, 25))
    rows = []
    for i in range(n):
        rows.append(
            {
                "account_id": 1000 + i,
                "category": draw(st.sampled_from([*CATEGORIES, "hotel"])),
                "stratum": draw(st.one_of(st.none(), st.integers(0, 7), st.integers(1, 6))),
                "units": draw(st.one_of(st.just(1), st.integers(0, 12), st.integers(1, 400))),
                "municipality_code": draw(
                    st.sampled_from(["11001", "25754", "05001", "99999", ""])
                ),
                "altitude_m": draw(st.one_of(st.none(), st.integers(0, 3600))),
                "consumption_m3": draw(consumption),
                "water": draw(st.booleans()),
                "sewer": draw(st.booleans()),
            }
        )
    return rows


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=accounts(),
    tariff=st.sampled_from(TARIFFS),
    months=st.sampled_from([1, 2]),
    on=st.one_of(st.none(), st.dates(date(2023, 6, 1), date(2026, 6, 1))),
)
def test_price_accounts_equals_rules_price(rows, tariff, months, on):
    data = frame(rows)
    refused = dict(pricing.unpriceable(data, tariff, months=months, on=on).iter_rows())
    expected_refused = {
        row["account_id"]: reason
        for row in rows
        if (reason := rules.unpriceable_reason(account_input(row), tariff, months=months, on=on))
    }
    assert refused == expected_refused
    good = [row for row in rows if row["account_id"] not in refused]
    priced = pricing.price_accounts(frame(good), tariff, months=months, on=on)
    assert priced.schema == pl.Schema(pricing.OUTPUT_SCHEMA)
    assert priced.rows() == expected_rows(good, tariff, months, on)
    if refused:
        with pytest.raises(PricingError, match="no se pueden tarifar"):
            pricing.price_accounts(data, tariff, months=months, on=on)


def test_price_accounts_in_several_chunks(monkeypatch):
    monkeypatch.setattr(pricing, "CHUNK", 7)
    rows = [
        {
            "account_id": i,
            "category": CATEGORIES[i % 5],
            "stratum": 1 + i % 6,
            "units": 1 + i % 3,
            "municipality_code": "11001" if i % 2 else "25754",
            "altitude_m": None,
            "consumption_m3": (i * 7) % 90,
            "water": i % 11 != 0,
            "sewer": i % 4 != 0,
        }
        for i in range(60)
    ]
    for tariff in (PE, CO):
        priced = pricing.price_accounts(frame(rows), tariff, months=2, on=date(2025, 2, 1))
        assert priced.rows() == expected_rows(rows, tariff, 2, date(2025, 2, 1))


def test_empty_input_gives_empty_frame_with_the_contract_columns():
    priced = pricing.price_accounts(frame([]), PE, months=1)
    assert priced.height == 0 and priced.schema == pl.Schema(pricing.OUTPUT_SCHEMA)


def test_missing_input_column_is_named():
    with pytest.raises(ValueError, match="faltan columnas sewer"):
        pricing.price_accounts(frame([]).drop("sewer"), PE, months=1)


def test_unpriceable_names_the_reason():
    rows = [
        {
            "account_id": 1,
            "category": "domestic",
            "stratum": None,
            "units": 1,
            "municipality_code": "11001",
            "altitude_m": None,
            "consumption_m3": 10,
            "water": True,
            "sewer": True,
        },
        {
            "account_id": 2,
            "category": "domestic",
            "stratum": 2,
            "units": 1,
            "municipality_code": "70001",
            "altitude_m": 20,
            "consumption_m3": 10,
            "water": True,
            "sewer": True,
        },
        {
            "account_id": 3,
            "category": "domestic",
            "stratum": 2,
            "units": 1,
            "municipality_code": "11001",
            "altitude_m": None,
            "consumption_m3": 10,
            "water": True,
            "sewer": True,
        },
        {
            "account_id": 4,
            "category": "commercial",
            "stratum": None,
            "units": 1,
            "municipality_code": "11001",
            "altitude_m": None,
            "consumption_m3": 10**10 + 1,
            "water": True,
            "sewer": True,
        },
    ]
    refused = pricing.unpriceable(frame(rows), CO, months=2, on=date(2025, 2, 1))
    assert refused.rows() == [
        (1, "suministro residencial sin estrato válido (1 a 6): None"),
        (2, "el municipio '70001' no figura en la tarifa CO-EJEMPLO-2025"),
        (4, "consumo fuera de rango: 10000000001 m³"),
    ]
    refused = pricing.unpriceable(frame(rows[2:3]), CO, months=2, on=date(2024, 12, 1))
    assert refused.rows() == [
        (
            3,
            "la tarifa CO-EJEMPLO-2025 no tiene factores de subsidio/contribución para el "
            "municipio 11001 vigentes el 2024-12-01",
        ),
    ]


def test_assigned_volumes_frame_matches_rule():
    rows = frame(
        [
            {
                "account_id": i,
                "category": c,
                "stratum": None,
                "units": u,
                "municipality_code": "",
                "altitude_m": None,
                "consumption_m3": 0,
                "water": True,
                "sewer": True,
            }
            for i, (c, u) in enumerate(
                [("domestic", 1), ("domestic", 3), ("commercial", 2), ("hotel", 1), ("state", 1)]
            )
        ]
    )
    out = pricing.assigned_volumes_frame(rows, PE, months=2)
    assert out.rows() == [(0, 40), (1, 120), (2, 120), (3, None), (4, 60)]
    assert rules.assigned_volume(PE, "domestic", 3, 2) == 120
    with pytest.raises(PricingError, match="no fija volumen asignado"):
        rules.assigned_volume(PE, "hotel", 1, 1)
    co = pricing.assigned_volumes_frame(rows, ODD_CO, months=1)
    assert co["assigned_m3"].null_count() == 5
