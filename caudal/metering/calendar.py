"""Reading calendar rules: the dates of one cycle's period, computed from plain settings.

Pure functions, no Django (the actions in ``calendar_actions`` load the settings and write
``ReadingCalendar`` rows). The rules follow the SEDACUSCO monthly cycle of the seeds
("actualización dinámica catastral"): readings on days 18–23, critique 24–30, final
review in the first days of the next month, bills issued on the 6th.

For a period ``P`` (one month, or two for bimonthly utilities such as EAAB) and a cycle
with ``reading_day``, ``billing_day`` and ``due_days``:

- **reading window**: starts on ``reading_day`` of the period's *last* month (moved to the
  next working day) and lasts ``reading_days`` working days (6: 18–23 when no Sunday or
  holiday falls inside, longer when one does). Bimonthly periods are read once, in their
  second month, so consecutive readings of a cycle are 59–62 days apart.
- **critique window**: from the working day after the reading window for
  ``critique_days`` calendar days (7: 24–30), ending on a working day, and never later than
  ``review_days`` days before the billing date (the final review).
- **billing date**: ``billing_day`` of the month after the period, moved to the next
  working day, and never earlier than the day after the critique window.
- **due date**: ``due_days`` calendar days after the billing date, moved to the next
  working day (a bill never falls due on a Sunday or holiday).
- **cut-warning date**: ``cut_warning_days`` calendar days after the due date (the utility's
  grace days; the day from which an unpaid bill may be cut), moved to the next working day.

Working days are Monday to Saturday (field crews work Saturdays in Peru and Colombia)
minus the holidays given; ``skip_sundays=False`` counts Sundays as working days too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from caudal.kernel.periods import Period

SUNDAY = 6
DATE_FIELDS = (
    "read_from",
    "read_to",
    "critique_from",
    "critique_to",
    "billing_date",
    "due_date",
    "cut_warning_date",
)


@dataclass(frozen=True)
class CalendarRules:
    """How the windows are laid out. The defaults are the seeds' SEDACUSCO cycle."""

    reading_days: int = 6
    critique_days: int = 7
    review_days: int = 1
    cut_warning_days: int = 0
    skip_sundays: bool = True
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.reading_days < 1 or self.critique_days < 1:
            raise ValueError("reading_days and critique_days must be at least 1")
        if self.review_days < 0 or self.cut_warning_days < 0:
            raise ValueError("review_days and cut_warning_days cannot be negative")


@dataclass(frozen=True)
class CycleSettings:
    """The part of a ``cadastre.Cycle`` the rules read."""

    code: str
    reading_day: int = 18
    billing_day: int = 6
    due_days: int = 20


@dataclass(frozen=True)
class CycleDates:
    """The computed dates of one cycle's period (the columns of ``ReadingCalendar``)."""

    cycle: str
    period: str
    months: int
    read_from: date
    read_to: date
    critique_from: date
    critique_to: date
    billing_date: date
    due_date: date
    cut_warning_date: date

    def as_dict(self) -> dict[str, object]:
        return {
            "cycle": self.cycle,
            "period": self.period,
            "months": self.months,
            **{name: getattr(self, name).isoformat() for name in DATE_FIELDS},
        }

    def dates(self) -> dict[str, date]:
        return {name: getattr(self, name) for name in DATE_FIELDS}


def is_working_day(day: date, rules: CalendarRules) -> bool:
    if rules.skip_sundays and day.weekday() == SUNDAY:
        return False
    return day not in rules.holidays


def next_working_day(day: date, rules: CalendarRules) -> date:
    """``day`` itself when it is a working day, else the next one."""
    while not is_working_day(day, rules):
        day += timedelta(days=1)
    return day


def previous_working_day(day: date, rules: CalendarRules) -> date:
    while not is_working_day(day, rules):
        day -= timedelta(days=1)
    return day


def add_working_days(start: date, count: int, rules: CalendarRules) -> date:
    """The ``count``-th working day counting ``start`` (a working day) as the first."""
    day = start
    left = count - 1
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day, rules):
            left -= 1
    return day


def cycle_dates(period: Period, cycle: CycleSettings, rules: CalendarRules) -> CycleDates:
    """The dates of ``cycle`` in ``period`` (see the module docstring for each rule).

    The result is always ordered: read_from ≤ read_to < critique_from ≤ critique_to <
    billing_date ≤ due_date ≤ cut_warning_date.
    """
    last_month = period.months - 1
    read_from = next_working_day(period.day(cycle.reading_day, month_offset=last_month), rules)
    read_to = add_working_days(read_from, rules.reading_days, rules)
    critique_from = next_working_day(read_to + timedelta(days=1), rules)
    billing = next_working_day(period.day(cycle.billing_day, month_offset=period.months), rules)
    critique_end = critique_from + timedelta(days=rules.critique_days - 1)
    latest_end = billing - timedelta(days=rules.review_days + 1)
    critique_to = previous_working_day(min(critique_end, latest_end), rules)
    critique_to = max(critique_to, critique_from)
    billing = max(billing, next_working_day(critique_to + timedelta(days=1), rules))
    due = next_working_day(billing + timedelta(days=max(cycle.due_days, 0)), rules)
    cut = next_working_day(due + timedelta(days=rules.cut_warning_days), rules)
    return CycleDates(
        cycle=cycle.code,
        period=period.code,
        months=period.months,
        read_from=read_from,
        read_to=read_to,
        critique_from=critique_from,
        critique_to=critique_to,
        billing_date=billing,
        due_date=due,
        cut_warning_date=cut,
    )


def periods_of_year(year: int, months: int, *, odd: bool = True) -> list[Period]:
    """The periods of a cycle that start in ``year``: twelve monthly ones, or six
    bimonthly ones starting in odd months (``odd``) or in even months."""
    if months == 1:
        return [Period(year, m, 1) for m in range(1, 13)]
    first = 1 if odd else 2
    return [Period(year, m, 2) for m in range(first, 13, 2)]


def check_order(dates: Mapping[str, date | None]) -> dict[str, str]:
    """Why a set of edited dates is inconsistent: ``{field: reason}`` (empty when fine).

    The reasons are plain English keys for the caller to translate; each names the field
    that breaks the order with the one before it.
    """
    errors: dict[str, str] = {}
    for name in DATE_FIELDS:
        if dates.get(name) is None:
            errors[name] = "missing"
    if errors:
        return errors
    pairs = [
        ("read_from", "read_to", False),
        ("read_to", "critique_from", True),
        ("critique_from", "critique_to", False),
        ("critique_to", "billing_date", True),
        ("billing_date", "due_date", False),
        ("due_date", "cut_warning_date", False),
    ]
    for before, after, strict in pairs:
        a, b = dates[before], dates[after]
        assert a is not None and b is not None
        if (b <= a) if strict else (b < a):
            errors[after] = f"before:{before}"
    return errors


def contains(dates: CycleDates, day: date) -> bool:
    """Whether ``day`` falls in the reading window."""
    return dates.read_from <= day <= dates.read_to


def month_grid(year: int, month: int) -> list[list[date]]:
    """The weeks (Monday first) that cover a month, for the calendar page."""
    first = date(year, month, 1)
    start = first - timedelta(days=first.weekday())
    last = Period(year, month).end
    end = last + timedelta(days=6 - last.weekday())
    weeks: list[list[date]] = []
    day = start
    while day <= end:
        weeks.append([day + timedelta(days=i) for i in range(7)])
        day += timedelta(days=7)
    return weeks


def window_days(
    rows: Iterable[CycleDates], days: Collection[date]
) -> dict[date, list[tuple[str, str]]]:
    """For each day, the (cycle, event) pairs that fall on it: ``read``, ``critique``,
    ``billing``, ``due`` or ``cut``. Used by the month grid."""
    wanted = set(days)
    out: dict[date, list[tuple[str, str]]] = {d: [] for d in wanted}
    for row in rows:
        spans = [
            ("read", row.read_from, row.read_to),
            ("critique", row.critique_from, row.critique_to),
            ("billing", row.billing_date, row.billing_date),
            ("due", row.due_date, row.due_date),
            ("cut", row.cut_warning_date, row.cut_warning_date),
        ]
        for event, start, end in spans:
            day = start
            while day <= end:
                if day in wanted:
                    out[day].append((row.cycle, event))
                day += timedelta(days=1)
    return out


__all__ = [
    "DATE_FIELDS",
    "CalendarRules",
    "CycleDates",
    "CycleSettings",
    "add_working_days",
    "check_order",
    "contains",
    "cycle_dates",
    "is_working_day",
    "month_grid",
    "next_working_day",
    "periods_of_year",
    "window_days",
]
