"""A management report as a PDF (HTML template → WeasyPrint) and as an XLSX annex.

The PDF has a header band with the utility's name, the report's title, period (cut-off
date and the month compared), revision and status; the scope; the headline figures; the
charts (server-side SVG from :mod:`caudal.portfolio.charts`, as ``data:`` images); every
table of :mod:`caudal.reports.content`; the conclusions and recommendations; and the
signature block (Elaborado por / Revisado por / Aprobado por) from the report's workflow
steps. Until the report is published every page carries a "BORRADOR" watermark; the
published PDF (``final=True``) has none.

Rendering loads no URL (the bills' data-only URL fetcher, see
:mod:`caudal.billing.document`) and uses the DejaVu fonts.

The XLSX annex (xlsxwriter, the formats of :class:`caudal.collection.reports.Book`) has a
summary sheet (header, figures, conclusions, recommendations, signatures) and one sheet per
table, money as numbers in major units and totals as ``SUM`` formulas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from caudal.billing.document import MONTHS, html_to_pdf, svg_img
from caudal.cadastre.models import UtilitySettings
from caudal.collection.reports import Book, Column
from caudal.kernel.money import CURRENCY_SYMBOL, exponent, format_money
from caudal.portfolio import charts

from .content import Col, Content, Table, build_content
from .models import ManagementReport, ReportStatus, ReportStep

CHART_WIDTH_MM = 170.0


# --- formatting -------------------------------------------------------------------------


def _group(value: int, currency: str) -> str:
    return charts.group_number(int(value), "." if currency == "COP" else ",")


def _decimal(value: Decimal, currency: str) -> str:
    text = f"{value:,}"
    if currency == "COP":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def cell_text(value: Any, kind: str, currency: str) -> str:
    """A table cell as the report prints it (empty for None)."""
    if value is None or value == "":
        return ""
    if kind == "money":
        return format_money(int(value), currency, symbol=False)
    if kind in ("int", "days"):
        return _group(int(value), currency)
    if kind == "pct":
        return _decimal(Decimal(value), currency) + " %"
    if kind == "decimal":
        return _decimal(Decimal(value), currency)
    return str(value)


def money_text(value: int | None, currency: str) -> str:
    return "" if value is None else format_money(int(value), currency)


def signed_money(value: int | None, currency: str) -> str:
    if value is None:
        return ""
    text = format_money(abs(int(value)), currency)
    return ("+" if value > 0 else "−" if value < 0 else "") + text


def month_label(d: Any) -> str:
    return f"{MONTHS[d.month - 1]} {d.year}".capitalize()


# --- signatures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    role: str
    name: str
    at: datetime | None


def _person(user: Any) -> str:
    if user is None:
        return ""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def signatures(report: ManagementReport) -> list[Signature]:
    """Elaborado / Revisado / Aprobado por, from the steps of the current cycle (those
    after the last return: a returned report is signed again)."""
    steps = (
        list(ReportStep.objects.filter(report=report).select_related("actor"))
        if report.pk is not None
        else []
    )
    last_return = max(
        (i for i, s in enumerate(steps) if s.to_status == ReportStatus.RETURNED), default=-1
    )
    cycle = steps[last_return + 1 :]

    def last(status: str) -> ReportStep | None:
        return next((s for s in reversed(cycle) if s.to_status == status), None)

    submitted = last(ReportStatus.IN_REVIEW)
    reviewed = last(ReportStatus.REVIEWED)
    approved = last(ReportStatus.APPROVED)
    drafter = submitted.actor if submitted else report.created_by
    return [
        Signature(_("Elaborado por"), _person(drafter), submitted.at if submitted else None),
        Signature(
            _("Revisado por"),
            _person(reviewed.actor) if reviewed else "",
            reviewed.at if reviewed else None,
        ),
        Signature(
            _("Aprobado por"),
            _person(approved.actor) if approved else "",
            approved.at if approved else None,
        ),
    ]


# --- charts -----------------------------------------------------------------------------


def _major(minor: int, currency: str) -> int:
    return int(minor) // 10 ** exponent(currency)


def chart_svgs(content: Content) -> list[tuple[str, str]]:
    """(title, svg) of the report's charts: value by stage, value by age bucket, and for
    the monthly report billing vs collections of the last months."""
    cur = content.currency
    symbol = CURRENCY_SYMBOL.get(cur, cur)
    out: list[tuple[str, str]] = []
    stage = content.series.get("stage") or []
    if stage:
        title = _("Saldo por etapa de cobro (%(s)s)") % {"s": symbol}
        out.append(
            (
                title,
                charts.bar_chart(
                    [(label, _major(v, cur)) for label, v in stage],
                    title=title,
                    value_labels=[format_money(v, cur) for _l, v in stage],
                    horizontal=True,
                    width=640,
                ),
            )
        )
    buckets = content.series.get("buckets") or []
    if buckets and any(v for _l, v in buckets):
        title = _("Deuda por edad de mora (%(s)s)") % {"s": symbol}
        out.append(
            (
                title,
                charts.bar_chart(
                    [(label, _major(v, cur)) for label, v in buckets],
                    title=title,
                    value_labels=[format_money(v, cur) for _l, v in buckets],
                    width=640,
                    height=260,
                ),
            )
        )
    billed = content.series.get("months_billed") or []
    collected = content.series.get("months_collected") or []
    if billed:
        title = _("Facturado y recaudado por mes (%(s)s)") % {"s": symbol}
        out.append(
            (
                title,
                charts.line_chart(
                    [label for label, _v in billed],
                    [
                        (_("Facturado"), [_major(v, cur) for _l, v in billed]),
                        (_("Recaudado"), [_major(v, cur) for _l, v in collected]),
                    ],
                    title=title,
                    value_labels=[
                        [format_money(v, cur) for _l, v in billed],
                        [format_money(v, cur) for _l, v in collected],
                    ],
                    width=640,
                    height=260,
                ),
            )
        )
    return out


def chart_img(svg: str, title: str) -> SafeString:
    """The SVG as a ``data:`` image 170 mm wide, keeping its aspect ratio."""
    match = re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', svg)
    width, height = (float(match.group(1)), float(match.group(2))) if match else (640.0, 260.0)
    return svg_img(svg, CHART_WIDTH_MM, CHART_WIDTH_MM * height / width, title)


# --- the view model ---------------------------------------------------------------------


def table_view(table: Table, currency: str) -> dict[str, Any]:
    def cells(row: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "text": cell_text(row.get(c.key), c.kind, currency),
                "num": c.kind != "text",
                "neg": c.kind in ("money", "pct") and _negative(row.get(c.key)),
            }
            for c in table.columns
        ]

    return {
        "key": table.key,
        "title": table.title,
        "headers": [{"title": c.title, "num": c.kind != "text"} for c in table.columns],
        "rows": [{"cells": cells(r), "light": r.get("light")} for r in table.rows],
        "total": cells(table.total) if table.total else None,
        "note": table.note,
        "empty": table.empty,
    }


def _negative(value: Any) -> bool:
    try:
        return value is not None and value != "" and Decimal(value) < 0
    except (ArithmeticError, ValueError, TypeError):
        return False


def figure_views(content: Content) -> list[dict[str, Any]]:
    cur = content.currency
    out = []
    for f in content.figures:
        value = money_text(f.value, cur) if f.kind == "money" else _group(f.value, cur)
        change = ""
        if f.change is not None:
            if f.kind == "money":
                change = signed_money(f.change, cur)
            else:
                change = ("+" if f.change > 0 else "") + _group(f.change, cur)
            if f.change_pct is not None:
                change += f" ({cell_text(f.change_pct, 'pct', cur)})"
        out.append({"label": f.label, "value": value, "change": change})
    return out


def report_context(
    report: ManagementReport,
    content: Content,
    *,
    final: bool = False,
    published_at: datetime | None = None,
    with_charts: bool = True,
) -> dict[str, Any]:
    utility = UtilitySettings.current()
    chart_imgs: list[tuple[str, SafeString]] = []
    if with_charts:
        chart_imgs = [(title, chart_img(svg, title)) for title, svg in chart_svgs(content)]
    status = ReportStatus.PUBLISHED if final else ReportStatus(report.status)
    return {
        "report": report,
        "content": content,
        "utility": utility,
        "final": final,
        "watermark": not final,
        "status_label": status.label,
        "period": month_label(content.date),
        "cut_off": content.date.strftime("%d/%m/%Y"),
        "previous": content.previous_date.strftime("%d/%m/%Y") if content.previous_date else "",
        "figures": figure_views(content),
        "tables": [table_view(t, content.currency) for t in content.tables],
        "charts": chart_imgs,
        "signatures": signatures(report),
        "symbol": CURRENCY_SYMBOL.get(content.currency, content.currency),
        "published_at": published_at,
        "generated": timezone.localtime().strftime("%d/%m/%Y %H:%M"),
    }


def report_html(
    report: ManagementReport,
    content: Content | None = None,
    *,
    final: bool = False,
    published_at: datetime | None = None,
) -> str:
    content = content or build_content(report.kind, report.snapshot)
    context = report_context(report, content, final=final, published_at=published_at)
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string("reports/report_pdf.html", context)


def report_pdf(
    report: ManagementReport,
    content: Content | None = None,
    *,
    final: bool = False,
    published_at: datetime | None = None,
) -> bytes:
    """The report as a PDF: with the "BORRADOR" watermark unless ``final``."""
    return html_to_pdf(report_html(report, content, final=final, published_at=published_at))


# --- XLSX -------------------------------------------------------------------------------

XLSX_KIND = {"money": "money", "int": "int", "days": "int", "pct": "pct", "decimal": "pct"}


def _columns(cols: Sequence[Col], currency: str) -> list[Column]:
    symbol = CURRENCY_SYMBOL.get(currency, currency)
    out = []
    for c in cols:
        kind = XLSX_KIND.get(c.kind, "text")
        title = f"{c.title} ({symbol})" if kind == "money" else c.title
        width = 34 if c.kind == "text" else 16
        out.append(Column(title, kind, width, total=c.total))
    return out


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28].strip()
    name, n = base, 2
    while name.lower() in used:
        name = f"{base[:25]} ({n})"
        n += 1
    used.add(name.lower())
    return name


def report_xlsx(
    report: ManagementReport,
    content: Content | None = None,
    *,
    final: bool = False,
) -> bytes:
    """The XLSX annex: a summary sheet and one sheet per table."""
    content = content or build_content(report.kind, report.snapshot)
    cur = content.currency
    book = Book(cur)
    book.f["pct"] = book.wb.add_format({"num_format": "#,##0.0#"})
    book.f["total_pct"] = book.wb.add_format({"bold": True, "top": 2, "num_format": "#,##0.0#"})
    wrap = book.wb.add_format({"text_wrap": True, "valign": "top"})
    used: set[str] = set()
    ws = book.sheet(_sheet_name(_("Resumen"), used))
    f = book.f
    status = ReportStatus.PUBLISHED if final else ReportStatus(report.status)
    ws.write_string(0, 0, report.title, f["title"])
    ws.write_string(1, 0, f"{content.utility_name} · {content.title}", f["sub"])
    info = [
        (_("Corte"), content.date.strftime("%d/%m/%Y")),
        (_("Periodo"), month_label(content.date)),
        (
            _("Comparado con"),
            content.previous_date.strftime("%d/%m/%Y") if content.previous_date else "—",
        ),
        (_("Alcance"), content.scope),
        (_("Revisión"), str(report.revision)),
        (_("Estado"), str(status.label)),
    ]
    row = 3
    for label, value in info:
        ws.write_string(row, 0, label, f["label"])
        ws.write_string(row, 1, value)
        row += 1
    for notice in content.notices:
        ws.write_string(row, 0, notice, f["sub"])
        row += 1
    row += 1
    ws.write_string(row, 0, _("Cifra"), f["head"])
    ws.write_string(row, 1, _("Valor"), f["head"])
    ws.write_string(row, 2, _("Mes anterior"), f["head"])
    ws.write_string(row, 3, _("Variación"), f["head"])
    row += 1
    for fig in content.figures:
        kind = "money" if fig.kind == "money" else "int"
        ws.write_string(row, 0, fig.label)
        book._cell(ws, row, 1, kind, fig.value)
        book._cell(ws, row, 2, kind, fig.previous)
        book._cell(ws, row, 3, kind, fig.change)
        row += 1
    row += 1
    for label, text in (
        (_("Conclusiones"), report.conclusions),
        (_("Recomendaciones"), report.recommendations),
    ):
        ws.write_string(row, 0, label, f["label"])
        ws.merge_range(row, 1, row, 5, text or "—", wrap)
        ws.set_row(row, max(15, 15 * (1 + len(text or "") // 90 + (text or "").count("\n"))))
        row += 1
    row += 2
    for col, sig in enumerate(signatures(report)):
        ws.write_string(row, col * 2, sig.role, f["sign"])
        ws.write_string(row + 1, col * 2, sig.name or "—", f["center"])
        if sig.at:
            ws.write_string(
                row + 2, col * 2, timezone.localtime(sig.at).strftime("%d/%m/%Y"), f["center"]
            )
    ws.set_column(0, 0, 38)
    ws.set_column(1, 5, 18)
    for table in content.tables:
        sheet = book.sheet(_sheet_name(table.title, used))
        sheet.write_string(0, 0, table.title, f["title"])
        sheet.write_string(
            1, 0, f"{content.utility_name} · {content.title} · {content.date:%d/%m/%Y}", f["sub"]
        )
        if table.note:
            sheet.write_string(2, 0, table.note, f["sub"])
        values = [[r.get(c.key) for c in table.columns] for r in table.rows]
        after = book.table(
            sheet,
            4,
            _columns(table.columns, cur),
            values,
            totals_label=_("Total") if table.total is not None else None,
        )
        if not table.rows and table.empty:
            sheet.write_string(after + 1, 0, table.empty, f["sub"])
    return book.close()


__all__ = [
    "Signature",
    "cell_text",
    "chart_svgs",
    "report_context",
    "report_html",
    "report_pdf",
    "report_xlsx",
    "signatures",
]
