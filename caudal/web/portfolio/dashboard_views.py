"""The operational dashboard (Cuadro de Mando Operativo) under ``/cartera/tablero/``.

Pages and permissions:

- ``dashboard`` (``portfolio.view_cartera``): a snapshot (the latest finished one by
  default), filters by zone, cycle, use, stratum and municipality, and the tiles of
  :mod:`caudal.portfolio.dashboard` drawn with the SVG charts of
  :mod:`caudal.portfolio.charts`; every figure links to its drill-down;
- ``dashboard-drill`` (``portfolio.view_cartera``): the accounts behind a figure, paginated,
  with its total (equal to the figure), and an account's open items in the snapshot;
- ``dashboard-export`` (``portfolio.view_cartera`` and ``portfolio.take_snapshots``: it is
  personal data): the same list as XLSX; audited.

The page is rendered in one request (no htmx): every tile reads the snapshot's cube
(tens of thousands of rows), so the tiles together take milliseconds; the benchmark
``caudal bench dashboard`` measures each tile and the page.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from caudal.audit.actions import record
from caudal.kernel.money import CURRENCY_SYMBOL, exponent, format_money
from caudal.portfolio import charts
from caudal.portfolio import dashboard as dash
from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus
from caudal.portfolio.snapshot import folder_for

from ..context_processors import get_utility
from ..permissions import ACCOUNT_360, require_perms

VIEW = "portfolio.view_cartera"
EXPORT = "portfolio.take_snapshots"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TREND_MONTHS = 12


# --- snapshots ------------------------------------------------------------------------


def _done() -> Any:
    return Snapshot.objects.filter(status=SnapshotStatus.DONE)


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _chosen(request: HttpRequest) -> Snapshot | None:
    """The snapshot asked for (``?snapshot=YYYY-MM-DD``), else the latest finished one;
    404 for a date without a finished snapshot."""
    raw = request.GET.get("snapshot")
    if raw:
        on = _parse_date(raw)
        snap = _done().filter(date=on).first() if on else None
        if snap is None:
            raise Http404(_("No hay un corte de cartera terminado del %(d)s.") % {"d": raw})
        return snap
    return _done().order_by("-date").first()


def _source(snap: Snapshot) -> dash.Source:
    try:
        return dash.open_snapshot(folder_for(snap.date))
    except dash.DashboardError as exc:
        raise Http404(
            _("Los archivos del corte del %(d)s no están disponibles.")
            % {"d": snap.date.strftime("%d/%m/%Y")}
        ) from exc


def _trend_sources(snap: Snapshot) -> list[dash.Source]:
    """The monthly snapshots of the 12 months up to the chosen one (and the chosen one,
    when it is not a month end), oldest first; folders that are missing are skipped."""
    since = snap.date - timedelta(days=366)
    rows = list(
        _done()
        .filter(kind=SnapshotKind.MONTHLY, date__gt=since, date__lte=snap.date)
        .order_by("-date")
        .values_list("date", flat=True)[:TREND_MONTHS]
    )
    if snap.date not in rows:
        rows = [snap.date, *rows[: TREND_MONTHS - 1]]
    out = []
    for on in sorted(rows):
        try:
            out.append(dash.open_snapshot(folder_for(on)))
        except dash.DashboardError:
            continue
    return out


# --- labels ---------------------------------------------------------------------------


def _labels() -> dict[str, dict[Any, str]]:
    """Names of the codes the filters and lists show."""
    from caudal.cadastre.models import Cycle, Municipality, Segment, UseCategory, Zone

    return {
        "zone": dict(Zone.objects.values_list("code", "name")),
        "cycle": dict(Cycle.objects.values_list("code", "name")),
        "municipality": dict(Municipality.objects.values_list("code", "name")),
        "category": {str(k): str(v) for k, v in UseCategory.choices},
        "segment": {str(k): str(v) for k, v in Segment.choices},
    }


def bucket_label(code: str) -> str:
    """``"0"`` → ``Al día``, ``"1-30"`` → ``1–30 días``, ``">360"`` → ``> 360 días``."""
    if code == "0":
        return _("Al día")
    if code.startswith(">"):
        return _("> %(d)s días") % {"d": code[1:]}
    low, _sep, high = code.partition("-")
    return _("%(a)s–%(b)s días") % {"a": low, "b": high}


def _filter_title(name: str) -> str:
    return {
        "zone": _("Zona"),
        "cycle": _("Ciclo"),
        "category": _("Uso"),
        "stratum": _("Estrato"),
        "municipality": _("Municipio"),
    }[name]


def _named(labels: dict[str, dict[Any, str]], name: str, code: Any) -> str:
    found = labels.get(name, {}).get(code)
    if found and found != code:
        return f"{code} · {found}" if name in ("zone", "cycle", "municipality") else found
    return str(code)


def _drill_title(source: dash.Source, drill: dash.Drill, labels: dict[str, dict[Any, str]]) -> str:
    seg = drill.segment
    if drill.tile == "totals":
        return {
            "accounts": _("Cuentas con partidas abiertas"),
            "balance": _("Saldo de la cartera"),
            "overdue": _("Cartera vencida"),
            "blocked": _("Partidas bloqueadas"),
            "ddr": _("Deudas de difícil recaudo (DDR)"),
        }.get(seg, seg)
    if drill.tile == "stage":
        return _("Etapa: %(s)s") % {"s": source.stage_name(seg)}
    if drill.tile == "aging-accounts":
        return _("Cuentas cuya deuda más antigua tiene %(b)s") % {"b": bucket_label(seg)}
    if drill.tile == "aging-value":
        return _("Deuda con %(b)s de mora") % {"b": bucket_label(seg)}
    if drill.tile == "zone":
        return _("Cartera vencida de la zona %(z)s") % {"z": _named(labels, "zone", seg)}
    return seg


def _measure_title(measure: str | None) -> str:
    if measure is None:
        return _("Cuentas")
    if measure.startswith("aged_"):
        return _("Deuda del tramo")
    return {
        "balance": _("Saldo"),
        "overdue": _("Vencido"),
        "blocked_amount": _("Bloqueado"),
    }.get(measure, measure)


# --- the page -------------------------------------------------------------------------


def _link(
    base_query: dict[str, str], drill: dash.Drill | None, snapshot: date | None = None
) -> str | None:
    if drill is None:
        return None
    q = dict(base_query)
    q.update(drill.query())
    if drill.on is None and snapshot is not None:
        q["snapshot"] = snapshot.isoformat()
    return reverse("dashboard-drill") + "?" + urlencode(q)


def _money_fn(currency: str) -> Callable[[int], str]:
    def fmt(minor: int) -> str:
        return format_money(int(minor), currency)

    return fmt


def _tick_fn(currency: str) -> Callable[[int], str]:
    scale = 10 ** exponent(currency)

    def fmt(minor: int) -> str:
        return charts.compact_number(int(minor) // scale)

    return fmt


def _int(n: int | None) -> str:
    return "" if n is None else charts.group_number(n)


@require_GET
@require_perms(VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    utility = get_utility(request)
    currency = utility.currency
    snapshots = list(_done().order_by("-date").values_list("date", "kind")[:60])
    snap = _chosen(request)
    base: dict[str, Any] = {
        "nav": "cartera",
        "snapshots": snapshots,
        "currency": currency,
        "can_export": request.user.has_perm(EXPORT),
    }
    if snap is None:
        return render(request, "portfolio/dashboard.html", {**base, "snap": None})
    source = _source(snap)
    try:
        filters = dash.Filters.from_query(request.GET)
    except dash.DashboardError as exc:
        return render(
            request,
            "portfolio/dashboard.html",
            {**base, "snap": None, "error": str(exc)},
            status=400,
        )
    labels = _labels()
    money = _money_fn(currency)
    ticks = _tick_fn(currency)
    query = filters.query()
    drill_query = {"snapshot": snap.date.isoformat(), **query}

    def link(d: dash.Drill | None) -> str | None:
        return _link(drill_query, d)

    # filter form
    values = dash.filter_values(source)
    filter_fields = [
        {
            "name": name,
            "title": _filter_title(name),
            "value": "" if getattr(filters, name) is None else str(getattr(filters, name)),
            "options": [(str(v), _named(labels, name, v)) for v in values[name]],
        }
        for name in dash.FILTERS
    ]

    totals = dash.totals(source, filters)
    kpis = [
        {
            "key": "accounts",
            "label": _("Cuentas"),
            "value": _int(totals["accounts"].value),
            "note": _("con partidas abiertas"),
            "href": link(totals["accounts"].drill),
        },
        {
            "key": "balance",
            "label": _("Saldo"),
            "value": money(totals["balance"].value),
            "note": _("débitos menos créditos abiertos"),
            "href": link(totals["balance"].drill),
        },
        {
            "key": "overdue",
            "label": _("Vencido"),
            "value": money(totals["overdue"].value),
            "note": _("%(n)s cuentas en mora") % {"n": _int(totals["overdue"].accounts)},
            "href": link(totals["overdue"].drill),
            "tone": "warn",
        },
        {
            "key": "blocked",
            "label": _("Bloqueado"),
            "value": money(totals["blocked"].value),
            "note": _("%(n)s partidas en reclamo") % {"n": _int(totals["blocked"].items)},
            "href": link(totals["blocked"].drill),
        },
        {
            "key": "ddr",
            "label": _("DDR"),
            "value": money(totals["ddr"].value),
            "note": _("%(n)s cuentas con más de 360 días") % {"n": _int(totals["ddr"].accounts)},
            "href": link(totals["ddr"].drill),
            "tone": "danger",
        },
    ]

    stages = dash.by_stage(source, filters)
    stage_chart = charts.bar_chart(
        [(f.label, f.value) for f in stages],
        title=_("Saldo por etapa de cobro"),
        value_labels=[money(f.value) for f in stages],
        hrefs=[link(f.drill) for f in stages],
        horizontal=True,
        tick_format=ticks,
        chart_id="chart-stage",
    )
    stage_rows = [
        {
            "label": f.label,
            "accounts": _int(f.accounts),
            "value": money(f.value),
            "href": link(f.drill),
            "accounts_href": link(f.drill),
        }
        for f in stages
    ]

    aging = dash.aging(source, filters)
    aging_chart = charts.pyramid_chart(
        [(bucket_label(r.bucket), r.accounts, r.value) for r in aging],
        title=_("Pirámide de edades"),
        left_title=_("Cuentas (deuda más antigua)"),
        right_title=_("Deuda por edad"),
        right_labels=[money(r.value) for r in aging],
        left_hrefs=[link(r.accounts_drill) for r in aging],
        right_hrefs=[link(r.value_drill) for r in aging],
        chart_id="chart-aging",
    )
    aging_rows = [
        {
            "label": bucket_label(r.bucket),
            "accounts": _int(r.accounts),
            "accounts_href": link(r.accounts_drill),
            "value": money(r.value),
            "value_href": link(r.value_drill),
        }
        for r in aging
    ]

    trend = dash.trend(_trend_sources(snap), filters)
    trend_chart = charts.line_chart(
        [p.on.strftime("%m/%Y") for p in trend],
        [(_("Saldo"), [p.balance for p in trend]), (_("Vencido"), [p.overdue for p in trend])],
        title=_("Tendencia de 12 meses"),
        value_labels=[[money(p.balance) for p in trend], [money(p.overdue) for p in trend]],
        hrefs=[_link(query, p.balance_drill) for p in trend],
        tick_format=ticks,
        chart_id="chart-trend",
    )
    trend_rows = [
        {
            "on": p.on,
            "balance": money(p.balance),
            "balance_href": _link(query, p.balance_drill),
            "overdue": money(p.overdue),
            "overdue_href": _link(query, p.overdue_drill),
        }
        for p in trend
    ]

    months = dash.collected_vs_billed(source)
    months_chart = None
    if months:
        months_chart = charts.line_chart(
            [m.month.strftime("%m/%Y") for m in months],
            [
                (_("Facturado"), [m.billed for m in months]),
                (_("Recaudado"), [m.collected for m in months]),
            ],
            title=_("Recaudado frente a facturado"),
            value_labels=[[money(m.billed) for m in months], [money(m.collected) for m in months]],
            tick_format=ticks,
            chart_id="chart-flows",
        )

    zones = dash.top_zones(source, filters)
    zone_chart = charts.bar_chart(
        [(_named(labels, "zone", z.key), z.value) for z in zones],
        title=_("Zonas con más cartera vencida"),
        value_labels=[money(z.value) for z in zones],
        hrefs=[link(z.drill) for z in zones],
        horizontal=True,
        tick_format=ticks,
        chart_id="chart-zones",
    )
    zone_rows = [
        {
            "label": _named(labels, "zone", z.key),
            "accounts": _int(z.accounts),
            "value": money(z.value),
            "href": link(z.drill),
        }
        for z in zones
    ]
    safe = mark_safe  # the charts escape every text they draw
    return render(
        request,
        "portfolio/dashboard.html",
        {
            **base,
            "snap": snap,
            "filters": filter_fields,
            "filtered": bool(query),
            "active_filters": [
                (_filter_title(n), _named(labels, n, v)) for n, v in filters.active()
            ],
            "kpis": kpis,
            "stage_chart": safe(stage_chart),
            "stage_rows": stage_rows,
            "aging_chart": safe(aging_chart),
            "aging_rows": aging_rows,
            "trend_chart": safe(trend_chart),
            "trend_rows": trend_rows,
            "months_chart": safe(months_chart) if months_chart else None,
            "months": months,
            "zone_chart": safe(zone_chart),
            "zone_rows": zone_rows,
        },
    )


# --- drill-down -----------------------------------------------------------------------


def _drill_inputs(
    request: HttpRequest,
) -> tuple[Snapshot, dash.Source, dash.Filters, dash.Drill]:
    snap = _chosen(request)
    if snap is None:
        raise Http404(_("Todavía no hay cortes de cartera."))
    source = _source(snap)
    try:
        filters = dash.Filters.from_query(request.GET)
        drill = dash.Drill(
            tile=(request.GET.get("tile") or "").strip(),
            segment=(request.GET.get("segment") or "").strip(),
        )
        dash.drill_spec(source, drill)
    except dash.DashboardError as exc:
        raise Http404(str(exc)) from exc
    return snap, source, filters, drill


@require_GET
@require_perms(VIEW)
def drill(request: HttpRequest) -> HttpResponse:
    currency = get_utility(request).currency
    snap, source, filters, drill_ = _drill_inputs(request)
    labels = _labels()
    try:
        page_no = int(request.GET.get("page") or 1)
    except ValueError:
        page_no = 1
    page = dash.drill_page(source, filters, drill_, page=page_no)
    money = _money_fn(currency)
    rows = []
    for r in page.rows:
        rows.append(
            {
                **r,
                "zone_label": _named(labels, "zone", r["zone"]),
                "category_label": _named(labels, "category", r["category"]),
                "balance_text": money(r["balance"]),
                "overdue_text": money(r["overdue"]),
                "blocked_text": money(r["blocked_amount"]) if r["blocked_amount"] else "",
                "measure_text": money(r["measure"]) if page.measure else "",
            }
        )
    items: list[dict[str, Any]] | None = None
    item_account: dict[str, Any] | None = None
    raw_account = (request.GET.get("account") or "").strip()
    if raw_account.isdigit():
        items = [
            {
                **i,
                "open_text": money(i["signed_amount"]),
                "bucket_label": bucket_label(i["bucket"])
                if i["bucket"] != "credit"
                else _("Crédito"),
            }
            for i in dash.account_items(source, int(raw_account))
        ]
        item_account = next((r for r in rows if r["account_id"] == int(raw_account)), None)
    back_query = {"snapshot": snap.date.isoformat(), **filters.query()}
    export_query = {**back_query, **drill_.query()}
    return render(
        request,
        "portfolio/dashboard_drill.html",
        {
            "nav": "cartera",
            "currency": currency,
            "snap": snap,
            "title": _drill_title(source, drill_, labels),
            "measure_title": _measure_title(page.measure),
            "extra_measure": page.measure not in (None, "balance", "overdue", "blocked_amount"),
            "page": page,
            "rows": rows,
            "total_accounts": _int(page.total_accounts),
            "total_value": money(page.total_value) if page.measure else _int(page.total_value),
            "active_filters": [
                (_filter_title(n), _named(labels, n, v)) for n, v in filters.active()
            ],
            "back_href": reverse("dashboard") + "?" + urlencode(back_query),
            "export_href": reverse("dashboard-export") + "?" + urlencode(export_query),
            "can_export": request.user.has_perm(EXPORT),
            "can_account": request.user.has_perm(ACCOUNT_360),
            "items": items,
            "item_account": item_account or {"account_id": raw_account},
            "prev_page": page.page - 1 if page.page > 1 else None,
            "next_page": page.page + 1 if page.page < page.pages else None,
        },
    )


def export_columns(currency: str) -> list[dash.ExportColumn]:
    sym = CURRENCY_SYMBOL.get(currency, currency)
    return [
        dash.ExportColumn("account_number", _("Cuenta contrato"), "text", 14),
        dash.ExportColumn("holder_name", _("Titular"), "text", 30),
        dash.ExportColumn("address", _("Dirección"), "text", 30),
        dash.ExportColumn("category", _("Uso"), "text", 12),
        dash.ExportColumn("stratum", _("Estrato"), "int", 8),
        dash.ExportColumn("municipality", _("Municipio"), "text", 16),
        dash.ExportColumn("zone", _("Zona"), "text", 14),
        dash.ExportColumn("cycle", _("Ciclo"), "text", 8),
        dash.ExportColumn("stage_name", _("Etapa de cobro"), "text", 18),
        dash.ExportColumn("max_days_past_due", _("Días de mora"), "int", 9),
        dash.ExportColumn("balance", f"{_('Saldo')} ({sym})", "money", 14),
        dash.ExportColumn("overdue", f"{_('Vencido')} ({sym})", "money", 14),
        dash.ExportColumn("blocked_amount", f"{_('Bloqueado')} ({sym})", "money", 13),
    ]


@require_GET
@require_perms(VIEW, EXPORT)
def export(request: HttpRequest) -> FileResponse:
    utility = get_utility(request)
    snap, source, filters, drill_ = _drill_inputs(request)
    labels = _labels()
    spec = dash.drill_spec(source, drill_)
    cols = export_columns(utility.currency)
    if spec.measure and spec.measure not in ("balance", "overdue", "blocked_amount"):
        sym = CURRENCY_SYMBOL.get(utility.currency, utility.currency)
        cols.append(
            dash.ExportColumn("measure", f"{_measure_title(spec.measure)} ({sym})", "money", 14)
        )
    title = f"{_drill_title(source, drill_, labels)} · {_('corte del')} {snap.date:%d/%m/%Y}"
    active = filters.active()
    if active:
        title += " · " + ", ".join(f"{_filter_title(n)}: {_named(labels, n, v)}" for n, v in active)
    fd, tmp = tempfile.mkstemp(prefix="caudal-tablero-", suffix=".xlsx")
    os.close(fd)
    try:
        rows = dash.export_xlsx(
            source,
            filters,
            drill_,
            tmp,
            columns=cols,
            labels={k: labels[k] for k in ("category", "zone", "municipality")},
            title=title,
            currency_exponent=exponent(utility.currency),
        )
        handle = open(tmp, "rb")  # noqa: SIM115  (FileResponse closes it)
    finally:
        # On POSIX the open handle keeps the data readable after the name is gone.
        os.unlink(tmp)
    record(
        actor=request.user,
        action="portfolio.export_dashboard",
        object_type="portfolio.snapshot",
        object_id=snap.date.isoformat(),
        after={**drill_.query(), **filters.query(), "rows": rows},
    )
    name = f"tablero-{drill_.tile}-{drill_.segment or 'todo'}-{snap.date.isoformat()}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=name, content_type=XLSX)
