"""Money as integer minor units (céntimos / centavos). Never a float.

All conversions between human amounts (``Decimal`` or text such as ``"1.234,50"``) and
stored integers go through this module, with one explicit rounding rule: half-up, the
rule SUNASS and Colombian billing practice use for amounts shown on a bill.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 exponents for the currencies Caudal bills in.
CURRENCY_EXPONENT = {"PEN": 2, "COP": 2, "USD": 2}
CURRENCY_SYMBOL = {"PEN": "S/", "COP": "$", "USD": "US$"}


class MoneyError(ValueError):
    """An amount that cannot be read or represented exactly."""


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENT[currency]
    except KeyError as exc:
        raise MoneyError(f"unknown currency {currency!r}") from exc


def to_minor(amount: Decimal | int | str, currency: str = "PEN") -> int:
    """Convert a major-unit amount to integer minor units, rounding half-up.

    Floats are refused: they cannot carry money exactly.
    """
    if isinstance(amount, float):
        raise MoneyError("floats are not accepted for money; pass Decimal or str")
    if isinstance(amount, bool):
        raise MoneyError("booleans are not money")
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    scaled = (value * (Decimal(10) ** exponent(currency))).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return int(scaled)


def parse_amount(text: str, currency: str = "PEN") -> int:
    """Parse an amount written in a file (``1234.50``, ``1234,50``, ``-12``) to minor units.

    Thousands separators are not accepted: a file that uses them is ambiguous.
    """
    raw = text.strip()
    if not raw:
        raise MoneyError("empty amount")
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    if raw.count(".") > 1 or "," in raw:
        raise MoneyError(f"not an amount: {text!r} (use 1234.50, no thousands separator)")
    places = len(raw.split(".")[1]) if "." in raw else 0
    if places > exponent(currency):
        raise MoneyError(f"{text!r} has {places} decimals; {currency} has {exponent(currency)}")
    return to_minor(raw, currency)


def to_major(minor: int, currency: str = "PEN") -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def format_money(minor: int, currency: str = "PEN", *, symbol: bool = True) -> str:
    """Format for display the way Peruvian and Colombian staff read it: ``S/ 1,234.50``."""
    exp = exponent(currency)
    value = to_major(minor, currency)
    text = f"{value:,.{exp}f}"
    if currency == "COP":
        # Colombian convention: dot for thousands, comma for decimals.
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    if symbol:
        return f"{CURRENCY_SYMBOL.get(currency, currency)} {text}"
    return text


def split_proportionally(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` minor units over ``weights`` with largest-remainder rounding.

    The parts always add up to ``total`` exactly.
    """
    if not weights:
        raise MoneyError("no weights")
    weight_sum = sum(weights)
    if weight_sum == 0:
        parts = [0] * len(weights)
        parts[0] = total
        return parts
    raw = [total * w for w in weights]
    parts = [r // weight_sum for r in raw]
    remainders = sorted(range(len(weights)), key=lambda i: (raw[i] % weight_sum, -i), reverse=True)
    for i in remainders[: total - sum(parts)]:
        parts[i] += 1
    return parts
