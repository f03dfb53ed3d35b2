"""Report files: the commission report and the recaudo as PDF and XLSX, and the commands."""

from __future__ import annotations

import io
import json
from datetime import date
from io import StringIO
from pathlib import Path

import openpyxl
import pypdf
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caudal.collection import reports

from .test_reports import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(utility):  # type: ignore[no-untyped-def]
    return build_world()


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def cents(value: float) -> int:
    return round(value * 100)


def test_commission_pdf(world):
    data = reports.commission_pdf(reports.commission_report(world.car, world.month))
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for expected in (
        "Informe mensual de comisiones",
        "CAR01",
        "Centro CAR01",
        "S/ 0.50 por pago + 1 % del importe; mínimo S/ 0.80 por pago",
        "Total del mes",
        "170.33",  # collected in the month (S/)
        "4.73",  # commission in the month (S/)
        "Elaborado por",
        "Aprobado por",
        "Departamento de Facturación y Cobranzas",
        "Sin liquidar",
        world.d3.strftime("%d/%m/%Y"),
    ):
        assert expected in text, expected
    assert "Página 1 de 1" in text


def test_commission_pdf_of_several_centres_starts_each_on_a_page(world):
    items = [reports.commission_report(c, world.month) for c in reports.active_centres(world.month)]
    reader = pypdf.PdfReader(io.BytesIO(reports.commission_pdf(items)))
    assert len(reader.pages) == 3
    assert ["BCO" in p.extract_text() for p in reader.pages] == [True, False, False]


def test_commission_xlsx_values_formats_and_formulas(world):
    data = reports.commission_xlsx(reports.commission_report(world.car, world.month))
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["CAR01"]
    top = reports.COMMISSION_TOP + 1  # 1-based header row
    assert [c.value for c in ws[top]] == [
        "Fecha",
        "Pagos",
        "Recaudado (S/)",
        "Reversiones",
        "Comisión (S/)",
        "Liquidación",
    ]
    assert ws.freeze_panes == f"A{top + 1}"
    assert ws.auto_filter.ref == f"A{top}:F{top + 3}"
    rows = [[c.value for c in ws[top + i]] for i in (1, 2, 3)]
    assert [r[0].date() for r in rows] == [world.d3, world.d4, world.d5]
    assert [r[1] for r in rows] == [2, 2, 1]
    assert [cents(r[2]) for r in rows] == [12_000, 4_033, 1_000]
    assert [cents(r[4]) for r in rows] == [230, 163, 80]
    assert rows[2][5] == "Sin liquidar *"
    money = ws.cell(top + 1, 3)
    assert money.number_format == "#,##0.00"
    assert ws.cell(top + 1, 1).number_format == "dd/mm/yyyy"
    total = top + 4
    assert ws.cell(total, 1).value == "Total del mes"
    assert ws.cell(total, 3).value == f"=SUM(C{top + 1}:C{top + 3})"
    assert ws.cell(total, 5).value == f"=SUM(E{top + 1}:E{top + 3})"
    cached = openpyxl.load_workbook(io.BytesIO(data), data_only=True)["CAR01"]
    assert cents(cached.cell(total, 3).value) == 17_033
    assert cents(cached.cell(total, 5).value) == 473
    assert cached.cell(total, 2).value == 5
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "Elaborado por" in texts and "Aprobado por" in texts
    assert "Departamento de Facturación y Cobranzas" in texts


def test_recaudo_xlsx_sheets_sum_to_the_same_total(world):
    m = world.month
    daily = reports.recaudo(m.start, m.end, "channel")
    data = reports.recaudo_xlsx(daily, by="channel", date_from=m.start, date_to=m.end)
    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    assert book.sheetnames == ["Resumen", "Diario", "Mensual", "Detalle"]

    summary = book["Resumen"]
    assert [c.value for c in summary[4]] == [
        "Código",
        "Canal",
        "Pagos",
        "Importe (S/)",
        "Participación %",
    ]
    body = [[c.value for c in summary[r]] for r in range(5, 8)]
    assert [(r[0], cents(r[3])) for r in body] == [
        ("bank", 20_000),
        ("car", 17_033),
        ("office", 4_000),
    ]
    assert cents(summary.cell(8, 4).value) == 41_033
    assert summary.cell(8, 3).value == 7
    assert abs(summary.cell(8, 5).value - 100) < 0.01
    assert summary.freeze_panes == "A5"

    days = book["Diario"]
    header = [c.value for c in days[4]]
    assert header[0] == "Fecha" and header[-1] == "Total (S/)"
    assert header[1:-1] == [
        "Bancos",
        "Centros autorizados (CAR)",
        "Caja propia",
    ]
    grid = [[c.value for c in days[r]] for r in range(5, 8)]
    for row in grid:
        assert cents(row[-1]) == sum(cents(v or 0) for v in row[1:-1])
    assert cents(days.cell(8, 5).value) == 41_033
    formulas = openpyxl.load_workbook(io.BytesIO(data))["Diario"]
    assert formulas.cell(5, 5).value == "=SUM(B5:D5)"
    assert formulas.cell(8, 2).value == "=SUM(B5:B7)"

    detail = book["Detalle"]
    amounts = [cents(detail.cell(r, 5).value) for r in range(5, 10)]
    assert sum(amounts) == cents(detail.cell(10, 5).value) == 41_033
    assert cents(book["Mensual"].cell(8, 5).value) == 41_033


def test_recaudo_month_pdf(world):
    data = reports.recaudo_month_pdf(reports.recaudo_month(world.month))
    text = pdf_text(data).lower()
    for expected in (
        "informe mensual de recaudo",
        "por canal",
        "por centro",
        "por zona",
        "por categoría",
        "z02 sur",
        "bancos",
        "comercial",
        "s/ 410.33",
        "s/ 136.77",  # average of the 3 days
        "recaudo diario",
    ):
        assert expected in text, expected


def test_collection_report_command(world, tmp_path: Path):
    out = tmp_path / "comisiones.xlsx"
    stdout = StringIO()
    call_command(
        "collection_report",
        "--month",
        world.month.code,
        "--centre",
        "car01",
        "--output",
        str(out),
        "--json",
        stdout=stdout,
    )
    summary = json.loads(stdout.getvalue())
    assert summary["format"] == "xlsx"
    assert summary["centres"] == [
        {
            "centre": "CAR01",
            "days": 3,
            "payments": 5,
            "collected": 17_033,
            "commission": 473,
            "provisional_days": 2,
        }
    ]
    assert openpyxl.load_workbook(out).sheetnames == ["CAR01"]
    pdf = tmp_path / "todos.pdf"
    call_command(
        "collection_report", "--month", world.month.code, "--format", "pdf", "--output", str(pdf),
        stdout=StringIO(),
    )  # fmt: skip
    assert len(pypdf.PdfReader(pdf).pages) == 3


def test_collection_report_command_errors(world, tmp_path: Path):
    with pytest.raises(CommandError, match="AAAA-MM"):
        call_command("collection_report", "--month", "2026/03", "--output", str(tmp_path / "a.pdf"))
    with pytest.raises(CommandError, match="No existe el centro"):
        call_command(
            "collection_report", "--month", "2026-03", "--centre", "X", "--output", "a.pdf"
        )
    with pytest.raises(CommandError, match="Ningún centro"):
        call_command("collection_report", "--month", "2001-01", "--output", "a.pdf")
    with pytest.raises(CommandError, match="pdf o xlsx"):
        call_command("collection_report", "--month", "2026-03", "--output", "a.txt")


def test_recaudo_command(world, tmp_path: Path):
    m = world.month
    stdout = StringIO()
    call_command(
        "recaudo", "--from", m.start.isoformat(), "--to", m.end.isoformat(), "--by", "zone",
        "--json", stdout=stdout,
    )  # fmt: skip
    got = json.loads(stdout.getvalue())
    assert (got["payments"], got["amount"]) == (7, 41_033)
    assert {r["key"] for r in got["rows"]} == {"Z01", "Z02"}
    stdout = StringIO()
    call_command(
        "recaudo", "--from", m.previous().start.isoformat(), "--to", m.end.isoformat(),
        "--by", "centre", "--monthly", stdout=stdout,
    )  # fmt: skip
    text = stdout.getvalue()
    assert any(line.startswith(m.previous().code) and "CAR01" in line for line in text.splitlines())
    assert "Total: 8 pagos, S/ 510.32" in text
    xlsx = tmp_path / "r.xlsx"
    call_command(
        "recaudo", "--from", m.start.isoformat(), "--to", m.end.isoformat(), "--by", "category",
        "--xlsx", str(xlsx), stdout=StringIO(),
    )  # fmt: skip
    assert openpyxl.load_workbook(xlsx)["Resumen"].cell(1, 1).value == "Recaudo por categoría"
    pdf = tmp_path / "r.pdf"
    call_command(
        "recaudo", "--from", m.start.isoformat(), "--to", m.end.isoformat(), "--pdf", str(pdf),
        stdout=StringIO(),
    )  # fmt: skip
    assert "Informe mensual de recaudo" in pdf_text(pdf.read_bytes())


def test_recaudo_command_errors(db):
    with pytest.raises(CommandError, match="AAAA-MM-DD"):
        call_command("recaudo", "--from", "01/03/2026", "--to", "2026-03-31")
    with pytest.raises(CommandError, match="posterior"):
        call_command("recaudo", "--from", "2026-03-31", "--to", "2026-03-01")
    with pytest.raises(CommandError, match="mismo mes"):
        call_command("recaudo", "--from", "2026-03-01", "--to", "2026-04-30", "--pdf", "x.pdf")
    with pytest.raises(CommandError, match="No existe el centro"):
        call_command("recaudo", "--from", "2026-03-01", "--to", "2026-03-31", "--centre", "ZZ")


def test_empty_month_renders(db, utility):
    pdf = reports.recaudo_month_pdf(reports.recaudo_month("2001-01"))
    assert "Sin pagos en el mes." in pdf_text(pdf)
    data = reports.recaudo_xlsx(
        reports.recaudo(date(2001, 1, 1), date(2001, 1, 31), "zone"),
        by="zone",
        date_from=date(2001, 1, 1),
        date_to=date(2001, 1, 31),
    )
    assert (
        openpyxl.load_workbook(io.BytesIO(data), data_only=True)["Resumen"].cell(5, 1).value
        == "Total"
    )
