"""Indicators (KPIs) of the cartera: named inputs, versioned formulas, values and targets.

An indicator is a :class:`~caudal.portfolio.models.KpiFormula`: arithmetic over *named
inputs* (``receivables / avg_billing_12m``), versioned and dated. For a snapshot date D:

- :func:`gather_inputs` computes every input (the registry below, documented in
  docs/indicators.md): stocks from the snapshot's ``cube.parquet`` (DuckDB), flows from its
  ``months.parquet`` (written by :mod:`caudal.portfolio.flows`), the overdue at the start
  of the month from the previous month-end snapshot, and connections and meters from the
  cadastre *as of D* (connection status history, meter installation and removal dates).
  An input that cannot be computed is *missing*, with the reason; it never becomes 0.
- :func:`compute_kpis` evaluates, for every indicator code, the formula version in force
  on D (the highest version whose ``valid_from`` is on or before D) and stores a
  :class:`~caudal.portfolio.models.KpiValue` with the inputs it used (ints; Decimals as
  strings; missing inputs as null and their reasons under ``"_missing"``). Taking it again
  replaces the values of the same (snapshot, formula): idempotent.
- :func:`kpi_report` reads the values back with the target of D's month
  (:class:`~caudal.portfolio.models.KpiTarget`, ``YYYY-MM``), the traffic light and the
  value of the previous month's latest snapshot.

Configuration writes live here too, each atomic and audited: a new formula version
(:func:`do_new_formula_version`, the expression checked with
:func:`rules.formula_names` against :func:`known_inputs`), targets
(:func:`do_set_target`, :func:`do_delete_target`) and new versions of the stage and aging
policies (:func:`do_new_stage_policy`, :func:`do_new_aging_policy`). Bad input raises
:class:`KpiFormError` with one Spanish message per field.

Formulas whose inputs name a stage the snapshot's policy does not have
(``stage_value_coactiva`` in a Peruvian utility) do not apply to that snapshot: they are
neither computed nor listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.cadastre.models import (
    Connection,
    ConnectionStatus,
    ConnectionStatusChange,
    Country,
    Meter,
    MeterStatus,
    Segment,
    Service,
    UtilitySettings,
)
from caudal.kernel.errors import DomainError
from caudal.kernel.money import MoneyError, to_major, to_minor
from caudal.metering.models import Reading

from . import rules, schema
from .models import (
    AgingPolicy,
    KpiDirection,
    KpiFormula,
    KpiTarget,
    KpiUnit,
    KpiValue,
    Snapshot,
    SnapshotStatus,
    StagePolicy,
    StageRule,
)

#: KpiValue.value has 20 digits, 6 of them decimals.
VALUE_PLACES = Decimal("0.000001")
VALUE_LIMIT = Decimal(10) ** 14
#: A meter counts as read when it has a reading taken in the last this many days up to D
#: (two months: bimonthly utilities such as EAAB read every other month).
READ_WINDOW_DAYS = 62
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
STAGE_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TRUE = {"1", "on", "true", "yes", "si", "sí"}


class KpiError(DomainError):
    """An indicator computation or report that cannot be done (message in Spanish)."""


class KpiFormError(DomainError):
    """Invalid configuration data: ``errors`` maps each field to a reason (Spanish)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# ---------------------------------------------------------------------- inputs registry

#: Inputs with a fixed name: name → (source, description). Sources: ``cube`` (the
#: snapshot's cube.parquet), ``months`` (its months.parquet), ``previous`` (the previous
#: month-end snapshot), ``cadastre`` (connections and meters as of D).
STATIC_INPUTS: dict[str, tuple[str, Any]] = {
    "receivables": ("cube", gettext_lazy("Cuentas por cobrar: débitos abiertos")),
    "credits": ("cube", gettext_lazy("Créditos abiertos (saldos a favor)")),
    "balance": ("cube", gettext_lazy("Saldo neto (débitos − créditos)")),
    "overdue": ("cube", gettext_lazy("Cartera vencida (1 día de mora o más)")),
    "current_value": ("cube", gettext_lazy("Cartera no vencida (débitos − vencida)")),
    "blocked": ("cube", gettext_lazy("Partidas bloqueadas (valor)")),
    "collectible_overdue": ("cube", gettext_lazy("Vencida cobrable (sin bloqueadas)")),
    "accounts": ("cube", gettext_lazy("Cuentas con partidas abiertas")),
    "overdue_accounts": ("cube", gettext_lazy("Cuentas en el testigo de cartera vencida")),
    "light_value": ("cube", gettext_lazy("Deuda de cuentas en cartera liviana")),
    "heavy_value": ("cube", gettext_lazy("Deuda de cuentas en cartera pesada")),
    "ddr_value": ("cube", gettext_lazy("Deuda de cuentas DDR (más de 360 días de mora)")),
    "ddr_accounts": ("cube", gettext_lazy("Cuentas DDR")),
    "agreement_value": ("cube", gettext_lazy("Deuda de cuentas con convenio de pago")),
    "billed_month": ("months", gettext_lazy("Facturado en el mes de D, neto de anulaciones")),
    "billed_gross_month": ("months", gettext_lazy("Facturado en el mes de D (bruto)")),
    "collected_month": ("months", gettext_lazy("Recaudado (aplicado) en el mes de D")),
    "collected_current": ("months", gettext_lazy("Recaudado en el mes sobre partidas al día")),
    "collected_arrears": ("months", gettext_lazy("Recaudado en el mes sobre partidas vencidas")),
    "billed_12m": ("months", gettext_lazy("Facturado neto en los últimos 12 meses completos")),
    "avg_billing_12m": ("months", gettext_lazy("Facturación mensual promedio (12 meses)")),
    "overdue_start": ("previous", gettext_lazy("Cartera vencida al cierre del mes anterior")),
    "water_connections": (
        "cadastre",
        gettext_lazy("Conexiones de agua (activas, cortadas, clandestinas) a la fecha"),
    ),
    "water_active": ("cadastre", gettext_lazy("Conexiones de agua activas a la fecha")),
    "water_cut": ("cadastre", gettext_lazy("Conexiones de agua cortadas a la fecha")),
    "water_clandestine": ("cadastre", gettext_lazy("Conexiones de agua clandestinas")),
    "water_removed": ("cadastre", gettext_lazy("Conexiones de agua levantadas")),
    "water_feasible": ("cadastre", gettext_lazy("Conexiones de agua factibles")),
    "metered_connections": (
        "cadastre",
        gettext_lazy("Conexiones de agua con medidor instalado y operativo a la fecha"),
    ),
    "read_metered_connections": (
        "cadastre",
        gettext_lazy("Conexiones con medidor operativo y leído en los 62 días hasta la fecha"),
    ),
}
STAGE_VALUE = "stage_value_"
STAGE_ACCOUNTS = "stage_accounts_"

# Connection statuses that count as a water connection (the denominator of the
# connection indicators): built and registered. Feasible (not built) and removed
# (levantada) connections are counted apart.
COUNTED_STATUSES = (ConnectionStatus.ACTIVE, ConnectionStatus.CUT, ConnectionStatus.CLANDESTINE)


@dataclass
class Inputs:
    """The inputs of a snapshot date: values, missing ones (name → reason), and the stage
    codes of the snapshot's policy (stage inputs of other codes do not apply)."""

    on: date
    values: dict[str, int | Decimal] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stage_codes(self) -> set[str]:
        return {s["stage"] for s in self.stages}

    def applies(self, names: set[str]) -> bool:
        """False when a name is a stage input of a stage this snapshot's policy lacks
        (without the policy in the manifest: of a stage the cube does not have)."""
        codes = self.stage_codes
        for name in names:
            for prefix in (STAGE_VALUE, STAGE_ACCOUNTS):
                if not name.startswith(prefix):
                    continue
                if name[len(prefix) :] not in codes if codes else name not in self.values:
                    return False
        return True


def snapshot_folder(on: date) -> Path:
    """``CAUDAL_SNAPSHOT_DIR/YYYY-MM-DD`` (:func:`caudal.portfolio.snapshot.folder_for`)."""
    from .snapshot import folder_for

    return folder_for(on)


def _manifest(folder: Path) -> dict[str, Any]:
    import json

    path = folder / schema.MANIFEST
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _stage_codes_in_policies() -> list[str]:
    return sorted(set(StageRule.objects.values_list("stage", flat=True)))


def _bucket_columns_in_policies() -> list[str]:
    columns: set[str] = set()
    for bounds in AgingPolicy.objects.values_list("bounds", flat=True):
        try:
            columns.update(schema.bucket_columns(rules.bucket_codes(bounds)))
        except rules.RuleError:
            continue
    return sorted(columns)


def known_inputs(extra_stages: Sequence[str] = ()) -> dict[str, str]:
    """Every input name a formula may use → its description: the fixed ones, the stage
    inputs of every stage code in the stage policies, the age-bucket amounts of every
    aging policy."""
    out = {name: str(label) for name, (_source, label) in STATIC_INPUTS.items()}
    for code in sorted({*_stage_codes_in_policies(), *extra_stages}):
        out[STAGE_VALUE + code] = _("Débitos abiertos de cuentas en la etapa «%(s)s»") % {"s": code}
        out[STAGE_ACCOUNTS + code] = _("Cuentas en la etapa «%(s)s»") % {"s": code}
    for column in _bucket_columns_in_policies():
        out[column] = _("Débitos abiertos del tramo de edad %(b)s días") % {
            "b": column.removeprefix("aged_").replace("over_", ">").replace("_", "-")
        }
    return out


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _cube_inputs(folder: Path, manifest: dict[str, Any], out: Inputs) -> None:
    path = folder / schema.CUBE
    if not path.exists():
        reason = _("el corte no tiene %(f)s") % {"f": schema.CUBE}
        for name, (source, _label) in STATIC_INPUTS.items():
            if source == "cube":
                out.missing[name] = reason
        return
    con = duckdb.connect()
    try:
        row = con.execute(
            """
            SELECT sum(debit_open), sum(credit_open), sum(balance), sum(overdue),
                   sum(blocked_amount), sum(collectible_overdue), sum(accounts),
                   sum(accounts) FILTER (WHERE testigo = 'vencida'),
                   sum(debit_open) FILTER (WHERE age_class = 'light'),
                   sum(debit_open) FILTER (WHERE age_class = 'heavy'),
                   sum(debit_open) FILTER (WHERE age_class = 'ddr'),
                   sum(accounts) FILTER (WHERE age_class = 'ddr'),
                   sum(debit_open) FILTER (WHERE in_agreement)
            FROM read_parquet(?)
            """,
            [str(path)],
        ).fetchone()
        assert row is not None
        names = (
            "receivables",
            "credits",
            "balance",
            "overdue",
            "blocked",
            "collectible_overdue",
            "accounts",
            "overdue_accounts",
            "light_value",
            "heavy_value",
            "ddr_value",
            "ddr_accounts",
            "agreement_value",
        )
        values = {n: _int(v) for n, v in zip(names, row, strict=True)}
        values["current_value"] = values["receivables"] - values["overdue"]
        out.values.update(values)
        by_stage = {
            stage: (_int(value), _int(accounts))
            for stage, value, accounts in con.execute(
                "SELECT stage, sum(debit_open), sum(accounts) FROM read_parquet(?) GROUP BY stage",
                [str(path)],
            ).fetchall()
        }
        codes = [s["stage"] for s in out.stages] or sorted(by_stage)
        for code in {*codes, *by_stage}:
            value, accounts = by_stage.get(code, (0, 0))
            out.values[STAGE_VALUE + code] = value
            out.values[STAGE_ACCOUNTS + code] = accounts
        columns = [str(c) for c in manifest.get("bucket_columns", [])]
        if columns:
            sums = con.execute(
                "SELECT " + ", ".join(f'sum("{c}")' for c in columns) + " FROM read_parquet(?)",
                [str(path)],
            ).fetchone()
            assert sums is not None
            out.values.update({c: _int(v) for c, v in zip(columns, sums, strict=True)})
    finally:
        con.close()


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def _months_inputs(folder: Path, out: Inputs) -> None:
    names = [n for n, (source, _label) in STATIC_INPUTS.items() if source == "months"]
    path = folder / schema.MONTHS
    if not path.exists():
        reason = _("el corte no tiene %(f)s (flujos del periodo)") % {"f": schema.MONTHS}
        out.missing.update(dict.fromkeys(names, reason))
        return
    frame = pl.read_parquet(path)
    needed = {"month", "billed", "collected", "collected_current", "collected_arrears"}
    if not needed <= set(frame.columns):
        reason = _("%(f)s no tiene las columnas %(c)s") % {
            "f": schema.MONTHS,
            "c": ", ".join(sorted(needed - set(frame.columns))),
        }
        out.missing.update(dict.fromkeys(names, reason))
        return
    if "billed_reversed" not in frame.columns:
        frame = frame.with_columns(pl.lit(0, dtype=pl.Int64).alias("billed_reversed"))
    rows = {
        r["month"]: r
        for r in frame.select(
            "month",
            "billed",
            "billed_reversed",
            "collected",
            "collected_current",
            "collected_arrears",
        ).iter_rows(named=True)
    }
    this = _month_start(out.on)
    row = rows.get(this)
    if row is None:
        reason = _("%(f)s no tiene el mes %(m)s") % {"f": schema.MONTHS, "m": this.isoformat()[:7]}
        out.missing.update(
            dict.fromkeys([n for n in names if n not in ("billed_12m", "avg_billing_12m")], reason)
        )
    else:
        out.values["billed_gross_month"] = _int(row["billed"])
        out.values["billed_month"] = _int(row["billed"]) - _int(row["billed_reversed"])
        out.values["collected_month"] = _int(row["collected"])
        out.values["collected_current"] = _int(row["collected_current"])
        out.values["collected_arrears"] = _int(row["collected_arrears"])
    # The last 12 complete months: up to D's month when D is its last day, else up to the
    # month before.
    last = this if _is_month_end(out.on) else _add_months(this, -1)
    window = [_add_months(last, -i) for i in range(12)]
    absent = [m for m in window if m not in rows]
    if absent:
        reason = _("%(f)s no tiene los meses %(m)s") % {
            "f": schema.MONTHS,
            "m": ", ".join(m.isoformat()[:7] for m in sorted(absent)),
        }
        out.missing["billed_12m"] = reason
        out.missing["avg_billing_12m"] = reason
        return
    total = sum(_int(rows[m]["billed"]) - _int(rows[m]["billed_reversed"]) for m in window)
    out.values["billed_12m"] = total
    # Six decimals of a minor unit: exact enough for any ratio over it, and readable.
    out.values["avg_billing_12m"] = (Decimal(total) / 12).quantize(
        VALUE_PLACES, rounding=ROUND_HALF_UP
    )


def previous_month_end(on: date) -> date:
    return _month_start(on) - timedelta(days=1)


def _previous_inputs(out: Inputs) -> None:
    before = previous_month_end(out.on)
    snap = Snapshot.objects.filter(date=before, status=SnapshotStatus.DONE).first()
    if snap is None:
        out.missing["overdue_start"] = _(
            "no hay corte terminado del %(d)s (cierre del mes anterior)"
        ) % {"d": before.isoformat()}
        return
    path = snapshot_folder(before) / schema.CUBE
    if path.exists():
        con = duckdb.connect()
        try:
            row = con.execute("SELECT sum(overdue) FROM read_parquet(?)", [str(path)]).fetchone()
        finally:
            con.close()
        out.values["overdue_start"] = _int(row[0] if row else None)
    else:
        out.values["overdue_start"] = int(snap.overdue)


def connection_counts(on: date) -> dict[str, int]:
    """Water connections by status at the end of ``on``, and those with a working meter
    (and a recent reading) among the counted ones.

    A connection whose current status began on or before ``on`` had it then. One whose
    status changed after ``on`` takes it from its history: the last change effective on
    or before ``on``, else the status before its first change; without either it did not
    exist yet. A meter works on ``on`` when installed on or before it, and either still in
    place with status *installed* or removed after ``on``.
    """
    counts = dict.fromkeys(
        [
            "water_connections",
            "water_active",
            "water_cut",
            "water_clandestine",
            "water_removed",
            "water_feasible",
            "metered_connections",
            "read_metered_connections",
        ],
        0,
    )
    meter_ok = Meter.objects.filter(account_id=OuterRef("account_id"), installed_on__lte=on).filter(
        Q(removed_on__isnull=True, status=MeterStatus.INSTALLED) | Q(removed_on__gt=on)
    )
    read = Reading.objects.filter(
        account_id=OuterRef("account_id"),
        meter__isnull=False,
        value__isnull=False,
        read_at__date__lte=on,
        read_at__date__gt=on - timedelta(days=READ_WINDOW_DAYS),
    )
    water = Connection.objects.filter(service=Service.WATER)

    keys: dict[str, str] = {
        ConnectionStatus.ACTIVE: "water_active",
        ConnectionStatus.CUT: "water_cut",
        ConnectionStatus.CLANDESTINE: "water_clandestine",
        ConnectionStatus.REMOVED: "water_removed",
        ConnectionStatus.FEASIBLE: "water_feasible",
    }

    def add(status: str, n: int, metered: int, read_metered: int) -> None:
        key = keys.get(status)
        if key is None:
            return
        counts[key] += n
        if status in COUNTED_STATUSES:
            counts["water_connections"] += n
            counts["metered_connections"] += metered
            counts["read_metered_connections"] += read_metered

    steady = (
        water.filter(status_since__lte=on)
        .annotate(has_meter=Exists(meter_ok), has_read=Exists(read))
        .values_list("status", "has_meter", "has_read")
    )
    for status, has_meter, has_read, n in steady.annotate(n=Count("id")).order_by():
        add(status, n, n if has_meter else 0, n if has_meter and has_read else 0)

    # Connections whose status changed after D: their history says what it was on D.
    changed = water.filter(status_since__gt=on).annotate(
        has_meter=Exists(meter_ok), has_read=Exists(read)
    )
    changed_ids = changed.values("id")
    status_on: dict[int, str] = {}
    first_after: dict[int, str] = {}
    for conn_id, status, previous, effective in (
        ConnectionStatusChange.objects.filter(connection_id__in=changed_ids)
        .order_by("connection_id", "effective_on", "id")
        .values_list("connection_id", "status", "previous_status", "effective_on")
    ):
        if effective <= on:
            status_on[conn_id] = status
        elif conn_id not in first_after:
            first_after[conn_id] = previous
    for conn_id, has_meter, has_read in changed.values_list("id", "has_meter", "has_read"):
        status = status_on.get(conn_id) or first_after.get(conn_id, "")
        if status:
            add(status, 1, int(bool(has_meter)), int(bool(has_meter and has_read)))
    return counts


def gather_inputs(on: date) -> Inputs:
    """Every input of the snapshot of ``on`` (its folder must exist)."""
    folder = snapshot_folder(on)
    manifest = _manifest(folder)
    out = Inputs(on=on, stages=list(manifest.get("stages", [])))
    _cube_inputs(folder, manifest, out)
    _months_inputs(folder, out)
    _previous_inputs(out)
    out.values.update(connection_counts(on))
    return out


# --------------------------------------------------------------------------- formulas


def formulas_in_force(on: date) -> list[KpiFormula]:
    """For every indicator code, the highest version valid on ``on``, in display order."""
    chosen: dict[str, KpiFormula] = {}
    for formula in KpiFormula.objects.filter(valid_from__lte=on).order_by("code", "-version"):
        chosen.setdefault(formula.code, formula)
    return sorted(chosen.values(), key=lambda f: _display_key(f.code))


DISPLAY_ORDER = (
    "morosidad_meses",
    "eficiencia_recaudo",
    "eficiencia_corriente",
    "eficiencia_morosa",
    "cartera_morosa_pct",
    "ddr_pct",
)
STAGE_DISPLAY_ORDER = (
    "current",
    "prejudicial",
    "prejuridica",
    "persuasiva",
    "judicial",
    "coactiva",
)
TAIL_ORDER = ("conexiones_activas_pct", "micromedicion_pct")


def _display_key(code: str) -> tuple[int, int, str]:
    if code in DISPLAY_ORDER:
        return (0, DISPLAY_ORDER.index(code), code)
    if code.startswith("participacion_"):
        stage = code.removeprefix("participacion_")
        index = STAGE_DISPLAY_ORDER.index(stage) if stage in STAGE_DISPLAY_ORDER else 99
        return (1, index, code)
    if code in TAIL_ORDER:
        return (2, TAIL_ORDER.index(code), code)
    return (3, 0, code)


def _plain(value: int | Decimal | None) -> int | str | None:
    if value is None or isinstance(value, int):
        return value
    return str(value)


def evaluate_formula(
    formula: KpiFormula, inputs: Inputs
) -> tuple[Decimal | None, dict[str, Any]] | None:
    """(value, stored inputs) of ``formula`` on ``inputs``; None when it does not apply."""
    try:
        names = rules.formula_names(formula.expression)
    except rules.RuleError as exc:
        return None, {"_error": str(exc)}
    if not inputs.applies(names):
        return None
    stored: dict[str, Any] = {n: _plain(inputs.values.get(n)) for n in sorted(names)}
    missing = {
        n: inputs.missing.get(n, _("entrada desconocida"))
        for n in sorted(names)
        if n not in inputs.values
    }
    if missing:
        stored["_missing"] = missing
        return None, stored
    value = rules.evaluate(formula.expression, {n: inputs.values[n] for n in names})
    if value is None:
        stored["_error"] = _("división por cero")
        return None, stored
    try:
        value = value.quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        value = None
    if value is None or abs(value) >= VALUE_LIMIT:
        stored["_error"] = _("valor fuera de rango")
        return None, stored
    return value, stored


def done_snapshot(on: date) -> Snapshot:
    snapshot = Snapshot.objects.filter(date=on, status=SnapshotStatus.DONE).first()
    if snapshot is None:
        raise KpiError(
            _("No hay un corte de cartera terminado del %(d)s: tome el corte primero.")
            % {"d": on.isoformat()}
        )
    return snapshot


def compute_kpis(on: date, *, actor: ActorLike) -> list[KpiValue]:
    """Evaluate the formulas in force on ``on`` over the inputs of its DONE snapshot and
    store the values (replacing those of the same snapshot and formula). Audited."""
    snapshot = done_snapshot(on)
    if not snapshot_folder(on).exists():
        raise KpiError(
            _("La carpeta del corte del %(d)s no existe: tome el corte otra vez.")
            % {"d": on.isoformat()}
        )
    inputs = gather_inputs(on)
    results: list[KpiValue] = []
    with transaction.atomic():
        for formula in formulas_in_force(on):
            evaluated = evaluate_formula(formula, inputs)
            if evaluated is None:
                continue
            value, stored = evaluated
            kv, _created = KpiValue.objects.update_or_create(
                snapshot=snapshot, formula=formula, defaults={"value": value, "inputs": stored}
            )
            results.append(kv)
        record(
            actor=actor,
            action="portfolio.compute_kpis",
            object_type="portfolio.snapshot",
            object_id=snapshot.pk,
            after={
                "date": on.isoformat(),
                "values": {
                    f"{kv.formula.code} v{kv.formula.version}": _plain(kv.value) for kv in results
                },
            },
        )
    return results


# ----------------------------------------------------------------------------- report


@dataclass(frozen=True)
class KpiRow:
    """One indicator of :func:`kpi_report`."""

    code: str
    version: int
    name: str
    description: str
    expression: str
    unit: str
    direction: str
    confirmed: bool
    source: str
    valid_from: date
    computed: bool  # a value is stored for this snapshot and this version
    value: Decimal | None
    inputs: dict[str, Any]  # name → int / Decimal-as-string / None
    missing: dict[str, str]  # name → why it is missing
    error: str  # division by zero, out of range, bad formula
    target: Decimal | None
    tolerance: Decimal | None
    light: str  # green / amber / red / none
    previous: Decimal | None
    previous_date: date | None

    @property
    def unit_label(self) -> str:
        return str(KpiUnit(self.unit).label) if self.unit in KpiUnit.values else self.unit

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (Decimals as strings, dates ISO)."""

        def dec(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "value": dec(self.value),
            "unit": self.unit,
            "direction": self.direction,
            "target": dec(self.target),
            "tolerance": dec(self.tolerance),
            "light": self.light,
            "confirmed": self.confirmed,
            "expression": self.expression,
            "computed": self.computed,
            "inputs": self.inputs,
            "missing": self.missing,
            "error": self.error,
            "previous": dec(self.previous),
            "previous_date": self.previous_date.isoformat() if self.previous_date else None,
        }


def period_of(on: date) -> str:
    return on.isoformat()[:7]


def previous_month_snapshot(on: date) -> Snapshot | None:
    """The latest DONE snapshot dated in the month before ``on``'s."""
    end = previous_month_end(on)
    return (
        Snapshot.objects.filter(
            date__gte=_month_start(end), date__lte=end, status=SnapshotStatus.DONE
        )
        .order_by("-date")
        .first()
    )


def kpi_report(on: date) -> list[KpiRow]:
    """The indicators of the DONE snapshot of ``on``: for every formula in force on ``on``
    that applies to the snapshot, its stored value (``computed`` False when
    :func:`compute_kpis` has not run for that version), the target of ``on``'s month and
    its traffic light, and the previous month's value (any version of the code, latest)."""
    snapshot = done_snapshot(on)
    manifest = _manifest(snapshot_folder(on))
    probe = Inputs(on=on, stages=list(manifest.get("stages", [])))
    stored = {
        kv.formula_id: kv for kv in KpiValue.objects.filter(snapshot=snapshot).select_related()
    }
    targets = {t.code: t for t in KpiTarget.objects.filter(period=period_of(on))}
    prev_snapshot = previous_month_snapshot(on)
    previous: dict[str, Decimal | None] = {}
    if prev_snapshot is not None:
        for kv in (
            KpiValue.objects.filter(snapshot=prev_snapshot)
            .select_related("formula")
            .order_by("formula__code", "formula__version")
        ):
            previous[kv.formula.code] = kv.value  # the latest version wins
    rows: list[KpiRow] = []
    for formula in formulas_in_force(on):
        try:
            names = rules.formula_names(formula.expression)
        except rules.RuleError:
            names = set()
        if probe.stages and not probe.applies(names):
            continue
        current = stored.get(formula.pk)
        raw = dict(current.inputs) if current else {}
        missing = raw.pop("_missing", {}) or {}
        error = str(raw.pop("_error", "") or "")
        value = current.value if current else None
        target = targets.get(formula.code)
        light = (
            rules.traffic_light(
                value,
                target.target,
                target.tolerance,
                higher_is_better=formula.direction == KpiDirection.HIGHER,
            )
            if target is not None
            else "none"
        )
        rows.append(
            KpiRow(
                code=formula.code,
                version=formula.version,
                name=formula.name,
                description=formula.description,
                expression=formula.expression,
                unit=formula.unit,
                direction=formula.direction,
                confirmed=formula.confirmed,
                source=formula.source,
                valid_from=formula.valid_from,
                computed=current is not None,
                value=value,
                inputs=raw,
                missing=dict(missing),
                error=error,
                target=target.target if target else None,
                tolerance=target.tolerance if target else None,
                light=light,
                previous=previous.get(formula.code),
                previous_date=prev_snapshot.date if prev_snapshot else None,
            )
        )
    return rows


# ------------------------------------------------------------------ configuration writes


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise InvalidOperation
    number = value if isinstance(value, Decimal) else Decimal(_text(value).replace(",", "."))
    if not number.is_finite():
        raise InvalidOperation
    return number


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(_text(value))


def _whole(value: Any, *, blank: int | None = None) -> int | None:
    text = _text(value)
    if text == "":
        return blank
    number = int(text)
    if number < 0:
        raise ValueError("negative")
    return number


def _fits(value: Decimal) -> bool:
    """KpiTarget columns hold 14 digits, 4 of them decimals."""
    return abs(value) < Decimal(10) ** 10 and value == value.quantize(Decimal("0.0001"))


def formula_form_values(formula: KpiFormula | None) -> dict[str, Any]:
    if formula is None:
        return {
            "name": "",
            "description": "",
            "expression": "",
            "unit": KpiUnit.PERCENT,
            "direction": KpiDirection.HIGHER,
            "confirmed": False,
            "source": "",
            "valid_from": "",
        }
    return {
        "name": formula.name,
        "description": formula.description,
        "expression": formula.expression,
        "unit": formula.unit,
        "direction": formula.direction,
        "confirmed": formula.confirmed,
        "source": formula.source,
        "valid_from": "",
    }


def do_new_formula_version(code: str, data: Mapping[str, Any], *, actor: ActorLike) -> KpiFormula:
    """A new version of indicator ``code`` (or its first version) from form ``data``:
    name, description, expression, unit, direction, confirmed, source, valid_from. The
    expression may only use :func:`known_inputs`. Audited."""
    errors: dict[str, str] = {}
    code = _text(code)
    if not CODE_RE.match(code):
        errors["code"] = _(
            "El código admite minúsculas, dígitos y guion bajo (hasta 40), empezando por letra."
        )
    name = _text(data.get("name"))
    if not name:
        errors["name"] = _("Indique el nombre del indicador.")
    elif len(name) > 120:
        errors["name"] = _("El nombre admite hasta 120 caracteres.")
    expression = _text(data.get("expression"))
    if not expression:
        errors["expression"] = _("Escriba la fórmula.")
    else:
        try:
            names = rules.formula_names(expression)
        except rules.RuleError as exc:
            errors["expression"] = _("La fórmula no es válida: %(e)s") % {"e": exc}
        else:
            unknown = sorted(names - known_inputs().keys())
            if unknown:
                errors["expression"] = _(
                    "Entradas desconocidas: %(n)s. Use solo las entradas de la lista."
                ) % {"n": ", ".join(unknown)}
            elif not names:
                errors["expression"] = _("La fórmula debe usar al menos una entrada.")
    unit = _text(data.get("unit"))
    if unit not in KpiUnit.values:
        errors["unit"] = _("Elija la unidad.")
    direction = _text(data.get("direction"))
    if direction not in KpiDirection.values:
        errors["direction"] = _("Elija el sentido (mayor o menor es mejor).")
    source = _text(data.get("source"))
    if len(source) > 250:
        errors["source"] = _("La fuente admite hasta 250 caracteres.")
    try:
        valid_from = _date(data.get("valid_from"))
    except (TypeError, ValueError):
        errors["valid_from"] = _("Indique la fecha de vigencia (AAAA-MM-DD).")
    confirmed = data.get("confirmed")
    confirmed = confirmed if isinstance(confirmed, bool) else _text(confirmed).lower() in TRUE
    if errors:
        raise KpiFormError(errors)
    with transaction.atomic():
        last = KpiFormula.objects.select_for_update().filter(code=code).order_by("-version").first()
        formula = KpiFormula.objects.create(
            code=code,
            version=(last.version + 1) if last else 1,
            name=name,
            description=_text(data.get("description")),
            expression=expression,
            unit=unit,
            direction=direction,
            confirmed=bool(confirmed),
            source=source,
            valid_from=valid_from,
            created_by=actor_parts(actor)[0],
        )
        record(
            actor=actor,
            action="portfolio.new_kpi_formula",
            object_type="portfolio.kpiformula",
            object_id=formula.pk,
            before=({"version": last.version, "expression": last.expression} if last else None),
            after={
                "code": code,
                "version": formula.version,
                "expression": expression,
                "unit": unit,
                "direction": direction,
                "confirmed": formula.confirmed,
                "valid_from": valid_from.isoformat(),
            },
        )
    return formula


def do_set_target(
    code: str, period: str, target: Any, tolerance: Any, *, actor: ActorLike
) -> KpiTarget:
    """Set (or change) the target of indicator ``code`` for ``period`` (``YYYY-MM``) with
    its amber band ``tolerance`` (≥ 0, in the indicator's unit). Audited."""
    errors: dict[str, str] = {}
    code = _text(code)
    if not KpiFormula.objects.filter(code=code).exists():
        errors["code"] = _("No existe el indicador %(c)s.") % {"c": code or "—"}
    period = _text(period)
    if not PERIOD_RE.match(period):
        errors["period"] = _("El periodo tiene la forma AAAA-MM.")
    try:
        target_value = _decimal(target)
        if not _fits(target_value):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["target"] = _("La meta es un número (hasta 4 decimales), p. ej. 92.5.")
    try:
        tolerance_value = _decimal(tolerance) if _text(tolerance) else Decimal(0)
        if tolerance_value < 0 or not _fits(tolerance_value):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["tolerance"] = _("La tolerancia es un número mayor o igual a cero.")
    if errors:
        raise KpiFormError(errors)
    with transaction.atomic():
        current = KpiTarget.objects.select_for_update().filter(code=code, period=period).first()
        before = (
            {"target": str(current.target), "tolerance": str(current.tolerance)}
            if current
            else None
        )
        obj, _created = KpiTarget.objects.update_or_create(
            code=code,
            period=period,
            defaults={
                "target": target_value,
                "tolerance": tolerance_value,
                "set_by": actor_parts(actor)[0],
            },
        )
        record(
            actor=actor,
            action="portfolio.set_kpi_target",
            object_type="portfolio.kpitarget",
            object_id=obj.pk,
            before=before,
            after={
                "code": code,
                "period": period,
                "target": str(target_value),
                "tolerance": str(tolerance_value),
            },
        )
    return obj


def do_delete_target(code: str, period: str, *, actor: ActorLike) -> None:
    with transaction.atomic():
        current = KpiTarget.objects.select_for_update().filter(code=code, period=period).first()
        if current is None:
            raise KpiError(_("No hay meta de %(c)s para %(p)s.") % {"c": code, "p": period})
        record(
            actor=actor,
            action="portfolio.delete_kpi_target",
            object_type="portfolio.kpitarget",
            object_id=current.pk,
            before={
                "code": code,
                "period": period,
                "target": str(current.target),
                "tolerance": str(current.tolerance),
            },
        )
        current.delete()


# --- policies -------------------------------------------------------------------------


def stage_policy_in_force(on: date, country: str | None = None) -> StagePolicy | None:
    """The stage policy of ``country`` (the utility's by default) valid on ``on``: the
    highest version with ``valid_from`` on or before it (as the snapshot chooses it)."""
    country = country or UtilitySettings.current().country
    return (
        StagePolicy.objects.filter(country=country, valid_from__lte=on).order_by("-version").first()
    )


def aging_policy_in_force(on: date) -> AgingPolicy | None:
    return AgingPolicy.objects.filter(valid_from__lte=on).order_by("-version").first()


RULE_FIELDS = (
    "order",
    "stage",
    "name",
    "min_days",
    "max_days",
    "min_amount",
    "segment",
    "responsible",
)


def stage_rule_rows(
    policy: StagePolicy | None, currency: str, blank: int = 2
) -> list[dict[str, Any]]:
    """Form rows of a stage policy's rules (amounts in major units), plus blank rows."""
    rows: list[dict[str, Any]] = []
    if policy is not None:
        for r in policy.rules.order_by("order"):
            rows.append(
                {
                    "order": str(r.order),
                    "stage": r.stage,
                    "name": r.name,
                    "min_days": str(r.min_days),
                    "max_days": "" if r.max_days is None else str(r.max_days),
                    "min_amount": str(to_major(r.min_amount, currency)) if r.min_amount else "",
                    "segment": r.segment,
                    "responsible": r.responsible,
                }
            )
    rows.extend(dict.fromkeys(RULE_FIELDS, "") for _i in range(blank))
    return rows


def _row_blank(row: Mapping[str, Any]) -> bool:
    return all(_text(row.get(f)) == "" for f in RULE_FIELDS)


def do_new_stage_policy(
    data: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    actor: ActorLike,
    country: str | None = None,
) -> StagePolicy:
    """A new version of the stage policy of ``country`` (the utility's by default).

    ``data``: name, valid_from, notes. ``rows``: the rules in form order (blank rows are
    skipped), each with the :data:`RULE_FIELDS`; ``min_amount`` in major units. Errors are
    keyed ``rule-<n>-<field>`` (n = the row's position, 1-based) and name the row; the
    rules as a whole are checked by :func:`rules.check_stage_rules` (key ``rules``)."""
    utility = UtilitySettings.current()
    country = country or utility.country
    currency = utility.currency
    errors: dict[str, str] = {}
    name = _text(data.get("name"))
    if not name:
        errors["name"] = _("Indique el nombre de la política.")
    elif len(name) > 120:
        errors["name"] = _("El nombre admite hasta 120 caracteres.")
    try:
        valid_from = _date(data.get("valid_from"))
    except (TypeError, ValueError):
        errors["valid_from"] = _("Indique la fecha de vigencia (AAAA-MM-DD).")
    if country not in Country.values:
        errors["country"] = _("Perfil de país desconocido.")
    specs: list[rules.StageRuleSpec] = []
    for n, row in enumerate(rows, start=1):
        if _row_blank(row):
            continue

        def bad(fld: str, message: str, n: int = n) -> None:
            errors[f"rule-{n}-{fld}"] = _("Fila %(n)s, %(f)s: %(m)s") % {
                "n": n,
                "f": RULE_LABELS[fld],
                "m": message,
            }

        values: dict[str, Any] = {}
        try:
            order = _whole(row.get("order"))
            if order is None or order < 1 or order > 999:
                raise ValueError
            values["order"] = order
        except ValueError:
            bad("order", _("un número entero de 1 a 999."))
        stage = _text(row.get("stage")).lower()
        if not STAGE_CODE_RE.match(stage):
            bad("stage", _("minúsculas, dígitos y guion bajo (hasta 20), empezando por letra."))
        values["stage"] = stage
        label = _text(row.get("name"))
        if not label or len(label) > 80:
            bad("name", _("indique el nombre de la etapa (hasta 80 caracteres)."))
        values["name"] = label
        for fld in ("min_days", "max_days"):
            try:
                values[fld] = _whole(row.get(fld), blank=0 if fld == "min_days" else None)
            except ValueError:
                bad(fld, _("un número entero de días, cero o más."))
        try:
            text = _text(row.get("min_amount")).replace(",", ".") or "0"
            amount = Decimal(text)
            if not amount.is_finite() or amount < 0:
                raise InvalidOperation
            minor = to_minor(amount, currency)
            if to_major(minor, currency) != amount:
                raise InvalidOperation
            values["min_amount"] = minor
        except (InvalidOperation, MoneyError, ValueError):
            bad("min_amount", _("un importe mayor o igual a cero, con punto decimal."))
        segment = _text(row.get("segment"))
        if segment and segment not in Segment.values:
            bad(
                "segment",
                _("déjelo vacío (todos) o elija uno de: %(s)s.") % {"s": ", ".join(Segment.values)},
            )
        values["segment"] = segment
        responsible = _text(row.get("responsible"))
        if not responsible or len(responsible) > 120:
            bad("responsible", _("indique el responsable (hasta 120 caracteres)."))
        values["responsible"] = responsible
        if not any(k.startswith(f"rule-{n}-") for k in errors):
            specs.append(rules.StageRuleSpec(**values))
    if not specs and not any(k.startswith("rule-") for k in errors):
        errors["rules"] = _("La política necesita al menos una regla.")
    elif specs and not any(k.startswith("rule-") for k in errors):
        try:
            rules.check_stage_rules(specs)
        except rules.RuleError as exc:
            errors["rules"] = _stage_rule_message(exc)
    if errors:
        raise KpiFormError(errors)
    ordered = rules.check_stage_rules(specs)
    with transaction.atomic():
        last = (
            StagePolicy.objects.select_for_update()
            .filter(country=country)
            .order_by("-version")
            .first()
        )
        policy = StagePolicy.objects.create(
            country=country,
            version=(last.version + 1) if last else 1,
            valid_from=valid_from,
            name=name,
            notes=_text(data.get("notes")),
            created_by=actor_parts(actor)[0],
        )
        StageRule.objects.bulk_create(
            StageRule(
                policy=policy,
                order=s.order,
                stage=s.stage,
                name=s.name,
                min_days=s.min_days,
                max_days=s.max_days,
                min_amount=s.min_amount,
                segment=s.segment,
                responsible=s.responsible,
            )
            for s in ordered
        )
        record(
            actor=actor,
            action="portfolio.new_stage_policy",
            object_type="portfolio.stagepolicy",
            object_id=policy.pk,
            before={"version": last.version} if last else None,
            after={
                "country": country,
                "version": policy.version,
                "valid_from": valid_from.isoformat(),
                "rules": [
                    [s.order, s.stage, s.min_days, s.max_days, s.min_amount, s.segment]
                    for s in ordered
                ],
            },
        )
    return policy


RULE_LABELS: dict[str, Any] = {
    "order": gettext_lazy("orden"),
    "stage": gettext_lazy("código de etapa"),
    "name": gettext_lazy("etapa"),
    "min_days": gettext_lazy("desde (días)"),
    "max_days": gettext_lazy("hasta (días)"),
    "min_amount": gettext_lazy("deuda vencida mínima"),
    "segment": gettext_lazy("segmento"),
    "responsible": gettext_lazy("responsable"),
}


def _stage_rule_message(exc: rules.RuleError) -> str:
    text = str(exc)
    if "same order" in text:
        return _("Dos reglas tienen el mismo orden (%(e)s).") % {"e": text}
    if "last stage rule" in text:
        return _(
            "La última regla (la de mayor orden) debe atrapar el resto: sin días, importe ni "
            "segmento."
        )
    if "'hasta' is lower" in text:
        return _("En una regla «hasta» es menor que «desde» (%(e)s).") % {"e": text}
    return _("Las reglas no se pueden aplicar: %(e)s") % {"e": text}


def do_new_aging_policy(data: Mapping[str, Any], *, actor: ActorLike) -> AgingPolicy:
    """A new version of the age buckets: ``bounds`` (text ``0, 30, 60…`` or a list),
    ``light_from_days``, ``heavy_from_days``, ``ddr_from_days``, ``valid_from``. Audited."""
    errors: dict[str, str] = {}
    raw = data.get("bounds")
    bounds: tuple[int, ...] = ()
    try:
        if isinstance(raw, list | tuple):
            parts = list(raw)
        else:
            parts = [int(p) for p in re.split(r"[,;\s]+", _text(raw)) if p]
        bounds = rules.check_bounds(parts)
    except ValueError:
        errors["bounds"] = _(
            "Los límites son días enteros separados por comas, empezando en 0 y crecientes "
            "(p. ej. 0, 30, 60, 90, 180, 360)."
        )
    days: dict[str, int] = {}
    for fld in ("light_from_days", "heavy_from_days", "ddr_from_days"):
        try:
            value = _whole(data.get(fld))
            if value is None or value < 1:
                raise ValueError
            days[fld] = value
        except ValueError:
            errors[fld] = _("Un número entero de días, 1 o más.")
    if len(days) == 3 and not (
        days["light_from_days"] < days["heavy_from_days"] < days["ddr_from_days"]
    ):
        errors["heavy_from_days"] = _(
            "Los umbrales deben crecer: liviana < pesada < DDR (días de mora)."
        )
    try:
        valid_from = _date(data.get("valid_from"))
    except (TypeError, ValueError):
        errors["valid_from"] = _("Indique la fecha de vigencia (AAAA-MM-DD).")
    if errors:
        raise KpiFormError(errors)
    with transaction.atomic():
        last = AgingPolicy.objects.select_for_update().order_by("-version").first()
        policy = AgingPolicy.objects.create(
            version=(last.version + 1) if last else 1,
            valid_from=valid_from,
            bounds=list(bounds),
            created_by=actor_parts(actor)[0],
            **days,
        )
        record(
            actor=actor,
            action="portfolio.new_aging_policy",
            object_type="portfolio.agingpolicy",
            object_id=policy.pk,
            before={"version": last.version, "bounds": last.bounds} if last else None,
            after={
                "version": policy.version,
                "valid_from": valid_from.isoformat(),
                "bounds": list(bounds),
                **days,
            },
        )
    return policy


__all__ = [
    "Inputs",
    "KpiError",
    "KpiFormError",
    "KpiRow",
    "compute_kpis",
    "connection_counts",
    "do_delete_target",
    "do_new_aging_policy",
    "do_new_formula_version",
    "do_new_stage_policy",
    "do_set_target",
    "formulas_in_force",
    "gather_inputs",
    "known_inputs",
    "kpi_report",
]
