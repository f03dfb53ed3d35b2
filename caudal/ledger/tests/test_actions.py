"""Ledger actions against the database (``db`` fixture: every test rolled back)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from caudal.audit.models import AuditEvent
from caudal.kernel.errors import DomainError
from caudal.ledger import actions, invariants, queries
from caudal.ledger.models import (
    BlockEvent,
    Clearing,
    Document,
    DocumentKind,
    OpenItem,
    Side,
)

from .conftest import item_of, items_of

D = date
pytestmark = pytest.mark.django_db


PAY_DAY = D(2025, 2, 10)


def pay(account, amount, on=PAY_DAY, **kw):
    kw.setdefault("actor", "cash-desk")
    return actions.do_post_payment(account, amount=amount, payment_date=on, **kw)


def audit_after(action: str) -> dict[str, Any]:
    after = AuditEvent.objects.get(action=action).after
    assert isinstance(after, dict)
    return after


def assert_sound(*accounts):
    assert invariants.check_all() == []
    for acc in accounts:
        assert queries.balance(acc.pk) == sum(
            d.amount for d in Document.objects.filter(account=acc)
        )


# --- charges ------------------------------------------------------------------------------


def test_post_charge_creates_document_lines_and_debit_items(account):
    doc = actions.do_post_charge(
        account,
        kind="bill",
        lines=[("water", 2500, "Agua 12 m3"), ("sewer", 1000, "Alcantarillado"), ("tax", 630, "")],
        document_date=D(2025, 1, 31),
        posting_date=D(2025, 2, 1),
        due_date=D(2025, 2, 20),
        reference="F001-0001",
        source="billing",
        actor="billing-run",
    )
    assert doc.kind == DocumentKind.BILL
    assert doc.amount == 4130
    assert [(ln.line_no, ln.concept, ln.amount) for ln in doc.lines.order_by("line_no")] == [
        (1, "water", 2500),
        (2, "sewer", 1000),
        (3, "tax", 630),
    ]
    items = items_of(doc)
    assert [(i.side, i.amount, i.open_amount, i.concept) for i in items] == [
        ("D", 2500, 2500, "water"),
        ("D", 1000, 1000, "sewer"),
        ("D", 630, 630, "tax"),
    ]
    assert {(i.issue_date, i.due_date) for i in items} == {(D(2025, 2, 1), D(2025, 2, 20))}
    assert queries.balance(account.pk) == 4130
    event = AuditEvent.objects.get(action="ledger.post_charge")
    assert event.after is not None
    assert (event.actor_label, event.object_id, event.account_id) == (
        "billing-run",
        str(doc.pk),
        account.pk,
    )
    assert event.after["amount"] == 4130
    assert_sound(account)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "payment"}, "Tipo de cargo"),
        ({"lines": []}, "al menos una línea"),
        ({"lines": [("water", -5, "")]}, "positivos"),
        ({"lines": [("water", 0, "")]}, "positivos"),
        ({"lines": [("water", 12.5, "")]}, "entero"),
        ({"lines": [("payment", 100, "")]}, "no puede usarse"),
        ({"lines": [("beer", 100, "")]}, "desconocido"),
    ],
)
def test_post_charge_refuses_bad_input(account, kwargs, message):
    args = {
        "kind": "bill",
        "lines": [("water", 100, "")],
        "document_date": D(2025, 1, 1),
        "due_date": D(2025, 1, 20),
        "actor": None,
        **kwargs,
    }
    with pytest.raises(DomainError, match=message):
        actions.do_post_charge(account, **args)
    assert not Document.objects.exists()


def test_charge_records_the_user_as_creator(account):
    user = get_user_model().objects.create_user("cajera", password="x")
    doc = actions.do_post_charge(
        account,
        kind="fee",
        lines=[("reconnection_fee", 3000, "Reconexión")],
        document_date=D(2025, 1, 1),
        due_date=D(2025, 1, 1),
        actor=user,
    )
    assert doc.created_by == user
    assert AuditEvent.objects.get(action="ledger.post_charge").actor == user


def test_unknown_account_is_a_domain_error(db):
    with pytest.raises(DomainError, match="no existe"):
        pay(987654, 100)


# --- payments -----------------------------------------------------------------------------


def test_exact_payment_clears_the_bill(account, bill):
    b = bill(10_000)
    p = pay(account, 10_000, reference="OP-1")
    item = item_of(b)
    assert (item.open_amount, item.cleared_on) == (0, D(2025, 2, 10))
    credit = item_of(p)
    assert (credit.side, credit.amount, credit.open_amount) == (Side.CREDIT, 10_000, 0)
    assert p.amount == -10_000 and p.lines.get().concept == "payment"
    clearing = Clearing.objects.get()
    assert (clearing.debit_item, clearing.credit_item, clearing.amount) == (item, credit, 10_000)
    assert (clearing.cleared_on, clearing.document) == (D(2025, 2, 10), p)
    assert queries.balance(account.pk) == 0
    assert audit_after("ledger.post_payment")["applied"] == 10_000
    assert_sound(account)


def test_partial_payment_goes_oldest_due_first(account, bill):
    older = bill(5_000, D(2025, 1, 15), on=D(2025, 1, 1))
    newer = bill(7_000, D(2025, 2, 15), on=D(2025, 2, 1))
    pay(account, 6_000, on=D(2025, 2, 20))
    assert item_of(older).open_amount == 0
    assert item_of(newer).open_amount == 6_000
    assert queries.balance(account.pk) == 6_000
    assert_sound(account)


def test_overpayment_becomes_a_credit_applied_to_the_next_bill(account, bill):
    bill(4_000)
    p = pay(account, 10_000)
    assert item_of(p).open_amount == 6_000
    assert queries.balance(account.pk) == -6_000
    nxt = bill(5_000, D(2025, 3, 15), on=D(2025, 2, 28))
    assert item_of(nxt).open_amount == 0
    assert item_of(p).open_amount == 1_000
    clearing = Clearing.objects.get(debit_item=item_of(nxt))
    assert (clearing.cleared_on, clearing.document) == (D(2025, 2, 28), nxt)
    third = bill(3_000, D(2025, 4, 15), on=D(2025, 3, 31))
    assert item_of(third).open_amount == 2_000
    assert item_of(p).open_amount == 0
    assert queries.balance(account.pk) == 2_000
    assert_sound(account)


def test_back_dated_payment_never_clears_before_the_bill_exists(account, bill):
    b = bill(1_000, on=D(2025, 3, 1), due=D(2025, 3, 20))
    pay(account, 1_000, on=D(2025, 2, 1))
    assert Clearing.objects.get().cleared_on == D(2025, 3, 1)
    assert item_of(b).cleared_on == D(2025, 3, 1)
    assert queries.balance_as_of(account.pk, D(2025, 2, 15)) == -1_000
    assert [amt for _i, amt in queries.state_as_of(account.pk, D(2025, 2, 15))] == [1_000]


def test_by_concept_pays_costs_then_interest_then_principal(account, bill):
    b = bill(
        lines=[("water", 5_000, ""), ("interest", 400, ""), ("collection_cost", 600, "")],
    )
    pay(account, 1_500, policy="by_concept")
    by_concept = {i.concept: i.open_amount for i in items_of(b)}
    assert by_concept == {"collection_cost": 0, "interest": 0, "water": 4_500}


def test_by_concept_with_custom_order(account, bill):
    b = bill(lines=[("water", 5_000, ""), ("interest", 400, ""), ("cut_fee", 600, "")])
    pay(account, 5_200, policy="by_concept", concept_order=["principal", "interest"])
    by_concept = {i.concept: i.open_amount for i in items_of(b)}
    assert by_concept == {"water": 0, "interest": 200, "cut_fee": 600}


def test_oldest_due_ignores_concepts(account, bill):
    b = bill(lines=[("water", 5_000, ""), ("interest", 400, "")])
    pay(account, 1_000)
    assert {i.concept: i.open_amount for i in items_of(b)} == {"water": 4_000, "interest": 400}


def test_payment_refuses_bad_amounts_and_policies(account):
    for amount in (0, -5, 10.0):
        with pytest.raises(DomainError):
            pay(account, amount)
    with pytest.raises(DomainError, match="Política"):
        pay(account, 100, policy="random")
    assert not Document.objects.exists()


def test_duplicate_payment_reference_is_refused(account, other_account, bill):
    bill(1_000, reference="REC-77")
    pay(account, 500, reference="REC-77")  # a payment may share a bill's number
    with pytest.raises(DomainError, match="REC-77"):
        pay(account, 500, reference="REC-77")
    pay(other_account, 500, reference="REC-77")
    pay(account, 200)  # empty references never clash
    pay(account, 200)
    assert Document.objects.filter(kind="payment", account=account).count() == 3
    assert AuditEvent.objects.filter(action="ledger.post_payment").count() == 4
    assert_sound(account, other_account)


def test_duplicate_bill_reference_is_refused(account, bill):
    bill(1_000, reference="F1")
    with pytest.raises(DomainError, match="F1"):
        bill(2_000, reference="F1")
    assert queries.balance(account.pk) == 1_000


def test_payment_query_count_is_constant(account, bill, django_assert_max_num_queries):
    bill(1_000)
    with django_assert_max_num_queries(10) as few:
        pay(account, 600, reference="A")
    for n in range(40):
        bill(1_000 + n, D(2025, 1, 1 + n % 28))
    with django_assert_max_num_queries(10) as many:
        pay(account, 30_000, reference="B")
    assert len(many.captured_queries) == len(few.captured_queries)
    assert_sound(account)


# --- blocking -----------------------------------------------------------------------------


def test_blocked_item_is_skipped_and_money_stays_as_credit(account, bill):
    disputed = bill(8_000, D(2025, 1, 15), on=D(2025, 1, 1))
    current = bill(3_000, D(2025, 2, 15), on=D(2025, 2, 1))
    item = actions.do_block_item(
        item_of(disputed),
        reason="Reclamo por consumo excesivo",
        case_ref="PQR-2025-001",
        responsible="atención al cliente",
        on=D(2025, 2, 2),
        actor="agent",
    )
    assert item.blocked and item.block_reason == "Reclamo por consumo excesivo"
    assert item_of(current).blocked is False
    p = pay(account, 5_000)
    assert item_of(disputed).open_amount == 8_000
    assert item_of(current).open_amount == 0
    assert item_of(p).open_amount == 2_000
    assert queries.overdue_balance(account.pk, D(2025, 3, 1)) == 0
    assert queries.overdue_balance(account.pk, D(2025, 3, 1), include_blocked=True) == 8_000
    event = BlockEvent.objects.get()
    assert (event.blocked, event.case_ref, event.effective_on) == (
        True,
        "PQR-2025-001",
        D(2025, 2, 2),
    )
    # the complaint is rejected: unblocking lets the kept credit pay the item
    fresh = actions.do_unblock_item(
        item, reason="Reclamo infundado", on=D(2025, 3, 1), actor="agent"
    )
    assert fresh.blocked is False and fresh.open_amount == 6_000
    assert item.blocked is False and item.open_amount == 6_000  # caller's copy refreshed
    assert item_of(p).open_amount == 0
    assert list(BlockEvent.objects.order_by("pk").values_list("blocked", flat=True)) == [
        True,
        False,
    ]
    assert (
        AuditEvent.objects.filter(action__in=["ledger.block_item", "ledger.unblock_item"]).count()
        == 2
    )
    assert_sound(account)


def test_only_open_unblocked_debits_can_be_blocked(account, bill):
    p = pay(account, 500)
    with pytest.raises(DomainError, match="crédito"):
        actions.do_block_item(item_of(p), reason="x", actor=None)
    b = bill(500)  # paid at once by the credit
    with pytest.raises(DomainError, match="saldo"):
        actions.do_block_item(item_of(b), reason="x", actor=None)
    b2 = bill(700)
    actions.do_block_item(item_of(b2).pk, reason="x", actor=None)
    with pytest.raises(DomainError, match="ya está bloqueada"):
        actions.do_block_item(item_of(b2), reason="x", actor=None)
    with pytest.raises(DomainError, match="motivo"):
        actions.do_unblock_item(item_of(b2), reason=" ", actor=None)
    actions.do_unblock_item(item_of(b2), reason="ok", actor=None)
    with pytest.raises(DomainError, match="no está bloqueada"):
        actions.do_unblock_item(item_of(b2), reason="ok", actor=None)
    with pytest.raises(DomainError, match="no existe"):
        actions.do_block_item(99_999, reason="x", actor=None)


# --- reversals ----------------------------------------------------------------------------


def test_reversing_a_payment_reopens_the_bills_it_paid(account, bill):
    b1 = bill(3_000, D(2025, 1, 15), on=D(2025, 1, 1))
    b2 = bill(4_000, D(2025, 2, 15), on=D(2025, 2, 1))
    p = pay(account, 5_000, reference="CHQ-9")
    rev = actions.do_reverse_document(
        p, reason="Cheque rechazado", posting_date=D(2025, 2, 12), actor="treasury"
    )
    assert rev.kind == DocumentKind.REVERSAL and rev.reverses == p
    assert rev.amount == 5_000
    assert [(ln.concept, ln.amount) for ln in rev.lines.all()] == [("payment", 5_000)]
    assert item_of(b1).open_amount == 3_000 and item_of(b1).cleared_on is None
    assert item_of(b2).open_amount == 4_000
    assert item_of(p).open_amount == 0 and item_of(rev).open_amount == 0
    resets = Clearing.objects.filter(amount__lt=0)
    assert resets.count() == 2
    assert all(r.resets and r.resets.amount == -r.amount and r.document == rev for r in resets)
    assert queries.balance(account.pk) == 7_000
    event = AuditEvent.objects.get(action="ledger.reverse_document")
    assert event.reason == "Cheque rechazado"
    assert audit_after("ledger.reverse_document")["reset_clearings"] == 2
    # the payment was open from Feb 10 to Feb 12 only
    assert queries.balance_as_of(account.pk, D(2025, 2, 11)) == 2_000
    assert_sound(account)


def test_reversing_a_bill_frees_its_credit_for_other_debits(account, bill):
    b1 = bill(3_000, D(2025, 1, 15), on=D(2025, 1, 1))
    p = pay(account, 3_000, on=D(2025, 1, 10))
    b2 = bill(2_000, D(2025, 2, 15), on=D(2025, 2, 1))
    assert item_of(b2).open_amount == 2_000
    actions.do_reverse_document(b1, reason="Lectura errada", posting_date=D(2025, 2, 5), actor=None)
    assert item_of(b1).open_amount == 0
    assert item_of(b2).open_amount == 0  # paid by the freed credit
    assert item_of(p).open_amount == 1_000
    assert queries.balance(account.pk) == -1_000
    assert_sound(account)


def test_reversal_of_a_partially_paid_bill(account, bill):
    b = bill(lines=[("water", 6_000, ""), ("sewer", 4_000, "")])
    p = pay(account, 7_000)
    water, sewer = items_of(b)
    assert (water.open_amount, sewer.open_amount) == (0, 3_000)
    rev = actions.do_reverse_document(
        b, reason="Refacturación", posting_date=D(2025, 2, 11), actor=None
    )
    assert rev.amount == -10_000
    assert [(ln.concept, ln.amount) for ln in rev.lines.order_by("line_no")] == [
        ("water", -6_000),
        ("sewer", -4_000),
    ]
    mirrors = items_of(rev)
    assert [m.side for m in mirrors] == ["C", "C"]
    assert all(m.open_amount == 0 for m in mirrors)
    assert all(i.open_amount == 0 for i in items_of(b))
    assert item_of(p).open_amount == 7_000  # the payment is a credit again
    assert queries.balance(account.pk) == -7_000
    # history: as of the payment day the bill was 3 000 open
    assert queries.balance_as_of(account.pk, D(2025, 2, 10)) == 3_000
    assert_sound(account)


def test_reversing_a_blocked_bill_unblocks_it(account, bill):
    b = bill(2_000)
    actions.do_block_item(item_of(b), reason="Reclamo", actor=None)
    actions.do_reverse_document(b, reason="Reclamo fundado", posting_date=D(2025, 2, 1), actor=None)
    item = item_of(b)
    assert (item.blocked, item.open_amount) == (False, 0)
    assert BlockEvent.objects.filter(item=item).count() == 2
    assert audit_after("ledger.reverse_document")["unblocked"] == [item.pk]
    assert_sound(account)


def test_a_document_is_reversed_only_once_and_reversals_never(account, bill):
    b = bill(1_000)
    rev = actions.do_reverse_document(b, reason="x", posting_date=D(2025, 2, 1), actor=None)
    with pytest.raises(DomainError, match="ya fue revertido"):
        actions.do_reverse_document(b, reason="x", posting_date=D(2025, 2, 1), actor=None)
    with pytest.raises(DomainError, match="no se puede revertir"):
        actions.do_reverse_document(rev.pk, reason="x", posting_date=D(2025, 2, 1), actor=None)
    b2 = bill(1_000)
    with pytest.raises(DomainError, match="anterior"):
        actions.do_reverse_document(b2, reason="x", posting_date=D(2024, 12, 1), actor=None)
    with pytest.raises(DomainError, match="motivo"):
        actions.do_reverse_document(b2, reason="", actor=None)
    with pytest.raises(DomainError, match="no existe"):
        actions.do_reverse_document(123_456, reason="x", actor=None)
    assert Document.objects.filter(kind="reversal").count() == 1
    assert_sound(account)


def test_reversing_a_write_off_reopens_the_debt(account, bill):
    b = bill(1_500)
    w = actions.do_write_off(account, reason="Incobrable", posting_date=D(2025, 6, 1), actor=None)
    assert queries.balance(account.pk) == 0
    actions.do_reverse_document(w, reason="Cliente ubicado", posting_date=D(2025, 7, 1), actor=None)
    assert item_of(b).open_amount == 1_500
    assert queries.balance(account.pk) == 1_500
    assert_sound(account)


def test_a_written_off_bill_is_reversed_only_after_its_write_off(account, bill):
    b = bill(1_500)
    other = bill(800, D(2025, 3, 15))
    w = actions.do_write_off(
        account, items=[item_of(b)], reason="Incobrable", posting_date=D(2025, 6, 1), actor=None
    )
    with pytest.raises(DomainError, match=f"castigo {w.pk}"):
        actions.do_reverse_document(b, reason="x", posting_date=D(2025, 7, 1), actor=None)
    actions.do_reverse_document(w, reason="Error", posting_date=D(2025, 7, 1), actor=None)
    actions.do_reverse_document(b, reason="Anulada", posting_date=D(2025, 7, 1), actor=None)
    assert item_of(other).open_amount == 800  # nothing forgave it
    assert queries.balance(account.pk) == 800
    assert_sound(account)


# --- adjustments --------------------------------------------------------------------------


def test_debit_adjustment_adds_a_debit_item(account):
    doc = actions.do_adjust(
        account,
        amount=1_200,
        concept="water",
        reason="Diferencia de lectura",
        posting_date=D(2025, 3, 1),
        due_date=D(2025, 3, 20),
        actor="analyst",
    )
    item = item_of(doc)
    assert (doc.kind, doc.amount, item.side, item.due_date) == (
        "adjustment",
        1_200,
        "D",
        D(2025, 3, 20),
    )
    assert AuditEvent.objects.get(action="ledger.adjust").reason == "Diferencia de lectura"


def test_credit_adjustment_on_a_target_item(account, bill):
    old = bill(5_000, D(2025, 1, 15), on=D(2025, 1, 1))
    disputed = bill(3_000, D(2025, 2, 15), on=D(2025, 2, 1))
    actions.do_block_item(item_of(disputed), reason="Reclamo", actor=None)
    doc = actions.do_adjust(
        account,
        amount=-3_500,
        concept="credit",
        reason="Reclamo fundado: consumo promedio",
        target_item=item_of(disputed),
        posting_date=D(2025, 3, 1),
        actor=None,
    )
    assert doc.amount == -3_500
    assert item_of(disputed).open_amount == 0
    assert item_of(disputed).blocked is False  # cleared, so unblocked
    assert item_of(old).open_amount == 4_500  # the 500 left went oldest due first
    assert item_of(doc).open_amount == 0
    assert_sound(account)


def test_credit_adjustment_without_target_follows_default_policy(account, bill):
    b = bill(1_000)
    doc = actions.do_adjust(
        account,
        amount=-1_500,
        concept="credit",
        reason="Bonificación",
        posting_date=D(2025, 3, 1),
        actor=None,
    )
    assert item_of(b).open_amount == 0
    assert item_of(doc).open_amount == 500
    assert queries.balance(account.pk) == -500


def test_adjust_refuses_bad_input(account, other_account, bill):
    other_item = item_of(bill(1_000, target=other_account))
    base: dict[str, Any] = {
        "concept": "credit",
        "reason": "x",
        "posting_date": D(2025, 3, 1),
        "actor": None,
    }
    with pytest.raises(DomainError, match="cero"):
        actions.do_adjust(account, amount=0, **base)
    with pytest.raises(DomainError, match="motivo"):
        actions.do_adjust(account, amount=-10, **{**base, "reason": ""})
    with pytest.raises(DomainError, match="no es un cargo abierto"):
        actions.do_adjust(account, amount=-10, target_item=other_item, **base)
    with pytest.raises(DomainError, match="Solo un ajuste de crédito"):
        actions.do_adjust(
            account, amount=10, target_item=other_item, **{**base, "concept": "water"}
        )
    with pytest.raises(DomainError, match="no puede usarse"):
        actions.do_adjust(account, amount=-10, **{**base, "concept": "payment"})
    assert not Document.objects.filter(account=account).exists()


# --- write-offs ---------------------------------------------------------------------------


def test_write_off_all_open_unblocked_debits(account, bill):
    b1 = bill(1_000, D(2024, 1, 15), on=D(2024, 1, 1))
    b2 = bill(2_000, D(2024, 2, 15), on=D(2024, 2, 1))
    blocked = bill(700, D(2024, 3, 15), on=D(2024, 3, 1))
    actions.do_block_item(item_of(blocked), reason="Reclamo", actor=None)
    pay(account, 400, on=D(2024, 4, 1))
    w = actions.do_write_off(
        account, reason="Deuda incobrable", posting_date=D(2025, 6, 30), actor="board"
    )
    assert w.kind == DocumentKind.WRITE_OFF and w.amount == -2_600
    lines = list(w.lines.order_by("line_no"))
    assert [(ln.concept, ln.amount) for ln in lines] == [("write_off", -600), ("write_off", -2_000)]
    assert item_of(b1).open_amount == 0 and item_of(b2).open_amount == 0
    assert item_of(blocked).open_amount == 700
    assert all(i.open_amount == 0 and i.side == "C" for i in items_of(w))
    assert queries.balance(account.pk) == 700
    assert audit_after("ledger.write_off")["items"] == [
        item_of(b1).pk,
        item_of(b2).pk,
    ]
    assert_sound(account)


def test_write_off_selected_items_and_errors(account, other_account, bill):
    b1 = bill(1_000)
    b2 = bill(2_000)
    w = actions.do_write_off(
        account, items=[item_of(b2)], reason="x", posting_date=D(2025, 6, 1), actor=None
    )
    assert w.amount == -2_000
    assert item_of(b1).open_amount == 1_000
    kw: dict[str, Any] = {"reason": "x", "posting_date": D(2025, 6, 1), "actor": None}
    with pytest.raises(DomainError, match="no es un cargo abierto"):
        actions.do_write_off(account, items=[item_of(b2)], **kw)
    with pytest.raises(DomainError, match="dos veces"):
        actions.do_write_off(account, items=[item_of(b1), item_of(b1)], **kw)
    with pytest.raises(DomainError, match="no es un cargo abierto"):
        actions.do_write_off(account, items=[item_of(bill(50, target=other_account))], **kw)
    actions.do_block_item(item_of(b1), reason="Reclamo", actor=None)
    with pytest.raises(DomainError, match="bloqueada"):
        actions.do_write_off(account, items=[item_of(b1)], **kw)
    with pytest.raises(DomainError, match="No hay partidas"):
        actions.do_write_off(account, **kw)
    with pytest.raises(DomainError, match="motivo"):
        actions.do_write_off(account, **{**kw, "reason": ""})
    assert_sound(account, other_account)


def test_write_off_applies_unapplied_credits_first(account, bill):
    b = bill(1_000)
    actions.do_block_item(item_of(b), reason="Reclamo", actor=None)
    p = pay(account, 600)
    # the block lifted behind the actions' back (a data repair): credit and debit apart
    OpenItem.objects.filter(pk=item_of(b).pk).update(blocked=False, block_reason="")
    w = actions.do_write_off(account, reason="Saldo menor", posting_date=D(2025, 6, 1), actor=None)
    assert w.amount == -400
    assert item_of(p).open_amount == 0 and item_of(b).open_amount == 0
    assert queries.balance(account.pk) == 0
    assert_sound(account)


# --- apply_credits ------------------------------------------------------------------------


def test_apply_credits(account, bill):
    b = bill(1_000)
    actions.do_block_item(item_of(b), reason="Reclamo", actor=None)
    p = pay(account, 600)
    assert actions.apply_credits(account, on=D(2025, 3, 1)) == []
    # a block lifted outside the actions (e.g. a data repair) leaves credit and debit apart
    OpenItem.objects.filter(pk=item_of(b).pk).update(blocked=False, block_reason="")
    clearings = actions.apply_credits(account, on=D(2025, 3, 1), actor="repair")
    assert [(c.amount, c.cleared_on) for c in clearings] == [(600, D(2025, 3, 1))]
    assert item_of(b).open_amount == 400 and item_of(p).open_amount == 0
    assert AuditEvent.objects.filter(action="ledger.apply_credits").count() == 1
    assert_sound(account)


def test_every_action_writes_one_audit_event(account, bill):
    b = bill(1_000)
    p = pay(account, 300)
    actions.do_adjust(
        account, amount=50, concept="other", reason="r", posting_date=D(2025, 3, 1), actor=None
    )
    actions.do_block_item(item_of(b), reason="r", actor=None)
    actions.do_unblock_item(item_of(b), reason="r", actor=None)
    actions.do_reverse_document(p, reason="r", posting_date=D(2025, 3, 1), actor=None)
    actions.do_write_off(account, reason="r", posting_date=D(2025, 3, 1), actor=None)
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == sorted(
        [
            "ledger.post_charge",
            "ledger.post_payment",
            "ledger.adjust",
            "ledger.block_item",
            "ledger.unblock_item",
            "ledger.reverse_document",
            "ledger.write_off",
        ]
    )
    assert set(AuditEvent.objects.values_list("account_id", flat=True)) == {account.pk}
