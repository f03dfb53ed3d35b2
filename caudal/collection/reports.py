"""Collection reports: a centre's day, the settlements, the monthly commission report and
the recaudo (money collected) by channel, centre, zone and category.

Every figure is computed by the database (``GROUP BY`` over the payments or the
settlements) or by Polars over what the database already grouped: no loop visits one
payment. The outputs:

- :func:`day_detail` — a centre's day: totals, by method and point, the settlement, what
  was posted outside it, a page of its payments;
- :func:`settlement_rows` — closed days with their flags (late, difference, pending,
  payments outside the settlement);
- :func:`commission_report` — one centre's month: per day payments, amount and
  commission, the month's totals, the terms; as PDF (:func:`commission_pdf`) and XLSX
  (:func:`commission_xlsx`), with the signature lines "Elaborado por" (the centre) and
  "Aprobado por" (the billing and collections department);
- :func:`recaudo` — money applied per day (or month) and per group, with the count of
  payments; as XLSX (:func:`recaudo_xlsx`) and, for a month, PDF (:func:`recaudo_month_pdf`).

Money is integer minor units everywhere; the XLSX files carry it as numbers in major units
with the currency's decimals as the cell format, and their totals are formulas.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
from django.conf import settings
from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models import Value as V
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from caudal.billing.document import MONTHS, html_to_pdf
from caudal.cadastre.models import UseCategory, UtilitySettings
from caudal.kernel.errors import DomainError
from caudal.kernel.money import CURRENCY_SYMBOL, exponent, format_money
from caudal.kernel.periods import Period

from .models import (
    Centre,
    CentreKind,
    DailySettlement,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from .settlement import commission_expression, terms, terms_dict

ZERO = V(0, output_field=BigIntegerField())
POSTED = Q(status=PaymentStatus.POSTED)
REVERSED = Q(status=PaymentStatus.REVERSED)
DEFAULT_APPROVER = "Departamento de Facturación y Cobranzas"


def approver() -> str:
    """Who approves the monthly commission report (setting ``CAUDAL_COMMISSION_APPROVER``)."""
    return str(getattr(settings, "CAUDAL_COMMISSION_APPROVER", DEFAULT_APPROVER))


def month_label(period: Period) -> str:
    return f"{MONTHS[period.month - 1]} {period.year}".capitalize()


def money(minor: int, currency: str) -> str:
    return format_money(int(minor), currency)


def amount_text(minor: int, currency: str) -> str:
    return format_money(int(minor), currency, symbol=False)


def terms_text(centre: Centre, currency: str) -> str:
    """The commission terms in words: ``S/ 0.50 por pago + 1,5 % del importe; mínimo …``."""
    parts = []
    if centre.commission_fixed:
        parts.append(_("%(m)s por pago") % {"m": money(centre.commission_fixed, currency)})
    rate = Decimal(centre.commission_rate)
    if rate:
        pct = f"{(rate * 100).normalize():f}".replace(".", ",")
        parts.append(_("%(p)s %% del importe") % {"p": pct})
    text = " + ".join(parts) if parts else _("sin comisión")
    if centre.commission_minimum:
        text += _("; mínimo %(m)s por pago") % {"m": money(centre.commission_minimum, currency)}
    return text


# --- a centre's day -------------------------------------------------------------------


@dataclass
class Group:
    key: str
    label: str
    payments: int
    amount: int


@dataclass
class DayDetail:
    centre: Centre
    day: date
    settlement: DailySettlement | None
    payments: int  # posted
    collected: int
    reversals: int
    reversed_amount: int
    commission: int  # the settlement's when closed (+ provisional for payments outside it)
    outside_payments: int  # posted for the day but in no settlement (day closed or not)
    outside_amount: int
    by_method: list[Group]
    by_point: list[Group]
    rows: list[Payment] = field(default_factory=list)
    next_cursor: int | None = None


def _sums(qs: QuerySet[Payment], centre: Centre) -> dict[str, int]:
    got = qs.aggregate(
        payments=Count("id", filter=POSTED),
        collected=Coalesce(Sum("amount", filter=POSTED), ZERO),
        commission=Coalesce(Sum(commission_expression(terms(centre)), filter=POSTED), ZERO),
        reversals=Count("id", filter=REVERSED),
        reversed_amount=Coalesce(Sum("amount", filter=REVERSED), ZERO),
    )
    return {k: int(v or 0) for k, v in got.items()}


def day_detail(
    centre: Centre, day: date, *, limit: int = 100, before: int | None = None
) -> DayDetail:
    """What ``centre`` collected on ``day``, with a page of its payments (newest first,
    ``before`` a payment id as the keyset cursor)."""
    qs = Payment.objects.filter(centre_id=centre.pk, payment_date=day)
    settlement = DailySettlement.objects.filter(centre_id=centre.pk, day=day).first()
    total = _sums(qs, centre)
    outside = _sums(qs.filter(settlement__isnull=True), centre)
    commission = (
        (settlement.commission + outside["commission"]) if settlement else outside["commission"]
    )
    methods = dict(PaymentMethod.choices)
    by_method = [
        Group(r["method"], str(methods.get(r["method"], r["method"])), r["n"], int(r["a"]))
        for r in qs.filter(POSTED)
        .values("method")
        .annotate(n=Count("id"), a=Sum("amount"))
        .order_by("method")
    ]
    by_point = [
        Group(
            r["point__code"] or "—",
            r["point__name"] or _("Sin punto de pago"),
            r["n"],
            int(r["a"]),
        )
        for r in qs.filter(POSTED)
        .values("point__code", "point__name")
        .annotate(n=Count("id"), a=Sum("amount"))
        .order_by("point__code")
    ]
    page = qs.select_related("account", "point", "payment_file").order_by("-pk")
    if before:
        page = page.filter(pk__lt=before)
    rows = list(page[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return DayDetail(
        centre=centre,
        day=day,
        settlement=settlement,
        payments=total["payments"],
        collected=total["collected"],
        reversals=total["reversals"],
        reversed_amount=total["reversed_amount"],
        commission=commission,
        outside_payments=outside["payments"],
        outside_amount=outside["collected"],
        by_method=by_method,
        by_point=by_point,
        rows=rows,
        next_cursor=rows[-1].pk if more and rows else None,
    )


# --- settlements and their flags ------------------------------------------------------


@dataclass
class SettlementRow:
    settlement: DailySettlement
    late: bool  # deadline passed without a deposit, or deposited after the deadline
    difference: int | None  # deposited − expected, when deposited and different
    pending: bool  # deposit owed and not yet due
    outside: int  # payments of that day posted after it was closed

    @property
    def flagged(self) -> bool:
        return self.late or self.difference is not None or self.outside > 0


#: ``flag`` values of :func:`settlement_rows` (``problem`` = late, difference or outside;
#: ``undeposited`` = a deposit is owed and not registered, due or not).
FLAGS = ("late", "difference", "pending", "undeposited", "outside", "problem")


def _with_outside(qs: QuerySet[DailySettlement]) -> QuerySet[DailySettlement]:
    """Annotate ``outside``: posted payments of the settlement's centre and day that no
    settlement holds (posted after the day was closed). One correlated count per row, on
    the (centre, payment_date) index."""
    sub = (
        Payment.objects.filter(
            centre_id=OuterRef("centre_id"),
            payment_date=OuterRef("day"),
            settlement__isnull=True,
            status=PaymentStatus.POSTED,
        )
        .order_by()
        .values("centre_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return qs.annotate(outside=Coalesce(Subquery(sub), V(0)))


def _flag_q(flag: str, now: datetime) -> Q:
    no_deposit = Q(deposited_at__isnull=True, expected_deposit__gt=0)
    late = (no_deposit & Q(deposit_due_at__lt=now)) | Q(deposited_at__gt=F("deposit_due_at"))
    difference = Q(deposited_amount__isnull=False) & ~Q(deposited_amount=F("expected_deposit"))
    outside = Q(outside__gt=0)
    return {
        "late": late,
        "difference": difference,
        "pending": no_deposit & Q(deposit_due_at__gte=now),
        "undeposited": no_deposit,
        "outside": outside,
        "problem": late | difference | outside,
    }.get(flag, Q())


def settlement_rows(
    *,
    centre: Centre | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str | None = None,
    flag: str | None = None,
    now: datetime | None = None,
    limit: int = 100,
    before: tuple[date, int] | None = None,
) -> tuple[list[SettlementRow], tuple[date, int] | None]:
    """Closed days, newest first, with their flags computed at ``now``, and the keyset
    cursor (day, id) of the next page. ``flag``: one of :data:`FLAGS`."""
    moment = now or timezone.now()
    qs = _with_outside(DailySettlement.objects.select_related("centre"))
    if centre is not None:
        qs = qs.filter(centre_id=centre.pk)
    if date_from:
        qs = qs.filter(day__gte=date_from)
    if date_to:
        qs = qs.filter(day__lte=date_to)
    if status:
        qs = qs.filter(status=status)
    if flag:
        qs = qs.filter(_flag_q(flag, moment))
    if before:
        qs = qs.filter(Q(day__lt=before[0]) | Q(day=before[0], pk__lt=before[1]))
    found = list(qs.order_by("-day", "-pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    rows = [_row(s, moment, int(getattr(s, "outside", 0) or 0)) for s in found]
    return rows, ((found[-1].day, found[-1].pk) if more and found else None)


def _row(s: DailySettlement, now: datetime, outside: int) -> SettlementRow:
    no_deposit = s.deposited_at is None and s.expected_deposit > 0
    late = (no_deposit and s.deposit_due_at < now) or (
        s.deposited_at is not None and s.deposited_at > s.deposit_due_at
    )
    difference = (
        s.deposited_amount - s.expected_deposit
        if s.deposited_amount is not None and s.deposited_amount != s.expected_deposit
        else None
    )
    return SettlementRow(
        settlement=s,
        late=late,
        difference=difference,
        pending=no_deposit and s.deposit_due_at >= now,
        outside=outside,
    )


def settlement_flags(s: DailySettlement, *, now: datetime | None = None) -> SettlementRow:
    """The flags of one settlement."""
    got = _with_outside(DailySettlement.objects.filter(pk=s.pk)).first()
    return _row(s, now or timezone.now(), int(getattr(got, "outside", 0) or 0))


@dataclass
class UnclosedDay:
    centre_id: int
    code: str
    name: str
    day: date
    payments: int
    amount: int


def unclosed_days(*, today: date | None = None, limit: int = 50) -> tuple[list[UnclosedDay], int]:
    """Past days with posted payments that no settlement holds and no settlement exists
    for (what ``caudal close-days`` would close), oldest first; and how many there are."""
    on = today or timezone.localdate()
    qs = (
        Payment.objects.filter(
            settlement__isnull=True, payment_date__lt=on, status=PaymentStatus.POSTED
        )
        .exclude(
            Exists(
                DailySettlement.objects.filter(
                    centre_id=OuterRef("centre_id"), day=OuterRef("payment_date")
                )
            )
        )
        .values("centre_id", "centre__code", "centre__name", "payment_date")
        .annotate(n=Count("id"), a=Sum("amount"))
        .order_by("payment_date", "centre__code")
    )
    rows = list(qs[: limit + 1])
    total = len(rows) if len(rows) <= limit else qs.count()
    return [
        UnclosedDay(
            centre_id=r["centre_id"],
            code=r["centre__code"],
            name=r["centre__name"],
            day=r["payment_date"],
            payments=int(r["n"]),
            amount=int(r["a"]),
        )
        for r in rows[:limit]
    ], total


@dataclass
class PendingDeposits:
    count: int
    amount: int
    late: int


def pending_deposits(*, now: datetime | None = None) -> PendingDeposits:
    moment = now or timezone.now()
    got = DailySettlement.objects.filter(
        deposited_at__isnull=True, expected_deposit__gt=0
    ).aggregate(
        n=Count("id"),
        a=Coalesce(Sum("expected_deposit"), ZERO),
        late=Count("id", filter=Q(deposit_due_at__lt=moment)),
    )
    return PendingDeposits(count=int(got["n"]), amount=int(got["a"]), late=int(got["late"]))


@dataclass
class CentreToday:
    centre_id: int
    code: str
    name: str
    kind: str
    payments: int
    collected: int
    reversals: int
    reversed_amount: int
    closed: bool


def today_by_centre(day: date | None = None) -> list[CentreToday]:
    """Every active centre (and any centre with payments that day) with its day so far."""
    on = day or timezone.localdate()
    got: dict[int, dict[str, Any]] = {
        r["centre_id"]: dict(r)
        for r in Payment.objects.filter(payment_date=on)
        .values("centre_id")
        .annotate(
            payments=Count("id", filter=POSTED),
            collected=Coalesce(Sum("amount", filter=POSTED), ZERO),
            reversals=Count("id", filter=REVERSED),
            reversed_amount=Coalesce(Sum("amount", filter=REVERSED), ZERO),
        )
        .order_by()
    }
    closed = set(DailySettlement.objects.filter(day=on).values_list("centre_id", flat=True))
    centres = Centre.objects.filter(Q(active=True) | Q(pk__in=list(got))).order_by("code")
    out = []
    for c in centres:
        r = got.get(c.pk, {})
        out.append(
            CentreToday(
                centre_id=c.pk,
                code=c.code,
                name=c.name,
                kind=c.kind,
                payments=int(r.get("payments", 0)),
                collected=int(r.get("collected", 0)),
                reversals=int(r.get("reversals", 0)),
                reversed_amount=int(r.get("reversed_amount", 0)),
                closed=c.pk in closed,
            )
        )
    return out


# --- the monthly commission report ----------------------------------------------------


@dataclass
class CommissionDay:
    day: date
    payments: int
    collected: int
    reversals: int
    commission: int
    status: str  # the settlement's status, or "open" (not closed yet)
    status_label: str
    provisional: bool  # counts payments that no settlement holds yet


@dataclass
class CommissionReport:
    centre: Centre
    period: Period
    currency: str
    utility: UtilitySettings
    rows: list[CommissionDay]
    payments: int
    collected: int
    reversals: int
    commission: int
    terms: dict[str, Any]
    terms_text: str
    approver: str
    generated_at: datetime

    @property
    def deducted(self) -> bool:
        return bool(self.terms["deducted"])

    @property
    def provisional_days(self) -> int:
        return sum(1 for r in self.rows if r.provisional)

    @property
    def title(self) -> str:
        return _("Informe mensual de comisiones")

    @property
    def month(self) -> str:
        return month_label(self.period)


def commission_report(
    centre: Centre, period: Period | str, *, utility: UtilitySettings | None = None
) -> CommissionReport:
    """``centre``'s commission for the month ``period``: per day from the settlements (the
    commission computed when the day was closed) plus, provisionally, the payments no
    settlement holds yet (with the current terms)."""
    month = Period.parse(period) if isinstance(period, str) else Period(period.year, period.month)
    util = utility or UtilitySettings.current()
    days: dict[date, dict[str, Any]] = {}
    for s in DailySettlement.objects.filter(
        centre_id=centre.pk, day__gte=month.start, day__lte=month.end
    ).values("day", "payments", "collected", "reversals", "commission", "status"):
        days[s["day"]] = {**s, "provisional": False}
    open_days = (
        Payment.objects.filter(
            centre_id=centre.pk,
            payment_date__gte=month.start,
            payment_date__lte=month.end,
            settlement__isnull=True,
        )
        .values("payment_date")
        .annotate(
            payments=Count("id", filter=POSTED),
            collected=Coalesce(Sum("amount", filter=POSTED), ZERO),
            reversals=Count("id", filter=REVERSED),
            commission=Coalesce(Sum(commission_expression(terms(centre)), filter=POSTED), ZERO),
        )
        .order_by()
    )
    for r in open_days:
        row = days.setdefault(
            r["payment_date"],
            {
                "day": r["payment_date"],
                "payments": 0,
                "collected": 0,
                "reversals": 0,
                "commission": 0,
                "status": "open",
            },
        )
        for key in ("payments", "collected", "reversals", "commission"):
            row[key] += int(r[key] or 0)
        row["provisional"] = bool(r["payments"] or r["reversals"])
    rows = [
        CommissionDay(
            day=d["day"],
            payments=int(d["payments"]),
            collected=int(d["collected"]),
            reversals=int(d["reversals"]),
            commission=int(d["commission"]),
            status=d["status"],
            status_label=_("Sin liquidar") if d["status"] == "open" else _("Liquidado"),
            provisional=bool(d["provisional"]),
        )
        for d in sorted(days.values(), key=lambda x: x["day"])
    ]
    return CommissionReport(
        centre=centre,
        period=month,
        currency=util.currency,
        utility=util,
        rows=rows,
        payments=sum(r.payments for r in rows),
        collected=sum(r.collected for r in rows),
        reversals=sum(r.reversals for r in rows),
        commission=sum(r.commission for r in rows),
        terms=terms_dict(centre),
        terms_text=terms_text(centre, util.currency),
        approver=approver(),
        generated_at=timezone.localtime(),
    )


def active_centres(period: Period | str) -> list[Centre]:
    """Centres with payments or settlements in the month, by code."""
    month = Period.parse(period) if isinstance(period, str) else period
    ids = set(
        Payment.objects.filter(payment_date__gte=month.start, payment_date__lte=month.end)
        .values_list("centre_id", flat=True)
        .distinct()
    ) | set(
        DailySettlement.objects.filter(day__gte=month.start, day__lte=month.end)
        .values_list("centre_id", flat=True)
        .distinct()
    )
    return list(Centre.objects.filter(pk__in=ids).order_by("code"))


# --- recaudo: money applied by channel, centre, zone and category ---------------------

#: group → (key column, name column or None)
DIMENSIONS: dict[str, tuple[str, str | None]] = {
    "channel": ("centre__kind", None),
    "centre": ("centre__code", "centre__name"),
    "zone": ("account__property__zone__code", "account__property__zone__name"),
    "category": ("account__category", None),
}
MAX_DAYS = 400


def dimension_labels() -> dict[str, str]:
    return {
        "channel": _("Canal"),
        "centre": _("Centro"),
        "zone": _("Zona"),
        "category": _("Categoría"),
    }


def channel_labels() -> dict[str, str]:
    """Short names of the channels (a centre's kind) for report columns."""
    return {
        CentreKind.OFFICE: _("Caja propia"),
        CentreKind.CAR: _("Centros autorizados (CAR)"),
        CentreKind.BANK: _("Bancos"),
    }


class ReportError(DomainError):
    """Bad report parameters; the message is Spanish."""


RECAUDO_SCHEMA = {
    "day": pl.Date,
    "key": pl.Utf8,
    "label": pl.Utf8,
    "payments": pl.Int64,
    "amount": pl.Int64,
}


def recaudo(
    date_from: date,
    date_to: date,
    by: str,
    *,
    centre: Centre | None = None,
    kind: str | None = None,
) -> pl.DataFrame:
    """Money applied per day and group: ``day, key, label, payments, amount`` (minor
    units), sorted by day and key. Applied = posted and not reversed; grouped by the
    database, so the frame has one row per day and group whatever the payments."""
    if by not in DIMENSIONS:
        raise ReportError(
            _("Agrupación desconocida %(by)s: use channel, centre, zone o category.") % {"by": by}
        )
    if date_from > date_to:
        raise ReportError(_("La fecha inicial es posterior a la final."))
    if (date_to - date_from).days >= MAX_DAYS:
        raise ReportError(_("El rango admite hasta %(n)s días.") % {"n": MAX_DAYS})
    key, name = DIMENSIONS[by]
    qs = Payment.objects.filter(
        status=PaymentStatus.POSTED, payment_date__gte=date_from, payment_date__lte=date_to
    )
    if centre is not None:
        qs = qs.filter(centre_id=centre.pk)
    if kind:
        qs = qs.filter(centre__kind=kind)
    fields = ["payment_date", key] + ([name] if name else [])
    rows = list(
        qs.values(*fields)
        .annotate(payments=Count("id"), amount=Sum("amount"))
        .order_by("payment_date", key)
    )
    fixed = {**channel_labels(), **dict(UseCategory.choices)}
    data = {
        "day": [r["payment_date"] for r in rows],
        "key": [str(r[key]) for r in rows],
        "label": [f"{r[key]} {r[name]}" if name else str(fixed.get(r[key], r[key])) for r in rows],
        "payments": [int(r["payments"]) for r in rows],
        "amount": [int(r["amount"]) for r in rows],
    }
    return pl.DataFrame(data, schema=RECAUDO_SCHEMA)


def by_month(daily: pl.DataFrame) -> pl.DataFrame:
    """``month, key, label, payments, amount`` from a :func:`recaudo` frame."""
    return (
        daily.with_columns(pl.col("day").dt.strftime("%Y-%m").alias("month"))
        .group_by("month", "key", "label")
        .agg(pl.col("payments").sum(), pl.col("amount").sum())
        .sort("month", "key")
    )


def by_group(frame: pl.DataFrame) -> pl.DataFrame:
    """``key, label, payments, amount, share`` (share of the amount, percent) over the
    whole frame, largest first."""
    total = int(frame["amount"].sum() or 0)
    return (
        frame.group_by("key", "label")
        .agg(pl.col("payments").sum(), pl.col("amount").sum())
        .with_columns((pl.col("amount") * 100 / total if total else pl.lit(0.0)).alias("share"))
        .sort(["amount", "key"], descending=[True, False])
    )


def by_day(daily: pl.DataFrame) -> pl.DataFrame:
    """``day, payments, amount`` totals per day."""
    return daily.group_by("day").agg(pl.col("payments").sum(), pl.col("amount").sum()).sort("day")


def pivot_days(daily: pl.DataFrame, keys: Sequence[str]) -> list[tuple[date, list[int], int]]:
    """(day, amount per key in ``keys`` order, day total) for a table of days × groups."""
    if daily.height == 0:
        return []
    wide = daily.pivot(on="key", index="day", values="amount", aggregate_function="sum").sort("day")
    for k in keys:
        if k not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.Int64).alias(k))
    wide = wide.fill_null(0)
    out = []
    for row in wide.select("day", *keys).iter_rows():
        amounts = [int(v) for v in row[1:]]
        out.append((row[0], amounts, sum(amounts)))
    return out


@dataclass
class RecaudoMonth:
    period: Period
    currency: str
    utility: UtilitySettings
    centre: Centre | None
    kind: str | None
    groups: dict[str, pl.DataFrame]  # by dimension: key, label, payments, amount, share
    days: pl.DataFrame  # day, payments, amount
    payments: int
    amount: int
    generated_at: datetime

    @property
    def month(self) -> str:
        return month_label(self.period)


def recaudo_month(
    period: Period | str, *, centre: Centre | None = None, kind: str | None = None
) -> RecaudoMonth:
    month = Period.parse(period) if isinstance(period, str) else period
    util = UtilitySettings.current()
    groups = {}
    daily = None
    for by in DIMENSIONS:
        frame = recaudo(month.start, month.end, by, centre=centre, kind=kind)
        groups[by] = by_group(frame)
        if daily is None:
            daily = by_day(frame)
    assert daily is not None
    return RecaudoMonth(
        period=month,
        currency=util.currency,
        utility=util,
        centre=centre,
        kind=kind,
        groups=groups,
        days=daily,
        payments=int(daily["payments"].sum() or 0),
        amount=int(daily["amount"].sum() or 0),
        generated_at=timezone.localtime(),
    )


# --- PDF ------------------------------------------------------------------------------


def _render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """WeasyPrint, no URL fetched (see ``caudal.billing.document``), DejaVu fonts."""
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(template, context)
    return html_to_pdf(html)


def commission_pdf(reports: CommissionReport | Iterable[CommissionReport]) -> bytes:
    """One report per centre, each starting on a new page."""
    items = [reports] if isinstance(reports, CommissionReport) else list(reports)
    if not items:
        raise ReportError(_("No hay informes que imprimir."))
    return _render_pdf(
        "collection/report_commission.html",
        {"reports": [_commission_view(r) for r in items], "utility": items[0].utility},
    )


def _commission_view(r: CommissionReport) -> dict[str, Any]:
    cur = r.currency
    return {
        "r": r,
        "rows": [
            {
                "day": d.day.strftime("%d/%m/%Y"),
                "weekday": WEEKDAYS[d.day.weekday()],
                "payments": f"{d.payments:,}",
                "collected": amount_text(d.collected, cur),
                "reversals": f"{d.reversals:,}" if d.reversals else "",
                "commission": amount_text(d.commission, cur),
                "status": d.status_label,
                "provisional": d.provisional,
            }
            for d in r.rows
        ],
        "total": {
            "payments": f"{r.payments:,}",
            "collected": money(r.collected, cur),
            "reversals": f"{r.reversals:,}" if r.reversals else "",
            "commission": money(r.commission, cur),
        },
        "symbol": CURRENCY_SYMBOL.get(cur, cur),
        "kind": dict(CentreKind.choices).get(r.centre.kind, r.centre.kind),
        "generated": r.generated_at.strftime("%d/%m/%Y %H:%M"),
    }


WEEKDAYS = ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"]


def recaudo_month_pdf(report: RecaudoMonth) -> bytes:
    cur = report.currency
    labels = dimension_labels()
    sections = []
    for by, frame in report.groups.items():
        sections.append(
            {
                "title": labels[by],
                "rows": [
                    {
                        "label": r["label"],
                        "payments": f"{r['payments']:,}",
                        "amount": amount_text(r["amount"], cur),
                        "share": f"{r['share']:.1f} %",
                    }
                    for r in frame.iter_rows(named=True)
                ],
            }
        )
    days = [
        {
            "day": d["day"].strftime("%d/%m/%Y"),
            "weekday": WEEKDAYS[d["day"].weekday()],
            "payments": f"{d['payments']:,}",
            "amount": amount_text(d["amount"], cur),
        }
        for d in report.days.iter_rows(named=True)
    ]
    return _render_pdf(
        "collection/report_recaudo_month.html",
        {
            "r": report,
            "utility": report.utility,
            "sections": sections,
            "days": days,
            "total": {"payments": f"{report.payments:,}", "amount": money(report.amount, cur)},
            "average": money(report.amount // report.days.height, cur)
            if report.days.height
            else "—",
            "symbol": CURRENCY_SYMBOL.get(cur, cur),
            "kind": dict(CentreKind.choices).get(report.kind or "", ""),
            "generated": report.generated_at.strftime("%d/%m/%Y %H:%M"),
        },
    )


# --- XLSX -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"  # text | int | money | date | pct
    width: float = 14
    total: bool = False


class Book:
    """An XLSX workbook (xlsxwriter) with the formats of our reports: money as numbers in
    major units with the currency's decimals, counts as integers, dates as dates."""

    def __init__(self, currency: str) -> None:
        import xlsxwriter

        self.currency = currency
        self.scale = 10 ** exponent(currency)
        self.buffer = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buffer, {"in_memory": True})
        decimals = exponent(currency)
        money_format = "#,##0" + ("." + "0" * decimals if decimals else "")
        add = self.wb.add_format
        self.f = {
            "title": add({"bold": True, "font_size": 14}),
            "sub": add({"italic": True, "font_color": "#4b5563"}),
            "label": add({"bold": True, "font_color": "#374151"}),
            "head": add(
                {
                    "bold": True,
                    "bg_color": "#1d4e89",
                    "font_color": "#ffffff",
                    "border": 1,
                    "text_wrap": True,
                    "valign": "vcenter",
                }
            ),
            "text": add({}),
            "int": add({"num_format": "#,##0"}),
            "money": add({"num_format": money_format}),
            "date": add({"num_format": "dd/mm/yyyy"}),
            "pct": add({"num_format": "0.0"}),
            "total_text": add({"bold": True, "top": 2}),
            "total_int": add({"bold": True, "top": 2, "num_format": "#,##0"}),
            "total_money": add({"bold": True, "top": 2, "num_format": money_format}),
            "total_pct": add({"bold": True, "top": 2, "num_format": "0.0"}),
            "total_date": add({"bold": True, "top": 2}),
            "sign": add({"top": 1, "align": "center"}),
            "center": add({"align": "center", "font_color": "#4b5563"}),
        }

    def major(self, minor: int) -> float:
        """Minor units as the cell's number (XLSX numbers are IEEE doubles; two decimals
        are exact to the cent for any amount below 2^53 minor units)."""
        return float(Decimal(int(minor)) / self.scale)

    def sheet(self, name: str) -> Any:
        return self.wb.add_worksheet(name[:31])

    def table(
        self,
        ws: Any,
        top: int,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Any]],
        *,
        totals_label: str | None = None,
        freeze: bool = True,
        autofilter: bool = True,
    ) -> int:
        """Header at row ``top`` (0-based), the rows, and a totals row of ``SUM`` formulas
        for the columns marked ``total`` (first column: ``totals_label``). Money values in
        ``rows`` are minor units. Returns the row after the table."""
        from xlsxwriter.utility import xl_rowcol_to_cell

        for c, col in enumerate(columns):
            ws.write_string(top, c, col.title, self.f["head"])
            ws.set_column(c, c, col.width)
        ws.set_row(top, 30)
        for i, row in enumerate(rows):
            r = top + 1 + i
            for c, (col, value) in enumerate(zip(columns, row, strict=True)):
                self._cell(ws, r, c, col.kind, value)
        last = top + len(rows)
        if freeze:
            ws.freeze_panes(top + 1, 0)
        if autofilter and rows:
            ws.autofilter(top, 0, last, len(columns) - 1)
        if totals_label is None:
            return last + 1
        t = last + 1
        for c, col in enumerate(columns):
            if c == 0:
                ws.write_string(t, 0, totals_label, self.f["total_text"])
                continue
            if not col.total:
                ws.write_blank(t, c, None, self.f["total_text"])
                continue
            kind = col.kind if col.kind in ("int", "money", "pct") else "text"
            values = [row[c] or 0 for row in rows]
            cached: float | int = self.major(sum(values)) if col.kind == "money" else sum(values)
            if rows:
                formula = f"=SUM({xl_rowcol_to_cell(top + 1, c)}:{xl_rowcol_to_cell(last, c)})"
            else:
                formula = "=0"
            ws.write_formula(t, c, formula, self.f[f"total_{kind}"], cached)
        return t + 1

    def _cell(self, ws: Any, r: int, c: int, kind: str, value: Any) -> None:
        if value is None or value == "":
            ws.write_blank(r, c, None, self.f["text"])
        elif kind == "money":
            ws.write_number(r, c, self.major(value), self.f["money"])
        elif kind == "int":
            ws.write_number(r, c, int(value), self.f["int"])
        elif kind == "pct":
            ws.write_number(r, c, float(value), self.f["pct"])
        elif kind == "date":
            ws.write_datetime(r, c, datetime.combine(value, datetime.min.time()), self.f["date"])
        else:
            ws.write_string(r, c, str(value), self.f["text"])

    def close(self) -> bytes:
        self.wb.close()
        return self.buffer.getvalue()


def _money_title(title: str, currency: str) -> str:
    return f"{title} ({CURRENCY_SYMBOL.get(currency, currency)})"


def commission_xlsx(reports: CommissionReport | Iterable[CommissionReport]) -> bytes:
    """One sheet per centre (named by its code)."""
    items = [reports] if isinstance(reports, CommissionReport) else list(reports)
    if not items:
        raise ReportError(_("No hay informes que exportar."))
    book = Book(items[0].currency)
    for r in items:
        _commission_sheet(book, r)
    return book.close()


COMMISSION_TOP = 7  # 0-based row of the table header


def _commission_sheet(book: Book, r: CommissionReport) -> None:
    ws = book.sheet(r.centre.code)
    f = book.f
    cur = r.currency
    ws.write_string(0, 0, f"{r.title} · {r.month}", f["title"])
    ws.write_string(1, 0, f"{r.utility.name}  ·  RUC/NIT {r.utility.tax_id}", f["sub"])
    kind = dict(CentreKind.choices).get(r.centre.kind, r.centre.kind)
    ws.write_string(2, 0, _("Centro"), f["label"])
    ws.write_string(2, 1, f"{r.centre.code} · {r.centre.name} ({kind})")
    ws.write_string(3, 0, _("RUC / NIT"), f["label"])
    ws.write_string(3, 1, r.centre.tax_id or "—")
    ws.write_string(4, 0, _("Comisión"), f["label"])
    ws.write_string(4, 1, r.terms_text)
    ws.write_string(5, 0, _("Depósito"), f["label"])
    ws.write_string(
        5,
        1,
        _("La comisión se descuenta de los depósitos diarios.")
        if r.deducted
        else _("Se deposita todo lo recaudado; la comisión se paga con este informe."),
    )
    columns = [
        Column(_("Fecha"), "date", 12),
        Column(_("Pagos"), "int", 10, total=True),
        Column(_money_title(_("Recaudado"), cur), "money", 16, total=True),
        Column(_("Reversiones"), "int", 12, total=True),
        Column(_money_title(_("Comisión"), cur), "money", 14, total=True),
        Column(_("Liquidación"), "text", 28),
    ]
    rows = [
        [
            d.day,
            d.payments,
            d.collected,
            d.reversals,
            d.commission,
            d.status_label + (" *" if d.provisional else ""),
        ]
        for d in r.rows
    ]
    after = book.table(ws, COMMISSION_TOP, columns, rows, totals_label=_("Total del mes"))
    line = after + 1
    if r.provisional_days:
        ws.write_string(
            line,
            0,
            _(
                "* Días sin liquidar (o con pagos fuera de la liquidación): comisión provisional "
                "con los términos vigentes."
            ),
            f["sub"],
        )
        line += 1
    ws.write_string(line + 3, 0, _("Elaborado por"), f["sign"])
    ws.write_string(line + 3, 1, "", f["sign"])
    ws.write_string(line + 3, 3, _("Aprobado por"), f["sign"])
    ws.write_string(line + 3, 4, "", f["sign"])
    ws.write_string(line + 4, 0, r.centre.name, f["center"])
    ws.write_string(line + 4, 3, r.approver, f["center"])
    ws.write_string(
        line + 6,
        0,
        _("Generado el %(at)s") % {"at": r.generated_at.strftime("%d/%m/%Y %H:%M")},
        f["sub"],
    )
    ws.set_column(1, 1, 16)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(COMMISSION_TOP)


def recaudo_xlsx(
    daily: pl.DataFrame,
    *,
    by: str,
    date_from: date,
    date_to: date,
    currency: str | None = None,
    title: str | None = None,
) -> bytes:
    """Sheets ``Resumen`` (per group, with share), ``Diario`` (days × groups, totals
    row and column), ``Mensual`` (month, group) and ``Detalle`` (day, group, payments,
    amount)."""
    cur = currency or UtilitySettings.current().currency
    book = Book(cur)
    f = book.f
    dim = dimension_labels()[by]
    heading = title or _("Recaudo por %(dim)s") % {"dim": dim.lower()}
    period_text = _("Del %(a)s al %(b)s") % {
        "a": date_from.strftime("%d/%m/%Y"),
        "b": date_to.strftime("%d/%m/%Y"),
    }

    groups = by_group(daily)
    ws = book.sheet(_("Resumen"))
    ws.write_string(0, 0, heading, f["title"])
    ws.write_string(1, 0, period_text, f["sub"])
    book.table(
        ws,
        3,
        [
            Column(_("Código"), "text", 14),
            Column(dim, "text", 34),
            Column(_("Pagos"), "int", 12, total=True),
            Column(_money_title(_("Importe"), cur), "money", 18, total=True),
            Column(_("Participación %"), "pct", 14, total=True),
        ],
        [
            [r["key"], r["label"], r["payments"], r["amount"], round(r["share"], 4)]
            for r in groups.iter_rows(named=True)
        ],
        totals_label=_("Total"),
    )

    keys = list(groups.sort("key")["key"])
    names = dict(zip(groups["key"], groups["label"], strict=True))
    ws = book.sheet(_("Diario"))
    ws.write_string(0, 0, heading + " · " + _("por día"), f["title"])
    ws.write_string(1, 0, period_text, f["sub"])
    rows: list[list[Any]] = [[d, *amounts, None] for d, amounts, _t in pivot_days(daily, keys)]
    columns = [
        Column(_("Fecha"), "date", 12),
        *[Column(names[k], "money", 16, total=True) for k in keys],
        Column(_money_title(_("Total"), cur), "money", 18, total=True),
    ]
    _day_table_with_row_totals(book, ws, 3, columns, rows)

    monthly = by_month(daily)
    ws = book.sheet(_("Mensual"))
    ws.write_string(0, 0, heading + " · " + _("por mes"), f["title"])
    ws.write_string(1, 0, period_text, f["sub"])
    book.table(
        ws,
        3,
        [
            Column(_("Mes"), "text", 10),
            Column(_("Código"), "text", 14),
            Column(dim, "text", 34),
            Column(_("Pagos"), "int", 12, total=True),
            Column(_money_title(_("Importe"), cur), "money", 18, total=True),
        ],
        [
            [r["month"], r["key"], r["label"], r["payments"], r["amount"]]
            for r in monthly.iter_rows(named=True)
        ],
        totals_label=_("Total"),
    )

    ws = book.sheet(_("Detalle"))
    ws.write_string(0, 0, heading + " · " + _("detalle diario"), f["title"])
    ws.write_string(1, 0, period_text, f["sub"])
    book.table(
        ws,
        3,
        [
            Column(_("Fecha"), "date", 12),
            Column(_("Código"), "text", 14),
            Column(dim, "text", 34),
            Column(_("Pagos"), "int", 12, total=True),
            Column(_money_title(_("Importe"), cur), "money", 18, total=True),
        ],
        [
            [r["day"], r["key"], r["label"], r["payments"], r["amount"]]
            for r in daily.iter_rows(named=True)
        ],
        totals_label=_("Total"),
    )
    return book.close()


def _day_table_with_row_totals(
    book: Book, ws: Any, top: int, columns: Sequence[Column], rows: list[list[Any]]
) -> None:
    """A days × groups table whose last column is a per-row ``SUM`` formula."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    last_col = len(columns) - 1
    for row in rows:
        row[last_col] = sum(v or 0 for v in row[1:last_col])
    book.table(ws, top, columns, rows, totals_label=_("Total"))
    if last_col < 2:
        return
    for i, row in enumerate(rows):
        r = top + 1 + i
        formula = f"=SUM({xl_rowcol_to_cell(r, 1)}:{xl_rowcol_to_cell(r, last_col - 1)})"
        ws.write_formula(r, last_col, formula, book.f["money"], book.major(row[last_col]))
