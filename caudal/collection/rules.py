"""Pure collection rules: commissions, accepted amounts, deposit deadlines, cash counts.

No database here (import-linter): plain values in, plain values out.

Rules a collections supervisor would state:

- **Commission** per payment = ``max(minimum, fixed + amount × rate)``, rounded half up to
  the minor unit; a reversed payment earns none. The day's commission is the sum over the
  day's payments that were not reversed. (The terms are per centre and UNCONFIRMED for any
  particular contract: they are data.)
- **Accepted amount** (per centre ``amount_rule``): ``exact`` accepts only what is due (the
  bill's open amount when paid by bill reference, the account's payable balance when paid by
  account number); ``partial`` accepts any positive amount up to that; ``any`` accepts any
  positive amount and leaves the excess as a credit (saldo a favor). Nothing due and
  ``exact``/``partial`` → refused.
- **Deposit deadline**: the collected money of day D is due ``deposit_days`` calendar days
  later at ``deposit_time`` (next day 10:30 by default, as the EPS Moquegua CAR contracts).
- **Deposit status**: not deposited before the deadline → ``late``; deposited amount ≠
  expected → ``difference``; else ``deposited``.
- **Cash count**: difference = counted − expected (negative = shortage, faltante).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

EXACT = "exact"
PARTIAL = "partial"
ANY = "any"
AMOUNT_RULES = (EXACT, PARTIAL, ANY)

METHODS = ("cash", "card", "cheque", "transfer")


@dataclass(frozen=True, slots=True)
class CommissionTerms:
    fixed: int = 0
    rate: Decimal = Decimal(0)
    minimum: int = 0


def commission(amount: int, terms: CommissionTerms) -> int:
    """Commission for one payment of ``amount`` minor units."""
    if amount <= 0:
        return 0
    variable = (Decimal(amount) * Decimal(terms.rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(int(terms.minimum), int(terms.fixed) + int(variable))


def day_commission(amounts: Iterable[int], terms: CommissionTerms) -> int:
    return sum(commission(a, terms) for a in amounts)


def check_amount(rule: str, amount: int, due: int) -> str | None:
    """Why ``amount`` cannot be accepted against ``due`` under ``rule``; None if it can.

    The message is Spanish (it reaches the centre's system and the cashier)."""
    if rule not in AMOUNT_RULES:
        raise ValueError(f"unknown amount rule {rule!r}")
    if amount <= 0:
        return "El importe debe ser positivo."
    if rule == ANY:
        return None
    if due <= 0:
        return "No hay deuda pendiente para esta referencia."
    if rule == EXACT and amount != due:
        return f"El importe debe ser exactamente {fmt(due)} (se recibió {fmt(amount)})."
    if rule == PARTIAL and amount > due:
        return f"El importe {fmt(amount)} excede la deuda de {fmt(due)}."
    return None


def fmt(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def deposit_deadline(day: date, *, days: int = 1, at: time = time(10, 30)) -> datetime:
    """Naive local datetime by which the money collected on ``day`` must be deposited."""
    return datetime.combine(day + timedelta(days=days), at)


def deposit_status(
    *,
    expected: int,
    deposited: int | None,
    deposited_at: datetime | None,
    due_at: datetime,
    now: datetime,
) -> str:
    """``closed`` (pending, not yet due), ``late``, ``difference`` or ``deposited``.

    Datetimes must all be naive local or all aware."""
    if deposited is None or deposited_at is None:
        return "late" if now > due_at else "closed"
    if deposited != expected:
        return "difference"
    if deposited_at > due_at:
        return "late"
    return "deposited"


def expected_deposit(collected: int, commission_total: int, *, deducted: bool) -> int:
    return collected - commission_total if deducted else collected


def cash_difference(expected: Mapping[str, int], counted: Mapping[str, int]) -> dict[str, int]:
    """Per method and ``total``: counted − expected."""
    methods = sorted(set(expected) | set(counted))
    out = {m: int(counted.get(m, 0)) - int(expected.get(m, 0)) for m in methods}
    out["total"] = sum(out[m] for m in methods)
    return out


def request_hash(fields: Mapping[str, object]) -> str:
    """A stable fingerprint of a payment request, to tell a retry from a different request
    reusing the same idempotency key."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def split_key(raw: str) -> tuple[str, str] | None:
    """``cau_<prefix>_<secret>`` → (prefix, secret); None if malformed."""
    parts = raw.strip().split("_")
    if len(parts) != 3 or parts[0] != "cau" or not parts[1] or not parts[2]:
        return None
    if not (parts[1].isalnum() and parts[2].replace("-", "").isalnum()):
        return None
    return parts[1], parts[2]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
