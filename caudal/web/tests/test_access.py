"""The role matrix: every role against every page, with the expected status code.

200 = the page opens, 403 = signed in but the role does not include it, 302 = sent to a
login page (anonymous users everywhere; users without admin access on admin pages).
"""

from __future__ import annotations

import pytest
from django.test import Client

from caudal.audit.models import Run
from caudal.audit.roles import ROLES
from caudal.bench.bill_benches import make_sample_bills
from caudal.cadastre.testing import make_route
from caudal.metering.tests.field_fixtures import open_calendar
from caudal.tariffs.testing import make_tariff

pytestmark = pytest.mark.django_db

ALL_ROLES = [*ROLES, "superuser", None]
OFFICE = set(ROLES) - {"field_worker"} | {"superuser"}
OVERSIGHT = {"manager", "auditor", "superuser"}
CONFIG_EDIT = {"manager", "superuser"}
TARIFF_MANAGERS = {"manager", "billing_analyst", "superuser"}  # tariffs.manage_tariffs
READERS = {"field_worker", "superuser"}  # metering.read_meters
READING_SUPERVISORS = {"manager", "billing_analyst", "field_supervisor", "auditor", "superuser"}
CALENDAR_MANAGERS = {"manager", "billing_analyst", "superuser"}  # metering.manage_calendar
PRINTERS = {"manager", "billing_analyst", "field_supervisor", "superuser"}  # billing.print_bills
CRITICS = {"manager", "billing_analyst", "superuser"}  # metering.critique_readings
TAKERS = {"cashier", "cash_supervisor", "manager", "superuser"}  # collection.take_payments
CASH_SUPERVISORS = {"cash_supervisor", "manager", "superuser"}  # supervise_cash, manage_centres
COLLECTION_VIEWERS = {  # collection.view_collections
    "manager",
    "cartera_analyst",
    "cartera_coordinator",
    "cashier",
    "cash_supervisor",
    "collections_officer",
    "auditor",
    "superuser",
}
CARTERA_VIEWERS = {  # portfolio.view_cartera, reports.view_reports
    "manager",
    "cartera_analyst",
    "cartera_coordinator",
    "collections_officer",
    "auditor",
    "superuser",
}
CARTERA_WORKERS = {"manager", "cartera_analyst", "cartera_coordinator", "superuser"}
POLICY_MANAGERS = {"manager", "superuser"}  # portfolio.manage_policies

# page → (path template, roles that get 200, status for the others when signed in)
PAGES: dict[str, tuple[str, set[str], int]] = {
    "home": ("/", set(ROLES) | {"superuser"}, 200),
    "search": ("/buscar/?q=quispe", OFFICE, 403),
    "search-htmx": ("/buscar/?q=quis", OFFICE, 403),
    "account-detail": ("/suministros/{number}/", OFFICE, 403),
    "account-as-of": ("/suministros/{number}/?al=2024-01-31", OFFICE, 403),
    "account-statement": ("/suministros/{number}/estado-de-cuenta/", OFFICE, 403),
    "account-statement-csv": ("/suministros/{number}/estado-de-cuenta.csv", OFFICE, 403),
    "account-audit": ("/suministros/{number}/auditoria/", OFFICE, 403),
    "user-list": ("/auditoria/usuarios/", OVERSIGHT, 403),
    "user-audit": ("/auditoria/usuarios/{username}/", OVERSIGHT, 403),
    "admin-index": ("/admin/", OVERSIGHT, 302),
    "admin-zones": ("/admin/cadastre/zone/", OVERSIGHT, 302),
    "admin-zone-edit": ("/admin/cadastre/zone/{zone}/change/", OVERSIGHT, 302),
    "admin-zone-add": ("/admin/cadastre/zone/add/", CONFIG_EDIT, 302),
    "admin-utility": ("/admin/cadastre/utilitysettings/", OVERSIGHT, 302),
    "admin-documents": ("/admin/ledger/document/", OVERSIGHT, 302),
    "admin-document-add": ("/admin/ledger/document/add/", set(), 302),
    "admin-audit-events": ("/admin/audit/auditevent/", OVERSIGHT, 302),
    "tariff-list": ("/tarifas/", OFFICE, 403),
    "tariff-detail": ("/tarifas/{tariff}/", OFFICE, 403),
    "tariff-import": ("/tarifas/importar/", TARIFF_MANAGERS, 403),
    "field-home": ("/lecturas/campo/", READERS, 403),
    "field-routes": ("/lecturas/campo/rutas.json", READERS, 403),
    "field-route": ("/lecturas/campo/rutas/{reading_period}/R01.json", READERS, 403),
    "reading-progress": ("/lecturas/avance/", READING_SUPERVISORS, 403),
    "reading-calendar": ("/lecturas/calendario/", READING_SUPERVISORS, 403),
    "reading-calendar-row": ("/lecturas/calendario/{calendar_row}/", READING_SUPERVISORS, 403),
    "reading-calendar-edit": (
        "/lecturas/calendario/{calendar_row}/editar/",
        CALENDAR_MANAGERS,
        403,
    ),
    "route-sheet": ("/lecturas/hojas/2026-11/R01.csv", READING_SUPERVISORS, 403),
    "route-sheet-json": ("/lecturas/hojas/2026-11/R01.json", READING_SUPERVISORS, 403),
    "bill-detail": ("/facturas/{bill}/", OFFICE, 403),
    "bill-pdf": ("/facturas/{bill}.pdf", OFFICE, 403),
    "bill-batch": ("/facturas/lote/", PRINTERS, 403),
    "critique": ("/lecturas/critica/", CRITICS, 403),
    "critique-vip": ("/lecturas/critica/?vista=vip&periodo=2026-07", CRITICS, 403),
    "critique-sample": ("/lecturas/critica/?vista=muestra&anomalia=not_read", CRITICS, 403),
    "billing-runs": ("/facturacion/", OFFICE, 403),  # billing.view_bills
    "billing-run": ("/facturacion/{billing_run}/", OFFICE, 403),
    "billing-run-progress": ("/facturacion/{billing_run}/?parte=avance", OFFICE, 403),
    "cash-desk": ("/caja/", TAKERS, 403),
    "cash-desk-close": ("/caja/cerrar/", TAKERS, 403),
    "cash-desk-receipt": ("/caja/comprobantes/{payment}.pdf", TAKERS, 403),
    "cash-sessions": ("/caja/sesiones/", CASH_SUPERVISORS, 403),
    "cash-sessions-detail": ("/caja/sesiones/{cash_session}/", CASH_SUPERVISORS, 403),
    "collection-home": ("/recaudacion/", COLLECTION_VIEWERS, 403),
    "collection-centres": ("/recaudacion/centros/", CASH_SUPERVISORS, 403),
    "collection-centre-new": ("/recaudacion/centros/nuevo/", CASH_SUPERVISORS, 403),
    "collection-centre": ("/recaudacion/centros/CAR01/", CASH_SUPERVISORS, 403),
    "collection-centre-edit": ("/recaudacion/centros/CAR01/editar/", CASH_SUPERVISORS, 403),
    "collection-point-new": ("/recaudacion/centros/CAR01/puntos/nuevo/", CASH_SUPERVISORS, 403),
    "collection-point-edit": ("/recaudacion/centros/CAR01/puntos/{point}/", CASH_SUPERVISORS, 403),
    "collection-key-rotate": ("/recaudacion/claves/{key}/rotar/", CASH_SUPERVISORS, 403),
    "collection-key-revoke": ("/recaudacion/claves/{key}/revocar/", CASH_SUPERVISORS, 403),
    "collection-day": ("/recaudacion/dias/CAR01/{day}/", COLLECTION_VIEWERS, 403),
    "collection-settlements": ("/recaudacion/liquidaciones/", COLLECTION_VIEWERS, 403),
    "collection-files": ("/recaudacion/archivos/", COLLECTION_VIEWERS, 403),
    "collection-reconnections": ("/recaudacion/reconexiones/", COLLECTION_VIEWERS, 403),
    "collection-reports": ("/recaudacion/reportes/", COLLECTION_VIEWERS, 403),
    "collection-commission": (
        "/recaudacion/reportes/comisiones/?mes={month}",
        COLLECTION_VIEWERS,
        403,
    ),
    "collection-commission-pdf": (
        "/recaudacion/reportes/comisiones.pdf?mes={month}&centro=CAR01",
        COLLECTION_VIEWERS,
        403,
    ),
    "collection-commission-xlsx": (
        "/recaudacion/reportes/comisiones.xlsx?mes={month}",
        COLLECTION_VIEWERS,
        403,
    ),
    "collection-recaudo": ("/recaudacion/reportes/recaudo/", COLLECTION_VIEWERS, 403),
    "collection-recaudo-xlsx": (
        "/recaudacion/reportes/recaudo.xlsx?por=zone",
        COLLECTION_VIEWERS,
        403,
    ),
    "collection-recaudo-pdf": (
        "/recaudacion/reportes/recaudo-mensual.pdf?mes={month}",
        COLLECTION_VIEWERS,
        403,
    ),
    # Cartera pages without a snapshot yet: each shows its empty state.
    "cartera-home": ("/cartera/", CARTERA_VIEWERS, 403),
    "followup-stage": ("/cartera/seguimiento/etapas/", CARTERA_VIEWERS, 403),
    "followup-dimension": ("/cartera/seguimiento/dimensiones/", CARTERA_VIEWERS, 403),
    "followup-blocked": ("/cartera/seguimiento/bloqueadas/", CARTERA_VIEWERS, 403),
    "followup-recaudo": ("/cartera/seguimiento/recaudo/", CARTERA_VIEWERS, 403),
    "followup-financing": ("/cartera/seguimiento/financiaciones/", CARTERA_VIEWERS, 403),
    "kpis": ("/cartera/indicadores/", CARTERA_VIEWERS, 403),
    "kpi-targets": ("/cartera/indicadores/metas/", CARTERA_VIEWERS, 403),
    "kpi-formula-new": (
        "/cartera/indicadores/morosidad_meses/nueva-version/",
        POLICY_MANAGERS,
        403,
    ),
    "cartera-policies": ("/cartera/politicas/", CARTERA_VIEWERS, 403),
    "dashboard": ("/cartera/tablero/", CARTERA_VIEWERS, 403),
    "reports-list": ("/informes/", CARTERA_VIEWERS, 403),
    "report-new": ("/informes/nuevo/", CARTERA_WORKERS, 403),
}

# Admin pages that a signed-in admin user without that model permission gets 403 on.
ADMIN_403 = {
    ("admin-zone-add", "auditor"),
    ("admin-document-add", "manager"),
    ("admin-document-add", "auditor"),
    ("admin-document-add", "superuser"),
}


def expected(page: str, role: str | None) -> int:
    _path, allowed, denied = PAGES[page]
    if role is None:
        return 302
    if role in allowed:
        return 200
    if (page, role) in ADMIN_403:
        return 403
    return denied


@pytest.fixture
def targets(account):
    from caudal.cadastre.models import Zone

    reading_calendar = open_calendar(make_route().cycle)
    return {
        "number": account.number,
        "username": "someone",
        "zone": Zone.objects.get().pk,
        "tariff": make_tariff().pk,
        "bill": make_sample_bills([account], period="2026-10", country="PE", history=0)[0].number,
        "billing_run": Run.objects.create(
            kind="billing", parameters={"period": "2026-10", "cycle": None, "simulate": True}
        ).pk,
        "reading_period": reading_calendar.period,
        "calendar_row": reading_calendar.pk,
        **_collection_targets(account),
    }


def _collection_targets(account) -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from caudal.collection.actions import do_issue_key, do_post_centre_payment
    from caudal.collection.models import AmountRule, CashierSession, CentreKind
    from caudal.collection.testing import make_centre

    car = make_centre("CAR01", amount_rule=AmountRule.ANY)
    office = make_centre("OFI", kind=CentreKind.OFFICE, amount_rule=AmountRule.ANY)
    key, _raw = do_issue_key(car, actor="test")
    paid = do_post_centre_payment(
        centre=office, reference=account.number, amount=1_000, actor="test"
    )
    cashier = get_user_model().objects.create(username="cajero.matriz")
    session = CashierSession.objects.create(cashier=cashier, point=office.points.get())
    today = timezone.localdate()
    return {
        "key": key.pk,
        "point": car.points.get().pk,
        "day": today.isoformat(),
        "month": today.strftime("%Y-%m"),
        "payment": paid.payment.pk,
        "cash_session": session.pk,
    }


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("role", ALL_ROLES, ids=[str(r) for r in ALL_ROLES])
def test_role_matrix(page, role, targets, login, make_user):
    make_user("cashier", username="someone")
    client = Client() if role is None else login(role)
    path = PAGES[page][0].format(**targets)
    headers = {"HX-Request": "true"} if page == "search-htmx" else {}
    response = client.get(path, headers=headers)
    assert response.status_code == expected(page, role), (page, role, response.status_code)
    if response.status_code == 302 and role is None:
        assert response["Location"].startswith(("/ingresar/", "/admin/login/"))


# Named URLs that are not GET pages (POST endpoints, htmx fragments checked by their own
# tests with their own permissions).
NOT_IN_MATRIX: set[str] = {
    "billing-run-start",  # POST, billing.run_billing: test_billing_run.py
    "billing-run-resume",  # POST, billing.run_billing: test_billing_run.py
    "field-sw",  # the service worker script: public (no session), test_field.py
    "field-manifest",  # the web app manifest: public (no session), test_field.py
    "field-sync",  # POST, metering.read_meters: test_field.py
    "route-assign",  # POST, metering.assign_routes: test_field.py
    "reading-photo",  # needs a stored photo, metering.supervise_reading: test_field.py
    "reading-calendar-generate",  # POST, metering.manage_calendar: test_field.py
    "holiday-add",  # POST, metering.manage_calendar: test_field.py
    "holiday-delete",  # POST, metering.manage_calendar: test_field.py
    "critique-run",  # POST, metering.critique_readings: test_critique_pages.py
    "critique-accept",  # POST (htmx), metering.critique_readings: test_critique_pages.py
    "critique-correct",  # POST (htmx), metering.critique_readings: test_critique_pages.py
    "critique-estimate",  # POST (htmx), metering.critique_readings: test_critique_pages.py
    "critique-reread",  # POST (htmx), metering.critique_readings: test_critique_pages.py
    "critique-bulk-accept",  # POST, metering.critique_readings: test_critique_pages.py
    "critique-bulk-reread",  # POST, metering.critique_readings: test_critique_pages.py
    "cash-desk-open",  # POST, collection.take_payments: test_cashdesk_pages.py
    "cash-desk-pay",  # POST, collection.take_payments: test_cashdesk_pages.py
    "cash-desk-reverse",  # POST, collection.take_payments: test_cashdesk_pages.py
    "cash-sessions-review",  # POST, collection.supervise_cash: test_cashdesk_pages.py
    "collection-key-issue",  # POST, collection.manage_centres: test_collection_office.py
    "collection-close-day",  # POST, collection.supervise_cash: test_collection_office.py
    "collection-deposit",  # POST, collection.supervise_cash: test_collection_office.py
    # Cartera pages that need a snapshot or a report: their own tests check 200/403.
    "snapshot-detail",  # portfolio.view_cartera: portfolio/tests/test_snapshot_pages.py
    "snapshot-file",  # portfolio.view_cartera: portfolio/tests/test_snapshot_pages.py
    "testigos",  # portfolio.view_cartera: portfolio/tests/test_testigos.py
    "testigo-download",  # portfolio.take_snapshots: portfolio/tests/test_testigos.py
    "kpi-compute",  # POST, take_snapshots: portfolio/tests/test_kpis.py
    "dashboard-drill",  # portfolio.view_cartera: portfolio/tests/test_dashboard.py
    "dashboard-export",  # portfolio.take_snapshots: portfolio/tests/test_dashboard.py
    "report-detail",  # reports.*: reports/tests/
    "report-edit",  # POST, reports.draft_reports: reports/tests/
    "report-step",  # POST, the step's permission: reports/tests/
    "report-pdf",  # reports.*: reports/tests/
    "report-xlsx",  # reports.*: reports/tests/
    "report-archive",  # reports.view_reports, published only: reports/tests/
}


def test_matrix_covers_every_url():
    """Every named page of the web app appears in the matrix."""
    from django.urls import URLPattern, URLResolver

    from caudal.web import urls

    def names(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from names(p.url_patterns)
            elif isinstance(p, URLPattern) and p.name:
                yield p.name

    found = set(names(urls.urlpatterns)) - {"login", "logout"}
    missing = found - set(PAGES) - NOT_IN_MATRIX
    assert not missing, f"pages missing from the role matrix: {sorted(missing)}"


def test_field_worker_sees_only_the_landing(login):
    client = login("field_worker", first_name="Luis", last_name="Mamani")
    body = client.get("/").content.decode()
    assert "Luis Mamani" in body
    assert "Operario de campo" in body
    assert 'name="q"' not in body  # no search box
    assert "/auditoria/" not in body


def test_user_without_role_is_told_so(login):
    body = login(None).get("/").content.decode()
    assert "todavía no tiene un rol asignado" in body
    assert 'name="q"' not in body


def test_anonymous_home_redirects_to_login():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/ingresar/?next=/"


def test_nav_shows_only_what_the_role_can_open(login):
    cashier = login("cashier").get("/").content.decode()
    assert 'href="/buscar/"' in cashier
    assert 'href="/auditoria/usuarios/"' not in cashier
    assert 'href="/admin/"' not in cashier
    manager = login("manager", username="boss").get("/").content.decode()
    assert 'href="/auditoria/usuarios/"' in manager
    assert 'href="/admin/"' in manager
    assert "Gerencia comercial" in manager


def test_forbidden_page_is_in_spanish(login):
    response = login("field_worker").get("/buscar/?q=x")
    assert response.status_code == 403
    assert "No tiene acceso a esta página" in response.content.decode()
