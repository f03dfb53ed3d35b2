"""Route sheets: the rows, the expected range, and the PDF, CSV and JSON files."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from caudal.cadastre.models import Meter, Segment
from caudal.metering import sheets
from caudal.metering.models import RouteAssignment

from .field_fixtures import current_period, open_calendar, route_with_accounts


def test_expected_range():
    assert sheets.expected_range([]) is None
    assert sheets.expected_range([18, 20, 22]) == (10, 40)
    assert sheets.expected_range([0, 0, 0]) == (0, 3)
    assert sheets.expected_range([5, 50]) == (5, 55)


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_expected_range_holds_every_past_consumption(history):
    low, high = sheets.expected_range(history)  # type: ignore[misc]
    assert 0 <= low <= min(history)
    assert high >= max(history) and high >= low + 3


def test_consumption_between_with_rollover():
    assert sheets.consumption_between(99_990, 12, 5) == 22
    assert sheets.consumption_between(100, 130, 5) == 30
    assert sheets.consumption_between(None, 130, 5) is None


@pytest.fixture
def sheet(utility):
    route, accounts = route_with_accounts(4)
    # a VIP account and one without meter (not on the sheet)
    accounts[1].segment = Segment.VIP
    accounts[1].save()
    Meter.objects.filter(account=accounts[3]).delete()
    period = current_period()
    open_calendar(route.cycle, period)
    reader = User.objects.create_user("lector1", first_name="Luis", last_name="Mamani")
    RouteAssignment.objects.create(period=period.code, route=route, reader=reader)
    return sheets.route_sheet(period, route)


@pytest.mark.django_db
def test_rows_in_sequence_with_history(sheet):
    assert [r.sequence for r in sheet.rows] == [10, 20, 30]
    first = sheet.rows[0]
    assert first.account_number == "01700000"
    assert first.meter_serial == "MED-R01-0000"
    assert first.previous_value == 1060
    assert first.consumptions == [22, 20, 18]  # most recent first
    assert first.expected_consumption == (10, 40)
    assert (first.expected_min, first.expected_max) == (1070, 1100)
    assert first.customer == "Cliente 1 Quispe"
    assert sheet.reader == "Luis Mamani"
    assert sheet.rows[1].segment == "vip"


@pytest.mark.django_db
def test_csv_for_handhelds(sheet):
    text = sheets.sheet_csv(sheet)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(sheets.CSV_COLUMNS)
    assert [r["account_number"] for r in rows] == ["01700000", "01700001", "01700002"]
    assert rows[0]["previous_reading"] == "1060"
    assert (rows[0]["consumption_1"], rows[0]["consumption_3"]) == ("22", "18")
    assert (rows[0]["expected_min"], rows[0]["expected_max"]) == ("1070", "1100")
    assert rows[0]["reading"] == "" and rows[0]["observation"] == ""


@pytest.mark.django_db
def test_json_for_handhelds(sheet):
    data = json.loads(sheets.sheet_json(sheet))
    assert data["route"] == "R01" and data["period"] == current_period().code
    assert data["reader"] == "Luis Mamani"
    assert len(data["accounts"]) == 3
    assert data["accounts"][0]["expected_consumption"] == [10, 40]
    codes = {o["code"]: o["key"] for o in data["observation_codes"]}
    assert codes["no_access"] == "01" and codes["refused"] == "15"


@pytest.mark.django_db
def test_pdf_opens_and_holds_the_route(sheet):
    pdf = sheets.sheet_pdf(sheet, utility_name="EPS Demo S.A.")
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # A4 landscape
    assert round(float(page.mediabox.width)) == 842
    text = "\n".join(p.extract_text() for p in reader.pages)
    for expected in [
        "Hoja de ruta de lectura",
        "R01",
        current_period().code,
        "Luis Mamani",
        "01700000",
        "MED-R01-0000",
        "Jr. Los Andes 100",
        "1070 – 1100",
        "Claves de observación",
        "Perro bravo",
        "Página 1 de",
        "VIP",
    ]:
        assert expected in text, expected


@pytest.mark.django_db
def test_long_route_pages_and_numbers(utility):
    route, _accounts = route_with_accounts(60, history=False)
    period = current_period()
    pdf = sheets.sheet_pdf(sheets.route_sheet(period, route))
    reader = PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    assert pages >= 3
    last = reader.pages[-1].extract_text()
    assert f"Página {pages} de {pages}" in last
    assert "Hoja de ruta de lectura" in last  # the header repeats on every page


@pytest.mark.django_db
def test_command(sheet, tmp_path):
    out = io.StringIO()
    target = tmp_path / "hoja.pdf"
    call_command(
        "route_sheet",
        "--period",
        sheet.period,
        "--route",
        "R01",
        "--output",
        str(target),
        stdout=out,
    )
    assert target.read_bytes().startswith(b"%PDF")
    assert "3 suministros" in out.getvalue()
    out = io.StringIO()
    call_command(
        "route_sheet", "--period", sheet.period, "--route", "R01", "--format", "csv", stdout=out
    )
    assert out.getvalue().splitlines()[0].startswith("sequence,account_number")
    with pytest.raises(CommandError, match="R77"):
        call_command("route_sheet", "--period", sheet.period, "--route", "R77")
