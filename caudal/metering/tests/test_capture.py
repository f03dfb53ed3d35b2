"""Field capture actions: the reader's routes, assignment, the idempotent sync."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from PIL import Image

from caudal.audit.models import AuditEvent
from caudal.metering import capture
from caudal.metering.models import (
    Reading,
    ReadingCalendar,
    ReadingSource,
    ReadingStatus,
    RouteAssignment,
)

from .field_fixtures import current_period, open_calendar, route_with_accounts, second_route

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(db) -> User:
    return User.objects.create_user("lector1", first_name="Luis", last_name="Mamani")


@pytest.fixture
def field(utility):
    route, accounts = route_with_accounts(3)
    calendar = open_calendar(route.cycle)
    return route, accounts, calendar


def item(account, value=1075, **extra):
    data = {
        "client_uuid": extra.pop("client_uuid", f"uuid-{account.number}-{value}"),
        "period": current_period().code,
        "route": "R01",
        "account": account.number,
        "value": value,
        "observation": "",
        "read_at": timezone.now().isoformat(),
    }
    data.update(extra)
    return data


def test_reader_routes_in_the_window(field, reader):
    _route, _accounts, _cal = field
    entries = capture.reader_routes(reader)
    assert [(e.route_code, e.mode, e.total, e.done) for e in entries] == [("R01", "reading", 3, 0)]
    assert entries[0].period == current_period().code


def test_closed_or_past_window_is_not_listed(field, reader):
    _route, _accounts, cal = field
    cal.read_to = timezone.localdate() - timedelta(days=1)
    cal.save()
    assert capture.reader_routes(reader) == []
    cal.read_to = timezone.localdate() + timedelta(days=1)
    cal.closed = True
    cal.save()
    assert capture.reader_routes(reader) == []


def test_reread_orders_list_the_route_after_the_window(field, reader):
    _route, accounts, cal = field
    cal.read_to = timezone.localdate() - timedelta(days=2)
    cal.save()
    capture.do_sync_readings([item(accounts[0])], actor=reader)
    Reading.objects.filter(account=accounts[0], period=cal.period).update(
        status=ReadingStatus.REREAD
    )
    entries = capture.reader_routes(reader)
    assert [(e.route_code, e.mode, e.rereads) for e in entries] == [("R01", "reread", 1)]


def test_assignment_hides_the_route_from_other_readers(field, reader):
    route, _accounts, cal = field
    other = User.objects.create_user("lector2")
    capture.do_assign_route(period=cal.period, route=route, reader=other, actor="supervisor")
    assert capture.reader_routes(reader) == []
    mine = capture.reader_routes(other)
    assert mine[0].assigned_to_me
    event = AuditEvent.objects.get(action="metering.assign_route")
    assert event.after == {"reader": "lector2"}
    capture.do_assign_route(period=cal.period, route=route, reader=None, actor="supervisor")
    assert not RouteAssignment.objects.exists()
    assert capture.reader_routes(reader)[0].route_code == "R01"


def test_sync_creates_readings_with_previous_value_and_one_audit_event(field, reader):
    _route, accounts, cal = field
    result = capture.do_sync_readings(
        [
            item(accounts[0], 1080, latitude="-12.065113", longitude=-75.204856),
            item(accounts[1], None, observation="dog"),
        ],
        actor=reader,
    )
    assert [i.status for i in result.items] == ["created", "created"]
    first = Reading.objects.get(account=accounts[0], period=cal.period)
    assert first.value == 1080
    assert first.previous_value == 1060  # 1000 + 18 + 20 + 22
    assert first.reader == reader
    assert first.source == ReadingSource.HANDHELD
    assert first.status == ReadingStatus.PENDING
    assert first.route_id == accounts[0].property.route_id
    assert first.meter is not None and first.meter.serial == "MED-R01-0000"
    assert str(first.latitude) == "-12.065113"
    second = Reading.objects.get(account=accounts[1], period=cal.period)
    assert second.value is None and second.observation == "dog"
    events = AuditEvent.objects.filter(action="metering.sync_readings")
    assert events.count() == 1
    assert events[0].after is not None and events[0].after["created"] == 2
    assert events[0].actor == reader


def test_resending_the_same_batch_changes_nothing(field, reader):
    _route, accounts, cal = field
    batch = [item(a, 1070 + i) for i, a in enumerate(accounts)]
    capture.do_sync_readings(batch, actor=reader)
    before = list(
        Reading.objects.filter(period=cal.period).values_list("id", "value", "updated_at")
    )
    again = capture.do_sync_readings(batch, actor=reader)
    assert {i.status for i in again.items} == {"unchanged"}
    after = list(Reading.objects.filter(period=cal.period).values_list("id", "value", "updated_at"))
    assert before == after
    assert AuditEvent.objects.filter(action="metering.sync_readings").count() == 1


def test_a_newer_reading_replaces_and_an_older_one_is_superseded(field, reader):
    _route, accounts, cal = field
    now = timezone.now()
    first = item(accounts[0], 1070, client_uuid="aaaa-0001", read_at=now.isoformat())
    second = item(
        accounts[0],
        1071,
        client_uuid="aaaa-0002",
        read_at=(now + timedelta(minutes=5)).isoformat(),
    )
    assert capture.do_sync_readings([first], actor=reader).items[0].status == "created"
    assert capture.do_sync_readings([second], actor=reader).items[0].status == "updated"
    # the first one arrives again late (a retry): it does not undo the correction
    assert capture.do_sync_readings([first], actor=reader).items[0].status == "superseded"
    row = Reading.objects.get(account=accounts[0], period=cal.period)
    assert (row.value, row.client_uuid) == (1071, "aaaa-0002")
    assert Reading.objects.filter(account=accounts[0], period=cal.period).count() == 1


def test_two_items_for_one_account_in_a_batch(field, reader):
    _route, accounts, cal = field
    now = timezone.now()
    result = capture.do_sync_readings(
        [
            item(accounts[0], 1070, client_uuid="bbbb-0001", read_at=now.isoformat()),
            item(
                accounts[0],
                1072,
                client_uuid="bbbb-0002",
                read_at=(now + timedelta(seconds=30)).isoformat(),
            ),
        ],
        actor=reader,
    )
    assert [i.status for i in result.items] == ["created", "updated"]
    assert Reading.objects.get(account=accounts[0], period=cal.period).value == 1072


def test_a_reading_decided_by_a_critic_is_never_overwritten(field, reader):
    _route, accounts, cal = field
    capture.do_sync_readings([item(accounts[0], 1070)], actor=reader)
    Reading.objects.filter(account=accounts[0], period=cal.period).update(
        status=ReadingStatus.ACCEPTED
    )
    result = capture.do_sync_readings(
        [item(accounts[0], 1090, client_uuid="cccc-0001")], actor=reader
    )
    assert result.items[0].status == "rejected"
    assert "ya fue decidida" in result.items[0].errors["account"]
    assert Reading.objects.get(account=accounts[0], period=cal.period).value == 1070


def test_reread_is_stored_as_reread_and_goes_back_to_pending(field, reader):
    _route, accounts, cal = field
    capture.do_sync_readings([item(accounts[0], 1200)], actor=reader)
    Reading.objects.filter(account=accounts[0], period=cal.period).update(
        status=ReadingStatus.REREAD, flags="high", consumption=140, consumption_rule="actual"
    )
    result = capture.do_sync_readings(
        [item(accounts[0], 1081, client_uuid="dddd-0001")], actor=reader
    )
    assert result.items[0].status == "updated"
    row = Reading.objects.get(account=accounts[0], period=cal.period)
    assert (row.value, row.source, row.status) == (1081, "reread", "pending")
    assert (row.flags, row.consumption, row.consumption_rule) == ("", None, "")


@pytest.mark.parametrize(
    ("change", "field_name", "text"),
    [
        ({"account": "99999999"}, "account", "no existe"),
        ({"route": "R99"}, "route", "no existe"),
        ({"value": -3}, "value", "negativa"),
        ({"value": "12,5"}, "value", "número entero"),
        ({"value": 1234567}, "value", "más dígitos"),
        ({"value": None, "observation": ""}, "value", "observación"),
        ({"observation": "aliens"}, "observation", "desconocido"),
        ({"period": "2026-13"}, "period", "AAAA-MM"),
        ({"read_at": "ayer"}, "read_at", "ISO 8601"),
        ({"client_uuid": ""}, "client_uuid", "identificador"),
        ({"latitude": 95, "longitude": -75}, "latitude", "latitud"),
        ({"latitude": -12.1}, "longitude", "latitud y longitud"),
        ({"photo": "data:text/plain;base64,aGVsbG8="}, "photo", "imagen"),
        ({"photo": "data:image/jpeg;base64,aGVsbG8="}, "photo", "legible"),
    ],
)
def test_bad_items_are_rejected_naming_the_field(field, reader, change, field_name, text):
    _route, accounts, cal = field
    result = capture.do_sync_readings([item(accounts[0]) | change], actor=reader)
    assert result.items[0].status == "rejected"
    assert text in result.items[0].errors[field_name], result.items[0].errors
    assert not Reading.objects.filter(period=cal.period).exists()


def test_account_on_another_route_closed_period_and_other_readers_route(field, reader):
    _route, accounts, cal = field
    other = second_route()
    result = capture.do_sync_readings([item(accounts[0], route=other.code)], actor=reader)
    assert "no está en la ruta R02" in result.items[0].errors["account"]
    cal.closed = True
    cal.save()
    result = capture.do_sync_readings([item(accounts[0])], actor=reader)
    assert "está cerrado" in result.items[0].errors["period"]
    cal.closed = False
    cal.save()
    RouteAssignment.objects.create(
        period=cal.period, route=accounts[0].property.route, reader=User.objects.create_user("x")
    )
    result = capture.do_sync_readings([item(accounts[0])], actor=reader)
    assert "asignada a otro lector" in result.items[0].errors["route"]
    ReadingCalendar.objects.all().delete()
    result = capture.do_sync_readings([item(accounts[0])], actor=reader)
    assert "no hay calendario" in result.items[0].errors["period"]


def test_good_items_are_stored_even_when_others_are_rejected(field, reader):
    _route, accounts, cal = field
    result = capture.do_sync_readings(
        [item(accounts[0]), item(accounts[1], value=-1)], actor=reader
    )
    assert [i.status for i in result.items] == ["created", "rejected"]
    assert result.rejected == 1
    assert Reading.objects.filter(period=cal.period).count() == 1


def test_future_and_too_old_read_at(field, reader):
    _route, accounts, _cal = field
    future = (timezone.now() + timedelta(hours=2)).isoformat()
    result = capture.do_sync_readings([item(accounts[0], read_at=future)], actor=reader)
    assert "futuro" in result.items[0].errors["read_at"]
    old = (timezone.now() - timedelta(days=70)).isoformat()
    result = capture.do_sync_readings([item(accounts[0], read_at=old)], actor=reader)
    assert "anterior al periodo" in result.items[0].errors["read_at"]


def test_batch_errors():
    with pytest.raises(capture.BatchError) as exc:
        capture.do_sync_readings({"a": 1}, actor=User(pk=1))
    assert exc.value.field == "readings"
    with pytest.raises(capture.BatchError):
        capture.do_sync_readings([{}] * (capture.MAX_BATCH + 1), actor=User(pk=1))


def test_photo_is_stored_under_media_root(field, reader, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _route, accounts, cal = field
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(buffer, "JPEG")
    data = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    result = capture.do_sync_readings(
        [item(accounts[0], photo=data, client_uuid="eeee-0001-photo")], actor=reader
    )
    assert result.items[0].status == "created"
    row = Reading.objects.get(account=accounts[0], period=cal.period)
    assert row.photo == f"{cal.period}/{accounts[0].number}-eeee-0001-ph.jpg"
    stored = tmp_path / "readings" / row.photo
    assert stored.read_bytes() == buffer.getvalue()
