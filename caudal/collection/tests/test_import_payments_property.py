"""Property: for random small ledgers and payment files, an import keeps the ledger sound.

For random accounts (with bills, some blocked, some earlier credits) and random payment
files (Asobancaria 2001 or CSV, one or two dates, repeated accounts), after the import:
the ledger invariants hold, Σ payments = Σ of the credit items posted = Σ ``Payment``
amounts, each account's balance fell by what it paid, blocked items are untouched, no
account keeps both an open credit and an open unblocked debit (eager application), and
the credit left is what the new credit items still have open.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caudal.cadastre.testing import make_account
from caudal.collection.formats import csvfile
from caudal.collection.models import Payment
from caudal.collection.tests.test_import_payments import BANK, aso, charge, run, today
from caudal.ledger import actions as ledger
from caudal.ledger import invariants, queries
from caudal.ledger.models import Document, OpenItem

pytestmark = pytest.mark.django_db

BILL = st.tuples(
    st.integers(1, 20_000),  # amount
    st.integers(-90, 20),  # due, days from today
    st.booleans(),  # blocked
)
ACCOUNT = st.tuples(st.lists(BILL, max_size=4), st.integers(0, 3_000))  # bills, prior credit
PAYMENT = st.tuples(st.integers(0, 3), st.integers(1, 30_000), st.integers(1, 2))


class _Undo(Exception):
    pass


@pytest.fixture
def bank(db, utility):
    from caudal.collection.models import CentreKind
    from caudal.collection.testing import make_centre

    return make_centre(BANK, kind=CentreKind.BANK)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(ACCOUNT, min_size=1, max_size=4),
    st.lists(PAYMENT, min_size=1, max_size=6),
    st.sampled_from(["asobancaria2001", "csv"]),
)
def test_import_keeps_the_ledger_sound(bank, accounts, payments, fmt):
    try:
        with transaction.atomic():
            _check(accounts, payments, fmt)
            raise _Undo
    except _Undo:
        pass


def _check(accounts, payments, fmt):
    rows = []
    for bills, credit in accounts:
        account = make_account()
        if credit:
            ledger.do_post_payment(
                account.pk, amount=credit, payment_date=today() - timedelta(days=100), actor="t"
            )
        for amount, due, blocked in bills:
            doc = charge(account, amount, today() + timedelta(days=due))
            if blocked:
                item = OpenItem.objects.get(document=doc)
                if item.open_amount:
                    ledger.do_block_item(item.pk, reason="reclamo", actor="t")
        rows.append(account)
    records = [
        (rows[who % len(rows)], amount, today() - timedelta(days=back))
        for who, amount, back in payments
    ]
    before = {a.pk: queries.balance(a.pk) for a in rows}
    blocked = dict(OpenItem.objects.filter(blocked=True).values_list("pk", "open_amount"))
    if fmt == "asobancaria2001":  # one collection date per file
        data = aso([{"reference": a.number, "amount": amt} for a, amt, _d in records])
    else:
        data = csvfile.write(
            pl.DataFrame(
                {
                    "reference": [a.number for a, _amt, _d in records],
                    "amount": [amt for _a, amt, _d in records],
                    "paid_on": [d for _a, _amt, d in records],
                    "method": ["cash"] * len(records),
                    "external_reference": [f"X{i}" for i in range(len(records))],
                    "point": [""] * len(records),
                }
            )
        )
    result = run(data, fmt)
    assert result.committed and result.posted == len(records), result.errors

    total = sum(amt for _a, amt, _d in records)
    assert result.total == total
    assert Payment.objects.aggregate(s=Sum("amount"))["s"] == total
    docs = Document.objects.filter(source=f"file:{result.sha256[:8]}")
    assert docs.count() == len(records)
    assert -docs.aggregate(s=Sum("amount"))["s"] == total
    credits = OpenItem.objects.filter(document__in=docs)
    assert {c.side for c in credits} == {"C"}
    assert credits.aggregate(s=Sum("amount"))["s"] == total
    assert credits.aggregate(s=Sum("open_amount"))["s"] == result.credit_left

    for account in rows:
        paid = sum(amt for a, amt, _d in records if a.pk == account.pk)
        assert queries.balance(account.pk) == before[account.pk] - paid
        assert invariants.check_account(account.pk) == []
        open_items = OpenItem.objects.filter(account=account, open_amount__gt=0)
        has_credit = open_items.filter(side="C").exists()
        has_debit = open_items.filter(side="D", blocked=False).exists()
        assert not (has_credit and has_debit)
    assert (
        dict(OpenItem.objects.filter(pk__in=list(blocked)).values_list("pk", "open_amount"))
        == blocked
    )
