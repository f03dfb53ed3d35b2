"""``caudal bill``: summary, JSON, exit codes, resume by run id."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caudal.audit.models import Run, RunStatus
from caudal.bench.billing_benches import build_utility
from caudal.billing import runs
from caudal.billing.models import Bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def utility(db):
    return build_utility(30, cycles=1, per_route=10, seed=9, held_share=0.1)


def bill(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("bill", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_summary(utility):
    out, _err = bill("--period", utility.period, "--json")
    data = json.loads(out)
    assert data["status"] == RunStatus.DONE
    assert data["counts"]["billed"] == Bill.objects.count() > 0
    assert len(data["problems"]) == data["counts"]["held"] + data["counts"]["rejected"]
    assert all(p["reason"] and p["number"] for p in data["problems"])


def test_text_summary_lists_reasons_and_held_accounts(utility):
    out, err = bill("--period", utility.period, "--simulate", "--no-progress")
    assert "Simulación 2026-10" in out and "facturados" in out
    assert "Lectura retenida" in out
    assert Bill.objects.count() == 0
    assert "B00001" in err  # held accounts listed with their route


def test_progress_bar_run(utility):
    out, _err = bill("--period", utility.period)
    assert "Facturación 2026-10" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "Periodo no válido"),
        (["--period", "2026-10", "--cycle", "NOPE"], "No existe el ciclo"),
        ([], "Indique --period"),
        (["--run", "9999"], "No existe la corrida"),
    ],
)
def test_bad_parameters_exit_with_a_message(utility, args, message):
    with pytest.raises(CommandError, match=message):
        bill(*args)


def test_run_id_continues_a_run_created_elsewhere(utility):
    run = runs.start(utility.period, actor="web")
    out, _err = bill("--run", str(run.pk), "--json")
    assert json.loads(out)["run"] == run.pk
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    with pytest.raises(CommandError, match="ya terminó"):
        bill("--run", str(run.pk))


def test_no_tariff_is_an_error(utility):
    from caudal.tariffs.models import TariffVersion

    TariffVersion.objects.update(valid_from="2099-01-01")
    with pytest.raises(CommandError, match="No hay tarifa vigente"):
        bill("--period", utility.period, "--json")
    assert Run.objects.get().status == RunStatus.FAILED
