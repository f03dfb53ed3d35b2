"""Ledger reads: balances, open items, statement, state as of a past date."""

from __future__ import annotations

from datetime import date

import pytest

from caudal.ledger import actions, queries
from caudal.ledger.models import Side

from .conftest import item_of

D = date
pytestmark = pytest.mark.django_db


def pay(account, amount, on, **kw):
    return actions.do_post_payment(account, amount=amount, payment_date=on, actor="t", **kw)


def test_balances_and_open_items(account, other_account, bill):
    jan = bill(1_000, D(2025, 1, 20), on=D(2025, 1, 1))
    feb = bill(2_000, D(2025, 2, 20), on=D(2025, 2, 1))
    mar = bill(4_000, D(2025, 3, 20), on=D(2025, 3, 1))
    bill(9_999, target=other_account)
    actions.do_block_item(item_of(feb), reason="Reclamo", actor=None)
    pay(account, 1_500, D(2025, 3, 5))
    assert queries.balance(account.pk) == 5_500
    assert queries.balance(other_account.pk) == 9_999
    assert queries.overdue_balance(account.pk, D(2025, 3, 21)) == 3_500
    assert queries.overdue_balance(account.pk, D(2025, 3, 21), include_blocked=True) == 5_500
    assert queries.overdue_balance(account.pk, D(2025, 3, 20)) == 0  # due today is not overdue
    items = queries.open_items(account.pk)
    assert [i.pk for i in items] == [item_of(feb).pk, item_of(mar).pk]
    assert [i.open_amount for i in items] == [2_000, 3_500]
    assert item_of(jan).open_amount == 0
    assert [i.pk for i in queries.blocked_items(account.pk)] == [item_of(feb).pk]
    assert queries.balance(12345) == 0


def test_overdue_balance_does_not_net_credits(account, bill):
    blocked = bill(1_000, D(2025, 1, 20), on=D(2025, 1, 1))
    actions.do_block_item(item_of(blocked), reason="Reclamo", actor=None)
    pay(account, 400, D(2025, 1, 5))
    assert queries.balance(account.pk) == 600
    assert queries.overdue_balance(account.pk, D(2025, 2, 1), include_blocked=True) == 1_000


def test_statement_running_balance_and_opening_row(account, bill, django_assert_num_queries):
    bill(1_000, on=D(2025, 1, 1))
    pay(account, 400, D(2025, 1, 15), reference="OP-1")
    actions.do_post_charge(
        account,
        kind="fee",
        lines=[("cut_fee", 2_500, "Corte")],
        document_date=D(2025, 2, 1),
        due_date=D(2025, 2, 15),
        reference="FEE-1",
        actor=None,
    )
    pay(account, 5_000, D(2025, 3, 1), reference="OP-2")
    with django_assert_num_queries(1):
        rows = queries.statement(account.pk)
    assert [(r.date, r.kind, r.debit, r.credit, r.running_balance) for r in rows] == [
        (D(2025, 1, 1), "bill", 1_000, 0, 1_000),
        (D(2025, 1, 15), "payment", 0, 400, 600),
        (D(2025, 2, 1), "fee", 2_500, 0, 3_100),
        (D(2025, 3, 1), "payment", 0, 5_000, -1_900),
    ]
    assert rows[2].description == "Corte" and rows[2].reference == "FEE-1"
    assert rows[-1].running_balance == queries.balance(account.pk)
    with django_assert_num_queries(1):
        window = queries.statement(account.pk, D(2025, 1, 10), D(2025, 2, 28))
    assert [(r.kind, r.document_id is None, r.running_balance) for r in window] == [
        (queries.OPENING_KIND, True, 1_000),
        ("payment", False, 600),
        ("fee", False, 3_100),
    ]
    assert window[0].date == D(2025, 1, 10)
    late = queries.statement(account.pk, D(2025, 6, 1))
    assert [(r.kind, r.running_balance) for r in late] == [(queries.OPENING_KIND, -1_900)]
    assert queries.statement(account.pk, end=D(2024, 1, 1)) == []
    row = rows[0]
    day, _doc, kind, _ref, _text, debit, credit, running = row  # unpacks like a plain tuple
    assert (day, kind, debit, credit, running) == (D(2025, 1, 1), "bill", 1_000, 0, 1_000)


def test_state_as_of_keeps_items_paid_later_open(account, bill, django_assert_num_queries):
    jan = bill(1_000, D(2025, 1, 20), on=D(2025, 1, 1))
    feb = bill(2_000, D(2025, 2, 20), on=D(2025, 2, 1))
    pay(account, 1_500, D(2025, 2, 10))
    pay(account, 1_500, D(2025, 3, 10))  # pays the rest of February, 0 credit left
    pay(account, 700, D(2025, 3, 15))  # a credit
    with django_assert_num_queries(1):
        jan31 = queries.state_as_of(account.pk, D(2025, 1, 31))
    assert [(i.pk, amt) for i, amt in jan31] == [(item_of(jan).pk, 1_000)]
    feb15 = queries.state_as_of(account.pk, D(2025, 2, 15))
    assert [(i.pk, amt) for i, amt in feb15] == [(item_of(feb).pk, 1_500)]
    assert type(feb15[0][1]) is int  # not a Decimal (PostgreSQL's SUM is numeric)
    assert type(queries.balance(account.pk)) is int
    assert type(queries.overdue_balance(account.pk, D(2025, 3, 1))) is int
    assert type(queries.balance_as_of(account.pk, D(2025, 3, 1))) is int
    mar1 = queries.state_as_of(account.pk, D(2025, 3, 1))
    assert [(i.pk, amt) for i, amt in mar1] == [(item_of(feb).pk, 1_500)]
    today = queries.state_as_of(account.pk, D(2025, 12, 31))
    assert [(i.side, amt) for i, amt in today] == [(Side.CREDIT, 700)]
    assert queries.state_as_of(account.pk, D(2024, 12, 31)) == []
    for day in (D(2024, 12, 31), D(2025, 1, 31), D(2025, 2, 15), D(2025, 3, 12), D(2026, 1, 1)):
        signed = sum(
            amt if i.side == Side.DEBIT else -amt for i, amt in queries.state_as_of(account.pk, day)
        )
        with django_assert_num_queries(1):
            assert queries.balance_as_of(account.pk, day) == signed
    assert queries.balance_as_of(account.pk, D(2026, 1, 1)) == queries.balance(account.pk) == -700


def test_state_as_of_sees_reversed_clearings_as_they_were(account, bill):
    b = bill(1_000, D(2025, 1, 20), on=D(2025, 1, 1))
    p = pay(account, 1_000, D(2025, 1, 10))
    actions.do_reverse_document(p, reason="Rechazado", posting_date=D(2025, 1, 25), actor=None)
    assert queries.state_as_of(account.pk, D(2025, 1, 15)) == []
    after = queries.state_as_of(account.pk, D(2025, 1, 26))
    assert [(i.pk, amt) for i, amt in after] == [(item_of(b).pk, 1_000)]
    assert queries.balance_as_of(account.pk, D(2025, 1, 15)) == 0
    assert queries.balance_as_of(account.pk, D(2025, 1, 26)) == 1_000
