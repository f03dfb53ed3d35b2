"""Pure rules of metering: the reading critique (crítica de lectura).

Plain data in, plain data out; no ORM (see docs/architecture.md and docs/critique.md).

Every reading of a period is checked against its account (category, segment, water
connection status, meter) and a summary of the account's previous readings
(:class:`HistorySummary`). The outcome (:class:`Verdict`) is a list of flags, a status
(``ok`` when no flag holds the reading, ``flagged`` otherwise) and the consumption to bill
with the rule that determined it (SUNASS RCD 011-2007: reading difference or historical
average).

The same decision is written twice, and tests keep the two equal:

- :func:`critique_frame`: vectorised over a Polars frame, used by the critique run
  (millions of readings in seconds);
- :func:`critique_reading`: one reading at a time, used to explain a decision, by the
  actions that recompute one reading, and as the reference in tests.

Every comparison is integer arithmetic (factors are kept in thousandths), so both give
exactly the same answer. Codes of statuses, rules and observations are the values of the
choices in ``caudal.metering.models`` (this module may not import models; a test checks
that they agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import polars as pl
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# --- codes shared with models.py (checked by a test) ---------------------------------------

PENDING = "pending"
OK = "ok"
FLAGGED = "flagged"
ACCEPTED = "accepted"
CORRECTED = "corrected"
ESTIMATED = "estimated"
REREAD = "reread"
#: Statuses the billing run bills from (``models.BILLABLE_STATUSES``).
BILLABLE = (OK, ACCEPTED, CORRECTED, ESTIMATED)
#: Statuses a person set: the critique run never overwrites them.
DECIDED = (ACCEPTED, CORRECTED, ESTIMATED, REREAD)
#: Statuses the critique run (re)computes.
OPEN = (PENDING, OK, FLAGGED)

RULE_ACTUAL = "actual"
RULE_AVERAGE = "average"
RULE_ESTIMATED = "estimated"
RULE_CORRECTED = "corrected"
#: Rules whose volume came from the meter (used when ``average_measured_only``).
MEASURED_RULES = (RULE_ACTUAL, RULE_CORRECTED)

ACTIVE = "active"
CUT = "cut"
REMOVED = "removed"
FEASIBLE = "feasible"
VIP = "vip"

OBS_METER_PROBLEM = frozenset({"broken", "missing", "illegible", "reversed", "buried"})
OBS_FRAUD = frozenset({"self_reconnected", "clandestine"})
OBS_LEAK = frozenset({"leak"})
OBS_VACANT = frozenset({"vacant", "demolished"})
OBS_METER_CHANGED = frozenset({"changed"})
#: Observations that explain an unchanged reading (nobody uses water there).
OBS_NOBODY_HOME = OBS_VACANT | {"closed"}

HOLD = "hold"
INFO = "info"
SEVERITIES = (HOLD, INFO)

#: Previous readings are capped below this (the run packs a value, its period and its
#: meter in one 64-bit integer); a 9-digit meter reads below 10^9 < 2^30.
PACK_LIMIT = 1 << 30

#: Largest meter dial handled (``Meter.digits`` is 3–9; values beyond are bogus readings).
MAX_DIGITS = 18
POW10 = {d: 10**d for d in range(MAX_DIGITS + 1)}


@dataclass(frozen=True)
class Flag:
    """An anomaly the critique can raise on a reading."""

    code: str
    label: Promise | str
    severity: str
    meaning: Promise | str
    #: The GSAN consumption anomaly it corresponds to, with GSAN's code (as numbered in the
    #: GSAN mobile reading app, ``model/Consumo.java``); empty when GSAN has none.
    gsan: str = ""


_FLAG_LIST = [
    Flag(
        "not_read",
        _("No leída"),
        HOLD,
        _("No hay lectura en el periodo (con o sin observación del lector)."),
        "Leitura não informada (10)",
    ),
    Flag(
        "no_observation",
        _("Sin lectura ni observación"),
        HOLD,
        _(
            "No hay lectura ni observación: el lector no registró la visita o la fila la "
            "creó la crítica para un suministro medido sin lectura."
        ),
    ),
    Flag(
        "below_previous",
        _("Lectura menor que la anterior"),
        HOLD,
        _("La lectura es menor que la anterior y no es una vuelta del medidor."),
        "Leitura menor que anterior (8)",
    ),
    Flag(
        "rollover",
        _("Vuelta del medidor"),
        INFO,
        _(
            "El medidor pasó por cero: la anterior estaba cerca del máximo de sus dígitos y "
            "la actual es pequeña; consumo = 10^dígitos − anterior + actual."
        ),
        "Virada de hidrômetro (16)",
    ),
    Flag(
        "too_many_digits",
        _("Lectura con más dígitos que el medidor"),
        HOLD,
        _("La lectura no cabe en el visor del medidor (≥ 10^dígitos)."),
    ),
    Flag(
        "no_previous_reading",
        _("Sin lectura anterior"),
        HOLD,
        _(
            "No se conoce la lectura anterior (primera lectura del medidor o del "
            "suministro): no se puede calcular la diferencia."
        ),
    ),
    Flag(
        "meter_changed",
        _("Cambio de medidor"),
        HOLD,
        _(
            "El medidor de la lectura no es el de la lectura anterior (serie distinta) o el "
            "lector informó un medidor cambiado."
        ),
        "Hidrômetro substituído informado / não informado (9, 14)",
    ),
    Flag(
        "no_meter",
        _("Lectura sin medidor en el catastro"),
        HOLD,
        _("Hay lectura pero el suministro no tiene medidor instalado en el catastro."),
    ),
    Flag(
        "zero_consumption",
        _("Consumo cero"),
        INFO,
        _("Consumo cero con la conexión de agua activa y el predio no informado como deshabitado."),
    ),
    Flag(
        "stuck_meter",
        _("Lectura igual a la anterior varios periodos"),
        HOLD,
        _(
            "La lectura no cambia desde hace N periodos, con la conexión de agua activa y el "
            "predio no informado como deshabitado o cerrado: posible medidor parado."
        ),
    ),
    Flag(
        "high_consumption",
        _("Consumo alto"),
        HOLD,
        _("Consumo mayor que k veces el promedio del suministro (k por categoría)."),
        "Alto consumo (6)",
    ),
    Flag(
        "low_consumption",
        _("Consumo bajo"),
        INFO,
        _("Consumo menor que el promedio dividido entre k (k por categoría)."),
        "Baixo consumo (4); Leitura menor que projetada (7)",
    ),
    Flag(
        "very_high_consumption",
        _("Consumo excesivo para la categoría"),
        HOLD,
        _("Consumo mayor que el tope absoluto de la categoría (m³ por mes)."),
        "Estouro de consumo (5)",
    ),
    Flag(
        "consumption_on_cut",
        _("Consumo con servicio cortado"),
        HOLD,
        _("El medidor avanzó con la conexión de agua cortada: posible autorreconexión."),
    ),
    Flag(
        "consumption_on_removed",
        _("Consumo con conexión levantada o sin alta"),
        HOLD,
        _("El medidor avanzó con la conexión levantada o solo factible: posible uso clandestino."),
    ),
    Flag(
        "vacant_with_consumption",
        _("Predio deshabitado con consumo"),
        HOLD,
        _("El lector informó predio deshabitado o demolido pero el medidor avanzó."),
    ),
    Flag(
        "estimated_streak",
        _("Estimada varios periodos seguidos"),
        HOLD,
        _(
            "Sin lectura en este periodo ni en los N−1 anteriores: se factura por promedio "
            "una y otra vez; corresponde inspeccionar."
        ),
    ),
    Flag(
        "meter_problem",
        _("Medidor con problema"),
        HOLD,
        _("El lector informó medidor averiado, inexistente, ilegible, invertido o enterrado."),
        "Anormalidade de leitura (17)",
    ),
    Flag(
        "fraud_observed",
        _("Autorreconexión o clandestino observado"),
        HOLD,
        _("El lector informó una autorreconexión o una conexión clandestina."),
        "Anormalidade de leitura (17)",
    ),
    Flag(
        "leak_observed",
        _("Fuga visible"),
        INFO,
        _("El lector informó una fuga visible: el consumo puede estar alto por eso."),
        "Anormalidade de leitura (17)",
    ),
    Flag(
        "vip_review",
        _("Cliente VIP: validar antes de facturar"),
        HOLD,
        _(
            "Toda lectura de un suministro VIP la valida una persona antes de facturar "
            "(práctica de SEDACUSCO)."
        ),
    ),
    Flag(
        "vip_deviation",
        _("Desviación en VIP o gran consumidor"),
        HOLD,
        _(
            "VIP o gran consumidor (promedio ≥ umbral) cuyo consumo se aparta del promedio "
            "más que el factor VIP, hacia arriba o hacia abajo."
        ),
    ),
    Flag(
        "catch_up",
        _("Descuenta consumo facturado por promedio"),
        INFO,
        _(
            "La lectura anterior es de antes de periodos facturados sin lectura: a la "
            "diferencia se le resta lo ya facturado por promedio en esos periodos."
        ),
    ),
    Flag(
        "no_history",
        _("Sin historial (suministro nuevo)"),
        INFO,
        _("No hay consumos facturados en los periodos del promedio: no se puede comparar."),
    ),
    Flag(
        "undetermined",
        _("Consumo no determinable"),
        HOLD,
        _(
            "No hay diferencia de lecturas utilizable ni promedio: un analista debe estimar "
            "o corregir."
        ),
    ),
]

#: Every flag, in display order.
FLAGS: dict[str, Flag] = {f.code: f for f in _FLAG_LIST}
FLAG_CODES: tuple[str, ...] = tuple(FLAGS)

DEFAULT_FACTORS: dict[str, Decimal] = {
    "social": Decimal("2"),
    "domestic": Decimal("2"),
    "commercial": Decimal("2.5"),
    "state": Decimal("2.5"),
    "industrial": Decimal("3"),
}
DEFAULT_CAPS: dict[str, int] = {
    "social": 60,
    "domestic": 100,
    "commercial": 500,
    "state": 1000,
    "industrial": 5000,
}
DEFAULT_AVERAGE_ON = frozenset(
    {
        "not_read",
        "below_previous",
        "too_many_digits",
        "no_previous_reading",
        "meter_changed",
        "meter_problem",
    }
)


class ConfigError(ValueError):
    """A critique setting is wrong; the message names the key."""


def _decimal(key: str, value: Any) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ConfigError(f"{key}: {value!r} no es un número") from exc
    if not d.is_finite():
        raise ConfigError(f"{key}: {value!r} no es un número")
    return d


@dataclass(frozen=True)
class CritiqueConfig:
    """Thresholds of the critique. Every knob is documented in docs/critique.md.

    Volumes are whole m³ per month: caps are multiplied by the months of the period
    (bimonthly billing doubles them); averages are already per period.
    """

    #: Periods before the current one whose billed consumption makes the average.
    average_periods: int = 6
    #: Average only volumes measured by the meter (rules actual/corrected), not volumes
    #: themselves billed by average or estimated.
    average_measured_only: bool = False
    #: k per use category: high when consumption > k × average, low when < average / k.
    factor_by_category: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_FACTORS))
    #: k of a category missing from ``factor_by_category``.
    default_factor: Decimal = Decimal("2")
    #: High/low/VIP deviations smaller than this many m³ are not flagged (3 → 7 m³ is
    #: more than twice but not worth a look).
    min_deviation_m3: int = 5
    #: Absolute cap per category (m³ per month): above it, "consumo excesivo".
    cap_by_category: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    #: Cap of a category missing from ``cap_by_category``.
    default_cap: int = 1000
    #: Tighter factor for VIP accounts and large consumers, both directions.
    vip_factor: Decimal = Decimal("1.3")
    #: An account whose average is at least this (m³) is a large consumer; None: only
    #: the VIP segment gets the tighter factor.
    large_consumer_average: int | None = 300
    #: Every VIP reading waits for a person's validation (flag ``vip_review``).
    vip_always_review: bool = True
    #: ``estimated_streak`` when this period and the N−1 before were not read.
    estimated_streak: int = 3
    #: ``stuck_meter`` when the reading equals the previous one this period and in the
    #: N−1 before.
    stuck_periods: int = 3
    #: A reading below the previous is a rollover when 10^digits − previous + current is
    #: at most this percentage of the dial (10 % of a 5-digit meter: 10,000 m³).
    rollover_max_percent: int = 10
    #: Dial size assumed when the meter is unknown.
    default_digits: int = 5
    #: Subtract what was billed by average since the last real reading (catch_up).
    compensate_estimated: bool = True
    #: Flags that make the proposed consumption the historical average instead of the
    #: reading difference.
    average_on: frozenset[str] = DEFAULT_AVERAGE_ON
    #: Severity overrides: ``{"not_read": "info"}`` bills unread accounts by average
    #: without a person's decision.
    severity: Mapping[str, str] = field(default_factory=dict)
    #: Share of the period's read readings drawn for the control re-reading (percent,
    #: up to two decimals). The draw depends only on the period and the account.
    control_sample_percent: Decimal = Decimal("2")

    def __post_init__(self) -> None:
        positive = {
            "average_periods": self.average_periods,
            "estimated_streak": self.estimated_streak,
            "stuck_periods": self.stuck_periods,
        }
        for key, value in positive.items():
            if not isinstance(value, int) or not 1 <= value <= 12:
                raise ConfigError(f"{key}: debe ser un entero entre 1 y 12, no {value!r}")
        if not 3 <= self.default_digits <= 9:
            raise ConfigError(f"default_digits: debe estar entre 3 y 9, no {self.default_digits}")
        if not 0 < self.rollover_max_percent <= 50:
            raise ConfigError("rollover_max_percent: debe estar entre 1 y 50")
        if self.min_deviation_m3 < 0:
            raise ConfigError("min_deviation_m3: no puede ser negativo")
        for key, k in [
            *((f"factor_by_category.{c}", v) for c, v in self.factor_by_category.items()),
            ("default_factor", self.default_factor),
            ("vip_factor", self.vip_factor),
        ]:
            if not isinstance(k, Decimal) or k < 1 or k != k.quantize(Decimal("0.001")):
                raise ConfigError(f"{key}: debe ser un decimal ≥ 1 con hasta 3 decimales")
        for key, cap in [
            *((f"cap_by_category.{c}", v) for c, v in self.cap_by_category.items()),
            ("default_cap", self.default_cap),
        ]:
            if not isinstance(cap, int) or cap < 1:
                raise ConfigError(f"{key}: debe ser un entero positivo")
        if self.large_consumer_average is not None and self.large_consumer_average < 1:
            raise ConfigError("large_consumer_average: debe ser positivo o vacío")
        unknown = set(self.average_on) - set(FLAGS)
        if unknown:
            raise ConfigError(f"average_on: anomalías desconocidas {sorted(unknown)}")
        for code, sev in self.severity.items():
            if code not in FLAGS:
                raise ConfigError(f"severity.{code}: anomalía desconocida")
            if sev not in SEVERITIES:
                raise ConfigError(f"severity.{code}: debe ser 'hold' o 'info'")
        pct = self.control_sample_percent
        if (
            not isinstance(pct, Decimal)
            or not 0 <= pct <= 100
            or pct != pct.quantize(Decimal("0.01"))
        ):
            raise ConfigError("control_sample_percent: entre 0 y 100, hasta 2 decimales")

    # --- derived values ---

    @property
    def history_periods(self) -> int:
        """Previous periods the critique reads (average window and streak lengths)."""
        return max(self.average_periods, self.estimated_streak - 1, self.stuck_periods - 1, 1)

    def severity_of(self, code: str) -> str:
        return self.severity.get(code, FLAGS[code].severity)

    def hold_codes(self) -> tuple[str, ...]:
        return tuple(c for c in FLAG_CODES if self.severity_of(c) == HOLD)

    def factor_milli(self, category: str) -> int:
        return int(self.factor_by_category.get(category, self.default_factor) * 1000)

    def cap(self, category: str) -> int:
        return int(self.cap_by_category.get(category, self.default_cap))

    @property
    def vip_milli(self) -> int:
        return int(self.vip_factor * 1000)

    @property
    def control_basis_points(self) -> int:
        return int(self.control_sample_percent * 100)

    # --- (de)serialisation: Run parameters, settings, the command's --config file ---

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["factor_by_category"] = {k: str(v) for k, v in self.factor_by_category.items()}
        out["cap_by_category"] = dict(self.cap_by_category)
        out["default_factor"] = str(self.default_factor)
        out["vip_factor"] = str(self.vip_factor)
        out["average_on"] = sorted(self.average_on)
        out["severity"] = dict(self.severity)
        out["control_sample_percent"] = str(self.control_sample_percent)
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> CritiqueConfig:
        """Build from plain data (JSON/YAML/settings); unknown or bad keys raise
        :class:`ConfigError` naming the key."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: opción desconocida de la crítica")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("default_factor", "vip_factor", "control_sample_percent"):
                kwargs[key] = _decimal(key, value)
            elif key == "factor_by_category":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{key}: debe ser un diccionario categoría → factor")
                kwargs[key] = {str(c): _decimal(f"{key}.{c}", v) for c, v in value.items()}
            elif key == "cap_by_category":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{key}: debe ser un diccionario categoría → m³")
                kwargs[key] = {str(c): _int(f"{key}.{c}", v) for c, v in value.items()}
            elif key in ("average_on",):
                if isinstance(value, str) or not isinstance(value, Iterable):
                    raise ConfigError(f"{key}: debe ser una lista de códigos de anomalía")
                kwargs[key] = frozenset(str(v) for v in value)
            elif key == "severity":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{key}: debe ser un diccionario código → hold|info")
                kwargs[key] = {str(c): str(v) for c, v in value.items()}
            elif key in ("average_measured_only", "vip_always_review", "compensate_estimated"):
                if not isinstance(value, bool):
                    raise ConfigError(f"{key}: debe ser true o false")
                kwargs[key] = value
            elif key == "large_consumer_average":
                kwargs[key] = None if value is None else _int(key, value)
            else:
                kwargs[key] = _int(key, value)
        return cls(**kwargs)


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{key}: debe ser un entero, no {value!r}")
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: debe ser un entero, no {value!r}") from exc


# --- history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """A reading of an earlier period. ``offset`` 1 is the period just before."""

    offset: int
    value: int | None
    previous_value: int | None
    consumption: int | None
    status: str
    rule: str
    meter_id: int | None


@dataclass(frozen=True)
class HistorySummary:
    """What the critique needs from an account's previous readings.

    - ``billed_count`` / ``billed_sum``: periods within the average window billed with a
      consumption (billable status; measured rules only if so configured), and their sum;
    - ``last_offset``, ``last_value``, ``last_meter_id``: the most recent reading with a
      value in the history window;
    - ``unread_mask``: bit k−1 set when the period at offset k has a row without value;
    - ``equal_mask``: bit k−1 set when the reading at offset k equals its previous one;
    - ``unread_since_last``: consumption billed (billable, no value) in periods after the
      last reading.
    """

    billed_count: int = 0
    billed_sum: int = 0
    last_offset: int | None = None
    last_value: int | None = None
    last_meter_id: int | None = None
    unread_mask: int = 0
    equal_mask: int = 0
    unread_since_last: int = 0


def _billed(row: HistoryRow, config: CritiqueConfig) -> bool:
    return (
        row.status in BILLABLE
        and row.consumption is not None
        and (not config.average_measured_only or row.rule in MEASURED_RULES)
    )


def summarize_history(rows: Iterable[HistoryRow], config: CritiqueConfig) -> HistorySummary:
    """Summary of one account's readings of the ``config.history_periods`` periods before."""
    window = [r for r in rows if 1 <= r.offset <= config.history_periods]
    billed = [r for r in window if r.offset <= config.average_periods and _billed(r, config)]
    read = [r for r in window if r.value is not None]
    last = min(read, key=lambda r: r.offset) if read else None
    unread_mask = 0
    equal_mask = 0
    for r in window:
        if r.value is None:
            unread_mask |= 1 << (r.offset - 1)
        elif r.previous_value is not None and r.value == r.previous_value:
            equal_mask |= 1 << (r.offset - 1)
    since = 0
    if last is not None:
        since = sum(
            r.consumption or 0
            for r in window
            if r.offset < last.offset
            and r.value is None
            and r.status in BILLABLE
            and r.consumption is not None
        )
    return HistorySummary(
        billed_count=len(billed),
        billed_sum=sum(r.consumption or 0 for r in billed),
        last_offset=last.offset if last else None,
        last_value=min(last.value, PACK_LIMIT - 1) if last and last.value is not None else None,
        last_meter_id=last.meter_id if last else None,
        unread_mask=unread_mask,
        equal_mask=equal_mask,
        unread_since_last=since,
    )


def average(billed_count: int, billed_sum: int) -> int | None:
    """Mean rounded half up to whole m³; None without billed periods."""
    if billed_count <= 0:
        return None
    return (2 * billed_sum + billed_count) // (2 * billed_count)


# --- one reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadingFacts:
    """One reading with its account and history: everything the critique looks at.

    ``meter_id``/``digits``: the reading's meter (else the account's current one);
    ``previous_value``: as stored on the reading (None → the history's last value).
    """

    account_id: int
    category: str
    segment: str
    water_status: str | None
    meter_id: int | None
    digits: int | None
    value: int | None
    previous_value: int | None
    observation: str = ""
    billed_count: int = 0
    billed_sum: int = 0
    last_offset: int | None = None
    last_value: int | None = None
    last_meter_id: int | None = None
    unread_mask: int = 0
    equal_mask: int = 0
    unread_since_last: int = 0

    def with_history(self, summary: HistorySummary) -> ReadingFacts:
        return replace(self, **asdict(summary))


@dataclass(frozen=True)
class Verdict:
    flags: tuple[str, ...]
    status: str
    consumption: int | None
    rule: str
    average: int | None
    previous_value: int | None
    #: Reading difference (rollover-aware, after catch-up) when the readings are usable.
    actual: int | None

    @property
    def flags_text(self) -> str:
        return ",".join(self.flags)

    def hold_flags(self, config: CritiqueConfig) -> tuple[str, ...]:
        return tuple(c for c in self.flags if config.severity_of(c) == HOLD)


def critique_reading(r: ReadingFacts, config: CritiqueConfig, *, months: int = 1) -> Verdict:
    """The critique of one reading (the reference for :func:`critique_frame`)."""
    avg = average(r.billed_count, r.billed_sum)
    prev = r.previous_value if r.previous_value is not None else r.last_value
    digits = r.digits if r.digits is not None else config.default_digits
    dial = POW10[min(max(digits, 0), MAX_DIGITS)]
    read = r.value is not None
    obs = r.observation or ""
    changed = obs in OBS_METER_CHANGED or (
        r.meter_id is not None and r.last_meter_id is not None and r.meter_id != r.last_meter_id
    )
    too_many = read and r.value is not None and r.value >= dial
    has_prev = prev is not None
    lower = read and has_prev and r.value < prev  # type: ignore[operator]
    wrap = (dial - prev + r.value) if (read and has_prev) else None  # type: ignore[operator]
    rollover = (
        lower
        and not too_many
        and not changed
        and prev < dial  # type: ignore[operator]
        and wrap * 100 <= dial * config.rollover_max_percent  # type: ignore[operator]
    )
    below = lower and not rollover and not too_many and not changed
    usable = read and has_prev and not too_many and not changed and not below
    raw = (wrap if rollover else r.value - prev) if usable else None  # type: ignore[operator]
    comp = (
        r.unread_since_last
        if config.compensate_estimated and prev is not None and prev == r.last_value
        else 0
    )
    actual = max(raw - comp, 0) if raw is not None else None
    water = r.water_status
    is_vip = r.segment == VIP
    large = is_vip or (
        config.large_consumer_average is not None
        and avg is not None
        and avg >= config.large_consumer_average
    )
    k = config.factor_milli(r.category)
    md = config.min_deviation_m3

    def need(n: int) -> int:
        return (1 << (n - 1)) - 1

    hits: dict[str, bool] = {
        "not_read": not read,
        "no_observation": not read and obs == "",
        "below_previous": below,
        "rollover": bool(rollover),
        "too_many_digits": too_many,
        "no_previous_reading": read and not has_prev,
        "meter_changed": changed,
        "no_meter": read and r.meter_id is None,
        "zero_consumption": raw == 0 and water == ACTIVE and obs not in OBS_VACANT,
        "stuck_meter": raw == 0
        and water == ACTIVE
        and not rollover
        and (r.equal_mask & need(config.stuck_periods)) == need(config.stuck_periods)
        and obs not in OBS_NOBODY_HOME,
        "high_consumption": actual is not None
        and avg is not None
        and actual - avg >= md
        and actual * 1000 > avg * k,
        "low_consumption": actual is not None
        and avg is not None
        and avg - actual >= md
        and actual * k < avg * 1000,
        "very_high_consumption": actual is not None and actual > config.cap(r.category) * months,
        "consumption_on_cut": raw is not None and raw > 0 and water == CUT,
        "consumption_on_removed": raw is not None and raw > 0 and water in (REMOVED, FEASIBLE),
        "vacant_with_consumption": raw is not None and raw > 0 and obs in OBS_VACANT,
        "estimated_streak": not read
        and (r.unread_mask & need(config.estimated_streak)) == need(config.estimated_streak),
        "meter_problem": obs in OBS_METER_PROBLEM,
        "fraud_observed": obs in OBS_FRAUD,
        "leak_observed": obs in OBS_LEAK,
        "vip_review": is_vip and config.vip_always_review,
        "vip_deviation": bool(large)
        and actual is not None
        and avg is not None
        and abs(actual - avg) >= md
        and (actual * 1000 > avg * config.vip_milli or actual * config.vip_milli < avg * 1000),
        "catch_up": raw is not None and comp > 0,
        "no_history": r.billed_count == 0,
    }
    use_average = not usable or any(hits[c] for c in config.average_on if c in hits)
    consumption = avg if use_average else actual
    rule = "" if consumption is None else (RULE_AVERAGE if use_average else RULE_ACTUAL)
    hits["undetermined"] = consumption is None
    flags = tuple(c for c in FLAG_CODES if hits[c])
    held = any(config.severity_of(c) == HOLD for c in flags)
    return Verdict(
        flags=flags,
        status=FLAGGED if held else OK,
        consumption=consumption,
        rule=rule,
        average=avg,
        previous_value=prev,
        actual=actual,
    )


# --- the vectorised critique --------------------------------------------------------------

#: Input columns of :func:`critique_frame` (other columns pass through untouched).
FACT_COLUMNS: dict[str, Any] = {
    "account_id": pl.Int64,
    "category": pl.String,
    "segment": pl.String,
    "water_status": pl.String,
    "meter_id": pl.Int64,
    "digits": pl.Int64,
    "value": pl.Int64,
    "previous_value": pl.Int64,
    "observation": pl.String,
    "billed_count": pl.Int64,
    "billed_sum": pl.Int64,
    "last_offset": pl.Int64,
    "last_value": pl.Int64,
    "last_meter_id": pl.Int64,
    "unread_mask": pl.Int64,
    "equal_mask": pl.Int64,
    "unread_since_last": pl.Int64,
}
#: Output columns added by :func:`critique_frame`.
VERDICT_COLUMNS = (
    "flags",
    "status",
    "consumption",
    "consumption_rule",
    "average",
    "prev",
    "actual",
)


def facts_frame(facts: Iterable[ReadingFacts]) -> pl.DataFrame:
    rows = [asdict(f) for f in facts]
    return pl.DataFrame(rows, schema=FACT_COLUMNS, orient="row")


def critique_frame(frame: pl.DataFrame, config: CritiqueConfig, *, months: int = 1) -> pl.DataFrame:
    """:func:`critique_reading` over every row of ``frame`` (columns :data:`FACT_COLUMNS`).

    Adds :data:`VERDICT_COLUMNS`: ``flags`` (codes joined by commas, display order),
    ``status``, ``consumption``, ``consumption_rule``, ``average``, ``prev`` (the previous
    reading used) and ``actual``.
    """
    c = pl.col
    f = frame.cast({k: v for k, v in FACT_COLUMNS.items() if k in frame.columns})  # type: ignore[arg-type]
    f = f.with_columns(c("observation").fill_null(""), c("billed_count").fill_null(0))
    f = f.with_columns(
        pl.when(c("billed_count") > 0)
        .then((2 * c("billed_sum") + c("billed_count")) // (2 * c("billed_count")))
        .otherwise(None)
        .alias("_avg"),
        pl.coalesce(c("previous_value"), c("last_value")).alias("_prev"),
        pl.coalesce(c("digits"), pl.lit(config.default_digits))
        .clip(0, MAX_DIGITS)
        .replace_strict(POW10, return_dtype=pl.Int64)
        .alias("_dial"),
    )

    def b(expr: pl.Expr) -> pl.Expr:
        return expr.fill_null(False)

    obs = c("observation")
    read = c("value").is_not_null()
    has_prev = c("_prev").is_not_null()
    changed = b(obs.is_in(list(OBS_METER_CHANGED))) | b(
        c("meter_id").is_not_null()
        & c("last_meter_id").is_not_null()
        & (c("meter_id") != c("last_meter_id"))
    )
    f = f.with_columns(
        read.alias("_read"),
        has_prev.alias("_has_prev"),
        changed.alias("_changed"),
        b(c("value") >= c("_dial")).alias("_too_many"),
        b(c("value") < c("_prev")).alias("_lower"),
        (c("_dial") - c("_prev") + c("value")).alias("_wrap"),
    )
    f = f.with_columns(
        (
            c("_lower")
            & ~c("_too_many")
            & ~c("_changed")
            & b(c("_prev") < c("_dial"))
            & b(c("_wrap") * 100 <= c("_dial") * config.rollover_max_percent)
        ).alias("_rollover")
    )
    f = f.with_columns(
        (c("_lower") & ~c("_rollover") & ~c("_too_many") & ~c("_changed")).alias("_below")
    )
    f = f.with_columns(
        (c("_read") & c("_has_prev") & ~c("_too_many") & ~c("_changed") & ~c("_below")).alias(
            "_usable"
        )
    )
    comp = (
        pl.when(b(c("_prev") == c("last_value")))
        .then(c("unread_since_last").fill_null(0))
        .otherwise(0)
        if config.compensate_estimated
        else pl.lit(0, dtype=pl.Int64)
    )
    f = f.with_columns(
        pl.when(c("_usable"))
        .then(pl.when(c("_rollover")).then(c("_wrap")).otherwise(c("value") - c("_prev")))
        .otherwise(None)
        .alias("_raw"),
        comp.alias("_comp"),
    )
    f = f.with_columns(
        pl.when(c("_raw").is_not_null())
        .then(pl.max_horizontal(c("_raw") - c("_comp"), pl.lit(0)))
        .otherwise(None)
        .alias("actual")
    )
    factors = {cat: config.factor_milli(cat) for cat in config.factor_by_category}
    caps = {cat: config.cap(cat) * months for cat in config.cap_by_category}
    k = c("category").replace_strict(
        factors, default=config.factor_milli(""), return_dtype=pl.Int64
    )
    cap = c("category").replace_strict(
        caps, default=config.default_cap * months, return_dtype=pl.Int64
    )
    actual = c("actual")
    avg = c("_avg")
    raw = c("_raw")
    water = c("water_status")
    md = config.min_deviation_m3
    is_vip = b(c("segment") == VIP)
    large = is_vip
    if config.large_consumer_average is not None:
        large = large | b(avg >= config.large_consumer_average)
    stuck_need = (1 << (config.stuck_periods - 1)) - 1
    streak_need = (1 << (config.estimated_streak - 1)) - 1
    vm = config.vip_milli
    hits: dict[str, pl.Expr] = {
        "not_read": ~c("_read"),
        "no_observation": ~c("_read") & (obs == ""),
        "below_previous": c("_below"),
        "rollover": c("_rollover"),
        "too_many_digits": c("_too_many"),
        "no_previous_reading": c("_read") & ~c("_has_prev"),
        "meter_changed": c("_changed"),
        "no_meter": c("_read") & c("meter_id").is_null(),
        "zero_consumption": b(raw == 0) & b(water == ACTIVE) & ~b(obs.is_in(list(OBS_VACANT))),
        "stuck_meter": b(raw == 0)
        & b(water == ACTIVE)
        & ~c("_rollover")
        & b((c("equal_mask").fill_null(0) & stuck_need) == stuck_need)
        & ~b(obs.is_in(list(OBS_NOBODY_HOME))),
        "high_consumption": b((actual - avg >= md) & (actual * 1000 > avg * k)),
        "low_consumption": b((avg - actual >= md) & (actual * k < avg * 1000)),
        "very_high_consumption": b(actual > cap),
        "consumption_on_cut": b(raw > 0) & b(water == CUT),
        "consumption_on_removed": b(raw > 0) & b(water.is_in([REMOVED, FEASIBLE])),
        "vacant_with_consumption": b(raw > 0) & b(obs.is_in(list(OBS_VACANT))),
        "estimated_streak": ~c("_read")
        & b((c("unread_mask").fill_null(0) & streak_need) == streak_need),
        "meter_problem": b(obs.is_in(list(OBS_METER_PROBLEM))),
        "fraud_observed": b(obs.is_in(list(OBS_FRAUD))),
        "leak_observed": b(obs.is_in(list(OBS_LEAK))),
        "vip_review": is_vip if config.vip_always_review else pl.lit(False),
        "vip_deviation": large
        & b(
            ((actual - avg).abs() >= md) & ((actual * 1000 > avg * vm) | (actual * vm < avg * 1000))
        ),
        "catch_up": raw.is_not_null() & (c("_comp") > 0),
        "no_history": c("billed_count") == 0,
    }
    f = f.with_columns([e.alias(f"_h_{code}") for code, e in hits.items()])
    average_on = [f"_h_{code}" for code in FLAG_CODES if code in config.average_on and code in hits]
    use_avg = ~c("_usable")
    for name in average_on:
        use_avg = use_avg | c(name)
    f = f.with_columns(
        pl.when(use_avg).then(avg).otherwise(actual).alias("consumption"),
        use_avg.alias("_use_avg"),
    )
    f = f.with_columns(c("consumption").is_null().alias("_h_undetermined"))
    flag_cols = [f"_h_{code}" for code in FLAG_CODES]
    flags = pl.concat_str(
        [
            pl.when(c(name)).then(pl.lit(code))
            for code, name in zip(FLAG_CODES, flag_cols, strict=True)
        ],
        separator=",",
        ignore_nulls=True,
    ).fill_null("")
    holds = [f"_h_{code}" for code in config.hold_codes()]
    held = pl.any_horizontal([c(h) for h in holds]) if holds else pl.lit(False)
    f = f.with_columns(
        flags.alias("flags"),
        pl.when(held).then(pl.lit(FLAGGED)).otherwise(pl.lit(OK)).alias("status"),
        pl.when(c("consumption").is_null())
        .then(pl.lit(""))
        .when(c("_use_avg"))
        .then(pl.lit(RULE_AVERAGE))
        .otherwise(pl.lit(RULE_ACTUAL))
        .alias("consumption_rule"),
        avg.alias("average"),
        c("_prev").alias("prev"),
    )
    return f.drop([n for n in f.columns if n.startswith("_")])


def split_flags(text: str | None) -> list[str]:
    return [code for code in (text or "").split(",") if code]


def flag_label(code: str) -> str:
    flag = FLAGS.get(code)
    return str(flag.label) if flag else code


# --- corrections --------------------------------------------------------------------------


def corrected_consumption(
    previous: int | None, value: int, digits: int | None, *, default_digits: int = 5
) -> int | None:
    """Volume of a reading a person corrected: the difference, or a rollover past zero
    when the corrected value is below the previous one (a person vouches for it).
    None when the value does not fit the dial or no previous reading is known."""
    dial = POW10[min(max(digits if digits is not None else default_digits, 0), MAX_DIGITS)]
    if previous is None or value < 0 or value >= dial:
        return None
    if value >= previous:
        return value - previous
    if previous >= dial:
        return None
    return dial - previous + value


# --- control sample -----------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def period_seed(period: str) -> int:
    """``"2026-11"`` → 202611: the draw of a period is the same every time."""
    return int(period.replace("-", ""))


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def in_control_sample(account_id: int, period: str, config: CritiqueConfig) -> bool:
    """Whether the account's reading of ``period`` is drawn for the control re-reading."""
    x = ((period_seed(period) << 32) ^ account_id) & _MASK64
    return _splitmix64(x) % 10_000 < config.control_basis_points


def control_sample_mask(account_ids: pl.Series, period: str, config: CritiqueConfig) -> pl.Series:
    """:func:`in_control_sample` for a whole column (numpy uint64 arithmetic wraps)."""
    ids = account_ids.to_numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (np.uint64(period_seed(period)) << np.uint64(32)) ^ ids
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return pl.Series(account_ids.name, (z % np.uint64(10_000)) < config.control_basis_points)


__all__ = [
    "BILLABLE",
    "DECIDED",
    "FLAGS",
    "FLAG_CODES",
    "HOLD",
    "INFO",
    "ConfigError",
    "CritiqueConfig",
    "Flag",
    "HistoryRow",
    "HistorySummary",
    "ReadingFacts",
    "Verdict",
    "average",
    "control_sample_mask",
    "corrected_consumption",
    "critique_frame",
    "critique_reading",
    "facts_frame",
    "in_control_sample",
    "split_flags",
    "summarize_history",
]
