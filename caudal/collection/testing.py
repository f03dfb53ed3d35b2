"""Helpers for tests of the collection app and of the apps above it."""

from __future__ import annotations

from decimal import Decimal

from .models import AmountRule, Centre, CentreKind, PaymentPoint


def make_centre(
    code: str = "CAR01",
    *,
    kind: str = CentreKind.CAR,
    amount_rule: str = AmountRule.EXACT,
    fixed: int = 0,
    rate: str = "0",
    minimum: int = 0,
    deducted: bool = False,
    points: int = 1,
) -> Centre:
    centre = Centre.objects.create(
        code=code,
        name=f"Centro {code}",
        kind=kind,
        amount_rule=amount_rule,
        commission_fixed=fixed,
        commission_rate=Decimal(rate),
        commission_minimum=minimum,
        commission_deducted=deducted,
        deposit_account="000-123456-0",
    )
    for n in range(1, points + 1):
        PaymentPoint.objects.create(centre=centre, code=f"P{n:02d}", name=f"Ventanilla {n}")
    return centre
