"""The payment QR of Peruvian bills (recibos): a payload with the payment data, drawn by segno.

Peruvian banks collect water bills with the **número de suministro** (the account number)
and the bill number; each bank's collection layout (BCP "CREP", BBVA, Interbank) is
proprietary and was not found (``standards.md`` §2.3: **UNCONFIRMED**). So the payload is a
plain text line whose layout is a setting, ``CAUDAL_BILL_QR_FORMAT``, a Python
``str.format`` template over these fields:

========================  ==========================================================
``{ruc}``                 the utility's RUC (``UtilitySettings.tax_id``)
``{account}``             the account number (número de suministro)
``{payment_code}``        the bill's payment code (``Bill.payment_reference``; the
                          account number when the bill has none)
``{bill}``                the bill number (``Bill.number``)
``{period}``              the billing period, ``YYYY-MM``
``{amount}``              total to pay in major units with two decimals, ``45.60``
``{amount_minor}``        total to pay in céntimos, ``4560``
``{currency}``            ISO 4217 code, ``PEN``
``{due}``                 due date ``YYYY-MM-DD``
``{due_compact}``         due date ``YYYYMMDD``
========================  ==========================================================

The default, :data:`DEFAULT_FORMAT`, is

    ``CAUDAL1|{ruc}|{payment_code}|{account}|{bill}|{amount}|{currency}|{due}``

(version tag first, so that a reader can tell layouts apart when a bank's format replaces it).
The fields never contain ``|``: :func:`payment_payload` refuses values that do.
"""

from __future__ import annotations

import io
import string
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import segno

DEFAULT_FORMAT = "CAUDAL1|{ruc}|{payment_code}|{account}|{bill}|{amount}|{currency}|{due}"
FIELDS = (
    "ruc",
    "account",
    "payment_code",
    "bill",
    "period",
    "amount",
    "amount_minor",
    "currency",
    "due",
    "due_compact",
)
MAX_PAYLOAD = 300


class QrError(ValueError):
    """A payload format or value that cannot be used; the message names the field."""


@dataclass(frozen=True)
class PaymentData:
    ruc: str
    account: str
    payment_code: str
    bill: str
    period: str
    amount_minor: int
    currency: str
    due: date
    exponent: int = 2

    def fields(self) -> dict[str, str]:
        major = Decimal(self.amount_minor).scaleb(-self.exponent)
        return {
            "ruc": self.ruc,
            "account": self.account,
            "payment_code": self.payment_code or self.account,
            "bill": self.bill,
            "period": self.period,
            "amount": f"{major:.{self.exponent}f}",
            "amount_minor": str(self.amount_minor),
            "currency": self.currency,
            "due": self.due.isoformat(),
            "due_compact": self.due.strftime("%Y%m%d"),
        }


def check_format(template: str) -> str:
    """Refuse a template that names an unknown field or uses conversions/format specs."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise QrError(f"CAUDAL_BILL_QR_FORMAT {template!r}: {exc}") from exc
    names = [name for _text, name, _spec, _conv in parsed if name is not None]
    if not names:
        raise QrError(f"CAUDAL_BILL_QR_FORMAT {template!r}: names no field")
    for _text, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in FIELDS:
            raise QrError(
                f"CAUDAL_BILL_QR_FORMAT: unknown field {{{name}}}; known: {', '.join(FIELDS)}"
            )
        if spec or conv:
            raise QrError(f"CAUDAL_BILL_QR_FORMAT: field {{{name}}} takes no format spec")
    return template


def payment_payload(data: PaymentData, template: str = DEFAULT_FORMAT) -> str:
    """The QR text for ``data`` laid out by ``template``."""
    check_format(template)
    values = data.fields()
    for name, value in values.items():
        if "|" in value or "\n" in value:
            raise QrError(f"QR field {name} {value!r} contains a separator")
        if not value:
            raise QrError(f"QR field {name} is empty")
    payload = template.format(**values)
    if len(payload) > MAX_PAYLOAD:
        raise QrError(f"QR payload of {len(payload)} characters; at most {MAX_PAYLOAD}")
    return payload


def qr_svg(payload: str, *, size_mm: float = 26.0, border: int = 4) -> str:
    """The QR code (error correction level M) as an SVG document ``size_mm`` wide, quiet
    zone of ``border`` modules included."""
    code = segno.make(payload, error="m", micro=False, boost_error=False)
    width, _height = code.symbol_size(scale=1, border=border)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=size_mm / width,
        border=border,
        unit="mm",
        dark="#000",
        light="#fff",
        xmldecl=False,
        nl=False,
    )
    return out.getvalue().decode("utf-8")
