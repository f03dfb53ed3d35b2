"""Bulk settlement: whole documents paid in one set-based write."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from django.db import IntegrityError

from caudal.audit.models import AuditEvent
from caudal.ledger import queries
from caudal.ledger.actions import do_block_item
from caudal.ledger.invariants import check_all
from caudal.ledger.models import Clearing, Document, OpenItem
from caudal.ledger.settle import pay_documents_in_full

from .conftest import items_of


def frame(*pairs):
    return pl.DataFrame(
        {"document_id": [d.pk for d, _ in pairs], "paid_on": [on for _, on in pairs]},
        schema={"document_id": pl.Int64, "paid_on": pl.Date},
    )


def test_pays_open_items_in_full(account, other_account, bill):
    first = bill(lines=[("water", 3_000, "Agua"), ("sewer", 1_200, "Alcantarillado")])
    second = bill(5_000, target=other_account, reference="R-2")
    counts = pay_documents_in_full(
        frame((first, date(2025, 2, 10)), (second, date(2025, 2, 20))),
        actor="test",
        source="test",
    )
    assert counts == {"documents": 2, "items": 3, "amount": 9_200}
    assert queries.balance(account) == 0
    assert queries.balance(other_account) == 0
    payment = Document.objects.get(account=account, kind="payment")
    assert payment.amount == -4_200
    assert payment.posting_date == date(2025, 2, 10)
    assert all(i.open_amount == 0 and i.cleared_on == date(2025, 2, 10) for i in items_of(first))
    assert Clearing.objects.filter(document=payment).count() == 2
    assert AuditEvent.objects.filter(action="ledger.pay_documents").count() == 1
    assert check_all() == []
    # state as of the day before the payment: still owed
    assert queries.balance_as_of(account, date(2025, 2, 9)) == 4_200


def test_blocked_items_stay_open_and_partial_paid_rest(account, bill):
    doc = bill(lines=[("water", 3_000, "Agua"), ("sewer", 1_000, "Alcantarillado")])
    _water, sewer = items_of(doc)
    do_block_item(sewer, reason="Reclamo", on=date(2025, 2, 1), actor="test")
    counts = pay_documents_in_full(frame((doc, date(2025, 2, 5))), actor="test", source="t")
    assert counts["amount"] == 3_000
    sewer.refresh_from_db()
    assert sewer.open_amount == 1_000
    assert check_all() == []


def test_same_batch_twice_is_refused_whole(account, bill):
    doc = bill()
    pay_documents_in_full(frame((doc, date(2025, 2, 5))), actor="test", source="t")
    # nothing is open any more: a second batch posts nothing
    assert (
        pay_documents_in_full(frame((doc, date(2025, 2, 6))), actor="test", source="t")["documents"]
        == 0
    )
    assert Document.objects.filter(kind="payment").count() == 1


def test_duplicate_reference_rolls_back(account, bill):
    doc = bill(reference="F-1")
    other = bill(reference="F-2")
    # a payment already carries the reference the batch would use for ``other``
    from caudal.ledger.actions import do_post_payment

    do_post_payment(
        account, amount=1, payment_date=date(2025, 2, 1), reference="PAGO-F-2", actor="test"
    )
    before = OpenItem.objects.count()
    with pytest.raises(IntegrityError):
        pay_documents_in_full(
            frame((doc, date(2025, 2, 5)), (other, date(2025, 2, 5))), actor="test", source="t"
        )
    assert OpenItem.objects.count() == before
