"""Daily settlement (liquidación) of a centre's collections, and its deposit.

Closing a day freezes it: the day's payments point at the settlement, cannot be reversed
any more, and the centre owes the expected deposit by the deadline (next day 10:30 by
default). A day can be closed once. A payment a centre posts for a day that is already
closed belongs to no settlement: the settlements list flags it ("pagos fuera de la
liquidación") and the reports count it as provisional. Deposits are registered against
the settlement; the status tells a supervisor which days to chase.

Everything here is set-based: closing a day claims its payments with one ``UPDATE`` and
adds them up (count, amount, commission) with one aggregate query, whatever the number of
payments of a bank's day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.db.models import Value as V
from django.db.models.expressions import Expression
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record

from . import errors, rules
from .models import Centre, DailySettlement, Payment, PaymentStatus, SettlementStatus

#: ``commission_rate`` has 5 decimal places: rate × 10⁵ is a whole number.
RATE_SCALE = 100_000


def terms(centre: Centre) -> rules.CommissionTerms:
    return rules.CommissionTerms(
        fixed=centre.commission_fixed,
        rate=centre.commission_rate,
        minimum=centre.commission_minimum,
    )


def terms_dict(centre: Centre) -> dict[str, Any]:
    """The commission terms as plain JSON values (for audit events and reports)."""
    return {
        "fixed": int(centre.commission_fixed),
        "rate": str(Decimal(centre.commission_rate).quantize(Decimal("0.00001"))),
        "minimum": int(centre.commission_minimum),
        "deducted": bool(centre.commission_deducted),
    }


def commission_expression(t: rules.CommissionTerms, amount: str = "amount") -> Expression:
    """``rules.commission`` as a SQL expression over the column ``amount`` (minor units).

    ``max(minimum, fixed + round_half_up(amount × rate))`` in integer arithmetic:
    ``round_half_up(a × r / 10⁵) = (a × r + 50 000) div 10⁵`` for a > 0 (payments are
    positive by constraint). Exact on SQLite and PostgreSQL; tests compare it with the rule.
    """
    scaled = Decimal(t.rate) * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"commission rate {t.rate} has more than 5 decimal places")
    variable = (F(amount) * V(int(scaled)) + V(RATE_SCALE // 2)) / V(RATE_SCALE)
    return ExpressionWrapper(
        Greatest(V(int(t.minimum)), V(int(t.fixed)) + variable),
        output_field=BigIntegerField(),
    )


def _aware(value: datetime) -> datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _figures(settlement_id: int, t: rules.CommissionTerms) -> dict[str, int]:
    posted = Q(status=PaymentStatus.POSTED)
    reversed_ = Q(status=PaymentStatus.REVERSED)
    zero = V(0, output_field=BigIntegerField())
    got = Payment.objects.filter(settlement_id=settlement_id).aggregate(
        payments=Count("id", filter=posted),
        collected=Coalesce(Sum("amount", filter=posted), zero),
        commission=Coalesce(Sum(commission_expression(t), filter=posted), zero),
        reversals=Count("id", filter=reversed_),
        reversed_amount=Coalesce(Sum("amount", filter=reversed_), zero),
    )
    return {k: int(v or 0) for k, v in got.items()}


def do_close_day(
    centre: Centre, day: date, *, actor: ActorLike, now: datetime | None = None
) -> DailySettlement:
    """Close ``centre``'s ``day``: totals, commission, expected deposit and deadline.

    A day with nothing to deposit (no payments, or a deducted commission that eats the
    whole collection) is settled at once (status ``deposited``, deposited amount 0)."""
    moment = now or timezone.now()
    if day > timezone.localdate(moment):
        raise errors.PaymentRefused(
            errors.INVALID, _("No se puede liquidar un día futuro (%(d)s).") % {"d": day}
        )
    _user, label = actor_parts(actor)
    t = terms(centre)
    try:
        with transaction.atomic():
            if DailySettlement.objects.filter(centre_id=centre.pk, day=day).exists():
                raise errors.PaymentRefused(
                    errors.DAY_CLOSED,
                    _("El día %(d)s del centro %(c)s ya está liquidado.")
                    % {"d": day.isoformat(), "c": centre.code},
                    status=409,
                )
            settlement = DailySettlement.objects.create(
                centre=centre,
                day=day,
                deposit_due_at=_aware(
                    rules.deposit_deadline(day, days=centre.deposit_days, at=centre.deposit_time)
                ),
                closed_by_label=label[:150],
            )
            # One statement claims the day's payments: what it did not see (a payment
            # committed after it) stays outside the settlement, flagged by the reports.
            Payment.objects.filter(
                centre_id=centre.pk, payment_date=day, settlement__isnull=True
            ).update(settlement=settlement)
            figures = _figures(settlement.pk, t)
            settlement.payments = figures["payments"]
            settlement.collected = figures["collected"]
            settlement.reversals = figures["reversals"]
            settlement.reversed_amount = figures["reversed_amount"]
            settlement.commission = figures["commission"]
            settlement.expected_deposit = rules.expected_deposit(
                figures["collected"], figures["commission"], deducted=centre.commission_deducted
            )
            if settlement.expected_deposit <= 0:
                settlement.status = SettlementStatus.DEPOSITED
                settlement.deposited_amount = 0
            else:
                settlement.status = rules.deposit_status(
                    expected=settlement.expected_deposit,
                    deposited=None,
                    deposited_at=None,
                    due_at=settlement.deposit_due_at,
                    now=moment,
                )
            settlement.save()
            record(
                actor=actor,
                action="collection.close_day",
                object_type="collection.dailysettlement",
                object_id=settlement.pk,
                after={
                    "centre": centre.code,
                    "day": day.isoformat(),
                    "payments": settlement.payments,
                    "collected": settlement.collected,
                    "reversals": settlement.reversals,
                    "commission": settlement.commission,
                    "expected_deposit": settlement.expected_deposit,
                    "status": settlement.status,
                    "terms": terms_dict(centre),
                },
            )
            return settlement
    except IntegrityError as exc:
        raise errors.PaymentRefused(
            errors.DAY_CLOSED, _("El día %(d)s ya está liquidado.") % {"d": day}, status=409
        ) from exc


def do_register_deposit(
    settlement: DailySettlement | int,
    *,
    amount: int,
    deposited_at: datetime,
    reference: str = "",
    actor: ActorLike,
    now: datetime | None = None,
) -> DailySettlement:
    """Register the bank deposit of a closed day and set its status.

    Registering again corrects the deposit (the audit event keeps what it was)."""
    moment = now or timezone.now()
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise errors.PaymentRefused(errors.INVALID, _("El depósito debe ser un importe entero."))
    if amount < 0:
        raise errors.PaymentRefused(errors.INVALID, _("El depósito no puede ser negativo."))
    when = _aware(deposited_at)
    with transaction.atomic():
        row = DailySettlement.objects.select_for_update().get(
            pk=settlement if isinstance(settlement, int) else settlement.pk
        )
        if timezone.localdate(when) < row.day:
            raise errors.PaymentRefused(
                errors.INVALID,
                _("El depósito (%(at)s) es anterior al día liquidado (%(d)s).")
                % {"at": timezone.localtime(when).strftime("%d/%m/%Y %H:%M"), "d": row.day},
            )
        before = {
            "deposited_amount": row.deposited_amount,
            "deposited_at": row.deposited_at.isoformat() if row.deposited_at else None,
            "reference": row.deposit_reference,
            "status": row.status,
        }
        row.deposited_amount = int(amount)
        row.deposited_at = when
        row.deposit_reference = reference.strip()[:60]
        row.status = rules.deposit_status(
            expected=row.expected_deposit,
            deposited=row.deposited_amount,
            deposited_at=row.deposited_at,
            due_at=row.deposit_due_at,
            now=moment,
        )
        row.save(update_fields=["deposited_amount", "deposited_at", "deposit_reference", "status"])
        record(
            actor=actor,
            action="collection.register_deposit",
            object_type="collection.dailysettlement",
            object_id=row.pk,
            before=before,
            after={
                "deposited_amount": row.deposited_amount,
                "deposited_at": row.deposited_at.isoformat(),
                "reference": row.deposit_reference,
                "status": row.status,
                "difference": row.deposited_amount - row.expected_deposit,
            },
        )
        return row


def refresh_overdue(*, now: datetime | None = None) -> int:
    """Mark closed days whose deposit deadline passed without a deposit as ``late``."""
    moment = now or timezone.now()
    return DailySettlement.objects.filter(
        status=SettlementStatus.CLOSED,
        deposited_at__isnull=True,
        expected_deposit__gt=0,
        deposit_due_at__lt=moment,
    ).update(status=SettlementStatus.LATE)


# --- closing every centre's past days -------------------------------------------------


@dataclass
class CloseResult:
    """What :func:`close_due_days` did."""

    closed: list[DailySettlement] = field(default_factory=list)
    #: (centre code, day, payments) posted for a day that was already closed
    outside: list[tuple[str, date, int]] = field(default_factory=list)
    refused: list[tuple[str, date, str]] = field(default_factory=list)
    marked_late: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "closed": [
                {
                    "centre": s.centre.code,
                    "day": s.day.isoformat(),
                    "payments": s.payments,
                    "collected": s.collected,
                    "commission": s.commission,
                    "expected_deposit": s.expected_deposit,
                    "deposit_due_at": s.deposit_due_at.isoformat(),
                    "status": s.status,
                }
                for s in self.closed
            ],
            "outside": [
                {"centre": c, "day": d.isoformat(), "payments": n} for c, d, n in self.outside
            ],
            "refused": [
                {"centre": c, "day": d.isoformat(), "reason": r} for c, d, r in self.refused
            ],
            "marked_late": self.marked_late,
        }


def close_due_days(
    *, now: datetime | None = None, day: date | None = None, actor: ActorLike = "close-days"
) -> CloseResult:
    """Close every centre's unclosed days that have payments, then mark overdue deposits.

    Without ``day``: every day before today (the end-of-day job; a centre that did not
    close its own day over the API is closed for it). With ``day``: that day only (today
    included, an operator's choice). Days already closed are never touched; payments
    posted for them after the close are listed in ``outside``.
    """
    moment = now or timezone.now()
    today = timezone.localdate(moment)
    pending = Payment.objects.filter(settlement__isnull=True)
    pending = pending.filter(payment_date=day) if day else pending.filter(payment_date__lt=today)
    groups = list(
        pending.values("centre_id", "payment_date")
        .annotate(
            n=Count("id"),
            closed=Exists(
                DailySettlement.objects.filter(
                    centre_id=OuterRef("centre_id"), day=OuterRef("payment_date")
                )
            ),
        )
        .order_by("payment_date", "centre_id")
    )
    centres = Centre.objects.in_bulk({g["centre_id"] for g in groups})
    result = CloseResult()
    for g in groups:
        centre = centres[g["centre_id"]]
        if g["closed"]:
            result.outside.append((centre.code, g["payment_date"], int(g["n"])))
            continue
        try:
            result.closed.append(do_close_day(centre, g["payment_date"], actor=actor, now=moment))
        except errors.PaymentRefused as exc:  # closed meanwhile by the centre itself
            result.refused.append((centre.code, g["payment_date"], str(exc)))
    result.marked_late = refresh_overdue(now=moment)
    return result
