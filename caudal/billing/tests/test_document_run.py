"""The bill document on bills written by the real billing run (the contract between the
run and the document: line keys, messages as ``{"code", "text"}``, payment references)."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import zxingcpp

from caudal.bench.billing_benches import build_utility
from caudal.billing import runs
from caudal.billing.document import current_bills, pages_for, render_batch_result
from caudal.billing.models import Bill
from caudal.cadastre.models import UtilitySettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(db):
    utility = build_utility(
        30, cycles=1, per_route=15, seed=5, debt_share=0.5, credit_share=0.1, held_share=0.0
    )
    runs.run_billing(utility.period, actor="test")
    return utility


def test_run_bills_print_in_route_order_with_their_payment_codes(billed):
    bills = current_bills(billed.period)
    assert bills.count() > 20
    top = bills.order_by("route__code").first()
    assert top is not None
    route = top.route
    result = render_batch_result(bills.filter(route=route))
    assert result.pages == result.bills == bills.filter(route=route).count()
    doc = pdfium.PdfDocument(result.pdf)
    image = doc[0].render(scale=300 / 72).to_pil().convert("L")
    codes = zxingcpp.read_barcodes(image)
    first = pages_for(bills.filter(route=route), UtilitySettings.current())[0]
    expected = first.qr_payload or first.barcode_hri
    assert [c.text for c in codes] == [expected]
    assert first.bill.payment_reference in expected


def test_run_lines_and_messages_are_understood(billed):
    pages = pages_for(current_bills(billed.period), UtilitySettings.current())
    assert all(page.lines for page in pages)
    for page in pages:
        assert sum(int(line["amount"]) for line in page.bill.lines) == page.bill.amount
        if page.bill.red:
            assert page.notices and "RECIBO ROJO" in page.notices[0]
        for line in page.lines:
            if line.volume:
                assert line.rate.endswith("/m³")
    red = [p for p in pages if p.bill.red]
    plain = [p for p in pages if not p.notices]
    assert red and plain
    assert Bill.objects.filter(period=billed.period, red=True).count() == len(red)
