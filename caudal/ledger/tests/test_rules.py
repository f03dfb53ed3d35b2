"""Ledger rules, without a database."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caudal.ledger import rules
from caudal.ledger.models import Concept
from caudal.ledger.rules import CREDIT, DEBIT, Item

D = date
BASE = D(2025, 1, 1)


def debit(i: int, amount: int, due: date, *, concept: str = "water", issue=None, blocked=False):
    return Item(
        id=i,
        side=DEBIT,
        open_amount=amount,
        due_date=due,
        issue_date=issue or due - timedelta(days=15),
        concept=concept,
        blocked=blocked,
    )


def credit(i: int, amount: int, issue: date) -> Item:
    return Item(id=i, side=CREDIT, open_amount=amount, due_date=issue, issue_date=issue)


concepts = st.sampled_from([c.value for c in Concept if c.value not in ("payment", "credit")])


@st.composite
def item_lists(draw, min_size=0, max_size=25):
    n = draw(st.integers(min_size, max_size))
    out = []
    for i in range(1, n + 1):
        due = BASE + timedelta(days=draw(st.integers(0, 400)))
        out.append(
            Item(
                id=i,
                side=draw(st.sampled_from([DEBIT, DEBIT, DEBIT, CREDIT])),
                open_amount=draw(st.integers(0, 50_000)),
                due_date=due,
                issue_date=due - timedelta(days=draw(st.integers(0, 30))),
                concept=draw(concepts),
                blocked=draw(st.booleans()),
            )
        )
    return out


policies = st.sampled_from(rules.POLICIES)


# --- concept classes ----------------------------------------------------------------------


def test_concept_classes_cover_every_concept():
    assert rules.concept_class("collection_cost") == "costs"
    assert rules.concept_class("cut_fee") == "costs"
    assert rules.concept_class("reconnection_fee") == "costs"
    assert rules.concept_class("other") == "costs"
    assert rules.concept_class("interest") == "interest"
    for principal in ("water", "sewer", "fixed", "tax", "meter", "installment"):
        assert rules.concept_class(principal) == "principal"
    assert set(rules.CONCEPT_CLASS) <= set(Concept.values)


# --- allocation examples ------------------------------------------------------------------


def test_oldest_due_pays_by_due_date_then_issue_date_then_id():
    items = [
        debit(3, 100, D(2025, 3, 1)),
        debit(1, 100, D(2025, 2, 1), issue=D(2025, 1, 20)),
        debit(2, 100, D(2025, 2, 1), issue=D(2025, 1, 10)),
        debit(4, 100, D(2025, 2, 1), issue=D(2025, 1, 10)),
    ]
    result = rules.allocate(250, items)
    assert result.parts == ((2, 100), (4, 100), (1, 50))
    assert (result.applied, result.remainder) == (250, 0)


def test_by_concept_pays_costs_then_interest_then_principal():
    items = [
        debit(1, 1000, D(2025, 1, 1), concept="water"),
        debit(2, 300, D(2025, 3, 1), concept="interest"),
        debit(3, 200, D(2025, 4, 1), concept="cut_fee"),
        debit(4, 100, D(2025, 2, 1), concept="collection_cost"),
    ]
    result = rules.allocate(700, items, policy=rules.BY_CONCEPT)
    assert result.parts == ((4, 100), (3, 200), (2, 300), (1, 100))


def test_by_concept_accepts_a_custom_order_of_classes_or_concepts():
    items = [
        debit(1, 100, D(2025, 1, 1), concept="water"),
        debit(2, 100, D(2025, 1, 1), concept="interest"),
        debit(3, 100, D(2025, 1, 1), concept="cut_fee"),
        debit(4, 100, D(2025, 1, 1), concept="sewer"),
    ]
    by_class = rules.allocate(400, items, policy=rules.BY_CONCEPT, concept_order=["principal"])
    assert [p[0] for p in by_class.parts] == [1, 4, 2, 3]  # unnamed classes last, oldest first
    by_name = rules.allocate(
        400, items, policy=rules.BY_CONCEPT, concept_order=["sewer", "interest", "principal"]
    )
    assert [p[0] for p in by_name.parts] == [4, 2, 1, 3]


def test_blocked_items_are_skipped_and_the_rest_stays_as_credit():
    items = [
        debit(1, 500, D(2025, 1, 1), blocked=True),
        debit(2, 300, D(2025, 2, 1)),
        credit(3, 1000, D(2025, 1, 1)),
    ]
    result = rules.allocate(1000, items)
    assert result.parts == ((2, 300),)
    assert result.remainder == 700
    assert result.skipped_blocked == (1,)


def test_allocate_refuses_negative_amounts_and_unknown_policies():
    with pytest.raises(rules.RuleError):
        rules.allocate(-1, [])
    with pytest.raises(rules.RuleError):
        rules.allocate(1, [], policy="newest_first")


def test_settle_applies_oldest_credit_first():
    items = [
        debit(1, 500, D(2025, 2, 1)),
        credit(2, 300, D(2025, 1, 20)),
        credit(3, 400, D(2025, 1, 5)),
    ]
    assert rules.settle(items) == [rules.Match(1, 3, 400), rules.Match(1, 2, 100)]


# --- allocation properties ----------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(0, 400_000), items=item_lists(), policy=policies)
def test_allocation_properties(amount, items, policy):
    result = rules.allocate(amount, items, policy=policy)
    by_id = {i.id: i for i in items}
    given_to = dict(result.parts)
    assert len(given_to) == len(result.parts)  # each item at most once
    assert result.applied + result.remainder == amount
    assert sum(given_to.values()) == result.applied <= amount
    for item_id, part in given_to.items():
        item = by_id[item_id]
        assert item.side == DEBIT and not item.blocked
        assert 0 < part <= item.open_amount
    payable = sum(i.open_amount for i in items if i.side == DEBIT and not i.blocked)
    assert result.applied == min(amount, payable)
    # order respected: everything before the last paid item is paid in full
    order = rules.order_debits(items, policy=policy)
    paid_ids = [p[0] for p in result.parts]
    assert paid_ids == [i.id for i in order[: len(paid_ids)]]
    for item in order[: max(0, len(paid_ids) - 1)]:
        assert given_to[item.id] == item.open_amount


@settings(max_examples=200, deadline=None)
@given(items=item_lists())
def test_oldest_due_order_is_monotonic(items):
    order = rules.order_debits(items)
    keys = [(i.due_date, i.issue_date, i.id) for i in order]
    assert keys == sorted(keys)


@settings(max_examples=200, deadline=None)
@given(items=item_lists())
def test_by_concept_order_keeps_classes_together(items):
    order = rules.order_debits(items, policy=rules.BY_CONCEPT)
    ranks = [rules.DEFAULT_CONCEPT_ORDER.index(rules.concept_class(i.concept)) for i in order]
    assert ranks == sorted(ranks)
    for rank in set(ranks):
        within = [
            (i.due_date, i.issue_date, i.id) for i, r in zip(order, ranks, strict=True) if r == rank
        ]
        assert within == sorted(within)


@settings(max_examples=200, deadline=None)
@given(items=item_lists(), policy=policies)
def test_settle_leaves_no_credit_next_to_a_payable_debit(items, policy):
    matches = rules.settle(items, policy=policy)
    left = {i.id: i.open_amount for i in items}
    for m in matches:
        assert m.amount > 0
        left[m.debit_id] -= m.amount
        left[m.credit_id] -= m.amount
    by_id = {i.id: i for i in items}
    assert all(v >= 0 for v in left.values())
    for m in matches:
        assert by_id[m.debit_id].side == DEBIT and not by_id[m.debit_id].blocked
        assert by_id[m.credit_id].side == CREDIT
    open_credit = sum(v for k, v in left.items() if by_id[k].side == CREDIT)
    open_payable = sum(
        v for k, v in left.items() if by_id[k].side == DEBIT and not by_id[k].blocked
    )
    assert open_credit == 0 or open_payable == 0
    # clearing never changes the signed balance
    assert rules.balance(items) == sum(v if by_id[k].side == DEBIT else -v for k, v in left.items())


def test_allocation_is_not_quadratic():
    items = [debit(i, 100, BASE + timedelta(days=i % 700)) for i in range(1, 50_001)]
    items += [credit(100_000 + i, 90, BASE) for i in range(50_000)]
    start = time.perf_counter()
    rules.allocate(3_000_000, items)
    matches = rules.settle(items)
    elapsed = time.perf_counter() - start
    assert sum(m.amount for m in matches) == 4_500_000
    assert elapsed < 2.0


# --- aging and balances -------------------------------------------------------------------


def test_days_past_due():
    assert rules.days_past_due(D(2025, 1, 10), D(2025, 1, 10)) == 0
    assert rules.days_past_due(D(2025, 1, 10), D(2025, 1, 5)) == 0
    assert rules.days_past_due(D(2025, 1, 10), D(2025, 2, 10)) == 31


def test_aging_buckets():
    on = D(2025, 12, 31)
    items = [
        debit(1, 100, on),  # 0 days
        debit(2, 200, on - timedelta(days=1)),  # 1-30
        debit(3, 300, on - timedelta(days=30)),  # 1-30
        debit(4, 400, on - timedelta(days=31)),  # 31-60
        debit(5, 500, on - timedelta(days=200)),  # 181-360
        debit(6, 600, on - timedelta(days=361)),  # >360
        debit(7, 700, on - timedelta(days=45), blocked=True),
        credit(8, 999, on),
    ]
    assert rules.aging_labels() == ["0", "1-30", "31-60", "61-90", "91-180", "181-360", ">360"]
    assert rules.aging(items, on) == {
        "0": 100,
        "1-30": 500,
        "31-60": 400,
        "61-90": 0,
        "91-180": 0,
        "181-360": 500,
        ">360": 600,
    }
    assert rules.aging(items, on, include_blocked=True)["31-60"] == 1100
    assert rules.aging(items, on, bounds=(0, 60)) == {"0": 100, "1-60": 900, ">60": 1100}
    with pytest.raises(rules.RuleError):
        rules.aging(items, on, bounds=(30, 0))


def test_balances_over_plain_items():
    on = D(2025, 3, 1)
    items = [
        debit(1, 1000, D(2025, 1, 1)),
        debit(2, 500, D(2025, 2, 1), blocked=True),
        debit(3, 700, D(2025, 4, 1)),
        credit(4, 300, D(2025, 2, 15)),
    ]
    assert rules.balance(items) == 1900
    assert rules.overdue(items, on) == 1000
    assert rules.overdue(items, on, include_blocked=True) == 1500
    assert rules.blocked_amount(items) == 500
    assert rules.oldest_overdue_days(items, on) == 59
    assert rules.oldest_overdue_days(items, D(2024, 1, 1)) == 0
