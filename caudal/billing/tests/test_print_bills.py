"""``caudal print-bills``: route batches for delivery, one file or one file per route."""

from __future__ import annotations

import json
from io import StringIO

import pypdfium2 as pdfium
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caudal.bench import bill_benches as samples
from caudal.billing.management.commands.print_bills import Command
from caudal.billing.models import Bill
from caudal.cadastre.models import Cycle, UtilitySettings
from caudal.cadastre.testing import make_route

pytestmark = pytest.mark.django_db

PERIOD = "2026-10"


@pytest.fixture
def routes(db):
    """Two routes of cycle C01 (2 and 1 bills) and one of cycle C02 (1 bill)."""
    samples.sample_utility("PE")
    r1 = make_route("R01")
    r2 = make_route("R02")
    c2 = Cycle.objects.create(code="C02", name="Ciclo 2")
    r3 = make_route("R03")
    r3.cycle = c2
    r3.save()
    for route, n in ((r1, 2), (r2, 1), (r3, 1)):
        accounts = samples.make_sample_accounts(n, route=route)
        samples.make_sample_bills(accounts, period=PERIOD, country="PE", history=2)
    return r1, r2, r3


def run(*args: str) -> str:
    out = StringIO()
    call_command("print_bills", *args, stdout=out)
    return out.getvalue()


def pages(path) -> int:
    return len(pdfium.PdfDocument(path))


def test_one_route_to_one_file(routes, tmp_path):
    target = tmp_path / "r01.pdf"
    result = json.loads(run("--period", PERIOD, "--route", "R01", "--out", str(target), "--json"))
    assert pages(target) == 2
    (entry,) = result["files"]
    assert entry["route"] == "R01" and entry["bills"] == 2 and entry["pages"] == 2
    assert entry["bytes"] == target.stat().st_size
    assert result["bills"] == 2


def test_cycle_to_one_file_per_route(routes, tmp_path):
    folder = tmp_path / "lote"
    text = run("--period", PERIOD, "--cycle", "C01", "--out", str(folder))
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"recibos_{PERIOD}_R01.pdf", f"recibos_{PERIOD}_R02.pdf"]
    assert pages(folder / names[0]) == 2 and pages(folder / names[1]) == 1
    assert "3 recibos en 2 archivos" in text


def test_whole_period_by_route(routes, tmp_path):
    result = json.loads(run("--period", PERIOD, "--out", str(tmp_path / "todo"), "--json"))
    assert [f["route"] for f in result["files"]] == ["R01", "R02", "R03"]
    assert result["bills"] == 4


def test_default_file_name(routes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("--period", PERIOD, "--route", "R03")
    assert pages(tmp_path / f"recibos_{PERIOD}_R03.pdf") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13", "--route", "R01"], "month 13 out of range"),
        (["--period", "octubre", "--route", "R01"], "no tiene la forma AAAA-MM"),
        (["--period", PERIOD, "--route", "R99"], "No existe la ruta R99"),
        (["--period", PERIOD, "--cycle", "C99"], "No existe el ciclo C99"),
        (["--period", "2026-12", "--route", "R01"], "No hay recibos del periodo 2026-12"),
    ],
)
def test_bad_input_is_a_clear_error(routes, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, "--out", str(tmp_path / "x.pdf"))
    assert not (tmp_path / "x.pdf").exists()


def test_route_and_cycle_exclude_each_other(routes):
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("--period", PERIOD, "--route", "R01", "--cycle", "C01")


def test_unprintable_bill_is_reported(routes, tmp_path):
    UtilitySettings.objects.filter(pk=1).update(country="CO", currency="COP", gln="")
    with pytest.raises(CommandError, match="no tiene GLN"):
        run("--period", PERIOD, "--route", "R01", "--out", str(tmp_path / "x.pdf"))


def test_corrected_bill_prints_its_new_version(routes, tmp_path):
    old = Bill.objects.filter(period=PERIOD, route__code="R02").get()
    fields = {
        f.name: getattr(old, f.name)
        for f in Bill._meta.concrete_fields
        if f.name not in ("id", "number", "version", "replaces", "document", "created_at")
    }
    Bill.objects.create(**fields, number="NEW-1", version=2, replaces=old)
    target = tmp_path / "r02.pdf"
    run("--period", PERIOD, "--route", "R02", "--out", str(target))
    doc = pdfium.PdfDocument(target)
    assert len(doc) == 1
    assert "NEW-1" in doc[0].get_textpage().get_text_range()


def test_help_names_the_options():
    text = Command().create_parser("caudal", "print_bills").format_help()
    for option in ("--period", "--route", "--cycle", "--out", "--json"):
        assert option in text
