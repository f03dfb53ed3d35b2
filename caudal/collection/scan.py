"""What a barcode scanner types into the cash desk, read back as a payment reference.

Pure Python, no Django. A scanner in keyboard mode "types" what it decodes, followed by
Enter. For the Colombian bill barcode (GS1-128, printed by :mod:`caudal.billing.barcode`
as ``(415)GLN(8020)REFERENCE(3900)AMOUNT(96)YYYYMMDD``) the cash desk may receive:

1. the data with each inner FNC1 as the ASCII group separator GS (``\\x1d``), optionally
   preceded by the symbology identifier ``]C1`` (and rarely a leading GS): what
   :func:`caudal.billing.barcode.transmitted` gives;
2. the human-readable text ``(415)…(8020)…(3900)…(96)…`` (a scanner set to send HRI, or
   a clerk typing what is printed under the bars; spaces are ignored);
3. the data without any separator. A browser drops GS when a keyboard-wedge scanner sends
   it as Ctrl+], so this is what most counters actually get. The fields are then found
   from the fixed parts: ``415`` + 13 digits at the start, ``8020`` after it, and at the
   end ``390n`` + the amount (``amount_width`` digits, as printed) + ``96`` + 8 digits.

A Peruvian bill carries a QR whose payload layout is ``CAUDAL_BILL_QR_FORMAT`` (see
:mod:`caudal.billing.qr`; by default ``CAUDAL1|ruc|payment code|account|bill|amount|
currency|due``): a 2D scanner types that line, and :func:`read` takes the payment code (or
the account, or the bill number) from it, with the amount and the due date.

Anything else (an account number, a Peruvian payment code, a bill reference typed by
hand) is passed through unchanged as the reference. :func:`read` never guesses: a string
that is clearly meant as GS1 (brackets, GS, ``]C1``) but does not parse raises
:class:`ScanError` naming the part that is wrong.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from caudal.billing import barcode, qr
from caudal.kernel.money import MoneyError, exponent

GS = barcode.GS
SEPARATORS = (barcode.GS, barcode.FNC1)  # ␝ too: what our own tests and HRI tools print
SYMBOLOGY_ID = "]C1"
AI_GLN = "415"
AI_REFERENCE = "8020"
AI_AMOUNT = "390"  # 390n: amount payable, n implied decimals
AI_DUE = "96"
_AMOUNT_AI = re.compile(r"^390(\d)$")
_TRIM = " \t\r\n"


class ScanError(ValueError):
    """A GS1 bill barcode that cannot be read; the message (Spanish) names the part."""


@dataclass(frozen=True)
class Scan:
    """What the desk looks up: ``reference``; for a bill barcode also what it printed."""

    reference: str
    gs1: bool = False  # read from the Colombian GS1-128 barcode
    qr: bool = False  # read from the Peruvian QR payload
    gln: str = ""
    amount: int | None = None  # the 390n value as printed (whole pesos for 3900)
    decimals: int = 0  # n of 390n
    due: date | None = None

    def amount_minor(self, exponent: int) -> int | None:
        """The printed amount in minor units of a currency with ``exponent`` decimals."""
        if self.amount is None:
            return None
        if self.decimals > exponent:
            scale = 10 ** (self.decimals - exponent)
            if self.amount % scale:
                raise ScanError(
                    f"el importe (390{self.decimals}) tiene más decimales que la moneda"
                )
            return self.amount // scale
        return self.amount * 10 ** (exponent - self.decimals)


def read(
    text: str,
    *,
    amount_width: int = barcode.DEFAULT_AMOUNT_WIDTH,
    qr_format: str = qr.DEFAULT_FORMAT,
) -> Scan:
    """Read what the scanner (or the cashier) typed. See the module docstring."""
    raw = (text or "").strip(_TRIM)
    from_qr = _from_qr(raw, qr_format)
    if from_qr is not None:
        return from_qr
    body = raw
    marked = False
    if body.startswith(SYMBOLOGY_ID):
        body, marked = body[len(SYMBOLOGY_ID) :], True
    while body and body[0] in SEPARATORS:
        body, marked = body[1:], True
    if body.lstrip(" ").startswith("("):
        return _from_elements(_bracketed(body.replace(" ", "")))
    if any(sep in body for sep in SEPARATORS):
        return _from_elements(_separated(body))
    compact = _compact(body, amount_width)
    if compact is not None:
        return compact
    if marked:
        raise ScanError("código de barras GS1 no reconocido: no es el código de un recibo")
    return Scan(reference=raw.strip())


# --- the three forms --------------------------------------------------------------------


def _bracketed(body: str) -> list[tuple[str, str]]:
    try:
        elements = barcode.parse_human_readable(body)
    except barcode.BarcodeError as exc:
        raise ScanError(f"texto GS1 mal formado: {body!r}") from exc
    return [(e.ai, e.value) for e in elements]


def _separated(body: str) -> list[tuple[str, str]]:
    """Element strings where every variable-length value is ended by a separator."""
    for sep in SEPARATORS[1:]:
        body = body.replace(sep, GS)
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        if body[pos] == GS:
            pos += 1
            continue
        rest = body[pos:]
        if rest.startswith(AI_GLN):
            value = rest[3:16]
            out.append((AI_GLN, value))
            pos += 3 + len(value)
            continue
        ai = _variable_ai(rest)
        if ai is None:
            raise ScanError(f"código GS1 con un identificador (AI) no esperado en {rest[:6]!r}")
        end = body.find(GS, pos + len(ai))
        end = len(body) if end < 0 else end
        out.append((ai, body[pos + len(ai) : end]))
        pos = end
    return out


def _variable_ai(rest: str) -> str | None:
    if rest.startswith(AI_REFERENCE):
        return AI_REFERENCE
    if len(rest) >= 4 and _AMOUNT_AI.match(rest[:4]):
        return rest[:4]
    if rest.startswith(AI_DUE):
        return AI_DUE
    return None


def _compact(body: str, amount_width: int) -> Scan | None:
    """The data with no separator at all, or None when it is not a bill barcode."""
    head = 3 + 13 + 4  # (415)GLN(8020)
    widths = [
        amount_width,
        *(w for w in range(1, barcode.MAX_AMOUNT_WIDTH + 1) if w != amount_width),
    ]
    if not body.startswith(AI_GLN) or body[16:20] != AI_REFERENCE:
        return None
    gln = body[3:16]
    if not _valid_gln(gln):
        return None
    for width in widths:
        tail = 4 + width + 2 + 8
        if len(body) < head + 1 + tail:
            continue
        cut = len(body) - tail
        amount_ai, amount = body[cut : cut + 4], body[cut + 4 : cut + 4 + width]
        due_ai, due = body[cut + 4 + width : cut + 6 + width], body[cut + 6 + width :]
        if not (_AMOUNT_AI.match(amount_ai) and amount.isdigit() and due_ai == AI_DUE):
            continue
        if _date(due) is None:
            continue
        return _from_elements(
            [(AI_GLN, gln), (AI_REFERENCE, body[head:cut]), (amount_ai, amount), (AI_DUE, due)]
        )
    return None


# --- fields ----------------------------------------------------------------------------


def _valid_gln(gln: str) -> bool:
    try:
        barcode.validate_gln(gln)
    except barcode.BarcodeError:
        return False
    return True


def _date(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit() or not text.isascii():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _from_elements(elements: list[tuple[str, str]]) -> Scan:
    fields = dict(elements)
    if len(fields) != len(elements):
        raise ScanError("código GS1 con un identificador (AI) repetido")
    reference = fields.get(AI_REFERENCE, "")
    if not reference:
        raise ScanError("el código de barras no trae la referencia de pago (8020)")
    try:
        barcode.validate_reference(reference)
    except barcode.BarcodeError as exc:
        raise ScanError(f"referencia de pago (8020) no válida: {reference!r}") from exc
    gln = fields.get(AI_GLN, "")
    if gln and not _valid_gln(gln):
        raise ScanError(f"GLN (415) no válido: {gln!r}")
    amount: int | None = None
    decimals = 0
    for ai, value in elements:
        match = _AMOUNT_AI.match(ai)
        if match:
            if not value.isdigit() or not value.isascii() or len(value) > barcode.MAX_AMOUNT_WIDTH:
                raise ScanError(f"importe ({ai}) no válido: {value!r}")
            amount, decimals = int(value), int(match.group(1))
    due: date | None = None
    if AI_DUE in fields:
        due = _date(fields[AI_DUE])
        if due is None:
            raise ScanError(f"fecha límite (96) no válida: {fields[AI_DUE]!r}")
    unknown = [ai for ai, _v in elements if ai not in (AI_GLN, AI_REFERENCE, AI_DUE)]
    unknown = [ai for ai in unknown if not _AMOUNT_AI.match(ai)]
    if unknown:
        raise ScanError(f"código GS1 con identificadores (AI) no esperados: {', '.join(unknown)}")
    return Scan(reference=reference, gs1=True, gln=gln, amount=amount, decimals=decimals, due=due)


# --- the Peruvian QR ---------------------------------------------------------------------


@lru_cache(maxsize=8)
def _qr_pattern(template: str) -> re.Pattern[str] | None:
    """A regex for payloads laid out by ``template`` (None for a template without literal
    text between its fields: it could not be told from a typed reference)."""
    try:
        qr.check_format(template)
        parts = list(string.Formatter().parse(template))
    except (qr.QrError, ValueError):
        return None
    seen: set[str] = set()
    out = []
    literal = False
    for text, name, _spec, _conv in parts:
        if text:
            out.append(re.escape(text))
            literal = True
        if name is None:
            continue
        if name in seen:
            out.append(f"(?P={name})")
        else:
            out.append(f"(?P<{name}>.+?)")
            seen.add(name)
    if not literal:
        return None
    return re.compile("".join(out), re.DOTALL)


def _from_qr(raw: str, template: str) -> Scan | None:
    pattern = _qr_pattern(template)
    match = pattern.fullmatch(raw) if pattern is not None else None
    if match is None:
        return None
    fields = match.groupdict()
    reference = fields.get("payment_code") or fields.get("account") or fields.get("bill") or ""
    if not reference.strip():
        return None
    currency = fields.get("currency", "")
    try:
        places = exponent(currency) if currency else 2
    except MoneyError:
        return None
    amount: int | None = None
    decimals = 0
    if fields.get("amount_minor", "").isdigit():
        amount, decimals = int(fields["amount_minor"]), places
    elif re.fullmatch(r"\d+(\.\d+)?", fields.get("amount", "")):
        whole, _dot, cents = fields["amount"].partition(".")
        amount, decimals = int(whole + cents), len(cents)
    due: date | None = None
    if fields.get("due"):
        try:
            due = date.fromisoformat(fields["due"])
        except ValueError:
            return None
    elif fields.get("due_compact"):
        due = _date(fields["due_compact"])
    return Scan(reference=reference.strip(), qr=True, amount=amount, decimals=decimals, due=due)
