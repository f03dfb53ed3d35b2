"""``caudal snapshot``: dates, kinds, the scheduled task, JSON, errors and exit codes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from caudal.cadastre.models import UtilitySettings
from caudal.cadastre.testing import make_account, make_utility
from caudal.ledger.actions import do_post_charge
from caudal.portfolio.models import Snapshot

from .test_snapshot import _snapshot_dir  # noqa: F401 (fixture: folder, policies, teardown)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owing():
    make_utility("CO")
    acc = make_account()
    do_post_charge(
        acc,
        kind="bill",
        lines=[("water", 12_345, "Agua")],
        document_date=date(2026, 1, 5),
        due_date=date(2026, 1, 25),
        actor="t",
    )
    return acc


def run(*args: str) -> str:
    out = StringIO()
    call_command("snapshot", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_json_output(owing):
    data = json.loads(run("--date", "2026-02-28", "--json"))
    (snap,) = data["snapshots"]
    assert snap["kind"] == "monthly" and snap["status"] == "done"
    assert snap["items"] == 1 and snap["balance"] == 12_345 and snap["overdue"] == 12_345
    assert data["failed"] == []


def test_text_output_and_kind(owing):
    text = run("--date", "2026-02-10", "--kind", "adhoc")
    assert "Corte 2026-02-10" in text and "1 partidas abiertas" in text
    assert Snapshot.objects.get(date=date(2026, 2, 10)).kind == "adhoc"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--date", "2026-02-30"), "Fecha no válida"),
        (("--date", "mañana"), "Fecha no válida"),
        ((), "Falta --date"),
        (("--date", "2026-01-01", "--scheduled"), "no ambos"),
    ],
)
def test_usage_errors(owing, args, message):
    with pytest.raises(CommandError, match=message) as info:
        run(*args)
    assert info.value.returncode == 2


def test_future_date_refused(owing):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match="futura") as info:
        run("--date", tomorrow)
    assert info.value.returncode == 2


def test_no_utility():
    UtilitySettings.objects.all().delete()
    with pytest.raises(CommandError, match="No hay empresa") as info:
        run("--date", "2026-01-31")
    assert info.value.returncode == 2


def test_scheduled_takes_missing_ones_once(owing):
    data = json.loads(run("--scheduled", "--today", "2026-03-05", "--json"))
    assert [(s["date"], s["kind"]) for s in data["snapshots"]] == [
        ("2026-02-28", "monthly"),
        ("2026-03-04", "daily"),
    ]
    assert json.loads(run("--scheduled", "--today", "2026-03-05", "--json"))["snapshots"] == []
    assert "No hay cortes pendientes" in run("--scheduled", "--today", "2026-03-05")


def test_failure_exits_1(owing, monkeypatch):
    from caudal.portfolio import build

    def boom(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(build, "write_folder", boom)
    with pytest.raises(SystemExit) as info:
        run("--date", "2026-02-28", "--json")
    assert info.value.code == 1
    assert Snapshot.objects.get(date=date(2026, 2, 28)).status == "failed"
