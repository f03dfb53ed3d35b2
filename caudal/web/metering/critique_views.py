"""The reading critique page (crítica de lectura) at ``/lecturas/critica/``.

One period and cycle at a time: counts per flag and status, the readings filtered by flag,
route, status and segment with their last six consumptions, and the decisions (accept,
correct, estimate, order a re-read) made in place with htmx; a VIP tab with what is left
to validate before billing; the control sample; bulk accept / re-read of the filtered set;
a button that (re)runs the critique. Everything needs ``metering.critique_readings``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from caudal.audit.models import Run
from caudal.cadastre.models import Cycle, Segment
from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period
from caudal.metering import actions, queries, rules
from caudal.metering.models import Reading, ReadingCalendar, ReadingStatus
from caudal.metering.runs import KIND, config_from_settings, run_critique

from ..permissions import require_perms

CRITIQUE = "metering.critique_readings"
PAGE = 50
HISTORY = 6
TABS = ("", "vip", "muestra")
#: Statuses of a VIP reading still waiting for its validation.
VIP_OPEN = (ReadingStatus.PENDING, ReadingStatus.OK, ReadingStatus.FLAGGED, ReadingStatus.REREAD)


@dataclass
class FlagView:
    code: str
    label: str
    hold: bool
    meaning: str


@dataclass
class RowView:
    reading: Reading
    flags: list[FlagView]
    history: list[int | None]
    spark: str
    decided: bool
    error: str = ""


def _flag_views(codes: Sequence[str], config: rules.CritiqueConfig) -> list[FlagView]:
    out = []
    for code in codes:
        flag = rules.FLAGS.get(code)
        if flag is None:
            continue
        out.append(
            FlagView(
                code=code,
                label=str(flag.label),
                hold=config.severity_of(code) == rules.HOLD,
                meaning=str(flag.meaning),
            )
        )
    return out


def _spark(values: Sequence[int | None], width: int = 72, height: int = 20) -> str:
    """SVG polyline points of the consumptions (gaps skipped)."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return ""
    top = max(known) or 1
    step = width / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
        for i, v in enumerate(values)
        if v is not None
    )


def _rows(
    readings: Sequence[Reading], period: Period, config: rules.CritiqueConfig
) -> list[RowView]:
    history = queries.consumption_history([r.account_id for r in readings], period, HISTORY)
    return [
        RowView(
            reading=r,
            flags=_flag_views(rules.split_flags(r.flags), config),
            history=history.get(r.account_id, [None] * HISTORY),
            spark=_spark(history.get(r.account_id, [])),
            decided=r.status
            in (ReadingStatus.ACCEPTED, ReadingStatus.CORRECTED, ReadingStatus.ESTIMATED),
        )
        for r in readings
    ]


def _period_choices(selected: str) -> list[str]:
    codes = set(ReadingCalendar.objects.values_list("period", flat=True).distinct())
    for params in Run.objects.filter(kind=KIND).values_list("parameters", flat=True)[:50]:
        if isinstance(params, dict) and params.get("period"):
            codes.add(str(params["period"]))
    codes.add(selected)
    return sorted(codes, reverse=True)[:36]


def _default_period() -> str:
    run = Run.objects.filter(kind=KIND).order_by("-started_at", "-id").first()
    if run is not None and isinstance(run.parameters, dict) and run.parameters.get("period"):
        return str(run.parameters["period"])
    months = queries.utility_months()
    return Period.containing(timezone.localdate(), months=months).code


def _cursor(text: str) -> tuple[int, int] | None:
    """``"<route id>-<reading id>"`` of the last row shown."""
    route, _sep, pk = text.partition("-")
    if route.isdigit() and pk.isdigit():
        return int(route), int(pk)
    return None


@dataclass
class PageState:
    period: Period
    cycle: Cycle | None
    tab: str
    filters: queries.CritiqueFilter
    errors: list[str]


def _state(data: QueryDict) -> PageState:
    errors: list[str] = []
    code = (data.get("periodo") or "").strip() or _default_period()
    try:
        period = queries.parse_period(code)
    except ValueError as exc:
        errors.append(str(exc))
        period = queries.parse_period(_default_period())
    cycle = None
    cycle_code = (data.get("ciclo") or "").strip()
    if cycle_code:
        cycle = Cycle.objects.filter(code=cycle_code).first()
        if cycle is None:
            errors.append(_("el ciclo %(c)s no existe") % {"c": cycle_code})
    tab = data.get("vista", "")
    tab = tab if tab in TABS else ""
    flag = data.get("anomalia", "")
    flag = flag if flag in rules.FLAGS else ""
    status = data.get("estado", "")
    if status not in {*ReadingStatus.values, "pending_decision"}:
        status = ""
    segment = data.get("segmento", "")
    segment = segment if segment in Segment.values else ""
    if tab == "vip":
        segment = Segment.VIP
    filters = queries.CritiqueFilter(
        period=period.code,
        cycle=cycle,
        flag=flag,
        route=(data.get("ruta") or "").strip()[:16],
        status=status,
        segment=segment,
        control_sample=tab == "muestra" or data.get("muestra") == "1",
    )
    return PageState(period=period, cycle=cycle, tab=tab, filters=filters, errors=errors)


def _last_run(period: str, cycle: Cycle | None) -> Run | None:
    runs = Run.objects.filter(kind=KIND, parameters__period=period).order_by("-started_at", "-id")
    for run in runs[:20]:
        if (run.parameters or {}).get("cycle") == (cycle.code if cycle else None):
            return run
    return None


@require_GET
@require_perms(CRITIQUE)
def critique_page(request: HttpRequest) -> HttpResponse:
    state = _state(request.GET)
    config = config_from_settings()
    f = state.filters
    qs = f.queryset()
    if state.tab == "vip" and not f.status:
        qs = qs.filter(status__in=VIP_OPEN)
    # Keyset pagination in route order, (route, id): the (period, route) index gives the
    # rows in that order, so a page costs its own rows however large the period is.
    after = _cursor(request.GET.get("despues", ""))
    if after is not None:
        route_id, pk = after
        qs = qs.filter(Q(route_id__gt=route_id) | Q(route_id=route_id, pk__gt=pk))
    page = list(qs.select_related("account", "route").order_by("route_id", "pk")[: PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    statuses = queries.status_counts(state.period.code, state.cycle)
    last_run = _last_run(state.period.code, state.cycle)
    held = queries.flag_counts(state.period.code, state.cycle, [ReadingStatus.FLAGGED])
    if last_run is not None and last_run.status == "done":
        detected = {c: int(n) for c, n in (last_run.counts.get("flags") or {}).items()}
    else:
        detected = queries.flag_counts(state.period.code, state.cycle, None)
    base = queries.CritiqueFilter(period=state.period.code, cycle=state.cycle)
    vip_open = queries.vip_to_validate(state.period.code, state.cycle, [str(s) for s in VIP_OPEN])
    sample = (
        queries.CritiqueFilter(period=state.period.code, cycle=state.cycle, control_sample=True)
        .queryset()
        .aggregate(
            total=Count("id"),
            open=Count(
                "id",
                filter=Q(
                    status__in=[ReadingStatus.PENDING, ReadingStatus.OK, ReadingStatus.FLAGGED]
                ),
            ),
        )
    )
    flag_table = [
        {
            "flag": fv,
            "detected": detected.get(fv.code, 0),
            "held": held.get(fv.code, 0),
        }
        for fv in _flag_views(rules.FLAG_CODES, config)
    ]
    total = sum(statuses.values())
    params = f.as_params()
    if state.tab:
        params["vista"] = state.tab
    context: dict[str, Any] = {
        "nav": "critique",
        "state": state,
        "f": f,
        "params": params,
        "query": urlencode(params),
        "rows": _rows(page, state.period, config),
        "more": more,
        "next_after": f"{page[-1].route_id}-{page[-1].pk}" if more and page else None,
        "statuses": statuses,
        "status_choices": ReadingStatus.choices,
        "total": total,
        "to_decide": statuses.get(ReadingStatus.FLAGGED, 0)
        + statuses.get(ReadingStatus.PENDING, 0)
        + statuses.get(ReadingStatus.REREAD, 0),
        "billable": sum(statuses.get(s, 0) for s in rules.BILLABLE),
        "flag_table": [r for r in flag_table if r["detected"] or r["held"]],
        "all_flags": _flag_views(rules.FLAG_CODES, config),
        "vip_open": vip_open,
        "sample_count": sample["total"],
        "sample_open": sample["open"],
        "last_run": last_run,
        "periods": _period_choices(state.period.code),
        "cycles": Cycle.objects.order_by("code"),
        "segments": Segment.choices,
        "history_labels": list(reversed(queries.history_codes(state.period, HISTORY))),
        "base_query": urlencode(base.as_params()),
    }
    for error in state.errors:
        messages.error(request, error)
    return render(request, "web/metering/critique.html", context)


def _back(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("volver", "")
    url = reverse("critique")
    return redirect(f"{url}?{query}" if query else url)


def _row_response(
    request: HttpRequest, reading: Reading, *, error: str = "", saved: bool = False
) -> HttpResponse:
    reading = Reading.objects.select_related("account", "route").get(pk=reading.pk)
    period = queries.parse_period(reading.period)
    row = _rows([reading], period, config_from_settings())[0]
    row.error = error
    return render(
        request,
        "web/metering/critique_row.html",
        {"row": row, "saved": saved, "query": request.POST.get("volver", "")},
    )


def _int(value: str | None, label: str) -> int:
    try:
        return int((value or "").strip())
    except ValueError as exc:
        raise DomainError(_("%(f)s: escriba un número entero") % {"f": label}) from exc


def _decision(request: HttpRequest, pk: int, decide: Any) -> HttpResponse:
    reading = get_object_or_404(Reading, pk=pk)
    error = ""
    try:
        decide(reading)
    except DomainError as exc:
        error = str(exc)
    if request.headers.get("HX-Request") == "true":
        return _row_response(request, reading, error=error, saved=not error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Decisión registrada."))
    return _back(request)


@require_POST
@require_perms(CRITIQUE)
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(
        request,
        pk,
        lambda r: actions.do_accept_reading(
            r, actor=request.user, note=request.POST.get("nota", "")
        ),
    )


@require_POST
@require_perms(CRITIQUE)
def correct(request: HttpRequest, pk: int) -> HttpResponse:
    def decide(r: Reading) -> Reading:
        value = _int(request.POST.get("lectura"), _("lectura corregida"))
        return actions.do_correct_reading(
            r, value=value, reason=request.POST.get("motivo", ""), actor=request.user
        )

    return _decision(request, pk, decide)


@require_POST
@require_perms(CRITIQUE)
def estimate(request: HttpRequest, pk: int) -> HttpResponse:
    def decide(r: Reading) -> Reading:
        volume = _int(request.POST.get("volumen"), _("volumen"))
        return actions.do_estimate_reading(
            r, volume=volume, reason=request.POST.get("motivo", ""), actor=request.user
        )

    return _decision(request, pk, decide)


@require_POST
@require_perms(CRITIQUE)
def reread(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(
        request,
        pk,
        lambda r: actions.do_order_reread(
            r, reason=request.POST.get("motivo", ""), actor=request.user
        ),
    )


def _filters_from_post(request: HttpRequest) -> PageState:
    return _state(QueryDict(request.POST.get("volver", "")))


@require_POST
@require_perms(CRITIQUE)
def bulk_accept(request: HttpRequest) -> HttpResponse:
    state = _filters_from_post(request)
    if state.errors:
        messages.error(request, state.errors[0])
        return _back(request)
    n = actions.do_bulk_accept(state.filters, actor=request.user, note=request.POST.get("nota", ""))
    messages.success(
        request,
        _("%(n)s lecturas aceptadas (las de clientes VIP se validan una por una).") % {"n": n},
    )
    return _back(request)


@require_POST
@require_perms(CRITIQUE)
def bulk_reread(request: HttpRequest) -> HttpResponse:
    state = _filters_from_post(request)
    if state.errors:
        messages.error(request, state.errors[0])
        return _back(request)
    try:
        n = actions.do_bulk_order_reread(
            state.filters, actor=request.user, reason=request.POST.get("motivo", "")
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return _back(request)
    messages.success(request, _("%(n)s relecturas ordenadas.") % {"n": n})
    return _back(request)


@require_POST
@require_perms(CRITIQUE)
def run(request: HttpRequest) -> HttpResponse:
    state = _filters_from_post(request)
    if state.errors:
        messages.error(request, state.errors[0])
        return _back(request)
    try:
        done = run_critique(
            state.period.code,
            cycle=state.cycle.code if state.cycle else None,
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return _back(request)
    c = done.counts
    messages.success(
        request,
        _(
            "Crítica ejecutada: %(n)s lecturas, %(created)s creadas sin lectura, "
            "%(held)s observadas, %(updated)s actualizadas (%(s)s s)."
        )
        % {
            "n": c["readings"],
            "created": c["created"],
            "held": c["statuses"].get(ReadingStatus.FLAGGED, 0),
            "updated": c["updated"],
            "s": c["seconds"],
        },
    )
    return _back(request)
