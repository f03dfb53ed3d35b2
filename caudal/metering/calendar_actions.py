"""Writing the reading calendar: generate it from the rules, edit one row, keep holidays.

Every function here is an action: atomic, keyword-only ``actor``, audited. Generation
never overwrites a row edited by hand (``edited=True``) nor a closed one; it reports
them as kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, record
from caudal.cadastre.models import Cycle, UtilitySettings
from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period

from . import calendar as rules
from .models import Holiday, ReadingCalendar


def utility_months() -> int:
    """1 for monthly utilities, 2 for bimonthly ones."""
    return 2 if UtilitySettings.current().periodicity == "bimonthly" else 1


def calendar_rules(*, start: date | None = None, end: date | None = None) -> rules.CalendarRules:
    """The rules with the utility's grace days and the holidays stored (between
    ``start`` and ``end`` when given)."""
    holidays = Holiday.objects.all()
    if start is not None:
        holidays = holidays.filter(date__gte=start)
    if end is not None:
        holidays = holidays.filter(date__lte=end)
    return rules.CalendarRules(
        cut_warning_days=UtilitySettings.current().grace_days,
        holidays=frozenset(holidays.values_list("date", flat=True)),
    )


def cycle_settings(cycle: Cycle) -> rules.CycleSettings:
    return rules.CycleSettings(
        code=cycle.code,
        reading_day=cycle.reading_day,
        billing_day=cycle.billing_day,
        due_days=cycle.due_days,
    )


def parse_period(code: str) -> Period:
    """A period code in the utility's periodicity; DomainError (Spanish) when malformed."""
    try:
        return Period.parse(code, months=utility_months())
    except ValueError as exc:
        raise DomainError(str(exc)) from exc


def cycle_alignment() -> dict[int, bool]:
    """Bimonthly: whether each cycle's periods start in odd months, read from its latest
    calendar row (cycles without rows start in odd months)."""
    latest: dict[int, str] = {}
    for cycle_id, period in ReadingCalendar.objects.values_list("cycle_id", "period"):
        if period > latest.get(cycle_id, ""):
            latest[cycle_id] = period
    return {cycle_id: int(code[5:7]) % 2 == 1 for cycle_id, code in latest.items()}


@dataclass
class GenerateResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_edited: int = 0
    kept_closed: int = 0
    skipped_alignment: int = 0
    rows: list[rules.CycleDates] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "kept_edited": self.kept_edited,
            "kept_closed": self.kept_closed,
            "skipped_alignment": self.skipped_alignment,
            "rows": [r.as_dict() for r in self.rows],
        }


def plan_calendar(
    *, period: str | None = None, year: int | None = None, cycle: str | None = None
) -> list[tuple[Cycle, rules.CycleDates]]:
    """The rows the rules give for one period or a whole year, for every cycle (or one).

    Bimonthly: a year gives each cycle the six periods of its alignment; one period is
    given only to the cycles aligned with it, unless ``cycle`` names one (which sets that
    cycle's alignment).
    """
    if (period is None) == (year is None):
        raise DomainError(_("indique un periodo o un año"))
    months = utility_months()
    cycles = list(Cycle.objects.order_by("code"))
    if cycle is not None:
        cycles = [c for c in cycles if c.code == cycle]
        if not cycles:
            raise DomainError(_("no existe el ciclo %(cycle)s") % {"cycle": cycle})
    aligned = cycle_alignment() if months == 2 else {}
    if period is not None:
        wanted = parse_period(period)
        span_start, span_end = wanted.start, wanted.next().next().end
    else:
        assert year is not None
        if not 1900 <= year <= 2999:
            raise DomainError(_("año fuera de rango: %(year)s") % {"year": year})
        span_start, span_end = date(year, 1, 1), date(year + 1, 3, 31)
    calendar_rules_ = calendar_rules(start=span_start, end=span_end)
    planned: list[tuple[Cycle, rules.CycleDates]] = []
    for c in cycles:
        odd = aligned.get(c.pk, True)
        if period is not None:
            p = parse_period(period)
            if months == 2 and cycle is None and (p.month % 2 == 1) != odd:
                continue
            periods = [p]
        else:
            assert year is not None
            periods = rules.periods_of_year(year, months, odd=odd)
        settings = cycle_settings(c)
        planned.extend((c, rules.cycle_dates(p, settings, calendar_rules_)) for p in periods)
    return planned


@transaction.atomic
def do_generate_calendar(
    *,
    period: str | None = None,
    year: int | None = None,
    cycle: str | None = None,
    actor: ActorLike,
    dry_run: bool = False,
) -> GenerateResult:
    """Create or refresh the calendar rows of a period or a year from the rules.

    Rows edited by hand and closed rows are kept as they are. With ``dry_run`` nothing is
    written (the result says what would change).
    """
    planned = plan_calendar(period=period, year=year, cycle=cycle)
    result = GenerateResult(rows=[dates for _c, dates in planned])
    if not planned:
        return result
    codes = sorted({d.period for _c, d in planned})
    existing = {
        (row.cycle_id, row.period): row
        for row in ReadingCalendar.objects.select_for_update().filter(period__in=codes)
    }
    new: list[ReadingCalendar] = []
    changed: list[ReadingCalendar] = []
    for c, dates in planned:
        row = existing.get((c.pk, dates.period))
        if row is None:
            new.append(
                ReadingCalendar(cycle=c, period=dates.period, months=dates.months, **dates.dates())
            )
            continue
        if row.edited:
            result.kept_edited += 1
            continue
        if row.closed:
            result.kept_closed += 1
            continue
        wanted = {"months": dates.months, **dates.dates()}
        if all(getattr(row, k) == v for k, v in wanted.items()):
            result.unchanged += 1
            continue
        for k, v in wanted.items():
            setattr(row, k, v)
        changed.append(row)
    result.created, result.updated = len(new), len(changed)
    if dry_run or not (new or changed):
        return result
    ReadingCalendar.objects.bulk_create(new)
    ReadingCalendar.objects.bulk_update(changed, ["months", *rules.DATE_FIELDS])
    record(
        actor=actor,
        action="metering.generate_calendar",
        object_type="metering.readingcalendar",
        object_id=period or str(year),
        after={k: v for k, v in result.as_dict().items() if k != "rows"}
        | {"periods": codes, "cycle": cycle or ""},
    )
    return result


EDITABLE = (*rules.DATE_FIELDS, "closed")


def _order_reason(code: str, labels: dict[str, str]) -> str:
    if code.startswith("before:"):
        other = code.split(":", 1)[1]
        return _("no puede ser anterior a «%(other)s»") % {"other": labels.get(other, other)}
    return _("falta la fecha") if code == "missing" else code


def field_labels() -> dict[str, str]:
    return {
        name: str(getattr(ReadingCalendar._meta.get_field(name), "verbose_name", name))
        for name in rules.DATE_FIELDS
    }


@transaction.atomic
def do_edit_calendar(
    row: ReadingCalendar, *, changes: dict[str, Any], actor: ActorLike, reason: str = ""
) -> ReadingCalendar:
    """Change dates (or the closed mark) of one row; it becomes ``edited`` so the rules
    never regenerate it. Raises ``CalendarEditError`` naming each inconsistent field."""
    row = ReadingCalendar.objects.select_for_update().get(pk=row.pk)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(_("campos no editables: %(f)s") % {"f": ", ".join(sorted(unknown))})
    before = {k: _plain(getattr(row, k)) for k in EDITABLE}
    merged: dict[str, Any] = {k: getattr(row, k) for k in EDITABLE} | changes
    errors = rules.check_order({k: merged[k] for k in rules.DATE_FIELDS})
    if errors:
        labels = field_labels()
        raise CalendarEditError({k: _order_reason(v, labels) for k, v in errors.items()})
    after = {k: _plain(merged[k]) for k in EDITABLE}
    if after == before:
        return row
    for k, v in changes.items():
        setattr(row, k, v)
    if any(k in rules.DATE_FIELDS for k in changes if _plain(changes[k]) != before[k]):
        row.edited = True
    row.save()
    record(
        actor=actor,
        action="metering.edit_calendar",
        object_type="metering.readingcalendar",
        object_id=row.pk,
        before={k: v for k, v in before.items() if v != after[k]},
        after={k: v for k, v in after.items() if v != before[k]}
        | {"cycle": row.cycle.code, "period": row.period},
        reason=reason,
    )
    return row


class CalendarEditError(DomainError):
    """Inconsistent dates: ``errors`` maps each field to a reason (Spanish)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@transaction.atomic
def do_add_holiday(*, day: date, name: str, actor: ActorLike) -> Holiday:
    name = name.strip()[:120]
    if not name:
        raise DomainError(_("indique el nombre del feriado"))
    holiday, created = Holiday.objects.get_or_create(date=day, defaults={"name": name})
    if not created:
        raise DomainError(
            _("el %(day)s ya es feriado (%(name)s)")
            % {"day": f"{day:%d/%m/%Y}", "name": holiday.name}
        )
    record(
        actor=actor,
        action="metering.add_holiday",
        object_type="metering.holiday",
        object_id=holiday.pk,
        after={"date": day.isoformat(), "name": name},
    )
    return holiday


@transaction.atomic
def do_delete_holiday(holiday: Holiday, *, actor: ActorLike) -> None:
    record(
        actor=actor,
        action="metering.delete_holiday",
        object_type="metering.holiday",
        object_id=holiday.pk,
        before={"date": holiday.date.isoformat(), "name": holiday.name},
    )
    holiday.delete()


__all__ = [
    "CalendarEditError",
    "GenerateResult",
    "calendar_rules",
    "do_add_holiday",
    "do_delete_holiday",
    "do_edit_calendar",
    "do_generate_calendar",
    "parse_period",
    "plan_calendar",
    "utility_months",
]
