"""The reading critique page: counts, filters, tabs, decisions in place (htmx), bulk
actions and the run button."""

from __future__ import annotations

from typing import Any

import pytest

from caudal.audit.models import AuditEvent, Run
from caudal.cadastre.models import Segment
from caudal.metering.models import Reading
from caudal.metering.runs import run_critique
from caudal.metering.tests.critique_builders import (
    PERIOD,
    history,
    jsonmap,
    metered_account,
    prev,
    read,
)

pytestmark = pytest.mark.django_db

URL = "/lecturas/critica/"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def period_data(utility):
    """Five accounts: normal, high, not read (created by the run), VIP, low."""
    accounts = {}
    cases: list[tuple[str, str, int | None, dict[str, Any]]] = [
        ("normal", "30000001", 21, {}),
        ("high", "30000002", 95, {}),
        ("missing", "30000003", None, {}),
        ("vip", "30000004", 22, {"segment": Segment.VIP}),
        ("low", "30000005", 2, {}),
    ]
    for key, number, delta, extra in cases:
        acc = metered_account(number, **extra)
        last = history(acc, [20] * 6)
        if delta is not None:
            read(acc, last + delta)
        accounts[key] = acc
    run_critique(PERIOD, actor="test")
    return accounts


def reading(acc) -> Reading:
    return Reading.objects.get(account=acc, period=PERIOD)


def test_page_shows_counts_flags_and_rows(login, period_data):
    client = login("billing_analyst")
    response = client.get(URL, {"periodo": PERIOD})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Crítica de lectura" in body
    assert 'data-testid="total">5<' in body
    assert 'data-testid="vip-open">1<' in body
    for acc in period_data.values():
        assert f'href="/suministros/{acc.number}/"' in body
    assert 'data-flag="high_consumption"' in body
    assert "Consumo alto" in body and "No leída" in body
    # The history of the last six consumptions is shown.
    assert "20 20 20 20 20 20" in body


def test_default_period_is_the_last_critique(login, period_data):
    body = login("billing_analyst").get(URL).content.decode()
    assert f'<span class="mono">{PERIOD}</span>' in body


def test_filter_by_flag(login, period_data):
    body = (
        login("billing_analyst")
        .get(URL, {"periodo": PERIOD, "anomalia": "high_consumption"})
        .content.decode()
    )
    assert body.count('data-testid="reading-row"') == 1
    assert period_data["high"].number in body
    body = (
        login("manager", username="m")
        .get(URL, {"periodo": PERIOD, "anomalia": "not_read"})
        .content.decode()
    )
    assert body.count('data-testid="reading-row"') == 1
    assert period_data["missing"].number in body


def test_filter_by_status_segment_and_route(login, period_data):
    client = login("billing_analyst")
    body = client.get(URL, {"periodo": PERIOD, "estado": "ok"}).content.decode()
    assert body.count('data-testid="reading-row"') == 2  # normal and low (low is information)
    body = client.get(URL, {"periodo": PERIOD, "segmento": "vip"}).content.decode()
    assert body.count('data-testid="reading-row"') == 1
    body = client.get(URL, {"periodo": PERIOD, "ruta": "NOPE"}).content.decode()
    assert "Ninguna lectura con estos filtros" in body


def test_accept_in_place_with_htmx(login, period_data):
    client = login("billing_analyst")
    r = reading(period_data["high"])
    response = client.post(f"{URL}{r.pk}/aceptar/", {"volver": f"periodo={PERIOD}"}, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith("<tr") and 'data-status="accepted"' in body
    assert "Guardado" in body
    r.refresh_from_db()
    assert r.status == "accepted" and r.reviewed_by is not None
    assert r.reviewed_by.get_username() == "billing_analyst"
    assert AuditEvent.objects.filter(action="metering.accept_reading", object_id=str(r.pk)).exists()


def test_correct_error_is_shown_in_the_row(login, period_data):
    client = login("billing_analyst")
    r = reading(period_data["high"])
    response = client.post(
        f"{URL}{r.pk}/corregir/", {"lectura": "5", "motivo": "foto"}, headers=HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="row-error"' in body and "menor que la anterior" in body
    response = client.post(
        f"{URL}{r.pk}/corregir/", {"lectura": "abc", "motivo": "foto"}, headers=HTMX
    )
    assert "número entero" in response.content.decode()
    response = client.post(
        f"{URL}{r.pk}/corregir/",
        {"lectura": str(prev(r) + 25), "motivo": "foto"},
        headers=HTMX,
    )
    assert 'data-status="corrected"' in response.content.decode()
    r.refresh_from_db()
    assert (r.consumption, r.consumption_rule) == (25, "corrected")


def test_estimate_and_reread_without_htmx_redirect_back(login, period_data):
    client = login("billing_analyst")
    r = reading(period_data["missing"])
    response = client.post(
        f"{URL}{r.pk}/estimar/",
        {"volumen": "18", "motivo": "Vecino confirma", "volver": f"periodo={PERIOD}"},
    )
    assert response.status_code == 302 and response["Location"] == f"{URL}?periodo={PERIOD}"
    r.refresh_from_db()
    assert (r.status, r.consumption) == ("estimated", 18)
    v = reading(period_data["vip"])
    client.post(f"{URL}{v.pk}/releer/", {"motivo": "Validar con el cliente"}, headers=HTMX)
    v.refresh_from_db()
    assert v.status == "reread"


def test_bulk_accept_of_a_flag(login, period_data):
    client = login("billing_analyst")
    response = client.post(
        f"{URL}aceptar-filtradas/",
        {"volver": f"periodo={PERIOD}&anomalia=low_consumption", "nota": "revisadas"},
    )
    assert response.status_code == 302
    assert reading(period_data["low"]).status == "accepted"
    assert reading(period_data["high"]).status == "flagged"
    event = AuditEvent.objects.get(action="metering.bulk_accept")
    assert jsonmap(event.after)["count"] == 1


def test_vip_tab_lists_what_remains_to_validate(login, period_data):
    client = login("billing_analyst")
    body = client.get(URL, {"periodo": PERIOD, "vista": "vip"}).content.decode()
    assert body.count('data-testid="reading-row"') == 1
    assert period_data["vip"].number in body
    client.post(f"{URL}{reading(period_data['vip']).pk}/aceptar/", headers=HTMX)
    body = client.get(URL, {"periodo": PERIOD, "vista": "vip"}).content.decode()
    assert body.count('data-testid="reading-row"') == 0
    assert 'data-testid="vip-open">0<' in body


def test_control_sample_tab_and_bulk_reread(login, period_data):
    Reading.objects.update(control_sample=False)  # whatever the run drew (ids vary)
    Reading.objects.filter(account=period_data["normal"]).update(control_sample=True)
    client = login("billing_analyst")
    body = client.get(URL, {"periodo": PERIOD, "vista": "muestra"}).content.decode()
    assert body.count('data-testid="reading-row"') == 1
    client.post(
        f"{URL}releer-filtradas/",
        {"volver": f"periodo={PERIOD}&vista=muestra", "motivo": "Muestra"},
    )
    assert reading(period_data["normal"]).status == "reread"
    assert reading(period_data["high"]).status == "flagged"


def test_run_button_runs_the_critique(login, period_data):
    client = login("billing_analyst")
    before = Run.objects.filter(kind="critique").count()
    response = client.post(f"{URL}ejecutar/", {"volver": f"periodo={PERIOD}"}, follow=True)
    assert response.status_code == 200
    assert Run.objects.filter(kind="critique").count() == before + 1
    assert "Crítica ejecutada: 5 lecturas" in response.content.decode()


def test_bad_period_and_cycle_are_reported(login, period_data):
    client = login("billing_analyst")
    body = client.get(URL, {"periodo": "2026-13"}).content.decode()
    assert "el mes debe estar entre 01 y 12" in body
    body = client.get(URL, {"periodo": PERIOD, "ciclo": "ZZ"}).content.decode()
    assert "el ciclo ZZ no existe" in body


def test_pagination_by_id(login, utility):
    for i in range(55):
        acc = metered_account(f"3100{i:04d}")
        read(acc, 10, previous_value=0)
    run_critique(PERIOD, actor="test")
    client = login("billing_analyst")
    body = client.get(URL, {"periodo": PERIOD}).content.decode()
    assert body.count('data-testid="reading-row"') == 50
    last = Reading.objects.filter(period=PERIOD).order_by("route_id", "pk")[49]
    token = f"{last.route_id}-{last.pk}"
    assert f"despues={token}" in body
    body = client.get(URL, {"periodo": PERIOD, "despues": token}).content.decode()
    assert body.count('data-testid="reading-row"') == 5


def test_page_queries_do_not_grow_with_rows(login, period_data, django_assert_max_num_queries):
    client = login("billing_analyst")
    with django_assert_max_num_queries(25):
        assert client.get(URL, {"periodo": PERIOD}).status_code == 200


@pytest.mark.parametrize("role", ["cashier", "field_supervisor", "auditor", "field_worker"])
def test_only_critique_permission_can_post(login, period_data, role):
    r = reading(period_data["high"])
    client = login(role)
    for path in [
        f"{URL}{r.pk}/aceptar/",
        f"{URL}{r.pk}/corregir/",
        f"{URL}{r.pk}/estimar/",
        f"{URL}{r.pk}/releer/",
        f"{URL}ejecutar/",
        f"{URL}aceptar-filtradas/",
        f"{URL}releer-filtradas/",
    ]:
        data = {"lectura": "1", "volumen": "1", "motivo": "x", "volver": f"periodo={PERIOD}"}
        assert client.post(path, data, headers=HTMX).status_code == 403, path
    assert reading(period_data["high"]).status == "flagged"
    assert (
        not AuditEvent.objects.filter(action__startswith="metering.")
        .exclude(action="metering.critique")
        .exists()
    )
