"""Pure rules of tariffs: plain data in, plain data out; no ORM (see docs/architecture.md).

``price(account, tariff, *, months)`` prices one account for one period and returns one
:class:`Charge` per bill line. ``caudal.tariffs.pricing.price_accounts`` does the same for
millions of accounts at once and must give exactly the same lines.

The rules (documented with examples in ``docs/tariffs.md``):

- **Blocks** are in m³ per month and per unit of use: ``from`` < volume ≤ ``to``. For a period
  of ``months`` months their limits are multiplied by ``months`` (a bimonthly bill has twice
  the block widths and twice the Colombian basic consumption), as is the fixed charge.
- **stepped**: each m³ at the rate of its own block. **whole**: the whole volume at the rate of
  the block it falls in (a volume of 0 falls in the first block).
- **Units of use** (``split_by_units``, default true): the volume V of an account with n units is
  split into whole m³ per unit — ``V // n`` for each unit and one more m³ for ``V % n`` of them
  — each unit is priced against the blocks, and the block volumes are added back over the
  units before a line is rounded. With ``split_by_units: false`` the blocks apply once to the
  whole volume. The fixed charge is per account, or per unit with ``fixed_per_unit: true``.
- **Rounding**: each line is computed exactly with ``Decimal`` and rounded half-up to the
  tariff's ``rounding`` (in minor units: 1 = a céntimo, 100 = a whole peso). ``gross`` is the
  line before the solidarity factor, ``amount`` = quantity × rate × (100 + factor) / 100,
  rounded once. Lines whose amount is 0 are dropped.
- **Tax** (IGV in Peru): one line, the percentage of the sum of the (rounded) amounts of the
  taxed concepts, rounded the same way.
- **Colombia**: the consumption ranges are basic (up to the basic consumption of the
  municipality's altitude band), complementary (up to the sumptuary threshold) and sumptuary;
  all stepped. Solidarity factors come from the municipality's factor set valid on ``on``:
  subsidies (strata 1–3 of the residential categories) apply to the fixed charges and the
  basic range only; contributions (strata 5–6, commercial, industrial) to every line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from caudal.kernel.money import format_money

from .schema import (
    RANGE_ALL,
    RANGE_NAMES,
    RANGES,
    RESIDENTIAL,
    Block,
    Category,
    Tariff,
    block_label,
    decimal_text,
)

HUNDRED = Decimal(100)
#: Sanity limits of the input (a larger value is a data error, not a bill).
MAX_CONSUMPTION_M3 = 10**10
MAX_UNITS = 1_000_000

SERVICE_NAMES = {
    "PE": {"water": "Agua potable", "sewer": "Alcantarillado"},
    "CO": {"water": "Acueducto", "sewer": "Alcantarillado"},
}
FIXED_NAMES = {
    "PE": {
        "any": "Cargo fijo",
        "water": "Cargo fijo agua potable",
        "sewer": "Cargo fijo alcantarillado",
    },
    "CO": {
        "any": "Cargo fijo",
        "water": "Cargo fijo acueducto",
        "sewer": "Cargo fijo alcantarillado",
    },
}


class PricingError(ValueError):
    """An account that the tariff cannot price; the message says why (in Spanish)."""


@dataclass(frozen=True)
class AccountInput:
    """What pricing needs to know about one account for one period."""

    category: str
    consumption_m3: int
    units: int = 1
    stratum: int | None = None
    municipality_code: str = ""
    altitude_m: int | None = None
    water: bool = True
    sewer: bool = True


@dataclass(frozen=True)
class Charge:
    """One bill line. Money in integer minor units of the tariff's currency."""

    concept: str
    description: str
    block: str | None
    volume: int | None
    rate: Decimal | None
    factor_pct: Decimal | None
    gross: int
    amount: int
    #: "CODE vN" of the tariff version.
    tariff: str
    currency: str
    #: Fixed lines: months × units charged; volumetric lines: the volume; tax: 0.
    quantity: int = 0
    #: Tax line: the taxed base.
    base: int | None = None
    #: Volumetric lines: the block limits applied for this period (per unit), as text.
    limits: str = ""
    #: Months of the period (fixed lines: quantity = months × units charged).
    months: int = 1

    @property
    def rate_shown(self) -> str:
        """The rate for people: the currency's separators (``2.531,47`` in COP), tax in %."""
        if self.rate is None:
            return ""
        if self.concept == "tax":
            return f"{decimal_text(self.rate)} %"
        return format_rate(self.rate, self.currency, symbol=False)

    @property
    def rate_text(self) -> str | None:
        """The rate as the pricing frame writes it: as in the file, the tax in percent."""
        return rate_text(self.concept, self.rate)

    def explain(self) -> str:
        """Where the line comes from, in Spanish, for staff and for the bill's detail."""
        head = f"Tarifa {self.tariff} · {self.description}"
        money = format_money(self.gross, self.currency)
        if self.concept == "tax" and self.rate is not None and self.base is not None:
            return (
                f"{head}: {decimal_text(self.rate)} % de "
                f"{format_money(self.base, self.currency)} = {money}"
            )
        rate = format_rate(self.rate, self.currency) if self.rate is not None else "—"
        if self.volume is None:
            months = f"{self.months} mes" + ("es" if self.months != 1 else "")
            units = self.quantity // max(self.months, 1)
            per_unit = f" × {units} unidades" if units != 1 else ""
            text = f"{head}: {months}{per_unit} × {rate} por mes = {money}"
        else:
            limits = f" (bloque en este periodo, por unidad: {self.limits})" if self.limits else ""
            text = f"{head}{limits}: {self.volume} m³ × {rate} por m³ = {money}"
        if self.factor_pct is not None:
            kind = "subsidio" if self.factor_pct < 0 else "contribución"
            sign = "−" if self.factor_pct < 0 else "+"
            text += (
                f"; {kind} {sign}{decimal_text(abs(self.factor_pct))} % → "
                f"{format_money(self.amount, self.currency)}"
            )
        return text


def format_rate(rate: Decimal, currency: str, *, symbol: bool = True) -> str:
    """A rate as written in the tariff, with the currency's symbol and separators."""
    text = format(rate, ",f")
    if currency == "COP":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    if not symbol:
        return text
    return f"{format_money(0, currency).split(' ')[0]} {text}"


# =========================================================================================
# Arithmetic
# =========================================================================================


def line_amount(quantity: int, rate: Decimal, factor_pct: Decimal | None, tariff: Tariff) -> int:
    """quantity × rate × (100 + factor) / 100 in minor units, rounded half-up to
    ``tariff.rounding`` minor units."""
    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(quantity) * rate * (Decimal(10) ** tariff.exponent)
        if factor_pct is not None:
            value = value * (HUNDRED + factor_pct) / HUNDRED
        units = (value / tariff.rounding).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(units) * tariff.rounding


def tax_amount(base: int, rate_pct: Decimal, tariff: Tariff) -> int:
    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(base) * rate_pct / HUNDRED
        units = (value / tariff.rounding).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(units) * tariff.rounding


# =========================================================================================
# Blocks, units and factors
# =========================================================================================


def category_blocks(
    tariff: Tariff, category: Category, altitude_m: int | None
) -> tuple[Block, ...]:
    """The blocks of a category, per month and unit. Colombia: built from the altitude band."""
    if tariff.country != "CO":
        return category.blocks
    if RANGE_ALL in category.ranges:
        rates = category.ranges[RANGE_ALL]
        return (Block(0, None, rates.water, rates.sewer, "", RANGE_ALL),)
    if altitude_m is None:
        raise PricingError("sin altitud del municipio: no se puede fijar el consumo básico")
    band = tariff.band_for(altitude_m)
    limits = [0, band.basic_m3]
    if band.sumptuary_from_m3 is not None:
        limits.append(band.sumptuary_from_m3)
    blocks = []
    for i, kind in enumerate(RANGES[: len(limits)]):
        lo = limits[i]
        hi = limits[i + 1] if i + 1 < len(limits) else None
        rates = category.ranges[kind]
        blocks.append(Block(lo, hi, rates.water, rates.sewer, RANGE_NAMES[kind], kind))
    return tuple(blocks)


def unit_volumes(volume: int, units: int) -> list[tuple[int, int]]:
    """Split ``volume`` over ``units`` in whole m³: [(per-unit volume, how many units)]."""
    q, r = divmod(volume, units)
    parts = [(q, units - r)]
    if r:
        parts.append((q + 1, r))
    return parts


def block_volumes(
    blocks: tuple[Block, ...], mode: str, volume: int, units: int, months: int
) -> list[int]:
    """Volume (m³) billed in each block, summed over the units of use."""
    result = [0] * len(blocks)
    for per_unit, count in unit_volumes(volume, units):
        if mode == "whole":
            for i, b in enumerate(blocks):
                if b.hi is None or per_unit <= b.hi * months:
                    result[i] += per_unit * count
                    break
        else:
            for i, b in enumerate(blocks):
                lo = b.lo * months
                top = per_unit if b.hi is None else min(per_unit, b.hi * months)
                if top > lo:
                    result[i] += (top - lo) * count
    return result


def resolve_altitude(account: AccountInput, tariff: Tariff) -> int | None:
    if account.altitude_m is not None:
        return account.altitude_m
    muni = tariff.municipality(account.municipality_code)
    return muni.altitude_m if muni is not None else None


def solidarity_factor(
    account: AccountInput, tariff: Tariff, on: date | None = None
) -> Decimal | None:
    """Colombia: the factor in percent (negative = subsidy, positive = contribution), or None.

    Raises PricingError when the municipality or its factors for ``on`` are missing."""
    if tariff.country != "CO":
        return None
    day = on or tariff.valid_from
    muni = tariff.municipality(account.municipality_code)
    if muni is None:
        raise PricingError(
            f"el municipio {account.municipality_code!r} no figura en la tarifa {tariff.label}"
        )
    factors = next((f for f in muni.factors if f.covers(day)), None)
    if factors is None:
        raise PricingError(
            f"la tarifa {tariff.label} no tiene factores de subsidio/contribución para el "
            f"municipio {muni.code} vigentes el {day.isoformat()}"
        )
    pct: Decimal | None = None
    if account.category in RESIDENTIAL:
        stratum = account.stratum
        if stratum is None or not 1 <= stratum <= 6:
            raise PricingError(f"suministro residencial sin estrato válido (1 a 6): {stratum!r}")
        if stratum in factors.subsidies:
            pct = -factors.subsidies[stratum]
        elif str(stratum) in factors.contributions:
            pct = factors.contributions[str(stratum)]
    elif account.category in factors.contributions:
        pct = factors.contributions[account.category]
    return None if pct is None or pct == 0 else pct


def unpriceable_reason(
    account: AccountInput, tariff: Tariff, *, months: int, on: date | None = None
) -> str | None:
    """Why the tariff cannot price this account (Spanish), or None."""
    if months < 1:
        return f"número de meses inválido: {months}"
    category = tariff.categories.get(account.category)
    if category is None:
        return f"la tarifa {tariff.label} no tiene la categoría {account.category!r}"
    try:
        if tariff.country == "CO":
            category_blocks(tariff, category, resolve_altitude(account, tariff))
            solidarity_factor(account, tariff, on)
    except PricingError as exc:
        return str(exc)
    if account.consumption_m3 < 0:
        return f"consumo negativo: {account.consumption_m3} m³"
    if account.consumption_m3 > MAX_CONSUMPTION_M3:
        return f"consumo fuera de rango: {account.consumption_m3} m³"
    if not 1 <= account.units <= MAX_UNITS:
        return f"unidades de uso inválidas: {account.units}"
    return None


# =========================================================================================
# Pricing
# =========================================================================================


def price(
    account: AccountInput, tariff: Tariff, *, months: int, on: date | None = None
) -> list[Charge]:
    """The bill lines of one account for a period of ``months`` months.

    ``on``: the day the Colombian solidarity factors are looked up (the period's first day;
    None = the tariff's ``valid_from``). Raises PricingError when the account cannot be priced.
    """
    reason = unpriceable_reason(account, tariff, months=months, on=on)
    if reason is not None:
        raise PricingError(reason)
    category = tariff.categories[account.category]
    factor = solidarity_factor(account, tariff, on)
    subsidy = factor is not None and factor < 0
    names = SERVICE_NAMES.get(tariff.country, SERVICE_NAMES["PE"])
    fixed_names = FIXED_NAMES.get(tariff.country, FIXED_NAMES["PE"])
    label = tariff.label
    currency = tariff.currency
    lines: list[Charge] = []

    def add(
        concept: str,
        description: str,
        block: str | None,
        volume: int | None,
        quantity: int,
        rate: Decimal,
        line_factor: Decimal | None,
        limits: str = "",
    ) -> None:
        gross = line_amount(quantity, rate, None, tariff)
        amount = gross if line_factor is None else line_amount(quantity, rate, line_factor, tariff)
        if amount > 0:
            lines.append(
                Charge(
                    concept=concept,
                    description=description,
                    block=block,
                    volume=volume,
                    rate=rate,
                    factor_pct=line_factor,
                    gross=gross,
                    amount=amount,
                    tariff=label,
                    currency=currency,
                    quantity=quantity,
                    limits=limits,
                    months=months,
                )
            )

    fixed_quantity = months * (account.units if category.fixed_per_unit else 1)
    for fixed in category.fixed:
        billable = (
            (account.water or account.sewer)
            if fixed.service == "any"
            else getattr(account, fixed.service)
        )
        if billable:
            add(
                "fixed",
                fixed_names[fixed.service],
                None,
                None,
                fixed_quantity,
                fixed.amount,
                factor,
            )

    blocks = category_blocks(tariff, category, resolve_altitude(account, tariff))
    split = account.units if category.split_by_units else 1
    volumes = block_volumes(blocks, category.mode, account.consumption_m3, split, months)
    for service in ("water", "sewer"):
        if not getattr(account, service):
            continue
        for block, volume in zip(blocks, volumes, strict=True):
            if volume <= 0:
                continue
            rate = block.water if service == "water" else block.sewer
            line_factor = factor if (not subsidy or block.kind == "basic") else None
            add(
                service,
                describe(names[service], block, tariff.country),
                block.label or None,
                volume,
                volume,
                rate,
                line_factor,
                period_limits(block, months, tariff.country),
            )

    tax = tariff.tax
    if tax is not None:
        base = sum(c.amount for c in lines if c.concept in tax.applies_to)
        amount = tax_amount(base, tax.rate_pct, tariff)
        if amount > 0:
            lines.append(
                Charge(
                    concept="tax",
                    description=tax_description(tariff),
                    block=None,
                    volume=None,
                    rate=tax.rate_pct,
                    factor_pct=None,
                    gross=amount,
                    amount=amount,
                    tariff=label,
                    currency=currency,
                    base=base,
                    months=months,
                )
            )
    return lines


def describe(service_name: str, block: Block, country: str) -> str:
    if country == "CO":
        return f"{service_name} consumo {block.label}".strip()
    return f"{service_name} {block.label}".strip()


def tax_description(tariff: Tariff) -> str:
    assert tariff.tax is not None
    return f"{tariff.tax.name} {decimal_text(tariff.tax.rate_pct)} %"


def period_limits(block: Block, months: int, country: str) -> str:
    """The block's limits for this period per unit, when they say more than its label."""
    if block.kind == RANGE_ALL or (months == 1 and country != "CO"):
        return ""
    return block_label(block.lo * months, None if block.hi is None else block.hi * months)


def rate_text(concept: str, rate: Decimal | None) -> str | None:
    if rate is None:
        return None
    return decimal_text(rate) if concept == "tax" else format(rate, "f")


def assigned_volume(tariff: Tariff, category: str, units: int, months: int) -> int:
    """Assigned volume (asignación de consumo) of an unmetered account: the category's
    ``assigned_m3`` per unit and month × units × months. Raises PricingError when the
    tariff gives none for the category."""
    cat = tariff.categories.get(category)
    if cat is None or cat.assigned_m3 is None:
        raise PricingError(
            f"la tarifa {tariff.label} no fija volumen asignado para la categoría {category!r}"
        )
    return cat.assigned_m3 * max(units, 1) * months


def total(charges: list[Charge]) -> int:
    return sum(c.amount for c in charges)


__all__ = [
    "AccountInput",
    "Charge",
    "PricingError",
    "assigned_volume",
    "block_volumes",
    "category_blocks",
    "line_amount",
    "price",
    "solidarity_factor",
    "unit_volumes",
    "unpriceable_reason",
]
