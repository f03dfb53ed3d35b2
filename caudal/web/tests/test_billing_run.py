"""Billing run pages: list, launch (simulation and run), progress, held accounts."""

from __future__ import annotations

import pytest

from caudal.audit.models import Run, RunStatus
from caudal.bench.billing_benches import build_utility
from caudal.billing import runs
from caudal.billing.models import Bill
from caudal.web.billing import run_views

pytestmark = pytest.mark.django_db


@pytest.fixture
def utility(db):
    return build_utility(30, cycles=1, per_route=10, seed=3, held_share=0.2)


@pytest.fixture
def inline_launch(monkeypatch):
    """Run the launched billing run in the request instead of a separate process."""
    launched: list[int] = []

    def run_now(run: Run, actor: str) -> None:
        launched.append(run.pk)
        runs.execute(run, actor=actor)

    monkeypatch.setattr(run_views, "launch", run_now)
    return launched


def test_list_and_form_for_the_billing_analyst(login, utility):
    body = login("billing_analyst").get("/facturacion/").content.decode()
    assert "Corridas de facturación" in body
    assert 'action="/facturacion/nueva/"' in body
    assert "B01" in body  # the cycle in the form


def test_viewers_see_runs_but_no_form(login, utility):
    runs.run_billing(utility.period, simulate=True, actor="test")
    body = login("cashier").get("/facturacion/").content.decode()
    assert "Corridas de facturación" in body
    assert "/facturacion/nueva/" not in body
    assert "simulación" in body


def test_viewer_cannot_launch(login, utility, inline_launch):
    response = login("cashier").post("/facturacion/nueva/", {"periodo": utility.period})
    assert response.status_code == 403
    assert inline_launch == []
    assert not Run.objects.filter(kind="billing").exists()


def test_simulation_from_the_web_posts_nothing(login, utility, inline_launch):
    client = login("billing_analyst")
    response = client.post("/facturacion/nueva/", {"periodo": utility.period, "modo": "simular"})
    run = Run.objects.get(pk=inline_launch[0])
    assert response.status_code == 302
    assert response["Location"] == f"/facturacion/{run.pk}/"
    assert run.status == RunStatus.DRY_RUN
    assert Bill.objects.count() == 0
    page = client.get(response["Location"]).content.decode()
    assert "Simulación" in page
    assert f"Comparación con {run.counts['comparison']['previous_period']}" in page
    assert "Suministros retenidos y rechazados" in page
    # held accounts link to their 360 page and to the critique page
    held = run.counts["held"]
    assert held > 0
    assert "/lecturas/critica/?periodo=" in page
    assert page.count('href="/suministros/') >= held


def test_run_from_the_web_bills_and_shows_totals(login, utility, inline_launch):
    client = login("billing_analyst")
    response = client.post(
        "/facturacion/nueva/",
        {"periodo": utility.period, "modo": "facturar", "ciclo": "B01", "avisos": "Aviso uno\n"},
    )
    run = Run.objects.get(pk=inline_launch[0])
    assert run.status == RunStatus.DONE
    assert run.parameters["notices"] == ["Aviso uno"]
    assert Bill.objects.count() == run.counts["billed"] > 0
    assert all(b.messages[-1]["text"] == "Aviso uno" for b in Bill.objects.all())
    page = client.get(response["Location"]).content.decode()
    assert "Totales" in page and "Recibos rojos" in page
    assert "Reanudar" not in page


def test_progress_partial_polls_while_running(login, utility):
    run = runs.start(utility.period, actor="test")
    client = login("billing_analyst")
    partial = client.get(f"/facturacion/{run.pk}/?parte=avance", headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert partial.status_code == 200
    assert 'hx-trigger="every' in text and "<html" not in text
    full = client.get(f"/facturacion/{run.pk}/").content.decode()
    assert "Reanudar" in full
    runs.execute(run, actor="test")
    done = client.get(f"/facturacion/{run.pk}/?parte=avance", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.content.decode()


def test_bad_period_is_reported(login, utility, inline_launch):
    client = login("billing_analyst")
    response = client.post("/facturacion/nueva/", {"periodo": "2026-13"}, follow=True)
    assert "Periodo no válido" in response.content.decode()
    assert inline_launch == []


def test_resume_button_relaunches_an_unfinished_run(login, utility, inline_launch):
    run = runs.start(utility.period, actor="test")
    response = login("billing_analyst").post(f"/facturacion/{run.pk}/reanudar/")
    assert response.status_code == 302
    assert inline_launch == [run.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.DONE


def test_problem_list_filters_by_reason_and_pages(login, utility, monkeypatch):
    run = runs.run_billing(utility.period, simulate=True, actor="test")
    monkeypatch.setattr(run_views, "PROBLEMS_PAGE", 1)
    client = login("auditor")
    page = client.get(f"/facturacion/{run.pk}/").content.decode()
    assert 'data-testid="problems"' in page
    if run.counts["held"] + run.counts["rejected"] > 1:
        assert "Siguientes" in page
    filtered = client.get(f"/facturacion/{run.pk}/?motivo=reading_held").content.decode()
    assert "Lectura retenida" in filtered


def test_unknown_run_is_404(login, utility):
    assert login("billing_analyst").get("/facturacion/999999/").status_code == 404
