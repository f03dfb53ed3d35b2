"""Builders shared by the field-capture tests (calendar, capture, import, sheets, web)."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from caudal.cadastre.models import Account, Cycle, Meter, Route, Sector
from caudal.cadastre.testing import make_account, make_route
from caudal.kernel.periods import Period
from caudal.metering.models import Reading, ReadingCalendar, ReadingSource, ReadingStatus

#: Past consumptions of the accounts built by ``route_with_accounts`` (oldest first).
HISTORY = [18, 20, 22]


def current_period() -> Period:
    return Period.containing(timezone.localdate())


def open_calendar(cycle: Cycle, period: Period | None = None, **extra: object) -> ReadingCalendar:
    """A calendar row whose reading window contains today."""
    period = period or current_period()
    today = timezone.localdate()
    values: dict[str, object] = {
        "months": period.months,
        "read_from": today - timedelta(days=2),
        "read_to": today + timedelta(days=3),
        "critique_from": today + timedelta(days=4),
        "critique_to": today + timedelta(days=8),
        "billing_date": today + timedelta(days=12),
        "due_date": today + timedelta(days=30),
        "cut_warning_date": today + timedelta(days=35),
        **extra,
    }
    row, _ = ReadingCalendar.objects.update_or_create(
        cycle=cycle, period=period.code, defaults=values
    )
    return row


def route_with_accounts(
    n: int = 3, *, route_code: str = "R01", history: bool = True, digits: int = 5
) -> tuple[Route, list[Account]]:
    """``n`` metered accounts on ``route_code`` (sequence 10, 20, …) with three months of
    readings before the current period (consumptions 18, 20, 22 m³)."""
    route = make_route(route_code)
    accounts: list[Account] = []
    for i in range(n):
        account = make_account(
            f"{route_code[-2:]}{700000 + i:06d}",
            name=f"Cliente {i + 1} Quispe",
            address=f"Jr. Los Andes {100 + i * 10}",
        )
        prop = account.property
        prop.route = route
        prop.sequence = (i + 1) * 10
        prop.save()
        Meter.objects.create(
            account=account,
            serial=f"MED-{route_code}-{i:04d}",
            digits=digits,
            installed_on=date(2020, 1, 1),
        )
        accounts.append(account)
    if history:
        period = current_period()
        for account in accounts:
            value = 1000
            for k, consumption in zip(range(3, 0, -1), HISTORY, strict=True):
                previous = value
                value += consumption
                Reading.objects.create(
                    account=account,
                    period=period.shift(-k).code,
                    route=route,
                    previous_value=previous,
                    value=value,
                    consumption=consumption,
                    consumption_rule="actual",
                    status=ReadingStatus.ACCEPTED,
                    source=ReadingSource.HANDHELD,
                    read_at=timezone.now() - timedelta(days=30 * k),
                )
    return route, accounts


def second_route(code: str = "R02") -> Route:
    """Another route in the same sector and cycle as R01."""
    first = make_route()
    route, _ = Route.objects.get_or_create(
        code=code, defaults={"sector": Sector.objects.get(pk=first.sector_id), "cycle": first.cycle}
    )
    return route
