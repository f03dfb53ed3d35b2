"""The synthetic utility: a seeded, vectorized generator of a cadastre and its opening cartera.

Pure data work (NumPy and Polars, no Django): :func:`generate` returns the frames,
:func:`write_csvs` writes them in the documented import formats (``docs/formats.md``). The
same seed, size, profile and as-of date give byte-identical files. Nothing loops per account
(loops run per sector, per category or per template), so 2.5 million accounts take seconds.

How an account behaves shapes what is still open at the as-of date, which is what a
migration from a legacy system carries:

- punctual: at most the current bill, while it is not due yet;
- late: one or two overdue bills, plus the current one;
- chronic debtor: months to years of bills; the part older than the window is carried as
  quarterly "previous debt" documents, the way legacy systems consolidate it; many are cut
  and, after the cut, billed the fixed charge only;
- VIP / large consumer: mostly current, sometimes one to three months, large amounts;
- inactive: the connection was removed or cut long ago; only old debt is left;
- clandestine suspect: cut for debt, later found reconnected without authorization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from stdnum import ean
from stdnum.co import nit as co_nit
from stdnum.pe import ruc as pe_ruc

from . import data
from .data import Profile
from .days import dates as _dates
from .days import epoch_days as _epoch_days
from .days import month_start_days as _month_start_days
from .history import History, build_history

CATEGORIES = ("domestic", "commercial", "social", "state", "industrial")
DOMESTIC, COMMERCIAL, SOCIAL, STATE, INDUSTRIAL = range(5)

BEHAVIOURS = ("punctual", "late", "chronic", "vip", "inactive", "clandestine")
PUNCTUAL, LATE, CHRONIC, VIP, INACTIVE, CLANDESTINE = range(6)

STATUSES = ("active", "cut", "removed", "clandestine", "feasible")
ACTIVE, CUT, REMOVED, CLANDESTINE_STATUS, FEASIBLE = range(5)

ACCOUNTS_PER_ROUTE = 400
LEGACY_BLOCK = 3  # periods consolidated in one "previous debt" document
MAX_DEBT_MONTHS = 60  # five years

# Behaviour mix of regular (non-VIP) accounts by category:
# punctual, late, chronic, (vip), inactive, clandestine
_BEHAVIOUR_MIX = {
    DOMESTIC: (0.64, 0.22, 0.09, 0.0, 0.04, 0.01),
    COMMERCIAL: (0.66, 0.22, 0.07, 0.0, 0.04, 0.01),
    SOCIAL: (0.50, 0.27, 0.13, 0.0, 0.08, 0.02),
    STATE: (0.58, 0.28, 0.11, 0.0, 0.03, 0.0),
    INDUSTRIAL: (0.64, 0.22, 0.09, 0.0, 0.05, 0.0),
}
_VIP_SHARE = (0.001, 0.08, 0.0, 0.45, 0.50)  # probability of the VIP segment by category
_DIAMETERS = ("1/2", "3/4", "1", "1 1/2", "2", "3", "4")


@dataclass(frozen=True)
class DemoSpec:
    accounts: int = 20_000
    months: int = 12
    profile: str = "pe"
    seed: int = 1
    as_of: date = field(default_factory=date.today)
    #: The latest periods billed by the real billing run (readings, critique, tariff,
    #: payments) instead of being migrated as opening balances. 0: migrate everything.
    billed_periods: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.billed_periods <= 12:
            raise ValueError("billed_periods must be between 0 and 12")
        if self.accounts < 1:
            raise ValueError("accounts must be at least 1")
        if not 1 <= self.months <= 120:
            raise ValueError("months must be between 1 and 120")
        if self.profile not in data.PROFILES:
            raise ValueError(f"profile must be one of {', '.join(sorted(data.PROFILES))}")

    @property
    def profile_data(self) -> Profile:
        return data.PROFILES[self.profile]


@dataclass
class Topology:
    municipalities: pl.DataFrame  # code, name, department, altitude_m
    zones: pl.DataFrame  # code, name, municipality_code
    sectors: pl.DataFrame  # code, name, zone_code
    cycles: pl.DataFrame  # code, name, reading_day, billing_day, due_days
    routes: pl.DataFrame  # code, name, sector_code, cycle_code


@dataclass
class DemoData:
    spec: DemoSpec
    profile: Profile
    topology: Topology
    accounts: pl.DataFrame  # one row per account: every generated attribute
    balances: pl.DataFrame  # one row per open item (document line), amounts in minor units
    history: History | None = None  # readings and payments of the periods billed by the run

    @property
    def utility(self) -> dict[str, Any]:
        return utility_settings(self.profile)


# --------------------------------------------------------------------------- helpers


def utility_settings(profile: Profile) -> dict[str, Any]:
    """The UtilitySettings row of a profile, with valid check digits."""
    if profile.country == "PE":
        tax_id = profile.tax_id_base + pe_ruc.calc_check_digit(profile.tax_id_base)
    else:
        tax_id = profile.tax_id_base + co_nit.calc_check_digit(profile.tax_id_base)
    gln = profile.gln[:12] + ean.calc_check_digit(profile.gln[:12]) if profile.gln else ""
    return {
        "name": profile.utility_name,
        "short_name": profile.short_name,
        "country": profile.country,
        "currency": profile.currency,
        "periodicity": profile.periodicity,
        "tax_id": tax_id,
        "gln": gln,
        "time_zone": profile.time_zone,
    }


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """The decimal digits of non-negative integers, most significant first: (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values.astype(np.int64)[:, None] // powers[None, :]) % 10


def ruc_check_digits(first10: np.ndarray) -> np.ndarray:
    """Vectorized SUNAT RUC check digit (the rule of ``stdnum.pe.ruc``)."""
    weights = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2], dtype=np.int64)
    total = (_digits(first10, 10) * weights).sum(axis=1)
    return (11 - total % 11) % 10


def nit_check_digits(base9: np.ndarray) -> np.ndarray:
    """Vectorized DIAN NIT check digit (the rule of ``stdnum.co.nit``) for 9-digit bases."""
    weights = np.array([41, 37, 29, 23, 19, 17, 13, 7, 3], dtype=np.int64)
    total = (_digits(base9, 9) * weights).sum(axis=1) % 11
    table = np.array([0, 1, 9, 8, 7, 6, 5, 4, 3, 2, 1], dtype=np.int64)
    return table[total]


def unique_ints(rng: np.random.Generator, low: int, high: int, n: int) -> np.ndarray:
    """``n`` distinct integers in [low, high), in random order, in O(n).

    An affine map ``k -> (a * k + b) mod span`` with ``a`` coprime to the span is a
    bijection of [0, span): distinct inputs give distinct outputs. The inputs are a random
    permutation of ``range(n)``, so neighbouring accounts get unrelated numbers.
    """
    span = high - low
    if span < n:
        raise ValueError("range too small")
    while True:
        a = int(rng.integers(span // 3, 2 * span // 3))
        if math.gcd(a, span) == 1:
            break
    b = int(rng.integers(0, span))
    k = rng.permutation(n).astype(np.int64)
    return low + (a * k + b) % span


def _choice(rng: np.random.Generator, n: int, probs: Any) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    return rng.choice(p.size, size=n, p=p / p.sum())


def _rows_choice(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each i, a column index drawn with the probabilities of ``table[rows[i]]``."""
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(rows.size)
    out = np.zeros(rows.size, dtype=np.int64)
    for col in range(table.shape[1] - 1):  # per column
        out += u >= cum[rows, col]
    return out


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        order = np.argsort(-(share - base), kind="stable")
        base[order[:rest]] += 1
    return base


def _pick(values: tuple[str, ...] | list[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(idx)


def _ascii(text: str) -> str:
    table = str.maketrans("áéíóúÁÉÍÓÚñÑüÜ'", "aeiouAEIOUnNuU ")
    return text.translate(table).lower().replace(" ", "")


def _fill(template: str, values: dict[str, pl.Series], length: int) -> pl.Series:
    """``template.format(**values)`` for whole columns (placeholders ``{name}``)."""
    if "{" not in template:
        return pl.Series([template] * length, dtype=pl.String)
    parts: list[pl.Expr] = []
    rest = template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        key, _, rest = tail.partition("}")
        if head:
            parts.append(pl.lit(head))
        parts.append(pl.lit(values[key]))
    if rest:
        parts.append(pl.lit(rest))
    return pl.select(pl.concat_str(parts)).to_series()


# --------------------------------------------------------------------------- topology


@dataclass
class _Geo:
    topology: Topology
    route_sizes: np.ndarray
    route_sector: np.ndarray
    route_cycle: np.ndarray
    sectors: list[tuple[int, int, data.SectorSpec]]  # (municipality, zone, spec)


def build_topology(profile: Profile, n_accounts: int, rng: np.random.Generator) -> _Geo:
    """Municipalities, zones, sectors, cycles and routes (about 400 accounts per route)."""
    munis: list[tuple[str, str, str, int]] = []
    zones: list[tuple[str, str, str]] = []
    sectors: list[tuple[str, str, str]] = []
    flat: list[tuple[int, int, data.SectorSpec]] = []
    for mi, muni in enumerate(profile.municipalities):
        munis.append((muni.code, muni.name, muni.department, muni.altitude_m))
        for zone in muni.zones:
            zone_code = f"Z{len(zones) + 1:02d}"
            zones.append((zone_code, zone.name, muni.code))
            for sector in zone.sectors:
                sectors.append((f"S{len(sectors) + 1:03d}", sector.name, zone_code))
                flat.append((mi, len(zones) - 1, sector))
    weights = np.array([s.weight for _, _, s in flat])
    n_routes = max(1, round(n_accounts / ACCOUNTS_PER_ROUTE))
    route_sector = np.repeat(np.arange(len(flat)), _largest_remainder(n_routes, weights))
    sizes = _largest_remainder(n_accounts, rng.uniform(0.75, 1.25, size=n_routes))
    n_cycles = int(np.clip(n_routes // 4, 1, 20))
    route_cycle = (np.arange(n_routes) * n_cycles) // n_routes
    cycles = []
    for c in range(n_cycles):
        billing_day = 2 + (c * 25) // n_cycles
        reading_day = (billing_day - 17) % 28 + 1  # 16 days before billing: read, critique, review
        cycles.append(
            (f"C{c + 1:02d}", f"Ciclo {c + 1:02d}", reading_day, billing_day, profile.due_days)
        )
    route_rows = []
    per_sector: dict[int, int] = {}
    for r in range(n_routes):  # per route (a few thousand at most)
        s = int(route_sector[r])
        per_sector[s] = per_sector.get(s, 0) + 1
        code = f"{sectors[s][0]}-{per_sector[s]:03d}"
        route_rows.append((code, f"Ruta {code}", sectors[s][0], cycles[route_cycle[r]][0]))
    topo = Topology(
        municipalities=pl.DataFrame(
            munis, schema=["code", "name", "department", "altitude_m"], orient="row"
        ),
        zones=pl.DataFrame(zones, schema=["code", "name", "municipality_code"], orient="row"),
        sectors=pl.DataFrame(sectors, schema=["code", "name", "zone_code"], orient="row"),
        cycles=pl.DataFrame(
            cycles,
            schema=["code", "name", "reading_day", "billing_day", "due_days"],
            orient="row",
        ),
        routes=pl.DataFrame(
            route_rows, schema=["code", "name", "sector_code", "cycle_code"], orient="row"
        ),
    )
    return _Geo(topo, sizes, route_sector, route_cycle, flat)


# --------------------------------------------------------------------------- generation


def generate(spec: DemoSpec) -> DemoData:
    """Every account and every open item of the synthetic utility, as Polars frames."""
    profile = spec.profile_data
    root = np.random.SeedSequence([spec.seed, 7 if profile.country == "PE" else 11])
    streams = [np.random.default_rng(s) for s in root.spawn(8)]
    r_topo, r_acct, r_people, r_addr, r_debt, r_service, r_meter, r_amount = streams
    n = spec.accounts
    geo = build_topology(profile, n, r_topo)
    topo = geo.topology
    route = np.repeat(np.arange(geo.route_sizes.size), geo.route_sizes)
    starts = np.concatenate([[0], np.cumsum(geo.route_sizes)[:-1]])
    sequence = (np.arange(n) - starts[route] + 1) * 10
    sector = geo.route_sector[route]
    cycle = geo.route_cycle[route]
    muni = np.array([m for m, _, _ in geo.sectors])[sector]

    acc = _accounts(profile, spec, r_acct, sector, geo.sectors)
    people = _customers(profile, r_people, acc, sector, muni, geo.sectors, _epoch_days(spec.as_of))
    places = _addresses(profile, r_addr, sector, muni, route, sequence, geo.sectors, topo)
    cal = _calendar(profile, spec, topo)
    debt = _debt_shape(profile, spec, r_debt, acc, cycle, cal)
    services = _services(profile, spec, r_service, acc, debt, cycle, cal)
    meters, metered = _meters(profile, spec, r_meter, acc, services)

    frame = pl.DataFrame(
        {
            "account_number": acc["number"],
            "route": _pick(topo.routes["code"].to_list(), route),
            "sequence": sequence,
            "sector": _pick(topo.sectors["code"].to_list(), sector),
            "zone": _pick(topo.sectors["zone_code"].to_list(), sector),
            "municipality": _pick(topo.municipalities["code"].to_list(), muni),
            "cycle": _pick(topo.cycles["code"].to_list(), cycle),
            "category": _pick(CATEGORIES, acc["category"]),
            "units": acc["units"],
            "stratum": pl.Series(acc["stratum"]).replace(0, None),
            "segment": _pick(("regular", "vip"), acc["vip"].astype(np.int64)),
            "behaviour": _pick(BEHAVIOURS, acc["behaviour"]),
            "opened_on": _dates(acc["opened"]),
        }
    )
    public = {k: v for k, v in services.items() if not k.startswith("_")}
    frame = pl.concat([frame, people, places, pl.DataFrame(public), meters], how="horizontal")
    balances = _balances(profile, spec, r_amount, acc, debt, services, metered, cycle, cal)
    history = None
    if spec.billed_periods:
        history = build_history(
            rng=np.random.default_rng(root.spawn(9)[-1]),
            acc=acc,
            debt=debt,
            services=services,
            metered=metered,
            digits=meters["meter_digits"].fill_null(5).to_numpy().astype(np.int64),
            cycle=cycle,
            cal=cal,
            reading_day=topo.cycles["reading_day"].to_numpy().astype(np.int64),
            billed_periods=spec.billed_periods,
        )
        numbers = frame["account_number"]
        history.readings = history.readings.with_columns(
            numbers.gather(history.readings["acct"]).alias("account_number")
        )
        history.payments = history.payments.with_columns(
            numbers.gather(history.payments["acct"]).alias("account_number")
        )
    return DemoData(
        spec=spec,
        profile=profile,
        topology=topo,
        accounts=frame,
        balances=balances,
        history=history,
    )


def _accounts(
    profile: Profile,
    spec: DemoSpec,
    rng: np.random.Generator,
    sector: np.ndarray,
    flat: list[tuple[int, int, data.SectorSpec]],
) -> dict[str, np.ndarray]:
    n = sector.size
    base = np.array([profile.category_shares[c] for c in CATEGORIES])
    table = np.zeros((len(flat), len(CATEGORIES)))
    risk = np.ones(len(flat))
    weights = np.array([s.weight for _, _, s in flat])
    mean_commerce = float(
        (weights * np.array([s.commerce for _, _, s in flat])).sum() / weights.sum()
    )
    for i, (_, _, s) in enumerate(flat):  # per sector
        row = base.copy()
        row[COMMERCIAL] *= s.commerce / mean_commerce  # the city centre has more shops
        row[DOMESTIC] = max(0.5, 1.0 - row[1:].sum())
        table[i] = row
        if s.lots or (s.stratum_mean and s.stratum_mean < 2.0):
            risk[i] = 1.4
        elif s.stratum_mean >= 4.0:
            risk[i] = 0.6
    category = _rows_choice(rng, table, sector)
    if profile.country == "CO":  # residences have a stratum, around the sector's mean
        means = np.array([s.stratum_mean for _, _, s in flat])[sector]
        stratum = np.clip(np.rint(means + rng.normal(0, 0.75, n)), 1, 6).astype(np.int64)
        stratum[(category != DOMESTIC) & (category != SOCIAL)] = 0
    else:
        stratum = np.zeros(n, dtype=np.int64)
    units = np.ones(n, dtype=np.int64)
    u = rng.random(n)
    dom = category == DOMESTIC
    units[dom & (u > 0.85)] = 2
    units[dom & (u > 0.94)] = 3
    big = dom & (u > 0.985)
    units[big] = rng.integers(4, 13, size=n)[big]
    units[(category == COMMERCIAL) & (u > 0.9)] = 2
    units[category == STATE] = rng.integers(1, 6, size=n)[category == STATE]
    vip = rng.random(n) < np.array(_VIP_SHARE)[category]
    # behaviour: by category and by the sector's risk
    behaviour_table = np.array([_BEHAVIOUR_MIX[c] for c in range(len(CATEGORIES))])
    combos = np.zeros((len(flat) * len(CATEGORIES), len(BEHAVIOURS)))
    for s_i in range(len(flat)):  # per sector and category
        for c in range(len(CATEGORIES)):
            row = behaviour_table[c].copy()
            row[CHRONIC] *= risk[s_i]
            row[LATE] *= math.sqrt(risk[s_i])
            row[CLANDESTINE] *= risk[s_i]
            row[PUNCTUAL] = max(0.2, 1.0 - row[1:].sum())
            combos[s_i * len(CATEGORIES) + c] = row
    behaviour = _rows_choice(rng, combos, sector * len(CATEGORIES) + category)
    behaviour[vip] = VIP
    # age of the account: a long tail back to the 1970s; a few brand-new (feasible) ones
    age_days = (45 * 365 * rng.beta(1.3, 2.2, n)).astype(np.int64) + 120
    feasible = (behaviour == PUNCTUAL) & (rng.random(n) < 0.003)
    age_days[feasible] = rng.integers(5, 60, size=n)[feasible]
    opened = _epoch_days(spec.as_of) - age_days
    # account numbers in order of opening: older accounts have lower numbers
    order = np.argsort(opened, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    if profile.country == "PE":
        number = pl.Series(10_000_001 + rank).cast(pl.String)
    else:
        number = pl.Series(1_020_000_001 + rank).cast(pl.String)
    base_m3 = np.array([profile.mean_m3[c] for c in CATEGORIES], dtype=np.float64)[category]
    base_m3 = base_m3 * np.exp(rng.normal(0, 0.45, n)) * np.where(vip, 3.0, 1.0)
    base_m3 *= np.where(dom, np.sqrt(units), 1.0)
    return {
        "category": category,
        "stratum": stratum,
        "units": units,
        "vip": vip,
        "behaviour": behaviour,
        "feasible": feasible,
        "opened": opened,
        "age_days": age_days,
        "number": number,
        "base_m3": base_m3,
    }


# --------------------------------------------------------------------------- customers

_PERSON, _COMPANY, _FOREIGN, _PERSON_RUC = range(4)


def _customers(
    profile: Profile,
    rng: np.random.Generator,
    acc: dict[str, Any],
    sector: np.ndarray,
    muni: np.ndarray,
    flat: list[tuple[int, int, data.SectorSpec]],
    as_of: int,
) -> pl.DataFrame:
    n = sector.size
    category = acc["category"]
    pe = profile.country == "PE"
    u = rng.random(n)
    kind = np.full(n, _PERSON, dtype=np.int64)
    kind[u < 0.02] = _FOREIGN
    if pe:
        kind[(u >= 0.02) & (u < 0.03)] = _PERSON_RUC
    biz = category == COMMERCIAL
    kind[biz & (u < 0.55)] = _COMPANY
    kind[biz & (u >= 0.55)] = _PERSON_RUC if pe else _PERSON
    kind[biz & (u >= 0.90)] = _PERSON
    kind[(category == INDUSTRIAL) | (category == STATE)] = _COMPANY

    # names of persons: given names and two surnames
    female = rng.random(n) < 0.5
    g_m = rng.integers(0, len(profile.given_male), n)
    g_f = rng.integers(0, len(profile.given_female), n)
    s1 = _choice(rng, n, profile.surname_weights)
    s2 = _choice(rng, n, profile.surname_weights)
    people = pl.DataFrame(
        {
            "f": female,
            "gf": _pick(profile.given_female, g_f),
            "gm": _pick(profile.given_male, g_m),
            "s1": _pick(profile.surnames, s1),
            "s2": _pick(profile.surnames, s2),
        }
    )
    person_name = people.select(
        pl.concat_str(
            [pl.when(pl.col("f")).then(pl.col("gf")).otherwise(pl.col("gm")), "s1", "s2"],
            separator=" ",
        )
    ).to_series()

    # names of businesses, industries and state entities (computed for those rows only)
    if pe:
        kinds, bnames, suffixes, industrial, state, tld = (
            data.PE_COMMERCIAL_KINDS,
            data.PE_BUSINESS_NAMES,
            data.PE_LEGAL_SUFFIXES,
            data.PE_INDUSTRIAL,
            data.PE_STATE,
            ".com.pe",
        )
    else:
        kinds, bnames, suffixes, industrial, state, tld = (
            data.CO_COMMERCIAL_KINDS,
            data.CO_BUSINESS_NAMES,
            data.CO_LEGAL_SUFFIXES,
            data.CO_INDUSTRIAL,
            data.CO_STATE,
            ".com.co",
        )
    b_i = rng.integers(0, len(bnames), n)
    x_i = rng.integers(0, len(suffixes), n)
    k_i = rng.integers(0, len(kinds), n)
    i_i = rng.integers(0, len(industrial), n)
    st_i = rng.integers(0, len(state), n)
    school_no = 50001 + sector * 20 + rng.integers(0, 4, n)
    is_state = category == STATE
    is_industry = (category == INDUSTRIAL) & (kind == _COMPANY)
    is_business = (kind == _COMPANY) & ~is_state & ~is_industry
    names = person_name
    for mask, heads in ((is_business, (kinds, k_i)), (is_industry, (industrial, i_i))):
        idx = np.flatnonzero(mask)
        if idx.size:
            label = pl.select(
                pl.concat_str(
                    [
                        pl.lit(_pick(heads[0], heads[1][idx])),
                        pl.lit(_pick(bnames, b_i[idx])),
                        pl.lit(_pick(suffixes, x_i[idx])),
                    ],
                    separator=" ",
                )
            ).to_series()
            names = names.scatter(idx, label)
    state_idx = np.flatnonzero(is_state)
    for t, template in enumerate(state):  # per template
        idx = state_idx[st_i[state_idx] == t]
        if idx.size:
            values = {
                "muni": _pick([m.name for m in profile.municipalities], muni[idx]),
                "sector": _pick([s.name for _, _, s in flat], sector[idx]),
                "n": pl.Series(school_no[idx]).cast(pl.String),
            }
            names = names.scatter(idx, _fill(template, values, idx.size))

    # identity documents, unique by type
    if pe:
        dni = unique_ints(rng, 10_000_000, 80_000_000, n)
        ce = unique_ints(rng, 1_000_000, 10_000_000, n)
        company8 = unique_ints(rng, 10_000_000, 100_000_000, n)
        base10 = np.where(kind == _COMPANY, 2_000_000_000 + company8, 1_000_000_000 + dni)
        tax_id = pl.Series(base10 * 10 + ruc_check_digits(base10)).cast(pl.String)
        person_doc = pl.Series(dni).cast(pl.String)
        foreign_doc = pl.Series(ce).cast(pl.String).str.zfill(9)
        doc_type = _pick(
            ("DNI", "CE", "RUC"), np.select([kind == _PERSON, kind == _FOREIGN], [0, 1], default=2)
        )
    else:
        old_cc = unique_ints(rng, 10_000_000, 100_000_000, n)
        new_cc = unique_ints(rng, 1_000_000_000, 1_030_000_000, n)
        person_doc = pl.Series(np.where(rng.random(n) < 0.6, old_cc, new_cc)).cast(pl.String)
        foreign_doc = pl.Series(unique_ints(rng, 100_000, 10_000_000, n)).cast(pl.String)
        base9 = unique_ints(rng, 800_000_000, 902_000_000, n)
        tax_id = pl.Series(base9 * 10 + nit_check_digits(base9)).cast(pl.String)
        doc_type = _pick(
            ("CC", "CE", "NIT"), np.select([kind == _PERSON, kind == _FOREIGN], [0, 1], default=2)
        )
    doc_number = person_doc
    foreign_idx = np.flatnonzero(kind == _FOREIGN)
    tax_idx = np.flatnonzero((kind == _COMPANY) | (kind == _PERSON_RUC))
    if foreign_idx.size:
        doc_number = doc_number.scatter(foreign_idx, foreign_doc.gather(foreign_idx))
    if tax_idx.size:
        doc_number = doc_number.scatter(tax_idx, tax_id.gather(tax_idx))

    # contact data and consent to notifications
    has_mail = rng.random(n) < (0.35 if pe else 0.5)
    has_mail |= (kind == _COMPANY) & (rng.random(n) < 0.6)
    domains = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.es")
    ascii_m = [_ascii(g.split(" ")[0]) for g in profile.given_male]
    ascii_f = [_ascii(g.split(" ")[0]) for g in profile.given_female]
    ascii_s = [_ascii(s) for s in profile.surnames]
    ascii_b = [_ascii(b) for b in bnames]
    email = (
        pl.DataFrame(
            {
                "f": female,
                "gf": _pick(ascii_f, g_f),
                "gm": _pick(ascii_m, g_m),
                "s": _pick(ascii_s, s1),
                "num": rng.integers(1, 999, n),
                "d": _pick(domains, rng.integers(0, len(domains), n)),
                "b": _pick(ascii_b, b_i),
                "p": kind != _COMPANY,
                "has": has_mail,
            }
        )
        .select(
            pl.when(~pl.col("has"))
            .then(pl.lit(""))
            .when(pl.col("p"))
            .then(
                pl.concat_str(
                    [
                        pl.when(pl.col("f")).then(pl.col("gf")).otherwise(pl.col("gm")),
                        pl.lit("."),
                        pl.col("s"),
                        pl.col("num").cast(pl.String),
                        pl.lit("@"),
                        pl.col("d"),
                    ]
                )
            )
            .otherwise(pl.concat_str([pl.lit("pagos@"), pl.col("b"), pl.lit(tld)]))
        )
        .to_series()
    )
    has_mobile = rng.random(n) < (0.7 if pe else 0.8)
    if pe:
        mobile = 900_000_000 + rng.integers(0, 99_999_999, n)
        phone, prefix = 200_000 + rng.integers(0, 99_999, n), "084-"
        has_phone = rng.random(n) < 0.15
    else:
        mobile = 3_000_000_000 + rng.integers(100_000_000, 509_999_999, n)
        phone, prefix = 2_000_000 + rng.integers(0, 7_999_999, n), "601 "
        has_phone = rng.random(n) < 0.2
    consent_email = has_mail & (rng.random(n) < 0.6)
    consent_sms = has_mobile & (rng.random(n) < 0.5)
    consent_from = np.maximum(acc["opened"], as_of - 6 * 365)
    consent_day = consent_from + (rng.random(n) * (as_of - 1 - consent_from)).astype(np.int64)
    consent_date = _dates(consent_day).scatter(np.flatnonzero(~(consent_email | consent_sms)), None)
    frame = pl.DataFrame(
        {
            "doc_type": doc_type,
            "doc_number": doc_number,
            "customer_name": names,
            "email": email,
            "phone": phone,
            "mobile": mobile,
            "consent_email": consent_email,
            "consent_sms": consent_sms,
            "consent_date": consent_date,
        }
    ).with_columns(
        phone=pl.when(pl.lit(pl.Series(has_phone)))
        .then(pl.concat_str([pl.lit(prefix), pl.col("phone").cast(pl.String)]))
        .otherwise(pl.lit("")),
        mobile=pl.when(pl.lit(pl.Series(has_mobile)))
        .then(pl.col("mobile").cast(pl.String))
        .otherwise(pl.lit("")),
    )
    # one state entity (same name) is one customer holding all its accounts: every account
    # of the entity takes the document and contacts of its first account
    if state_idx.size:
        cols = [
            "doc_number",
            "email",
            "phone",
            "mobile",
            "consent_email",
            "consent_sms",
            "consent_date",
        ]
        sub = frame[state_idx].with_columns([pl.col(c).first().over("customer_name") for c in cols])
        frame = frame.with_columns([frame[c].scatter(state_idx, sub[c]) for c in cols])
    return frame


# --------------------------------------------------------------------------- addresses


def _addresses(
    profile: Profile,
    rng: np.random.Generator,
    sector: np.ndarray,
    muni: np.ndarray,
    route: np.ndarray,
    sequence: np.ndarray,
    flat: list[tuple[int, int, data.SectorSpec]],
    topo: Topology,
) -> pl.DataFrame:
    n = sector.size
    if profile.country == "PE":
        pool: list[str] = []
        offset, length, lots = [], [], []
        for _, _, s in flat:  # per sector
            offset.append(len(pool))
            length.append(len(s.streets))
            lots.append(s.lots)
            pool.extend(s.streets)
        off, ln = np.array(offset)[sector], np.array(length)[sector]
        street = _pick(pool, off + (rng.random(n) * ln).astype(np.int64))
        in_lots = np.array(lots)[sector]
        block = _pick([chr(c) for c in range(ord("A"), ord("S"))], rng.integers(0, 18, n))
        lot = pl.Series(rng.integers(1, 41, n)).cast(pl.String)
        number = pl.Series(rng.integers(1, 1500, n)).cast(pl.String)
        suffix = _pick(
            data.PE_INTERIOR_SUFFIXES, rng.integers(0, len(data.PE_INTERIOR_SUFFIXES), n)
        )
        address = pl.select(
            pl.when(pl.lit(pl.Series(in_lots)))
            .then(
                pl.concat_str(
                    [pl.lit(street), pl.lit(" Mz. "), pl.lit(block), pl.lit(" Lt. "), pl.lit(lot)]
                )
            )
            .otherwise(pl.concat_str([pl.lit(street), pl.lit(" "), pl.lit(number), pl.lit(suffix)]))
        ).to_series()
        cadastral = pl.select(
            pl.concat_str(
                [
                    pl.lit(_pick(topo.municipalities["code"].to_list(), muni)),
                    pl.lit("-"),
                    pl.lit(_pick(topo.routes["code"].to_list(), route)),
                    pl.lit("-"),
                    pl.lit(pl.Series(sequence).cast(pl.String).str.zfill(5)),
                ]
            )
        ).to_series()
    else:
        south = np.array([s.south for _, _, s in flat])[sector]
        kind_i = _choice(rng, n, data.CO_STREET_WEIGHTS)
        is_calle = np.isin(kind_i, [0, 2, 4])  # Calle, Diagonal, Avenida Calle
        n1 = np.where(south & is_calle, rng.integers(1, 95, n), rng.integers(1, 180, n))
        letters = ("", "", "", "", "A", "B", "C", "A Bis")
        l1 = _pick(letters, rng.integers(0, len(letters), n))
        l2 = _pick(letters[:7], rng.integers(0, 7, n))
        sur = _pick(("", " Sur"), (south & is_calle).astype(np.int64))
        unit = _pick(data.CO_UNIT_SUFFIXES, rng.integers(0, len(data.CO_UNIT_SUFFIXES), n))
        address = pl.select(
            pl.concat_str(
                [
                    pl.lit(_pick(data.CO_STREET_KINDS, kind_i)),
                    pl.lit(" "),
                    pl.lit(pl.Series(n1).cast(pl.String)),
                    pl.lit(l1),
                    pl.lit(sur),
                    pl.lit(" # "),
                    pl.lit(pl.Series(rng.integers(1, 130, n)).cast(pl.String)),
                    pl.lit(l2),
                    pl.lit("-"),
                    pl.lit(pl.Series(rng.integers(2, 99, n)).cast(pl.String).str.zfill(2)),
                    pl.lit(unit),
                ]
            )
        ).to_series()
        # Bogotá's CHIP: AAA + 4 digits + 4 letters, unique
        chip = rng.permutation(max(n, 1))[:n] + 1_234_567
        alphabet = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
        letter_cols = [
            pl.lit(_pick(alphabet, (chip // 10_000 // 26**k) % 26)) for k in (3, 2, 1, 0)
        ]
        cadastral = pl.select(
            pl.concat_str(
                [
                    pl.lit("AAA"),
                    pl.lit(pl.Series(chip % 10_000).cast(pl.String).str.zfill(4)),
                    *letter_cols,
                ]
            )
        ).to_series()
    # coordinates: the municipality's centre, a per-sector offset, and a small scatter
    centre_lat = np.array([m.lat for m in profile.municipalities])[muni]
    centre_lon = np.array([m.lon for m in profile.municipalities])[muni]
    sector_shift = rng.normal(0, 0.012, size=(len(flat), 2))
    lat = np.round(centre_lat + sector_shift[sector, 0] + rng.normal(0, 0.003, n), 6)
    lon = np.round(centre_lon + sector_shift[sector, 1] + rng.normal(0, 0.003, n), 6)
    return pl.DataFrame(
        {"cadastral_code": cadastral, "address": address, "latitude": lat, "longitude": lon}
    )


# --------------------------------------------------------------------------- calendar


@dataclass
class _Calendar:
    step: int  # months per billing period (1 monthly, 2 bimonthly)
    window: int  # billing periods in the opening window
    latest_month: np.ndarray  # per cycle: month index (y*12+m-1) of the latest bill issued
    billing_day: np.ndarray  # per cycle
    due_days: int
    as_of: int  # epoch days

    def issue_days(self, cycle: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Issue date (epoch days) of the bill ``offset`` periods before the latest one."""
        month = self.latest_month[cycle] - offset * self.step
        return _month_start_days(month) + self.billing_day[cycle] - 1

    def latest_not_due(self) -> np.ndarray:
        """Per cycle: is the latest bill still within its due date at the as-of date?"""
        cycles = np.arange(self.latest_month.size)
        return self.issue_days(cycles, np.zeros_like(cycles)) + self.due_days >= self.as_of


def _calendar(profile: Profile, spec: DemoSpec, topo: Topology) -> _Calendar:
    step = 1 if profile.periodicity == "monthly" else 2
    billing_day = topo.cycles["billing_day"].to_numpy().astype(np.int64)
    month_now = spec.as_of.year * 12 + spec.as_of.month - 1
    latest = np.where(spec.as_of.day >= billing_day, month_now, month_now - 1)
    if step == 2:  # odd cycles bill in odd months, even cycles in even months
        parity = np.arange(billing_day.size) % 2
        latest = np.where(latest % 2 == parity, latest, latest - 1)
    return _Calendar(
        step=step,
        window=max(1, spec.months // step),
        latest_month=latest.astype(np.int64),
        billing_day=billing_day,
        due_days=profile.due_days,
        as_of=_epoch_days(spec.as_of),
    )


# --------------------------------------------------------------------------- debt and status


def _periods(months: np.ndarray, step: int) -> np.ndarray:
    return -(-np.asarray(months, dtype=np.int64) // step)


def _debt_shape(
    profile: Profile,
    spec: DemoSpec,
    rng: np.random.Generator,
    acc: dict[str, Any],
    cycle: np.ndarray,
    cal: _Calendar,
) -> dict[str, np.ndarray]:
    """Per account: the newest open bill (``start`` periods back) and how many are open."""
    n = cycle.size
    b = acc["behaviour"]
    step = cal.step
    not_due = cal.latest_not_due()[cycle]
    u = rng.random(n)
    start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    # punctual: the current bill while it is not due (a few pay early), rarely a forgotten one
    sel = b == PUNCTUAL
    count[sel] = (np.where(not_due, u < 0.85, u < 0.03))[sel]
    count[acc["feasible"]] = 0
    # late: one or two months overdue, plus the current bill
    sel = b == LATE
    overdue = _periods(np.where(rng.random(n) < 0.65, 1, 2), step)
    count[sel] = (overdue + not_due)[sel]
    # chronic: three months to five years
    sel = b == CHRONIC
    months = np.clip(3 + np.floor(rng.exponential(11, n)), 3, MAX_DEBT_MONTHS)
    count[sel] = _periods(months, step)[sel]
    # VIP: usually current; state entities and large consumers sometimes run 1-3 months late
    sel = b == VIP
    overdue = _periods(_choice(rng, n, (0.85, 0.10, 0.04, 0.01)), step)
    count[sel] = (overdue + (not_due & (rng.random(n) < 0.5)))[sel]
    # inactive: billing stopped months or years ago; the last bills stayed unpaid
    sel = b == INACTIVE
    stopped = np.clip(2 + np.floor(rng.exponential(14, n)), 2, 54)
    start[sel] = _periods(stopped, step)[sel]
    count[sel] = _periods(np.clip(1 + np.floor(rng.exponential(4, n)), 1, 24), step)[sel]
    # clandestine suspect: cut for debt some time ago (billing stopped), found reconnected
    sel = b == CLANDESTINE
    start[sel] = _periods(rng.integers(3, 25, n), step)[sel]
    count[sel] = _periods(np.clip(4 + np.floor(rng.exponential(8, n)), 4, 36), step)[sel]
    # never older than the account, never older than five years
    age_periods = acc["age_days"] // (30 * step)
    limit = np.minimum(age_periods, _periods(np.full(n, MAX_DEBT_MONTHS), step))
    count = np.clip(np.minimum(count, limit - start), 0, None)
    return {"start": start, "count": count}


def _services(
    profile: Profile,
    spec: DemoSpec,
    rng: np.random.Generator,
    acc: dict[str, Any],
    debt: dict[str, np.ndarray],
    cycle: np.ndarray,
    cal: _Calendar,
) -> dict[str, Any]:
    n = cycle.size
    b = acc["behaviour"]
    start, count = debt["start"], debt["count"]
    status = np.full(n, ACTIVE, dtype=np.int64)
    since = acc["opened"].copy()
    # chronic debtors are cut three months after the oldest unpaid bill fell due
    cut_offset = start + count - 1 - _periods(np.full(n, 3), cal.step)
    # (the older the debt, the likelier the cut: 55 % within a year, 85 % beyond)
    p_cut = np.where((start + count) * cal.step > 12, 0.85, 0.55)
    cut = (b == CHRONIC) & (cut_offset >= 0) & (rng.random(n) < p_cut)
    status[cut] = CUT
    cut_day = cal.issue_days(cycle, np.maximum(cut_offset, 0)) + cal.due_days + 12
    since[cut] = cut_day[cut]
    # a few late payers were just cut
    just_cut = (b == LATE) & (count >= 2) & (rng.random(n) < 0.03)
    status[just_cut] = CUT
    since[just_cut] = cal.as_of - rng.integers(1, 20, n)[just_cut]
    # inactive: removed (levantada) or cut, after the last bill
    inactive = b == INACTIVE
    removed = inactive & (rng.random(n) < 0.65)
    status[inactive] = CUT
    status[removed] = REMOVED
    stop_day = cal.issue_days(cycle, np.maximum(start - 1, 0)) - rng.integers(3, 25, n)
    since[inactive] = np.maximum(stop_day, acc["opened"] + 1)[inactive]
    # clandestine suspects: detected in the last year and a half
    clandestine = b == CLANDESTINE
    status[clandestine] = CLANDESTINE_STATUS
    since[clandestine] = (cal.as_of - rng.integers(10, 540, n))[clandestine]
    status[acc["feasible"]] = FEASIBLE
    since = np.clip(since, acc["opened"], cal.as_of - 1)
    # sewer: most properties have it; it follows removal and feasibility of the water service
    has_sewer = rng.random(n) < (0.92 if profile.country == "PE" else 0.97)
    has_sewer |= acc["vip"]
    sewer = np.where(status == REMOVED, REMOVED, np.where(status == FEASIBLE, FEASIBLE, ACTIVE))
    sewer_names = (*STATUSES, "")
    return {
        "water_status": _pick(STATUSES, status),
        "water_since": _dates(since),
        "sewer_status": _pick(sewer_names, np.where(has_sewer, sewer, len(STATUSES))),
        "sewer_since": _dates(np.where(sewer == ACTIVE, acc["opened"], since)),
        "_status": status,
        "_has_sewer": has_sewer,
        "_cut_offset": np.where(cut, cut_offset, -1),
    }


def _meters(
    profile: Profile,
    spec: DemoSpec,
    rng: np.random.Generator,
    acc: dict[str, Any],
    services: dict[str, Any],
) -> tuple[pl.DataFrame, np.ndarray]:
    n = acc["category"].size
    status = services["_status"]
    b = acc["behaviour"]
    p = np.full(n, 0.95)
    p[b == CLANDESTINE] = 0.35
    p[status == CUT] = 0.8
    p[acc["vip"]] = 0.995
    p[(status == REMOVED) | (status == FEASIBLE)] = 0.0
    metered = rng.random(n) < p
    brand_i = _choice(rng, n, [0.3, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05])
    diameter = np.zeros(n, dtype=np.int64)
    u = rng.random(n)
    diameter[u > 0.97] = 1
    cat = acc["category"]
    diameter[(cat == COMMERCIAL) & (u > 0.8)] = 1
    diameter[(cat == COMMERCIAL) & (u > 0.95)] = 2
    diameter[(cat == STATE) & (u > 0.6)] = 1
    vip = acc["vip"]
    diameter[vip] = (2 + _choice(rng, n, [0.35, 0.25, 0.25, 0.1, 0.05]))[vip]
    digits = np.where(rng.random(n) < 0.65, 5, 4)
    # installation: after the account opened, in the last 20 years; a renewal campaign
    # (PE 2015-2017, CO 2019-2021) replaced many meters
    as_of = _epoch_days(spec.as_of)
    low = np.maximum(acc["opened"], as_of - 20 * 365)
    high = np.maximum(low + 1, as_of - 20)
    installed = low + (rng.random(n) * (high - low)).astype(np.int64)
    campaign = (
        (date(2015, 6, 1), date(2017, 12, 31))
        if profile.country == "PE"
        else (date(2019, 2, 1), date(2021, 11, 30))
    )
    c0, c1 = _epoch_days(campaign[0]), _epoch_days(campaign[1])
    renewed = (rng.random(n) < 0.35) & (acc["opened"] < c0)
    installed[renewed] = (c0 + rng.integers(0, c1 - c0, n))[renewed]
    brands = profile.meter_brands
    prefixes = [b_[:2].upper() for b_ in brands]
    year2 = (
        (pl.Series(_dates(installed)).dt.year().cast(pl.Int64) % 100).cast(pl.String).str.zfill(2)
    )
    serial_no = pl.Series(rng.permutation(max(n, 1))[:n] + 100_000).cast(pl.String).str.zfill(7)
    serial = pl.select(
        pl.concat_str(
            [pl.lit(_pick(prefixes, brand_i)), pl.lit(year2), pl.lit("-"), pl.lit(serial_no)]
        )
    ).to_series()
    frame = pl.DataFrame(
        {
            "m": metered,
            "meter_serial": serial,
            "meter_brand": _pick(brands, brand_i),
            "meter_diameter": _pick(_DIAMETERS, diameter),
            "meter_digits": digits,
            "meter_installed_on": _dates(installed),
        }
    )
    frame = frame.select(
        [pl.when(pl.col("m")).then(pl.col(c)).alias(c) for c in frame.columns if c != "m"]
    )
    return frame, metered


# --------------------------------------------------------------------------- cartera


def _tiered(volume: np.ndarray, block: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    first = np.minimum(volume, block)
    return first * low + (volume - first) * high


def _balances(
    profile: Profile,
    spec: DemoSpec,
    rng: np.random.Generator,
    acc: dict[str, Any],
    debt: dict[str, np.ndarray],
    services: dict[str, Any],
    metered: np.ndarray,
    cycle: np.ndarray,
    cal: _Calendar,
) -> pl.DataFrame:
    """One row per open item: bills in the window, older debt by block, a few credits.

    Sorted by account (in cadastre order), then issue date, then concept.
    """
    n = cycle.size
    count, start = debt["count"], debt["start"]
    total = int(count.sum())
    step = cal.step
    acct = np.repeat(np.arange(n), count)
    first_row = np.concatenate([[0], np.cumsum(count)[:-1]])
    # one row per billed period, oldest first within each account
    offset = start[acct] + (count[acct] - 1) - (np.arange(total) - first_row[acct])
    # the latest periods are billed by the real run (see history.py), not migrated
    keep = offset >= spec.billed_periods
    acct, offset = acct[keep], offset[keep]
    total = int(acct.size)
    cat = acc["category"][acct]
    # consumption (m³): read for metered accounts, an assigned volume for the others
    mean_m3 = np.array([profile.mean_m3[c] for c in CATEGORIES], dtype=np.float64)
    noise = np.exp(rng.normal(0, 0.22, total))
    volume = np.where(metered[acct], acc["base_m3"][acct] * noise, mean_m3[cat]) * step
    volume = np.rint(volume).astype(np.int64)
    volume[services["_cut_offset"][acct] > offset] = 0  # after the cut: fixed charge only
    tariffs = [profile.tariffs[c] for c in CATEGORIES]
    block = np.array([t.block_m3 for t in tariffs])[cat] * step
    w_lo, w_hi = (np.array([t.water[i] for t in tariffs])[cat] for i in (0, 1))
    s_lo, s_hi = (np.array([t.sewer[i] for t in tariffs])[cat] for i in (0, 1))
    fixed = np.array([t.fixed for t in tariffs])[cat] * step
    if profile.country == "CO":  # subsidies and contributions by stratum or use
        factor = np.array([profile.category_factor.get(c, 1.0) for c in CATEGORIES])[cat]
        strat = acc["stratum"][acct]
        strat_factor = np.array([1.0] + [profile.stratum_factor[i] for i in range(1, 7)])
        factor = np.where(strat > 0, strat_factor[strat], factor)
    else:
        factor = np.ones(total)
    water = np.rint(_tiered(volume, block, w_lo, w_hi) * factor).astype(np.int64)
    sewer = np.rint(_tiered(volume, block, s_lo, s_hi) * factor).astype(np.int64)
    sewer[~services["_has_sewer"][acct]] = 0
    fixed = np.rint(fixed * factor).astype(np.int64)
    if profile.currency == "COP":  # whole pesos
        water, sewer, fixed = ((x + 50) // 100 * 100 for x in (water, sewer, fixed))
    lines = [water, sewer, fixed]
    concepts = ["water", "sewer", "fixed"]
    if profile.tax_rate:
        lines.append(np.rint((water + sewer + fixed) * profile.tax_rate).astype(np.int64))
        concepts.append("tax")
    issue = cal.issue_days(cycle[acct], offset)

    # documents: one per bill in the window; bills older than the window are consolidated
    # in one "previous debt" document per block of periods (rows are contiguous: reduceat)
    legacy = offset >= cal.window
    key = np.where(legacy, -1 - (offset - cal.window) // LEGACY_BLOCK, offset)
    new_doc = np.ones(total, dtype=bool)
    new_doc[1:] = (acct[1:] != acct[:-1]) | (key[1:] != key[:-1])
    first = np.flatnonzero(new_doc)
    doc_acct = acct[first]
    doc_issue = issue[first]
    doc_legacy = legacy[first]
    amounts = np.stack([np.add.reduceat(x, first) if total else x for x in lines], axis=1)

    # a partial payment left part of the oldest bill of some late and chronic accounts open
    n_docs = first.size
    oldest = np.ones(n_docs, dtype=bool)
    oldest[1:] = doc_acct[1:] != doc_acct[:-1]
    behaviour = acc["behaviour"][doc_acct]
    partial = oldest & np.isin(behaviour, [LATE, CHRONIC]) & (rng.random(n_docs) < 0.12)
    share = rng.uniform(0.2, 0.8, n_docs)
    amounts[partial] = np.rint(amounts[partial] * share[partial, None]).astype(np.int64)
    if profile.currency == "COP":
        amounts = (amounts + 50) // 100 * 100

    # a few punctual accounts with nothing open have money in favour (saldo a favor)
    credit = (acc["behaviour"] == PUNCTUAL) & (count == 0) & ~acc["feasible"]
    credit &= rng.random(n) < 0.012
    c_acct = np.flatnonzero(credit)
    unit = 100 if profile.currency == "PEN" else 100_000
    c_amount = -rng.integers(5, 80, c_acct.size) * unit
    c_issue = cal.as_of - rng.integers(5, 200, c_acct.size)
    concepts.append("credit")
    amounts = np.concatenate(
        [
            np.concatenate([amounts, np.zeros((n_docs, 1), dtype=np.int64)], axis=1),
            np.concatenate(
                [np.zeros((c_acct.size, len(concepts) - 1), dtype=np.int64), c_amount[:, None]],
                axis=1,
            ),
        ]
    )
    doc_acct = np.concatenate([doc_acct, c_acct])
    doc_issue = np.concatenate([doc_issue, c_issue])
    doc_legacy = np.concatenate([doc_legacy, np.zeros(c_acct.size, dtype=bool)])
    doc_credit = np.concatenate([np.zeros(n_docs, dtype=bool), np.ones(c_acct.size, dtype=bool)])
    order = np.argsort(doc_acct, kind="stable")  # credits have no other documents
    doc_acct, doc_issue, doc_legacy, doc_credit, amounts = (
        x[order] for x in (doc_acct, doc_issue, doc_legacy, doc_credit, amounts)
    )

    # references: period and account for bills, "DA" (deuda anterior) for consolidated debt,
    # "SF" (saldo a favor) for credits
    number = acc["number"].gather(doc_acct)
    issue_dates = _dates(doc_issue)
    prefix = _pick(("", "DA", "SF"), np.where(doc_credit, 2, doc_legacy.astype(np.int64)))
    reference = pl.select(
        pl.concat_str(
            [
                pl.lit(prefix),
                pl.when(pl.lit(pl.Series(doc_credit)))
                .then(pl.lit(""))
                .otherwise(pl.lit(issue_dates.dt.strftime("%Y%m"))),
                pl.lit("-"),
                pl.lit(number),
            ]
        )
    ).to_series()
    due = np.where(doc_credit, doc_issue, doc_issue + cal.due_days)

    # one row per non-zero line
    flat_amounts = amounts.reshape(-1)
    nz = np.flatnonzero(flat_amounts)
    width = amounts.shape[1]
    row_doc = nz // width
    return pl.DataFrame(
        {
            "acct": doc_acct[row_doc],
            "account_number": acc["number"].gather(doc_acct[row_doc]),
            "document_reference": reference.gather(row_doc),
            "concept": pl.Series(concepts, dtype=pl.Enum(concepts)).gather(nz % width),
            "issue_date": _dates(doc_issue[row_doc]),
            "due_date": _dates(due[row_doc]),
            "legacy": doc_legacy[row_doc],
            "amount": flat_amounts[nz],
        }
    )


# --------------------------------------------------------------------------- CSV files


def money_text(minor: pl.Expr, currency: str) -> pl.Expr:
    """Minor units as the text the importers read: ``1234.50`` (PEN), ``123456`` (COP)."""
    whole = (minor.abs() // 100).cast(pl.String)
    sign = pl.when(minor < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    if currency == "COP":
        return pl.concat_str([sign, whole])
    cents = (minor.abs() % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str([sign, whole, pl.lit("."), cents])


def write_csvs(demo: DemoData, folder: Path) -> dict[str, Path]:
    """Write ``cadastre.csv`` and ``balances.csv`` in the documented import formats."""
    from .formats import balances_frame, cadastre_frame

    folder.mkdir(parents=True, exist_ok=True)
    paths = {"cadastre": folder / "cadastre.csv", "balances": folder / "balances.csv"}
    cadastre_frame(demo).write_csv(paths["cadastre"], date_format="%Y-%m-%d")
    balances_frame(demo).write_csv(paths["balances"], date_format="%Y-%m-%d")
    return paths
