"""Pure critique rules: every flag on hand-made readings, the consumption rule, the
history summary, the configuration, and the vectorised critique equal to the per-reading
one (Hypothesis). No database."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caudal.metering import rules
from caudal.metering.rules import CritiqueConfig, HistoryRow, ReadingFacts

CFG = CritiqueConfig()

#: A domestic account with six billed periods averaging 20 m³, last read at 1,000.
BASE = ReadingFacts(
    account_id=7,
    category="domestic",
    segment="regular",
    water_status="active",
    meter_id=3,
    digits=5,
    value=1020,
    previous_value=None,
    observation="",
    billed_count=6,
    billed_sum=120,
    last_offset=1,
    last_value=1000,
    last_meter_id=3,
)


def check(facts: ReadingFacts, config: CritiqueConfig = CFG, months: int = 1) -> rules.Verdict:
    """The per-reading verdict, after checking the vectorised one gives the same."""
    one = rules.critique_reading(facts, config, months=months)
    row = rules.critique_frame(rules.facts_frame([facts]), config, months=months).row(0, named=True)
    assert row["flags"] == one.flags_text
    assert (row["status"], row["consumption"], row["consumption_rule"]) == (
        one.status,
        one.consumption,
        one.rule,
    )
    assert (row["average"], row["prev"], row["actual"]) == (
        one.average,
        one.previous_value,
        one.actual,
    )
    return one


def flags(facts: ReadingFacts, config: CritiqueConfig = CFG) -> set[str]:
    return set(check(facts, config).flags)


def test_plain_reading():
    v = check(BASE)
    assert v == rules.Verdict((), "ok", 20, "actual", 20, 1000, 20)


def test_not_read_with_and_without_observation():
    v = check(replace(BASE, value=None, observation="dog"))
    assert v.flags == ("not_read",)
    assert (v.status, v.consumption, v.rule) == ("flagged", 20, "average")
    assert flags(replace(BASE, value=None)) == {"not_read", "no_observation"}


def test_below_previous_bills_the_average():
    v = check(replace(BASE, value=990))
    assert v.flags == ("below_previous",)
    assert (v.consumption, v.rule, v.status, v.actual) == (20, "average", "flagged", None)


def test_rollover_counts_past_zero():
    v = check(replace(BASE, value=15, last_value=99_990))
    assert v.flags == ("rollover",)
    assert (v.consumption, v.rule, v.status) == (25, "actual", "ok")
    # A 4-digit dial wraps at 10,000.
    assert check(replace(BASE, digits=4, value=5, last_value=9_985)).consumption == 20
    # Too far from the top of the dial: not a rollover but a reading below the previous.
    assert flags(replace(BASE, value=100, last_value=60_000)) == {"below_previous"}


def test_too_many_digits():
    v = check(replace(BASE, value=123_456))
    assert v.flags == ("too_many_digits",)
    assert v.consumption == 20 and v.rule == "average"


def test_no_previous_reading_and_no_history():
    v = check(replace(BASE, last_value=None, last_offset=None, billed_count=0, billed_sum=0))
    assert v.flags == ("no_previous_reading", "no_history", "undetermined")
    assert (v.consumption, v.rule, v.status) == (None, "", "flagged")
    # A previous value stored on the reading is enough.
    v = check(replace(BASE, previous_value=990, last_value=None, billed_count=0, billed_sum=0))
    assert v.flags == ("no_history",)
    assert (v.consumption, v.status) == (30, "ok")


def test_meter_changed_by_serial_or_observation():
    assert flags(replace(BASE, meter_id=4, value=12)) == {"meter_changed"}
    v = check(replace(BASE, observation="changed"))
    assert v.flags == ("meter_changed",)
    assert v.rule == "average"


def test_no_meter():
    assert flags(replace(BASE, meter_id=None, last_meter_id=None)) == {"no_meter"}


def test_zero_consumption_only_on_active_connections():
    assert flags(replace(BASE, value=1000)) == {"zero_consumption", "low_consumption"}
    assert flags(replace(BASE, value=1000, water_status="cut")) == {"low_consumption"}
    assert flags(replace(BASE, value=1000, observation="vacant")) == {"low_consumption"}


def test_stuck_meter_needs_equal_readings_in_a_row():
    facts = replace(BASE, value=1000, billed_sum=0)
    assert "stuck_meter" not in flags(replace(facts, equal_mask=0b1))
    assert "stuck_meter" in flags(replace(facts, equal_mask=0b11))
    assert "stuck_meter" not in flags(replace(facts, equal_mask=0b11, observation="closed"))
    assert "stuck_meter" not in flags(replace(facts, equal_mask=0b11, water_status="cut"))
    assert "stuck_meter" in flags(replace(facts, equal_mask=0b1), CritiqueConfig(stuck_periods=2))


def test_high_and_low_use_the_category_factor():
    assert flags(replace(BASE, value=1041)) == {"high_consumption"}  # 41 > 2 × 20
    assert flags(replace(BASE, value=1040)) == set()  # exactly 2 ×: not above
    assert flags(replace(BASE, category="commercial", value=1045)) == set()  # k = 2.5
    assert flags(replace(BASE, value=1009)) == {"low_consumption"}  # 9 < 20 / 2
    assert flags(replace(BASE, value=1010)) == set()
    # Small averages: a deviation under min_deviation_m3 is ignored.
    small = replace(BASE, billed_sum=12, value=1006)  # average 2, consumption 6
    assert flags(small) == set()
    assert flags(small, CritiqueConfig(min_deviation_m3=1)) == {"high_consumption"}
    cfg = CritiqueConfig(factor_by_category={"domestic": Decimal("1.5")})
    assert flags(replace(BASE, value=1031), cfg) == {"high_consumption"}
    assert check(replace(BASE, value=1041)).status == "flagged"
    assert check(replace(BASE, value=1009)).status == "ok"  # low is information


def test_very_high_for_the_category_scales_with_months():
    facts = replace(BASE, value=1150, billed_sum=6 * 140)
    assert flags(facts) == {"very_high_consumption"}
    assert check(facts, months=2).flags == ()


def test_consumption_on_cut_or_removed_connection():
    assert flags(replace(BASE, water_status="cut")) == {"consumption_on_cut"}
    assert flags(replace(BASE, water_status="removed")) == {"consumption_on_removed"}
    assert flags(replace(BASE, water_status="feasible")) == {"consumption_on_removed"}
    assert flags(replace(BASE, water_status="cut", value=1000)) == {"low_consumption"}


def test_vacant_with_consumption():
    assert flags(replace(BASE, observation="vacant")) == {"vacant_with_consumption"}
    assert flags(replace(BASE, observation="demolished")) == {"vacant_with_consumption"}


def test_estimated_streak():
    unread = replace(BASE, value=None, observation="closed")
    assert "estimated_streak" not in flags(replace(unread, unread_mask=0b1))
    assert "estimated_streak" in flags(replace(unread, unread_mask=0b11))
    assert "estimated_streak" not in flags(replace(unread, unread_mask=0b10))
    assert "estimated_streak" in flags(
        replace(unread, unread_mask=0b111), CritiqueConfig(estimated_streak=4)
    )


@pytest.mark.parametrize(
    ("observation", "flag", "status", "rule"),
    [
        ("broken", "meter_problem", "flagged", "average"),
        ("illegible", "meter_problem", "flagged", "average"),
        ("reversed", "meter_problem", "flagged", "average"),
        ("missing", "meter_problem", "flagged", "average"),
        ("buried", "meter_problem", "flagged", "average"),
        ("self_reconnected", "fraud_observed", "flagged", "actual"),
        ("clandestine", "fraud_observed", "flagged", "actual"),
        ("leak", "leak_observed", "ok", "actual"),
    ],
)
def test_observations(observation, flag, status, rule):
    v = check(replace(BASE, observation=observation))
    assert v.flags == (flag,)
    assert (v.status, v.rule) == (status, rule)


def test_vip_always_reviewed_and_deviation_is_tighter():
    vip = replace(BASE, segment="vip")
    assert check(vip).flags == ("vip_review",)
    assert check(vip).status == "flagged"
    assert flags(replace(vip, value=1027)) == {"vip_review", "vip_deviation"}  # 27 > 1.3 × 20
    assert flags(replace(vip, value=1014)) == {"vip_review", "vip_deviation"}  # 14 < 20 / 1.3
    assert flags(replace(vip, value=1025)) == {"vip_review"}
    assert flags(vip, CritiqueConfig(vip_always_review=False)) == set()
    # A large consumer (average ≥ 300) gets the tighter factor without being VIP.
    big = replace(BASE, category="industrial", billed_sum=6 * 400, value=1000 + 560)
    assert flags(big) == {"vip_deviation"}
    assert flags(big, CritiqueConfig(large_consumer_average=None)) == set()


def test_catch_up_subtracts_what_was_billed_by_average():
    facts = replace(BASE, value=1060, last_offset=3, unread_since_last=40)
    v = check(facts)
    assert v.flags == ("catch_up",)
    assert (v.consumption, v.rule, v.actual) == (20, "actual", 20)
    assert check(facts, CritiqueConfig(compensate_estimated=False)).consumption == 60
    # Never below zero.
    assert check(replace(facts, value=1010)).consumption == 0
    # A previous value stored on the reading that is not the history's: no compensation.
    assert check(replace(facts, previous_value=1030)).consumption == 30


def test_severity_override_and_average_on():
    cfg = CritiqueConfig(severity={"not_read": "info", "no_observation": "info"})
    v = check(replace(BASE, value=None), cfg)
    assert v.status == "ok" and v.consumption == 20
    cfg = CritiqueConfig(average_on=frozenset())
    v = check(replace(BASE, observation="broken"), cfg)
    assert (v.consumption, v.rule) == (20, "actual")
    # Without a usable difference the average is used whatever average_on says.
    assert check(replace(BASE, value=990), cfg).rule == "average"


def test_every_flag_has_a_case_above():
    """Every flag code is produced by at least one of the hand-made cases (the list
    below is what the tests above exercise)."""
    produced = {
        "not_read", "no_observation", "below_previous", "rollover", "too_many_digits",
        "no_previous_reading", "meter_changed", "no_meter", "zero_consumption", "stuck_meter",
        "high_consumption", "low_consumption", "very_high_consumption", "consumption_on_cut",
        "consumption_on_removed", "vacant_with_consumption", "estimated_streak",
        "meter_problem", "fraud_observed", "leak_observed", "vip_review", "vip_deviation",
        "catch_up", "no_history", "undetermined",
    }  # fmt: skip
    assert produced == set(rules.FLAG_CODES)
    assert len(rules.FLAGS) >= 16
    for flag in rules.FLAGS.values():
        assert flag.severity in rules.SEVERITIES
        assert str(flag.label) and str(flag.meaning)


# --- the history summary ------------------------------------------------------------------


def row(offset, value, consumption, *, prev=None, status="ok", rule="actual", meter=3):
    return HistoryRow(offset, value, prev, consumption, status, rule, meter)


def test_summarize_history():
    rows = [
        row(1, None, 10, rule="average"),
        row(2, None, 12, rule="average"),
        row(3, 1000, 30, prev=970),
        row(4, 970, 25, prev=970, status="flagged"),  # not billed
        row(5, 945, 20, prev=945, meter=2),
        row(7, 900, 99),  # outside the window
    ]
    s = rules.summarize_history(rows, CFG)
    assert s == rules.HistorySummary(
        billed_count=4,
        billed_sum=72,
        last_offset=3,
        last_value=1000,
        last_meter_id=3,
        unread_mask=0b11,
        equal_mask=0b11000,
        unread_since_last=22,
    )
    measured = rules.summarize_history(rows, CritiqueConfig(average_measured_only=True))
    assert (measured.billed_count, measured.billed_sum) == (2, 50)
    assert rules.summarize_history([], CFG) == rules.HistorySummary()


def test_average_rounds_half_up():
    assert rules.average(2, 21) == 11
    assert rules.average(3, 31) == 10
    assert rules.average(4, 2) == 1  # 0.5 → 1
    assert rules.average(0, 0) is None


# --- configuration ------------------------------------------------------------------------


def test_config_from_mapping_and_back():
    cfg = CritiqueConfig.from_mapping(
        {
            "average_periods": 3,
            "factor_by_category": {"domestic": "1.8"},
            "cap_by_category": {"industrial": 9000},
            "vip_factor": 1.2,
            "severity": {"low_consumption": "hold"},
            "average_on": ["not_read"],
            "large_consumer_average": None,
            "control_sample_percent": "0.5",
        }
    )
    assert cfg.factor_milli("domestic") == 1800
    assert cfg.factor_milli("social") == 2000
    assert cfg.cap("industrial") == 9000
    assert cfg.severity_of("low_consumption") == "hold"
    assert cfg.control_basis_points == 50
    assert CritiqueConfig.from_mapping(cfg.as_dict()) == cfg
    assert CritiqueConfig.from_mapping(None) == CritiqueConfig()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"colour": 1}, "colour"),
        ({"average_periods": 0}, "average_periods"),
        ({"vip_factor": "0.9"}, "vip_factor"),
        ({"factor_by_category": {"domestic": "abc"}}, "factor_by_category.domestic"),
        ({"cap_by_category": {"domestic": 0}}, "cap_by_category.domestic"),
        ({"severity": {"not_read": "maybe"}}, "severity.not_read"),
        ({"severity": {"nope": "info"}}, "severity.nope"),
        ({"average_on": ["nope"]}, "average_on"),
        ({"control_sample_percent": "101"}, "control_sample_percent"),
        ({"compensate_estimated": "yes"}, "compensate_estimated"),
        ({"rollover_max_percent": 90}, "rollover_max_percent"),
    ],
)
def test_config_errors_name_the_key(data, key):
    with pytest.raises(rules.ConfigError, match=key.replace(".", r"\.")):
        CritiqueConfig.from_mapping(data)


def test_history_window_covers_the_streaks():
    assert CritiqueConfig().history_periods == 6
    assert CritiqueConfig(average_periods=2, estimated_streak=5).history_periods == 4


# --- control sample -----------------------------------------------------------------------


def test_control_sample_vectorised_equals_per_account_and_is_about_the_share():
    cfg = CritiqueConfig(control_sample_percent=Decimal("10"))
    ids = pl.Series("account_id", range(1, 20_001))
    mask = rules.control_sample_mask(ids, "2026-07", cfg)
    assert mask.to_list()[:500] == [
        rules.in_control_sample(i, "2026-07", cfg) for i in range(1, 501)
    ]
    assert 1_800 < mask.sum() < 2_200
    other = rules.control_sample_mask(ids, "2026-08", cfg)
    assert (mask != other).sum() > 1000  # another period, another draw
    none = rules.control_sample_mask(
        ids, "2026-07", CritiqueConfig(control_sample_percent=Decimal(0))
    )
    assert none.sum() == 0


def test_corrected_consumption():
    assert rules.corrected_consumption(100, 130, 5) == 30
    assert rules.corrected_consumption(99_990, 10, 5) == 20
    assert rules.corrected_consumption(None, 10, 5) is None
    assert rules.corrected_consumption(10, 100_000, 5) is None


def test_codes_agree_with_the_models():
    from caudal.metering.models import (
        BILLABLE_STATUSES,
        ConsumptionRule,
        Observation,
        ReadingStatus,
    )

    assert set(rules.BILLABLE) == {str(s) for s in BILLABLE_STATUSES}
    statuses = {str(s) for s in ReadingStatus}
    assert set(rules.DECIDED) | set(rules.OPEN) == statuses
    assert {rules.RULE_ACTUAL, rules.RULE_AVERAGE, rules.RULE_CORRECTED, rules.RULE_ESTIMATED} <= {
        str(r) for r in ConsumptionRule
    }
    observations = {str(o) for o in Observation}
    for group in (
        rules.OBS_METER_PROBLEM,
        rules.OBS_FRAUD,
        rules.OBS_LEAK,
        rules.OBS_VACANT,
        rules.OBS_METER_CHANGED,
        rules.OBS_NOBODY_HOME,
    ):
        assert group <= observations


# --- vectorised == per reading ------------------------------------------------------------

maybe_int = lambda lo, hi: st.one_of(st.none(), st.integers(lo, hi))  # noqa: E731

facts_strategy = st.builds(
    ReadingFacts,
    account_id=st.integers(1, 10**7),
    category=st.sampled_from(["domestic", "social", "commercial", "industrial", "state", "x"]),
    segment=st.sampled_from(["regular", "vip"]),
    water_status=st.sampled_from([None, "active", "cut", "removed", "feasible", "clandestine"]),
    meter_id=maybe_int(1, 4),
    digits=st.one_of(st.none(), st.integers(3, 9)),
    value=st.one_of(st.none(), st.integers(0, 120_000), st.integers(0, 10**10)),
    previous_value=st.one_of(st.none(), st.integers(0, 120_000)),
    observation=st.sampled_from(
        ["", "", "", "no_access", "broken", "leak", "vacant", "closed", "changed", "clandestine"]
    ),
    billed_count=st.integers(0, 6),
    billed_sum=st.integers(0, 3000),
    last_offset=maybe_int(1, 6),
    last_value=st.one_of(st.none(), st.integers(0, 100_000), st.integers(99_000, 100_000)),
    last_meter_id=maybe_int(1, 4),
    unread_mask=st.integers(0, 63),
    equal_mask=st.integers(0, 63),
    unread_since_last=st.integers(0, 60),
)

config_strategy = st.builds(
    CritiqueConfig,
    average_periods=st.integers(1, 6),
    min_deviation_m3=st.integers(0, 10),
    default_factor=st.sampled_from([Decimal("1"), Decimal("1.5"), Decimal("2.25")]),
    vip_factor=st.sampled_from([Decimal("1"), Decimal("1.3")]),
    large_consumer_average=st.one_of(st.none(), st.integers(1, 500)),
    vip_always_review=st.booleans(),
    estimated_streak=st.integers(1, 6),
    stuck_periods=st.integers(1, 6),
    rollover_max_percent=st.integers(1, 50),
    compensate_estimated=st.booleans(),
    average_on=st.frozensets(st.sampled_from(rules.FLAG_CODES)),
    severity=st.dictionaries(st.sampled_from(rules.FLAG_CODES), st.sampled_from(rules.SEVERITIES)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    facts=st.lists(facts_strategy, min_size=1, max_size=40),
    config=config_strategy,
    months=st.sampled_from([1, 2]),
)
def test_vectorised_equals_per_reading(facts, config, months):
    frame = rules.critique_frame(rules.facts_frame(facts), config, months=months)
    for f, got in zip(facts, frame.iter_rows(named=True), strict=True):
        v = rules.critique_reading(f, config, months=months)
        assert got["flags"] == v.flags_text
        assert got["status"] == v.status
        assert got["consumption"] == v.consumption
        assert got["consumption_rule"] == v.rule
        assert got["average"] == v.average
        assert got["prev"] == v.previous_value
        assert got["actual"] == v.actual
