"""The collection office pages: home, centres and keys, days, settlements, deposits,
files, reconnections, reports; and who may open each."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pypdf
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from caudal.audit.models import AuditEvent
from caudal.audit.roles import ROLES
from caudal.collection import actions
from caudal.collection.models import (
    ApiKey,
    Centre,
    DailySettlement,
    PaymentFile,
    ReconnectionDue,
    SettlementStatus,
)
from caudal.collection.settlement import do_close_day
from caudal.collection.tests.test_reports import build_world
from caudal.collection.tests.test_settlement import pay

from .test_browser import CHROMIUM, browser, ledger_flushable, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

VIEWERS = {
    "manager",
    "cartera_analyst",
    "cartera_coordinator",
    "cashier",
    "cash_supervisor",
    "collections_officer",
    "auditor",
    "superuser",
}
MANAGERS = {"manager", "cash_supervisor", "superuser"}  # collection.manage_centres
SUPERVISORS = {"manager", "cash_supervisor", "superuser"}  # collection.supervise_cash
ALL_ROLES = [*ROLES, "superuser"]


@pytest.fixture
def world(utility):  # type: ignore[no-untyped-def]
    return build_world()


def pages(w) -> dict[str, tuple[str, set[str]]]:  # type: ignore[no-untyped-def]
    key = ApiKey.objects.filter(centre=w.car).first() or actions.do_issue_key(w.car, actor="t")[0]
    point = w.car.points.first()
    m = w.month.code
    return {
        "collection-home": ("/recaudacion/", VIEWERS),
        "collection-centres": ("/recaudacion/centros/", MANAGERS),
        "collection-centre-new": ("/recaudacion/centros/nuevo/", MANAGERS),
        "collection-centre": ("/recaudacion/centros/CAR01/", MANAGERS),
        "collection-centre-edit": ("/recaudacion/centros/CAR01/editar/", MANAGERS),
        "collection-point-new": ("/recaudacion/centros/CAR01/puntos/nuevo/", MANAGERS),
        "collection-point-edit": (f"/recaudacion/centros/CAR01/puntos/{point.pk}/", MANAGERS),
        "collection-key-rotate": (f"/recaudacion/claves/{key.pk}/rotar/", MANAGERS),
        "collection-key-revoke": (f"/recaudacion/claves/{key.pk}/revocar/", MANAGERS),
        "collection-day": (f"/recaudacion/dias/CAR01/{w.d4.isoformat()}/", VIEWERS),
        "collection-settlements": ("/recaudacion/liquidaciones/", VIEWERS),
        "collection-files": ("/recaudacion/archivos/", VIEWERS),
        "collection-reconnections": ("/recaudacion/reconexiones/", VIEWERS),
        "collection-reports": ("/recaudacion/reportes/", VIEWERS),
        "collection-commission": (f"/recaudacion/reportes/comisiones/?mes={m}", VIEWERS),
        "collection-commission-pdf": (
            f"/recaudacion/reportes/comisiones.pdf?mes={m}&centro=CAR01",
            VIEWERS,
        ),
        "collection-commission-xlsx": (f"/recaudacion/reportes/comisiones.xlsx?mes={m}", VIEWERS),
        "collection-recaudo": ("/recaudacion/reportes/recaudo/", VIEWERS),
        "collection-recaudo-xlsx": ("/recaudacion/reportes/recaudo.xlsx?por=zone", VIEWERS),
        "collection-recaudo-pdf": (f"/recaudacion/reportes/recaudo-mensual.pdf?mes={m}", VIEWERS),
    }


def test_every_page_by_role(world, login):
    matrix = pages(world)
    for role in ALL_ROLES:
        client = login(role, username=f"u-{role}")
        for name, (path, allowed) in matrix.items():
            if name.endswith("-pdf") and role not in ("manager", "cashier"):
                continue  # PDFs are slow: two roles are enough to prove their check
            status = client.get(path).status_code
            assert status == (200 if role in allowed else 403), (name, role, status)
    anonymous = Client().get("/recaudacion/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/ingresar/")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/recaudacion/liquidaciones/cerrar/", SUPERVISORS),
        ("/recaudacion/centros/CAR01/claves/nueva/", MANAGERS),
    ],
)
def test_posts_need_their_permission(world, login, path, allowed):
    for role in ALL_ROLES:
        if role in allowed:
            continue
        client = login(role, username=f"p-{role}")
        assert (
            client.post(path, {"centro": "CAR01", "dia": world.d5.isoformat()}).status_code == 403
        )
    assert not DailySettlement.objects.filter(day=world.d5).exists()
    assert not ApiKey.objects.exists()
    s = DailySettlement.objects.get(day=world.d3)
    assert (
        login("cashier", username="c2")
        .post(f"/recaudacion/liquidaciones/{s.pk}/deposito/")
        .status_code
        == 403
    )


def test_home_figures(world, login):
    today = timezone.localdate()
    pay(world.car, world.home, 2_500, today)
    pay(world.office, world.home, 1_000, today)
    ReconnectionDue.objects.create(
        account=world.home, document=world.late.document, cleared_on=today
    )
    client = login("cash_supervisor")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/recaudacion/")
    assert response.status_code == 200
    assert len(ctx.captured_queries) <= 20
    body = response.content.decode()
    assert 'data-testid="today-amount">S/ 35.00<' in body
    assert 'data-testid="pending-amount">S/ 153.33<' in body  # d3 12,000 + d4 3,333
    assert 'data-testid="late-count">2<' in body
    assert '<a href="/recaudacion/reconexiones/">1</a>' in body
    assert 'data-centre="CAR01"' in body and "Abierto" in body
    assert "1 pago fuera de la liquidación" in body
    assert "4 días pasados sin liquidar" in body  # CAJA d3, BCO d4, CAR01 d5 and last month


def test_create_centre_with_errors_then_ok(db, utility, login):
    client = login("cash_supervisor")
    bad = client.post(
        "/recaudacion/centros/nuevo/",
        {"code": "car 1", "name": "", "kind": "car", "amount_rule": "exact",
         "commission_percent": "abc", "deposit_days": "1", "deposit_time": "10:30"},
    )  # fmt: skip
    body = bad.content.decode()
    assert bad.status_code == 200
    assert 'data-field="code"' in body and 'data-field="name"' in body
    assert 'data-field="commission_percent"' in body and 'data-field="deposit_account"' in body
    assert "Revise 4 campos: no se guardó nada." in body
    assert 'value="car 1"' in body  # what was typed is kept
    assert not Centre.objects.exists()
    ok = client.post(
        "/recaudacion/centros/nuevo/",
        {"code": "car-norte", "name": "CAR Norte", "kind": "car", "amount_rule": "partial",
         "commission_fixed": "0.50", "commission_percent": "1.2", "commission_minimum": "0",
         "deposit_account": "001-555", "deposit_days": "1", "deposit_time": "10:30",
         "active": "on"},
    )  # fmt: skip
    assert ok.status_code == 302 and ok["Location"] == "/recaudacion/centros/CAR-NORTE/"
    centre = Centre.objects.get()
    assert (centre.commission_fixed, str(centre.commission_rate), centre.active) == (
        50,
        "0.01200",
        True,
    )
    assert not centre.commission_deducted  # unchecked box
    detail = client.get(ok["Location"]).content.decode()
    assert "S/ 0.50 por pago + 1,2 % del importe" in detail
    edit = client.post(
        "/recaudacion/centros/CAR-NORTE/editar/",
        {**{k: v for k, v in [("code", "CAR-NORTE"), ("name", "CAR Norte 2"), ("kind", "car"),
            ("amount_rule", "partial"), ("commission_fixed", "0.50"), ("commission_percent", "1.2"),
            ("commission_minimum", "0"), ("deposit_account", "001-555"), ("deposit_days", "1"),
            ("deposit_time", "10:30")]}},
    )  # fmt: skip
    assert edit.status_code == 302
    centre.refresh_from_db()
    assert centre.name == "CAR Norte 2" and not centre.active
    event = AuditEvent.objects.get(action="collection.update_centre")
    assert event.before == {"name": "CAR Norte", "active": True}


def test_points(world, login):
    client = login("manager")
    new = client.post(
        "/recaudacion/centros/CAR01/puntos/nuevo/",
        {"code": "P09", "name": "Agencia Mercado Central", "address": "Jr. Ayacucho 245", "active": "on"},
    )  # fmt: skip
    assert new.status_code == 302
    assert world.car.points.filter(code="P09", active=True).exists()
    dup = client.post(
        "/recaudacion/centros/CAR01/puntos/nuevo/", {"code": "p09", "name": "x", "active": "on"}
    )
    assert "ya tiene un punto de pago P09" in dup.content.decode()
    other = world.bank.points.first()
    assert client.get(f"/recaudacion/centros/CAR01/puntos/{other.pk}/").status_code == 404


def test_key_shown_once_rotate_and_revoke(world, login):
    client = login("cash_supervisor")
    issued = client.post("/recaudacion/centros/CAR01/claves/nueva/", {"label": "servidor"})
    assert issued.status_code == 200
    assert "no-store" in issued["Cache-Control"]
    body = issued.content.decode()
    raw = body.split('data-testid="raw-key">')[1].split("<")[0]
    assert raw.startswith("cau_") and "No se vuelve a mostrar" in body
    assert 'id="copy-key"' in body
    key = actions.authenticate(raw)
    assert key is not None and key.centre == world.car
    detail = client.get("/recaudacion/centros/CAR01/").content.decode()
    assert raw not in detail and f"cau_{key.prefix}_…" in detail
    assert "nunca" not in detail.split(f'data-key="{key.prefix}"')[1].split("</tr>")[0]

    confirm = client.get(f"/recaudacion/claves/{key.pk}/rotar/")
    assert "Sí, rotar la clave" in confirm.content.decode()
    assert actions.authenticate(raw) is not None  # a GET changes nothing
    rotated = client.post(f"/recaudacion/claves/{key.pk}/rotar/")
    new_raw = rotated.content.decode().split('data-testid="raw-key">')[1].split("<")[0]
    assert new_raw != raw and actions.authenticate(raw) is None
    new = actions.authenticate(new_raw)
    assert new is not None

    assert (
        "Sí, revocar la clave"
        in client.get(f"/recaudacion/claves/{new.pk}/revocar/").content.decode()
    )
    revoked = client.post(f"/recaudacion/claves/{new.pk}/revocar/", {"reason": "fin del contrato"})
    assert revoked.status_code == 302
    assert actions.authenticate(new_raw) is None
    event = AuditEvent.objects.filter(action="collection.revoke_key").latest("pk")
    assert event.reason == "fin del contrato"
    again = client.post(f"/recaudacion/claves/{new.pk}/rotar/")
    assert again.status_code == 302  # a revoked key is not rotated


def test_close_a_day_and_register_its_deposit(world, login):
    client = login("cash_supervisor")
    day = client.get(f"/recaudacion/dias/CAR01/{world.d5.isoformat()}/").content.decode()
    assert "Sin liquidar" in day and "Liquidar el día" in day
    closed = client.post(
        "/recaudacion/liquidaciones/cerrar/", {"centro": "CAR01", "dia": world.d5.isoformat()}
    )
    assert closed.status_code == 302
    assert closed["Location"] == f"/recaudacion/dias/CAR01/{world.d5.isoformat()}/"
    s = DailySettlement.objects.get(centre=world.car, day=world.d5)
    assert s.payments == 1 and s.closed_by_label == "cash_supervisor"
    twice = client.post(
        "/recaudacion/liquidaciones/cerrar/", {"centro": "CAR01", "dia": world.d5.isoformat()},
        follow=True,
    )  # fmt: skip
    assert "ya está liquidado" in twice.content.decode()

    url = f"/recaudacion/liquidaciones/{s.pk}/deposito/"
    bad = client.post(url, {"monto": "10,000.00", "fecha": "", "hora": "25:00", "referencia": ""})
    assert bad.status_code == 422
    body = bad.content.decode()
    for field in ("monto", "fecha", "hora", "referencia"):
        assert f'data-field="{field}"' in body, field
    future = timezone.localtime() + timedelta(days=1)
    ahead = client.post(
        url,
        {"monto": "10.00", "fecha": future.date().isoformat(), "hora": "09:00", "referencia": "X"},
    )
    assert ahead.status_code == 422 and "posteriores a ahora" in ahead.content.decode()
    done = client.post(
        url,
        {"monto": "9.50", "fecha": world.d5.isoformat(), "hora": "19:00", "referencia": "OP-1"},
        follow=True,
    )
    s.refresh_from_db()
    assert (s.deposited_amount, s.deposit_reference, s.status) == (
        950,
        "OP-1",
        SettlementStatus.DIFFERENCE,
    )
    assert "Depósito registrado. Estado: Depósito con diferencia." in done.content.decode()


def test_day_page_lists_payments_and_outside(world, login):
    body = login("auditor").get(f"/recaudacion/dias/CAR01/{world.d4.isoformat()}/").content.decode()
    assert "Fuera de la liquidación" in body
    assert "se registró después de liquidar el día" in body
    assert "Reversado" in body
    assert 'data-testid="collected">S/ 40.33<' in body
    assert "Registrar depósito" not in body  # the auditor only looks
    assert login("cashier", username="cx").get("/recaudacion/dias/CAR01/nodate/").status_code == 404


def test_settlements_filters(world, login):
    client = login("cartera_analyst")
    body = client.get("/recaudacion/liquidaciones/?marca=outside").content.decode()
    assert body.count("data-settlement=") == 1
    body = client.get("/recaudacion/liquidaciones/?centro=BCO").content.decode()
    assert "No hay liquidaciones con estos filtros." in body
    assert "Liquidar un día" not in body  # no supervise_cash
    assert "4 días pasados con pagos siguen sin liquidar" in body


def test_files_and_reconnections(world, login, make_user):
    user = make_user("cash_supervisor", username="importer")
    PaymentFile.objects.create(
        centre=world.bank, format="asobancaria2001", file_name="BCO_20260305.txt",
        sha256="a" * 64, records=1_200, total=9_876_543, imported_by=user,
    )  # fmt: skip
    ReconnectionDue.objects.create(
        account=world.shop, document=world.late.document, cleared_on=world.d4
    )
    client = login("collections_officer")
    files = client.get("/recaudacion/archivos/").content.decode()
    assert "BCO_20260305.txt" in files and "S/ 98,765.43" in files and "Asobancaria 2001" in files
    assert "1200" in files or "1,200" in files
    assert (
        "BCO_20260305.txt"
        not in client.get("/recaudacion/archivos/?formato=camt054").content.decode()
    )
    rec = client.get("/recaudacion/reconexiones/").content.decode()
    assert world.shop.number in rec and "Pendiente" in rec


def test_reports_pages_and_downloads(world, login):
    client = login("cartera_analyst")
    m = world.month.code
    summary = client.get(f"/recaudacion/reportes/comisiones/?mes={m}").content.decode()
    assert "Resumen por centro" in summary and "CAR01" in summary
    one = client.get(f"/recaudacion/reportes/comisiones/?mes={m}&centro=CAR01").content.decode()
    assert 'data-testid="month-commission">S/ 4.73<' in one
    assert client.get(f"/recaudacion/reportes/comisiones/?mes={m}&centro=NOPE").status_code == 404

    pdf = client.get(f"/recaudacion/reportes/comisiones.pdf?mes={m}&centro=CAR01")
    assert pdf["Content-Type"] == "application/pdf"
    assert f'filename="comisiones_{m}_CAR01.pdf"' in pdf["Content-Disposition"]
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Aprobado por" in text
    xlsx = client.get(f"/recaudacion/reportes/comisiones.xlsx?mes={m}")
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames == ["BCO", "CAJA", "CAR01"]

    start, end = world.month.start.isoformat(), world.month.end.isoformat()
    shown = client.get(f"/recaudacion/reportes/recaudo/?desde={start}&hasta={end}&por=category")
    body = shown.content.decode()
    assert 'data-testid="total">S/ 410.33<' in body
    assert 'data-key="commercial"' in body and "Comercial" in body
    assert body.count("<tr>", body.index('id="day-table"')) >= 3
    bad = client.get(f"/recaudacion/reportes/recaudo/?desde={end}&hasta={start}").content.decode()
    assert "posterior" in bad
    book = client.get(f"/recaudacion/reportes/recaudo.xlsx?desde={start}&hasta={end}&por=zone")
    wb = openpyxl.load_workbook(io.BytesIO(book.content), data_only=True)
    assert round(wb["Resumen"].cell(7, 4).value * 100) == 41_033
    month_pdf = client.get(f"/recaudacion/reportes/recaudo-mensual.pdf?mes={m}&tipo=car")
    assert (
        "Informe mensual de recaudo"
        in pypdf.PdfReader(io.BytesIO(month_pdf.content)).pages[0].extract_text()
    )


def test_closing_from_the_web_needs_a_valid_centre_and_day(world, login):
    client = login("manager")
    response = client.post(
        "/recaudacion/liquidaciones/cerrar/", {"centro": "X", "dia": "2026-01-01"}, follow=True
    )
    assert "Indique el centro y el día" in response.content.decode()
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = client.post(
        "/recaudacion/liquidaciones/cerrar/", {"centro": "CAR01", "dia": future}, follow=True
    )
    assert "día futuro" in response.content.decode()


def test_home_for_a_utility_without_centres(db, utility, login):
    body = login("auditor").get("/recaudacion/").content.decode()
    assert "No hay centros de recaudo activos." in body


def test_unsettled_day_closed_today_shows_on_home(world, login):
    today = timezone.localdate()
    pay(world.bank, world.home, 700, today)
    do_close_day(world.bank, today, actor="bank")
    body = login("manager").get("/recaudacion/").content.decode()
    row = body.split('data-centre="BCO"')[1].split("</tr>")[0]
    assert "Liquidado" in row


# --- in a real browser: the home page, and the commission report as an image ----------


def _office_data() -> None:
    """A utility with six centres, a week of payments and settlements in every state."""
    from datetime import datetime, time

    from caudal.cadastre.models import UtilitySettings
    from caudal.cadastre.testing import make_account
    from caudal.collection.models import AmountRule, CentreKind
    from caudal.collection.settlement import do_register_deposit
    from caudal.collection.testing import make_centre

    UtilitySettings.objects.update_or_create(
        pk=1,
        defaults={
            "name": "EPS Moquegua S.A.",
            "short_name": "EPS Moquegua",
            "country": "PE",
            "currency": "PEN",
            "tax_id": "20103028131",
        },
    )
    accounts = [make_account(f"4100{n:04d}") for n in range(1, 13)]
    specs = [
        ("CAJA-SEDE", "Caja sede central", CentreKind.OFFICE, 0, "0", 0),
        ("CAR-01", "Bodega San Martín", CentreKind.CAR, 50, "0.01", 80),
        ("CAR-02", "Farmacia Santa Rosa", CentreKind.CAR, 50, "0.01", 80),
        ("CAR-03", "Multiservicios El Siglo", CentreKind.CAR, 60, "0.008", 80),
        ("BN", "Banco de la Nación", CentreKind.BANK, 120, "0", 0),
        ("BCP", "Banco de Crédito del Perú", CentreKind.BANK, 150, "0", 0),
    ]
    centres: dict[str, Centre] = {}
    for code, name, kind, fixed, rate, minimum in specs:
        c = make_centre(
            code, kind=kind, amount_rule=AmountRule.ANY, fixed=fixed, rate=rate, minimum=minimum
        )
        Centre.objects.filter(pk=c.pk).update(
            name=name, tax_id=f"2060{4518230 + 7 * len(centres):07d}"
        )
        c.refresh_from_db()
        centres[code] = c
    today = timezone.localdate()
    amounts = [3_850, 4_720, 6_190, 2_980, 12_340, 5_560, 7_410, 3_320, 9_870, 4_150]
    for back in range(6, -1, -1):
        day = today - timedelta(days=back)
        for i, c in enumerate(centres.values()):
            for j in range(2 + (i + back) % 4):
                pay(
                    c,
                    accounts[(i + j + back) % len(accounts)],
                    amounts[(i * 3 + j + back) % 10],
                    day,
                    hour=9 + j,
                )
        if back == 0:
            continue
        for code, c in centres.items():
            if code == "CAR-03" and back == 1:
                continue  # not closed yet
            s = do_close_day(c, day, actor="cierre-nocturno")
            if back >= 2 and code != "CAR-02":
                amount = s.expected_deposit - (1_000 if (code == "BN" and back == 3) else 0)
                when = datetime.combine(
                    day + timedelta(days=1), time(9, 40 if code != "CAR-01" or back != 4 else 0)
                )
                if code == "CAR-01" and back == 4:
                    when = datetime.combine(day + timedelta(days=1), time(12, 5))
                do_register_deposit(
                    s,
                    amount=amount,
                    deposited_at=timezone.make_aware(when),
                    reference=f"OP-{s.pk:06d}",
                    actor="supervisor",
                )
    late = pay(centres["CAR-02"], accounts[0], 2_450, today - timedelta(days=2), hour=22)
    ReconnectionDue.objects.create(account=accounts[3], document=late.document, cleared_on=today)
    ReconnectionDue.objects.create(account=accounts[5], document=late.document, cleared_on=today)


@pytest.fixture
def browser_page(page, ledger_flushable):  # type: ignore[no-untyped-def]  # noqa: F811
    """The browser page, roles, and at the end the collection rows removed before
    ``ledger_flushable`` removes the ledger documents they point at."""
    from caudal.audit.roles import ensure_roles
    from caudal.collection.models import CashierSession, Payment, PaymentPoint

    ensure_roles()
    yield page
    ReconnectionDue.objects.all().delete()
    Payment.objects.all().delete()
    DailySettlement.objects.all().delete()
    PaymentFile.objects.all().delete()
    CashierSession.objects.all().delete()
    ApiKey.objects.all().delete()
    PaymentPoint.objects.all().delete()
    Centre.objects.all().delete()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed")
def test_screenshots_of_home_and_commission_report(browser_page):  # type: ignore[no-untyped-def]
    import os
    from pathlib import Path

    import pypdfium2
    from django.conf import settings

    from caudal.collection import reports
    from caudal.kernel.periods import Period

    from .test_browser import make_staff, shot, sign_in

    tab = browser_page
    _office_data()
    make_staff("supervisora", "cash_supervisor", "Rocío", "Cuayla")
    sign_in(tab, "supervisora")
    tab.wait_for_url("**/")
    tab.goto("/recaudacion/")
    assert tab.locator("h1").inner_text() == "Recaudación"
    assert tab.locator("#today-table tbody tr").count() == 6
    assert "Depósito vencido" in tab.locator("#problems").inner_text()
    assert "Diferencia" in tab.locator("#problems").inner_text()
    tab.set_viewport_size({"width": 1440, "height": 1200})
    home = shot(tab, "collection-home")

    car = Centre.objects.get(code="CAR-01")
    report = reports.commission_report(car, Period.containing(timezone.localdate()))
    pdf = pypdfium2.PdfDocument(reports.commission_pdf(report))
    image = Path(home).with_name("commission-report.png")
    pdf[0].render(scale=1.6).to_pil().save(image)
    if os.environ.get("CAUDAL_UPDATE_DOCS_IMG") == "1":
        docs = Path(settings.BASE_DIR) / "docs" / "img"
        (docs / "collection-home.png").write_bytes(Path(home).read_bytes())
        (docs / "commission-report.png").write_bytes(image.read_bytes())
