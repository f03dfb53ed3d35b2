"""Builders for the critique tests (run, actions, page): metered accounts with history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from caudal.cadastre.models import Account, ConnectionStatus, Meter, Segment, Service, UseCategory
from caudal.cadastre.testing import make_account
from caudal.kernel.periods import Period
from caudal.metering.models import Reading, ReadingStatus

PERIOD = "2026-07"


def metered_account(
    number: str,
    *,
    category: str = UseCategory.DOMESTIC,
    segment: str = Segment.REGULAR,
    digits: int = 5,
    water: str = ConnectionStatus.ACTIVE,
    meter: bool = True,
) -> Account:
    account = make_account(number, category=category, segment=segment)
    if water != ConnectionStatus.ACTIVE:
        account.connections.filter(service=Service.WATER).update(status=water)
    if meter:
        Meter.objects.create(
            account=account, serial=f"M{number}", digits=digits, installed_on=date(2020, 1, 1)
        )
    return account


def current_meter(account: Account) -> Meter:
    meter = Meter.objects.filter(account=account, removed_on__isnull=True).first()
    assert meter is not None
    return meter


def prev(reading: Reading) -> int:
    """The reading's previous value (set by the critique run)."""
    assert reading.previous_value is not None
    return reading.previous_value


def jsonmap(value: object) -> dict[str, Any]:
    """An audit event's ``before``/``after`` JSON as a dict."""
    assert isinstance(value, dict)
    return value


def history(
    account: Account,
    consumptions: Sequence[int | None],
    *,
    period: str = PERIOD,
    start: int = 1000,
    status: str = ReadingStatus.OK,
) -> int:
    """Readings of the periods before ``period``, oldest first: a number is a read period
    billed by difference, None an unread period billed at 10 m³ by average. Returns the
    last reading value."""
    p = Period.parse(period)
    meter = Meter.objects.filter(account=account, removed_on__isnull=True).first()
    value = start
    n = len(consumptions)
    for k, consumption in enumerate(consumptions):
        code = p.shift(k - n).code
        if consumption is None:
            Reading.objects.create(
                account=account,
                period=code,
                route=account.property.route,
                meter=meter,
                previous_value=value,
                value=None,
                observation="no_access",
                status=status,
                consumption=10,
                consumption_rule="average",
            )
            continue
        previous = value
        value += consumption
        Reading.objects.create(
            account=account,
            period=code,
            route=account.property.route,
            meter=meter,
            previous_value=previous,
            value=value,
            status=status,
            consumption=consumption,
            consumption_rule="actual",
        )
    return value


def read(
    account: Account,
    value: int | None,
    *,
    period: str = PERIOD,
    observation: str = "",
    previous_value: int | None = None,
    status: str = ReadingStatus.PENDING,
) -> Reading:
    return Reading.objects.create(
        account=account,
        period=period,
        route=account.property.route,
        meter=Meter.objects.filter(account=account, removed_on__isnull=True).first(),
        value=value,
        previous_value=previous_value,
        observation=observation,
        status=status,
    )
