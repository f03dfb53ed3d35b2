"""The example tariffs of docs/examples priced by hand from the published numbers.

Every expected figure below was computed by hand (written in the comments) from the
numbers in the files, which for SEDAPAL are those of RCD 022-2015-SUNASS-CD: fixed charge
S/ 4.886 a month; doméstico water 1.116 / 1.295 / 2.865 / 4.858, sewer 0.504 / 0.586 / 1.293 /
2.193 for 0–10 / 10–25 / 25–50 / 50+ m³; social 1.116 / 0.504; comercial and industrial
4.858 / 2.193 up to 1,000 m³ and 5.212 / 2.352 above; estatal 3.195 / 1.396. Each line is
rounded half-up to the céntimo (to the peso in Colombia); IGV 18 % of the rounded lines.
No database.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from caudal.tariffs.rules import AccountInput, price
from caudal.tariffs.testing import COLOMBIA, SEDAPAL, example_tariff

PE = example_tariff(SEDAPAL)
CO = example_tariff(COLOMBIA)
BOGOTA = "11001"  # 2,640 m → basic 11 m³/month, sumptuary from 22 m³/month
SOACHA = "25754"  # 2,565 m, its own factors
FIRST_HALF = date(2025, 3, 1)
SECOND_HALF = date(2025, 8, 1)


def lines(account: AccountInput, tariff=PE, *, months: int = 1, on: date | None = None):
    return [
        (c.description, c.volume, c.gross, c.amount)
        for c in price(account, tariff, months=months, on=on)
    ]


def amounts(account: AccountInput, tariff=PE, *, months: int = 1, on: date | None = None):
    return [c.amount for c in price(account, tariff, months=months, on=on)]


# =========================================================================================
# SEDAPAL 2015 (monthly, soles, céntimos)
# =========================================================================================


def test_sedapal_domestic_30_m3():
    # Cargo fijo          1 × 4.886                 = 4.886   → 4.89
    # Agua 0–10          10 × 1.116                 = 11.160  → 11.16
    # Agua 10–25         15 × 1.295                 = 19.425  → 19.43 (half-up)
    # Agua 25–50          5 × 2.865                 = 14.325  → 14.33
    # Alcantarillado 0–10   10 × 0.504              = 5.040   → 5.04
    # Alcantarillado 10–25  15 × 0.586              = 8.790   → 8.79
    # Alcantarillado 25–50   5 × 1.293              = 6.465   → 6.47
    # Subtotal 4.89 + 11.16 + 19.43 + 14.33 + 5.04 + 8.79 + 6.47 = 70.11
    # IGV 18 % × 70.11 = 12.6198 → 12.62;  total 82.73
    assert lines(AccountInput("domestic", 30)) == [
        ("Cargo fijo", None, 489, 489),
        ("Agua potable 0–10 m³", 10, 1116, 1116),
        ("Agua potable 10–25 m³", 15, 1943, 1943),
        ("Agua potable 25–50 m³", 5, 1433, 1433),
        ("Alcantarillado 0–10 m³", 10, 504, 504),
        ("Alcantarillado 10–25 m³", 15, 879, 879),
        ("Alcantarillado 25–50 m³", 5, 647, 647),
        ("IGV 18 %", None, 1262, 1262),
    ]
    assert sum(amounts(AccountInput("domestic", 30))) == 8273


def test_sedapal_domestic_60_m3_water_only():
    # No sewer service: fixed 4.89; water 10 × 1.116 = 11.16; 15 × 1.295 = 19.425 → 19.43;
    # 25 × 2.865 = 71.625 → 71.63; 10 × 4.858 = 48.58. Subtotal 155.69;
    # IGV 155.69 × 0.18 = 28.0242 → 28.02. Total 183.71.
    charges = amounts(AccountInput("domestic", 60, sewer=False))
    assert charges == [489, 1116, 1943, 7163, 4858, 2802]
    assert sum(charges) == 18371


def test_sedapal_social_20_m3():
    # Fixed 4.89; water 20 × 1.116 = 22.32; sewer 20 × 0.504 = 10.08; subtotal 37.29;
    # IGV 37.29 × 0.18 = 6.7122 → 6.71. Total 44.00.
    assert amounts(AccountInput("social", 20)) == [489, 2232, 1008, 671]


def test_sedapal_commercial_1200_m3_whole_volume():
    # Comercial is priced "whole" in the example: 1,200 m³ falls in "1000 a más", so all of
    # it at 5.212 / 2.352. Fixed 4.89; water 1,200 × 5.212 = 6,254.40;
    # sewer 1,200 × 2.352 = 2,822.40; subtotal 9,081.69; IGV × 0.18 = 1,634.7042 → 1,634.70.
    # Total 10,716.39.
    assert lines(AccountInput("commercial", 1200)) == [
        ("Cargo fijo", None, 489, 489),
        ("Agua potable 1000 m³ a más", 1200, 625440, 625440),
        ("Alcantarillado 1000 m³ a más", 1200, 282240, 282240),
        ("IGV 18 %", None, 163470, 163470),
    ]
    assert sum(amounts(AccountInput("commercial", 1200))) == 1071639


def test_sedapal_commercial_1000_m3_stays_in_first_block():
    # Blocks are from < volume ≤ to: 1,000 m³ is in 0–1000. Water 1,000 × 4.858 = 4,858.00;
    # sewer 1,000 × 2.193 = 2,193.00; subtotal 7,055.89; IGV 1,270.0602 → 1,270.06.
    assert amounts(AccountInput("commercial", 1000)) == [489, 485800, 219300, 127006]


def test_sedapal_domestic_three_units_40_m3():
    # 40 m³ over 3 units of use: 13 + 13 + 14 m³. Per unit 10 m³ in 0–10 (30 in all) and
    # 3 + 3 + 4 = 10 m³ in 10–25. Water 30 × 1.116 = 33.48, 10 × 1.295 = 12.95;
    # sewer 30 × 0.504 = 15.12, 10 × 0.586 = 5.86; fixed once 4.89. Subtotal 72.30;
    # IGV 13.014 → 13.01. Total 85.31.
    assert lines(AccountInput("domestic", 40, units=3)) == [
        ("Cargo fijo", None, 489, 489),
        ("Agua potable 0–10 m³", 30, 3348, 3348),
        ("Agua potable 10–25 m³", 10, 1295, 1295),
        ("Alcantarillado 0–10 m³", 30, 1512, 1512),
        ("Alcantarillado 10–25 m³", 10, 586, 586),
        ("IGV 18 %", None, 1301, 1301),
    ]


def test_sedapal_bimonthly_domestic_30_m3():
    # Two months: blocks 0–20, 20–50, 50–100 …; fixed 2 × 4.886 = 9.772 → 9.77.
    # Water 20 × 1.116 = 22.32, 10 × 1.295 = 12.95; sewer 20 × 0.504 = 10.08,
    # 10 × 0.586 = 5.86. Subtotal 60.98; IGV 10.9764 → 10.98. Total 71.96.
    assert amounts(AccountInput("domestic", 30), months=2) == [977, 2232, 1295, 1008, 586, 1098]


def test_sedapal_state_no_consumption_pays_fixed_and_igv():
    # Fixed 4.89; IGV 4.89 × 0.18 = 0.8802 → 0.88.
    assert amounts(AccountInput("state", 0)) == [489, 88]


def test_sedapal_state_45_m3():
    # Estatal, one block: water 45 × 3.195 = 143.775 → 143.78; sewer 45 × 1.396 = 62.82;
    # subtotal 4.89 + 143.78 + 62.82 = 211.49; IGV 38.0682 → 38.07.
    assert amounts(AccountInput("state", 45)) == [489, 14378, 6282, 3807]


# =========================================================================================
# Colombian example (bimonthly, pesos; lines rounded to the peso = 100 centavos)
# Fixed per month: acueducto 8,945.37, alcantarillado 4,412.66.
# Consumption per m³: acueducto 2,531.47, alcantarillado 2,410.12 (all ranges).
# Bogotá (2,640 m): basic 11 m³/month → 0–22 m³ in a bimonthly bill; sumptuary above 44.
# =========================================================================================


def co(category, m3, *, stratum=None, municipality=BOGOTA, units=1, months=2, on=FIRST_HALF):
    account = AccountInput(
        category, m3, units=units, stratum=stratum, municipality_code=municipality
    )
    return price(account, CO, months=months, on=on)


def test_colombia_stratum_1_subsidy_on_fixed_and_basic_only():
    # Subsidy 70 % (factor 0.30) on the fixed charges and the basic range (0–22 m³).
    # Fijo acueducto     2 × 8,945.37 = 17,890.74 → 17,891;  × 0.30 = 5,367.222  → 5,367
    # Fijo alcantarillado 2 × 4,412.66 = 8,825.32 → 8,825;   × 0.30 = 2,647.596  → 2,648
    # Acueducto básico   22 × 2,531.47 = 55,692.34 → 55,692; × 0.30 = 16,707.702 → 16,708
    # Acueducto complementario 8 × 2,531.47 = 20,251.76 → 20,252 (no subsidy)
    # Alcantarillado básico 22 × 2,410.12 = 53,022.64 → 53,023; × 0.30 = 15,906.792 → 15,907
    # Alcantarillado complementario 8 × 2,410.12 = 19,280.96 → 19,281
    # Total 5,367 + 2,648 + 16,708 + 20,252 + 15,907 + 19,281 = 80,163
    charges = co("domestic", 30, stratum=1)
    assert [(c.description, c.volume, c.factor_pct, c.gross, c.amount) for c in charges] == [
        ("Cargo fijo acueducto", None, Decimal(-70), 1789100, 536700),
        ("Cargo fijo alcantarillado", None, Decimal(-70), 882500, 264800),
        ("Acueducto consumo básico", 22, Decimal(-70), 5569200, 1670800),
        ("Acueducto consumo complementario", 8, None, 2025200, 2025200),
        ("Alcantarillado consumo básico", 22, Decimal(-70), 5302300, 1590700),
        ("Alcantarillado consumo complementario", 8, None, 1928100, 1928100),
    ]
    assert sum(c.amount for c in charges) == 8016300


def test_colombia_stratum_4_pays_the_reference_tariff():
    # No factor: 17,891 + 8,825 + 55,692 + 20,252 + 53,023 + 19,281 = 174,964
    charges = co("domestic", 30, stratum=4)
    assert all(c.factor_pct is None and c.gross == c.amount for c in charges)
    assert sum(c.amount for c in charges) == 17496400


def test_colombia_stratum_6_contribution_on_everything_with_sumptuary():
    # 50 m³: basic 22, complementary 22, sumptuary 6; contribution 60 % (× 1.6) on all.
    # Fijo acueducto 17,890.74 × 1.6 = 28,625.184 → 28,625
    # Fijo alcantarillado 8,825.32 × 1.6 = 14,120.512 → 14,121
    # Acueducto básico and complementario: 55,692.34 × 1.6 = 89,107.744 → 89,108 each
    # Acueducto suntuario 6 × 2,531.47 = 15,188.82 (gross 15,189) × 1.6 = 24,302.112 → 24,302
    # Alcantarillado básico and complementario: 53,022.64 × 1.6 = 84,836.224 → 84,836 each
    # Alcantarillado suntuario 6 × 2,410.12 = 14,460.72 (gross 14,461) × 1.6 = 23,137.152 → 23,137
    # Total 28,625 + 14,121 + 2 × 89,108 + 24,302 + 2 × 84,836 + 23,137 = 438,073
    charges = co("domestic", 50, stratum=6)
    assert [(c.block, c.volume, c.gross, c.amount) for c in charges] == [
        (None, None, 1789100, 2862500),
        (None, None, 882500, 1412100),
        ("básico", 22, 5569200, 8910800),
        ("complementario", 22, 5569200, 8910800),
        ("suntuario", 6, 1518900, 2430200),
        ("básico", 22, 5302300, 8483600),
        ("complementario", 22, 5302300, 8483600),
        ("suntuario", 6, 1446100, 2313700),
    ]
    assert {c.factor_pct for c in charges} == {Decimal(60)}
    assert sum(c.amount for c in charges) == 43807300


def test_colombia_commercial_contribution_single_range():
    # Commercial 100 m³, one range ("all"), contribution 50 % (× 1.5):
    # Fijo acueducto 17,890.74 × 1.5 = 26,836.11 → 26,836
    # Fijo alcantarillado 8,825.32 × 1.5 = 13,237.98 → 13,238
    # Acueducto 100 × 2,531.47 = 253,147 × 1.5 = 379,720.5 → 379,721 (half-up)
    # Alcantarillado 100 × 2,410.12 = 241,012 × 1.5 = 361,518
    # Total 781,313
    charges = co("commercial", 100)
    assert [(c.description, c.amount) for c in charges] == [
        ("Cargo fijo acueducto", 2683600),
        ("Cargo fijo alcantarillado", 1323800),
        ("Acueducto consumo", 37972100),
        ("Alcantarillado consumo", 36151800),
    ]
    assert sum(c.amount for c in charges) == 78131300


def test_colombia_monthly_bill_in_another_municipality():
    # Soacha (2,565 m, basic 11 m³/month), monthly, stratum 2 with Soacha's 30 % subsidy:
    # Fijo acueducto 8,945.37 → 8,945; × 0.7 = 6,261.759 → 6,262
    # Fijo alcantarillado 4,412.66 → 4,413; × 0.7 = 3,088.862 → 3,089
    # Acueducto básico 11 × 2,531.47 = 27,846.17 → 27,846; × 0.7 = 19,492.319 → 19,492
    # Acueducto complementario 4 × 2,531.47 = 10,125.88 → 10,126
    # Alcantarillado básico 11 × 2,410.12 = 26,511.32 → 26,511; × 0.7 = 18,557.924 → 18,558
    # Alcantarillado complementario 4 × 2,410.12 = 9,640.48 → 9,640
    # Total 67,167
    charges = co("domestic", 15, stratum=2, municipality=SOACHA, months=1)
    assert [c.amount for c in charges] == [626200, 308900, 1949200, 1012600, 1855800, 964000]
    assert [c.gross for c in charges][:3] == [894500, 441300, 2784600]


def test_colombia_factors_follow_the_date():
    # Bogotá stratum 3, 22 m³ (all basic). From 2025-07-01 the subsidy is 12.5 % (× 0.875):
    # 17,890.74 × 0.875 = 15,654.3975 → 15,654; 8,825.32 × 0.875 = 7,722.155 → 7,722;
    # 55,692.34 × 0.875 = 48,730.7975 → 48,731; 53,022.64 × 0.875 = 46,394.81 → 46,395;
    # total 118,502. Before, 15 % (× 0.85): 15,207.129 → 15,207; 7,501.522 → 7,502;
    # 47,338.489 → 47,338; 45,069.244 → 45,069; total 115,116.
    assert [c.amount for c in co("domestic", 22, stratum=3, on=SECOND_HALF)] == [
        1565400,
        772200,
        4873100,
        4639500,
    ]
    assert [c.amount for c in co("domestic", 22, stratum=3, on=FIRST_HALF)] == [
        1520700,
        750200,
        4733800,
        4506900,
    ]


def test_colombia_two_units_fixed_charge_per_unit():
    # Two units, 50 m³ bimonthly: 25 m³ each → basic 22 + complementary 3 per unit (44 + 6).
    # Fixed per unit: 4 (2 months × 2 units) × 8,945.37 = 35,781.48 → 35,781; × 0.3 = 10,734.444 → 10,734
    #                 4 × 4,412.66 = 17,650.64 → 17,651; × 0.3 = 5,295.192 → 5,295
    # Acueducto básico 44 × 2,531.47 = 111,384.68 → 111,385; × 0.3 = 33,415.404 → 33,415
    # Acueducto complementario 6 × 2,531.47 = 15,188.82 → 15,189
    # Alcantarillado básico 44 × 2,410.12 = 106,045.28 → 106,045; × 0.3 = 31,813.584 → 31,814
    # Alcantarillado complementario 6 × 2,410.12 = 14,460.72 → 14,461
    # Total 110,908
    charges = co("domestic", 50, stratum=1, units=2)
    assert [(c.volume, c.amount) for c in charges] == [
        (None, 1073400),
        (None, 529500),
        (44, 3341500),
        (6, 1518900),
        (44, 3181400),
        (6, 1446100),
    ]
    assert sum(c.amount for c in charges) == 11090800


@pytest.mark.parametrize("stratum", [1, 2, 3, 4, 5, 6])
def test_colombia_every_line_is_a_whole_peso(stratum):
    for c in co("domestic", 37, stratum=stratum):
        assert c.amount % 100 == 0 and c.gross % 100 == 0


def test_explanations_name_tariff_block_rate_and_volume():
    charge = price(AccountInput("domestic", 30), PE, months=1)[2]
    assert charge.explain() == (
        "Tarifa SEDAPAL-2015 · Agua potable 10–25 m³: 15 m³ × S/ 1.295 por m³ = S/ 19.43"
    )
    fixed = price(AccountInput("domestic", 30), PE, months=2)[0]
    assert (
        fixed.explain() == "Tarifa SEDAPAL-2015 · Cargo fijo: 2 meses × S/ 4.886 por mes = S/ 9.77"
    )
    tax = price(AccountInput("domestic", 30), PE, months=1)[-1]
    assert tax.explain() == "Tarifa SEDAPAL-2015 · IGV 18 %: 18 % de S/ 70.11 = S/ 12.62"
    basic = co("domestic", 30, stratum=1)[2]
    assert basic.explain() == (
        "Tarifa CO-EJEMPLO-2025 · Acueducto consumo básico (bloque en este periodo, por "
        "unidad: 0–22 m³): 22 m³ × $ 2.531,47 por m³ = $ 55.692,00; subsidio −70 % → $ 16.708,00"
    )
