"""The cash desk in a real Chromium: open a session, type an account, pay cash with change,
the receipt opens as a PDF, close the session balanced.

Run with ``pytest -m browser``; screenshots in ``/tmp/caudal-shots/`` (``$CAUDAL_SHOTS``).
The desk at 1280 px is also saved as ``docs/img/cashdesk.png`` when
``CAUDAL_UPDATE_DOCS_IMG=1``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from caudal.audit.roles import ensure_roles
from caudal.billing.models import Bill
from caudal.cadastre.models import UtilitySettings
from caudal.cadastre.testing import make_account
from caudal.collection.models import CashierSession, Payment, ReconnectionDue, SessionStatus
from caudal.collection.tests.test_cashdesk import make_office, post_bill
from caudal.ledger import actions as ledger

from .test_browser import CHROMIUM, browser, ledger_flushable, make_staff, page, shot, sign_in

# fixtures shared with the other browser tests
__all__ = ["browser", "ledger_flushable", "page"]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DOCS_IMG = Path(settings.BASE_DIR) / "docs" / "img" / "cashdesk.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture
def office(ledger_flushable):  # type: ignore[no-untyped-def]
    ensure_roles()
    UtilitySettings.objects.update_or_create(
        pk=1,
        defaults={
            "name": "EPS Valle del Mantaro S.A.",
            "short_name": "EPS Mantaro",
            "country": "PE",
            "currency": "PEN",
            "tax_id": "20130098488",
        },
    )
    account = make_account(
        "40012345",
        name="Rosa Elvira Quispe Mamani",
        address="Av. Huancavelica 1452, El Tambo",
    )
    today = timezone.localdate()
    post_bill(account, 3_870, today - timedelta(days=68), period="2026-08")
    post_bill(account, 4_215, today - timedelta(days=38), period="2026-09")
    post_bill(account, 4_102, today + timedelta(days=6), period="2026-10")
    ledger.do_post_payment(
        account, amount=1_000, payment_date=today - timedelta(days=30), actor="caja"
    )
    point = make_office("OFI", points=3)[0]
    centre = point.centre
    centre.name = "Oficina central El Tambo"
    centre.save()
    make_staff("caja1", "cashier", "Carmen", "Rojas")
    yield account
    # Rows that point at ledger documents go before ledger_flushable empties the ledger.
    ReconnectionDue.objects.all().delete()
    Payment.objects.all().delete()
    Bill.objects.all().delete()


def test_open_pay_cash_receipt_and_close(page, office):  # type: ignore[no-untyped-def]
    account = office
    sign_in(page, "caja1")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/caja/")
    assert page.locator("h1").inner_text() == "Abrir caja"
    page.select_option("#point", label="Oficina central El Tambo · P01 Ventanilla 1")
    page.fill("#opening_float", "100.00")
    page.click("#open-session button[type=submit]")
    page.wait_for_url("**/caja/")
    assert page.locator("#ref").evaluate("el => el === document.activeElement")

    # a scanner (or the cashier) types into the focused box and sends Enter
    page.keyboard.type(account.number)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/caja/\?ref="))
    assert page.locator("[data-testid=holder]").inner_text() == "Rosa Elvira Quispe Mamani"
    assert page.locator("[data-testid=due]").inner_text() == "S/ 111.87"
    assert page.locator("#amount").input_value() == "111.87"
    assert page.locator("#open-bills tbody tr").count() == 3
    assert page.locator("#tendered").evaluate("el => el === document.activeElement")
    page.keyboard.type("150")
    assert page.locator("[data-testid=change]").inner_text() == "S/ 38.13"
    assert not page.locator("#cheque_bank").is_visible()  # only the cash fields show

    page.set_viewport_size({"width": 1280, "height": 900})
    path = shot(page, "40-cash-desk")
    if os.environ.get("CAUDAL_UPDATE_DOCS_IMG") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        DOCS_IMG.write_bytes(path.read_bytes())

    # "Cobrar": the payment is recorded and the receipt opens in a new tab
    with (
        page.context.expect_event(
            "response", lambda r: "/caja/comprobantes/" in r.url, timeout=15_000
        ) as pdf_response,
        page.context.expect_page() as popup,
    ):
        page.click("#pay-button")
    response = pdf_response.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    popup.value.close()
    page.wait_for_url(re.compile(r"/caja/\?pago=\d+"))
    payment = Payment.objects.get()
    assert payment.amount == 11_187 and payment.method == "cash"
    assert response.url.endswith(f"/caja/comprobantes/{payment.pk}.pdf")
    assert page.locator("[data-testid=done-change]").inner_text() == "S/ 38.13"
    assert page.locator("#payments-table tbody tr").count() == 1
    assert page.locator("#ref").evaluate("el => el === document.activeElement")
    shot(page, "41-cash-desk-paid")

    # a refusal comes back next to the field, without leaving the page
    page.fill("#ref", account.number)
    page.press("#ref", "Enter")
    page.wait_for_url(re.compile(r"/caja/\?ref="))
    page.fill("#amount", "1.234,50")
    page.click("#pay-button")
    page.locator("[data-field=amount]").wait_for()
    assert "sin separador de miles" in page.locator("[data-field=amount]").inner_text()
    assert Payment.objects.count() == 1

    # close: count the cash (float + the payment), balanced
    page.click("text=Cerrar caja")
    page.wait_for_url("**/caja/cerrar/")
    page.fill("#count-cash", "211.87")
    shot(page, "42-cash-desk-close")
    page.click("#close-session button[type=submit]")
    page.wait_for_url("**/caja/")
    assert page.locator("#last-session [data-testid=difference]").inner_text() == "Cuadrada"
    session = CashierSession.objects.get()
    assert session.status == SessionStatus.CLOSED and session.difference == 0
    assert session.expected == {"cash": 21_187, "card": 0, "cheque": 0}
    shot(page, "43-cash-desk-closed")

    # the supervisor sees the session balanced and reviews it
    make_staff("super1", "cash_supervisor", "Sara", "Quispe")
    page.context.clear_cookies()
    sign_in(page, "super1")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/caja/sesiones/")
    row = page.locator(f"#sessions-table tr[data-session='{session.pk}']")
    assert "Cuadrada" in row.inner_text() and "Carmen Rojas" in row.inner_text()
    shot(page, "44-cash-sessions")
    row.locator("text=Revisar").click()
    page.wait_for_url(f"**/caja/sesiones/{session.pk}/#review")
    page.fill("#review-note", "arqueo conforme")
    page.click("#review button[type=submit]")
    page.locator("[data-testid=reviewed]").wait_for()
    shot(page, "45-cash-session-reviewed")
