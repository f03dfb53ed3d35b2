"""Pure billing rules: references, red bill, messages, consumption determination, JSON."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from caudal.billing import rules

# --- bill number and payment reference ----------------------------------------------------


def test_gs1_check_digit_matches_known_gtin_and_gln():
    # GTIN-13 4006381333931 and the GLN example of GS1's documentation.
    assert rules.gs1_check_digit("400638133393") == 1
    assert rules.gs1_check_digit("770999803993") == 3  # 7709998039933 (standards §2.2)
    with pytest.raises(ValueError):
        rules.gs1_check_digit("12a4")


def test_bill_number_and_reference():
    number = rules.bill_number("2026-11", 42)
    assert number == "2026110000000042"
    reference = rules.payment_reference(number)
    assert reference.startswith(number) and len(reference) == 17
    assert rules.is_valid_reference(reference)
    assert len(reference) <= rules.REFERENCE_MAX
    with pytest.raises(ValueError):
        rules.bill_number("2026-11", 0)


@given(st.integers(min_value=1, max_value=10**10 - 1), st.integers(min_value=0, max_value=15))
def test_reference_catches_any_single_wrong_digit(sequence, position):
    reference = rules.payment_reference(rules.bill_number("2026-11", sequence))
    digit = int(reference[position])
    for wrong in range(10):
        if wrong != digit:
            bad = reference[:position] + str(wrong) + reference[position + 1 :]
            assert not rules.is_valid_reference(bad)


@given(st.integers(min_value=1, max_value=10**10 - 500), st.integers(min_value=1, max_value=50))
def test_vectorised_numbers_equal_the_scalar_rule(first, count):
    numbers, references = rules.numbers_and_references("2026-02", range(first, first + count))
    assert numbers == [rules.bill_number("2026-02", first + k) for k in range(count)]
    assert references == [rules.payment_reference(n) for n in numbers]


def test_reference_rejects_junk():
    assert not rules.is_valid_reference("")
    assert not rules.is_valid_reference("12345678901234567890123456")  # 26 digits
    assert not rules.is_valid_reference("20261100000000421x")


# --- policy, red bill, messages ----------------------------------------------------------------


def test_red_bill_threshold():
    assert not rules.is_red(1)
    assert rules.is_red(2)
    assert rules.is_red(3, threshold=3)
    assert not rules.is_red(2, threshold=3)


def test_policy_from_mapping_and_errors():
    policy = rules.BillingPolicy.from_mapping(
        {"red_threshold": 3, "unknown": 1, "notices": [" Aviso ", ""]}, grace_days=5
    )
    assert policy.red_threshold == 3
    assert policy.grace_days == 5
    assert policy.notices == ("Aviso",)
    with pytest.raises(ValueError):
        rules.BillingPolicy.from_mapping({"red_threshold": 0})


def test_messages_red_cut_warning_and_notices():
    policy = rules.BillingPolicy(notices=("Nueva tarifa desde enero.",))
    out = rules.bill_messages(
        overdue_bills=2, overdue_amount=1500, cut_warning_date=date(2026, 12, 5), policy=policy
    )
    assert [m["code"] for m in out] == [rules.RED_BILL, rules.CUT_WARNING, rules.NOTICE]
    assert "05/12/2026" in out[1]["text"]
    assert "2 recibos vencidos" in out[0]["text"]
    assert out[2]["text"] == "Nueva tarifa desde enero."


def test_no_cut_warning_without_overdue_debt_or_date():
    policy = rules.BillingPolicy()
    assert (
        rules.bill_messages(
            overdue_bills=0, overdue_amount=0, cut_warning_date=date(2026, 12, 5), policy=policy
        )
        == []
    )
    assert (
        rules.bill_messages(
            overdue_bills=1, overdue_amount=100, cut_warning_date=None, policy=policy
        )
        == []
    )
    quiet = rules.BillingPolicy(cut_warning=False)
    assert (
        rules.bill_messages(
            overdue_bills=1, overdue_amount=100, cut_warning_date=date(2026, 12, 5), policy=quiet
        )
        == []
    )


# --- consumption determination -------------------------------------------------------------------

BASE = {
    "water_status": "active",
    "sewer_status": "active",
    "meter_state": rules.METERED,
    "reading_status": "ok",
    "reading_consumption": 17,
    "reading_rule": "actual",
    "average_m3": 12,
    "assigned_m3": 20,
}
SCHEMA = {
    "water_status": pl.String,
    "sewer_status": pl.String,
    "meter_state": pl.String,
    "reading_status": pl.String,
    "reading_consumption": pl.Int64,
    "reading_rule": pl.String,
    "average_m3": pl.Int64,
    "assigned_m3": pl.Int64,
}


def decide(hold: bool = True, policy: rules.BillingPolicy | None = None, **changes):
    row = {**BASE, **changes}
    frame = pl.DataFrame([row], schema=SCHEMA)
    out = rules.determine(frame, hold_unresolved=hold, policy=policy or rules.BillingPolicy())
    return out.row(0, named=True)


def test_billable_reading_wins():
    row = decide()
    assert (row["consumption_m3"], row["consumption_rule"], row["outcome"]) == (
        17,
        "actual",
        "bill",
    )
    assert row["water"] and row["sewer"]
    row = decide(reading_status="estimated", reading_consumption=9, reading_rule="average")
    assert (row["consumption_m3"], row["consumption_rule"]) == (9, "average")
    # a removed meter whose reading the critique estimated: the reading still wins
    row = decide(meter_state=rules.REMOVED, reading_status="corrected", reading_rule="corrected")
    assert (row["consumption_m3"], row["consumption_rule"]) == (17, "corrected")


def test_unmetered_gets_the_assigned_volume():
    row = decide(meter_state=rules.UNMETERED, reading_status=None, reading_consumption=None)
    assert (row["consumption_m3"], row["consumption_rule"], row["outcome"]) == (
        20,
        "assigned",
        "bill",
    )
    row = decide(
        meter_state=rules.UNMETERED, reading_status=None, reading_consumption=None, assigned_m3=None
    )
    assert (row["outcome"], row["reason"]) == ("rejected", rules.R_NO_ASSIGNED)


def test_removed_meter_bills_the_smaller_of_assigned_and_average():
    row = decide(meter_state=rules.REMOVED, reading_status=None, reading_consumption=None)
    assert (row["consumption_m3"], row["consumption_rule"]) == (12, "minimum")
    row = decide(
        meter_state=rules.REMOVED, reading_status=None, reading_consumption=None, average_m3=31
    )
    assert (row["consumption_m3"], row["consumption_rule"]) == (20, "minimum")
    row = decide(
        meter_state=rules.REMOVED, reading_status=None, reading_consumption=None, average_m3=None
    )
    assert (row["consumption_m3"], row["consumption_rule"]) == (20, "assigned")
    row = decide(
        meter_state=rules.REMOVED, reading_status=None, reading_consumption=None, assigned_m3=None
    )
    assert (row["consumption_m3"], row["consumption_rule"]) == (12, "average")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("flagged", rules.R_READING_HELD),
        ("pending", rules.R_READING_HELD),
        ("reread", rules.R_READING_HELD),
        (None, rules.R_NO_READING),
    ],
)
def test_unresolved_readings_are_held(status, reason):
    row = decide(reading_status=status, reading_consumption=None)
    assert (row["outcome"], row["reason"]) == ("held", reason)
    assert row["consumption_m3"] is None and not row["water"]


def test_unresolved_readings_billed_by_average_when_not_holding():
    row = decide(hold=False, reading_status="flagged", reading_consumption=None)
    assert (row["consumption_m3"], row["consumption_rule"], row["outcome"]) == (
        12,
        "average",
        "bill",
    )
    row = decide(hold=False, reading_status=None, reading_consumption=None, average_m3=None)
    assert (row["consumption_m3"], row["consumption_rule"]) == (20, "assigned")
    row = decide(
        hold=False, reading_status=None, reading_consumption=None, average_m3=None, assigned_m3=None
    )
    assert (row["outcome"], row["reason"]) == ("held", rules.R_NO_READING)


def test_approved_reading_without_consumption_is_held():
    row = decide(reading_consumption=None)
    assert (row["outcome"], row["reason"]) == ("held", rules.R_NO_CONSUMPTION)


def test_services_follow_connection_status():
    row = decide(sewer_status="feasible")
    assert row["water"] and not row["sewer"] and row["outcome"] == "bill"
    row = decide(water_status="cut", sewer_status="active")
    assert not row["water"] and row["sewer"] and row["consumption_m3"] == 17


def test_fully_cut_account_pays_the_fixed_charge_only_by_default():
    row = decide(water_status="cut", sewer_status="cut")
    assert (row["consumption_m3"], row["consumption_rule"], row["outcome"]) == (
        0,
        rules.CUT,
        "bill",
    )
    assert row["water"] and row["sewer"]
    row = decide(water_status="cut", sewer_status="feasible")
    assert row["water"] and not row["sewer"]
    off = rules.BillingPolicy(fixed_charge_when_cut=False)
    row = decide(policy=off, water_status="cut", sewer_status="cut")
    assert (row["outcome"], row["reason"]) == ("rejected", rules.R_SERVICE_CUT)


@pytest.mark.parametrize("water", ["removed", "feasible", "clandestine", None])
def test_accounts_without_service_are_inactive(water):
    row = decide(water_status=water, sewer_status=None)
    assert (row["outcome"], row["reason"]) == ("rejected", rules.R_INACTIVE)


def test_average_rounds_half_up():
    assert rules.average_m3(25, 2) == 13
    assert rules.average_m3(24, 2) == 12
    with pytest.raises(ValueError):
        rules.average_m3(1, 0)


# --- JSON lines and comparison ----------------------------------------------------------------


def test_lines_json_drops_nulls_and_escapes_text():
    priced = pl.DataFrame(
        {
            "account_id": [1, 1, 2],
            "line_no": [1, 2, 1],
            "concept": ["fixed", "water", "fixed"],
            "description": ['Cargo "fijo"', "Agua 0–10 m³", "Cargo fijo"],
            "block": [None, "0–10 m³", None],
            "volume_m3": [None, 10, None],
            "rate": ["4.886", "1.116", "4.886"],
            "factor_pct": [None, "-40", None],
            "gross": [489, 1116, 489],
            "amount": [489, 670, 489],
        },
        schema_overrides={"volume_m3": pl.Int64},
    )
    out = rules.lines_json(
        priced,
        tariff_label="SEDAPAL-2015 v1",
        rules=pl.DataFrame({"account_id": [1, 2], "consumption_rule": ["actual", "assigned"]}),
    )
    first = json.loads(out.filter(pl.col("account_id") == 1)["lines_json"][0])
    assert first[0] == {
        "line_no": 1,
        "concept": "fixed",
        "description": 'Cargo "fijo"',
        "rate": "4.886",
        "gross": 489,
        "amount": 489,
        "tariff": "SEDAPAL-2015 v1",
        "rule": "actual",
    }
    assert first[1]["block"] == "0–10 m³" and first[1]["volume"] == 10
    assert first[1]["factor"] == "-40"
    second = json.loads(out.filter(pl.col("account_id") == 2)["lines_json"][0])
    assert second[0]["rule"] == "assigned"


def test_compare_with_previous_period():
    current = pl.DataFrame(
        {
            "account_id": [1, 2, 3],
            "number": ["A", "B", "C"],
            "category": ["domestic", "domestic", "commercial"],
            "consumption_m3": [10, 20, 30],
            "amount": [1000, 2500, 9000],
        }
    )
    previous = pl.DataFrame(
        {
            "account_id": [1, 2, 4],
            "number": ["A", "B", "D"],
            "consumption_m3": [10, 10, 5],
            "amount": [1000, 1200, 400],
        }
    )
    diff = rules.compare(current, previous, top=1)
    assert diff["difference"] == {"accounts": 0, "volume_m3": 35, "amount": 9900}
    assert diff["new_accounts"] == 1 and diff["missing_accounts"] == 1
    assert diff["largest_changes"][0]["account_id"] == 2
    assert diff["largest_changes"][0]["amount_change"] == 1300


def test_merge_counts_nested():
    total = rules.merge_counts({}, {"a": 1, "by": {"x": {"n": 1}}, "t": "s"})
    rules.merge_counts(total, {"a": 2, "by": {"x": {"n": 2}, "y": {"n": 1}}})
    assert total == {"a": 3, "by": {"x": {"n": 3}, "y": {"n": 1}}, "t": "s"}
