from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caudal.kernel.money import (
    MoneyError,
    format_money,
    parse_amount,
    split_proportionally,
    to_major,
    to_minor,
)


def test_to_minor_rounds_half_up():
    assert to_minor(Decimal("10.005")) == 1001
    assert to_minor(Decimal("-10.005")) == -1001
    assert to_minor("0.004") == 0


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        to_minor(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "minor"), [("1234.50", 123450), ("1234,5", 123450), ("-12", -1200), (" 7 ", 700)]
)
def test_parse_amount(text, minor):
    assert parse_amount(text) == minor


@pytest.mark.parametrize("text", ["", "1.234,50", "1,234.50", "abc", "1.001", "1.2.3"])
def test_parse_amount_rejects(text):
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_format_money():
    assert format_money(123450, "PEN") == "S/ 1,234.50"
    assert format_money(123450, "COP") == "$ 1.234,50"


@given(st.integers(-(10**12), 10**12))
def test_round_trip(minor):
    assert to_minor(to_major(minor)) == minor


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_split_sums_to_total(total, weights):
    parts = split_proportionally(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(p >= 0 for p in parts)
