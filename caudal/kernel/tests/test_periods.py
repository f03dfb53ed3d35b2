from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caudal.kernel.periods import Period


def test_parse_and_bounds():
    p = Period.parse("2026-11")
    assert p.start == date(2026, 11, 1)
    assert p.end == date(2026, 11, 30)
    assert p.next().code == "2026-12"
    assert p.shift(2).code == "2027-01"
    assert [q.code for q in p.last(3)] == ["2026-08", "2026-09", "2026-10"]


def test_bimonthly():
    p = Period.parse("2026-11", months=2)
    assert p.end == date(2026, 12, 31)
    assert p.next().code == "2027-01"
    assert p.days == 61
    assert Period.containing(date(2026, 12, 15), months=2) == p
    even = Period.parse("2026-12", months=2)
    assert even.end == date(2027, 1, 31)
    assert Period.containing(date(2027, 1, 10), months=2, odd=False) == even
    assert Period.containing(date(2026, 1, 10), months=2, odd=False) == Period(2025, 12, 2)


@pytest.mark.parametrize("bad", ["2026-13", "26-11", "2026/11", ""])
def test_bad_codes(bad):
    with pytest.raises(ValueError):
        Period.parse(bad)


def test_day_clamps():
    assert Period.parse("2026-02").day(31) == date(2026, 2, 28)
    assert Period.parse("2026-12").day(6, month_offset=1) == date(2027, 1, 6)


@given(st.integers(2000, 2100), st.integers(1, 12), st.integers(-50, 50))
def test_shift_roundtrip(year, month, n):
    p = Period(year, month)
    assert p.shift(n).shift(-n) == p
    assert Period.containing(p.shift(n).start) == p.shift(n)
