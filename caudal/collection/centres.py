"""Creating and editing collection centres and their points of payment.

``data`` is what a person types in a form (or a script passes in its place), keyed by
field name, every value text or its plain Python value:

- money (``commission_fixed``, ``commission_minimum``) in **major units** as text or
  ``Decimal`` (``"0.80"`` = 80 céntimos), never a float;
- ``commission_percent``: the percentage (``"1.5"`` = 1.5 % = ``commission_rate`` 0.015);
- ``deposit_time``: ``"HH:MM"`` or a ``time``; booleans as ``True``/``"on"``/``"1"``.

On an edit, a key missing from ``data`` keeps the current value. Every problem is
reported at once, per field, in Spanish (:class:`CentreError`); nothing is saved then.
Each save writes an audit event with the fields that changed, before and after.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, record
from caudal.cadastre.models import UtilitySettings
from caudal.kernel.errors import DomainError
from caudal.kernel.money import MoneyError, exponent, to_major, to_minor

from .models import AmountRule, Centre, CentreKind, Payment, PaymentPoint

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
TAX_ID_RE = re.compile(r"^[0-9][0-9.-]{4,19}$")
TIME_RE = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
TRUE = {"1", "on", "true", "yes", "si", "sí"}
MAX_PERCENT = Decimal(100)
MAX_DEPOSIT_DAYS = 10

CENTRE_FIELDS = (
    "code",
    "name",
    "kind",
    "tax_id",
    "amount_rule",
    "commission_fixed",
    "commission_percent",
    "commission_minimum",
    "commission_deducted",
    "deposit_account",
    "deposit_days",
    "deposit_time",
    "active",
)
POINT_FIELDS = ("code", "name", "address", "active")


class CentreError(DomainError):
    """Invalid centre or point data: ``errors`` maps each field to a reason (Spanish)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- reading values -------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return _text(value).lower() in TRUE


def _money(value: Any, currency: str) -> int:
    if isinstance(value, float):
        raise MoneyError("float")
    text = _text(value).replace(",", ".") if not isinstance(value, Decimal) else value
    if text == "":
        return 0
    amount = Decimal(text)
    if amount < 0:
        raise ValueError("negative")
    minor = to_minor(amount, currency)
    if to_major(minor, currency) != amount:
        raise ValueError("decimals")
    return minor


def _percent(value: Any) -> Decimal:
    if isinstance(value, float):
        raise InvalidOperation
    text = (
        _text(value).replace(",", ".").rstrip("%").strip()
        if not isinstance(value, Decimal)
        else value
    )
    if text == "":
        return Decimal(0)
    pct = Decimal(text)
    if not pct.is_finite():
        raise InvalidOperation
    return pct


def money_text(minor: int, currency: str) -> str:
    """Minor units as the form shows them: ``"0.80"``."""
    return f"{to_major(minor, currency):.{exponent(currency)}f}"


def percent_text(rate: Decimal) -> str:
    """``0.01500`` → ``"1.5"``."""
    value = (Decimal(rate) * 100).normalize()
    return f"{value:f}"


def centre_form_values(centre: Centre | None, currency: str) -> dict[str, Any]:
    """The values a form shows for ``centre`` (defaults for a new one)."""
    if centre is None:
        return {
            "code": "",
            "name": "",
            "kind": CentreKind.CAR,
            "tax_id": "",
            "amount_rule": AmountRule.EXACT,
            "commission_fixed": money_text(0, currency),
            "commission_percent": "0",
            "commission_minimum": money_text(0, currency),
            "commission_deducted": False,
            "deposit_account": "",
            "deposit_days": "1",
            "deposit_time": "10:30",
            "active": True,
        }
    return {
        "code": centre.code,
        "name": centre.name,
        "kind": centre.kind,
        "tax_id": centre.tax_id,
        "amount_rule": centre.amount_rule,
        "commission_fixed": money_text(centre.commission_fixed, currency),
        "commission_percent": percent_text(centre.commission_rate),
        "commission_minimum": money_text(centre.commission_minimum, currency),
        "commission_deducted": centre.commission_deducted,
        "deposit_account": centre.deposit_account,
        "deposit_days": str(centre.deposit_days),
        "deposit_time": centre.deposit_time.strftime("%H:%M"),
        "active": centre.active,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def _changes(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: _plain(before.get(k)) for k in keys}, {k: _plain(after[k]) for k in keys}


# --- centres --------------------------------------------------------------------------


def _clean_centre(
    data: Mapping[str, Any], centre: Centre | None, currency: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Model values from ``data`` and the errors per field."""
    current = centre_form_values(centre, currency)
    raw = {k: (data[k] if k in data else current[k]) for k in CENTRE_FIELDS}
    errs: dict[str, str] = {}
    out: dict[str, Any] = {}

    code = _text(raw["code"]).upper()
    if not code:
        errs["code"] = _("Indique el código del centro.")
    elif not CODE_RE.match(code):
        errs["code"] = _(
            "El código admite hasta 20 letras, dígitos, guion y guion bajo, sin espacios."
        )
    elif Centre.objects.filter(code=code).exclude(pk=centre.pk if centre else 0).exists():
        errs["code"] = _("Ya existe un centro con el código %(code)s.") % {"code": code}
    elif (
        centre is not None
        and code != centre.code
        and Payment.objects.filter(centre_id=centre.pk).exists()
    ):
        errs["code"] = _(
            "El centro ya tiene pagos registrados: su código no se puede cambiar "
            "(identifica sus pagos en el libro)."
        )
    out["code"] = code

    name = _text(raw["name"])
    if not name:
        errs["name"] = _("Indique el nombre del centro.")
    elif len(name) > 120:
        errs["name"] = _("El nombre admite hasta 120 caracteres.")
    out["name"] = name

    kind = _text(raw["kind"])
    if kind not in CentreKind.values:
        errs["kind"] = _("Elija el tipo: oficina de la empresa, CAR o banco.")
    out["kind"] = kind

    tax_id = _text(raw["tax_id"])
    if tax_id and not TAX_ID_RE.match(tax_id):
        errs["tax_id"] = _("El RUC / NIT admite solo dígitos, punto y guion (5 a 20).")
    out["tax_id"] = tax_id

    rule = _text(raw["amount_rule"])
    if rule not in AmountRule.values:
        errs["amount_rule"] = _("Elija la regla de importe: exacto, parcial o libre.")
    out["amount_rule"] = rule

    for name_, label in (
        ("commission_fixed", _("La comisión fija")),
        ("commission_minimum", _("La comisión mínima")),
    ):
        try:
            out[name_] = _money(raw[name_], currency)
        except (ValueError, InvalidOperation, MoneyError):
            errs[name_] = _(
                "%(what)s debe ser un importe positivo o cero con hasta %(n)s decimales "
                "(p. ej. 0.80)."
            ) % {"what": label, "n": exponent(currency)}

    try:
        pct = _percent(raw["commission_percent"])
        if pct < 0 or pct >= MAX_PERCENT:
            raise InvalidOperation
        rate = pct / 100
        if rate != rate.quantize(Decimal("0.00001")):
            raise InvalidOperation
        out["commission_rate"] = rate.quantize(Decimal("0.00001"))
    except (InvalidOperation, ValueError):
        errs["commission_percent"] = _(
            "La comisión porcentual es un número entre 0 y 100 con hasta 3 decimales "
            "(p. ej. 1.5 para 1,5 %)."
        )

    out["commission_deducted"] = _bool(raw["commission_deducted"])

    account = _text(raw["deposit_account"])
    if len(account) > 40:
        errs["deposit_account"] = _("La cuenta de depósito admite hasta 40 caracteres.")
    elif not account and kind == CentreKind.CAR:
        errs["deposit_account"] = _(
            "Un CAR deposita lo recaudado en una cuenta de la empresa: indíquela."
        )
    out["deposit_account"] = account

    try:
        days = int(_text(raw["deposit_days"]))
        if not 0 <= days <= MAX_DEPOSIT_DAYS:
            raise ValueError
        out["deposit_days"] = days
    except ValueError:
        errs["deposit_days"] = _(
            "Los días para depositar son un número entero de 0 a %(n)s (1 = al día siguiente)."
        ) % {"n": MAX_DEPOSIT_DAYS}

    at = raw["deposit_time"]
    if isinstance(at, time):
        out["deposit_time"] = at.replace(second=0, microsecond=0)
    else:
        match = TIME_RE.match(_text(at))
        if match:
            out["deposit_time"] = time(int(match.group(1)), int(match.group(2)))
        else:
            errs["deposit_time"] = _("La hora límite de depósito se escribe HH:MM (p. ej. 10:30).")

    out["active"] = _bool(raw["active"])
    return out, errs


def _centre_state(centre: Centre) -> dict[str, Any]:
    return {
        "code": centre.code,
        "name": centre.name,
        "kind": centre.kind,
        "tax_id": centre.tax_id,
        "amount_rule": centre.amount_rule,
        "commission_fixed": centre.commission_fixed,
        "commission_rate": Decimal(centre.commission_rate).quantize(Decimal("0.00001")),
        "commission_minimum": centre.commission_minimum,
        "commission_deducted": centre.commission_deducted,
        "deposit_account": centre.deposit_account,
        "deposit_days": centre.deposit_days,
        "deposit_time": centre.deposit_time,
        "active": centre.active,
    }


def do_save_centre(
    data: Mapping[str, Any],
    *,
    actor: ActorLike,
    centre: Centre | None = None,
    currency: str | None = None,
) -> Centre:
    """Create a centre (``centre`` None) or edit ``centre``. Raises :class:`CentreError`."""
    cur = currency or UtilitySettings.current().currency
    with transaction.atomic():
        if centre is not None:
            centre = Centre.objects.select_for_update().get(pk=centre.pk)
        values, errs = _clean_centre(data, centre, cur)
        if errs:
            raise CentreError(errs)
        if centre is None:
            centre = Centre.objects.create(**values)
            _before, after = _changes({}, _centre_state(centre))
            record(
                actor=actor,
                action="collection.create_centre",
                object_type="collection.centre",
                object_id=centre.pk,
                after=after,
            )
            return centre
        before_state = _centre_state(centre)
        for key, value in values.items():
            setattr(centre, key, value)
        centre.save()
        before, after = _changes(before_state, _centre_state(centre))
        if after:
            record(
                actor=actor,
                action="collection.update_centre",
                object_type="collection.centre",
                object_id=centre.pk,
                before=before,
                after=after | {"centre": centre.code},
            )
        return centre


# --- points of payment ----------------------------------------------------------------


def _clean_point(
    centre: Centre, data: Mapping[str, Any], point: PaymentPoint | None
) -> tuple[dict[str, Any], dict[str, str]]:
    current = {
        "code": point.code if point else "",
        "name": point.name if point else "",
        "address": point.address if point else "",
        "active": point.active if point else True,
    }
    raw = {k: (data[k] if k in data else current[k]) for k in POINT_FIELDS}
    errs: dict[str, str] = {}
    code = _text(raw["code"]).upper()
    if not code:
        errs["code"] = _("Indique el código del punto de pago.")
    elif not CODE_RE.match(code):
        errs["code"] = _(
            "El código admite hasta 20 letras, dígitos, guion y guion bajo, sin espacios."
        )
    elif (
        PaymentPoint.objects.filter(centre_id=centre.pk, code=code)
        .exclude(pk=point.pk if point else 0)
        .exists()
    ):
        errs["code"] = _("El centro ya tiene un punto de pago %(code)s.") % {"code": code}
    name = _text(raw["name"])
    if not name:
        errs["name"] = _("Indique el nombre del punto de pago.")
    elif len(name) > 120:
        errs["name"] = _("El nombre admite hasta 120 caracteres.")
    address = _text(raw["address"])
    if len(address) > 200:
        errs["address"] = _("La dirección admite hasta 200 caracteres.")
    return {"code": code, "name": name, "address": address, "active": _bool(raw["active"])}, errs


def do_save_point(
    centre: Centre,
    data: Mapping[str, Any],
    *,
    actor: ActorLike,
    point: PaymentPoint | None = None,
) -> PaymentPoint:
    """Create a point of payment of ``centre`` or edit ``point``. Raises :class:`CentreError`."""
    if point is not None and point.centre_id != centre.pk:
        raise CentreError({"code": _("El punto de pago no pertenece al centro.")})
    with transaction.atomic():
        values, errs = _clean_point(centre, data, point)
        if errs:
            raise CentreError(errs)
        if point is None:
            point = PaymentPoint.objects.create(centre=centre, **values)
            record(
                actor=actor,
                action="collection.create_point",
                object_type="collection.paymentpoint",
                object_id=point.pk,
                after=values | {"centre": centre.code},
            )
            return point
        before_state = {k: getattr(point, k) for k in POINT_FIELDS}
        for key, value in values.items():
            setattr(point, key, value)
        point.save()
        before, after = _changes(before_state, values)
        if after:
            record(
                actor=actor,
                action="collection.update_point",
                object_type="collection.paymentpoint",
                object_id=point.pk,
                before=before,
                after=after | {"centre": centre.code},
            )
        return point
