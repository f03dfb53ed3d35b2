"""Cash desk pages: open, look up, pay, reverse, close; the supervisor's sessions; access."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

import pypdf
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from caudal.billing import barcode, qr
from caudal.collection import cashdesk
from caudal.collection.models import CashierSession, Payment, PaymentStatus, SessionStatus
from caudal.collection.tests.test_cashdesk import make_office, post_bill
from caudal.ledger import queries

pytestmark = pytest.mark.django_db

GLN = "7709998000018"


@pytest.fixture
def owing(account):
    today = timezone.localdate()
    old = post_bill(account, 5_000, today - timedelta(days=40), period="2026-09")
    new = post_bill(account, 7_000, today + timedelta(days=5), period="2026-10")
    return account, (old, new)


@pytest.fixture
def points(db):
    return make_office()


@pytest.fixture
def cashier(login, points):
    """A signed-in cashier with an open session (float 100.00) at the first point."""
    client = login("cashier")
    user = User.objects.get(username="cashier")
    session = cashdesk.do_open_session(user, points[0], 10_000, actor=user)
    return client, user, session


def errors_of(body: str) -> dict[str, str]:
    """Error messages of the page by the field they are shown next to."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r'<div [^>]*data-field="([^"]+)"[^>]*>([^<]*)<', body)
    }


def pay_data(reference: str, amount: str, **extra: str) -> dict[str, str]:
    return {
        "reference": reference,
        "ref": reference,
        "amount": amount,
        "method": "cash",
        "client_key": str(uuid.uuid4()),
        **extra,
    }


# --- access ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "desk", "supervisor"),
    [
        ("cashier", 200, 403),
        ("cash_supervisor", 200, 200),
        ("manager", 200, 200),
        ("superuser", 200, 200),
        ("field_worker", 403, 403),
        ("customer_service", 403, 403),
        ("auditor", 403, 403),
    ],
)
def test_access(login, points, role, desk, supervisor):
    client = login(role)
    assert client.get("/caja/").status_code == desk
    assert client.get("/caja/cerrar/").status_code == desk
    assert client.get("/caja/sesiones/").status_code == supervisor
    assert client.post("/caja/cobrar/", {}).status_code in ({200: 302}.get(desk, 403),)


def test_receipt_and_session_pages_access(login, owing, cashier):
    client, user, session = cashier
    account, _bills = owing
    payment = cashdesk.do_take_payment(
        session,
        reference=account.number,
        amount=1_000,
        method="cash",
        client_key=str(uuid.uuid4()),
        actor=user,
    ).payment
    url = f"/caja/comprobantes/{payment.pk}.pdf"
    assert client.get(url).status_code == 200
    assert login("cash_supervisor").get(url).status_code == 200
    for role in ("field_worker", "customer_service", "auditor"):
        assert login(role).get(url).status_code == 403
    assert client.get(f"/caja/sesiones/{session.pk}/").status_code == 403
    assert login("manager").get(f"/caja/sesiones/{session.pk}/").status_code == 200
    assert client.post(f"/caja/sesiones/{session.pk}/revisar/").status_code == 403
    assert client.get("/caja/comprobantes/999999.pdf").status_code == 404


def test_anonymous_goes_to_login():
    from django.test import Client

    response = Client().get("/caja/")
    assert response.status_code == 302 and response["Location"].startswith("/ingresar/")


# --- opening -------------------------------------------------------------------------------


def test_open_session_form_and_errors(login, points):
    client = login("cashier")
    body = client.get("/caja/").content.decode()
    assert 'action="/caja/abrir/"' in body and points[1].name in body
    response = client.post("/caja/abrir/", {"point": points[0].pk, "opening_float": "1.234,50"})
    assert response.status_code == 422
    assert "opening_float" in errors_of(response.content.decode())
    response = client.post("/caja/abrir/", {"point": "", "opening_float": "50"})
    assert "point" in errors_of(response.content.decode())
    assert not CashierSession.objects.exists()
    response = client.post("/caja/abrir/", {"point": points[1].pk, "opening_float": "150,50"})
    assert response.status_code == 302 and response["Location"] == "/caja/"
    session = CashierSession.objects.get()
    assert (session.point, session.opening_float) == (points[1], 15_050)
    body = client.get("/caja/").content.decode()
    assert 'id="ref"' in body and "autofocus" in body and "S/ 150.50" in body
    again = client.post("/caja/abrir/", {"point": points[0].pk, "opening_float": "0"})
    assert again.status_code == 422 and CashierSession.objects.count() == 1


def test_no_office_point_says_so(login, db):
    body = login("cashier").get("/caja/").content.decode()
    assert 'data-testid="no-points"' in body


# --- look up and pay -------------------------------------------------------------------------


def test_lookup_by_account_shows_debt_and_prefills_the_due(
    cashier, owing, django_assert_max_num_queries
):
    client, _user, _session = cashier
    account, (old, new) = owing
    with django_assert_max_num_queries(16):
        response = client.get(f"/caja/?ref={account.number}")
    body = response.content.decode()
    assert response.status_code == 200
    assert account.customer.name in body and account.property.address in body
    assert old.number in body and new.number in body
    assert 'name="amount"' in body and 'value="120.00"' in body
    assert f'name="reference" value="{account.number}"' in body


def test_lookup_by_scanned_barcode_finds_the_bill(cashier, owing):
    client, _user, _session = cashier
    _account, (old, _new) = owing
    _human, encoded = barcode.gs1_element_string(GLN, old.payment_reference, 50, old.due_date)
    typed = barcode.transmitted(encoded).replace(barcode.GS, "")  # what a browser gets
    body = client.get("/caja/", {"ref": typed}).content.decode()
    assert 'class="is-scanned"' in body
    assert f'name="reference" value="{old.payment_reference}"' in body
    assert 'value="50.00"' in body  # the bill's own open amount
    assert "importe impreso" in body


def test_lookup_by_peruvian_qr_payload(cashier, owing):
    client, _user, _session = cashier
    account, (_old, new) = owing
    payload = qr.payment_payload(
        qr.PaymentData(
            ruc="20100152356",
            account=account.number,
            payment_code=new.payment_reference,
            bill=new.number,
            period=new.period,
            amount_minor=7_000,
            currency="PEN",
            due=new.due_date,
        )
    )
    body = client.get("/caja/", {"ref": payload}).content.decode()
    assert "Código QR" in body and 'class="is-scanned"' in body
    assert f'name="reference" value="{new.payment_reference}"' in body


def test_lookup_errors_are_next_to_the_box(cashier):
    client, _user, _session = cashier
    body = client.get("/caja/?ref=99999999").content.decode()
    assert "No existe un suministro" in errors_of(body)["ref"]
    body = client.get("/caja/", {"ref": "(415)7709998000018(8020)1(96)20261340"}).content.decode()
    assert "(96)" in errors_of(body)["ref"]


def test_pay_cash_shows_change_and_double_submit_posts_once(cashier, owing):
    client, user, session = cashier
    account, _bills = owing
    data = pay_data(account.number, "120.00", tendered="150")
    response = client.post("/caja/cobrar/", data)
    payment = Payment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/caja/?pago={payment.pk}"
    again = client.post("/caja/cobrar/", data)
    assert again["Location"] == response["Location"]
    assert Payment.objects.count() == 1
    assert payment.session == session and payment.created_by == user and payment.amount == 12_000
    assert queries.balance(account.pk) == 0
    body = client.get(response["Location"]).content.decode()
    assert 'data-testid="done-change"' in body and "S/ 30.00" in body
    assert f'href="/caja/comprobantes/{payment.pk}.pdf"' in body


def test_pay_with_json_answers_the_receipt_url(cashier, owing):
    client, _user, _session = cashier
    account, _bills = owing
    response = client.post(
        "/caja/cobrar/",
        pay_data(account.number, "20", method="card", card_authorization="A77", card_last4="1234"),
        headers={"Accept": "application/json"},
    )
    payment = Payment.objects.get()
    assert response.json() == {
        "payment": payment.pk,
        "replay": False,
        "change": 0,
        "receipt": f"/caja/comprobantes/{payment.pk}.pdf",
        "next": f"/caja/?pago={payment.pk}",
    }
    assert payment.method == "card" and payment.external_reference == "TARJ AUT A77 ****1234"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "1.234,50"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"tendered": "10"}, "tendered"),
        ({"method": "cheque", "cheque_number": "123"}, "cheque_bank"),
        ({"method": "card"}, "card_authorization"),
        ({"reference": "77777777", "ref": "77777777"}, "ref"),
        ({"reference": "", "ref": ""}, "ref"),
        ({"client_key": "x"}, "client_key"),
    ],
)
def test_pay_errors_are_shown_next_to_the_field(cashier, owing, data, field):
    client, _user, _session = cashier
    account, _bills = owing
    response = client.post("/caja/cobrar/", {**pay_data(account.number, "120.00"), **data})
    assert response.status_code == 422
    assert field in errors_of(response.content.decode()), response.content.decode()[:3000]
    assert not Payment.objects.exists()


def test_pay_without_session_goes_back_to_the_desk(login, points, owing):
    client = login("cashier")
    account, _bills = owing
    response = client.post("/caja/cobrar/", pay_data(account.number, "1"))
    assert response.status_code == 302 and not Payment.objects.exists()


# --- reverse, receipt, close -------------------------------------------------------------------


def test_reverse_from_the_desk(cashier, owing):
    client, _user, _session = cashier
    account, _bills = owing
    client.post("/caja/cobrar/", pay_data(account.number, "120.00"))
    payment = Payment.objects.get()
    body = client.get("/caja/").content.decode()
    assert f'action="/caja/pagos/{payment.pk}/anular/"' in body
    response = client.post(f"/caja/pagos/{payment.pk}/anular/", {"reason": ""})
    assert response.status_code == 302
    assert Payment.objects.get().status == PaymentStatus.POSTED
    client.post(f"/caja/pagos/{payment.pk}/anular/", {"reason": "cliente equivocado"})
    assert Payment.objects.get().status == PaymentStatus.REVERSED
    assert queries.balance(account.pk) == 12_000
    body = client.get("/caja/").content.decode()
    assert "anulado" in body and "Anulado" in body


def test_receipt_pdf_then_reprint(cashier, owing):
    client, _user, _session = cashier
    account, _bills = owing
    client.post("/caja/cobrar/", pay_data(account.number, "120.00", tendered="200"))
    payment = Payment.objects.get()
    first = client.get(f"/caja/comprobantes/{payment.pk}.pdf")
    assert first["Content-Type"] == "application/pdf"
    assert first["Content-Disposition"] == f'inline; filename="comprobante_{payment.pk:010d}.pdf"'
    text = pypdf.PdfReader(io.BytesIO(first.content)).pages[0].extract_text()
    assert account.number in text and "REIMPRESIÓN" not in text and "Vuelto" in text
    second = client.get(f"/caja/comprobantes/{payment.pk}.pdf")
    assert "REIMPRESIÓN" in pypdf.PdfReader(io.BytesIO(second.content)).pages[0].extract_text()


def test_close_blind_count_then_summary(cashier, owing):
    client, _user, session = cashier
    account, _bills = owing
    client.post("/caja/cobrar/", pay_data(account.number, "100.00"))
    client.post(
        "/caja/cobrar/",
        pay_data(account.number, "20.00", method="cheque", cheque_bank="BCP", cheque_number="9"),
    )
    form = client.get("/caja/cerrar/").content.decode()
    assert "S/ 200.00" not in form  # the expected cash is not shown before counting
    short = client.post("/caja/cerrar/", {"cash": "199.00", "cheque": "20"})
    assert short.status_code == 422 and "note" in errors_of(short.content.decode())
    bad = client.post("/caja/cerrar/", {"cash": "dos"})
    assert "cash" in errors_of(bad.content.decode())
    response = client.post(
        "/caja/cerrar/", {"cash": "199.00", "card": "", "cheque": "20", "note": "faltó 1 sol"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == SessionStatus.CLOSED and session.difference == -100
    body = client.get("/caja/").content.decode()
    assert 'id="last-session"' in body and "Faltante" in body and "S/ 200.00" in body
    assert client.get("/caja/cerrar/").status_code == 200
    assert client.post("/caja/cerrar/", {"cash": "1"}).status_code == 200  # nothing to close


# --- supervisor -------------------------------------------------------------------------------


def test_supervisor_sees_differences_and_reviews(cashier, owing, login):
    client, _user, session = cashier
    account, _bills = owing
    client.post("/caja/cobrar/", pay_data(account.number, "50.00"))
    client.post("/caja/cerrar/", {"cash": "160.00", "note": "sobró"})
    supervisor = login("cash_supervisor")
    body = supervisor.get("/caja/sesiones/").content.decode()
    assert f'data-session="{session.pk}"' in body and 'class="has-diff"' in body
    assert 'class="diff-over"' in body and "+S/ 10.00" in body
    assert (
        f'data-session="{session.pk}"'
        not in supervisor.get("/caja/sesiones/?estado=abiertas").content.decode()
    )
    assert supervisor.get("/caja/sesiones/?dia=ayer").status_code == 400
    detail = supervisor.get(f"/caja/sesiones/{session.pk}/").content.decode()
    assert 'data-testid="count-table"' in detail and "sobró" in detail
    refused = supervisor.post(f"/caja/sesiones/{session.pk}/revisar/", {"note": ""})
    assert refused.status_code == 422 and "note" in errors_of(refused.content.decode())
    done = supervisor.post(f"/caja/sesiones/{session.pk}/revisar/", {"note": "a caja chica"})
    assert done.status_code == 302
    session.refresh_from_db()
    assert session.reviewed_by == User.objects.get(username="cash_supervisor")
    assert 'data-testid="reviewed"' in supervisor.get(done["Location"]).content.decode()


def test_supervisor_cannot_review_own_session(login, points):
    client = login("cash_supervisor")
    user = User.objects.get(username="cash_supervisor")
    session = cashdesk.do_open_session(user, points[0], 0, actor=user)
    cashdesk.do_close_session(session, {}, actor=user)
    body = client.get(f"/caja/sesiones/{session.pk}/").content.decode()
    assert "Es su propia sesión" in body
    response = client.post(f"/caja/sesiones/{session.pk}/revisar/", {"note": "ok"})
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.reviewed_at is None
