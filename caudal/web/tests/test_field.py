"""Meter-reading pages: the mobile page and its JSON API, progress, sheets, calendar."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader

from caudal.audit.models import AuditEvent
from caudal.cadastre.models import Cycle
from caudal.metering.models import Reading, ReadingCalendar, ReadingStatus, RouteAssignment
from caudal.metering.tests.field_fixtures import (
    current_period,
    open_calendar,
    route_with_accounts,
    second_route,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def field(utility):
    route, accounts = route_with_accounts(3)
    calendar = open_calendar(route.cycle)
    return route, accounts, calendar


def post_sync(client: Client, readings: object) -> tuple[int, dict]:
    response = client.post(
        "/lecturas/campo/sincronizar/",
        data=json.dumps({"readings": readings}),
        content_type="application/json",
    )
    if response["Content-Type"] != "application/json":
        return response.status_code, {}
    return response.status_code, response.json()


def reading(account, value=1075, **extra):
    return {
        "client_uuid": extra.pop("client_uuid", f"web-{account.number}"),
        "period": current_period().code,
        "route": "R01",
        "account": account.number,
        "value": value,
        "observation": "",
        "read_at": timezone.now().isoformat(),
        **extra,
    }


# ---- the mobile page ----------------------------------------------------------------------


def test_shell_has_config_and_assets(field, login):
    body = login("field_worker").get("/lecturas/campo/").content.decode()
    assert 'id="field-config"' in body
    assert "metering/field.js" in body and "metering/field.css" in body
    assert 'inputmode="numeric"' in body
    assert 'name="viewport"' in body
    config = json.loads(
        body.split('id="field-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["sync_url"] == "/lecturas/campo/sincronizar/"
    assert config["csrf"]
    assert {"key": "06", "code": "dog", "label": "Perro bravo"} in config["observations"]


def test_service_worker_and_manifest_need_no_session(field):
    client = Client()
    sw = client.get("/lecturas/campo/sw.js")
    assert sw.status_code == 200
    assert sw["Content-Type"].startswith("application/javascript")
    text = sw.content.decode()
    assert 'const SHELL = "/lecturas/campo/"' in text
    assert "/static/metering/field.js" in text
    manifest = client.get("/lecturas/campo/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.json()["start_url"] == "/lecturas/campo/"


def test_routes_json(field, login):
    data = login("field_worker").get("/lecturas/campo/rutas.json").json()
    assert [(r["route"], r["mode"], r["total"]) for r in data["routes"]] == [("R01", "reading", 3)]
    assert data["csrf"]


def test_route_json_and_access_errors(field, login, make_user):
    route, _accounts, cal = field
    client = login("field_worker")
    data = client.get(f"/lecturas/campo/rutas/{cal.period}/R01.json").json()
    assert data["mode"] == "reading"
    assert [a["sequence"] for a in data["accounts"]] == [10, 20, 30]
    assert data["accounts"][0]["previous_value"] == 1060
    assert data["accounts"][0]["expected_consumption"] == [10, 40]
    bad = client.get("/lecturas/campo/rutas/2026-13/R01.json")
    assert bad.status_code == 400 and bad.json()["field"] == "period"
    missing = client.get(f"/lecturas/campo/rutas/{cal.period}/R99.json")
    assert missing.status_code == 404 and missing.json()["field"] == "route"
    other = make_user("field_worker", username="otro")
    RouteAssignment.objects.create(period=cal.period, route=route, reader=other)
    taken = client.get(f"/lecturas/campo/rutas/{cal.period}/R01.json")
    assert taken.status_code == 403 and taken.json()["field"] == "route"
    RouteAssignment.objects.all().delete()
    cal.closed = True
    cal.save()
    closed = client.get(f"/lecturas/campo/rutas/{cal.period}/R01.json")
    assert closed.status_code == 409 and closed.json()["field"] == "period"


def test_sync_is_idempotent_on_client_uuid(field, login):
    _route, accounts, cal = field
    client = login("field_worker")
    batch = [reading(accounts[0], 1080), reading(accounts[1], None, observation="closed")]
    status, data = post_sync(client, batch)
    assert status == 200
    assert (data["created"], data["rejected"]) == (2, 0)
    status, data = post_sync(client, batch)
    assert status == 200
    assert data["unchanged"] == 2 and data["created"] == 0
    assert Reading.objects.filter(period=cal.period).count() == 2
    assert AuditEvent.objects.filter(action="metering.sync_readings").count() == 1
    row = Reading.objects.get(account=accounts[0], period=cal.period)
    assert row.reader is not None and row.reader.username == "field_worker"


def test_sync_errors_are_4xx_json_naming_the_field(field, login):
    _route, accounts, cal = field
    client = login("field_worker")
    other = second_route()
    status, data = post_sync(client, [reading(accounts[0], route=other.code)])
    assert status == 422
    result = data["results"][0]
    assert result["status"] == "rejected"
    assert "no está en la ruta R02" in result["errors"]["account"]
    cal.closed = True
    cal.save()
    status, data = post_sync(client, [reading(accounts[0])])
    assert status == 422 and "cerrado" in data["results"][0]["errors"]["period"]
    response = client.post(
        "/lecturas/campo/sincronizar/", data="no es json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["field"] == "body"
    response = client.post(
        "/lecturas/campo/sincronizar/", data="{}", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["field"] == "readings"
    status, data = post_sync(client, "nada")
    assert status == 400 and data["field"] == "readings"


def test_sync_needs_csrf_and_the_permission(field, make_user):
    _route, accounts, _cal = field
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user("field_worker"))
    response = strict.post(
        "/lecturas/campo/sincronizar/",
        data=json.dumps({"readings": [reading(accounts[0])]}),
        content_type="application/json",
    )
    assert response.status_code == 403
    cashier = Client()
    cashier.force_login(make_user("cashier"))
    status, _data = post_sync(cashier, [reading(accounts[0])])
    assert status == 403
    assert not Reading.objects.filter(period=current_period().code).exists()


# ---- progress, sheets, photos ---------------------------------------------------------------


def test_progress_page_counts_and_polls_cheaply(field, login):
    route, accounts, cal = field
    reader = User.objects.create_user("lector9", first_name="Rosa", last_name="Huamán")
    from caudal.metering.capture import do_sync_readings

    do_sync_readings(
        [reading(accounts[0], 1080), reading(accounts[1], None, observation="dog")], actor=reader
    )
    Reading.objects.filter(account=accounts[1]).update(status=ReadingStatus.REREAD)
    client = login("field_supervisor")
    body = client.get(f"/lecturas/avance/?periodo={cal.period}").content.decode()
    assert "Avance de lectura" in body
    assert 'hx-trigger="every 5s"' in body
    assert "2 / 3" in body  # visited / accounts to read
    assert "Rosa Huamán" in body
    assert f"/lecturas/hojas/{cal.period}/R01.pdf" in body
    # the htmx poll answers the table only, with a fixed, small number of queries
    with CaptureQueriesContext(connection) as queries:
        partial = client.get(
            f"/lecturas/avance/?periodo={cal.period}&ciclo={route.cycle.code}",
            headers={"HX-Request": "true"},
        )
    html = partial.content.decode()
    assert html.lstrip().startswith('<section class="card" id="progress-table"')
    assert "<html" not in html
    reading_queries = [q for q in queries.captured_queries if '"metering_reading"' in q["sql"]]
    assert len(reading_queries) == 1, reading_queries
    assert len(queries.captured_queries) <= 12, [q["sql"] for q in queries.captured_queries]


def test_assign_a_route(field, login, make_user):
    route, _accounts, cal = field
    worker = make_user("field_worker", username="campo7", first_name="Luis", last_name="Mamani")
    supervisor = login("field_supervisor")
    supervisor_user = User.objects.get(username="field_supervisor")
    from django.contrib.auth.models import Permission

    supervisor_user.user_permissions.add(Permission.objects.get(codename="assign_routes"))
    response = supervisor.post(
        "/lecturas/avance/asignar/",
        {"periodo": cal.period, "ruta": "R01", "lector": "campo7", "next": "/lecturas/avance/"},
    )
    assert response.status_code == 302
    assert RouteAssignment.objects.get(period=cal.period, route=route).reader == worker
    body = supervisor.get(f"/lecturas/avance/?periodo={cal.period}").content.decode()
    assert "Luis Mamani" in body
    bad = supervisor.post(
        "/lecturas/avance/asignar/",
        {"periodo": cal.period, "ruta": "R01", "lector": "field_supervisor"},
    )
    assert bad.status_code == 302
    assert RouteAssignment.objects.get(period=cal.period, route=route).reader == worker
    # without the permission
    auditor = login("auditor", username="aud")
    denied = auditor.post("/lecturas/avance/asignar/", {"periodo": cal.period, "ruta": "R01"})
    assert denied.status_code == 403


def test_route_sheet_downloads(field, login):
    _route, _accounts, cal = field
    client = login("field_supervisor")
    pdf = client.get(f"/lecturas/hojas/{cal.period}/R01.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Hoja de ruta de lectura" in text and "01700000" in text
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/lecturas/hojas/{cal.period}/R01.csv").content.decode())
        )
    )
    assert len(rows) == 3
    data = client.get(f"/lecturas/hojas/{cal.period}/R01.json").json()
    assert data["route"] == "R01"
    assert client.get(f"/lecturas/hojas/{cal.period}/R01.xls").status_code == 404
    assert client.get(f"/lecturas/hojas/{cal.period}/R77.pdf").status_code == 404


def test_photo_is_served_to_supervisors_only(field, login, settings, tmp_path):
    import base64

    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    _route, accounts, cal = field
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 90, 160)).save(buffer, "JPEG")
    photo = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    worker = login("field_worker")
    status, _ = post_sync(worker, [reading(accounts[0], photo=photo)])
    assert status == 200
    row = Reading.objects.get(account=accounts[0], period=cal.period)
    supervisor = login("field_supervisor")
    response = supervisor.get(f"/lecturas/fotos/{row.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == buffer.getvalue()
    assert worker.get(f"/lecturas/fotos/{row.pk}/").status_code == 403


# ---- calendar ----------------------------------------------------------------------------------


@pytest.fixture
def calendar_rows(utility):
    Cycle.objects.create(code="C01", name="Ciclo 1")
    Cycle.objects.create(code="C02", name="Ciclo 2", reading_day=8, billing_day=25)
    from caudal.metering.calendar_actions import do_generate_calendar

    do_generate_calendar(period="2026-11", actor="test")


def test_calendar_page_grid_and_table(calendar_rows, login):
    body = (
        login("billing_analyst").get("/lecturas/calendario/?mes=2026-11&anio=2026").content.decode()
    )
    assert 'data-testid="month-grid"' in body
    assert 'data-date="2026-11-18"' in body
    assert 'class="chip ev-read"' in body
    assert 'data-cycle="C01" data-period="2026-11"' in body
    assert "Generar desde las reglas" in body
    viewer = login("field_supervisor", username="sup").get("/lecturas/calendario/").content.decode()
    assert "Generar desde las reglas" not in viewer


def test_calendar_edit_in_place(calendar_rows, login):
    client = login("billing_analyst")
    row = ReadingCalendar.objects.get(cycle__code="C01", period="2026-11")
    form = client.get(f"/lecturas/calendario/{row.pk}/editar/", headers={"HX-Request": "true"})
    assert 'type="date" name="read_from" value="2026-11-18"' in form.content.decode()
    values = {
        name: getattr(row, name).isoformat()
        for name in (
            "read_from",
            "read_to",
            "critique_from",
            "critique_to",
            "billing_date",
            "due_date",
            "cut_warning_date",
        )
    }
    bad = client.post(
        f"/lecturas/calendario/{row.pk}/editar/", values | {"critique_from": "2026-11-20"}
    )
    assert bad.status_code == 200
    assert 'data-field="critique_from"' in bad.content.decode()
    ok = client.post(
        f"/lecturas/calendario/{row.pk}/editar/",
        values | {"due_date": "2026-12-26", "reason": "paro"},
    )
    assert 'data-cycle="C01"' in ok.content.decode()
    row.refresh_from_db()
    assert row.due_date == date(2026, 12, 26) and row.edited
    assert AuditEvent.objects.filter(action="metering.edit_calendar").count() == 1
    cancel = client.get(f"/lecturas/calendario/{row.pk}/")
    assert "editado" in cancel.content.decode()
    viewer = login("field_supervisor", username="sup")
    assert viewer.post(f"/lecturas/calendario/{row.pk}/editar/", values).status_code == 403


def test_calendar_generate_and_holidays(utility, login):
    Cycle.objects.create(code="C01", name="Ciclo 1")
    client = login("billing_analyst")
    response = client.post("/lecturas/calendario/generar/", {"anio": "2027"})
    assert response.status_code == 302
    assert ReadingCalendar.objects.filter(period__startswith="2027-").count() == 12
    client.post("/lecturas/calendario/feriados/", {"fecha": "2027-12-08", "nombre": "Inmaculada"})
    body = client.get("/lecturas/calendario/?anio=2027&mes=2027-12").content.decode()
    assert "Inmaculada" in body
    from caudal.metering.models import Holiday

    h = Holiday.objects.get()
    client.post(f"/lecturas/calendario/feriados/{h.pk}/borrar/")
    assert not Holiday.objects.exists()
    bad = client.post("/lecturas/calendario/generar/", {"periodo": "2027-13"}, follow=True)
    assert "AAAA-MM" in bad.content.decode()
