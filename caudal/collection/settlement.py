"""Daily settlement (liquidación) of a centre's collections, and its deposit.

Closing a day freezes it: the day's payments point at the settlement, cannot be reversed
any more, and the centre owes the expected deposit by the deadline (next day 10:30 by
default). A day can be closed once; payments the centre posts later that day belong to no
settlement until the day is closed again (refused: a closed day is closed). Deposits are
registered against the settlement; the status tells a supervisor which days to chase.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record

from . import errors, rules
from .models import Centre, DailySettlement, Payment, PaymentStatus


def terms(centre: Centre) -> rules.CommissionTerms:
    return rules.CommissionTerms(
        fixed=centre.commission_fixed,
        rate=centre.commission_rate,
        minimum=centre.commission_minimum,
    )


def _aware(value: datetime) -> datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def do_close_day(
    centre: Centre, day: date, *, actor: ActorLike, now: datetime | None = None
) -> DailySettlement:
    """Close ``centre``'s ``day``: totals, commission, expected deposit and deadline."""
    moment = now or timezone.now()
    if day > timezone.localdate(moment):
        raise errors.PaymentRefused(
            errors.INVALID, _("No se puede liquidar un día futuro (%(d)s).") % {"d": day}
        )
    _user, label = actor_parts(actor)
    try:
        with transaction.atomic():
            if DailySettlement.objects.filter(centre_id=centre.pk, day=day).exists():
                raise errors.PaymentRefused(
                    errors.DAY_CLOSED,
                    _("El día %(d)s del centro %(c)s ya está liquidado.")
                    % {"d": day.isoformat(), "c": centre.code},
                    status=409,
                )
            rows = list(
                Payment.objects.select_for_update()
                .filter(centre_id=centre.pk, payment_date=day, settlement__isnull=True)
                .values_list("pk", "amount", "status")
            )
            posted = [a for _pk, a, s in rows if s == PaymentStatus.POSTED]
            reversed_ = [a for _pk, a, s in rows if s == PaymentStatus.REVERSED]
            commission = rules.day_commission(posted, terms(centre))
            collected = sum(posted)
            settlement = DailySettlement.objects.create(
                centre=centre,
                day=day,
                payments=len(posted),
                collected=collected,
                reversals=len(reversed_),
                reversed_amount=sum(reversed_),
                commission=commission,
                expected_deposit=rules.expected_deposit(
                    collected, commission, deducted=centre.commission_deducted
                ),
                deposit_due_at=_aware(
                    rules.deposit_deadline(day, days=centre.deposit_days, at=centre.deposit_time)
                ),
                closed_by_label=label[:150],
            )
            Payment.objects.filter(pk__in=[pk for pk, _a, _s in rows]).update(settlement=settlement)
            record(
                actor=actor,
                action="collection.close_day",
                object_type="collection.dailysettlement",
                object_id=settlement.pk,
                after={
                    "centre": centre.code,
                    "day": day.isoformat(),
                    "payments": settlement.payments,
                    "collected": collected,
                    "reversals": settlement.reversals,
                    "commission": commission,
                    "expected_deposit": settlement.expected_deposit,
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
    """Register the bank deposit of a closed day and set its status."""
    if amount < 0:
        raise errors.PaymentRefused(errors.INVALID, _("El depósito no puede ser negativo."))
    with transaction.atomic():
        row = DailySettlement.objects.select_for_update().get(
            pk=settlement if isinstance(settlement, int) else settlement.pk
        )
        before = {"deposited_amount": row.deposited_amount, "status": row.status}
        row.deposited_amount = int(amount)
        row.deposited_at = _aware(deposited_at)
        row.deposit_reference = reference[:60]
        row.status = rules.deposit_status(
            expected=row.expected_deposit,
            deposited=row.deposited_amount,
            deposited_at=row.deposited_at,
            due_at=row.deposit_due_at,
            now=now or timezone.now(),
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
        status="closed", deposited_at__isnull=True, deposit_due_at__lt=moment
    ).update(status="late")
