"""The bill document: a bill row → a printable PDF (recibo in Peru, factura in Colombia).

``render_bill(bill) -> bytes`` gives one bill; ``render_batch(bills) -> bytes`` gives one PDF
for many (a route's delivery batch), one A4 page per bill in route sequence order. Both read
what they need in a constant number of queries (bills with account, holder, property and
tariff; the utility; the consumption history of every account; the reading dates) and never
touch the network: WeasyPrint gets a URL fetcher that refuses every URL but ``data:``, the
stylesheet is inline, the barcode, QR and chart are inline SVG, and the fonts (DejaVu, from
Debian's fonts-dejavu-core) come from fontconfig.

What the page shows and why is in ``docs/bill.md``. Settings (all optional):

- ``CAUDAL_BILL_QR_FORMAT``: the Peruvian QR payload layout (see ``caudal.billing.qr``);
- ``CAUDAL_BILL_AMOUNT_WIDTH``: digits of the GS1 3900 amount, zero-padded (default 10);
- ``CAUDAL_BILL_HISTORY``: periods in the consumption chart (default 12, at least 6);
- ``CAUDAL_BILL_GROUP``: bills laid out per WeasyPrint pass in a batch (default 50).
"""

from __future__ import annotations

import base64
import gc
import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from caudal.cadastre.models import Country, Periodicity, UseCategory, UtilitySettings
from caudal.kernel.money import CURRENCY_SYMBOL, exponent, format_money
from caudal.kernel.periods import Period
from caudal.ledger.models import Concept
from caudal.metering.models import ConsumptionRule, Reading

from . import barcode, qr
from .models import Bill

log = logging.getLogger(__name__)

MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]
MONTHS_SHORT = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"]
ID_CHUNK = 500  # account ids per IN (...) list
# GS1-128 X-dimension on the bill: as wide as the stub allows, within 0.25-0.33 mm.
BARCODE_WIDTH_MM = 116.0
MIN_MODULE_MM = 0.25
MAX_MODULE_MM = 0.33
QR_MM = 27.0
CHART_MM = (92.0, 34.0)
BILL_RELATED = ("account__customer", "account__property__municipality", "route", "tariff")
# The tariff's YAML text and validated JSON are not printed: do not read them 1,000 times.
BILL_DEFERRED = ("tariff__document", "tariff__source_text")


class BillDocumentError(Exception):
    """A bill that cannot be printed as it is; the message says which bill and why."""


# ------------------------------------------------------------------------------ settings


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def qr_format() -> str:
    return str(_setting("CAUDAL_BILL_QR_FORMAT", qr.DEFAULT_FORMAT))


def amount_width() -> int:
    return int(_setting("CAUDAL_BILL_AMOUNT_WIDTH", barcode.DEFAULT_AMOUNT_WIDTH))


def history_periods() -> int:
    return max(6, min(24, int(_setting("CAUDAL_BILL_HISTORY", 12))))


def group_size() -> int:
    return max(1, int(_setting("CAUDAL_BILL_GROUP", 50)))


# ------------------------------------------------------------------------------ no network


def url_fetcher() -> Any:
    """A WeasyPrint URL fetcher that loads nothing but ``data:`` URLs.

    Any other URL (``http``, ``https``, ``file``, ``ftp``, …) stops the rendering with an
    error: a bill never needs one, so a URL in the HTML is a bug to surface, not a request
    to make.
    """
    from weasyprint.urls import URLFetcher

    class DataOnlyFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"URL refused (bills load no URL): {url}")
            return super().fetch(url, headers)

    return DataOnlyFetcher(fail_on_errors=True, allowed_protocols=("data",))


def html_to_pdf_document(html: str) -> Any:
    """Lay out ``html`` with WeasyPrint (no URL loaded) and return the ``Document``."""
    import weasyprint
    from weasyprint.urls import FatalURLFetchingError

    try:
        return weasyprint.HTML(string=html, base_url=None, url_fetcher=url_fetcher()).render()
    except FatalURLFetchingError as exc:
        raise BillDocumentError(f"the bill HTML asked for a URL: {exc}") from exc


def html_to_pdf(html: str) -> bytes:
    return bytes(html_to_pdf_document(html).write_pdf())


# ------------------------------------------------------------------------------ formatting


def svg_img(svg: str, width_mm: float, height_mm: float, alt: str) -> SafeString:
    """An ``<img>`` with the SVG as a ``data:`` URL. WeasyPrint draws it with its SVG
    renderer without running the page's CSS cascade over every bar and label, which
    inline SVG costs (a third of the layout time of a bill)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return mark_safe(  # noqa: S308 - base64 text and an escaped alt
        f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}" '
        f'style="width:{width_mm:.2f}mm;height:{height_mm:.2f}mm">'
    )


def bill_money(minor: int, currency: str) -> str:
    """Money as the customer reads it: ``S/ 45.60``; Colombian pesos without centavos when
    the amount is whole (``$ 45.600``), as Colombian bills print them."""
    if currency == "COP" and minor % 10 ** exponent(currency) == 0:
        pesos = minor // 10 ** exponent(currency)
        sign = "−" if pesos < 0 else ""
        return f"{CURRENCY_SYMBOL['COP']} {sign}{abs(pesos):,}".replace(",", ".")
    text = format_money(abs(minor), currency)
    return ("−" + text) if minor < 0 else text


def rate_text(rate: Any, currency: str) -> str:
    """A unit rate (decimal text, major units per m³) with its own decimals kept."""
    if rate in (None, ""):
        return ""
    try:
        value = Decimal(str(rate))
    except InvalidOperation:
        return str(rate)
    text = f"{value:,}"
    if currency == "COP":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def factor_text(factor: Any) -> str:
    """``-70`` → ``−70 %`` (subsidy), ``50`` → ``+50 %`` (contribution)."""
    if factor in (None, ""):
        return ""
    try:
        value = Decimal(str(factor))
    except InvalidOperation:
        return str(factor)
    if value == 0:
        return ""
    sign = "−" if value < 0 else "+"
    return f"{sign}{abs(value).normalize():f} %"


def period_label(period: Period) -> str:
    first = MONTHS[period.month - 1]
    if period.months == 2:
        second = period.day(1, month_offset=1)
        return f"{first}–{MONTHS[second.month - 1]} {second.year}".capitalize()
    return f"{first} {period.year}".capitalize()


def _date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


# ------------------------------------------------------------------------------ the page


@dataclass(frozen=True)
class LineView:
    concept: str
    title: str
    description: str
    block: str
    volume: str
    rate: str
    factor: str
    gross: str
    amount: str
    rule: str


@dataclass(frozen=True)
class HistoryBar:
    label: str
    year: str
    m3: int | None
    current: bool


@dataclass
class BillPage:
    bill: Bill
    country: str
    currency: str
    red: bool
    title: str
    number_label: str
    account_label: str
    period_label: str
    category: str
    tariff: str
    rule: str
    previous_reading_date: str
    current_reading_date: str
    history: list[HistoryBar]
    chart: SafeString
    average: int | None
    lines: list[LineView]
    show_factor: bool
    money: dict[str, str]
    dates: dict[str, str]
    notices: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    barcode_svg: SafeString | None = None
    barcode_hri: str = ""
    qr_svg: SafeString | None = None
    qr_payload: str = ""
    payment_code: str = ""
    nothing_to_pay: bool = False


CONCEPT_LABELS = {str(k): str(v) for k, v in Concept.choices}
RULE_LABELS = {
    **{str(k): str(v) for k, v in ConsumptionRule.choices},
    "cut": "Servicio cortado: solo cargo fijo",
}
CATEGORY_LABELS = {str(k): str(v) for k, v in UseCategory.choices}


def _line_views(bill: Bill, currency: str) -> tuple[list[LineView], bool]:
    views = []
    show_factor = False
    for raw in bill.lines or []:
        line = raw if isinstance(raw, dict) else {}
        concept = str(line.get("concept", ""))
        volume = line.get("volume", line.get("volume_m3"))
        factor = factor_text(line.get("factor", line.get("factor_pct")))
        show_factor = show_factor or bool(factor)
        gross = line.get("gross")
        amount = int(line.get("amount", 0) or 0)
        label = CONCEPT_LABELS.get(concept, concept)
        description = str(line.get("description") or "")
        rate = rate_text(line.get("rate"), currency)
        has_volume = volume is not None and volume != ""
        volume_text = (
            f"{int(volume):,}".replace(",", ".") if volume is not None and has_volume else ""
        )
        views.append(
            LineView(
                concept=label,
                title=description or label,
                description=description,
                block=str(line.get("block") or ""),
                volume=volume_text,
                rate=(rate + " /m³" if has_volume else rate + " /mes") if rate else "",
                factor=factor,
                gross=bill_money(int(gross), currency)
                if gross not in (None, "") and factor
                else "",
                amount=bill_money(amount, currency),
                rule=RULE_LABELS.get(str(line.get("rule") or ""), str(line.get("rule") or "")),
            )
        )
    return views, show_factor


def chart_svg(bars: Sequence[HistoryBar], *, width_mm: float = 92, height_mm: float = 34) -> str:
    """Consumption history as SVG bars, m³ above each bar, the period under it; the current
    period dark, earlier ones light, missing periods as a dash."""
    n = max(len(bars), 1)
    top, bottom = 4.0, 8.0
    plot_h = height_mm - top - bottom
    peak = max([b.m3 or 0 for b in bars] + [1])
    slot = width_mm / n
    bar_w = slot * 0.62
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm}mm" height="{height_mm}mm" '
        f'viewBox="0 0 {width_mm} {height_mm}" font-family="DejaVu Sans Condensed, DejaVu Sans" '
        f'class="chart">',
        f'<line x1="0" y1="{top + plot_h:.2f}" x2="{width_mm}" y2="{top + plot_h:.2f}" '
        f'stroke="#8a94a6" stroke-width="0.25"/>',
    ]
    for i, bar in enumerate(bars):
        x = i * slot + (slot - bar_w) / 2
        cx = i * slot + slot / 2
        if bar.m3 is None:
            parts.append(
                f'<text x="{cx:.2f}" y="{top + plot_h - 1:.2f}" font-size="2.4" '
                f'text-anchor="middle" fill="#8a94a6">–</text>'
            )
        else:
            h = max(plot_h * bar.m3 / peak, 0.4 if bar.m3 else 0.0)
            y = top + plot_h - h
            fill = "#1d4e89" if bar.current else "#b8c4d6"
            parts.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{bar_w:.2f}" height="{h:.2f}" '
                f'fill="{fill}"/>'
            )
            weight = ' font-weight="bold"' if bar.current else ""
            parts.append(
                f'<text x="{cx:.2f}" y="{y - 0.9:.2f}" font-size="2.4" text-anchor="middle"'
                f'{weight} fill="#1f2937">{bar.m3}</text>'
            )
        weight = ' font-weight="bold"' if bar.current else ""
        parts.append(
            f'<text x="{cx:.2f}" y="{top + plot_h + 3.3:.2f}" font-size="2.4" '
            f'text-anchor="middle"{weight} fill="#374151">{escape(bar.label)}</text>'
            f'<text x="{cx:.2f}" y="{top + plot_h + 6.3:.2f}" font-size="2.1" '
            f'text-anchor="middle"{weight} fill="#6b7280">{escape(bar.year)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _history_bars(
    period: Period, consumption: dict[str, int], periods: int
) -> tuple[list[HistoryBar], int | None]:
    window = [*period.last(periods - 1), period]
    present = [p for p in window if p.code in consumption]
    if present:
        first = window.index(present[0])
        window = window[min(first, len(window) - 6) :]
    bars = [
        HistoryBar(
            label=MONTHS_SHORT[p.month - 1],
            year=str(p.year),
            m3=consumption.get(p.code),
            current=p == period,
        )
        for p in window
    ]
    earlier = [b.m3 for b in bars if not b.current and b.m3 is not None]
    average = round(sum(earlier) / len(earlier)) if earlier else None
    return bars, average


class _Loaded:
    """What a group of bills needs beyond the bill rows, read in a few queries."""

    def __init__(self, bills: Sequence[Bill], utility: UtilitySettings, months: int) -> None:
        self.months = months
        self.history: dict[int, dict[str, int]] = defaultdict(dict)
        self.read_on: dict[tuple[int, str], date] = {}
        if not bills:
            return
        periods = {Period.parse(b.period, months=months) for b in bills}
        lo = min(periods).shift(-(history_periods() - 1)).code
        hi = max(periods).code
        wanted_readings = {p.code for p in periods} | {p.previous().code for p in periods}
        ids = sorted({b.account_id for b in bills})
        versions: dict[tuple[int, str], int] = {}
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start : start + ID_CHUNK]
            rows = Bill.objects.filter(
                account_id__in=chunk, period__gte=lo, period__lte=hi
            ).values_list("account_id", "period", "version", "consumption")
            for account_id, code, version, m3 in rows:
                if version >= versions.get((account_id, code), 0):
                    versions[(account_id, code)] = version
                    self.history[account_id][code] = int(m3)
            readings = Reading.objects.filter(
                account_id__in=chunk, period__in=sorted(wanted_readings), read_at__isnull=False
            ).values_list("account_id", "period", "read_at")
            for account_id, code, read_at in readings:
                self.read_on[(account_id, code)] = timezone.localtime(read_at).date()


def _payment_parts(page: BillPage, bill: Bill, utility: UtilitySettings) -> None:
    if bill.total_due <= 0:
        page.nothing_to_pay = True
        return
    if page.country == Country.COLOMBIA:
        if not utility.gln.strip():
            raise BillDocumentError(
                "la configuración de la empresa no tiene GLN (UtilitySettings.gln): "
                "sin él no se puede imprimir el código de barras GS1-128 de la factura "
                f"{bill.number}. Regístrelo en la administración (configuración de la empresa)."
            )
        scale = 10 ** exponent(page.currency)
        if bill.total_due % scale:
            raise BillDocumentError(
                f"factura {bill.number}: total {bill.total_due} centavos no es un valor en "
                "pesos enteros; el código de barras (3900) lleva pesos sin decimales"
            )
        try:
            human, encoded = barcode.gs1_element_string(
                utility.gln,
                bill.payment_reference,
                bill.total_due // scale,
                bill.due_date,
                amount_width=amount_width(),
            )
        except barcode.BarcodeError as exc:
            raise BillDocumentError(f"factura {bill.number}: {exc}") from exc
        modules = sum(barcode.code128_modules(encoded))
        module_mm = min(MAX_MODULE_MM, max(MIN_MODULE_MM, BARCODE_WIDTH_MM / modules))
        drawn = barcode.code128_svg(encoded, module_mm=round(module_mm, 3), height_mm=13)
        page.barcode_svg = svg_img(drawn.svg, drawn.width_mm, drawn.height_mm, human)
        page.barcode_hri = human
        return
    data = qr.PaymentData(
        ruc=utility.tax_id,
        account=bill.account.number,
        payment_code=bill.payment_reference,
        bill=bill.number,
        period=bill.period,
        amount_minor=bill.total_due,
        currency=page.currency,
        due=bill.due_date,
        exponent=exponent(page.currency),
    )
    try:
        page.qr_payload = qr.payment_payload(data, qr_format())
    except qr.QrError as exc:
        raise BillDocumentError(f"recibo {bill.number}: {exc}") from exc
    page.qr_svg = svg_img(qr.qr_svg(page.qr_payload, size_mm=QR_MM), QR_MM, QR_MM, "QR")
    page.payment_code = bill.payment_reference or bill.account.number


# Message codes of the billing run (caudal.billing.rules): printed as notices, not messages.
NOTICE_CODES = ("red_bill", "cut_warning")
LEGAL_BASIS: dict[str, str] = {
    Country.PERU: (
        "Reglamento de Calidad de la Prestación de los Servicios de Saneamiento (SUNASS): "
        "el servicio puede cerrarse por falta de pago de dos recibos vencidos. Un recibo en "
        "reclamo no da lugar a corte."
    ),
    Country.COLOMBIA: (
        "Ley 142 de 1994, art. 140: suspensión por falta de pago. Los valores en "
        "reclamación no dan lugar a suspensión; los no reclamados deben pagarse."
    ),
}


def _split_messages(bill: Bill) -> tuple[list[str], list[str]]:
    """(cut and red-bill notices, other messages) from ``Bill.messages``: a list of
    ``{"code", "text"}`` objects as the billing run writes them, or of plain strings."""
    notices: list[str] = []
    messages: list[str] = []
    for raw in bill.messages or []:
        if isinstance(raw, dict):
            code, text = str(raw.get("code") or ""), str(raw.get("text") or "")
        else:
            code, text = "", str(raw)
        if not text.strip():
            continue
        (notices if code in NOTICE_CODES else messages).append(text)
    return notices, messages


def _default_notices(bill: Bill, country: str, currency: str) -> list[str]:
    """The red-bill / cut notice when the bill carries none from the run."""
    notices = []
    cut = _date(bill.cut_warning_date)
    colombia = country == Country.COLOMBIA
    plural = "facturas vencidas" if colombia else "recibos vencidos"
    if bill.red:
        notices.append(
            f"Usted tiene {bill.overdue_bills} {plural}. Pague el total para evitar "
            + ("la suspensión del servicio" if colombia else "el corte del servicio")
            + (f", que podrá ejecutarse a partir del {cut}" if cut else "")
            + "."
        )
    elif cut and bill.overdue_bills:
        noun = (
            ("factura vencida" if colombia else "recibo vencido")
            if bill.overdue_bills == 1
            else plural
        )
        notices.append(
            f"Tiene {bill.overdue_bills} {noun} por {bill_money(bill.previous_debt, currency)}. "
            f"Si no paga antes del {cut}, el servicio podrá ser suspendido."
        )
    return notices


def _notices(bill: Bill, country: str, currency: str) -> tuple[list[str], list[str]]:
    """(notices, messages): the run's notices (or ours when it gave none) and the legal
    basis of a cut, then the other messages."""
    notices, messages = _split_messages(bill)
    if not notices:
        notices = _default_notices(bill, country, currency)
    if notices:
        notices.append(LEGAL_BASIS.get(country, LEGAL_BASIS[Country.PERU]))
    return notices, messages


def build_page(
    bill: Bill, utility: UtilitySettings, loaded: _Loaded, *, check_payment: bool = True
) -> BillPage:
    country = utility.country
    currency = utility.currency
    months = loaded.months
    period = Period.parse(bill.period, months=months)
    colombia = country == Country.COLOMBIA
    lines, show_factor = _line_views(bill, currency)
    bars, average = _history_bars(
        period,
        {**loaded.history.get(bill.account_id, {}), period.code: int(bill.consumption)},
        history_periods(),
    )
    tariff = bill.tariff
    tariff_text = f"{tariff.code} v{tariff.version} · {tariff.name}"
    if tariff.resolution:
        tariff_text += f" ({tariff.resolution})"
    page = BillPage(
        bill=bill,
        country=country,
        currency=currency,
        red=bill.red,
        title=(
            "Factura de servicios públicos de acueducto y alcantarillado"
            if colombia
            else "Recibo de agua potable y alcantarillado"
        ),
        number_label="Factura N.º" if colombia else "Recibo N.º",
        account_label="Cuenta contrato" if colombia else "N.º de suministro",
        period_label=period_label(period),
        category=CATEGORY_LABELS.get(bill.category, bill.category),
        tariff=tariff_text,
        rule=RULE_LABELS.get(bill.consumption_rule, bill.consumption_rule),
        previous_reading_date=_date(loaded.read_on.get((bill.account_id, period.previous().code))),
        current_reading_date=_date(loaded.read_on.get((bill.account_id, period.code))),
        history=bars,
        chart=svg_img(chart_svg(bars), CHART_MM[0], CHART_MM[1], "Historial de consumo"),
        average=average,
        lines=lines,
        show_factor=show_factor,
        money={
            "amount": bill_money(bill.amount, currency),
            "previous_debt": bill_money(bill.previous_debt, currency),
            "credit_applied": bill_money(-bill.credit_applied, currency),
            "total_due": bill_money(max(bill.total_due, 0), currency),
        },
        dates={
            "issue": _date(bill.issue_date),
            "due": _date(bill.due_date),
            "cut": _date(bill.cut_warning_date),
        },
    )
    page.notices, page.messages = _notices(bill, country, currency)
    if check_payment:
        _payment_parts(page, bill, utility)
    return page


# ------------------------------------------------------------------------------ loading


def _months(utility: UtilitySettings) -> int:
    return 2 if utility.periodicity == Periodicity.BIMONTHLY else 1


def print_queryset(bills: QuerySet[Bill]) -> QuerySet[Bill]:
    """``bills`` with what the page prints joined in, in route sequence order."""
    return (
        bills.select_related(*BILL_RELATED)
        .defer(*BILL_DEFERRED)
        .order_by("route__code", "account__property__sequence", "account__number", "pk")
    )


def _as_list(bills: Bill | Iterable[Bill] | QuerySet[Bill]) -> list[Bill]:
    if isinstance(bills, Bill):
        return list(print_queryset(Bill.objects.filter(pk=bills.pk)))
    if isinstance(bills, QuerySet):
        return list(print_queryset(bills))
    items = list(bills)
    ids = [b.pk for b in items]
    fetched = {b.pk: b for b in print_queryset(Bill.objects.filter(pk__in=ids))}
    return sorted(
        (fetched[i] for i in ids if i in fetched),
        key=lambda b: (b.route.code, b.account.property.sequence, b.account.number, b.pk),
    )


def pages_for(
    bills: Bill | Iterable[Bill] | QuerySet[Bill], utility: UtilitySettings | None = None
) -> list[BillPage]:
    utility = utility or UtilitySettings.current()
    rows = _as_list(bills)
    loaded = _Loaded(rows, utility, _months(utility))
    return [build_page(b, utility, loaded) for b in rows]


def render_html(pages: Sequence[BillPage], utility: UtilitySettings) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(
            "billing/bill.html", {"pages": pages, "utility": utility, "print_mode": True}
        )


# ------------------------------------------------------------------------------ public API


def render_bill(bill: Bill) -> bytes:
    """One bill as a one-page PDF."""
    utility = UtilitySettings.current()
    pages = pages_for(bill, utility)
    if not pages:
        raise BillDocumentError(f"bill {bill.pk} not found")
    return html_to_pdf(render_html(pages, utility))


@dataclass(frozen=True)
class BatchResult:
    pdf: bytes
    bills: int
    pages: int


def render_batch_result(bills: Iterable[Bill] | QuerySet[Bill]) -> BatchResult:
    """Many bills in one PDF, in route sequence order.

    The bills are laid out in groups of ``CAUDAL_BILL_GROUP`` (one HTML document and one
    PDF each, a page per bill), and the group PDFs are joined with pypdf. Memory stays
    that of one group (a laid-out page holds about 3 MB until it is written) whatever the
    size of the route; each group embeds its own subset of the fonts (about 60 kB).
    """
    import pypdf

    utility = UtilitySettings.current()
    pages = pages_for(bills, utility)
    if not pages:
        raise BillDocumentError("no bills to print")
    size = group_size()
    parts = []
    for start in range(0, len(pages), size):
        parts.append(html_to_pdf(render_html(pages[start : start + size], utility)))
        gc.collect()  # a laid-out group is a web of reference cycles: free it now
    if len(parts) == 1:
        pdf = parts[0]
        count = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    else:
        writer = pypdf.PdfWriter()
        for part in parts:
            writer.append(io.BytesIO(part))
        count = len(writer.pages)
        out = io.BytesIO()
        writer.write(out)
        pdf = out.getvalue()
    return BatchResult(pdf=pdf, bills=len(pages), pages=count)


def render_batch(bills: Iterable[Bill] | QuerySet[Bill]) -> bytes:
    """Many bills in one PDF (see :func:`render_batch_result`)."""
    return render_batch_result(bills).pdf


def current_bills(period: str) -> QuerySet[Bill]:
    """The bills of ``period`` that stand: corrected bills are replaced by their new version."""
    return Bill.objects.filter(period=period, replaced_by__isnull=True)
