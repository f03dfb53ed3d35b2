"""Corrections (refacturación): the old bill is credited by a reversal, a new version is
priced again and posted; posted documents are never edited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum

from caudal.audit.models import AuditEvent
from caudal.bench.billing_benches import build_utility
from caudal.billing import runs
from caudal.billing.actions import do_rebill
from caudal.billing.models import Bill, BillKind
from caudal.kernel.errors import DomainError
from caudal.ledger import actions as ledger_actions
from caudal.ledger import invariants
from caudal.ledger.models import Document, DocumentKind, OpenItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(db):
    utility = build_utility(20, cycles=1, per_route=10, seed=5, debt_share=0, credit_share=0)
    runs.run_billing(utility.period, actor="test")
    return utility


def _domestic_metered(consumption_at_least: int = 5) -> Bill:
    bill = (
        Bill.objects.filter(
            category="domestic",
            consumption_rule="actual",
            consumption__gte=consumption_at_least,
            units=1,
        )
        .exclude(document=None)
        .order_by("id")
        .first()
    )
    assert bill is not None
    return bill


def test_rebill_with_a_corrected_consumption(billed):
    old = _domestic_metered()
    doc = old.document
    assert doc is not None
    new = do_rebill(old, reason="Lectura mal digitada", consumption=3, actor="analyst")
    assert (new.version, new.kind, new.replaces_id) == (2, BillKind.CORRECTION, old.pk)
    assert (new.consumption, new.consumption_rule) == (3, "corrected")
    assert new.amount < old.amount
    assert new.document is not None and new.document.reference == new.number
    assert new.document.amount == new.amount
    assert new.number != old.number and new.payment_reference.startswith(new.number)
    assert {e["rule"] for e in new.lines} == {"corrected"}
    # the old document is untouched and reversed by a new one
    old_doc = Document.objects.get(pk=doc.pk)
    assert old_doc.amount == old.amount
    reversal = Document.objects.get(reverses=old_doc)
    assert reversal.kind == DocumentKind.REVERSAL and reversal.amount == -old.amount
    assert not OpenItem.objects.filter(document=old_doc, open_amount__gt=0).exists()
    # the account now owes only the new bill
    open_debt = OpenItem.objects.filter(
        account_id=old.account_id, side="D", open_amount__gt=0
    ).aggregate(t=Sum("open_amount"))["t"]
    assert open_debt == new.amount == new.total_due
    assert invariants.check_all() == []
    event = AuditEvent.objects.get(action="billing.rebill")
    assert event.after is not None and event.before is not None
    assert event.after["bill"] == new.pk and event.before["bill"] == old.pk
    assert event.reason == "Lectura mal digitada"


def test_rebill_of_a_paid_bill_moves_the_payment_to_the_new_bill(billed):
    old = _domestic_metered(10)
    ledger_actions.do_post_payment(
        old.account_id, amount=old.amount, payment_date=old.issue_date, actor="cashier"
    )
    assert not OpenItem.objects.filter(document=old.document, open_amount__gt=0).exists()
    new = do_rebill(old, reason="Consumo estimado en exceso", consumption=1, actor="analyst")
    # the payment was freed by the reversal and pays the (smaller) new bill in full
    assert new.credit_applied == new.amount
    assert new.total_due == 0
    credit_left = OpenItem.objects.filter(
        account_id=old.account_id, side="C", open_amount__gt=0
    ).aggregate(t=Sum("open_amount"))["t"]
    assert credit_left == old.amount - new.amount
    assert invariants.check_all() == []


def test_rebill_without_consumption_reprices_the_same_volume(billed):
    old = _domestic_metered()
    new = do_rebill(old, reason="Cambio de tarifa", actor="analyst")
    assert (new.consumption, new.consumption_rule) == (old.consumption, old.consumption_rule)
    assert new.amount == old.amount
    assert new.lines == old.lines


def test_only_the_latest_version_can_be_corrected(billed):
    old = _domestic_metered()
    new = do_rebill(old, reason="Primera corrección", consumption=2, actor="analyst")
    with pytest.raises(DomainError, match="ya fue refacturada"):
        do_rebill(old, reason="Otra vez", actor="analyst")
    third = do_rebill(new, reason="Segunda corrección", consumption=4, actor="analyst")
    assert third.version == 3 and third.replaces_id == new.pk
    assert invariants.check_all() == []


def test_reason_is_required_and_consumption_not_negative(billed):
    old = _domestic_metered()
    with pytest.raises(DomainError, match="motivo"):
        do_rebill(old, reason=" ", actor="analyst")
    with pytest.raises(DomainError, match="negativo"):
        do_rebill(old, reason="x", consumption=-1, actor="analyst")
    assert Bill.objects.filter(replaces=old).count() == 0


def test_due_date_of_a_late_correction(billed):
    old = _domestic_metered()
    later = old.due_date + timedelta(days=40)
    new = do_rebill(old, reason="Reclamo resuelto", consumption=2, actor="analyst", on=later)
    assert new.issue_date == later
    assert new.due_date == later + timedelta(days=old.account.cycle.due_days)
    reversal = Document.objects.get(reverses=old.document)
    assert reversal.posting_date == later
