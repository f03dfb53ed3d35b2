"""Collection actions: every write of the collection app goes through a ``do_*`` here.

The payment path (:func:`do_post_centre_payment`) is shared by the API of the collection
centres, the cash desk and the demo: resolve the reference, check the amount against the
centre's rule, post through the ledger (allocation policy, overpayment as credit, blocked
items never paid), record who collected it, and note a reconnection when the payment clears
the debt of a cut account. It is idempotent per centre and key: a retry returns the
payment first posted; the same key with a different request is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.billing.models import Bill
from caudal.cadastre.models import Account, Connection, ConnectionStatus, Service
from caudal.ledger import actions as ledger
from caudal.ledger.models import OpenItem, Side

from . import errors, rules
from .models import (
    ApiKey,
    CashierSession,
    Centre,
    Payment,
    PaymentPoint,
    PaymentStatus,
    ReconnectionDue,
)

#: ``last_used_at`` of a key is written at most this often (not on every request).
KEY_TOUCH_INTERVAL = timedelta(seconds=60)


# --- what is owed ----------------------------------------------------------------------


@dataclass
class OpenBill:
    number: str
    period: str
    due_date: date
    payment_reference: str
    open_amount: int


@dataclass
class Debt:
    """What an account owes, as a centre or a cashier sees it before taking a payment."""

    account: Account
    bill: Bill | None  # the bill named by the reference, if it was a bill reference
    due: int  # what an ``exact`` centre must collect for this reference
    payable: int  # open unblocked debits − open credits (never below 0)
    overdue: int  # open unblocked debits past due
    blocked: int  # open blocked (disputed) debits: not payable until resolved
    credit: int  # open credits (saldo a favor)
    bills: list[OpenBill] = field(default_factory=list)


def resolve(reference: str) -> tuple[Account, Bill | None]:
    """An account number or a bill's payment reference (GS1 8020 / Peruvian payment code)."""
    ref = (reference or "").strip()
    if not ref:
        raise errors.PaymentRefused(
            errors.INVALID, _("Indique el número de suministro o la referencia del recibo.")
        )
    account = Account.objects.filter(number=ref).first()
    if account is not None:
        return account, None
    bill = (
        Bill.objects.select_related("account")
        .filter(payment_reference=ref)
        .order_by("-version")
        .first()
    )
    if bill is None and ref.isdigit():
        stripped = ref.lstrip("0")
        account = Account.objects.filter(number=stripped).first()
        if account is not None:
            return account, None
        bill = Bill.objects.select_related("account").filter(payment_reference=stripped).first()
    if bill is None:
        raise errors.PaymentRefused(
            errors.UNKNOWN_REFERENCE,
            _("No existe un suministro ni un recibo con la referencia %(ref)s.") % {"ref": ref},
            status=404,
        )
    return bill.account, bill


def debt(account: Account, bill: Bill | None = None, *, on: date | None = None) -> Debt:
    """The account's debt on ``on`` (today by default), and what its reference asks for."""
    today = on or timezone.localdate()
    rows = list(
        OpenItem.objects.filter(account_id=account.pk, open_amount__gt=0).values_list(
            "side", "open_amount", "due_date", "blocked", "document_id"
        )
    )
    debits = sum(a for s, a, _d, b, _doc in rows if s == Side.DEBIT and not b)
    blocked = sum(a for s, a, _d, b, _doc in rows if s == Side.DEBIT and b)
    credit = sum(a for s, a, _d, _b, _doc in rows if s == Side.CREDIT)
    overdue = sum(a for s, a, d, b, _doc in rows if s == Side.DEBIT and not b and d < today)
    payable = max(0, debits - credit)
    open_by_doc: dict[int, int] = {}
    for s, a, _d, b, doc in rows:
        if s == Side.DEBIT and not b:
            open_by_doc[doc] = open_by_doc.get(doc, 0) + a
    bills = [
        OpenBill(
            number=b.number,
            period=b.period,
            due_date=b.due_date,
            payment_reference=b.payment_reference,
            open_amount=open_by_doc.get(b.document_id or 0, 0),
        )
        for b in Bill.objects.filter(account_id=account.pk, document_id__in=list(open_by_doc))
        .only("number", "period", "due_date", "payment_reference", "document_id")
        .order_by("due_date", "pk")
    ]
    due = payable
    if bill is not None:
        own = open_by_doc.get(bill.document_id or 0, 0)
        # The bill's total includes the previous debt it listed; what was paid since is not
        # asked again. A bill already paid asks nothing.
        due = 0 if own == 0 else max(own, min(bill.total_due, payable))
    return Debt(
        account=account,
        bill=bill,
        due=due,
        payable=payable,
        overdue=overdue,
        blocked=blocked,
        credit=credit,
        bills=bills,
    )


# --- posting ---------------------------------------------------------------------------


@dataclass
class PostResult:
    payment: Payment
    replay: bool  # True when an earlier request with the same key posted it


def _request_fields(
    reference: str, amount: int, method: str, external_reference: str, point: str
) -> dict[str, object]:
    return {
        "reference": reference.strip(),
        "amount": int(amount),
        "method": method,
        "external_reference": external_reference,
        "point": point,
    }


def _replay(centre: Centre, key: str, fingerprint: str) -> PostResult | None:
    existing = Payment.objects.filter(centre_id=centre.pk, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_hash != fingerprint:
        raise errors.PaymentRefused(
            errors.KEY_REUSED,
            _(
                "La clave de idempotencia %(key)s ya se usó para otro pago "
                "(suministro, importe o medio distintos)."
            )
            % {"key": key},
            status=409,
        )
    return PostResult(payment=existing, replay=True)


def _document_reference(centre: Centre, key: str) -> str:
    if not key:
        return ""
    ref = f"{centre.code}:{key}"
    return ref if len(ref) <= 64 else f"{centre.code}:{rules.request_hash({'k': key})[:40]}"


def do_post_centre_payment(
    *,
    centre: Centre,
    reference: str,
    amount: int,
    method: str = "cash",
    idempotency_key: str = "",
    external_reference: str = "",
    point: PaymentPoint | None = None,
    session: CashierSession | None = None,
    received_at: datetime | None = None,
    actor: ActorLike,
) -> PostResult:
    """Post a payment collected by ``centre`` (see the module docstring).

    Raises :class:`errors.PaymentRefused` (unknown reference, nothing due, wrong amount,
    key reused for a different request, inactive centre) and posts nothing then.
    """
    if not centre.active:
        raise errors.PaymentRefused(
            errors.INACTIVE, _("El centro %(c)s está inactivo.") % {"c": centre.code}, status=403
        )
    if method not in rules.METHODS:
        raise errors.PaymentRefused(
            errors.INVALID, _("Medio de pago desconocido: %(m)s.") % {"m": method}
        )
    key = (idempotency_key or "").strip()
    if len(key) > 80:
        raise errors.PaymentRefused(
            errors.INVALID, _("La clave de idempotencia admite hasta 80 caracteres.")
        )
    if point is not None and point.centre_id != centre.pk:
        raise errors.PaymentRefused(
            errors.INVALID, _("El punto de pago no pertenece al centro."), status=422
        )
    fingerprint = rules.request_hash(
        _request_fields(reference, amount, method, external_reference, point.code if point else "")
    )
    when = received_at or timezone.now()
    try:
        with transaction.atomic():
            if key:
                replay = _replay(centre, key, fingerprint)
                if replay is not None:
                    return replay
            account, bill = resolve(reference)
            owed = debt(account, bill, on=timezone.localdate(when))
            if bill is not None and owed.due == 0:
                raise errors.PaymentRefused(
                    errors.NOTHING_DUE,
                    _("El recibo %(n)s ya está pagado.") % {"n": bill.number},
                    status=409,
                )
            problem = rules.check_amount(centre.amount_rule, int(amount), owed.due)
            if problem:
                code = errors.NOTHING_DUE if owed.due <= 0 else errors.WRONG_AMOUNT
                raise errors.PaymentRefused(
                    code, problem, status=409 if code == errors.NOTHING_DUE else 422
                )
            paid_on = timezone.localdate(when)
            document = ledger.do_post_payment(
                account.pk,
                amount=int(amount),
                payment_date=paid_on,
                reference=_document_reference(centre, key),
                source=f"collection:{centre.code}"[:64],
                actor=actor,
            )
            user, _label = actor_parts(actor)
            payment = Payment.objects.create(
                centre=centre,
                point=point,
                account=account,
                amount=int(amount),
                payment_date=paid_on,
                received_at=when,
                method=method,
                bill_reference=bill.payment_reference if bill else "",
                external_reference=external_reference[:64],
                idempotency_key=key,
                request_hash=fingerprint,
                document=document,
                session=session,
                created_by=user,
            )
            note_reconnection(account.pk, payment=payment, document_id=document.pk, on=paid_on)
            return PostResult(payment=payment, replay=False)
    except IntegrityError:
        # A concurrent request with the same key won the race (PostgreSQL): answer as a retry.
        if key:
            replay = _replay(centre, key, fingerprint)
            if replay is not None:
                return replay
        raise


def note_reconnection(
    account_id: int, *, payment: Payment | None, document_id: int, on: date
) -> ReconnectionDue | None:
    """Record that a cut account no longer owes its overdue debt.

    Rule: the account's water connection is ``cut`` and, after the payment, no unblocked
    debit item due before ``on`` is open (blocked items are disputed: they never keep an
    account cut). One pending record per account: a second payment adds none.
    """
    if not Connection.objects.filter(
        account_id=account_id, service=Service.WATER, status=ConnectionStatus.CUT
    ).exists():
        return None
    still_overdue = OpenItem.objects.filter(
        account_id=account_id,
        side=Side.DEBIT,
        open_amount__gt=0,
        blocked=False,
        due_date__lt=on,
    ).exists()
    if still_overdue:
        return None
    if ReconnectionDue.objects.filter(account_id=account_id, handled_at__isnull=True).exists():
        return None
    return ReconnectionDue.objects.create(
        account_id=account_id, payment=payment, document_id=document_id, cleared_on=on
    )


def do_reverse_payment(
    payment: Payment | int,
    *,
    reason: str,
    actor: ActorLike,
    centre: Centre | None = None,
    today: date | None = None,
) -> Payment:
    """Reverse (anular) a payment the day it was taken, before its day is settled.

    With ``centre``, a payment of another centre is reported as not found (a centre sees
    only its own payments). The ledger reversal re-opens what the payment cleared.
    """
    why = (reason or "").strip()
    if not why:
        raise errors.PaymentRefused(errors.INVALID, _("Indique el motivo de la reversión."))
    pk = payment if isinstance(payment, int) else payment.pk
    day = today or timezone.localdate()
    with transaction.atomic():
        qs = Payment.objects.select_for_update().filter(pk=pk)
        if centre is not None:
            qs = qs.filter(centre_id=centre.pk)
        row = qs.first()
        if row is None:
            raise errors.PaymentRefused(
                errors.NOT_FOUND, _("El pago %(id)s no existe.") % {"id": pk}, status=404
            )
        if row.status == PaymentStatus.REVERSED:
            raise errors.PaymentRefused(
                errors.ALREADY_REVERSED, _("El pago ya fue reversado."), status=409
            )
        if row.settlement_id is not None:
            raise errors.PaymentRefused(
                errors.DAY_CLOSED,
                _("El día %(d)s ya fue liquidado: el pago no se puede reversar.")
                % {"d": row.payment_date.isoformat()},
                status=409,
            )
        if row.payment_date != day:
            raise errors.PaymentRefused(
                errors.NOT_SAME_DAY,
                _("Solo se reversan pagos del mismo día (el pago es del %(d)s).")
                % {"d": row.payment_date.isoformat()},
                status=409,
            )
        reversal = ledger.do_reverse_document(
            row.document_id, reason=why, posting_date=day, actor=actor
        )
        row.status = PaymentStatus.REVERSED
        row.reversal_document = reversal
        row.reversed_at = timezone.now()
        row.save(update_fields=["status", "reversal_document", "reversed_at"])
        record(
            actor=actor,
            action="collection.reverse_payment",
            object_type="collection.payment",
            object_id=row.pk,
            account_id=row.account_id,
            before={"status": PaymentStatus.POSTED, "amount": row.amount},
            after={"status": PaymentStatus.REVERSED, "reversal_document": reversal.pk},
            reason=why,
        )
        return row


# --- API keys --------------------------------------------------------------------------


def do_issue_key(centre: Centre, *, label: str = "", actor: ActorLike) -> tuple[ApiKey, str]:
    """A new key for ``centre``. The raw key is returned once and never stored."""
    user, _label = actor_parts(actor)
    with transaction.atomic():
        for _attempt in range(5):
            prefix = secrets.token_hex(4)
            if not ApiKey.objects.filter(prefix=prefix).exists():
                break
        secret = secrets.token_urlsafe(32).replace("_", "-")
        key = ApiKey.objects.create(
            centre=centre,
            prefix=prefix,
            secret_hash=rules.secret_hash(secret),
            label=label[:80],
            created_by=user,
        )
        record(
            actor=actor,
            action="collection.issue_key",
            object_type="collection.apikey",
            object_id=key.pk,
            after={"centre": centre.code, "prefix": prefix, "label": key.label},
        )
    return key, f"cau_{prefix}_{secret}"


def do_revoke_key(key: ApiKey | int, *, actor: ActorLike, reason: str = "") -> ApiKey:
    with transaction.atomic():
        row = ApiKey.objects.select_for_update().get(pk=key if isinstance(key, int) else key.pk)
        if row.revoked_at is None:
            row.revoked_at = timezone.now()
            row.save(update_fields=["revoked_at"])
            record(
                actor=actor,
                action="collection.revoke_key",
                object_type="collection.apikey",
                object_id=row.pk,
                after={"prefix": row.prefix, "revoked_at": row.revoked_at.isoformat()},
                reason=reason,
            )
    return row


def do_rotate_key(key: ApiKey | int, *, actor: ActorLike) -> tuple[ApiKey, str]:
    """Issue a new key for the same centre and label, then revoke the old one."""
    with transaction.atomic():
        old = ApiKey.objects.select_related("centre").get(
            pk=key if isinstance(key, int) else key.pk
        )
        new, raw = do_issue_key(old.centre, label=old.label, actor=actor)
        do_revoke_key(old, actor=actor, reason=f"rotada: nueva clave {new.prefix}")
    return new, raw


def authenticate(raw: str) -> ApiKey | None:
    """The live key for ``raw`` (``cau_<prefix>_<secret>``), with its centre; None if the key
    is unknown, wrong, revoked or its centre is inactive."""
    parts = rules.split_key(raw or "")
    if parts is None:
        return None
    prefix, secret = parts
    key = ApiKey.objects.select_related("centre").filter(prefix=prefix).first()
    if key is None or key.revoked_at is not None or not key.centre.active:
        return None
    if not secrets.compare_digest(key.secret_hash, rules.secret_hash(secret)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def day_payments(centre: Centre, day: date) -> dict[str, Any]:
    """Totals of a centre's day so far (posted and reversed)."""
    qs = Payment.objects.filter(centre_id=centre.pk, payment_date=day)
    posted = qs.filter(status=PaymentStatus.POSTED).aggregate(n=Count("id"), total=Sum("amount"))
    reversed_ = qs.filter(status=PaymentStatus.REVERSED).aggregate(
        n=Count("id"), total=Sum("amount")
    )
    return {
        "payments": int(posted["n"] or 0),
        "collected": int(posted["total"] or 0),
        "reversals": int(reversed_["n"] or 0),
        "reversed_amount": int(reversed_["total"] or 0),
    }
