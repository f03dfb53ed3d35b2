"""End-to-end tests in a real Chromium (Debian's), driven by Playwright's sync API.

Run with ``pytest -m browser``. Screenshots go to ``/tmp/caudal-shots/`` (or
``$CAUDAL_SHOTS``); the one of the 360 page is also saved as ``docs/img/account-360.png``
when ``CAUDAL_UPDATE_DOCS_IMG=1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from caudal.audit.actions import record
from caudal.audit.roles import ensure_roles
from caudal.cadastre.models import Cycle, Municipality, Route, Sector, UtilitySettings, Zone
from caudal.cadastre.testing import make_account
from caudal.ledger import actions

from .conftest import PASSWORD, populate_history

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CAUDAL_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("CAUDAL_SHOTS", "/tmp/caudal-shots"))
DOCS_IMG = Path(settings.BASE_DIR) / "docs" / "img" / "account-360.png"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]

LEDGER_TABLES = [
    "ledger_blockevent",
    "ledger_clearing",
    "ledger_openitem",
    "ledger_documentline",
    "ledger_document",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="es-PE", base_url=live_server.url
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def ledger_flushable(transactional_db) -> Iterator[None]:
    """Let the end-of-test flush run on SQLite although ledger tables are append-only.

    The flush of a live-server test runs ``DELETE FROM`` on every table, which the ledger's
    immutability triggers refuse. Before it runs, this removes the ledger rows with the
    triggers lifted for that moment, then puts the triggers back exactly as they were.
    """
    yield
    if connection.vendor != "sqlite":
        return  # PostgreSQL flushes with TRUNCATE, which row triggers do not see
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(LEDGER_TABLES))
        cursor.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks})",
            LEDGER_TABLES,
        )
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        for table in LEDGER_TABLES:
            cursor.execute(f"DELETE FROM {table}")
        for _name, sql in triggers:
            cursor.execute(sql)


@pytest.fixture
def utility_data(ledger_flushable):  # type: ignore[no-untyped-def]
    """A believable utility: names the screenshots can show."""
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
        doc_number="20457812",
    )
    muni = Municipality.objects.get()
    muni.name, muni.department = "El Tambo", "Junín"
    muni.save()
    Zone.objects.update(name="Norte")
    Sector.objects.update(name="Pilcomayo")
    Cycle.objects.update(name="Lectura 18, vence 26")
    Route.objects.update(name="Huancavelica norte")
    populate_history(account)
    cashier = make_staff("caja9", "cashier", "Carmen", "Rojas")
    actions.do_post_payment(
        account,
        amount=4_000,
        payment_date=timezone.localdate() - timedelta(days=2),
        reference="001-004512",
        source="caja",
        actor=cashier,
    )
    record(
        actor=cashier,
        action="cadastre.update_customer",
        object_type="cadastre.customer",
        object_id=account.customer_id,
        account_id=account.pk,
        before={"mobile": "", "consent_sms": False},
        after={"mobile": "+51 987 654 321", "consent_sms": True},
        reason="Actualización de celular y autorización SMS en ventanilla",
    )
    make_account("40012399", name="José Antonio Quispe Huamán", address="Jr. Ica 310, Huancayo")
    make_account(
        "40012410",
        name="Bodega Quispe E.I.R.L.",
        address="Jr. Puno 877, Huancayo",
        category="commercial",
    )
    return account


def make_staff(username: str, role: str, first: str, last: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, first_name=first, last_name=last)
    user.groups.add(Group.objects.get(name=role))
    return user


def sign_in(page, username: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto("/ingresar/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def shot(page, name: str, *, full_page: bool = False) -> Path:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def test_wrong_password_then_lockout(page, utility_data):  # type: ignore[no-untyped-def]
    make_staff("caja1", "cashier", "Carla", "Ríos")
    page.goto("/")
    assert page.url.endswith("/ingresar/?next=/")
    assert page.locator("h1").inner_text() == "Ingrese a su cuenta"
    shot(page, "01-login")
    sign_in(page, "caja1", "equivocada")
    error = page.locator(".alert-error")
    assert "Por favor, introduzca un nombre de usuario y clave correctos" in error.inner_text()
    shot(page, "02-login-error")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(page, "caja1", "equivocada")
    assert "Acceso bloqueado temporalmente" in page.locator("h1").inner_text()
    assert "minutos" in page.content()
    shot(page, "03-locked")
    sign_in(page, "caja1")  # the right password does not help while locked
    assert "Acceso bloqueado temporalmente" in page.locator("h1").inner_text()


def test_search_as_you_type_and_open_the_360_page(page, utility_data):  # type: ignore[no-untyped-def]
    make_staff("atencion1", "customer_service", "Milagros", "Huamán")
    sign_in(page, "atencion1")
    page.wait_for_url(re.compile(r"/$"))
    assert "Hola, Milagros Huamán" in page.locator("h1").inner_text()
    shot(page, "04-home")
    box = page.locator("#q")
    box.press_sequentially("quispe", delay=40)
    rows = page.locator("#results-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == 3
    assert page.url.endswith("/buscar/?q=quispe")  # htmx pushed the URL, no reload
    assert "Rosa Elvira Quispe Mamani" in page.locator("#results-table").inner_text()
    shot(page, "05-search-results")
    box.fill("")
    box.press_sequentially("huancavelica", delay=30)
    page.locator("#results-table tbody tr").first.wait_for()
    page.wait_for_function("document.querySelectorAll('#results-table tbody tr').length === 1")
    page.click("#results-table a[href='/suministros/40012345/']")
    page.wait_for_url("**/suministros/40012345/")
    assert page.locator("h1.account-number").inner_text() == "40012345"
    assert "Rosa Elvira Quispe Mamani" in page.locator("#customer").inner_text()
    balance = page.locator("[data-testid=balance]").inner_text()
    assert balance.startswith("S/ ")
    items = page.locator("#open-items tbody tr")
    assert items.count() >= 4
    assert page.locator("#open-items .badge-warn").first.inner_text() == "Bloqueada"
    assert "Reclamo por consumo excesivo" in page.locator("#open-items").inner_text()
    shot(page, "06-account-360", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 1280})
    path = shot(page, "06b-account-360-top")
    page.set_viewport_size({"width": 1440, "height": 900})
    if os.environ.get("CAUDAL_UPDATE_DOCS_IMG") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        DOCS_IMG.write_bytes(path.read_bytes())
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#statement").screenshot(path=str(SHOTS / "06c-statement-section.png"))
    page.locator("#audit").screenshot(path=str(SHOTS / "06d-audit-section.png"))

    # the state on a past date
    on = timezone.localdate() - timedelta(days=150)
    page.fill("#al", on.isoformat())
    page.click("#as-of button[type=submit]")
    page.wait_for_url(re.compile(r"\?al="))
    assert page.locator("[data-testid=balance-as-of]").inner_text().startswith("S/ ")
    page.locator("#as-of").scroll_into_view_if_needed()
    shot(page, "07-account-as-of")

    page.click("text=Ver el estado de cuenta completo")
    page.wait_for_url("**/estado-de-cuenta/")
    assert page.locator(".statement-table tbody tr").count() > 10
    shot(page, "08-statement", full_page=True)
    with page.expect_download() as download:
        page.click("text=Descargar CSV")
    assert download.value.suggested_filename == "estado-de-cuenta_40012345.csv"


def test_exact_account_number_goes_straight_to_the_account(page, utility_data):  # type: ignore[no-untyped-def]
    make_staff("caja2", "cashier", "Pedro", "Salas")
    sign_in(page, "caja2")
    page.wait_for_url(re.compile(r"/$"))
    page.fill("#q", "40012410")
    page.press("#q", "Enter")
    page.wait_for_url("**/suministros/40012410/")
    assert "Bodega Quispe E.I.R.L." in page.locator(".account-sub").inner_text()
    # the search box of the top bar, from any page
    page.fill("#global-q", "40012345")
    page.press("#global-q", "Enter")
    page.wait_for_url("**/suministros/40012345/")


def test_field_worker_and_auditor(page, utility_data):  # type: ignore[no-untyped-def]
    make_staff("campo1", "field_worker", "Luis", "Mamani")
    sign_in(page, "campo1")
    page.wait_for_url(re.compile(r"/$"))
    assert "Luis Mamani" in page.locator("h1").inner_text()
    assert page.locator("#global-q").count() == 0
    shot(page, "09-field-worker")
    page.goto("/suministros/40012345/")
    assert "No tiene acceso a esta página" in page.locator("h1").inner_text()
    shot(page, "10-forbidden")
    page.click(".usermenu summary")
    shot(page, "11-user-menu")
    page.click("text=Cerrar sesión")
    page.wait_for_url("**/ingresar/")

    make_staff("auditor1", "auditor", "Sofía", "Cárdenas")
    sign_in(page, "auditor1")
    page.wait_for_url(re.compile(r"/$"))
    page.click("nav.nav >> text=Auditoría")
    page.wait_for_url("**/auditoria/usuarios/")
    shot(page, "12-user-list")
    page.click("a[href='/auditoria/usuarios/caja9/']")
    page.wait_for_url("**/auditoria/usuarios/caja9/")
    assert (
        "Actualización de celular y autorización SMS en ventanilla"
        in page.locator(".audit-table").inner_text()
    )
    shot(page, "13-user-audit")
    page.goto("/suministros/40012345/auditoria/")
    assert page.locator(".audit-table tbody tr").count() >= 10
    shot(page, "14-account-audit", full_page=True)
    page.goto("/admin/")
    assert "Caudal — administración" in page.content()
    shot(page, "15-admin-auditor")
    page.goto("/admin/cadastre/zone/")
    assert page.locator("#result_list").count() == 1
    shot(page, "16-admin-zones")
