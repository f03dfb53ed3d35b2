"""Follow-ups of the cartera (seguimientos) under ``/cartera/seguimiento/``.

One page per activity of the EAAB procedure (:mod:`caudal.portfolio.followups`): by stage,
by use / stratum / municipality / zone / cycle, blocked items, recaudo by stage and
financing. Every page has a snapshot-date selector (``?fecha=YYYY-MM-DD``, the latest done
snapshot by default) and its tables as XLSX (``?formato=xlsx``: number formats, frozen
header, autofilter, totals as formulas).

Permission: ``portfolio.view_cartera`` for every page and download. The downloads carry
account numbers and complaint references, not holders' names or addresses.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from caudal.collection.reports import Book, Column
from caudal.portfolio import followups

from ..context_processors import get_utility
from ..permissions import require_perms

VIEW = "portfolio.view_cartera"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Rows of the blocked-items list shown on the page (the XLSX has them all).
BLOCKED_PAGE_ROWS = 500


# --- helpers --------------------------------------------------------------------------


def _params(request: HttpRequest) -> dict[str, Any]:
    """The selected snapshot date (``fecha``, default the latest done one) and the months
    to compare (``comparar``, 0–12, default 1); ``problem`` says what was wrong."""
    dates = followups.done_dates()
    raw = (request.GET.get("fecha") or "").strip()
    problem = ""
    on: date | None = dates[0] if dates else None
    if raw:
        try:
            wanted = date.fromisoformat(raw)
        except ValueError:
            problem = _("Fecha no válida: %(v)s (use AAAA-MM-DD).") % {"v": raw}
        else:
            if wanted in dates:
                on = wanted
            else:
                problem = _("No hay corte de cartera terminado del %(d)s.") % {
                    "d": wanted.strftime("%d/%m/%Y")
                }
    if on is not None:
        try:
            followups.folder_of(on)
        except followups.FollowupError as exc:
            problem, on = str(exc), None
    try:
        compare = int(request.GET.get("comparar") or 1)
    except ValueError:
        compare = 1
    compare = max(0, min(compare, followups.MAX_COMPARE))
    return {"dates": dates, "on": on, "compare": compare, "problem": problem}


def _base(request: HttpRequest, here: str, p: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "nav": "cartera",
        "here": here,
        "currency": get_utility(request).currency,
        "p": p,
        "compare_choices": list(range(0, followups.MAX_COMPARE + 1)),
        "query": request.GET.urlencode(),
        "tabs": [
            ("stage", reverse("followup-stage"), _("Por etapa")),
            ("dimension", reverse("followup-dimension"), _("Por uso, estrato, municipio, zona")),
            ("blocked", reverse("followup-blocked"), _("Partidas bloqueadas")),
            ("recaudo", reverse("followup-recaudo"), _("Recaudo por etapa")),
            ("financing", reverse("followup-financing"), _("Financiaciones")),
        ],
        **extra,
    }


def _wants_xlsx(request: HttpRequest) -> bool:
    return request.GET.get("formato") == "xlsx"


def _download(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _empty(request: HttpRequest, here: str, template: str, p: dict[str, Any]) -> HttpResponse:
    return render(request, template, _base(request, here, p, empty=True))


def _head(book: Book, ws: Any, title: str, sub: str) -> int:
    ws.write_string(0, 0, title, book.f["title"])
    ws.write_string(1, 0, sub, book.f["sub"])
    return 3


def _day(d: date) -> str:
    return d.strftime("%d/%m/%Y")


# --- by stage and by dimension ------------------------------------------------------------


def _comparison_xlsx(result: followups.Comparison, title: str, currency: str) -> bytes:
    book = Book(currency)
    ws = book.sheet(title)
    sub = _("Corte al %(d)s") % {"d": _day(result.on)}
    if result.previous:
        sub += " · " + _("comparado con %(p)s") % {"p": ", ".join(_day(d) for d in result.previous)}
    top = _head(book, ws, title, sub)
    group = followups.dimension_labels()[result.dimension]
    columns = [
        Column(group, "text", 28),
        Column(_("Cuentas"), "int", 11, total=True),
        Column(_("Saldo"), "money", 16, total=True),
        Column(_("Vencido"), "money", 16, total=True),
        Column(_("% del saldo"), "pct", 10),
    ]
    for d in result.previous:
        at = _day(d)
        columns += [
            Column(_("Cuentas al %(d)s") % {"d": at}, "int", 12, total=True),
            Column(_("Saldo al %(d)s") % {"d": at}, "money", 16, total=True),
            Column(_("Dif. cuentas vs %(d)s") % {"d": at}, "int", 12, total=True),
            Column(_("Dif. saldo vs %(d)s") % {"d": at}, "money", 16, total=True),
            Column(_("Var. %% saldo vs %(d)s") % {"d": at}, "pct", 11),
        ]

    def cells(row: dict[str, Any]) -> list[Any]:
        out = [row["label"], row["accounts"], row["value"], row["overdue"], row["share"]]
        for prev in row["previous"]:
            out += [
                prev["accounts"],
                prev["value"],
                prev["diff_accounts"],
                prev["diff_value"],
                prev["pct_value"],
            ]
        return out

    rows = [cells(r) for r in result.rows]
    end = book.table(ws, top, columns, rows, totals_label=_("Total"))
    # The % columns of the totals row (a sum of percentages means nothing).
    totals = cells(result.total)
    for c, col in enumerate(columns):
        if col.kind == "pct" and totals[c] is not None:
            ws.write_number(end - 1, c, float(totals[c]), book.f["total_pct"])
    return book.close()


def _comparison_page(request: HttpRequest, here: str, dimension: str | None) -> HttpResponse:
    template = "portfolio/followup_compare.html"
    p = _params(request)
    dimensions = [(d, followups.dimension_labels()[d]) for d in followups.DIMENSIONS]
    if dimension is not None:
        chosen = request.GET.get("por") or "category"
        dimension = chosen if chosen in followups.DIMENSIONS else "category"
    if p["on"] is None:
        return render(request, template, _base(request, here, p, empty=True, dimensions=dimensions))
    if dimension is None:
        result = followups.by_stage(p["on"], p["compare"])
        title = _("Cartera por etapa de cobro")
    else:
        result = followups.by_dimension(p["on"], dimension, p["compare"])
        title = _("Cartera por %(d)s") % {"d": followups.dimension_labels()[dimension].lower()}
    currency = get_utility(request).currency
    if _wants_xlsx(request):
        name = f"seguimiento-{dimension or 'etapa'}-{p['on'].isoformat()}.xlsx"
        return _download(_comparison_xlsx(result, title, currency), name)
    return render(
        request,
        template,
        _base(
            request,
            here,
            p,
            title=title,
            result=result,
            colspan=5 + 4 * len(result.previous),
            group_label=followups.dimension_labels()[result.dimension],
            dimension=dimension,
            dimensions=dimensions,
        ),
    )


@require_GET
@require_perms(VIEW)
def stage(request: HttpRequest) -> HttpResponse:
    return _comparison_page(request, "stage", None)


@require_GET
@require_perms(VIEW)
def dimension(request: HttpRequest) -> HttpResponse:
    return _comparison_page(request, "dimension", "category")


# --- blocked items ----------------------------------------------------------------------


def _blocked_xlsx(result: followups.Blocked, currency: str, who: str | None) -> bytes:
    from caudal.portfolio.testigos import bucket_label

    book = Book(currency)
    title = _("Partidas bloqueadas")
    ws = book.sheet(_("Por responsable"))
    sub = _("Corte al %(d)s") % {"d": _day(result.on)}
    if who:
        sub += " · " + who
    top = _head(book, ws, title, sub)
    columns = [
        Column(_("Responsable"), "text", 34),
        Column(_("Partidas"), "int", 10, total=True),
        Column(_("Cuentas"), "int", 10, total=True),
        Column(_("Importe bloqueado"), "money", 16, total=True),
        Column(_("Mayor mora (días)"), "int", 11),
        *[Column(bucket_label(c), "money", 14, total=True) for c in result.buckets],
    ]
    rows = [
        [g["responsible"], g["items"], g["accounts"], g["amount"], g["max_days"]]
        + g["bucket_amounts"]
        for g in result.by_responsible
    ]
    book.table(ws, top, columns, rows, totals_label=_("Total"))
    detail = book.sheet(_("Detalle"))
    top = _head(book, detail, title, sub)
    columns = [
        Column(_("Responsable"), "text", 30),
        Column(_("Suministro"), "text", 14),
        Column(_("Partida"), "int", 10),
        Column(_("Documento"), "int", 10),
        Column(_("Tipo"), "text", 10),
        Column(_("Concepto"), "text", 12),
        Column(_("Vencimiento"), "date", 12),
        Column(_("Importe bloqueado"), "money", 15, total=True),
        Column(_("Días de mora"), "int", 10),
        Column(_("Tramo"), "text", 12),
        Column(_("Bloqueada desde"), "date", 12),
        Column(_("Días bloqueada"), "int", 10),
        Column(_("Reclamo / expediente"), "text", 16),
        Column(_("Etapa"), "text", 14),
        Column(_("Zona"), "text", 8),
    ]
    rows = [
        [
            r["responsible"],
            r["account_number"],
            r["item_id"],
            r["document_id"],
            r["document_kind"],
            r["concept"],
            r["due_date"],
            r["open_amount"],
            r["days_past_due"],
            bucket_label(r["bucket"]) if r["bucket"] else "",
            r["blocked_since"],
            r["days_blocked"],
            r["block_case"],
            r["stage"],
            r["zone"],
        ]
        for r in result.rows
    ]
    book.table(detail, top, columns, rows, totals_label=_("Total"))
    return book.close()


@require_GET
@require_perms(VIEW)
def blocked(request: HttpRequest) -> HttpResponse:
    template = "portfolio/followup_blocked.html"
    p = _params(request)
    if p["on"] is None:
        return _empty(request, "blocked", template, p)
    everyone = followups.blocked(p["on"])
    who = request.GET.get("responsable") or None
    names = [g["responsible"] for g in everyone.by_responsible]
    if who is not None and who not in names:
        who = None
    result = followups.blocked(p["on"], responsible=who) if who else everyone
    if _wants_xlsx(request):
        name = f"partidas-bloqueadas-{p['on'].isoformat()}.xlsx"
        return _download(_blocked_xlsx(result, get_utility(request).currency, who), name)
    from caudal.portfolio.testigos import bucket_label

    return render(
        request,
        template,
        _base(
            request,
            "blocked",
            p,
            result=result,
            everyone=everyone,
            who=who,
            names=names,
            bucket_labels=[bucket_label(c) for c in result.buckets],
            shown=result.rows[:BLOCKED_PAGE_ROWS],
            more=max(0, len(result.rows) - BLOCKED_PAGE_ROWS),
        ),
    )


# --- recaudo ----------------------------------------------------------------------------


def _channel_labels() -> dict[str, str]:
    from caudal.collection.reports import channel_labels

    return {**channel_labels(), "": _("Sin centro (migrado / directo)")}


def _recaudo_xlsx(result: followups.Recaudo, currency: str) -> bytes:
    book = Book(currency)
    title = _("Recaudo por etapa de cobro")
    ws = book.sheet(_("Por día") if result.granularity == "day" else _("Por mes"))
    sub = _("Corte al %(d)s") % {"d": _day(result.on)}
    top = _head(book, ws, title, sub)
    first = (
        Column(_("Fecha"), "date", 12)
        if result.granularity == "day"
        else Column(_("Mes"), "text", 10)
    )
    columns = [
        first,
        *[Column(name, "money", 15, total=True) for _c, name in result.stages],
        Column(_("Corriente"), "money", 15, total=True),
        Column(_("Mora"), "money", 15, total=True),
        Column(_("Total"), "money", 16, total=True),
    ]
    rows = [
        [
            r["period"] if result.granularity == "day" else r["period"].strftime("%Y-%m"),
            *r["amounts"],
            r["current"],
            r["arrears"],
            r["total"],
        ]
        for r in result.rows
    ]
    book.table(ws, top, columns, rows, totals_label=_("Total"))
    channels = book.sheet(_("Por canal"))
    top = _head(book, channels, title, sub)
    labels = _channel_labels()
    book.table(
        channels,
        top,
        [Column(_("Canal"), "text", 30), Column(_("Importe"), "money", 16, total=True)],
        [[labels.get(c["channel"], c["channel"]), c["amount"]] for c in result.channels],
        totals_label=_("Total"),
    )
    return book.close()


@require_GET
@require_perms(VIEW)
def recaudo(request: HttpRequest) -> HttpResponse:
    template = "portfolio/followup_recaudo.html"
    p = _params(request)
    granularity = request.GET.get("detalle") or "day"
    if granularity not in followups.GRANULARITIES:
        granularity = "day"
    p["granularity"] = granularity
    if p["on"] is None:
        return _empty(request, "recaudo", template, p)
    result = followups.recaudo(p["on"], granularity)
    if _wants_xlsx(request):
        name = f"recaudo-por-etapa-{granularity}-{p['on'].isoformat()}.xlsx"
        return _download(_recaudo_xlsx(result, get_utility(request).currency), name)
    labels = _channel_labels()
    return render(
        request,
        template,
        _base(
            request,
            "recaudo",
            p,
            result=result,
            channels=[
                (labels.get(c["channel"], c["channel"]), c["amount"]) for c in result.channels
            ],
        ),
    )


# --- financing --------------------------------------------------------------------------


def _financing_xlsx(result: followups.Financing, currency: str) -> bytes:
    book = Book(currency)
    title = _("Financiaciones (acuerdos de pago)")
    sub = _("Corte al %(d)s") % {"d": _day(result.on)}
    ws = book.sheet(_("Nuevas por día"))
    top = _head(book, ws, title, sub)
    columns = [Column(_("Fecha"), "date", 12)]
    for _c, name in result.stages:
        columns += [
            Column(_("%(s)s: acuerdos") % {"s": name}, "int", 11, total=True),
            Column(_("%(s)s: importe") % {"s": name}, "money", 15, total=True),
        ]
    columns += [
        Column(_("Acuerdos"), "int", 10, total=True),
        Column(_("Importe"), "money", 15, total=True),
    ]
    rows = []
    for d in result.days:
        cells: list[Any] = [d["day"]]
        for n, amount in zip(d["counts"], d["amounts"], strict=True):
            cells += [n, amount]
        rows.append([*cells, d["count"], d["amount"]])
    book.table(ws, top, columns, rows, totals_label=_("Total"))
    active = book.sheet(_("Activas por etapa"))
    top = _head(book, active, title, sub)
    book.table(
        active,
        top,
        [
            Column(_("Etapa"), "text", 24),
            Column(_("Acuerdos activos"), "int", 12, total=True),
            Column(_("Cuentas"), "int", 10, total=True),
            Column(_("Importe financiado"), "money", 16, total=True),
            Column(_("Saldo por cobrar"), "money", 16, total=True),
        ],
        [
            [r["label"], r["agreements"], r["accounts"], r["amount"], r["open_amount"]]
            for r in result.active
        ],
        totals_label=_("Total"),
    )
    return book.close()


@require_GET
@require_perms(VIEW)
def financing(request: HttpRequest) -> HttpResponse:
    template = "portfolio/followup_financing.html"
    p = _params(request)
    if p["on"] is None:
        return _empty(request, "financing", template, p)
    result = followups.financing(p["on"])
    if _wants_xlsx(request):
        name = f"financiaciones-{p['on'].isoformat()}.xlsx"
        return _download(_financing_xlsx(result, get_utility(request).currency), name)
    days = [{**d, "cells": list(zip(d["counts"], d["amounts"], strict=True))} for d in result.days]
    totals = list(
        zip(result.days_total.get("counts", []), result.days_total.get("amounts", []), strict=True)
    )
    return render(
        request,
        template,
        _base(request, "financing", p, result=result, days=days, day_totals=totals),
    )
