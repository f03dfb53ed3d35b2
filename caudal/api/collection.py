"""Collection-centre endpoints: debt lookup, payments (idempotent), reversal, daily settlement.

A centre authenticates with its key and sees and posts only its own payments. Amounts are
integer minor units (céntimos / centavos) of ``currency`` (ISO 4217), never decimals.
Every write goes through the collection actions with the actor ``api:<centre>:<prefix>``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Header, Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import BeforeValidator, ConfigDict

from caudal.api.common import ErrorOut, actor_of
from caudal.cadastre.models import Customer, UtilitySettings
from caudal.collection import actions, errors, settlement
from caudal.collection.models import (
    ApiKey,
    Centre,
    DailySettlement,
    Payment,
    PaymentPoint,
)

router = Router(tags=["recaudo"])

#: An account number or a bill's payment reference: letters, digits, ``-``, ``.``.
REFERENCE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.-]{0,47}$"
#: Printable text without control characters.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
#: Visible ASCII (RFC 9110 token-ish), as header values allow.
KEY_PATTERN = r"^[\x21-\x7e]{1,80}$"
MAX_AMOUNT = 10**12  # minor units: 10 000 million in major units, far above any payment
MAX_ID = 2**63 - 1
#: The API settles no day before this one (nor any future day: the action refuses those).
FIRST_DAY = date(2000, 1, 1)

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """Dates only as ``YYYY-MM-DD`` (pydantic alone would take ``0`` as 1970-01-01)."""
    if isinstance(value, date) or (isinstance(value, str) and ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("fecha en formato AAAA-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Reference = Annotated[str, Path(pattern=REFERENCE_PATTERN, max_length=48)]
PaymentId = Annotated[int, Path(ge=1, le=MAX_ID)]

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 503: ErrorOut}
WRITE_ERRORS = {**ERRORS, 409: ErrorOut}


# --- schemas ---------------------------------------------------------------------------


class OpenBillOut(Schema):
    number: str
    period: str
    due_date: date
    reference: str = Field(description="referencia de pago del recibo")
    open_amount: int = Field(description="saldo pendiente del recibo, en unidades menores")


class DebtOut(Schema):
    """What an account owes, as the centre sees it before taking a payment."""

    account: str = Field(description="número de suministro")
    holder: str = Field(description="titular, enmascarado (p. ej. «JUA*** PÉR***»)")
    reference: str = Field(description="la referencia consultada")
    bill: str | None = Field(description="número del recibo, si la referencia es de un recibo")
    currency: str = Field(description="código ISO 4217 de los importes")
    amount_rule: Literal["exact", "partial", "any"] = Field(
        description="regla de importe del centro: exacto, parcial o libre"
    )
    due: int = Field(description="lo que se cobra por esta referencia (unidades menores)")
    payable: int = Field(
        description="deuda exigible: débitos abiertos no bloqueados − saldo a favor"
    )
    overdue: int = Field(description="débitos abiertos vencidos")
    blocked: int = Field(description="débitos en reclamo (bloqueados): no se cobran")
    credit: int = Field(description="saldo a favor")
    bills: list[OpenBillOut]


class PaymentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(
        min_length=1,
        max_length=48,
        pattern=REFERENCE_PATTERN,
        description="número de suministro o referencia de pago del recibo",
    )
    amount: int = Field(
        gt=0, le=MAX_AMOUNT, strict=True, description="importe en unidades menores (entero)"
    )
    method: Literal["cash", "card", "cheque", "transfer"]
    external_reference: str = Field(
        "",
        max_length=64,
        pattern=TEXT_PATTERN,
        description="número de operación del centro o del banco",
    )
    point: str | None = Field(
        None, min_length=1, max_length=20, pattern=TEXT_PATTERN, description="código del punto"
    )


class PaymentOut(Schema):
    id: int
    centre: str
    account: str = Field(description="número de suministro")
    bill_reference: str = Field(description="referencia del recibo pagado; vacía si por suministro")
    amount: int
    currency: str
    method: str
    external_reference: str
    point: str | None
    idempotency_key: str
    status: Literal["posted", "reversed"]
    document: int = Field(description="documento de pago en la cuenta corriente")
    applied: int = Field(description="parte del pago aplicada a deuda al registrarlo")
    credit: int = Field(description="parte del pago que quedó como saldo a favor")
    received_at: datetime
    payment_date: date
    reversal_document: int | None
    reversed_at: datetime | None
    settled: bool = Field(description="el día del pago ya fue liquidado")


class PaymentListOut(Schema):
    date: date
    count: int
    items: list[PaymentOut]
    next_after: int | None = Field(description="pase como ?after= para la página siguiente")


class ReversalIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=250, pattern=TEXT_PATTERN)


class SettlementIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date: IsoDate


class SettlementOut(Schema):
    centre: str
    date: date
    currency: str
    payments: int
    collected: int
    reversals: int
    reversed_amount: int
    commission: int
    expected_deposit: int
    deposit_due_at: datetime
    deposited_amount: int | None
    deposited_at: datetime | None
    status: str


# --- helpers ---------------------------------------------------------------------------


def _key(request: HttpRequest) -> ApiKey:
    return request.auth  # type: ignore[attr-defined, no-any-return]


def _centre(request: HttpRequest) -> Centre:
    return _key(request).centre


def _currency() -> str:
    """The utility's currency (ISO 4217), read on every answer (one indexed row)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT currency FROM cadastre_utilitysettings WHERE id = 1")
        row = cursor.fetchone()
    return str(row[0]) if row else UtilitySettings.current().currency


def _local(moment: datetime | None) -> datetime | None:
    """Datetimes are answered in the utility's time zone, with their offset."""
    return timezone.localtime(moment) if moment is not None else None


def mask_name(name: str) -> str:
    """``Juan Pérez Quispe`` → ``JUA*** PÉR*** QUI***`` (at most four words)."""
    return " ".join(word[:3] + "***" for word in name.upper().split()[:4])


def _debt_out(centre: Centre, reference: str, *, account_only: bool, bill_only: bool) -> DebtOut:
    account, bill = actions.resolve(reference)
    if (account_only and bill is not None) or (bill_only and bill is None):
        raise errors.PaymentRefused(
            errors.UNKNOWN_REFERENCE,
            _("No existe %(what)s con la referencia %(ref)s.")
            % {
                "what": _("un suministro") if account_only else _("un recibo"),
                "ref": reference,
            },
            status=404,
        )
    owed = actions.debt(account, bill)
    holder = Customer.objects.filter(pk=account.customer_id).values_list("name", flat=True).first()
    return DebtOut(
        account=account.number,
        holder=mask_name(holder or ""),
        reference=reference,
        bill=bill.number if bill is not None else None,
        currency=_currency(),
        amount_rule=centre.amount_rule,  # type: ignore[arg-type]
        due=owed.due,
        payable=owed.payable,
        overdue=owed.overdue,
        blocked=owed.blocked,
        credit=owed.credit,
        bills=[
            OpenBillOut(
                number=b.number,
                period=b.period,
                due_date=b.due_date,
                reference=b.payment_reference,
                open_amount=b.open_amount,
            )
            for b in owed.bills
        ],
    )


def _applied(document_ids: list[int]) -> dict[int, int]:
    """What each payment document cleared when it was posted: the positive clearings of its
    own credit item made by the document itself (later clearings of a left-over credit, and
    the resets of a reversal, belong to other documents)."""
    if not document_ids:
        return {}
    marks = ", ".join(["%s"] * len(document_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.document_id, SUM(c.amount) FROM ledger_clearing c "
            "JOIN ledger_openitem i ON i.id = c.credit_item_id "
            f"WHERE c.document_id IN ({marks}) AND i.document_id = c.document_id "
            "AND c.amount > 0 GROUP BY c.document_id",
            document_ids,
        )
        return {int(doc): int(total or 0) for doc, total in cursor.fetchall()}


def _payment_out(
    payment: Payment,
    *,
    applied: int,
    currency: str,
    centre: Centre,
    account_number: str,
    point: str | None,
) -> PaymentOut:
    return PaymentOut(
        id=payment.pk,
        centre=centre.code,
        account=account_number,
        bill_reference=payment.bill_reference,
        amount=payment.amount,
        currency=currency,
        method=payment.method,
        external_reference=payment.external_reference,
        point=point,
        idempotency_key=payment.idempotency_key,
        status=payment.status,  # type: ignore[arg-type]
        document=payment.document_id,
        applied=applied,
        credit=payment.amount - applied,
        received_at=timezone.localtime(payment.received_at),
        payment_date=payment.payment_date,
        reversal_document=payment.reversal_document_id,
        reversed_at=_local(payment.reversed_at),
        settled=payment.settlement_id is not None,
    )


def _own_payments(centre: Centre):  # type: ignore[no-untyped-def]
    return Payment.objects.filter(centre_id=centre.pk).select_related("account", "point")


def _one(centre: Centre, payment_id: int) -> PaymentOut:
    payment = _own_payments(centre).filter(pk=payment_id).first()
    if payment is None:
        raise errors.PaymentRefused(
            errors.NOT_FOUND, _("El pago %(id)s no existe.") % {"id": payment_id}, status=404
        )
    return _payment_out(
        payment,
        applied=_applied([payment.document_id]).get(payment.document_id, 0),
        currency=_currency(),
        centre=centre,
        account_number=payment.account.number,
        point=payment.point.code if payment.point else None,
    )


def _settlement_out(row: DailySettlement, centre: Centre) -> SettlementOut:
    return SettlementOut(
        centre=centre.code,
        date=row.day,
        currency=_currency(),
        payments=row.payments,
        collected=row.collected,
        reversals=row.reversals,
        reversed_amount=row.reversed_amount,
        commission=row.commission,
        expected_deposit=row.expected_deposit,
        deposit_due_at=timezone.localtime(row.deposit_due_at),
        deposited_amount=row.deposited_amount,
        deposited_at=_local(row.deposited_at),
        status=row.status,
    )


# --- debt ------------------------------------------------------------------------------


@router.get(
    "/accounts/{number}/debt",
    response={200: DebtOut, **ERRORS},
    summary="Deuda de un suministro",
    operation_id="account_debt",
)
def account_debt(request: HttpRequest, number: Reference) -> DebtOut:
    return _debt_out(_centre(request), number, account_only=True, bill_only=False)


@router.get(
    "/bills/{reference}/debt",
    response={200: DebtOut, **ERRORS},
    summary="Deuda por la referencia de pago de un recibo",
    operation_id="bill_debt",
)
def bill_debt(request: HttpRequest, reference: Reference) -> DebtOut:
    return _debt_out(_centre(request), reference, account_only=False, bill_only=True)


@router.get(
    "/debt",
    response={200: DebtOut, **ERRORS},
    summary="Deuda por número de suministro o referencia de recibo",
    operation_id="debt",
)
def debt(
    request: HttpRequest,
    reference: Annotated[str, Query(pattern=REFERENCE_PATTERN, max_length=48)],
) -> DebtOut:
    return _debt_out(_centre(request), reference, account_only=False, bill_only=False)


# --- payments --------------------------------------------------------------------------


@router.post(
    "/payments",
    response={201: PaymentOut, 200: PaymentOut, **WRITE_ERRORS},
    summary="Registrar un pago (idempotente)",
    description=(
        "201: pago registrado. 200 con `Idempotent-Replayed: true`: la misma clave y el mismo "
        "cuerpo ya registraron este pago (reintento). 409 `idempotency_key_reused`: la clave "
        "ya se usó con otro cuerpo. 404 `unknown_reference`, 422 `wrong_amount`, "
        "409 `nothing_due`."
    ),
    operation_id="post_payment",
    openapi_extra={
        "responses": {  # ninja keys responses by int status
            200: {
                "description": "Reintento: el pago ya registrado con esta clave",
                "headers": {
                    "Idempotent-Replayed": {
                        "description": "`true`: la respuesta repite un pago ya registrado",
                        "schema": {"type": "string", "enum": ["true"]},
                    }
                },
            },
            201: {"description": "Pago registrado"},
        }
    },
)
def post_payment(
    request: HttpRequest,
    response: HttpResponse,
    payload: PaymentIn,
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", pattern=KEY_PATTERN, max_length=80)
    ],
) -> Status:
    key = _key(request)
    centre = key.centre
    point = None
    if payload.point is not None:
        point = PaymentPoint.objects.filter(centre_id=centre.pk, code=payload.point).first()
        if point is None:
            raise errors.PaymentRefused(
                errors.INVALID,
                _("El punto de pago %(p)s no existe en el centro %(c)s.")
                % {"p": payload.point, "c": centre.code},
            )
    result = actions.do_post_centre_payment(
        centre=centre,
        reference=payload.reference,
        amount=payload.amount,
        method=payload.method,
        idempotency_key=idempotency_key,
        external_reference=payload.external_reference,
        point=point,
        actor=actor_of(request),
    )
    payment = result.payment
    if result.replay:
        response["Idempotent-Replayed"] = "true"
        return Status(200, _one(centre, payment.pk))
    doc = payment.document_id
    out = _payment_out(
        payment,
        applied=_applied([doc]).get(doc, 0),
        currency=_currency(),
        centre=centre,
        account_number=payment.account.number,
        point=point.code if point is not None else None,
    )
    return Status(201, out)


@router.get(
    "/payments/{payment_id}",
    response={200: PaymentOut, **ERRORS},
    summary="Un pago del centro",
    operation_id="get_payment",
)
def get_payment(request: HttpRequest, payment_id: PaymentId) -> PaymentOut:
    return _one(_centre(request), payment_id)


@router.get(
    "/payments",
    response={200: PaymentListOut, **ERRORS},
    summary="Pagos del centro en un día",
    operation_id="list_payments",
)
def list_payments(
    request: HttpRequest,
    day: Annotated[IsoDate | None, Query(alias="date")] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> PaymentListOut:
    centre = _centre(request)
    on = day or timezone.localdate()
    qs = _own_payments(centre).filter(payment_date=on)
    count = qs.count()
    rows = list(qs.filter(pk__gt=after).order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    applied = _applied([p.document_id for p in rows])
    currency = _currency()
    items = [
        _payment_out(
            p,
            applied=applied.get(p.document_id, 0),
            currency=currency,
            centre=centre,
            account_number=p.account.number,
            point=p.point.code if p.point else None,
        )
        for p in rows
    ]
    return PaymentListOut(
        date=on, count=count, items=items, next_after=rows[-1].pk if more and rows else None
    )


@router.post(
    "/payments/{payment_id}/reversal",
    response={200: PaymentOut, **WRITE_ERRORS},
    summary="Reversar un pago (el mismo día, antes de la liquidación)",
    operation_id="reverse_payment",
)
def reverse_payment(request: HttpRequest, payment_id: PaymentId, payload: ReversalIn) -> PaymentOut:
    centre = _centre(request)
    actions.do_reverse_payment(
        payment_id, reason=payload.reason, actor=actor_of(request), centre=centre
    )
    return _one(centre, payment_id)


# --- settlement ------------------------------------------------------------------------


@router.post(
    "/settlements",
    response={201: SettlementOut, **WRITE_ERRORS},
    summary="Cerrar (liquidar) un día del centro",
    operation_id="close_day",
)
def close_day(request: HttpRequest, payload: SettlementIn) -> Status:
    centre = _centre(request)
    if payload.date < FIRST_DAY:
        raise errors.PaymentRefused(
            errors.INVALID,
            _("No se liquidan días anteriores al %(d)s.") % {"d": FIRST_DAY.isoformat()},
        )
    row = settlement.do_close_day(centre, payload.date, actor=actor_of(request))
    return Status(201, _settlement_out(row, centre))


@router.get(
    "/settlements/{day}",
    response={200: SettlementOut, **ERRORS},
    summary="Liquidación de un día del centro",
    operation_id="get_settlement",
)
def get_settlement(request: HttpRequest, day: Annotated[IsoDate, Path()]) -> SettlementOut:
    centre = _centre(request)
    row = DailySettlement.objects.filter(centre_id=centre.pk, day=day).first()
    if row is None:
        raise errors.PaymentRefused(
            errors.NOT_FOUND,
            _("El día %(d)s no está liquidado.") % {"d": day.isoformat()},
            status=404,
        )
    return _settlement_out(row, centre)
