"""Report queries: a centre's day, settlements with flags, the commission month, recaudo."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from caudal.cadastre.models import Property, Zone
from caudal.cadastre.testing import make_account
from caudal.collection import actions, reports
from caudal.collection.models import AmountRule, CentreKind, Payment, PaymentStatus
from caudal.collection.settlement import do_close_day, do_register_deposit
from caudal.collection.testing import make_centre
from caudal.kernel.periods import Period

from .test_settlement import at, pay

pytestmark = pytest.mark.django_db


def last_month() -> Period:
    return Period.containing(timezone.localdate()).previous()


@pytest.fixture
def world(utility):  # type: ignore[no-untyped-def]
    return build_world()


def build_world() -> SimpleNamespace:
    """Two zones, three categories, three channels, a month of payments."""
    home = make_account("40010001")
    shop = make_account("40010002", category="commercial")
    school = make_account("40010003", category="state")
    south = Zone.objects.create(
        code="Z02", name="Sur", municipality=Zone.objects.get(code="Z01").municipality
    )
    Property.objects.filter(pk=shop.property_id).update(zone=south)
    office = make_centre("CAJA", kind=CentreKind.OFFICE, amount_rule=AmountRule.ANY)
    car = make_centre("CAR01", amount_rule=AmountRule.ANY, fixed=50, rate="0.01", minimum=80)
    bank = make_centre("BCO", kind=CentreKind.BANK, amount_rule=AmountRule.ANY, fixed=120)
    m = last_month()
    d3, d4, d5 = m.day(3), m.day(4), m.day(5)
    pay(office, home, 4_000, d3)
    pay(car, home, 10_000, d3)
    pay(car, shop, 2_000, d3)
    pay(car, school, 3_333, d4)
    gone = pay(car, shop, 5_000, d4)
    Payment.objects.filter(pk=gone.pk).update(status=PaymentStatus.REVERSED)
    pay(bank, shop, 20_000, d4)
    pay(car, home, 1_000, d5)  # d5 stays open
    s3 = do_close_day(car, d3, actor="sup", now=at(d3, 21))
    s4 = do_close_day(car, d4, actor="sup", now=at(d4, 21))
    late = pay(car, school, 700, d4, hour=22)  # after the close of d4: outside
    pay(car, home, 9_999, m.previous().day(28))  # another month
    return SimpleNamespace(
        home=home,
        shop=shop,
        school=school,
        office=office,
        car=car,
        bank=bank,
        month=m,
        d3=d3,
        d4=d4,
        d5=d5,
        s3=s3,
        s4=s4,
        late=late,
    )


def test_day_detail_of_a_closed_day_with_a_payment_outside(world):
    got = reports.day_detail(world.car, world.d4, limit=2)
    assert got.settlement == world.s4
    assert (got.payments, got.collected) == (2, 3_333 + 700)
    assert (got.reversals, got.reversed_amount) == (1, 5_000)
    assert (got.outside_payments, got.outside_amount) == (1, 700)
    # settled commission (3,333 → 83) + provisional for the one outside (700 → 80)
    assert got.commission == 83 + 80
    assert [(g.key, g.payments, g.amount) for g in got.by_method] == [("cash", 2, 4_033)]
    assert [(g.key, g.payments) for g in got.by_point] == [("—", 2)]
    assert len(got.rows) == 2 and got.next_cursor == got.rows[-1].pk
    rest = reports.day_detail(world.car, world.d4, limit=2, before=got.next_cursor)
    assert len(rest.rows) == 1 and rest.next_cursor is None
    assert {p.pk for p in got.rows + rest.rows} == set(
        Payment.objects.filter(centre=world.car, payment_date=world.d4).values_list("pk", flat=True)
    )


def test_day_detail_of_an_open_day(world):
    got = reports.day_detail(world.car, world.d5)
    assert got.settlement is None
    assert (got.payments, got.collected, got.commission) == (1, 1_000, 80)
    assert got.outside_payments == 1


def test_settlement_flags(world):
    m = world.month
    now = at(m.day(20), 12)
    do_register_deposit(world.s3, amount=11_999, deposited_at=at(world.d4, 9), actor="sup")
    rows, cursor = reports.settlement_rows(now=now)
    assert cursor is None
    by_day = {r.settlement.day: r for r in rows}
    r3, r4 = by_day[world.d3], by_day[world.d4]
    assert (r3.late, r3.difference, r3.outside, r3.pending) == (False, -1, 0, False)
    assert (r4.late, r4.difference, r4.outside, r4.pending) == (True, None, 1, False)
    assert r3.flagged and r4.flagged
    assert [r.settlement.day for r in reports.settlement_rows(flag="late", now=now)[0]] == [
        world.d4
    ]
    assert [r.settlement.day for r in reports.settlement_rows(flag="difference", now=now)[0]] == [
        world.d3
    ]
    assert [r.settlement.day for r in reports.settlement_rows(flag="outside", now=now)[0]] == [
        world.d4
    ]
    assert len(reports.settlement_rows(flag="problem", now=now)[0]) == 2
    # before the deadline of d4 it is pending, not late
    early = reports.settlement_rows(flag="pending", now=at(world.d4, 23))[0]
    assert [r.settlement.day for r in early] == [world.d4]
    one = reports.settlement_flags(world.s4, now=now)
    assert one.late and one.outside == 1


def test_settlement_rows_keyset_and_filters(world):
    first, cursor = reports.settlement_rows(limit=1)
    assert [r.settlement.day for r in first] == [world.d4] and cursor is not None
    second, cursor2 = reports.settlement_rows(limit=1, before=cursor)
    assert [r.settlement.day for r in second] == [world.d3] and cursor2 is None
    assert reports.settlement_rows(centre=world.bank)[0] == []
    assert len(reports.settlement_rows(date_from=world.d4, date_to=world.d4)[0]) == 1


def test_settlement_rows_query_count_does_not_grow(world):
    for n in range(6, 12):
        pay(world.car, world.home, 100 * n, world.month.day(n))
        do_close_day(world.car, world.month.day(n), actor="s")
    with CaptureQueriesContext(connection) as ctx:
        rows, _c = reports.settlement_rows()
    assert len(rows) == 8
    assert len(ctx.captured_queries) == 1


def test_pending_deposits_and_today(world):
    pending = reports.pending_deposits(now=at(world.month.day(20)))
    assert (pending.count, pending.amount, pending.late) == (2, 12_000 + 3_333, 2)
    today = timezone.localdate()
    pay(world.car, world.home, 2_500, today)
    p = pay(world.car, world.home, 500, today)
    actions.do_reverse_payment(p.pk, reason="error", actor="c")
    rows = {r.code: r for r in reports.today_by_centre()}
    assert set(rows) == {"BCO", "CAJA", "CAR01"}
    car = rows["CAR01"]
    assert (car.payments, car.collected, car.reversals, car.reversed_amount, car.closed) == (
        1,
        2_500,
        1,
        500,
        False,
    )
    assert rows["BCO"].payments == 0


def test_commission_report_month(world):
    r = reports.commission_report(world.car, world.month)
    assert [
        (d.day, d.payments, d.collected, d.reversals, d.commission, d.provisional) for d in r.rows
    ] == [
        (world.d3, 2, 12_000, 0, 150 + 80, False),
        (world.d4, 2, 4_033, 1, 83 + 80, True),  # 700 posted after the close
        (world.d5, 1, 1_000, 0, 80, True),  # not closed yet
    ]
    assert r.rows[0].status == "closed" and r.rows[2].status == "open"
    assert r.rows[2].status_label == "Sin liquidar"
    assert (r.payments, r.collected, r.reversals, r.commission) == (5, 17_033, 1, 473)
    assert r.provisional_days == 2
    assert r.terms_text == "S/ 0.50 por pago + 1 % del importe; mínimo S/ 0.80 por pago"
    assert r.approver == "Departamento de Facturación y Cobranzas"
    assert reports.month_label(Period(2026, 3)) == "Marzo 2026"


def test_commission_report_uses_the_commission_frozen_at_close(world):
    world.car.commission_fixed = 0
    world.car.commission_minimum = 0
    world.car.save()
    r = reports.commission_report(world.car, world.month.code)
    # d3 was settled with the old terms: its commission stays; d5 is provisional (new terms)
    assert r.rows[0].commission == 230
    assert r.rows[2].commission == 10  # 1 % of 1,000


def test_active_centres(world):
    assert [c.code for c in reports.active_centres(world.month)] == ["BCO", "CAJA", "CAR01"]
    assert [c.code for c in reports.active_centres(world.month.previous())] == ["CAR01"]


def test_recaudo_daily_by_each_dimension(world):
    m = world.month
    by_channel = reports.recaudo(m.start, m.end, "channel")
    assert by_channel.to_dicts() == [
        {"day": world.d3, "key": "car", "label": "Centros autorizados (CAR)", "payments": 2, "amount": 12_000},
        {"day": world.d3, "key": "office", "label": "Caja propia", "payments": 1, "amount": 4_000},
        {"day": world.d4, "key": "bank", "label": "Bancos", "payments": 1, "amount": 20_000},
        {"day": world.d4, "key": "car", "label": "Centros autorizados (CAR)", "payments": 2, "amount": 4_033},
        {"day": world.d5, "key": "car", "label": "Centros autorizados (CAR)", "payments": 1, "amount": 1_000},
    ]  # fmt: skip
    zone = reports.by_group(reports.recaudo(m.start, m.end, "zone"))
    assert [(r["key"], r["label"], r["payments"], r["amount"]) for r in zone.iter_rows(named=True)] == [
        ("Z02", "Z02 Sur", 2, 22_000),
        ("Z01", "Z01 Zona 1", 5, 19_033),
    ]  # fmt: skip
    assert round(sum(zone["share"]), 6) == 100
    category = reports.by_group(reports.recaudo(m.start, m.end, "category"))
    assert dict(zip(category["label"], category["amount"], strict=True)) == {
        "Comercial": 22_000,
        "Doméstico": 15_000,
        "Estatal": 4_033,
    }
    centre = reports.by_group(reports.recaudo(m.start, m.end, "centre"))
    assert dict(zip(centre["key"], centre["amount"], strict=True)) == {
        "BCO": 20_000,
        "CAR01": 17_033,
        "CAJA": 4_000,
    }


def test_recaudo_filters_month_and_days(world):
    m = world.month
    only_car = reports.recaudo(m.start, m.end, "zone", centre=world.car)
    assert int(only_car["amount"].sum()) == 17_033
    banks = reports.recaudo(m.start, m.end, "centre", kind="bank")
    assert banks["key"].to_list() == ["BCO"]
    wide = reports.recaudo(m.previous().start, m.end, "channel")
    monthly = reports.by_month(wide)
    assert [(r["month"], r["key"], r["amount"]) for r in monthly.iter_rows(named=True)] == [
        (m.previous().code, "car", 9_999),
        (m.code, "bank", 20_000),
        (m.code, "car", 17_033),
        (m.code, "office", 4_000),
    ]
    days = reports.by_day(reports.recaudo(m.start, m.end, "channel"))
    assert days.rows() == [(world.d3, 3, 16_000), (world.d4, 3, 24_033), (world.d5, 1, 1_000)]
    pivot = reports.pivot_days(
        reports.recaudo(m.start, m.end, "channel"), ["bank", "car", "office"]
    )
    assert pivot == [
        (world.d3, [0, 12_000, 4_000], 16_000),
        (world.d4, [20_000, 4_033, 0], 24_033),
        (world.d5, [0, 1_000, 0], 1_000),
    ]


def test_recaudo_is_grouped_by_the_database(world):
    with CaptureQueriesContext(connection) as ctx:
        reports.recaudo(world.month.start, world.month.end, "zone")
    assert len(ctx.captured_queries) == 1
    sql = ctx.captured_queries[0]["sql"].upper()
    assert "GROUP BY" in sql and "SUM(" in sql


def test_recaudo_bad_parameters(db):
    today = timezone.localdate()
    with pytest.raises(reports.ReportError, match="Agrupación desconocida"):
        reports.recaudo(today, today, "route")
    with pytest.raises(reports.ReportError, match="posterior"):
        reports.recaudo(today, today - timedelta(days=1), "zone")
    with pytest.raises(reports.ReportError, match="400 días"):
        reports.recaudo(date(2020, 1, 1), date(2022, 1, 1), "zone")


def test_recaudo_month_sections(world):
    r = reports.recaudo_month(world.month)
    assert (r.payments, r.amount) == (7, 41_033)
    assert set(r.groups) == {"channel", "centre", "zone", "category"}
    for frame in r.groups.values():
        assert int(frame["amount"].sum()) == 41_033
    assert r.days.height == 3
