"""The tariff file format (YAML) and its validation, for the Peruvian and Colombian profiles.

A tariff file becomes a frozen :class:`Tariff`. Every problem in the file is reported at once,
each named by its key path and a reason in Spanish, e.g.
``categories.domestic.blocks[2].to: debe ser mayor que 'from' (25)``.

Numbers that carry money (rates, fixed charges, percentages) are read as ``Decimal`` from
the text of the file, never through a float: the YAML loader turns a plain ``1.116`` into
``Decimal("1.116")``; quoted text (``"1.116"``) is accepted too. Volumes and altitudes are
whole numbers.

The format is documented key by key in ``docs/tariffs.md``; the examples live in
``docs/examples/tariff-*.yaml``. The validated content is stored on ``TariffVersion.document``
as JSON (:func:`to_document`) and read back with :func:`parse_document`, through the same
validator.

Pure module: no ORM.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from caudal.kernel.money import CURRENCY_EXPONENT

COUNTRIES = ("PE", "CO")
CATEGORIES = ("social", "domestic", "commercial", "industrial", "state")
CATEGORY_NAMES = {
    "social": "Social",
    "domestic": "Doméstico",
    "commercial": "Comercial",
    "industrial": "Industrial",
    "state": "Estatal",
}
#: Colombian residential categories: priced by stratum (subsidies 1–3, contributions 5–6).
RESIDENTIAL = ("social", "domestic")
MODES = ("stepped", "whole")
PERIODICITIES = ("monthly", "bimonthly")
SERVICES = ("water", "sewer")
TAXABLE = ("fixed", "water", "sewer")
#: Colombian consumption ranges, in order (CRA 750/2016), and the single-range alternative.
RANGES = ("basic", "complementary", "sumptuary")
RANGE_ALL = "all"
RANGE_NAMES = {
    "basic": "básico",
    "complementary": "complementario",
    "sumptuary": "suntuario",
    RANGE_ALL: "",
}
#: Legal ceilings of the subsidies by stratum (Ley 1450/2011 art. 125, see standards §6.1).
SUBSIDY_MAX = {1: Decimal(70), 2: Decimal(40), 3: Decimal(15)}
CONTRIBUTORS = ("5", "6", "commercial", "industrial")
MAX_DECIMALS = 6
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


# =========================================================================================
# The validated tariff
# =========================================================================================


@dataclass(frozen=True)
class Block:
    """A consumption block in m³ per month (and per unit of use): ``lo`` < volume ≤ ``hi``.

    ``hi`` None: no upper limit. ``kind`` is the Colombian range (basic, complementary,
    sumptuary, all) and empty in Peru.
    """

    lo: int
    hi: int | None
    water: Decimal
    sewer: Decimal
    label: str
    kind: str = ""


@dataclass(frozen=True)
class FixedCharge:
    """Fixed charge per month. ``service`` "any": one charge when water or sewer is billed;
    "water" / "sewer": charged only when that service is billed."""

    service: str
    amount: Decimal


@dataclass(frozen=True)
class RangeRates:
    water: Decimal
    sewer: Decimal


@dataclass(frozen=True)
class Category:
    key: str
    mode: str
    fixed: tuple[FixedCharge, ...]
    fixed_per_unit: bool
    split_by_units: bool
    assigned_m3: int | None
    #: Peru: the blocks of the file. Colombia: empty (built per altitude band, see ``ranges``).
    blocks: tuple[Block, ...] = ()
    #: Colombia: rates per range (basic/complementary/sumptuary, or "all").
    ranges: Mapping[str, RangeRates] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return CATEGORY_NAMES[self.key]


@dataclass(frozen=True)
class Tax:
    name: str
    rate_pct: Decimal
    applies_to: tuple[str, ...]


@dataclass(frozen=True)
class AltitudeBand:
    """Colombia: consumption ranges of municipalities at ``from_m`` metres or higher
    (up to the next band). Volumes per month."""

    from_m: int
    basic_m3: int
    sumptuary_from_m3: int | None


@dataclass(frozen=True)
class FactorSet:
    """Colombia: solidarity factors (percent) of a municipality for a span of dates.

    ``subsidies`` by stratum 1–3 (positive numbers: the discount); ``contributions`` by
    "5", "6", "commercial", "industrial" (the surcharge)."""

    valid_from: date
    valid_to: date | None
    source: str
    subsidies: Mapping[int, Decimal]
    contributions: Mapping[str, Decimal]

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    altitude_m: int | None
    factors: tuple[FactorSet, ...]


@dataclass(frozen=True)
class Tariff:
    code: str
    name: str
    country: str
    valid_from: date
    valid_to: date | None
    resolution: str
    currency: str
    rounding: int
    periodicity: str
    tax: Tax | None
    categories: Mapping[str, Category]
    altitude_bands: tuple[AltitudeBand, ...] = ()
    municipalities: Mapping[str, Municipality] = field(default_factory=dict)
    notes: str = ""
    #: Set by ``caudal.tariffs.queries.load`` from the stored ``TariffVersion``.
    version: int | None = None

    @property
    def label(self) -> str:
        return f"{self.code} v{self.version}" if self.version is not None else self.code

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENT[self.currency]

    def band_for(self, altitude_m: int) -> AltitudeBand:
        chosen = self.altitude_bands[0]
        for band in self.altitude_bands:
            if altitude_m >= band.from_m:
                chosen = band
        return chosen

    def municipality(self, code: str) -> Municipality | None:
        return self.municipalities.get(code) or self.municipalities.get("*")


# =========================================================================================
# Errors
# =========================================================================================


@dataclass(frozen=True, order=True)
class SchemaError:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class TariffFileError(ValueError):
    """A tariff file that cannot be used. ``errors`` lists every problem found."""

    def __init__(self, errors: Iterable[SchemaError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class _Missing:
    pass


MISSING = _Missing()


class _Checker:
    """Collects errors while reading a nested mapping; every getter returns None on error."""

    def __init__(self) -> None:
        self.errors: list[SchemaError] = []

    def error(self, path: str, reason: str) -> None:
        self.errors.append(SchemaError(path, reason))

    # -- structure ------------------------------------------------------------------------

    def mapping(self, value: Any, path: str) -> dict[Any, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"debe ser un mapa de claves (no {_kind(value)})")
            return None
        return value

    def keys(self, data: dict[Any, Any], path: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in data:
            if str(key) not in allowed:
                self.error(
                    _join(path, str(key)),
                    f"clave desconocida (se esperan: {', '.join(allowed)})",
                )

    def get(self, data: dict[Any, Any], path: str, key: str, *, required: bool = True) -> Any:
        if key in data:
            return data[key]
        if required:
            self.error(_join(path, key), "falta esta clave obligatoria")
        return MISSING

    # -- scalars --------------------------------------------------------------------------

    def text(
        self, value: Any, path: str, *, max_len: int = 200, allow_empty: bool = False
    ) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.error(path, f"debe ser un texto (no {_kind(value)})")
            return None
        text = str(value).strip()
        if not text and not allow_empty:
            self.error(path, "no puede estar vacío")
            return None
        if len(text) > max_len:
            self.error(path, f"admite hasta {max_len} caracteres (tiene {len(text)})")
            return None
        return text

    def choice(self, value: Any, path: str, choices: Iterable[str]) -> str | None:
        choices = tuple(choices)
        if not isinstance(value, str) or value not in choices:
            self.error(path, f"debe ser uno de: {', '.join(choices)} (no {_show(value)})")
            return None
        return value

    def integer(self, value: Any, path: str, *, minimum: int = 0) -> int | None:
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            number = int(value.strip())
        if number is None:
            self.error(path, f"debe ser un número entero (no {_show(value)})")
            return None
        if number < minimum:
            self.error(path, f"debe ser mayor o igual que {minimum} (no {number})")
            return None
        return number

    def decimal(
        self,
        value: Any,
        path: str,
        *,
        minimum: Decimal = Decimal(0),
        maximum: Decimal | None = None,
    ) -> Decimal | None:
        number: Decimal | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            raw = value.strip()
            if re.fullmatch(r"-?\d+(\.\d+)?", raw):
                number = Decimal(raw)
            elif re.fullmatch(r"-?\d+,\d+", raw):
                self.error(path, f"use punto decimal, no coma ({value!r})")
                return None
        if number is None or not number.is_finite():
            self.error(path, f"debe ser un número decimal (no {_show(value)})")
            return None
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
            self.error(path, f"admite hasta {MAX_DECIMALS} decimales ({number})")
            return None
        if number < minimum:
            self.error(path, f"debe ser mayor o igual que {minimum} (no {number})")
            return None
        if maximum is not None and number > maximum:
            self.error(path, f"no puede superar {maximum} (no {number})")
            return None
        return number

    def day(self, value: Any, path: str) -> date | None:
        if isinstance(value, datetime):
            self.error(path, f"debe ser una fecha sin hora (no {value.isoformat()})")
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.error(path, f"debe ser una fecha AAAA-MM-DD (no {_show(value)})")
        return None

    def boolean(self, value: Any, path: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(path, f"debe ser true o false (no {_show(value)})")
        return None

    def optional(
        self,
        data: dict[Any, Any],
        path: str,
        key: str,
        read: Callable[[Any, str], Any],
        default: Any = None,
    ) -> Any:
        value = data.get(key)
        if value is None:
            return default
        return read(value, _join(path, key))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "vacío"
    if isinstance(value, bool):
        return "verdadero/falso"
    if isinstance(value, list):
        return "una lista"
    if isinstance(value, dict):
        return "un mapa"
    if isinstance(value, int | Decimal):
        return f"el número {value}"
    return repr(value)


def _show(value: Any) -> str:
    if value is None:
        return "vacío"
    if isinstance(value, list | dict):
        return _kind(value)
    return repr(value) if isinstance(value, str) else str(value)


# =========================================================================================
# YAML reading: numbers become Decimal, never float
# =========================================================================================


class _DecimalLoader(yaml.SafeLoader):
    """A safe loader whose floats are ``Decimal`` built from the text of the file, and
    which refuses a key repeated in one mapping (YAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"clave repetida {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    try:
        return Decimal(text)
    except InvalidOperation:  # ".inf", ".nan", YAML 1.1 sexagesimal "1:30.5"
        return Decimal("NaN")


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """Dates as ``date``; an impossible date (2025-13-01) stays text for the validator."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return str(node.value)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(text: str) -> Any:
    """Parse YAML text with decimals as ``Decimal``. Syntax errors become a TariffFileError."""
    try:
        return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"línea {mark.line + 1}, columna {mark.column + 1}" if mark else "archivo"
        raise TariffFileError(
            [SchemaError(where, f"el archivo no es YAML válido: {exc.problem or exc}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise TariffFileError([SchemaError("", f"el archivo no es YAML válido: {exc}")]) from exc


# =========================================================================================
# Validation
# =========================================================================================

TOP_KEYS = (
    "code",
    "name",
    "country",
    "valid_from",
    "valid_to",
    "resolution",
    "currency",
    "rounding",
    "periodicity",
    "notes",
    "tax",
    "categories",
    "altitude_bands",
    "municipalities",
)
PE_CATEGORY_KEYS = ("fixed", "fixed_per_unit", "split_by_units", "assigned_m3", "mode", "blocks")
CO_CATEGORY_KEYS = ("fixed", "fixed_per_unit", "split_by_units", "assigned_m3", "rates")


def parse_text(text: str) -> Tariff:
    """Read and validate a tariff file. Raises ``TariffFileError`` with every problem."""
    return parse_data(read_yaml(text))


def parse_document(document: Mapping[str, Any]) -> Tariff:
    """Rebuild a ``Tariff`` from ``TariffVersion.document`` (the output of ``to_document``)."""
    return parse_data(dict(document))


def parse_data(data: Any) -> Tariff:
    c = _Checker()
    root = c.mapping(data, "(archivo)") if data is not None else None
    if data is None:
        raise TariffFileError([SchemaError("", "el archivo está vacío")])
    if root is None:
        raise TariffFileError(c.errors)
    c.keys(root, "", TOP_KEYS)

    def req(key: str, read: Callable[[Any, str], Any]) -> Any:
        value = c.get(root, "", key)
        return None if value is MISSING else read(value, key)

    code = req("code", lambda v, p: c.text(v, p, max_len=40))
    if code is not None and not CODE_RE.match(code):
        c.error("code", "use letras, dígitos, '.', '_' o '-' (sin espacios), hasta 40")
        code = None
    name = req("name", lambda v, p: c.text(v, p, max_len=200))
    country = req("country", lambda v, p: c.choice(v, p, COUNTRIES))
    valid_from = req("valid_from", c.day)
    valid_to = c.optional(root, "", "valid_to", c.day)
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        c.error("valid_to", f"debe ser igual o posterior a 'valid_from' ({valid_from})")
    resolution = c.optional(
        root, "", "resolution", lambda v, p: c.text(v, p, max_len=120, allow_empty=True), ""
    )
    currency = req("currency", lambda v, p: c.choice(v, p, tuple(CURRENCY_EXPONENT)))
    rounding = req("rounding", lambda v, p: c.integer(v, p, minimum=1))
    periodicity = c.optional(
        root, "", "periodicity", lambda v, p: c.choice(v, p, PERIODICITIES), "monthly"
    )
    notes = c.optional(
        root, "", "notes", lambda v, p: c.text(v, p, max_len=4000, allow_empty=True), ""
    )
    tax = _read_tax(c, root.get("tax"))

    bands: tuple[AltitudeBand, ...] = ()
    municipalities: dict[str, Municipality] = {}
    if country == "CO":
        bands = _read_bands(c, c.get(root, "", "altitude_bands"))
        municipalities = _read_municipalities(c, c.get(root, "", "municipalities"))
    elif country == "PE":
        for key in ("altitude_bands", "municipalities"):
            if key in root:
                c.error(key, "solo se usa en el perfil de Colombia (country: CO)")

    categories = _read_categories(c, c.get(root, "", "categories"), country, bands)

    if c.errors:
        raise TariffFileError(c.errors)
    return Tariff(
        code=code,
        name=name,
        country=country,
        valid_from=valid_from,
        valid_to=valid_to,
        resolution=resolution,
        currency=currency,
        rounding=rounding,
        periodicity=periodicity,
        tax=tax,
        categories=categories,
        altitude_bands=bands,
        municipalities=municipalities,
        notes=notes,
    )


def _read_tax(c: _Checker, value: Any) -> Tax | None:
    if value is None:
        return None
    data = c.mapping(value, "tax")
    if data is None:
        return None
    c.keys(data, "tax", ("name", "rate_pct", "applies_to"))
    name = c.get(data, "tax", "name")
    name = None if name is MISSING else c.text(name, "tax.name", max_len=20)
    rate = c.get(data, "tax", "rate_pct")
    rate = None if rate is MISSING else c.decimal(rate, "tax.rate_pct", maximum=Decimal(100))
    applies = data.get("applies_to", list(TAXABLE))
    concepts: list[str] = []
    if not isinstance(applies, list) or not applies:
        c.error("tax.applies_to", f"debe ser una lista no vacía de: {', '.join(TAXABLE)}")
    else:
        for i, item in enumerate(applies):
            concept = c.choice(item, f"tax.applies_to[{i}]", TAXABLE)
            if concept is not None:
                concepts.append(concept)
    if name is None or rate is None:
        return None
    return Tax(name=name, rate_pct=rate, applies_to=tuple(concepts))


def _read_fixed(c: _Checker, value: Any, path: str) -> tuple[FixedCharge, ...]:
    if isinstance(value, dict):
        c.keys(value, path, SERVICES)
        charges = []
        for service in SERVICES:
            if service in value:
                amount = c.decimal(value[service], _join(path, service))
                if amount is not None:
                    charges.append(FixedCharge(service, amount))
        if not value:
            c.error(path, "indique al menos 'water' o 'sewer'")
        return tuple(charges)
    amount = c.decimal(value, path)
    return () if amount is None else (FixedCharge("any", amount),)


def _read_categories(
    c: _Checker, value: Any, country: str | None, bands: tuple[AltitudeBand, ...]
) -> dict[str, Category]:
    if value is MISSING:
        return {}
    data = c.mapping(value, "categories")
    if data is None:
        return {}
    if not data:
        c.error("categories", "defina al menos una categoría")
    c.keys(data, "categories", CATEGORIES)
    result: dict[str, Category] = {}
    for key in CATEGORIES:
        if key not in data:
            continue
        path = f"categories.{key}"
        cat = c.mapping(data[key], path)
        if cat is None:
            continue
        allowed = CO_CATEGORY_KEYS if country == "CO" else PE_CATEGORY_KEYS
        c.keys(cat, path, allowed)
        errors_before = len(c.errors)
        fixed_value = c.get(cat, path, "fixed")
        fixed = () if fixed_value is MISSING else _read_fixed(c, fixed_value, f"{path}.fixed")
        fixed_per_unit = c.optional(cat, path, "fixed_per_unit", c.boolean, False)
        split = c.optional(cat, path, "split_by_units", c.boolean, True)
        assigned = c.optional(cat, path, "assigned_m3", lambda v, p: c.integer(v, p, minimum=0))
        blocks: tuple[Block, ...] = ()
        ranges: dict[str, RangeRates] = {}
        mode = "stepped"
        if country == "CO":
            ranges = _read_ranges(c, c.get(cat, path, "rates"), f"{path}.rates", key, bands)
        else:
            mode = c.optional(cat, path, "mode", lambda v, p: c.choice(v, p, MODES), "stepped")
            blocks = _read_blocks(c, c.get(cat, path, "blocks"), f"{path}.blocks")
        if len(c.errors) == errors_before:
            result[key] = Category(
                key=key,
                mode=mode,
                fixed=fixed,
                fixed_per_unit=fixed_per_unit,
                split_by_units=split,
                assigned_m3=assigned,
                blocks=blocks,
                ranges=ranges,
            )
    return result


def block_label(lo: int, hi: int | None) -> str:
    return f"{lo} m³ a más" if hi is None else f"{lo}–{hi} m³"


def _read_blocks(c: _Checker, value: Any, path: str) -> tuple[Block, ...]:
    if value is MISSING:
        return ()
    if not isinstance(value, list) or not value:
        c.error(path, "debe ser una lista con al menos un bloque")
        return ()
    blocks: list[Block] = []
    previous_to: int | None = None
    ok = True
    for i, item in enumerate(value):
        bpath = f"{path}[{i}]"
        data = c.mapping(item, bpath)
        if data is None:
            ok = False
            continue
        c.keys(data, bpath, ("from", "to", "water", "sewer", "label"))
        lo_raw = c.get(data, bpath, "from")
        lo = None if lo_raw is MISSING else c.integer(lo_raw, f"{bpath}.from")
        hi_raw = data.get("to")
        hi = None if hi_raw is None else c.integer(hi_raw, f"{bpath}.to")
        water_raw = c.get(data, bpath, "water")
        water = None if water_raw is MISSING else c.decimal(water_raw, f"{bpath}.water")
        sewer_raw = c.get(data, bpath, "sewer")
        sewer = None if sewer_raw is MISSING else c.decimal(sewer_raw, f"{bpath}.sewer")
        label = c.optional(data, bpath, "label", lambda v, p: c.text(v, p, max_len=40))
        if lo is not None:
            if i == 0 and lo != 0:
                c.error(f"{bpath}.from", f"el primer bloque debe empezar en 0 (no {lo})")
            elif i > 0 and previous_to is not None and lo != previous_to:
                c.error(
                    f"{bpath}.from",
                    f"debe ser igual a 'to' del bloque anterior ({previous_to}): "
                    "los bloques no pueden dejar huecos ni solaparse",
                )
        if hi_raw is not None and hi is not None and lo is not None and hi <= lo:
            c.error(f"{bpath}.to", f"debe ser mayor que 'from' ({lo})")
            hi = None
            ok = False
        if hi_raw is None and i < len(value) - 1:
            c.error(f"{bpath}.to", "solo el último bloque puede quedar abierto (sin 'to')")
            ok = False
        if hi_raw is not None and hi is not None and i == len(value) - 1:
            c.error(
                f"{bpath}.to",
                "el último bloque debe quedar abierto (sin 'to'): todo consumo debe tener precio",
            )
            ok = False
        previous_to = hi
        if lo is None or water is None or sewer is None or (hi_raw is not None and hi is None):
            ok = False
            continue
        blocks.append(Block(lo, hi, water, sewer, label or block_label(lo, hi)))
    return tuple(blocks) if ok else ()


def _read_ranges(
    c: _Checker, value: Any, path: str, category: str, bands: tuple[AltitudeBand, ...]
) -> dict[str, RangeRates]:
    if value is MISSING:
        return {}
    data = c.mapping(value, path)
    if data is None:
        return {}
    c.keys(data, path, (*RANGES, RANGE_ALL))
    result: dict[str, RangeRates] = {}
    for key in (*RANGES, RANGE_ALL):
        if key not in data:
            continue
        rpath = f"{path}.{key}"
        rates = c.mapping(data[key], rpath)
        if rates is None:
            continue
        c.keys(rates, rpath, SERVICES)
        water_raw = c.get(rates, rpath, "water")
        sewer_raw = c.get(rates, rpath, "sewer")
        water = None if water_raw is MISSING else c.decimal(water_raw, f"{rpath}.water")
        sewer = None if sewer_raw is MISSING else c.decimal(sewer_raw, f"{rpath}.sewer")
        if water is not None and sewer is not None:
            result[key] = RangeRates(water, sewer)
    if RANGE_ALL in data:
        if any(k in data for k in RANGES):
            c.error(
                f"{path}.{RANGE_ALL}",
                "use 'all' (una sola tarifa) o los rangos basic/complementary/sumptuary, no ambos",
            )
        elif category in RESIDENTIAL:
            c.error(
                f"{path}.{RANGE_ALL}",
                "las categorías residenciales necesitan los rangos basic y complementary "
                "(el subsidio se aplica solo al consumo básico)",
            )
    else:
        for key in ("basic", "complementary"):
            if key not in data:
                c.error(f"{path}.{key}", "falta esta clave obligatoria (o use 'all')")
        if any(b.sumptuary_from_m3 is not None for b in bands) and "sumptuary" not in data:
            c.error(
                f"{path}.sumptuary",
                "falta esta clave: altitude_bands define un umbral de consumo suntuario",
            )
    return result


def _read_bands(c: _Checker, value: Any) -> tuple[AltitudeBand, ...]:
    path = "altitude_bands"
    if value is MISSING:
        return ()
    if not isinstance(value, list) or not value:
        c.error(path, "debe ser una lista con al menos una franja de altitud")
        return ()
    bands: list[AltitudeBand] = []
    previous: int | None = None
    for i, item in enumerate(value):
        bpath = f"{path}[{i}]"
        data = c.mapping(item, bpath)
        if data is None:
            continue
        c.keys(data, bpath, ("from_m", "basic_m3", "sumptuary_from_m3"))
        raw = c.get(data, bpath, "from_m")
        from_m = None if raw is MISSING else c.integer(raw, f"{bpath}.from_m")
        raw = c.get(data, bpath, "basic_m3")
        basic = None if raw is MISSING else c.integer(raw, f"{bpath}.basic_m3", minimum=1)
        sumptuary = c.optional(
            data, bpath, "sumptuary_from_m3", lambda v, p: c.integer(v, p, minimum=1)
        )
        if from_m is not None:
            if i == 0 and from_m != 0:
                c.error(f"{bpath}.from_m", f"la primera franja debe empezar en 0 (no {from_m})")
            elif previous is not None and from_m <= previous:
                c.error(
                    f"{bpath}.from_m",
                    f"debe ser mayor que 'from_m' de la franja anterior ({previous})",
                )
            previous = from_m
        if basic is not None and sumptuary is not None and sumptuary <= basic:
            c.error(
                f"{bpath}.sumptuary_from_m3",
                f"debe ser mayor que 'basic_m3' ({basic})",
            )
            continue
        if from_m is not None and basic is not None:
            bands.append(AltitudeBand(from_m, basic, sumptuary))
    return tuple(bands)


def _read_municipalities(c: _Checker, value: Any) -> dict[str, Municipality]:
    path = "municipalities"
    if value is MISSING:
        return {}
    data = c.mapping(value, path)
    if data is None:
        return {}
    if not data:
        c.error(path, "defina al menos un municipio (o '*' para todos)")
    result: dict[str, Municipality] = {}
    for raw_code, item in data.items():
        code = str(raw_code)
        mpath = f"{path}.{code}"
        mdata = c.mapping(item, mpath)
        if mdata is None:
            continue
        c.keys(mdata, mpath, ("name", "altitude_m", "factors"))
        name = c.optional(mdata, mpath, "name", lambda v, p: c.text(v, p, max_len=120), code)
        altitude = c.optional(mdata, mpath, "altitude_m", c.integer)
        factors_raw = c.get(mdata, mpath, "factors")
        factors: list[FactorSet] = []
        if factors_raw is not MISSING:
            if not isinstance(factors_raw, list) or not factors_raw:
                c.error(
                    f"{mpath}.factors", "debe ser una lista con al menos un periodo de factores"
                )
            else:
                for i, f in enumerate(factors_raw):
                    fs = _read_factor_set(c, f, f"{mpath}.factors[{i}]")
                    if fs is not None:
                        factors.append(fs)
        ordered = sorted(factors, key=lambda f: f.valid_from)
        for a, b in itertools.pairwise(ordered):
            if a.valid_to is None or a.valid_to >= b.valid_from:
                c.error(
                    f"{mpath}.factors",
                    f"los periodos se solapan: el que empieza el {a.valid_from} y el que "
                    f"empieza el {b.valid_from}",
                )
        result[code] = Municipality(code, name, altitude, tuple(ordered))
    return result


def _read_factor_set(c: _Checker, value: Any, path: str) -> FactorSet | None:
    data = c.mapping(value, path)
    if data is None:
        return None
    c.keys(data, path, ("valid_from", "valid_to", "source", "subsidies", "contributions"))
    errors_before = len(c.errors)
    raw = c.get(data, path, "valid_from")
    valid_from = None if raw is MISSING else c.day(raw, f"{path}.valid_from")
    valid_to = c.optional(data, path, "valid_to", c.day)
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        c.error(f"{path}.valid_to", f"debe ser igual o posterior a 'valid_from' ({valid_from})")
    source = c.optional(
        data, path, "source", lambda v, p: c.text(v, p, max_len=200, allow_empty=True), ""
    )
    subsidies: dict[int, Decimal] = {}
    raw = data.get("subsidies") or {}
    sub = c.mapping(raw, f"{path}.subsidies")
    for key, pct in (sub or {}).items():
        kpath = f"{path}.subsidies.{key}"
        stratum = int(key) if str(key).isdigit() else None
        if stratum not in SUBSIDY_MAX:
            c.error(kpath, "solo los estratos 1, 2 y 3 reciben subsidio")
            continue
        value_pct = c.decimal(pct, kpath, maximum=SUBSIDY_MAX[stratum])
        if value_pct is not None:
            subsidies[stratum] = value_pct
    contributions: dict[str, Decimal] = {}
    raw = data.get("contributions") or {}
    con = c.mapping(raw, f"{path}.contributions")
    for key, pct in (con or {}).items():
        kpath = f"{path}.contributions.{key}"
        if str(key) not in CONTRIBUTORS:
            c.error(
                kpath,
                "solo aportan los estratos 5 y 6, commercial e industrial "
                "(el estrato 4 paga la tarifa de referencia)",
            )
            continue
        value_pct = c.decimal(pct, kpath, maximum=Decimal(100))
        if value_pct is not None:
            contributions[str(key)] = value_pct
    if len(c.errors) > errors_before or valid_from is None:
        return None
    return FactorSet(valid_from, valid_to, source, subsidies, contributions)


# =========================================================================================
# JSON form for TariffVersion.document
# =========================================================================================


def to_document(data: Any) -> Any:
    """The parsed YAML as JSON-safe data: Decimal and dates as text, keys as text."""
    if isinstance(data, dict):
        return {str(k): to_document(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_document(v) for v in data]
    if isinstance(data, Decimal):
        return format(data, "f")
    if isinstance(data, date):
        return data.isoformat()
    return data


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros after normalising
    (``Decimal("70")`` → ``"70"``, ``Decimal("-15.50")`` → ``"-15.5"``)."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


__all__ = [
    "CATEGORIES",
    "AltitudeBand",
    "Block",
    "Category",
    "FactorSet",
    "FixedCharge",
    "Municipality",
    "RangeRates",
    "SchemaError",
    "Tariff",
    "TariffFileError",
    "Tax",
    "decimal_text",
    "parse_data",
    "parse_document",
    "parse_text",
    "read_yaml",
    "to_document",
]
