"""Testigos de cartera vigente / vencida: workbook, CSV and Parquet from a snapshot folder,
the ``caudal testigo`` command, and the page and downloads with their permissions."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client

from caudal.audit.models import AuditEvent
from caudal.audit.roles import ensure_roles
from caudal.cadastre.models import Municipality
from caudal.portfolio import build, schema, synthetic, testigos

ON = date(2026, 10, 31)
COP = testigos.Labels(currency="COP", utility="Acueducto Demo E.S.P.")
PEN = testigos.Labels(currency="PEN")


@pytest.fixture
def snap(settings, tmp_path) -> Path:
    """A synthetic snapshot of 80 accounts (about half of them in arrears)."""
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    folder = tmp_path / "snapshots" / ON.isoformat()
    synthetic.write_folder(folder, on=ON, accounts=80, items_per_account=4, seed=5)
    return folder


def accounts(folder: Path, which: str | None = None) -> list[dict]:
    sql = "SELECT * FROM read_parquet(?)" + (" WHERE testigo = ?" if which else "")
    params = [str(folder / schema.ACCOUNTS), *([which] if which else [])]
    rel = duckdb.connect().execute(sql, params)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def detail_rows(book: openpyxl.Workbook) -> list[tuple]:
    rows = []
    for name in book.sheetnames[1:]:
        ws = book[name]
        data = list(ws.iter_rows(values_only=True))
        assert data[0][0] == "Cuenta contrato", name  # every detail sheet has the header
        rows += data[1:]
    return rows


def major(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2)


# --- XLSX ---------------------------------------------------------------------------------


def test_workbook_splits_at_the_sheet_limit_and_lists_every_account_once(snap, tmp_path):
    out = tmp_path / "vencida.xlsx"
    expected = accounts(snap, "vencida")
    assert 30 < len(expected) < 60  # the split below needs several sheets
    result = testigos.write_testigo_result(ON, "vencida", "xlsx", out, labels=COP, sheet_rows=10)
    sheets = -(-len(expected) // 10)
    names = ["Resumen", *[f"Detalle {i}" for i in range(1, sheets + 1)]]
    assert result.sheets == names and result.accounts == len(expected)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == names
    for name in names[1:-1]:
        assert book[name].max_row == 11  # header + 10
    assert book[names[-1]].max_row == 1 + len(expected) - 10 * (sheets - 1)
    first = book["Detalle 1"]
    assert first.freeze_panes == "B2"
    assert first.auto_filter.ref == "A1:AB11"
    assert first.column_dimensions["B"].width > 20  # holder names get room
    rows = detail_rows(book)
    numbers = [r[0] for r in rows]
    assert Counter(numbers) == Counter(a["account_number"] for a in expected)
    assert numbers == sorted(numbers)
    # Values match the snapshot, money in major units exactly.
    by_number = {a["account_number"]: a for a in expected}
    header = [c.value for c in first[1]]
    col = {h: i for i, h in enumerate(header)}
    buckets = [f"{testigos.bucket_label(c)} ($)" for c in build.read_manifest(snap)["bucket_codes"]]
    assert buckets[0] == "Al día (0 días) ($)" and buckets[-1] == "> 360 días ($)"
    for r in rows:
        a = by_number[r[0]]
        assert Decimal(str(r[col["Saldo ($)"]])) == major(a["balance"])
        assert Decimal(str(r[col["Vencido ($)"]])) == major(a["overdue"])
        assert r[col["Días de mora"]] == a["max_days_past_due"] >= 1
        assert r[col["Estrato"]] == a["stratum"]
        assert r[col["Etapa de cobro"]] == a["stage_name"]
        aged = sum(Decimal(str(r[col[h]])) for h in buckets)
        assert aged - Decimal(str(r[col["Saldo a favor ($)"]])) == major(a["balance"])
        assert r[col["En convenio"]] == ("Sí" if a["in_agreement"] else "No")
    assert {r[col["Uso"]] for r in rows} <= {"Doméstico", "Comercial", "Social", "Estatal"}
    assert {r[col["Clase de edad"]] for r in rows} <= {
        "Mora temprana",
        "Cartera liviana",
        "Cartera pesada",
        "DDR (difícil recaudo)",
    }


def test_money_is_written_as_exact_decimals(snap, tmp_path):
    out = testigos.write_testigo(ON, "vencida", "xlsx", tmp_path / "t.xlsx", labels=COP)
    with zipfile.ZipFile(out) as z:
        xml = z.read("xl/worksheets/sheet2.xml").decode()
    values = re.findall(r"<v>([^<]*)</v>", xml)
    assert values and all(re.fullmatch(r"-?\d+(\.\d\d)?", v) for v in values), values[:20]
    assert "E" not in "".join(values)


def test_resumen_totals_equal_the_detail_and_the_snapshot(snap, tmp_path):
    manifest = build.read_manifest(snap)["totals"]
    seen_accounts = 0
    seen = {"balance": Decimal(0), "overdue": Decimal(0), "blocked": Decimal(0)}
    for which in testigos.WHICH:
        out = testigos.write_testigo(ON, which, "xlsx", tmp_path / f"{which}.xlsx", labels=COP)
        book = openpyxl.load_workbook(out)
        summary = list(book["Resumen"].iter_rows(values_only=True))
        assert summary[0][0] == testigos.title(which)
        assert summary[4][:2] == ("Testigo", "Cuentas")
        total = summary[5]
        assert total[0] == "Total"
        rows = detail_rows(book)
        header = [c.value for c in book[book.sheetnames[1]][1]]
        col = {h: i for i, h in enumerate(header)}
        detail = (
            len(rows),
            sum(Decimal(str(r[col["Saldo ($)"]])) for r in rows),
            sum(Decimal(str(r[col["Vencido ($)"]])) for r in rows),
            sum(Decimal(str(r[col["Bloqueado ($)"]])) for r in rows),
        )
        assert (total[1], *(Decimal(str(v)) for v in total[2:5])) == detail
        # Every classification adds up to the same total.
        titles = [r[0] for r in summary if r[0] and str(r[0]).startswith("Por ")]
        assert titles == [
            "Por etapa de cobro",
            "Por responsable",
            "Por tramo de edad",
            "Por clase de edad",
            "Por uso",
            "Por estrato",
            "Por municipio",
            "Por zona",
        ]
        section_totals = [r for r in summary[6:] if r[0] == "Total"]
        assert len(section_totals) == len(titles)
        assert all(r[1:5] == total[1:5] for r in section_totals)
        seen_accounts += total[1]
        seen["balance"] += Decimal(str(total[2]))
        seen["overdue"] += Decimal(str(total[3]))
        seen["blocked"] += Decimal(str(total[4]))
    assert seen_accounts == manifest["accounts"]
    assert seen == {
        "balance": major(manifest["balance"]),
        "overdue": major(manifest["overdue"]),
        "blocked": major(manifest["blocked"]),
    }


def test_stage_section_follows_the_policy_order(snap, tmp_path):
    out = testigos.write_testigo(ON, "vencida", "xlsx", tmp_path / "v.xlsx", labels=COP)
    summary = list(openpyxl.load_workbook(out)["Resumen"].iter_rows(values_only=True))
    start = [r[0] for r in summary].index("Por etapa de cobro") + 2
    stages = []
    for r in summary[start:]:
        if r[0] == "Total":
            break
        stages.append(r[0])
    policy = [s.name for s in synthetic.CO_STAGES]
    assert stages == [s for s in policy if s in stages] and len(stages) >= 3


def test_empty_testigo_still_makes_a_workbook(settings, tmp_path):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path
    folder = tmp_path / ON.isoformat()
    synthetic.write_folder(folder, on=ON, accounts=5, seed=1)
    # Keep only the current accounts: the overdue testigo is empty.
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM read_parquet(?) WHERE testigo = 'vigente') TO "
        f"'{folder / 'only.parquet'}' (FORMAT parquet)",
        [str(folder / schema.ACCOUNTS)],
    )
    (folder / "only.parquet").replace(folder / schema.ACCOUNTS)
    (folder / schema.CUBE).unlink()
    assert testigos.totals_by_testigo(ON)["vencida"] == testigos.Totals()
    out = testigos.write_testigo(ON, "vencida", "xlsx", tmp_path / "e.xlsx", labels=PEN)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Resumen", "Detalle"]
    assert book["Detalle"].max_row == 1
    assert list(book["Resumen"].iter_rows(values_only=True))[5][:2] == ("Total", 0)


def awkward(folder: Path) -> None:
    """Holder names and addresses that XML must escape, keep or drop; no stratum."""
    src = folder / schema.ACCOUNTS
    tmp = folder / "awkward.parquet"
    duckdb.connect().execute(
        f"""COPY (SELECT * REPLACE (
            CASE account_id % 5
                WHEN 0 THEN 'Ríos & Hijos <S.A.C.>'
                WHEN 1 THEN '  Ana "Ñusta" Quispe '
                WHEN 2 THEN 'Bell' || chr(7) || 'a' || chr(9) || 'Vista'
                WHEN 3 THEN ''
                ELSE holder_name END AS holder_name,
            CASE WHEN account_id % 3 = 0 THEN 'Jr. Lima 123' || chr(10) || 'Int. 4' ELSE address
                END AS address,
            CASE WHEN account_id % 4 = 0 THEN NULL ELSE stratum END AS stratum
        ) FROM read_parquet(?)) TO '{tmp}' (FORMAT parquet)""",
        [str(src)],
    )
    tmp.replace(src)


def cells(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path)
    return {
        name: [
            tuple((c.value, c.number_format if c.value is not None else None) for c in row)
            for row in book[name].iter_rows()
        ]
        for name in book.sheetnames[1:]
    }


def test_both_xlsx_engines_write_the_same_cells(snap, tmp_path):
    awkward(snap)
    fast = testigos.write_testigo(
        ON, "vencida", "xlsx", tmp_path / "xml.xlsx", labels=COP, sheet_rows=7
    )
    slow = testigos.write_testigo(
        ON, "vencida", "xlsx", tmp_path / "cells.xlsx", labels=COP, sheet_rows=7, engine="cells"
    )
    a, b = cells(fast), cells(slow)
    assert a == b and len(a) > 3
    holders = {row[1][0] for sheet in a.values() for row in sheet[1:]}
    assert {"Ríos & Hijos <S.A.C.>", '  Ana "Ñusta" Quispe ', "Bella\tVista", None} <= holders
    assert "Jr. Lima 123\nInt. 4" in {row[2][0] for sheet in a.values() for row in sheet[1:]}
    for path in (fast, slow):
        book = openpyxl.load_workbook(path)
        for name in book.sheetnames[1:]:
            ws = book[name]
            assert ws.freeze_panes == "B2"
            assert ws.auto_filter.ref == f"A1:AB{ws.max_row}"
            assert ws.dimensions == f"A1:AB{ws.max_row}"


# --- CSV and Parquet -----------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def test_vigente_and_vencida_cover_every_account_once(snap, tmp_path):
    everyone = accounts(snap)
    numbers: dict[str, list[str]] = {}
    for which in testigos.WHICH:
        rows = read_csv(
            testigos.write_testigo(ON, which, "csv", tmp_path / f"{which}.csv", labels=COP)
        )
        numbers[which] = [r["Cuenta contrato"] for r in rows]
        days = [int(r["Días de mora"]) for r in rows]
        assert all(d == 0 for d in days) if which == "vigente" else all(d >= 1 for d in days)
        table = pq.read_table(
            testigos.write_testigo(ON, which, "parquet", tmp_path / f"{which}.parquet")
        )
        assert table.num_rows == len(rows)
        assert set(table.column("testigo").to_pylist()) <= {which}
        assert table.schema.names == pq.read_schema(snap / schema.ACCOUNTS).names
    assert not set(numbers["vigente"]) & set(numbers["vencida"])
    assert Counter(numbers["vigente"] + numbers["vencida"]) == Counter(
        a["account_number"] for a in everyone
    )


def test_csv_amounts_follow_the_currency(snap, tmp_path):
    expected = {a["account_number"]: a for a in accounts(snap, "vencida")}
    cop = read_csv(testigos.write_testigo(ON, "vencida", "csv", tmp_path / "c.csv", labels=COP))
    pen = read_csv(testigos.write_testigo(ON, "vencida", "csv", tmp_path / "p.csv", labels=PEN))
    assert "Saldo ($)" in cop[0] and "Saldo (S/)" in pen[0]
    for c, p in zip(cop, pen, strict=True):
        minor = expected[c["Cuenta contrato"]]["balance"]
        assert c["Saldo ($)"] == f"{major(minor)}".replace(".", ",")
        assert p["Saldo (S/)"] == f"{major(minor)}"
    assert sum(Decimal(r["Saldo (S/)"]) for r in pen) == major(
        sum(a["balance"] for a in expected.values())
    )


def test_streamed_csv_equals_the_file(snap, tmp_path):
    path = testigos.write_testigo(ON, "vigente", "csv", tmp_path / "v.csv", labels=PEN)
    streamed = b"".join(testigos.stream_testigo(ON, "vigente", "csv", labels=PEN))
    assert streamed == path.read_bytes()


@pytest.mark.django_db
def test_names_come_from_the_cadastre(snap, tmp_path):
    Municipality.objects.create(code="M01", name="Chapinero")
    out = testigos.write_testigo(ON, "vencida", "csv", tmp_path / "n.csv")  # labels from the DB
    towns = {r["Municipio"] for r in read_csv(out)}
    assert "Chapinero" in towns and "M01" not in towns and "M02" in towns


def test_no_snapshot_and_bad_arguments(settings, tmp_path):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path
    with pytest.raises(testigos.TestigoError, match="No hay corte de cartera del 31/10/2026"):
        testigos.write_testigo(ON, "vencida", "xlsx", tmp_path / "x.xlsx", labels=PEN)
    with pytest.raises(testigos.TestigoError, match="Testigo desconocido"):
        testigos.write_testigo(ON, "morosa", "xlsx", tmp_path / "x.xlsx", labels=PEN)
    with pytest.raises(testigos.TestigoError, match="Formato desconocido"):
        testigos.write_testigo(ON, "vencida", "pdf", tmp_path / "x.pdf", labels=PEN)


def test_download_file_is_built_once_per_snapshot(snap):
    first = testigos.testigo_file(ON, "vencida", "xlsx", labels=COP)
    stamp = first.stat().st_mtime_ns
    again = testigos.testigo_file(ON, "vencida", "xlsx", labels=COP)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert first.name == "testigo-cartera-vencida-2026-10-31.xlsx"
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".tmp-")]
    # The snapshot taken again (a newer accounts.parquet) rebuilds it.
    src = snap / schema.ACCOUNTS
    import os

    os.utime(src, ns=(stamp + 10**9, stamp + 10**9))
    rebuilt = testigos.testigo_file(ON, "vencida", "xlsx", labels=COP)
    assert rebuilt.stat().st_mtime_ns > stamp


# --- command ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_writes_and_audits(snap, tmp_path, utility):
    out = tmp_path / "cli" / "vencida.csv"
    buf = io.StringIO()
    call_command(
        "testigo", "--date", ON.isoformat(), "--which", "vencida", "--output", str(out),
        "--json", "--actor", "ana", stdout=buf,
    )  # fmt: skip
    summary = json.loads(buf.getvalue())
    n = len(accounts(snap, "vencida"))
    assert summary["format"] == "csv" and summary["accounts"] == n
    assert len(read_csv(out)) == n
    event = AuditEvent.objects.get(action="portfolio.download_testigo")
    assert (event.actor_label, event.object_id) == ("ana", ON.isoformat())
    assert event.after == {"testigo": "vencida", "format": "csv", "accounts": n}
    xlsx = tmp_path / "cli" / "vigente.xlsx"
    text = io.StringIO()
    call_command(
        "testigo", "--date", ON.isoformat(), "--which", "vigente", "--output", str(xlsx),
        "--sheet-rows", "20", stdout=text,
    )  # fmt: skip
    assert "Testigo de Cartera Vigente al 31/10/2026" in text.getvalue()
    assert openpyxl.load_workbook(xlsx, read_only=True).sheetnames[:3] == [
        "Resumen",
        "Detalle 1",
        "Detalle 2",
    ]


@pytest.mark.django_db
def test_command_prepares_the_download(snap, utility):
    call_command(
        "testigo", "--date", ON.isoformat(), "--which", "vencida", "--prepare", stdout=io.StringIO()
    )
    ready = snap / testigos.CACHE_DIR / "testigo-cartera-vencida-2026-10-31.xlsx"
    assert ready.is_file() and testigos.testigo_file(ON, "vencida", "xlsx") == ready
    assert not AuditEvent.objects.exists()  # audited when someone downloads it
    page = client_for("cartera_analyst").get(f"/cartera/cortes/{ON.isoformat()}/testigos/")
    text = page.content.decode()
    link = f'href="/cartera/cortes/{ON.isoformat()}/testigos/vencida.xlsx" download>'
    assert link in text  # no "se genera al descargar" hint
    assert f'href="/cartera/cortes/{ON.isoformat()}/testigos/vigente.xlsx" download title=' in text


@pytest.mark.django_db
def test_command_without_snapshot(settings, tmp_path):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path
    with pytest.raises(CommandError, match="No hay corte de cartera del 30/09/2026"):
        call_command("testigo", "--date", "2026-09-30", "--which", "vencida")
    with pytest.raises(CommandError, match="Fecha no válida"):
        call_command("testigo", "--date", "30/09/2026", "--which", "vencida")
    assert not AuditEvent.objects.exists()


# --- web ----------------------------------------------------------------------------------


def client_for(role: str) -> Client:
    ensure_roles()
    user = User.objects.create_user(username=f"u-{role}", password="x")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


VIEWERS = {"manager", "cartera_analyst", "cartera_coordinator", "collections_officer", "auditor"}
DOWNLOADERS = {"manager", "cartera_analyst", "cartera_coordinator"}


@pytest.mark.django_db
def test_page_and_downloads_by_permission(snap, utility):
    page = f"/cartera/cortes/{ON.isoformat()}/testigos/"
    download = f"/cartera/cortes/{ON.isoformat()}/testigos/vencida.csv"
    for role in sorted(VIEWERS | {"billing_analyst", "cashier", "customer_service"}):
        client = client_for(role)
        response = client.get(page)
        assert response.status_code == (200 if role in VIEWERS else 403), role
        got = client.get(download)
        assert got.status_code == (200 if role in DOWNLOADERS else 403), role
        if role in VIEWERS:
            body = response.content.decode()
            assert (download in body) == (role in DOWNLOADERS), role
    assert AuditEvent.objects.filter(action="portfolio.download_testigo").count() == len(
        DOWNLOADERS
    )


@pytest.mark.django_db
def test_page_figures(snap, utility):
    body = client_for("collections_officer").get(f"/cartera/cortes/{ON.isoformat()}/testigos/")
    text = body.content.decode()
    totals = build.read_manifest(snap)["totals"]
    n = {w: len(accounts(snap, w)) for w in testigos.WHICH}
    assert f'data-testid="vigente-accounts">{n["vigente"]}<' in text
    assert f'data-testid="vencida-accounts">{n["vencida"]}<' in text
    assert f'data-testid="all-accounts">{totals["accounts"]}<' in text
    assert "Testigo de Cartera Vencida" in text and "Descargar requiere" in text


def streamed(response: Any) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_downloads(snap, utility):
    client = client_for("cartera_analyst")
    base = f"/cartera/cortes/{ON.isoformat()}/testigos/"
    n = len(accounts(snap, "vencida"))
    xlsx = client.get(base + "vencida.xlsx")
    assert xlsx.status_code == 200
    assert xlsx["Content-Disposition"] == (
        'attachment; filename="testigo-cartera-vencida-2026-10-31.xlsx"'
    )
    assert xlsx["Content-Type"] == testigos.CONTENT_TYPES["xlsx"]
    assert "no-store" in xlsx["Cache-Control"]
    book = openpyxl.load_workbook(io.BytesIO(streamed(xlsx)))
    assert len(detail_rows(book)) == n
    csv_response = client.get(base + "vencida.csv")
    assert csv_response["Content-Disposition"].endswith('testigo-cartera-vencida-2026-10-31.csv"')
    text = streamed(csv_response).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text), delimiter=";"))) == n + 1
    parquet = client.get(base + "vigente.parquet")
    table = pq.read_table(io.BytesIO(streamed(parquet)))
    assert table.num_rows == len(accounts(snap, "vigente"))
    events = AuditEvent.objects.filter(action="portfolio.download_testigo").order_by("id")
    assert [
        (e.actor_label, (e.after or {})["testigo"], (e.after or {})["format"]) for e in events
    ] == [
        ("u-cartera_analyst", "vencida", "xlsx"),
        ("u-cartera_analyst", "vencida", "csv"),
        ("u-cartera_analyst", "vigente", "parquet"),
    ]
    assert client.get(base + "morosa.csv").status_code == 404
    assert client.get(base + "vencida.pdf").status_code == 404


@pytest.mark.django_db
def test_no_snapshot_is_404(settings, tmp_path, utility):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path
    client = client_for("cartera_analyst")
    assert client.get("/cartera/cortes/2026-09-30/testigos/").status_code == 404
    assert client.get("/cartera/cortes/2026-09-30/testigos/vencida.xlsx").status_code == 404
    assert client.get("/cartera/cortes/2026-02-30/testigos/").status_code == 404
    assert not AuditEvent.objects.exists()


# --- from the ledger ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_from_ledger_through_take_snapshot(settings, tmp_path):
    from caudal.cadastre.testing import make_account, make_utility
    from caudal.ledger.actions import do_block_item, do_post_payment
    from caudal.ledger.models import OpenItem
    from caudal.portfolio.models import StagePolicy
    from caudal.portfolio.snapshot import take_snapshot
    from caudal.portfolio.tests.test_snapshot import (
        _DEFAULT_POLICIES,
        bill,
        empty_ledger_tables,
    )

    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    if not StagePolicy.objects.exists():
        _DEFAULT_POLICIES.create(django_apps, None)
    try:
        d = date(2026, 3, 31)
        make_utility("PE")
        ana = make_account(name="Ana & Cía", address="Av. Sol 1", stratum=None)
        beto = make_account(name="Beto", category="commercial")
        carla = make_account(name="Carla")
        dora = make_account(name="Dora")
        old = bill(ana, 3000, on=date(2025, 10, 6), due=date(2025, 10, 26))
        bill(ana, 2500, on=date(2026, 3, 6), due=date(2026, 3, 31))
        do_block_item(OpenItem.objects.get(document=old), reason="Reclamo", on=d, actor="t")
        bill(beto, 4000, on=date(2026, 1, 6), due=date(2026, 1, 26))
        do_post_payment(beto, amount=1500, payment_date=date(2026, 2, 10), actor="t")
        do_post_payment(carla, amount=900, payment_date=date(2026, 3, 10), actor="t")
        bill(dora, 1234, on=date(2026, 3, 20), due=date(2026, 4, 10))
        do_post_payment(beto, amount=2500, payment_date=date(2026, 4, 2), actor="t")  # after D
        snap = take_snapshot(d, actor="analyst")

        out = {
            w: read_csv(testigos.write_testigo(d, w, "csv", tmp_path / f"{w}.csv"))
            for w in testigos.WHICH
        }
        rows = {r["Titular"]: r for w in testigos.WHICH for r in out[w]}
        assert [r["Titular"] for r in out["vencida"]] == ["Ana & Cía", "Beto"]
        assert [r["Titular"] for r in out["vigente"]] == ["Carla", "Dora"]
        a, b = rows["Ana & Cía"], rows["Beto"]
        assert (a["Saldo (S/)"], a["Vencido (S/)"], a["Bloqueado (S/)"]) == (
            "55.00",
            "30.00",
            "30.00",
        )
        assert a["Días de mora"] == str((d - date(2025, 10, 26)).days)
        assert (a["Tramo de edad"], a["Clase de edad"]) == ("91–180 días", "Cartera liviana")
        # The old bill is blocked: the stage goes by the unblocked debt (none overdue).
        assert a["Etapa de cobro"] == "Cobranza corriente"
        assert (a["Municipio"], a["Zona"], a["Dirección"], a["Estrato"]) == (
            "Centro",
            "Zona 1",
            "Av. Sol 1",
            "",
        )
        assert (b["Saldo (S/)"], b["Uso"]) == ("25.00", "Comercial")  # the April payment left out
        assert (rows["Carla"]["Saldo (S/)"], rows["Carla"]["Saldo a favor (S/)"]) == (
            "-9.00",
            "9.00",
        )
        assert rows["Dora"]["Días de mora"] == "0" and rows["Dora"]["Saldo (S/)"] == "12.34"

        book = openpyxl.load_workbook(
            testigos.write_testigo(d, "vencida", "xlsx", tmp_path / "v.xlsx")
        )
        total = list(book["Resumen"].iter_rows(values_only=True))[5]
        totals = testigos.totals_by_testigo(d)
        assert total[:3] == ("Total", 2, 80.0)
        assert totals["vencida"].balance + totals["vigente"].balance == snap.balance
        assert totals["vencida"].overdue == snap.overdue
        assert totals["vencida"].accounts + totals["vigente"].accounts == snap.accounts == 4
    finally:
        empty_ledger_tables()
