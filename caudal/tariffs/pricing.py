"""Vectorised pricing of many accounts at once (the billing run's hot path).

Contract (used by caudal.billing.runs; keep it stable):

``price_accounts(accounts, tariff, *, months, on=None) -> pl.DataFrame``

``tariff`` is a ``caudal.tariffs.schema.Tariff`` (``caudal.tariffs.queries.load(version)``).
``months`` is the number of months of the period (1 or 2). ``on`` is the day the Colombian
solidarity factors (subsidies / contributions, dated per municipality inside the tariff file)
are looked up: the billing run passes the period's first day; ``None`` means the tariff's
``valid_from``. Peru ignores it.

Input ``accounts`` columns: account_id Int64, category Utf8 (cadastre UseCategory values),
stratum Int64 (null in Peru), units Int64 (>= 1), municipality_code Utf8, altitude_m Int64
(nullable), consumption_m3 Int64 (>= 0), water Boolean (water service billable), sewer Boolean.

Output, one row per charge line: account_id Int64, line_no Int64 (1-based per account, print
order), concept Utf8 (ledger Concept: fixed, water, sewer, tax, other), description Utf8,
block Utf8 (nullable), volume_m3 Int64 (nullable), rate Utf8 (decimal text, nullable),
factor_pct Utf8 (subsidy negative / contribution positive, nullable), gross Int64 (minor units
before the factor), amount Int64 (minor units, > 0; zero lines are dropped).

Details of the output:

- Rows come grouped by account, accounts in input order, lines in ``line_no`` order:
  fixed charge(s), water blocks, sewer blocks, tax. An account with no line (nothing
  billable, or everything zero) has no row.
- Fixed-charge lines: ``volume_m3`` null, ``rate`` the charge per month (per unit of use
  when the category says ``fixed_per_unit``), ``block`` null.
- The tax line (IGV in Peru): ``block``, ``volume_m3`` and ``factor_pct`` null, ``rate`` the
  percentage (``"18"``), ``gross`` = ``amount``; its base is the sum of the amounts of the
  concepts the tariff taxes.
- ``description`` is complete text for the printed bill (``"Agua potable 10–25 m³"``,
  ``"Alcantarillado consumo básico"``); ``block`` is the block's label alone.
- Every account must be priceable: ``price_accounts`` raises ``PricingError`` otherwise.
  ``unpriceable(accounts, tariff, *, months, on=None) -> pl.DataFrame`` (account_id Int64,
  reason Utf8, in Spanish) lists the accounts it would refuse (category missing from the
  tariff, Colombian residential account without stratum, municipality without altitude or
  without solidarity factors on ``on``, negative consumption, units < 1), so a run can
  reject them with their reason and price the rest.

``assigned_volumes_frame(accounts, tariff, *, months) -> pl.DataFrame``: input columns
account_id Int64, category Utf8, units Int64; output account_id Int64, assigned_m3 Int64
(the assigned volume for an unmetered account, asignación de consumo: the category's
``assigned_m3`` per unit and month × units × months; null when the tariff gives none for the
category). Same rule as ``caudal.tariffs.rules.assigned_volume``.

It must give exactly what ``caudal.tariffs.rules.price`` gives for one account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import polars as pl

from . import rules
from .rules import AccountInput, PricingError
from .schema import Block, Category, Tariff, decimal_text

__all__ = [
    "INPUT_SCHEMA",
    "OUTPUT_SCHEMA",
    "PricingError",
    "assigned_volumes_frame",
    "price_accounts",
    "unpriceable",
]

INPUT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "category": pl.Utf8(),
    "stratum": pl.Int64(),
    "units": pl.Int64(),
    "municipality_code": pl.Utf8(),
    "altitude_m": pl.Int64(),
    "consumption_m3": pl.Int64(),
    "water": pl.Boolean(),
    "sewer": pl.Boolean(),
}
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(),
    "line_no": pl.Int64(),
    "concept": pl.Utf8(),
    "description": pl.Utf8(),
    "block": pl.Utf8(),
    "volume_m3": pl.Int64(),
    "rate": pl.Utf8(),
    "factor_pct": pl.Utf8(),
    "gross": pl.Int64(),
    "amount": pl.Int64(),
}
#: Accounts computed together (bounds the memory of the N × slots integer arrays).
CHUNK = 262_144
#: Keep every intermediate product below this, so int64 arithmetic stays exact.
SAFE = 2**62
#: Stands for "no upper limit" in block arrays; any real limit × months is far below it.
OPEN = 2**61

_ACCOUNT_COLS = ("category", "stratum", "municipality_code", "altitude_m")


def _scale(values: list[Decimal]) -> int:
    """Decimal places needed to write every value as an integer."""
    places = 0
    for v in values:
        exponent = v.as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return places


def _as_int(value: Decimal, places: int) -> int:
    scaled = value.scaleb(places)
    assert scaled == scaled.to_integral_value(), value
    return int(scaled)


@dataclass(frozen=True)
class _Group:
    """Accounts priced with the same blocks of the same category."""

    category: Category
    blocks: tuple[Block, ...]


class _Plan:
    """Integer tables of one tariff for one period: one row per group, one column per slot.

    Slots per account: 0 fixed (any or water), 1 fixed sewer, 2..2+B water blocks,
    2+B..2+2B sewer blocks, 2+2B tax (B = the most blocks of any group).
    """

    def __init__(
        self, tariff: Tariff, groups: list[_Group], factors: list[Decimal | None], months: int
    ) -> None:
        self.tariff = tariff
        self.months = months
        self.B = max((len(g.blocks) for g in groups), default=1)
        self.S = 3 + 2 * self.B
        G = max(len(groups), 1)
        rates = [f.amount for g in groups for f in g.category.fixed]
        rates += [r for g in groups for b in g.blocks for r in (b.water, b.sewer)]
        self.k = _scale(rates)
        present = [f for f in factors if f is not None]
        self.fd = _scale(present)
        self.m0 = 100 * 10**self.fd
        # factor tables, by factor id
        self.f_mult = np.array(
            [self.m0 if f is None else _as_int(100 + f, self.fd) for f in factors] or [self.m0],
            dtype=np.int64,
        )
        self.f_has = np.array([f is not None for f in factors] or [False])
        self.f_sub = np.array([f is not None and f < 0 for f in factors] or [False])
        # one text per factor id, then a null for "no factor on this line"
        self.f_text = pl.Series(
            "factor_pct",
            [None if f is None else decimal_text(f) for f in factors] + [None],
            dtype=pl.Utf8,
        )
        # block tables, by group
        B = self.B
        self.lo = np.full((G, B), OPEN, dtype=np.int64)
        self.hi = np.full((G, B), OPEN, dtype=np.int64)
        self.rw = np.zeros((G, B), dtype=np.int64)
        self.rs = np.zeros((G, B), dtype=np.int64)
        self.basic = np.zeros((G, B), dtype=bool)
        self.whole = np.zeros(G, dtype=bool)
        self.split = np.ones(G, dtype=bool)
        self.per_unit = np.zeros(G, dtype=bool)
        # fixed slots: service code 0 none, 1 any, 2 water, 3 sewer; rate scaled
        self.fx_service = np.zeros((G, 2), dtype=np.int64)
        self.fx_rate = np.zeros((G, 2), dtype=np.int64)
        concept: list[str | None] = [None] * (G * self.S)
        description: list[str | None] = [None] * (G * self.S)
        block: list[str | None] = [None] * (G * self.S)
        rate: list[str | None] = [None] * (G * self.S)
        has_volume = np.zeros(G * self.S, dtype=bool)
        country = tariff.country
        names = rules.SERVICE_NAMES.get(country, rules.SERVICE_NAMES["PE"])
        fixed_names = rules.FIXED_NAMES.get(country, rules.FIXED_NAMES["PE"])
        for gi, group in enumerate(groups):
            cat = group.category
            base = gi * self.S
            self.whole[gi] = cat.mode == "whole"
            self.split[gi] = cat.split_by_units
            self.per_unit[gi] = cat.fixed_per_unit
            for fixed in cat.fixed:
                slot = 1 if fixed.service == "sewer" else 0
                self.fx_service[gi, slot] = {"any": 1, "water": 2, "sewer": 3}[fixed.service]
                self.fx_rate[gi, slot] = _as_int(fixed.amount, self.k)
                concept[base + slot] = "fixed"
                description[base + slot] = fixed_names[fixed.service]
                rate[base + slot] = rules.rate_text("fixed", fixed.amount)
            for bi, b in enumerate(group.blocks):
                self.lo[gi, bi] = b.lo * months
                self.hi[gi, bi] = OPEN if b.hi is None else b.hi * months
                self.rw[gi, bi] = _as_int(b.water, self.k)
                self.rs[gi, bi] = _as_int(b.sewer, self.k)
                self.basic[gi, bi] = b.kind == "basic"
                for service, offset, value in (("water", 2, b.water), ("sewer", 2 + B, b.sewer)):
                    slot = base + offset + bi
                    concept[slot] = service
                    description[slot] = rules.describe(names[service], b, country)
                    block[slot] = b.label or None
                    rate[slot] = rules.rate_text(service, value)
                    has_volume[slot] = True
            if tariff.tax is not None:
                slot = base + self.S - 1
                concept[slot] = "tax"
                description[slot] = rules.tax_description(tariff)
                rate[slot] = rules.rate_text("tax", tariff.tax.rate_pct)
        self.concept = pl.Series("concept", concept, dtype=pl.Utf8)
        self.description = pl.Series("description", description, dtype=pl.Utf8)
        self.block = pl.Series("block", block, dtype=pl.Utf8)
        self.rate = pl.Series("rate", rate, dtype=pl.Utf8)
        self.has_volume = has_volume
        # tax
        tax = tariff.tax
        self.td = 0 if tax is None else _scale([tax.rate_pct])
        self.tax_rate = 0 if tax is None else _as_int(tax.rate_pct, self.td)
        taxed = set(tax.applies_to) if tax is not None else set()
        self.tax_fixed = "fixed" in taxed
        self.tax_water = "water" in taxed
        self.tax_sewer = "sewer" in taxed
        # rounding: amount = round_half_up(q × r × m × 10^e / D) × rounding
        self.rounding = tariff.rounding
        self.num = 10**tariff.exponent
        self.den = 10**self.k * self.m0 * tariff.rounding
        self.tax_den = 100 * 10**self.td * tariff.rounding
        max_rate = int(
            max(self.rw.max(initial=0), self.rs.max(initial=0), self.fx_rate.max(initial=0))
        )
        max_mult = int(self.f_mult.max(initial=self.m0))
        per_unit_q = 2 * max(max_rate, 1) * max_mult * self.num
        #: Largest quantity (m³, or months × units) int64 arithmetic handles exactly; the
        #: rare larger ones are computed with Python integers.
        self.safe_quantity = (SAFE - self.den) // per_unit_q

    def round(self, numerator: np.ndarray, den: int) -> np.ndarray:
        """Half-up rounding of numerator / den (numerator >= 0) to ``rounding`` units."""
        return ((2 * numerator + den) // (2 * den)) * self.rounding

    def amounts(
        self, quantity: np.ndarray, rate: np.ndarray, mult: np.ndarray | np.int64
    ) -> np.ndarray:
        """Rounded quantity × rate × multiplier, exact: int64 where the product fits,
        Python integers for the (rare) quantities where it might not."""
        big = quantity > self.safe_quantity
        if not big.any():
            return self.round(quantity * rate * mult * self.num, self.den)
        q, r, m = np.broadcast_arrays(quantity, rate, np.asarray(mult))
        result = self.round(np.where(big, 0, quantity) * rate * mult * self.num, self.den)
        result = np.array(np.broadcast_to(result, q.shape))
        exact = self.round(
            q[big].astype(object) * r[big].astype(object) * m[big].astype(object) * self.num,
            self.den,
        )
        result[big] = exact.astype(np.int64)
        return result


def _resolve(
    accounts: pl.DataFrame, tariff: Tariff, months: int, on: date | None
) -> tuple[pl.DataFrame, list[_Group], list[Decimal | None]]:
    """Per account: ``_reason`` (null when priceable), ``_group`` and ``_factor`` ids.

    The reference data (category, municipality, altitude band, stratum → blocks and
    solidarity factor) is resolved once per distinct combination with the scalar rules."""
    country_co = tariff.country == "CO"
    keys = accounts.select(
        pl.col("category").fill_null(""),
        (pl.col("stratum") if country_co else pl.lit(None, pl.Int64))
        .fill_null(-1)
        .alias("stratum"),
        (pl.col("municipality_code") if country_co else pl.lit(""))
        .fill_null("")
        .alias("municipality_code"),
        (pl.col("altitude_m") if country_co else pl.lit(None, pl.Int64))
        .fill_null(-1)
        .alias("altitude_m"),
    )
    distinct = keys.unique(maintain_order=True)
    groups: list[_Group] = []
    group_index: dict[tuple[str, tuple[Block, ...]], int] = {}
    factors: list[Decimal | None] = [None]
    factor_index: dict[Decimal | None, int] = {None: 0}
    reasons: list[str | None] = []
    group_ids: list[int] = []
    factor_ids: list[int] = []
    for category, stratum, municipality, altitude in distinct.iter_rows():
        probe = AccountInput(
            category=category,
            consumption_m3=0,
            stratum=None if stratum == -1 else stratum,
            municipality_code=municipality,
            altitude_m=None if altitude == -1 else altitude,
        )
        reason = rules.unpriceable_reason(probe, tariff, months=months, on=on)
        if not category:
            reason = "suministro sin categoría de uso"
        if reason is not None:
            reasons.append(reason)
            group_ids.append(0)
            factor_ids.append(0)
            continue
        cat = tariff.categories[category]
        blocks = rules.category_blocks(tariff, cat, rules.resolve_altitude(probe, tariff))
        gid = group_index.setdefault((category, blocks), len(groups))
        if gid == len(groups):
            groups.append(_Group(cat, blocks))
        factor = rules.solidarity_factor(probe, tariff, on)
        fid = factor_index.setdefault(factor, len(factors))
        if fid == len(factors):
            factors.append(factor)
        reasons.append(None)
        group_ids.append(gid)
        factor_ids.append(fid)
    table = distinct.with_columns(
        pl.Series("_reason", reasons, dtype=pl.Utf8),
        pl.Series("_group", group_ids, dtype=pl.Int64),
        pl.Series("_factor", factor_ids, dtype=pl.Int64),
    )
    resolved = keys.join(table, on=list(_ACCOUNT_COLS), how="left", maintain_order="left")
    return resolved.select("_reason", "_group", "_factor"), groups, factors


def _check_input(accounts: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in INPUT_SCHEMA if c not in accounts.columns]
    if missing:
        raise ValueError(f"price_accounts: faltan columnas {', '.join(missing)}")
    return accounts.select(
        [pl.col(name).cast(dtype, strict=True) for name, dtype in INPUT_SCHEMA.items()]
    )


def _reasons(accounts: pl.DataFrame, resolved: pl.DataFrame, plan: _Plan) -> pl.Series:
    consumption = pl.col("consumption_m3")
    units = pl.col("units")
    frame = accounts.with_columns(resolved["_reason"])
    return frame.select(
        pl.when(pl.col("_reason").is_not_null())
        .then(pl.col("_reason"))
        .when(consumption.is_null())
        .then(pl.lit("sin consumo"))
        .when(consumption < 0)
        .then(pl.lit("consumo negativo: ") + consumption.cast(pl.Utf8) + pl.lit(" m³"))
        .when(consumption > rules.MAX_CONSUMPTION_M3)
        .then(pl.lit("consumo fuera de rango: ") + consumption.cast(pl.Utf8) + pl.lit(" m³"))
        .when(units.is_null() | (units < 1) | (units > rules.MAX_UNITS))
        .then(pl.lit("unidades de uso inválidas: ") + units.cast(pl.Utf8).fill_null("vacío"))
        .otherwise(None)
        .alias("reason")
    )["reason"]


def _prepare(
    accounts: pl.DataFrame, tariff: Tariff, months: int, on: date | None
) -> tuple[pl.DataFrame, pl.DataFrame, _Plan, pl.Series]:
    if months < 1:
        raise PricingError(f"número de meses inválido: {months}")
    accounts = _check_input(accounts)
    resolved, groups, factors = _resolve(accounts, tariff, months, on)
    plan = _Plan(tariff, groups, factors, months)
    return accounts, resolved, plan, _reasons(accounts, resolved, plan)


def unpriceable(
    accounts: pl.DataFrame, tariff: Tariff, *, months: int, on: date | None = None
) -> pl.DataFrame:
    """The accounts ``price_accounts`` would refuse, with the reason (Spanish)."""
    accounts, _resolved, _plan, reasons = _prepare(accounts, tariff, months, on)
    return pl.DataFrame({"account_id": accounts["account_id"], "reason": reasons}).filter(
        pl.col("reason").is_not_null()
    )


def price_accounts(
    accounts: pl.DataFrame, tariff: Tariff, *, months: int, on: date | None = None
) -> pl.DataFrame:
    """Every charge line of every account (see the module docstring for the contract)."""
    accounts, resolved, plan, reasons = _prepare(accounts, tariff, months, on)
    bad = reasons.is_not_null()
    if bad.any():
        first = (
            pl.DataFrame({"account_id": accounts["account_id"], "reason": reasons})
            .filter(bad)
            .head(5)
        )
        shown = "; ".join(f"{a}: {r}" for a, r in first.iter_rows())
        raise PricingError(
            f"{int(bad.sum())} suministros no se pueden tarifar ({shown}); "
            "use unpriceable() para listarlos"
        )
    frames = [
        _price_chunk(accounts.slice(start, CHUNK), resolved.slice(start, CHUNK), plan)
        for start in range(0, max(accounts.height, 1), CHUNK)
    ]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=OUTPUT_SCHEMA)


def _price_chunk(accounts: pl.DataFrame, resolved: pl.DataFrame, plan: _Plan) -> pl.DataFrame:
    n = accounts.height
    if n == 0:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    B, S, months = plan.B, plan.S, plan.months
    g = resolved["_group"].to_numpy().astype(np.int64)
    fid = resolved["_factor"].to_numpy().astype(np.int64)
    volume = accounts["consumption_m3"].to_numpy().astype(np.int64)
    units = accounts["units"].to_numpy().astype(np.int64)
    water = accounts["water"].fill_null(False).to_numpy()
    sewer = accounts["sewer"].fill_null(False).to_numpy()

    # --- block volumes (N × B), units of use split in whole m³ -------------------------
    split = np.where(plan.split[g], units, 1)
    q, r = np.divmod(volume, split)
    count_q = (split - r)[:, None]
    count_r = r[:, None]
    q1 = (q + 1)[:, None]
    q0 = q[:, None]
    lo = plan.lo[g]
    hi = plan.hi[g]
    stepped = count_q * np.clip(np.minimum(q0, hi) - lo, 0, None) + count_r * np.clip(
        np.minimum(q1, hi) - lo, 0, None
    )
    # whole: the block of a per-unit volume x is the number of blocks whose top is below x
    block_q = (hi < q0).sum(axis=1)
    block_r = (hi < q1).sum(axis=1)
    cols = np.arange(B)[None, :]
    whole_vol = count_q * q0 * (cols == block_q[:, None]) + count_r * q1 * (
        cols == block_r[:, None]
    )
    vol = np.where(plan.whole[g][:, None], whole_vol, stepped)

    # --- multipliers --------------------------------------------------------------------
    has_f = plan.f_has[fid]
    any_factor = bool(has_f.any())
    sub = plan.f_sub[fid]
    mult = plan.f_mult[fid]
    m0 = plan.m0
    vol_applies = has_f[:, None] & (~sub[:, None] | plan.basic[g])
    vol_mult = np.where(vol_applies, mult[:, None], m0)

    amount = np.zeros((n, S), dtype=np.int64)
    gross = np.zeros((n, S), dtype=np.int64)
    applied = np.zeros((n, S), dtype=bool)
    volumes = np.zeros((n, S), dtype=np.int64)

    # fixed charges
    fixed_q = months * np.where(plan.per_unit[g], units, 1)
    any_service = water | sewer
    for slot in (0, 1):
        service = plan.fx_service[g, slot]
        billable = (
            ((service == 1) & any_service) | ((service == 2) & water) | ((service == 3) & sewer)
        )
        rate = np.where(billable, plan.fx_rate[g, slot], 0)
        gross[:, slot] = plan.amounts(fixed_q, rate, np.int64(m0))
        amount[:, slot] = (
            np.where(has_f, plan.amounts(fixed_q, rate, mult), gross[:, slot])
            if any_factor
            else gross[:, slot]
        )
        applied[:, slot] = has_f

    # volumetric charges
    for offset, rates, on in ((2, plan.rw[g], water), (2 + B, plan.rs[g], sewer)):
        rates = np.where(on[:, None], rates, 0)
        block_gross = plan.amounts(vol, rates, np.int64(m0))
        block_amount = (
            np.where(vol_applies, plan.amounts(vol, rates, vol_mult), block_gross)
            if any_factor
            else block_gross
        )
        gross[:, offset : offset + B] = block_gross
        amount[:, offset : offset + B] = block_amount
        applied[:, offset : offset + B] = vol_applies
        volumes[:, offset : offset + B] = vol

    # tax on the rounded amounts of the taxed concepts
    if plan.tax_rate:
        base = np.zeros(n, dtype=np.int64)
        if plan.tax_fixed:
            base += amount[:, 0] + amount[:, 1]
        if plan.tax_water:
            base += amount[:, 2 : 2 + B].sum(axis=1)
        if plan.tax_sewer:
            base += amount[:, 2 + B : 2 + 2 * B].sum(axis=1)
        if int(base.max(initial=0)) * 2 * plan.tax_rate + plan.tax_den < SAFE:
            tax = plan.round(base * plan.tax_rate, plan.tax_den)
        else:  # exact Python integers for amounts too large for int64 products
            tax = plan.round(base.astype(object) * plan.tax_rate, plan.tax_den).astype(np.int64)
        amount[:, S - 1] = tax
        gross[:, S - 1] = tax

    # --- one row per line with an amount, in account order then slot order ---------------
    keep = amount > 0
    flat = np.flatnonzero(keep)
    rows, slots = np.divmod(flat, S)
    per_account = keep.sum(axis=1)
    first_line = np.cumsum(per_account) - per_account
    line_no = np.arange(1, flat.size + 1) - first_line[rows]
    lookup_np = g[rows] * S + slots
    lookup = pl.Series(lookup_np)
    # the factor's text where it applies, else the trailing null of ``f_text``
    no_factor = len(plan.f_text) - 1
    factor_index = np.where(applied.ravel()[flat], fid[rows], no_factor)
    frame = pl.DataFrame(
        {
            "account_id": accounts["account_id"].gather(pl.Series(rows)),
            "line_no": pl.Series(line_no, dtype=pl.Int64),
            "concept": plan.concept.gather(lookup),
            "description": plan.description.gather(lookup),
            "block": plan.block.gather(lookup),
            "volume_m3": pl.Series(volumes.ravel()[flat], dtype=pl.Int64),
            "rate": plan.rate.gather(lookup),
            "factor_pct": plan.f_text.gather(pl.Series(factor_index)),
            "gross": pl.Series(gross.ravel()[flat], dtype=pl.Int64),
            "amount": pl.Series(amount.ravel()[flat], dtype=pl.Int64),
        }
    )
    has_volume = pl.Series(plan.has_volume[lookup_np])
    return frame.with_columns(
        pl.when(has_volume).then(pl.col("volume_m3")).alias("volume_m3"),
    )


def assigned_volumes_frame(accounts: pl.DataFrame, tariff: Tariff, *, months: int) -> pl.DataFrame:
    """account_id, assigned_m3 (null when the category has no assigned volume)."""
    per_unit = {k: c.assigned_m3 for k, c in tariff.categories.items() if c.assigned_m3 is not None}
    table = pl.DataFrame(
        {"category": list(per_unit), "_per_unit": list(per_unit.values())},
        schema={"category": pl.Utf8, "_per_unit": pl.Int64},
    )
    frame = accounts.select(
        pl.col("account_id").cast(pl.Int64),
        pl.col("category").cast(pl.Utf8),
        pl.col("units").cast(pl.Int64),
    )
    return frame.join(table, on="category", how="left", maintain_order="left").select(
        "account_id",
        (pl.col("_per_unit") * pl.max_horizontal(pl.col("units").fill_null(1), pl.lit(1)) * months)
        .cast(pl.Int64)
        .alias("assigned_m3"),
    )
