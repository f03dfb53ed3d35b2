"""``caudal import-readings``: the example files, every error, idempotency, partial."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from caudal.audit.models import AuditEvent, Run
from caudal.cadastre.imports import import_cadastre
from caudal.metering.calendar_actions import do_generate_calendar
from caudal.metering.imports import import_readings
from caudal.metering.models import Reading, ReadingCalendar, ReadingSource, ReadingStatus

pytestmark = pytest.mark.django_db

EXAMPLES = Path(settings.BASE_DIR) / "docs" / "examples"
GOOD = EXAMPLES / "readings.csv"
BROKEN = EXAMPLES / "readings-broken.csv"


@pytest.fixture
def cadastre(utility):
    assert import_cadastre(EXAMPLES / "cadastre.csv", actor="test").committed
    do_generate_calendar(period="2026-10", actor="test")
    User.objects.create_user("lector1")
    User.objects.create_user("lector2")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lecturas.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_imports(cadastre):
    result = import_readings(GOOD, actor="test")
    assert result.errors == []
    assert result.committed
    assert (result.rows, result.created, result.updated, result.unchanged) == (16, 16, 0, 0)
    assert Reading.objects.filter(period="2026-10").count() == 16
    r = Reading.objects.get(account__number="01000101", period="2026-10")
    assert r.value == 1523
    assert r.source == ReadingSource.IMPORT
    assert r.status == ReadingStatus.PENDING
    assert r.reader is not None and r.reader.username == "lector1"
    assert str(r.latitude) == "-13.516810"
    assert r.route.code == "R0101"
    assert r.meter is not None and r.meter.serial == "ZN19001234"
    assert r.read_at is not None
    local = timezone.localtime(r.read_at)  # the file's times are local (TIME_ZONE)
    assert (local.date().isoformat(), local.hour, local.minute) == ("2026-10-19", 8, 12)
    assert Reading.objects.get(account__number="01000201", period="2026-10").observation == "dog"
    assert Reading.objects.get(account__number="01000205", period="2026-10").observation == "leak"
    unread = Reading.objects.get(account__number="01000103", period="2026-10")
    assert unread.value is None and unread.observation == "broken"
    assert Reading.objects.get(account__number="02000202", period="2026-10").reader is None
    run = Run.objects.get(kind="import_readings")
    assert run.status == "done"
    assert AuditEvent.objects.filter(action="metering.import_readings").count() == 1


def test_same_file_twice_changes_nothing(cadastre):
    import_readings(GOOD, actor="test")
    before = list(
        Reading.objects.order_by("id").values_list("id", "value", "read_at", "updated_at")
    )
    again = import_readings(GOOD, actor="test")
    assert again.errors == []
    assert (again.created, again.updated, again.unchanged) == (0, 0, 16)
    after = list(Reading.objects.order_by("id").values_list("id", "value", "read_at", "updated_at"))
    assert before == after


def test_the_broken_example_names_every_line_and_column(cadastre):
    result = import_readings(BROKEN, actor="test")
    assert not result.committed
    assert Reading.objects.filter(period="2026-10").count() == 0
    found = {(e.line, e.column): e.reason for e in result.errors}
    expected = {
        (2, "account_number"): "no existe",
        (3, "period"): "AAAA-MM",
        (4, "reading"): "negativa",
        (5, "observation"): "desconocido",
        (6, "reading"): "número entero",
        (7, "account_number"): "no tiene medidor",
        (8, "reading"): "observación",
        (9, "read_at"): "futuro",
        (10, "read_at"): "no válidas",
        (11, "account_number"): "fila repetida: el suministro ya aparece en la línea 10",
        (12, "reader"): "no existe el usuario nadie",
        (13, "period"): "no está en el calendario del periodo",
        (14, "longitude"): "latitud y longitud",
        (15, "reading"): "más dígitos que el medidor (4)",
        (16, "read_at"): "anterior al periodo",
    }
    for key, text in expected.items():
        assert key in found, (key, found)
        assert text in found[key], (key, found[key])
    assert {e.line for e in result.errors} == set(range(2, 17))


def test_partial_imports_the_good_rows(cadastre, tmp_path):
    good = GOOD.read_text(encoding="utf-8").splitlines()
    bad = BROKEN.read_text(encoding="utf-8").splitlines()[1:4]
    path = write(tmp_path, "\n".join([*good[:4], *bad]) + "\n")
    result = import_readings(path, actor="test", partial=True)
    assert result.committed
    assert result.created == 3
    assert result.extra["rejected_rows"] == 3
    assert Reading.objects.filter(period="2026-10").count() == 3


def test_updates_pending_and_refuses_decided_readings(cadastre, tmp_path):
    import_readings(GOOD, actor="test")
    Reading.objects.filter(account__number="01000101").update(status=ReadingStatus.ACCEPTED)
    Reading.objects.filter(account__number="01000102").update(
        status=ReadingStatus.FLAGGED, flags="low", consumption=3
    )
    header = GOOD.read_text(encoding="utf-8").splitlines()[0]
    path = write(
        tmp_path,
        f"{header}\n"
        "01000101,2026-10,1600,2026-10-22 08:00,,lector1,,\n"
        "01000102,2026-10,900,2026-10-22 08:05,,lector1,,\n",
    )
    result = import_readings(path, actor="test", partial=True)
    assert [(e.line, e.column) for e in result.errors] == [(2, "reading")]
    assert "ya fue decidida en la crítica (Aceptada)" in result.errors[0].reason
    assert result.updated == 1
    kept = Reading.objects.get(account__number="01000101")
    assert kept.value == 1523 and kept.status == ReadingStatus.ACCEPTED
    changed = Reading.objects.get(account__number="01000102")
    assert (changed.value, changed.status, changed.flags, changed.consumption) == (
        900,
        ReadingStatus.PENDING,
        "",
        None,
    )


def test_closed_period_and_previous_value(cadastre, tmp_path):
    header = GOOD.read_text(encoding="utf-8").splitlines()[0]
    do_generate_calendar(period="2026-09", actor="test")
    first = write(tmp_path, f"{header}\n01000101,2026-09,1500,2026-09-18 08:00,,lector1,,\n")
    assert import_readings(first, actor="test").committed
    import_readings(GOOD, actor="test")
    assert Reading.objects.get(account__number="01000101", period="2026-10").previous_value == 1500
    ReadingCalendar.objects.filter(period="2026-09").update(closed=True)
    again = write(tmp_path, f"{header}\n01000101,2026-09,1501,2026-09-18 08:00,,lector1,,\n")
    result = import_readings(again, actor="test")
    assert "está cerrado" in result.errors[0].reason


def test_header_errors(cadastre, tmp_path):
    path = write(tmp_path, "account_number,period,value\n01000101,2026-10,5\n")
    result = import_readings(path, actor="test")
    columns = {(e.column, e.reason) for e in result.errors}
    assert ("value", "columna desconocida") in columns
    assert ("reading", "falta la columna obligatoria") in columns


def test_command_json_and_exit_codes(cadastre):
    out = io.StringIO()
    call_command("import_readings", str(GOOD), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["created"] == 16 and data["committed"] is True
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("import_readings", str(BROKEN), stdout=out, stderr=err)
    assert exc.value.code == 1
    assert "línea 2, columna account_number: el suministro 09999999 no existe" in err.getvalue()
    assert out.getvalue().startswith("No se importó nada: readings-broken.csv — 15 filas")
    out = io.StringIO()
    call_command("import_readings", str(GOOD), stdout=out)
    assert "0 nuevos, 0 actualizados, 16 sin cambios, 0 errores" in out.getvalue()
