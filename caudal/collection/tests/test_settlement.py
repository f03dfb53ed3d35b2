"""Daily settlement: closing days (one or every centre's past days), deposits, statuses."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from caudal.audit.models import AuditEvent
from caudal.collection import actions, errors, rules
from caudal.collection.models import AmountRule, DailySettlement, Payment, SettlementStatus
from caudal.collection.settlement import (
    close_due_days,
    commission_expression,
    do_close_day,
    do_register_deposit,
    refresh_overdue,
)
from caudal.collection.testing import make_centre

pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 11, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def pay(centre, account, amount: int, day: date, *, hour: int = 11, key: str = "") -> Payment:  # type: ignore[no-untyped-def]
    """A payment ``centre`` collected on ``day`` (the centre takes any amount)."""
    return actions.do_post_centre_payment(
        centre=centre,
        reference=account.number,
        amount=amount,
        idempotency_key=key,
        received_at=at(day, hour),
        actor=centre.code,
    ).payment


@pytest.fixture
def car(db):  # type: ignore[no-untyped-def]
    return make_centre("CAR01", amount_rule=AmountRule.ANY, fixed=50, rate="0.01", minimum=80)


def test_close_day_totals_commission_deadline_and_audit(account, car):
    day = timezone.localdate() - timedelta(days=3)
    for amount in (10_000, 2_000, 3_333):
        pay(car, account, amount, day)
    gone = pay(car, account, 700, day)
    Payment.objects.filter(pk=gone.pk).update(status="reversed")  # reversed the same day
    pay(car, account, 999, day - timedelta(days=1))  # another day: not in this settlement

    s = do_close_day(car, day, actor="sup")

    # 10,000 → 50 + 100 = 150; 2,000 → 50 + 20 = 70 → minimum 80; 3,333 → 50 + 33 = 83
    assert (s.payments, s.collected, s.commission) == (3, 15_333, 150 + 80 + 83)
    assert (s.reversals, s.reversed_amount) == (1, 700)
    assert s.expected_deposit == 15_333  # commission not deducted
    assert timezone.localtime(s.deposit_due_at).replace(tzinfo=None) == datetime.combine(
        day + timedelta(days=1), time(10, 30)
    )
    assert s.status == SettlementStatus.LATE  # closed three days later: deadline passed
    assert Payment.objects.filter(settlement=s).count() == 4
    assert Payment.objects.filter(settlement__isnull=True).count() == 1
    event = AuditEvent.objects.get(action="collection.close_day")
    assert (event.after or {})["terms"] == {
        "fixed": 50,
        "rate": "0.01000",
        "minimum": 80,
        "deducted": False,
    }
    assert event.actor_label == "sup"


def test_deducted_commission_lowers_the_expected_deposit(account):
    centre = make_centre("BCO", amount_rule=AmountRule.ANY, fixed=100, deducted=True)
    today = timezone.localdate()
    pay(centre, account, 5_000, today)
    pay(centre, account, 5_000, today)
    s = do_close_day(centre, today, actor="sup")
    assert (s.commission, s.expected_deposit, s.status) == (200, 9_800, SettlementStatus.CLOSED)


def test_a_day_with_nothing_to_deposit_is_settled_at_once(car):
    s = do_close_day(car, timezone.localdate(), actor="sup")
    assert (s.payments, s.expected_deposit, s.status, s.deposited_amount) == (
        0,
        0,
        SettlementStatus.DEPOSITED,
        0,
    )
    assert refresh_overdue(now=timezone.now() + timedelta(days=5)) == 0


def test_future_day_and_second_close_are_refused(car):
    with pytest.raises(errors.PaymentRefused) as exc:
        do_close_day(car, timezone.localdate() + timedelta(days=1), actor="sup")
    assert exc.value.code == errors.INVALID
    do_close_day(car, timezone.localdate(), actor="sup")
    with pytest.raises(errors.PaymentRefused) as exc:
        do_close_day(car, timezone.localdate(), actor="sup")
    assert exc.value.code == errors.DAY_CLOSED and exc.value.status == 409


@pytest.mark.parametrize(
    ("amount", "when", "status"),
    [
        (10_000, time(9, 0), SettlementStatus.DEPOSITED),
        (10_000, time(11, 0), SettlementStatus.LATE),
        (9_990, time(9, 0), SettlementStatus.DIFFERENCE),
        (10_010, time(11, 0), SettlementStatus.DIFFERENCE),
    ],
)
def test_deposit_status(account, car, amount, when, status):
    day = timezone.localdate() - timedelta(days=5)
    pay(car, account, 10_000, day)
    s = do_close_day(car, day, actor="sup", now=at(day, 20))
    assert s.status == SettlementStatus.CLOSED
    got = do_register_deposit(
        s,
        amount=amount,
        deposited_at=at(day + timedelta(days=1), when.hour, when.minute),
        reference="OP-778812",
        actor="sup",
    )
    assert got.status == status
    assert got.deposit_reference == "OP-778812"
    event = AuditEvent.objects.get(action="collection.register_deposit")
    assert (event.before or {})["status"] == SettlementStatus.CLOSED
    assert (event.after or {})["difference"] == amount - 10_000


def test_deposit_is_validated_and_can_be_corrected(account, car):
    day = timezone.localdate() - timedelta(days=2)
    pay(car, account, 4_000, day)
    s = do_close_day(car, day, actor="sup")
    with pytest.raises(errors.PaymentRefused, match="negativo"):
        do_register_deposit(s, amount=-1, deposited_at=at(day, 20), actor="sup")
    with pytest.raises(errors.PaymentRefused, match="anterior al día"):
        do_register_deposit(s, amount=4_000, deposited_at=at(day - timedelta(days=1)), actor="sup")
    first = do_register_deposit(s, amount=3_000, deposited_at=at(day, 20), actor="sup")
    assert first.status == SettlementStatus.DIFFERENCE
    fixed = do_register_deposit(s, amount=4_000, deposited_at=at(day, 20), actor="sup2")
    assert fixed.status == SettlementStatus.DEPOSITED
    events = list(AuditEvent.objects.filter(action="collection.register_deposit").order_by("pk"))
    assert (events[-1].before or {})["deposited_amount"] == 3_000


def test_refresh_overdue_marks_only_undeposited_past_deadline(account, car):
    today = timezone.localdate()
    d1, d2 = today - timedelta(days=4), today - timedelta(days=3)
    pay(car, account, 1_000, d1)
    pay(car, account, 2_000, d2)
    s1 = do_close_day(car, d1, actor="s", now=at(d1, 21))
    s2 = do_close_day(car, d2, actor="s", now=at(d2, 21))
    do_register_deposit(s2, amount=2_000, deposited_at=at(d2 + timedelta(days=1), 9), actor="s")
    assert refresh_overdue(now=at(d1 + timedelta(days=1), 10)) == 0  # before 10:30
    assert refresh_overdue(now=at(d1 + timedelta(days=1), 10, 31)) == 1
    s1.refresh_from_db()
    s2.refresh_from_db()
    assert (s1.status, s2.status) == (SettlementStatus.LATE, SettlementStatus.DEPOSITED)


def test_close_due_days_closes_every_centre_past_day_once(account, car):
    other = make_centre("BCO02", amount_rule=AmountRule.ANY)
    today = timezone.localdate()
    d1, d2 = today - timedelta(days=2), today - timedelta(days=1)
    pay(car, account, 1_000, d1)
    pay(car, account, 1_500, d2)
    pay(other, account, 2_500, d2)
    pay(car, account, 9_000, today)  # today stays open
    do_close_day(other, d2, actor="bank")  # closed by the bank itself
    late = pay(other, account, 100, d2, hour=23)  # posted after its close

    result = close_due_days(actor="cron")

    closed = sorted((s.centre.code, s.day) for s in result.closed)
    assert closed == [("CAR01", d1), ("CAR01", d2)]
    assert result.outside == [("BCO02", d2, 1)]
    assert not Payment.objects.filter(payment_date__lt=today, settlement__isnull=True).exclude(
        pk=late.pk
    )
    assert Payment.objects.get(payment_date=today).settlement is None
    again = close_due_days(actor="cron")
    assert again.closed == [] and again.outside == [("BCO02", d2, 1)]


def test_close_due_days_for_one_date_includes_today(account, car):
    today = timezone.localdate()
    pay(car, account, 1_000, today)
    pay(car, account, 1_000, today - timedelta(days=1))
    result = close_due_days(day=today, actor="sup")
    assert [(s.centre.code, s.day) for s in result.closed] == [("CAR01", today)]
    assert DailySettlement.objects.count() == 1


def test_close_days_command(account, car):
    yesterday = timezone.localdate() - timedelta(days=1)
    pay(car, account, 1_234, yesterday)
    out = StringIO()
    call_command("close_days", "--json", stdout=out)
    got = json.loads(out.getvalue())
    assert got["closed"][0]["centre"] == "CAR01"
    assert got["closed"][0]["collected"] == 1_234
    assert got["closed"][0]["commission"] == 80
    out = StringIO()
    call_command("close_days", stdout=out)
    assert "0 días liquidados" in out.getvalue()


def test_close_days_command_rejects_bad_date(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="AAAA-MM-DD"):
        call_command("close_days", "--date", "31/12/2025")
    with pytest.raises(CommandError, match="futuro"):
        call_command("close_days", "--date", (timezone.localdate() + timedelta(days=2)).isoformat())


@pytest.mark.parametrize(
    ("fixed", "rate", "minimum"),
    [(0, "0", 0), (50, "0.01", 80), (0, "0.01234", 0), (120, "0.00500", 300), (0, "0.99999", 0)],
)
def test_sql_commission_is_the_rule(account, fixed, rate, minimum):
    """The database computes the same commission as ``rules.commission`` (half up)."""
    centre = make_centre(f"T{fixed}{minimum}", amount_rule=AmountRule.ANY)
    amounts = [1, 49, 50, 51, 149, 150, 151, 4_999, 5_000, 5_001, 12_345, 123_456_789]
    day = timezone.localdate()
    for a in amounts:
        pay(centre, account, a, day)
    t = rules.CommissionTerms(fixed=fixed, rate=Decimal(rate), minimum=minimum)
    got = dict(
        Payment.objects.filter(centre=centre)
        .annotate(c=commission_expression(t))
        .values_list("amount", "c")
    )
    assert got == {a: rules.commission(a, t) for a in amounts}


def test_commission_expression_refuses_more_than_five_decimals():
    with pytest.raises(ValueError, match="5 decimal"):
        commission_expression(rules.CommissionTerms(rate=Decimal("0.000001")))
