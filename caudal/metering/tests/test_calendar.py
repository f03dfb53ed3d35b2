"""Reading calendar rules: pure, no database."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caudal.kernel.periods import Period
from caudal.metering import calendar as cal

SEDACUSCO = cal.CycleSettings(code="C01", reading_day=18, billing_day=6, due_days=20)


def test_sedacusco_cycle():
    # The seeds' cycle, counting every day as a working day: 18–23, 24–30, bill on the 6th.
    rules = cal.CalendarRules(skip_sundays=False)
    d = cal.cycle_dates(Period(2026, 11), SEDACUSCO, rules)
    assert (d.read_from, d.read_to) == (date(2026, 11, 18), date(2026, 11, 23))
    assert (d.critique_from, d.critique_to) == (date(2026, 11, 24), date(2026, 11, 30))
    assert d.billing_date == date(2026, 12, 6)
    assert d.due_date == date(2026, 12, 26)
    assert d.cut_warning_date == date(2026, 12, 26)
    assert d.period == "2026-11" and d.months == 1


def test_sundays_are_skipped_and_dates_move_to_working_days():
    d = cal.cycle_dates(Period(2026, 11), SEDACUSCO, cal.CalendarRules())
    # Wed 18 … Tue 24: six working days, Sunday 22 not counted
    assert (d.read_from, d.read_to) == (date(2026, 11, 18), date(2026, 11, 24))
    assert d.critique_from == date(2026, 11, 25)
    assert d.critique_to == date(2026, 12, 1)  # seven calendar days
    assert d.billing_date == date(2026, 12, 7)  # the 6th is a Sunday
    assert d.due_date == date(2026, 12, 28)  # 7 + 20 = Sunday 27 → Monday 28
    for day in d.dates().values():
        assert day.weekday() != 6


def test_holidays_are_skipped():
    holidays = frozenset({date(2026, 12, 8), date(2026, 12, 9), date(2026, 12, 25)})
    rules = cal.CalendarRules(holidays=holidays)
    d = cal.cycle_dates(
        Period(2026, 12), cal.CycleSettings("C02", reading_day=8, billing_day=25), rules
    )
    # 8 and 9 December are holidays (Peru): the window starts on the 10th
    assert d.read_from == date(2026, 12, 10)
    assert d.read_to == date(2026, 12, 16)  # 10 11 12 14 15 16 (13 is Sunday)
    assert d.billing_date == date(2027, 1, 25)


def test_cut_warning_uses_grace_days():
    rules = cal.CalendarRules(cut_warning_days=10, skip_sundays=False)
    d = cal.cycle_dates(Period(2026, 11), SEDACUSCO, rules)
    assert d.cut_warning_date == d.due_date + timedelta(days=10)


def test_critique_never_reaches_the_review_days_before_billing():
    # reading late in the month, billing early: the critique is cut short
    cycle = cal.CycleSettings("C09", reading_day=25, billing_day=4, due_days=15)
    rules = cal.CalendarRules(skip_sundays=False, review_days=1)
    d = cal.cycle_dates(Period(2026, 11), cycle, rules)
    assert d.read_to == date(2026, 11, 30)
    assert d.critique_from == date(2026, 12, 1)
    assert d.critique_to == date(2026, 12, 2)  # billing 4th, one review day (3rd)
    assert d.billing_date == date(2026, 12, 4)


def test_billing_moves_after_the_critique_when_settings_conflict():
    cycle = cal.CycleSettings("C10", reading_day=28, billing_day=1, due_days=10)
    d = cal.cycle_dates(Period(2026, 11), cycle, cal.CalendarRules(skip_sundays=False))
    assert d.critique_to < d.billing_date
    assert cal.check_order(d.dates()) == {}


def test_month_ends_are_clamped():
    cycle = cal.CycleSettings("C31", reading_day=31, billing_day=31, due_days=0)
    rules = cal.CalendarRules(skip_sundays=False, reading_days=1, critique_days=1, review_days=0)
    february = cal.cycle_dates(Period(2027, 2), cycle, rules)
    assert february.read_from == date(2027, 2, 28)
    assert february.billing_date == date(2027, 3, 31)
    leap = cal.cycle_dates(Period(2028, 2), cycle, rules)
    assert leap.read_from == date(2028, 2, 29)
    april = cal.cycle_dates(Period(2027, 3), cycle, rules)
    assert april.billing_date == date(2027, 4, 30)
    december = cal.cycle_dates(Period(2026, 12), SEDACUSCO, rules)
    assert december.billing_date == date(2027, 1, 6)


def test_bimonthly_reads_in_the_second_month_59_to_62_days_apart():
    rules = cal.CalendarRules()
    periods = cal.periods_of_year(2027, 2)
    assert [p.code for p in periods] == [
        "2027-01",
        "2027-03",
        "2027-05",
        "2027-07",
        "2027-09",
        "2027-11",
    ]
    rows = [cal.cycle_dates(p, SEDACUSCO, rules) for p in [*periods, periods[-1].next()]]
    first = rows[0]
    assert first.months == 2
    assert first.read_from == date(2027, 2, 18)
    assert first.billing_date == date(2027, 3, 6)
    gaps = [(b.read_from - a.read_from).days for a, b in itertools.pairwise(rows)]
    assert all(58 <= g <= 62 for g in gaps), gaps


def test_bimonthly_even_cycles():
    periods = cal.periods_of_year(2027, 2, odd=False)
    assert [p.code for p in periods][:2] == ["2027-02", "2027-04"]
    december = cal.cycle_dates(periods[-1], SEDACUSCO, cal.CalendarRules())
    assert december.period == "2027-12"
    assert december.read_from == date(2028, 1, 18)
    assert december.billing_date == date(2028, 2, 7)  # 6 February 2028 is a Sunday


def test_monthly_year_has_twelve_periods():
    assert [p.month for p in cal.periods_of_year(2026, 1)] == list(range(1, 13))


def test_check_order_names_the_field():
    d = cal.cycle_dates(Period(2026, 11), SEDACUSCO, cal.CalendarRules()).dates()
    assert cal.check_order(d) == {}
    d["critique_from"] = d["read_to"]
    assert cal.check_order(d) == {"critique_from": "before:read_to"}
    d = cal.cycle_dates(Period(2026, 11), SEDACUSCO, cal.CalendarRules()).dates()
    d["due_date"] = None  # type: ignore[assignment]
    assert cal.check_order(d) == {"due_date": "missing"}


def test_month_grid_and_window_days():
    weeks = cal.month_grid(2026, 11)
    assert weeks[0][0] == date(2026, 10, 26)  # the Monday before 1 November
    assert weeks[-1][-1] == date(2026, 12, 6)
    assert all(len(w) == 7 for w in weeks)
    d = cal.cycle_dates(Period(2026, 11), SEDACUSCO, cal.CalendarRules())
    days = [day for week in weeks for day in week]
    events = cal.window_days([d], days)
    assert events[date(2026, 11, 18)] == [("C01", "read")]
    assert events[date(2026, 11, 26)] == [("C01", "critique")]
    assert events[date(2026, 11, 17)] == []


def test_invalid_rules():
    with pytest.raises(ValueError):
        cal.CalendarRules(reading_days=0)
    with pytest.raises(ValueError):
        cal.CalendarRules(review_days=-1)


@given(
    year=st.integers(2000, 2060),
    month=st.integers(1, 12),
    months=st.sampled_from([1, 2]),
    reading_day=st.integers(1, 31),
    billing_day=st.integers(1, 31),
    due_days=st.integers(0, 60),
    grace=st.integers(0, 30),
    skip_sundays=st.booleans(),
    holiday_offsets=st.sets(st.integers(0, 120), max_size=15),
)
def test_dates_are_always_ordered_and_on_working_days(
    year, month, months, reading_day, billing_day, due_days, grace, skip_sundays, holiday_offsets
):
    period = Period(year, month, months)
    holidays = frozenset(period.start + timedelta(days=o) for o in holiday_offsets)
    rules = cal.CalendarRules(cut_warning_days=grace, skip_sundays=skip_sundays, holidays=holidays)
    cycle = cal.CycleSettings("X", reading_day, billing_day, due_days)
    d = cal.cycle_dates(period, cycle, rules)
    assert cal.check_order(d.dates()) == {}
    for name in ("read_from", "read_to", "critique_from", "billing_date", "due_date"):
        assert cal.is_working_day(getattr(d, name), rules), name
    # the window is read in the period's last month (or just after when holidays push it)
    assert d.read_from >= period.day(1, month_offset=months - 1)
    working = [
        d.read_from + timedelta(days=i)
        for i in range((d.read_to - d.read_from).days + 1)
        if cal.is_working_day(d.read_from + timedelta(days=i), rules)
    ]
    assert len(working) == rules.reading_days
