"""Cash desk actions: sessions, payments, expected against counted, double submit, reversal."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from caudal.audit.models import AuditEvent
from caudal.bench.bill_benches import sample_tariff
from caudal.billing.models import Bill
from caudal.cadastre.models import Account
from caudal.collection import cashdesk, errors
from caudal.collection.models import (
    AmountRule,
    CashierSession,
    CentreKind,
    Payment,
    PaymentPoint,
    PaymentStatus,
    SessionStatus,
)
from caudal.collection.testing import make_centre
from caudal.ledger import actions as ledger
from caudal.ledger import queries
from caudal.ledger.models import Concept

pytestmark = pytest.mark.django_db


# --- helpers (also used by the receipt and web tests) -------------------------------------


def make_office(code: str = "OFI", points: int = 2) -> list[PaymentPoint]:
    centre = make_centre(code, kind=CentreKind.OFFICE, amount_rule=AmountRule.ANY, points=points)
    centre.name = "Oficina central"
    centre.save()
    return list(centre.points.order_by("code"))


def make_cashier(username: str = "caja1", first: str = "Carmen", last: str = "Rojas") -> User:
    return User.objects.create_user(username, first_name=first, last_name=last)


def post_bill(
    account: Account, amount: int, due: date, *, period: str, reference: str = ""
) -> Bill:
    """A bill row with its ledger document (what a billing run leaves)."""
    number = f"R{period.replace('-', '')}-{account.number}"
    doc = ledger.do_post_charge(
        account.pk,
        kind="bill",
        lines=[(Concept.WATER, amount, f"Agua {period}")],
        due_date=due,
        document_date=due - timedelta(days=20),
        posting_date=due - timedelta(days=20),
        reference=number,
        actor="billing-run",
    )
    return Bill.objects.create(
        account=account,
        period=period,
        number=number,
        payment_reference=reference or f"{account.number}{period[2:4]}{period[5:7]}",
        route=account.property.route,
        document=doc,
        issue_date=due - timedelta(days=20),
        due_date=due,
        category=account.category,
        tariff=sample_tariff("PE"),
        consumption=12,
        consumption_rule="actual",
        amount=amount,
        total_due=amount,
    )


def key() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def desk(account):
    """An office point, a cashier with an open session (float 100.00), an account owing
    two bills: 50.00 overdue and 70.00 current."""
    today = timezone.localdate()
    old = post_bill(account, 5_000, today - timedelta(days=40), period="2026-09")
    new = post_bill(account, 7_000, today + timedelta(days=5), period="2026-10")
    point = make_office()[0]
    cashier = make_cashier()
    session = cashdesk.do_open_session(cashier, point, 10_000, actor=cashier)
    return session, cashier, account, (old, new)


# --- sessions ----------------------------------------------------------------------------


def test_one_open_session_per_cashier(db):
    first, second = make_office()
    cashier = make_cashier()
    session = cashdesk.do_open_session(cashier, first, 5_000, actor=cashier)
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_open_session(cashier, second, 0, actor=cashier)
    assert exc.value.code == cashdesk.SESSION_OPEN
    assert CashierSession.objects.count() == 1
    cashdesk.do_close_session(session, {"cash": 5_000}, actor=cashier)
    again = cashdesk.do_open_session(cashier, second, 0, actor=cashier)
    assert again.status == SessionStatus.OPEN
    other = make_cashier("caja2")
    cashdesk.do_open_session(other, second, 0, actor=other)  # two cashiers, same point
    assert CashierSession.objects.filter(status=SessionStatus.OPEN).count() == 2


def test_constraint_backs_the_check(db):
    from django.db import IntegrityError, transaction

    point = make_office()[0]
    cashier = make_cashier()
    CashierSession.objects.create(cashier=cashier, point=point)
    with pytest.raises(IntegrityError), transaction.atomic():
        CashierSession.objects.create(cashier=cashier, point=point)


def test_session_only_at_an_active_office_point(db):
    car_point = make_centre("CAR9").points.get()
    cashier = make_cashier()
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_open_session(cashier, car_point, 0, actor=cashier)
    assert exc.value.field == "point"
    point = make_office()[0]
    PaymentPoint.objects.filter(pk=point.pk).update(active=False)
    with pytest.raises(cashdesk.CashDeskError):
        cashdesk.do_open_session(cashier, point.pk, 0, actor=cashier)
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_open_session(cashier, make_office("OF2")[0], -1, actor=cashier)
    assert exc.value.field == "opening_float"
    assert not CashierSession.objects.exists()


# --- payments ----------------------------------------------------------------------------


def test_cash_payment_gives_change_and_double_submit_posts_once(desk):
    session, cashier, account, _bills = desk
    form_key = key()
    first = cashdesk.do_take_payment(
        session,
        reference=account.number,
        amount=12_000,
        method="cash",
        tendered=15_000,
        client_key=form_key,
        actor=cashier,
    )
    again = cashdesk.do_take_payment(
        session,
        reference=account.number,
        amount=12_000,
        method="cash",
        tendered=15_000,
        client_key=form_key,
        actor=cashier,
    )
    assert (first.replay, again.replay) == (False, True)
    assert first.change == again.change == 3_000 and again.tendered == 15_000
    assert again.payment.pk == first.payment.pk
    assert Payment.objects.count() == 1
    payment = Payment.objects.get()
    assert payment.session_id == session.pk and payment.point_id == session.point_id
    assert payment.centre_id == session.point.centre_id and payment.created_by == cashier
    assert queries.balance(account.pk) == 0
    assert AuditEvent.objects.filter(action="collection.take_payment").count() == 1


def test_same_form_key_with_other_data_is_refused(desk):
    session, cashier, account, _bills = desk
    form_key = key()
    cashdesk.do_take_payment(
        session,
        reference=account.number,
        amount=1_000,
        method="cash",
        client_key=form_key,
        actor=cashier,
    )
    with pytest.raises(errors.PaymentRefused) as exc:
        cashdesk.do_take_payment(
            session,
            reference=account.number,
            amount=2_000,
            method="cash",
            client_key=form_key,
            actor=cashier,
        )
    assert exc.value.code == errors.KEY_REUSED
    assert Payment.objects.count() == 1


def test_pay_by_bill_reference_card_and_cheque(desk):
    session, cashier, account, (old, _new) = desk
    card = cashdesk.do_take_payment(
        session,
        reference=old.payment_reference,
        amount=5_000,
        method="card",
        card_last4="4242",
        card_authorization="A1B2C3",
        client_key=key(),
        actor=cashier,
    )
    assert card.payment.bill_reference == old.payment_reference
    assert card.payment.external_reference == "TARJ AUT A1B2C3 ****4242"
    assert card.change == 0 and card.tendered is None
    cheque = cashdesk.do_take_payment(
        session,
        reference=account.number,
        amount=7_000,
        method="cheque",
        cheque_bank="Banco de la Nación",
        cheque_number="00012345",
        client_key=key(),
        actor=cashier,
    )
    assert cheque.payment.external_reference == "CHQ 00012345 Banco de la Nación"
    assert queries.balance(account.pk) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"method": "transfer"}, "method"),
        ({"amount": 0}, "amount"),
        ({"tendered": 500}, "tendered"),
        ({"method": "cheque", "cheque_number": "1"}, "cheque_bank"),
        ({"method": "cheque", "cheque_bank": "BCP"}, "cheque_number"),
        ({"method": "card"}, "card_authorization"),
        ({"method": "card", "card_authorization": "X1", "card_last4": "42"}, "card_last4"),
        ({"client_key": ""}, "client_key"),
        ({"reference": " "}, "reference"),
    ],
)
def test_bad_form_fields_name_the_field_and_post_nothing(desk, fields, field):
    session, cashier, account, _bills = desk
    data = {
        "reference": account.number,
        "amount": 1_000,
        "method": "cash",
        "client_key": key(),
        **fields,
    }
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_take_payment(session, actor=cashier, **data)  # type: ignore[arg-type]
    assert exc.value.field == field
    assert not Payment.objects.exists()


def test_unknown_reference_posts_nothing(desk):
    session, cashier, _account, _bills = desk
    with pytest.raises(errors.PaymentRefused) as exc:
        cashdesk.do_take_payment(
            session,
            reference="99999999",
            amount=1_000,
            method="cash",
            client_key=key(),
            actor=cashier,
        )
    assert exc.value.code == errors.UNKNOWN_REFERENCE
    assert not Payment.objects.exists()


def test_only_the_sessions_cashier_takes_payments(desk):
    session, _cashier, account, _bills = desk
    intruder = make_cashier("caja2")
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_take_payment(
            session,
            reference=account.number,
            amount=1_000,
            method="cash",
            client_key=key(),
            actor=intruder,
        )
    assert exc.value.code == cashdesk.NOT_YOUR_SESSION
    assert not Payment.objects.exists()


# --- expected, counted, closing -------------------------------------------------------------


def _take(session, cashier, account, amount, method="cash", **extra):  # type: ignore[no-untyped-def]
    return cashdesk.do_take_payment(
        session,
        reference=account.number,
        amount=amount,
        method=method,
        client_key=key(),
        actor=cashier,
        **extra,
    ).payment


def test_expected_per_method_excludes_reversed_and_includes_the_float(desk):
    session, cashier, account, _bills = desk
    _take(session, cashier, account, 3_000)
    mistake = _take(session, cashier, account, 2_500)
    _take(session, cashier, account, 4_000, "card", card_authorization="778899")
    _take(session, cashier, account, 1_500, "cheque", cheque_bank="BCP", cheque_number="77")
    cashdesk.do_reverse_payment(session, mistake, reason="importe equivocado", actor=cashier)
    assert Payment.objects.get(pk=mistake.pk).status == PaymentStatus.REVERSED
    assert cashdesk.expected_amounts(session) == {
        "cash": 10_000 + 3_000,
        "card": 4_000,
        "cheque": 1_500,
    }


def test_close_balanced_then_refuses_a_second_close_and_payments(desk):
    session, cashier, account, _bills = desk
    _take(session, cashier, account, 12_000, tendered=20_000)
    closed = cashdesk.do_close_session(
        session, {"cash": 22_000, "card": 0, "cheque": 0}, actor=cashier
    )
    assert closed.status == SessionStatus.CLOSED and closed.closed_at is not None
    assert closed.expected == {"cash": 22_000, "card": 0, "cheque": 0}
    assert closed.counted == {"cash": 22_000, "card": 0, "cheque": 0}
    assert closed.difference == 0
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_close_session(session, {"cash": 22_000}, actor=cashier)
    assert exc.value.code == cashdesk.SESSION_CLOSED
    with pytest.raises(cashdesk.CashDeskError) as exc:
        _take(session, cashier, account, 100)
    assert exc.value.code == cashdesk.SESSION_CLOSED
    assert AuditEvent.objects.filter(action="collection.close_session").count() == 1


def test_close_with_shortage_records_difference_and_needs_a_note(desk):
    session, cashier, account, _bills = desk
    _take(session, cashier, account, 5_000)
    _take(session, cashier, account, 7_000, "card", card_authorization="123")
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_close_session(session, {"cash": 14_900, "card": 7_000}, actor=cashier)
    assert exc.value.field == "note"
    session.refresh_from_db()
    assert session.status == SessionStatus.OPEN
    closed = cashdesk.do_close_session(
        session, {"cash": 14_900, "card": 7_000}, "faltó un sol", actor=cashier
    )
    assert closed.difference == -100 and closed.note == "faltó un sol"
    assert closed.counted == {"cash": 14_900, "card": 7_000, "cheque": 0}


@pytest.mark.parametrize(
    "counted", [{"cash": -1}, {"cash": "100"}, {"cash": True}, {"transfer": 100}]
)
def test_counted_amounts_are_checked(desk, counted):
    session, cashier, _account, _bills = desk
    with pytest.raises(cashdesk.CashDeskError):
        cashdesk.do_close_session(session, counted, "x", actor=cashier)


def test_supervisor_reviews_closed_sessions_not_their_own(desk):
    session, cashier, account, _bills = desk
    supervisor = make_cashier("super", "Sara", "Quispe")
    with pytest.raises(cashdesk.CashDeskError):
        cashdesk.do_review_session(session, "ok", actor=supervisor)  # still open
    _take(session, cashier, account, 2_000)
    cashdesk.do_close_session(session, {"cash": 11_900}, "faltante", actor=cashier)
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_review_session(session, "yo", actor=cashier)
    assert exc.value.code == cashdesk.NOT_YOUR_SESSION
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_review_session(session, "", actor=supervisor)
    assert exc.value.field == "note"
    reviewed = cashdesk.do_review_session(session, "descontado al cajero", actor=supervisor)
    assert reviewed.reviewed_by == supervisor and reviewed.review_note == "descontado al cajero"
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_review_session(session, "otra vez", actor=supervisor)
    assert exc.value.code == cashdesk.ALREADY_REVIEWED


# --- reversal ------------------------------------------------------------------------------


def test_reverse_reopens_the_debt_only_in_the_own_open_session(desk):
    session, cashier, account, _bills = desk
    payment = _take(session, cashier, account, 12_000)
    other_cashier = make_cashier("caja2")
    other = cashdesk.do_open_session(other_cashier, session.point, 0, actor=other_cashier)
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_reverse_payment(other, payment, reason="x", actor=other_cashier)
    assert exc.value.status == 404
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_reverse_payment(session, payment, reason="x", actor=other_cashier)
    assert exc.value.code == cashdesk.NOT_YOUR_SESSION
    with pytest.raises(errors.PaymentRefused) as refused:
        cashdesk.do_reverse_payment(session, payment, reason=" ", actor=cashier)
    assert refused.value.code == errors.INVALID
    cashdesk.do_reverse_payment(session, payment, reason="cobro duplicado", actor=cashier)
    assert queries.balance(account.pk) == 12_000
    with pytest.raises(errors.PaymentRefused) as refused:
        cashdesk.do_reverse_payment(session, payment, reason="otra", actor=cashier)
    assert refused.value.code == errors.ALREADY_REVERSED


def test_reverse_refused_after_the_close(desk):
    session, cashier, account, _bills = desk
    payment = _take(session, cashier, account, 1_000)
    cashdesk.do_close_session(session, {"cash": 11_000}, actor=cashier)
    with pytest.raises(cashdesk.CashDeskError) as exc:
        cashdesk.do_reverse_payment(session, payment, reason="tarde", actor=cashier)
    assert exc.value.code == cashdesk.SESSION_CLOSED
    assert Payment.objects.get().status == PaymentStatus.POSTED
