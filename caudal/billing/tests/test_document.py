"""The bill PDF: what it shows, the payment codes read back from the rendered page, batches.

Bills are built straight in the tables with the sample builders of
``caudal.bench.bill_benches`` (the billing run is tested on its own). Barcodes and QR codes
are read from the PDF page rasterised at 300 dpi by pypdfium2, with zxing-cpp.
"""

from __future__ import annotations

import socket
from datetime import date

import pypdfium2 as pdfium
import pytest
import zxingcpp

from caudal.bench import bill_benches as samples
from caudal.billing import document
from caudal.billing.barcode import GS
from caudal.billing.document import BillDocumentError, render_batch, render_bill
from caudal.billing.models import Bill
from caudal.cadastre.models import Property, UtilitySettings
from caudal.cadastre.testing import make_route

pytestmark = pytest.mark.django_db

PERIOD = "2026-10"


def pdf_pages(pdf: bytes) -> int:
    return len(pdfium.PdfDocument(pdf))


def page_text(pdf: bytes, index: int = 0) -> str:
    doc = pdfium.PdfDocument(pdf)
    text = doc[index].get_textpage().get_text_range()
    doc.close()
    return " ".join(text.split())


def page_image(pdf: bytes, index: int = 0, dpi: int = 300):
    doc = pdfium.PdfDocument(pdf)
    image = doc[index].render(scale=dpi / 72).to_pil().convert("RGB")
    doc.close()
    return image


def read_codes(pdf: bytes, index: int = 0, mode=zxingcpp.TextMode.HRI) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(page_image(pdf, index).convert("L"), text_mode=mode)


def band_colour(pdf: bytes) -> tuple[int, int, int]:
    """Most frequent colour in the top band of the page (8 to 30 mm from the top)."""
    image = page_image(pdf, dpi=50)
    band = image.crop((40, 20, image.width - 40, 55))
    return max(band.getcolors(100_000))[1]


@pytest.fixture
def pe_bills(db) -> list[Bill]:
    samples.sample_utility("PE")
    accounts = samples.make_sample_accounts(3)
    return samples.make_sample_bills(accounts, period=PERIOD, country="PE", red={1})


@pytest.fixture
def co_bills(db) -> list[Bill]:
    samples.sample_utility("CO")
    accounts = samples.make_sample_accounts(2, stratum=2)
    return samples.make_sample_bills(accounts, period=PERIOD, country="CO", red={1})


# ------------------------------------------------------------------------------ Peru


def test_peruvian_bill_shows_what_sunass_requires(pe_bills):
    bill = pe_bills[0]
    account = bill.account
    pdf = render_bill(bill)
    assert pdf.startswith(b"%PDF")
    assert pdf_pages(pdf) == 1
    text = page_text(pdf)
    for expected in (
        "EPS Demo S.A.",
        "RUC 20100152356",
        "Recibo de agua potable y alcantarillado",
        bill.number,
        "Periodo Octubre 2026",
        "Emisión 06/11/2026",
        f"N.º DE SUMINISTRO {account.number}",
        account.customer.name,
        account.property.address,
        "Doméstico",
        "SEDAPAL-2015 v1",
        "RCD 022-2015-",
        bill.meter_serial,
        f"Anterior 20/09/2026 {bill.previous_reading}",
        f"Actual 20/10/2026 {bill.current_reading}",
        "Consumo facturado",
        f"{bill.consumption} m³",
        "Determinado por: Diferencia de lecturas",
        "HISTORIAL DE CONSUMO",
        "Cargo fijo",
        "Agua potable 0–10 m³ 10 1.116 /m³ S/ 11.16",
        "IGV 18 %",
        "Importe del periodo",
        f"Total a pagar S/ {bill.total_due / 100:.2f}",
        "Vence 26/11/2026",
        "Código de pago".upper(),
        bill.payment_reference,
        bill.messages[-1]["text"],
        "reclamar hasta dos meses",
    ):
        assert expected in text, expected
    assert "RECIBO ROJO" not in text
    assert "Estrato" not in text


def test_peruvian_qr_carries_the_payment_data(pe_bills):
    bill = pe_bills[0]
    codes = read_codes(render_bill(bill))
    assert [c.format for c in codes] == [zxingcpp.BarcodeFormat.QRCode]
    expected = (
        f"CAUDAL1|20100152356|{bill.payment_reference}|{bill.account.number}|{bill.number}|"
        f"{bill.total_due // 100}.{bill.total_due % 100:02d}|PEN|{bill.due_date.isoformat()}"
    )
    assert codes[0].text == expected


def test_qr_payload_layout_is_a_setting(pe_bills, settings):
    settings.CAUDAL_BILL_QR_FORMAT = "{payment_code};{amount_minor};{due_compact}"
    bill = pe_bills[0]
    (code,) = read_codes(render_bill(bill))
    assert code.text == f"{bill.payment_reference};{bill.total_due};20261126"


def test_bad_qr_layout_names_the_field(pe_bills, settings):
    settings.CAUDAL_BILL_QR_FORMAT = "{ruc}|{importe}"
    with pytest.raises(BillDocumentError, match=r"unknown field \{importe\}"):
        render_bill(pe_bills[0])


def test_red_bill(pe_bills):
    bill = pe_bills[1]
    assert bill.red and bill.overdue_bills == 2
    pdf = render_bill(bill)
    text = page_text(pdf)
    assert "RECIBO ROJO · AVISO DE CORTE" in text
    assert "Corte a partir de 06/12/2026" in text
    # the run's notices, then the legal basis of a cut
    assert "Aviso de corte. RECIBO ROJO: tiene 2 recibos vencidos" in text
    assert "podrá ser suspendido a partir del 06/12/2026" in text
    assert "el servicio puede cerrarse por falta de pago de dos recibos vencidos" in text
    assert f"Deuda anterior (2 vencidos) S/ {bill.previous_debt / 100:.2f}" in text
    # the header band is red, a regular bill's is blue
    red_band = band_colour(pdf)
    blue_band = band_colour(render_bill(pe_bills[0]))
    assert red_band[0] > 150 > red_band[2]
    assert blue_band[2] > 120 > blue_band[0]


def test_consumption_history_of_twelve_periods(pe_bills):
    bill = pe_bills[0]
    (page,) = document.pages_for(bill)
    assert len(page.history) == 12
    assert page.history[-1].current and page.history[-1].m3 == bill.consumption
    earlier = list(
        Bill.objects.filter(account=bill.account, period__lt=PERIOD)
        .order_by("period")
        .values_list("consumption", flat=True)
    )
    assert [b.m3 for b in page.history[:-1]] == earlier
    assert page.average == round(sum(earlier) / len(earlier))
    assert (page.history[0].label, page.history[0].year) == ("nov", "2025")
    assert document.chart_svg(page.history).count("<rect") == 12
    assert page.chart.startswith('<img src="data:image/svg+xml;base64,')


def test_long_bill_flows_onto_a_second_page_with_its_stub(pe_bills):
    bill, after = pe_bills[0], pe_bills[1]  # in route order
    bill.lines = bill.lines * 5
    bill.save()
    pdf = render_batch(pe_bills[:2])
    assert pdf_pages(pdf) == 3  # the long bill takes two pages
    for index in (0, 1):
        assert bill.payment_reference in page_text(pdf, index)  # its stub on both
        (code,) = read_codes(pdf, index)
        assert bill.number in code.text
    assert after.payment_reference in page_text(pdf, 2)
    assert bill.payment_reference not in page_text(pdf, 2)


def test_short_history_keeps_six_slots(db):
    bars, average = document._history_bars(
        document.Period.parse("2026-10"), {"2026-09": 12, "2026-10": 14}, 12
    )
    assert len(bars) == 6
    assert [b.m3 for b in bars] == [None, None, None, None, 12, 14]
    assert average == 12


def test_no_readings_and_other_rule(pe_bills):
    bill = pe_bills[2]
    Bill.objects.filter(pk=bill.pk).update(
        previous_reading=None, current_reading=None, consumption_rule="assigned", meter_serial=""
    )
    from caudal.metering.models import Reading

    Reading.objects.filter(account=bill.account).delete()
    bill.refresh_from_db()
    text = page_text(render_bill(bill))
    assert "Medidor Sin medidor" in text
    assert "Anterior — —" in text
    assert "Determinado por: Asignación de consumo" in text


def test_nothing_to_pay_prints_no_payment_code(pe_bills):
    bill = pe_bills[0]
    Bill.objects.filter(pk=bill.pk).update(credit_applied=bill.amount, total_due=0)
    pdf = render_bill(Bill.objects.get(pk=bill.pk))
    assert read_codes(pdf) == []
    assert "Sin importe a pagar" in page_text(pdf)


def test_bimonthly_period_label():
    assert document.period_label(document.Period.parse("2026-11", months=2)) == (
        "Noviembre–diciembre 2026"
    )
    assert document.period_label(document.Period.parse("2026-01")) == "Enero 2026"


# ------------------------------------------------------------------------------ Colombia


def test_colombian_bill_and_its_gs1_barcode(co_bills):
    bill = co_bills[0]
    pdf = render_bill(bill)
    text = page_text(pdf)
    for expected in (
        "Factura de servicios públicos de acueducto y alcantarillado",
        "NIT 8999990941",
        f"CUENTA CONTRATO {bill.account.number}",
        "Estrato 2",
        "Subsidio / contrib.",
        "Acueducto · consumo básico 0–11 m³ 11 2.450,35 /m³",
        "−40 %",
        f"Total a pagar $ {bill.total_due // 100:,}".replace(",", "."),
    ):
        assert expected in text, expected
    human = (
        f"(415){samples.SAMPLE_GLN}(8020){bill.payment_reference}"
        f"(3900){bill.total_due // 100:010d}(96){bill.due_date:%Y%m%d}"
    )
    assert human in text  # the human-readable line under the bars
    (code,) = read_codes(pdf)
    assert code.format == zxingcpp.BarcodeFormat.Code128
    assert code.symbology_identifier == "]C1"  # FNC1 in first position: GS1-128
    assert code.content_type == zxingcpp.ContentType.GS1
    assert code.text == human
    (plain,) = read_codes(pdf, mode=zxingcpp.TextMode.Plain)
    assert (
        plain.bytes
        == (
            f"415{samples.SAMPLE_GLN}8020{bill.payment_reference}{GS}"
            f"3900{bill.total_due // 100:010d}{GS}96{bill.due_date:%Y%m%d}"
        ).encode()
    )


def test_amount_width_setting(co_bills, settings):
    settings.CAUDAL_BILL_AMOUNT_WIDTH = 14
    bill = co_bills[0]
    (code,) = read_codes(render_bill(bill))
    assert f"(3900){bill.total_due // 100:014d}(96)" in code.text


def test_colombian_red_bill(co_bills):
    text = page_text(render_bill(co_bills[1]))
    assert "FACTURA ROJA · AVISO DE SUSPENSIÓN" in text
    assert "Aviso de suspensión. RECIBO ROJO: tiene 2 facturas vencidas" in text
    assert "Ley 142 de 1994, art. 140" in text


def test_notices_without_run_messages(pe_bills):
    """Plain-string messages (no codes): the document writes the red / cut notice itself."""
    red = pe_bills[1]
    Bill.objects.filter(pk=red.pk).update(messages=["Campaña de micromedición en su zona."])
    text = page_text(render_bill(Bill.objects.get(pk=red.pk)))
    assert "Usted tiene 2 recibos vencidos" in text
    assert "que podrá ejecutarse a partir del 06/12/2026" in text
    assert "MENSAJES Campaña de micromedición en su zona." in text
    Bill.objects.filter(pk=red.pk).update(red=False, overdue_bills=1, messages=[])
    text = page_text(render_bill(Bill.objects.get(pk=red.pk)))
    assert "RECIBO ROJO" not in text
    assert "Tiene 1 recibo vencido por S/" in text
    assert "Si no paga antes del 06/12/2026" in text


def test_colombia_without_gln_is_a_clear_error(co_bills):
    UtilitySettings.objects.filter(pk=1).update(gln="")
    with pytest.raises(BillDocumentError, match=r"no tiene GLN"):
        render_bill(co_bills[0])


def test_colombia_with_a_wrong_gln_is_a_clear_error(co_bills):
    UtilitySettings.objects.filter(pk=1).update(gln="7709998039934")
    with pytest.raises(BillDocumentError, match=r"wrong check digit"):
        render_bill(co_bills[0])


def test_colombian_total_must_be_whole_pesos(co_bills):
    bill = co_bills[0]
    Bill.objects.filter(pk=bill.pk).update(total_due=bill.total_due + 50)
    with pytest.raises(BillDocumentError, match=r"pesos enteros"):
        render_bill(bill)


# ------------------------------------------------------------------------------ batches


def test_batch_is_in_route_sequence_order(pe_bills):
    # reverse the delivery order of the three properties
    for seq, bill in zip((30, 20, 10), pe_bills, strict=True):
        Property.objects.filter(pk=bill.account.property_id).update(sequence=seq)
    other_route = make_route("R02")
    extra = samples.make_sample_accounts(1, route=other_route)
    samples.make_sample_bills(extra, period=PERIOD, country="PE", history=0)
    pdf = render_batch(document.current_bills(PERIOD))
    assert pdf_pages(pdf) == 4
    numbers = [b.account.number for b in reversed(pe_bills)] + [extra[0].number]
    for index, number in enumerate(numbers):
        assert f"SUMINISTRO {number}" in page_text(pdf, index)
    # lists are ordered the same way
    assert pdf_pages(render_batch(list(pe_bills))) == 3


def test_batch_reads_in_constant_queries(pe_bills, django_assert_max_num_queries):
    samples.make_sample_bills(
        samples.make_sample_accounts(5), period=PERIOD, country="PE", history=3
    )
    utility = UtilitySettings.current()
    with django_assert_max_num_queries(3) as few:
        document.pages_for(Bill.objects.filter(pk__in=[b.pk for b in pe_bills[:1]]), utility)
    with django_assert_max_num_queries(len(few.captured_queries)):
        pages = document.pages_for(document.current_bills(PERIOD), utility)
    assert len(pages) == 8


def test_batch_groups_join_into_one_pdf(pe_bills, settings):
    settings.CAUDAL_BILL_GROUP = 2
    result = document.render_batch_result(document.current_bills(PERIOD))
    assert (result.bills, result.pages) == (3, 3)
    assert pdf_pages(result.pdf) == 3
    assert len(read_codes(result.pdf, 2)) == 1


def test_corrected_bill_is_replaced_in_batches(pe_bills):
    old = pe_bills[0]
    Bill.objects.create(
        **{
            f.name: getattr(old, f.name)
            for f in Bill._meta.concrete_fields
            if f.name not in ("id", "number", "version", "replaces", "document", "created_at")
        },
        number=old.number + "-2",
        version=2,
        replaces=old,
    )
    numbers = set(document.current_bills(PERIOD).values_list("number", flat=True))
    assert old.number not in numbers and old.number + "-2" in numbers


def test_empty_batch_is_an_error(db, utility):
    with pytest.raises(BillDocumentError, match="no bills"):
        render_batch(Bill.objects.none())


# ------------------------------------------------------------------------------ no network


def test_no_url_is_loaded():
    with pytest.raises(BillDocumentError, match="URL"):
        document.html_to_pdf('<p>x</p><img src="https://example.com/logo.png">')
    with pytest.raises(BillDocumentError, match="URL"):
        document.html_to_pdf('<link rel="stylesheet" href="file:///etc/hostname">')
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    assert document.html_to_pdf(f'<img src="{pixel}">').startswith(b"%PDF")


def test_rendering_opens_no_socket(pe_bills, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a bill must not open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert render_bill(pe_bills[0]).startswith(b"%PDF")


# ------------------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (4560, "PEN", "S/ 45.60"),
        (-4560, "PEN", "−S/ 45.60"),
        (16421700, "COP", "$ 164.217"),
        (16421750, "COP", "$ 164.217,50"),
        (0, "COP", "$ 0"),
    ],
)
def test_bill_money(minor, currency, text):
    assert document.bill_money(minor, currency) == text


def test_rates_and_factors():
    assert document.rate_text("2450.35", "COP") == "2.450,35"
    assert document.rate_text("1.116", "PEN") == "1.116"
    assert document.factor_text("-70") == "−70 %"
    assert document.factor_text("50.0") == "+50 %"
    assert document.factor_text("0") == ""


def test_lines_accept_volume_m3_and_unknown_concepts(pe_bills):
    bill = pe_bills[0]
    bill.lines = [
        {"concept": "water", "volume_m3": 1200, "rate": "4.858", "amount": 5830, "factor_pct": "0"},
        {"concept": "meter", "description": "Mantenimiento de medidor", "amount": 150},
        {"concept": "zzz", "amount": 1},
    ]
    views, show_factor = document._line_views(bill, "PEN")
    assert [v.title for v in views] == ["Agua potable", "Mantenimiento de medidor", "zzz"]
    assert views[0].volume == "1.200" and views[0].rate == "4.858 /m³"
    assert not show_factor


def test_issue_date_sanity(pe_bills):
    assert pe_bills[0].issue_date == date(2026, 11, 6)
