"""The cash desk (caja): cashier sessions and the payments taken in them.

Rules a cash supervisor would state:

- A cashier works in a **session** opened at a payment point of the utility's own office
  (a centre of kind ``office``), with an opening float (fondo de caja) of cash. A cashier
  has at most one open session (a database constraint backs the check).
- Every payment of a session goes through the shared payment path
  (:func:`caudal.collection.actions.do_post_centre_payment`) with the session's point and
  centre, so the office centre's amount rule applies (usually ``any``: the excess stays as
  a credit). Its idempotency key is ``caja:<session>:<client key>``: the form carries a
  UUID made when it was drawn, so a double click or a resubmitted form posts once.
  Methods at the desk: cash, card (authorization code and last 4 digits) and cheque
  (bank and number); the card or cheque data become the payment's external reference.
  For cash the change to give is tendered − amount.
- A cashier can reverse (anular) a payment of their open session the day it was taken,
  with a reason; the ledger reversal reopens what it paid.
- **Expected** per method = the session's posted (not reversed) payments; cash also
  includes the opening float. At closing the cashier declares the **counted** amounts
  per method without seeing the expected ones (blind count); the difference counted −
  expected is recorded (negative = shortage, faltante; positive = surplus, sobrante), and
  a difference needs a note. A closed session cannot be closed again nor take payments.
- A supervisor **reviews** closed sessions, never their own; reviewing a session with a
  difference needs a note.

Every ``do_*`` here is atomic and writes an audit event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record

from . import actions, errors, rules
from .models import (
    CashierSession,
    CentreKind,
    Payment,
    PaymentMethod,
    PaymentPoint,
    PaymentStatus,
    SessionStatus,
)

#: Payment methods a cashier takes at the desk, in the order the page shows them.
DESK_METHODS = (PaymentMethod.CASH.value, PaymentMethod.CARD.value, PaymentMethod.CHEQUE.value)

SESSION_OPEN = "session_open"  # the cashier already has an open session
SESSION_CLOSED = "session_closed"  # the session is closed
NOT_YOUR_SESSION = "not_your_session"
ALREADY_REVIEWED = "already_reviewed"

_CLIENT_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_AUTHORIZATION = re.compile(r"^[A-Za-z0-9]{1,12}$")


class CashDeskError(errors.PaymentRefused):
    """A cash desk action was refused. ``field`` names the form field it is about."""

    def __init__(self, code: str, message: str, *, field: str = "", status: int = 409) -> None:
        super().__init__(code, message, status=status)
        self.field = field


def _invalid(field: str, message: str) -> CashDeskError:
    return CashDeskError(errors.INVALID, message, field=field, status=422)


def _user_id(actor: ActorLike) -> int | None:
    user, _label = actor_parts(actor)
    return user.pk if user is not None else None


def _lock(session: CashierSession | int) -> CashierSession:
    pk = session if isinstance(session, int) else session.pk
    row = (
        CashierSession.objects.select_for_update(of=("self",))
        .select_related("point__centre")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise CashDeskError(
            errors.NOT_FOUND, _("La sesión de caja %(id)s no existe.") % {"id": pk}, status=404
        )
    return row


def open_session_of(cashier_id: int | None) -> CashierSession | None:
    """The cashier's open session, with its point and centre, or None."""
    return (
        CashierSession.objects.select_related("point__centre")
        .filter(cashier_id=cashier_id, status=SessionStatus.OPEN)
        .first()
    )


def desk_points() -> list[PaymentPoint]:
    """Active points of the utility's own active office centres: where a session opens."""
    return list(
        PaymentPoint.objects.select_related("centre")
        .filter(active=True, centre__active=True, centre__kind=CentreKind.OFFICE)
        .order_by("centre__code", "code")
    )


# --- sessions --------------------------------------------------------------------------


def do_open_session(
    cashier: object, point: PaymentPoint | int, opening_float: int = 0, *, actor: ActorLike
) -> CashierSession:
    """Open a session for ``cashier`` (a user) at ``point`` with ``opening_float`` in cash."""
    cashier_id = getattr(cashier, "pk", None)
    if cashier_id is None:
        raise _invalid("cashier", _("Indique el cajero."))
    if isinstance(opening_float, bool) or not isinstance(opening_float, int):
        raise _invalid("opening_float", _("El fondo de caja debe ser un importe."))
    if opening_float < 0:
        raise _invalid("opening_float", _("El fondo de caja no puede ser negativo."))
    point_id = point if isinstance(point, int) else point.pk
    row = PaymentPoint.objects.select_related("centre").filter(pk=point_id).first()
    if row is None:
        raise _invalid("point", _("El punto de pago no existe."))
    if not (row.active and row.centre.active):
        raise _invalid("point", _("El punto de pago %(p)s está inactivo.") % {"p": row.code})
    if row.centre.kind != CentreKind.OFFICE:
        raise _invalid(
            "point",
            _("El punto %(p)s no es de una oficina de la empresa: allí no se abre caja.")
            % {"p": f"{row.centre.code}/{row.code}"},
        )
    already = _(
        "Ya tiene una sesión de caja abierta: ciérrela antes de abrir otra."
    )  # checked here for the message, enforced by the constraint
    if CashierSession.objects.filter(cashier_id=cashier_id, status=SessionStatus.OPEN).exists():
        raise CashDeskError(SESSION_OPEN, already, field="point")
    try:
        with transaction.atomic():
            session = CashierSession.objects.create(
                cashier_id=cashier_id, point=row, opening_float=opening_float
            )
            record(
                actor=actor,
                action="collection.open_session",
                object_type="collection.cashiersession",
                object_id=session.pk,
                after={
                    "point": f"{row.centre.code}/{row.code}",
                    "cashier": cashier_id,
                    "opening_float": opening_float,
                },
            )
    except IntegrityError as exc:  # a concurrent open won the race
        raise CashDeskError(SESSION_OPEN, already, field="point") from exc
    return session


def expected_amounts(session: CashierSession) -> dict[str, int]:
    """Per desk method, what the cashier should hold: posted payments (reversed ones
    excluded); cash includes the opening float."""
    out = dict.fromkeys(DESK_METHODS, 0)
    rows = (
        Payment.objects.filter(session_id=session.pk, status=PaymentStatus.POSTED)
        .values("method")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        out[row["method"]] = out.get(row["method"], 0) + int(row["total"] or 0)
    out[PaymentMethod.CASH] += int(session.opening_float)
    return out


def _counted(counted: Mapping[str, object]) -> dict[str, int]:
    out = dict.fromkeys(DESK_METHODS, 0)
    for method, value in counted.items():
        if method not in DESK_METHODS:
            raise _invalid(method, _("Medio de pago desconocido: %(m)s.") % {"m": method})
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(method, _("El importe contado debe ser un número."))
        if value < 0:
            raise _invalid(method, _("El importe contado no puede ser negativo."))
        out[method] = value
    return out


def do_close_session(
    session: CashierSession | int,
    counted: Mapping[str, int],
    note: str = "",
    *,
    actor: ActorLike,
) -> CashierSession:
    """Close the session with the cashier's count per method (missing methods count 0)."""
    declared = _counted(counted)
    why = (note or "").strip()
    with transaction.atomic():
        row = _lock(session)
        if row.status != SessionStatus.OPEN:
            raise CashDeskError(SESSION_CLOSED, _("La sesión de caja ya está cerrada."))
        expected = expected_amounts(row)
        difference = rules.cash_difference(expected, declared)
        if difference["total"] != 0 and not why:
            raise _invalid(
                "note",
                _(
                    "Lo contado no coincide con lo esperado: explique la diferencia en la "
                    "observación."
                ),
            )
        row.expected = expected
        row.counted = declared
        row.difference = difference["total"]
        row.note = why[:250]
        row.status = SessionStatus.CLOSED
        row.closed_at = timezone.now()
        row.save(update_fields=["expected", "counted", "difference", "note", "status", "closed_at"])
        record(
            actor=actor,
            action="collection.close_session",
            object_type="collection.cashiersession",
            object_id=row.pk,
            before={"status": SessionStatus.OPEN},
            after={
                "status": SessionStatus.CLOSED,
                "expected": expected,
                "counted": declared,
                "difference": difference,
            },
            reason=why,
        )
    return row


def do_review_session(
    session: CashierSession | int, note: str = "", *, actor: ActorLike
) -> CashierSession:
    """A supervisor's review of a closed session (never of their own)."""
    why = (note or "").strip()
    user, _label = actor_parts(actor)
    with transaction.atomic():
        row = _lock(session)
        if row.status != SessionStatus.CLOSED:
            raise CashDeskError(
                SESSION_OPEN, _("La sesión sigue abierta: se revisa después del cierre.")
            )
        if row.reviewed_at is not None:
            raise CashDeskError(ALREADY_REVIEWED, _("La sesión ya fue revisada."))
        if user is not None and user.pk == row.cashier_id:
            raise CashDeskError(
                NOT_YOUR_SESSION, _("Un supervisor no revisa su propia sesión de caja."), status=403
            )
        if row.difference != 0 and not why:
            raise _invalid("note", _("La sesión tiene diferencia: anote lo que se hizo con ella."))
        row.reviewed_by = user
        row.reviewed_at = timezone.now()
        row.review_note = why[:250]
        row.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
        record(
            actor=actor,
            action="collection.review_session",
            object_type="collection.cashiersession",
            object_id=row.pk,
            after={"difference": row.difference, "review_note": row.review_note},
            reason=why,
        )
    return row


# --- payments --------------------------------------------------------------------------


@dataclass
class TakeResult:
    payment: Payment
    replay: bool  # an earlier submit of the same form posted it
    tendered: int | None  # cash handed over by the customer
    change: int  # cash to give back (0 but for cash with ``tendered``)


def external_reference(
    method: str,
    *,
    cheque_bank: str = "",
    cheque_number: str = "",
    card_last4: str = "",
    card_authorization: str = "",
) -> str:
    """Card or cheque data as the payment's external reference (checked, ≤ 64 chars)."""
    if method == PaymentMethod.CHEQUE:
        bank = " ".join((cheque_bank or "").split())
        number = (cheque_number or "").strip()
        if not bank:
            raise _invalid("cheque_bank", _("Indique el banco del cheque."))
        if not number or not number.isalnum() or len(number) > 20:
            raise _invalid(
                "cheque_number", _("Indique el número del cheque (hasta 20 letras o dígitos).")
            )
        return f"CHQ {number} {bank}"[:64]
    if method == PaymentMethod.CARD:
        auth = (card_authorization or "").strip()
        last4 = (card_last4 or "").strip()
        if not _AUTHORIZATION.match(auth):
            raise _invalid(
                "card_authorization",
                _("Indique el código de autorización del voucher (hasta 12 letras o dígitos)."),
            )
        if last4 and not (len(last4) == 4 and last4.isdigit() and last4.isascii()):
            raise _invalid("card_last4", _("Los últimos dígitos de la tarjeta son 4 números."))
        return f"TARJ AUT {auth}" + (f" ****{last4}" if last4 else "")
    return ""


def do_take_payment(
    session: CashierSession | int,
    *,
    reference: str,
    amount: int,
    method: str,
    tendered: int | None = None,
    cheque_bank: str = "",
    cheque_number: str = "",
    card_last4: str = "",
    card_authorization: str = "",
    client_key: str,
    actor: ActorLike,
) -> TakeResult:
    """Take a payment in ``session`` (see the module docstring).

    Raises :class:`CashDeskError` (with the form field) or
    :class:`~caudal.collection.errors.PaymentRefused` from the payment path (unknown
    reference, nothing due, wrong amount); nothing is posted then.
    """
    if method not in DESK_METHODS:
        raise _invalid("method", _("Medio de pago no admitido en caja: %(m)s.") % {"m": method})
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise _invalid("amount", _("El importe debe ser positivo."))
    if method == PaymentMethod.CASH and tendered is not None:
        if isinstance(tendered, bool) or not isinstance(tendered, int):
            raise _invalid("tendered", _("El efectivo recibido debe ser un importe."))
        if tendered < amount:
            raise _invalid("tendered", _("El efectivo recibido es menor que el importe a cobrar."))
    else:
        tendered = None
    key = (client_key or "").strip()
    if not _CLIENT_KEY.match(key):
        raise _invalid("client_key", _("Formulario sin clave de envío: vuelva a cargar la página."))
    reference_text = (reference or "").strip()
    if not reference_text:
        raise _invalid("reference", _("Indique el suministro o escanee el recibo."))
    ext = external_reference(
        method,
        cheque_bank=cheque_bank,
        cheque_number=cheque_number,
        card_last4=card_last4,
        card_authorization=card_authorization,
    )
    user_id = _user_id(actor)
    with transaction.atomic():
        row = _lock(session)
        idem = f"caja:{row.pk}:{key}"
        seen = Payment.objects.filter(centre_id=row.point.centre_id, idempotency_key=idem).exists()
        if not seen:  # a resubmit of a posted form is answered even after the close
            if row.status != SessionStatus.OPEN:
                raise CashDeskError(
                    SESSION_CLOSED, _("La sesión de caja está cerrada: abra otra para cobrar.")
                )
            if user_id is not None and user_id != row.cashier_id:
                raise CashDeskError(
                    NOT_YOUR_SESSION,
                    _("La sesión de caja es de otro cajero."),
                    status=403,
                )
        result = actions.do_post_centre_payment(
            centre=row.point.centre,
            reference=reference_text,
            amount=amount,
            method=method,
            idempotency_key=idem,
            external_reference=ext,
            point=row.point,
            session=row,
            actor=actor,
        )
        change = tendered - amount if tendered is not None else 0
        if not result.replay:
            record(
                actor=actor,
                action="collection.take_payment",
                object_type="collection.payment",
                object_id=result.payment.pk,
                account_id=result.payment.account_id,
                after={
                    "session": row.pk,
                    "amount": amount,
                    "method": method,
                    "tendered": tendered,
                    "change": change,
                    "external_reference": ext,
                },
            )
        else:
            tendered, change = cash_handed(result.payment)
    return TakeResult(
        payment=result.payment, replay=result.replay, tendered=tendered, change=change
    )


def cash_handed(payment: Payment) -> tuple[int | None, int]:
    """(tendered, change) recorded when the desk took ``payment``; (None, 0) if none."""
    from caudal.audit.models import AuditEvent

    event = (
        AuditEvent.objects.filter(
            account_id=payment.account_id,
            action="collection.take_payment",
            object_id=str(payment.pk),
        )
        .only("after")
        .first()
    )
    after = (event.after or {}) if event is not None else {}
    tendered = after.get("tendered")
    return (int(tendered) if tendered is not None else None), int(after.get("change") or 0)


def do_reverse_payment(
    session: CashierSession | int,
    payment: Payment | int,
    *,
    reason: str,
    actor: ActorLike,
) -> Payment:
    """Reverse a payment of the cashier's open session, the day it was taken."""
    pk = payment if isinstance(payment, int) else payment.pk
    user_id = _user_id(actor)
    with transaction.atomic():
        row = _lock(session)
        if row.status != SessionStatus.OPEN:
            raise CashDeskError(
                SESSION_CLOSED,
                _("La sesión está cerrada: sus pagos ya no se reversan desde la caja."),
            )
        if user_id is not None and user_id != row.cashier_id:
            raise CashDeskError(
                NOT_YOUR_SESSION, _("La sesión de caja es de otro cajero."), status=403
            )
        if not Payment.objects.filter(pk=pk, session_id=row.pk).exists():
            raise CashDeskError(
                errors.NOT_FOUND,
                _("El pago %(id)s no es de esta sesión de caja.") % {"id": pk},
                status=404,
            )
        return actions.do_reverse_payment(pk, reason=reason, actor=actor, centre=row.point.centre)
