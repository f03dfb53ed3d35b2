"""Bill pages: one bill (page and PDF), the print batch of a route, bills on the 360 page."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from caudal.bench import bill_benches as samples
from caudal.billing.models import Bill
from caudal.cadastre.models import UtilitySettings
from caudal.web.billing import bill_views

pytestmark = pytest.mark.django_db

PERIOD = "2026-10"


@pytest.fixture
def bills(db):
    samples.sample_utility("PE")
    accounts = samples.make_sample_accounts(3)
    return samples.make_sample_bills(accounts, period=PERIOD, country="PE", red={1}, history=3)


def pdf_text(content: bytes) -> list[str]:
    doc = pdfium.PdfDocument(content)
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


# ------------------------------------------------------------------------------ one bill


def test_bill_pdf_inline_and_download(bills, login):
    client = login("cashier")
    bill = bills[0]
    response = client.get(f"/facturas/{bill.number}.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="recibo_{bill.number}.pdf"'
    (text,) = pdf_text(response.content)
    assert bill.account.number in text
    download = client.get(f"/facturas/{bill.number}.pdf?descargar=1")
    assert download["Content-Disposition"].startswith("attachment;")


def test_unknown_bill_is_404(bills, login):
    client = login("cashier")
    assert client.get("/facturas/NO-EXISTE.pdf").status_code == 404
    assert client.get("/facturas/NO-EXISTE/").status_code == 404


def test_bill_page(bills, login):
    bill = bills[1]
    response = login("customer_service").get(f"/facturas/{bill.number}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert bill.number in body
    assert f'href="/facturas/{bill.number}.pdf"' in body
    assert f'href="/suministros/{bill.account.number}/#bills"' in body
    assert 'data-testid="total-due"' in body
    assert "data:image/svg+xml;base64," in body  # the consumption chart
    assert response.context["page"].red
    assert "RECIBO ROJO" in body  # the run's notice


def test_unprintable_bill_says_why(bills, login):
    UtilitySettings.objects.filter(pk=1).update(country="CO", currency="COP", gln="")
    client = login("cashier")
    response = client.get(f"/facturas/{bills[0].number}.pdf")
    assert response.status_code == 409
    assert "no tiene GLN" in response.content.decode()
    page = client.get(f"/facturas/{bills[0].number}/")
    assert page.status_code == 200
    assert "no tiene GLN" in page.content.decode()


def test_field_worker_cannot_open_bills(bills, login):
    client = login("field_worker")
    assert client.get(f"/facturas/{bills[0].number}.pdf").status_code == 403
    assert client.get("/facturas/lote/").status_code == 403


# ------------------------------------------------------------------------------ batches


def test_batch_form_lists_routes(bills, login):
    response = login("field_supervisor").get(f"/facturas/lote/?period={PERIOD}")
    assert response.status_code == 200
    assert response.context["routes"] == [
        {"route__code": "R01", "route__name": "", "route__cycle__code": "C01", "bills": 3}
    ]
    assert f"?period={PERIOD}&amp;route=R01" in response.content.decode()


def test_batch_pdf_of_a_route(bills, login):
    response = login("billing_analyst").get(f"/facturas/lote/?period={PERIOD}&route=R01")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="recibos_{PERIOD}_R01.pdf"' in response["Content-Disposition"]
    pages = pdf_text(response.content)
    assert len(pages) == 3
    for text, bill in zip(pages, bills, strict=True):  # route sequence order
        assert bill.account.number in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=2026-13&route=R01", "AAAA-MM"),
        (f"period={PERIOD}&route=R99", "R99"),
        ("period=2026-12&route=R01", "2026-12"),
    ],
)
def test_batch_bad_requests(bills, login, query, message):
    response = login("manager").get(f"/facturas/lote/?{query}")
    assert response.status_code == 400
    assert message in response.context["error"]


def test_big_route_goes_to_the_command(bills, login, monkeypatch):
    monkeypatch.setattr(bill_views, "MAX_WEB_BATCH", 2)
    response = login("manager").get(f"/facturas/lote/?period={PERIOD}&route=R01")
    assert response.status_code == 400
    assert f"caudal print-bills --period {PERIOD} --route R01" in response.context["error"]


def test_cashier_cannot_print_batches(bills, login):
    assert login("cashier").get("/facturas/lote/").status_code == 403


# ------------------------------------------------------------------------------ 360 page


def test_360_lists_the_bills(bills, login):
    bill = bills[1]
    response = login("cashier").get(f"/suministros/{bill.account.number}/")
    assert response.status_code == 200
    view = response.context["v"]
    assert [b.period for b in view.bills] == ["2026-10", "2026-09", "2026-08", "2026-07"]
    body = response.content.decode()
    section = body[body.index('id="bills"') :]
    section = section[: section.index("</section>")]
    assert f'href="/facturas/{bill.number}.pdf"' in section
    assert f'href="/facturas/{bill.number}/"' in section
    assert section.count('class="badge badge-danger"') == 1  # only the latest is red
    assert f"{bill.consumption} m³" in section
    assert 'href="#bills"' in body


def test_360_bills_are_bounded(bills, login, django_assert_max_num_queries):
    account = bills[0].account
    client = login("cashier")
    client.get(f"/suministros/{account.number}/")  # warm per-process caches
    with django_assert_max_num_queries(40) as ctx:
        client.get(f"/suministros/{account.number}/")
    few = len(ctx.captured_queries)
    samples.make_sample_bills([account], period="2025-06", country="PE", history=20)
    assert Bill.objects.filter(account=account).count() > 20
    with django_assert_max_num_queries(few):
        response = client.get(f"/suministros/{account.number}/")
    assert len(response.context["v"].bills) == 12
    assert response.context["v"].bills_more
