"""The cash desk receipt: an 80 mm PDF with what the payment was and what it paid."""

from __future__ import annotations

import io
from datetime import timedelta

import pypdf
import pytest
from django.utils import timezone

from caudal.billing.document import bill_money
from caudal.collection import cashdesk, receipt
from caudal.collection.models import Payment

from .test_cashdesk import key, make_cashier, make_office, post_bill

pytestmark = pytest.mark.django_db

MM = 72 / 25.4  # PDF points per millimetre


def _text(pdf: bytes) -> tuple[str, pypdf.PageObject]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    return " ".join(page.extract_text().split()), page


@pytest.fixture
def paid(account):
    today = timezone.localdate()
    old = post_bill(account, 5_000, today - timedelta(days=40), period="2026-09")
    new = post_bill(account, 7_000, today + timedelta(days=5), period="2026-10")
    point = make_office()[0]
    point.address = "Jr. Ayacucho 220"
    point.save()
    cashier = make_cashier()
    session = cashdesk.do_open_session(cashier, point, 0, actor=cashier)
    result = cashdesk.do_take_payment(
        session,
        reference=account.number,
        amount=13_000,
        method="cash",
        tendered=20_000,
        client_key=key(),
        actor=cashier,
    )
    return result.payment, session, cashier, (old, new)


def test_receipt_shows_the_payment_what_it_paid_and_the_balance(paid, utility):
    payment, _session, cashier, (old, new) = paid
    pdf = receipt.do_print_receipt(payment, actor=cashier)
    text, page = _text(pdf)
    assert float(page.mediabox.width) == pytest.approx(80 * MM, abs=0.5)
    assert 60 * MM <= float(page.mediabox.height) <= 200 * MM  # as long as the content
    money = lambda minor: bill_money(minor, "PEN")  # noqa: E731
    when = timezone.localtime(payment.received_at).strftime("%d/%m/%Y %H:%M")
    for expected in [
        utility.name,
        f"RUC {utility.tax_id}",
        "Oficina central",
        "P01 Ventanilla 1",
        "Jr. Ayacucho 220",
        "Carmen Rojas (caja1)",
        when,
        f"N.º {payment.pk:010d}",
        payment.account.number,
        payment.account.customer.name,
        f"TOTAL PAGADO {money(13_000)}",
        "Efectivo",
        f"Efectivo recibido {money(20_000)}",
        f"Vuelto {money(7_000)}",
        f"{old.number} · 2026-09",
        f"{new.number} · 2026-10",
        f"Queda como saldo a favor {money(1_000)}",
        f"Saldo a favor después del pago {money(1_000)}",
    ]:
        assert expected in text, expected
    assert "REIMPRESIÓN" not in text and "ANULADO" not in text


def test_second_print_is_a_reprint_and_a_reversed_payment_says_so(paid):
    payment, session, cashier, _bills = paid
    receipt.do_print_receipt(payment, actor=cashier)
    cashdesk.do_reverse_payment(session, payment, reason="error", actor=cashier)
    text, _page = _text(receipt.do_print_receipt(Payment.objects.get(), actor=cashier))
    assert "REIMPRESIÓN" in text and "ANULADO" in text


def test_card_receipt_shows_the_authorization_and_the_balance_left(account, utility):
    today = timezone.localdate()
    bill = post_bill(account, 8_000, today + timedelta(days=3), period="2026-10")
    cashier = make_cashier()
    session = cashdesk.do_open_session(cashier, make_office()[0], 0, actor=cashier)
    payment = cashdesk.do_take_payment(
        session,
        reference=bill.payment_reference,
        amount=3_000,
        method="card",
        card_last4="4242",
        card_authorization="777123",
        client_key=key(),
        actor=cashier,
    ).payment
    text, _page = _text(receipt.render(receipt.build(payment)))
    assert "Tarjeta" in text and "aut. 777123 ****4242" in text
    assert "Efectivo recibido" not in text and "Vuelto" not in text
    assert f"Referencia {bill.payment_reference}" in text
    assert f"Saldo pendiente después del pago {bill_money(5_000, 'PEN')}" in text
