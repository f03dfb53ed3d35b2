"""The reading calendar page: a month grid of every cycle's windows and dates, the year's
table edited in place (htmx), generation from the rules, and the holidays the rules skip.

Viewing needs ``metering.supervise_reading``; generating, editing and holidays need
``metering.manage_calendar`` as well.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period
from caudal.metering import calendar as rules
from caudal.metering.calendar_actions import (
    CalendarEditError,
    do_add_holiday,
    do_delete_holiday,
    do_edit_calendar,
    do_generate_calendar,
    field_labels,
    utility_months,
)
from caudal.metering.models import Holiday, ReadingCalendar

from ..permissions import require_perms

VIEW = "metering.supervise_reading"
MANAGE = "metering.manage_calendar"
EVENT_LABELS = {
    "read": gettext_lazy("lectura"),
    "critique": gettext_lazy("crítica"),
    "billing": gettext_lazy("facturación"),
    "due": gettext_lazy("vencimiento"),
    "cut": gettext_lazy("aviso de corte"),
}
WEEKDAYS = (
    gettext_lazy("lun"),
    gettext_lazy("mar"),
    gettext_lazy("mié"),
    gettext_lazy("jue"),
    gettext_lazy("vie"),
    gettext_lazy("sáb"),
    gettext_lazy("dom"),
)


def _month(request: HttpRequest) -> Period:
    try:
        return Period.parse(request.GET.get("mes", ""))
    except ValueError:
        return Period.containing(timezone.localdate())


def _as_dates(row: ReadingCalendar) -> rules.CycleDates:
    return rules.CycleDates(
        cycle=row.cycle.code,
        period=row.period,
        months=row.months,
        **{name: getattr(row, name) for name in rules.DATE_FIELDS},
    )


@require_GET
@require_perms(VIEW)
def calendar_page(request: HttpRequest) -> HttpResponse:
    month = _month(request)
    try:
        year = int(request.GET.get("anio", month.year))
    except ValueError:
        year = month.year
    weeks = rules.month_grid(month.year, month.month)
    first, last = weeks[0][0], weeks[-1][-1]
    # rows whose dates touch the grid: a period's dates span up to about three months
    near = [q.code for q in Period(month.year, month.month).last(4)] + [month.code]
    shown = list(ReadingCalendar.objects.filter(period__in=near).select_related("cycle"))
    events = rules.window_days([_as_dates(r) for r in shown], [d for w in weeks for d in w])
    holidays = {h.date: h.name for h in Holiday.objects.filter(date__range=(first, last))}
    today = timezone.localdate()
    grid = [
        [
            {
                "day": d,
                "other": d.month != month.month,
                "today": d == today,
                "sunday": d.weekday() == rules.SUNDAY,
                "holiday": holidays.get(d, ""),
                "events": [
                    {"cycle": c, "kind": k, "label": EVENT_LABELS[k]}
                    for c, k in sorted(events.get(d, []))
                ],
            }
            for d in week
        ]
        for week in weeks
    ]
    rows = list(
        ReadingCalendar.objects.filter(period__startswith=f"{year:04d}-")
        .select_related("cycle")
        .order_by("period", "cycle__code")
    )
    return render(
        request,
        "web/metering/calendar.html",
        {
            "month": month,
            "prev_month": month.previous().code,
            "next_month": month.next().code,
            "weekdays": WEEKDAYS,
            "grid": grid,
            "year": year,
            "rows": rows,
            "events": EVENT_LABELS,
            "holidays": Holiday.objects.filter(date__year__in=[year, year + 1]),
            "can_manage": request.user.has_perm(MANAGE),
            "bimonthly": utility_months() == 2,
            "nav": "reading-calendar",
        },
    )


@require_POST
@require_perms(VIEW, MANAGE)
def generate(request: HttpRequest) -> HttpResponse:
    period = request.POST.get("periodo", "").strip() or None
    year_text = request.POST.get("anio", "").strip()
    cycle = request.POST.get("ciclo", "").strip() or None
    year = int(year_text) if year_text.isdigit() else None
    target = reverse("reading-calendar")
    try:
        result = do_generate_calendar(period=period, year=year, cycle=cycle, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect(target)
    messages.info(
        request,
        _(
            "Calendario generado: %(created)s filas nuevas, %(updated)s actualizadas, "
            "%(unchanged)s sin cambios; se conservaron %(edited)s editadas a mano y "
            "%(closed)s cerradas."
        )
        % {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "edited": result.kept_edited,
            "closed": result.kept_closed,
        },
    )
    anchor = f"?anio={year}" if year else f"?anio={period[:4]}&mes={period}" if period else ""
    return redirect(target + anchor)


@require_GET
@require_perms(VIEW)
def row(request: HttpRequest, pk: int) -> HttpResponse:
    """One row of the table, as displayed (htmx: cancel an edit)."""
    item = get_object_or_404(ReadingCalendar.objects.select_related("cycle"), pk=pk)
    return render(
        request,
        "web/metering/calendar_row.html",
        {"r": item, "can_manage": request.user.has_perm(MANAGE)},
    )


@require_http_methods(["GET", "POST"])
@require_perms(VIEW, MANAGE)
def edit_row(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the row as a form; POST: save it (the row becomes ``edited``) and show it."""
    item = get_object_or_404(ReadingCalendar.objects.select_related("cycle"), pk=pk)
    errors: dict[str, str] = {}
    values = {name: getattr(item, name) for name in rules.DATE_FIELDS}
    if request.method == "POST":
        changes: dict[str, object] = {}
        for name in rules.DATE_FIELDS:
            text = request.POST.get(name, "")
            try:
                changes[name] = date.fromisoformat(text)
            except ValueError:
                errors[name] = _("fecha no válida")
                changes[name] = None
        changes["closed"] = request.POST.get("closed") == "on"
        values = {name: changes[name] for name in rules.DATE_FIELDS}
        if not errors:
            try:
                item = do_edit_calendar(
                    item,
                    changes=changes,
                    actor=request.user,
                    reason=request.POST.get("reason", ""),
                )
            except CalendarEditError as exc:
                errors = exc.errors
            else:
                item = ReadingCalendar.objects.select_related("cycle").get(pk=item.pk)
                return render(
                    request,
                    "web/metering/calendar_row.html",
                    {"r": item, "can_manage": True, "saved": True},
                )
    fields = [
        {"name": name, "label": label, "value": values[name], "error": errors.get(name, "")}
        for name, label in field_labels().items()
    ]
    response = render(
        request,
        "web/metering/calendar_row_edit.html",
        {"r": item, "fields": fields, "errors": errors},
    )
    return response


@require_POST
@require_perms(VIEW, MANAGE)
def add_holiday(request: HttpRequest) -> HttpResponse:
    try:
        day = date.fromisoformat(request.POST.get("fecha", ""))
        do_add_holiday(day=day, name=request.POST.get("nombre", ""), actor=request.user)
    except ValueError:
        messages.error(request, _("Fecha de feriado no válida."))
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(
            request,
            _("Feriado agregado. Regenere el calendario para que las fechas lo eviten."),
        )
    return redirect(reverse("reading-calendar") + "#holidays")


@require_POST
@require_perms(VIEW, MANAGE)
def delete_holiday(request: HttpRequest, pk: int) -> HttpResponse:
    holiday = get_object_or_404(Holiday, pk=pk)
    do_delete_holiday(holiday, actor=request.user)
    messages.info(request, _("Feriado eliminado."))
    return redirect(reverse("reading-calendar") + "#holidays")
