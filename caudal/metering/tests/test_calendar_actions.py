"""Calendar actions: generation from the rules, hand edits kept, audit, holidays, command."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caudal.audit.models import AuditEvent
from caudal.cadastre.models import Cycle, UtilitySettings
from caudal.kernel.errors import DomainError
from caudal.metering.calendar_actions import (
    CalendarEditError,
    do_add_holiday,
    do_delete_holiday,
    do_edit_calendar,
    do_generate_calendar,
)
from caudal.metering.models import Holiday, ReadingCalendar

pytestmark = pytest.mark.django_db


@pytest.fixture
def cycles(utility):
    Cycle.objects.create(code="C01", name="Ciclo 1", reading_day=18, billing_day=6, due_days=20)
    Cycle.objects.create(code="C02", name="Ciclo 2", reading_day=8, billing_day=25, due_days=15)


def test_generate_a_year_for_every_cycle(cycles):
    result = do_generate_calendar(year=2027, actor="test")
    assert result.created == 24
    assert ReadingCalendar.objects.count() == 24
    row = ReadingCalendar.objects.get(cycle__code="C01", period="2027-03")
    assert (row.read_from, row.read_to) == (date(2027, 3, 18), date(2027, 3, 24))
    assert row.billing_date == date(2027, 4, 6)
    assert row.months == 1 and not row.edited
    event = AuditEvent.objects.get(action="metering.generate_calendar")
    assert event.after is not None and event.after["created"] == 24
    again = do_generate_calendar(year=2027, actor="test")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 24)
    assert AuditEvent.objects.filter(action="metering.generate_calendar").count() == 1


def test_regeneration_keeps_edited_and_closed_rows_and_uses_holidays(cycles):
    do_generate_calendar(period="2026-12", actor="test")
    c01 = ReadingCalendar.objects.get(cycle__code="C01", period="2026-12")
    do_edit_calendar(c01, changes={"read_to": date(2026, 12, 23)}, actor="test", reason="paro")
    c02 = ReadingCalendar.objects.get(cycle__code="C02", period="2026-12")
    c02.closed = True
    c02.save()
    do_add_holiday(day=date(2026, 12, 18), name="Feriado local", actor="test")
    result = do_generate_calendar(period="2026-12", actor="test")
    assert (result.kept_edited, result.kept_closed, result.updated) == (1, 1, 0)
    c01.refresh_from_db()
    assert c01.read_to == date(2026, 12, 23) and c01.edited
    c01.edited = False
    c01.save()
    do_generate_calendar(period="2026-12", actor="test")
    c01.refresh_from_db()
    assert c01.read_from == date(2026, 12, 19)  # the holiday moved the start


def test_edit_is_audited_and_checked(cycles):
    do_generate_calendar(period="2026-11", actor="test")
    row = ReadingCalendar.objects.get(cycle__code="C01", period="2026-11")
    with pytest.raises(CalendarEditError) as exc:
        do_edit_calendar(row, changes={"critique_from": row.read_from}, actor="test")
    assert set(exc.value.errors) == {"critique_from"}
    assert "lectura hasta" in exc.value.errors["critique_from"]
    row.refresh_from_db()
    assert not row.edited
    do_edit_calendar(row, changes={"due_date": date(2026, 12, 26)}, actor="ana", reason="x")
    row.refresh_from_db()
    assert row.edited and row.due_date == date(2026, 12, 26)
    event = AuditEvent.objects.get(action="metering.edit_calendar")
    assert event.before == {"due_date": "2026-12-28"}
    assert event.after["due_date"] == "2026-12-26"
    assert event.reason == "x"
    # closing alone does not mark the row as edited by hand
    other = ReadingCalendar.objects.get(cycle__code="C02", period="2026-11")
    do_edit_calendar(other, changes={"closed": True}, actor="test")
    other.refresh_from_db()
    assert other.closed and not other.edited
    with pytest.raises(DomainError):
        do_edit_calendar(other, changes={"period": "2026-12"}, actor="test")


def test_bimonthly_alignment_per_cycle(cycles):
    UtilitySettings.objects.filter(pk=1).update(periodicity="bimonthly")
    do_generate_calendar(period="2026-12", cycle="C02", actor="test")  # C02 reads even months
    do_generate_calendar(year=2027, actor="test")
    c01 = sorted(ReadingCalendar.objects.filter(cycle__code="C01").values_list("period", flat=True))
    c02 = sorted(ReadingCalendar.objects.filter(cycle__code="C02").values_list("period", flat=True))
    assert c01 == ["2027-01", "2027-03", "2027-05", "2027-07", "2027-09", "2027-11"]
    assert c02 == ["2026-12", "2027-02", "2027-04", "2027-06", "2027-08", "2027-10", "2027-12"]
    assert set(ReadingCalendar.objects.values_list("months", flat=True)) == {2}
    # one odd period for all cycles only touches the odd-aligned ones
    result = do_generate_calendar(period="2027-03", actor="test")
    assert [r.cycle for r in result.rows] == ["C01"]


def test_bad_input(cycles):
    with pytest.raises(DomainError):
        do_generate_calendar(actor="test")
    with pytest.raises(DomainError):
        do_generate_calendar(period="2026-13", actor="test")
    with pytest.raises(DomainError):
        do_generate_calendar(period="2026-11", cycle="C99", actor="test")


def test_holidays(cycles):
    h = do_add_holiday(day=date(2026, 12, 8), name="Inmaculada Concepción", actor="test")
    with pytest.raises(DomainError):
        do_add_holiday(day=date(2026, 12, 8), name="otra vez", actor="test")
    with pytest.raises(DomainError):
        do_add_holiday(day=date(2026, 12, 9), name=" ", actor="test")
    do_delete_holiday(h, actor="test")
    assert not Holiday.objects.exists()
    assert AuditEvent.objects.filter(action__endswith="_holiday").count() == 2


def test_command(cycles):
    out = io.StringIO()
    call_command("reading_calendar", "--period", "2026-11", stdout=out)
    text = out.getvalue()
    assert "C01      2026-11  2026-11-18 – 2026-11-24" in text
    assert "2 nuevas" in text
    out = io.StringIO()
    call_command("reading_calendar", "--year", "2027", "--dry-run", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["created"] == 24 and data["dry_run"] is True
    assert len(data["rows"]) == 24
    assert ReadingCalendar.objects.count() == 2
    with pytest.raises(CommandError, match="AAAA-MM"):
        call_command("reading_calendar", "--period", "noviembre")
