"""Indicators: inputs from a snapshot folder and the cadastre as of D, formulas evaluated
against hand-computed figures, version selection by date, targets and traffic lights, the
CLI, the pages and the configuration actions (formulas, targets, policies)."""

from __future__ import annotations

import importlib
import json
from datetime import date, datetime, time
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from caudal.audit.models import AuditEvent
from caudal.audit.roles import ensure_roles
from caudal.cadastre.actions import do_change_connection_status
from caudal.cadastre.models import (
    Connection,
    ConnectionStatus,
    Meter,
    MeterStatus,
    Service,
)
from caudal.cadastre.testing import make_account, make_route, make_utility
from caudal.ledger.actions import do_post_charge, do_post_payment
from caudal.metering.models import Reading
from caudal.portfolio import kpis, rules, schema
from caudal.portfolio.models import (
    AgingPolicy,
    KpiFormula,
    KpiTarget,
    KpiValue,
    Snapshot,
    SnapshotStatus,
    StagePolicy,
)

pytestmark = pytest.mark.django_db

D = date(2026, 9, 30)  # a month end
PREV = date(2026, 8, 31)
NEXT = date(2026, 10, 31)

CO_STAGES = [
    {"order": 1, "stage": "coactiva", "name": "Cobro coactivo", "responsible": "DJC"},
    {"order": 2, "stage": "persuasiva", "name": "Cobro persuasivo", "responsible": "DJC"},
    {"order": 3, "stage": "prejuridica", "name": "Cobro prejurídico", "responsible": "DJC"},
    {"order": 4, "stage": "current", "name": "Cartera corriente", "responsible": "Zona"},
]
BUCKETS = schema.bucket_columns(rules.bucket_codes())
MEASURES = {m: 0 for m in schema.CUBE_MEASURES}

# The cube of D, by hand: receivables 100 000, overdue 38 000, DDR 15 000.
CUBE_D = [
    dict(stage="current", testigo="vigente", age_class="current", debit_open=60_000,
         credit_open=1_000, balance=59_000, accounts=6, aged_0=60_000),
    dict(stage="prejuridica", testigo="vencida", age_class="light", debit_open=10_000,
         balance=10_000, overdue=8_000, blocked_amount=500, collectible_overdue=7_500,
         accounts=2, aged_0=2_000, aged_31_60=8_000),
    dict(stage="persuasiva", testigo="vencida", age_class="heavy", debit_open=15_000,
         balance=15_000, overdue=15_000, collectible_overdue=15_000, accounts=1,
         aged_181_360=15_000),
    dict(stage="coactiva", testigo="vencida", age_class="ddr", debit_open=15_000,
         balance=15_000, overdue=15_000, collectible_overdue=15_000, accounts=1,
         in_agreement=True, aged_over_360=15_000),
]  # fmt: skip


def months_rows(on: date, *, last_billed: int = 21_000, last_reversed: int = 1_000) -> list:
    """13 months up to ``on``: 20 000 billed a month (the 13th month back 999 999, outside
    the 12-month window); D's month 21 000 billed, 1 000 reversed; collected 15 000 on
    current items and 3 800 on arrears in D's month."""
    rows = []
    first = on.replace(day=1)
    for back in range(12, -1, -1):
        index = first.year * 12 + first.month - 1 - back
        month = date(index // 12, index % 12 + 1, 1)
        billed = 999_999 if back == 12 else 20_000
        reversed_ = 0
        current, arrears = 14_000, 3_000
        if back == 0:
            billed, reversed_, current, arrears = last_billed, last_reversed, 15_000, 3_800
        rows.append(
            {
                "month": month,
                "period": month.isoformat()[:7],
                "billed": billed,
                "bills": 10,
                "billed_reversed": reversed_,
                "collected": current + arrears,
                "collected_current": current,
                "collected_arrears": arrears,
            }
        )
    return rows


def write_snapshot(
    root: Path,
    on: date,
    cube: list[dict[str, Any]],
    *,
    months: list[dict[str, Any]] | None = None,
    stages: list[dict[str, Any]] = CO_STAGES,
    status: str = SnapshotStatus.DONE,
) -> Snapshot:
    """A snapshot folder with a hand-made cube (and months), and its Snapshot row."""
    folder = root / on.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in cube:
        row = {
            "stage": "current",
            "responsible": "",
            "bucket": "0",
            "age_class": "current",
            "testigo": "vigente",
            "category": "domestic",
            "stratum": None,
            "segment": "regular",
            "cycle": "C01",
            "zone": "Z01",
            "municipality": "M01",
            "in_agreement": False,
            **MEASURES,
            **dict.fromkeys(BUCKETS, 0),
        }
        row.update(r)
        rows.append(row)
    pl.DataFrame(rows, schema_overrides={"stratum": pl.Int16}).write_parquet(folder / schema.CUBE)
    if months is not None:
        pl.DataFrame(months).write_parquet(folder / schema.MONTHS)
    manifest = {
        "date": on.isoformat(),
        "stages": stages,
        "bucket_codes": rules.bucket_codes(),
        "bucket_columns": BUCKETS,
    }
    (folder / schema.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return Snapshot.objects.create(
        date=on,
        kind="monthly",
        status=status,
        path=on.isoformat(),
        overdue=sum(r.get("overdue", 0) for r in cube),
    )


@pytest.fixture
def root(settings, tmp_path) -> Path:
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    return Path(settings.CAUDAL_SNAPSHOT_DIR)


@pytest.fixture
def co(db):
    return make_utility("CO")


@pytest.fixture
def cadastre(co):
    """Five accounts; water connections and meters as of D (see the test)."""
    make_route()
    a1, a2, a3, a4, a5 = (make_account() for _ in range(5))
    water = {
        a.pk: Connection.objects.get(account=a, service=Service.WATER) for a in (a1, a2, a3, a4, a5)
    }
    # a1: active, meter since 2021, read on 2026-09-20.
    m1 = Meter.objects.create(account=a1, serial="M1", installed_on=date(2021, 1, 1))
    Reading.objects.create(
        account=a1,
        period="2026-09",
        route=a1.property.route,
        meter=m1,
        value=120,
        read_at=timezone.make_aware(datetime.combine(date(2026, 9, 20), time(10))),
    )
    # a2: cut on 2026-09-15 (before D); its meter is broken.
    do_change_connection_status(
        water[a2.pk], status="cut", on=date(2026, 9, 15), reason="deuda", actor="test"
    )
    Meter.objects.create(
        account=a2, serial="M2", installed_on=date(2021, 1, 1), status=MeterStatus.BROKEN
    )
    # a3: cut on 2026-10-10 (after D: active at D); meter installed after D.
    do_change_connection_status(
        water[a3.pk], status="cut", on=date(2026, 10, 10), reason="deuda", actor="test"
    )
    Meter.objects.create(account=a3, serial="M3", installed_on=date(2026, 10, 1))
    # a4: active; its meter was removed after D (so it worked at D).
    Meter.objects.create(
        account=a4,
        serial="M4",
        installed_on=date(2020, 1, 1),
        removed_on=date(2026, 10, 5),
        status=MeterStatus.REMOVED,
    )
    # a5: only feasible (not built), with a meter: not a connection.
    Connection.objects.filter(pk=water[a5.pk].pk).update(status=ConnectionStatus.FEASIBLE)
    Meter.objects.create(account=a5, serial="M5", installed_on=date(2020, 1, 1))
    return [a1, a2, a3, a4, a5]


@pytest.fixture
def snapshots(root, co, cadastre):
    write_snapshot(root, PREV, [dict(debit_open=40_000, overdue=40_000, accounts=3)])
    return write_snapshot(root, D, CUBE_D, months=months_rows(D))


def values_of(on: date) -> dict[str, Decimal | None]:
    return {
        kv.formula.code: kv.value
        for kv in KpiValue.objects.filter(snapshot__date=on).select_related("formula")
    }


# --- the seeded formulas ----------------------------------------------------------------


def test_seeded_formulas_use_known_inputs(db):
    formulas = KpiFormula.objects.all()
    codes = {f.code for f in formulas}
    assert {
        "morosidad_meses",
        "eficiencia_recaudo",
        "eficiencia_corriente",
        "eficiencia_morosa",
        "cartera_morosa_pct",
        "ddr_pct",
        "conexiones_activas_pct",
        "micromedicion_pct",
        "participacion_current",
        "participacion_prejudicial",
        "participacion_judicial",
        "participacion_prejuridica",
        "participacion_persuasiva",
        "participacion_coactiva",
    } == codes
    known = kpis.known_inputs()
    for f in formulas:
        assert f.version == 1 and f.valid_from == date(2000, 1, 1)
        assert rules.formula_names(f.expression) <= known.keys(), f.code
        assert f.source
    # Only the reference-backed definitions are confirmed.
    assert KpiFormula.objects.get(code="conexiones_activas_pct").confirmed
    for code in ("morosidad_meses", "eficiencia_recaudo", "micromedicion_pct"):
        assert not KpiFormula.objects.get(code=code).confirmed
    # Every stage code of the default policies has its share.
    for stage in StagePolicy.objects.values_list("rules__stage", flat=True):
        assert f"participacion_{stage}" in codes


# --- inputs -----------------------------------------------------------------------------


def test_connection_counts_as_of_the_date(cadastre):
    assert kpis.connection_counts(D) == {
        "water_connections": 4,  # a1, a2 (cut), a3 (cut only after D), a4
        "water_active": 3,
        "water_cut": 1,
        "water_clandestine": 0,
        "water_removed": 0,
        "water_feasible": 1,
        "metered_connections": 2,  # a1, a4 (removed after D); a2 broken, a3 installed after
        "read_metered_connections": 1,  # a1 read on 2026-09-20
    }
    # Today a3 is cut too, and a4's meter is gone; a1's reading is too old.
    today = kpis.connection_counts(date(2026, 11, 23))
    assert today["water_active"] == 2
    assert today["water_cut"] == 2
    assert today["metered_connections"] == 2  # a1, a3
    assert today["read_metered_connections"] == 0
    # Before a2 was cut: all four active.
    assert kpis.connection_counts(date(2026, 9, 14))["water_active"] == 4


def test_inputs_of_a_snapshot(snapshots):
    inputs = kpis.gather_inputs(D)
    v = inputs.values
    assert v["receivables"] == 100_000
    assert v["credits"] == 1_000
    assert v["balance"] == 99_000
    assert v["overdue"] == 38_000
    assert v["current_value"] == 62_000
    assert v["blocked"] == 500
    assert v["collectible_overdue"] == 37_500
    assert v["accounts"] == 10
    assert v["overdue_accounts"] == 4
    assert (v["light_value"], v["heavy_value"], v["ddr_value"]) == (10_000, 15_000, 15_000)
    assert v["ddr_accounts"] == 1
    assert v["agreement_value"] == 15_000
    assert v["stage_value_current"] == 60_000
    assert v["stage_value_coactiva"] == 15_000
    assert v["stage_accounts_prejuridica"] == 2
    assert v["aged_over_360"] == 15_000
    assert v["aged_31_60"] == 8_000
    assert v["billed_gross_month"] == 21_000
    assert v["billed_month"] == 20_000  # net of the 1 000 reversed
    assert v["collected_month"] == 18_800
    assert (v["collected_current"], v["collected_arrears"]) == (15_000, 3_800)
    # D is a month end: its month closes the window; the 999 999 month is outside it.
    assert v["billed_12m"] == 240_000
    assert v["avg_billing_12m"] == Decimal("20000.000000")
    assert v["overdue_start"] == 40_000
    assert v["water_connections"] == 4
    assert inputs.missing == {}
    assert not inputs.applies({"stage_value_judicial"})  # a Peruvian stage
    assert inputs.applies({"stage_value_coactiva", "receivables"})


def test_mid_month_window_is_the_twelve_months_before(root, co):
    on = date(2026, 9, 15)
    write_snapshot(root, on, CUBE_D, months=months_rows(on))
    inputs = kpis.gather_inputs(on)
    # 2025-09 (999 999) .. 2026-08: eleven months of 20 000 and the 999 999 one.
    assert inputs.values["billed_12m"] == 999_999 + 11 * 20_000
    assert inputs.missing["overdue_start"].startswith("no hay corte terminado del 2026-08-31")


def test_missing_months_file_and_previous_snapshot_are_named(root, co):
    write_snapshot(root, D, CUBE_D)
    inputs = kpis.gather_inputs(D)
    assert "months.parquet" in inputs.missing["billed_month"]
    assert "months.parquet" in inputs.missing["avg_billing_12m"]
    assert "2026-08-31" in inputs.missing["overdue_start"]
    assert "billed_month" not in inputs.values
    assert inputs.values["receivables"] == 100_000


# --- compute: every formula against the hand-computed figures ---------------------------


def test_every_formula_against_hand_computed_inputs(snapshots):
    stored = kpis.compute_kpis(D, actor="test")
    values = values_of(D)
    assert values == {
        "morosidad_meses": Decimal("5.000000"),  # 100 000 / (240 000 / 12)
        "eficiencia_recaudo": Decimal("94.000000"),  # 18 800 / 20 000
        "eficiencia_corriente": Decimal("75.000000"),  # 15 000 / 20 000
        "eficiencia_morosa": Decimal("9.500000"),  # 3 800 / 40 000
        "cartera_morosa_pct": Decimal("38.000000"),  # 38 000 / 100 000
        "ddr_pct": Decimal("15.000000"),
        "participacion_current": Decimal("60.000000"),
        "participacion_prejuridica": Decimal("10.000000"),
        "participacion_persuasiva": Decimal("15.000000"),
        "participacion_coactiva": Decimal("15.000000"),
        "conexiones_activas_pct": Decimal("75.000000"),  # 3 / 4
        "micromedicion_pct": Decimal("50.000000"),  # 2 / 4
    }
    # The Peruvian stages do not apply to a Colombian snapshot: not stored.
    assert len(stored) == 12
    kv = KpiValue.objects.get(snapshot__date=D, formula__code="morosidad_meses")
    assert kv.inputs == {"receivables": 100_000, "avg_billing_12m": "20000.000000"}
    event = AuditEvent.objects.get(action="portfolio.compute_kpis")
    assert event.after is not None
    assert event.after["date"] == D.isoformat()
    assert event.after["values"]["ddr_pct v1"] == "15.000000"


def test_compute_is_idempotent(snapshots):
    kpis.compute_kpis(D, actor="test")
    first = values_of(D)
    kpis.compute_kpis(D, actor="test")
    assert values_of(D) == first
    assert KpiValue.objects.filter(snapshot__date=D).count() == 12


def test_unit_fractions_are_rounded_half_up_to_six_places(root, co):
    write_snapshot(root, D, [dict(debit_open=3, overdue=2, accounts=1)], months=months_rows(D))
    kpis.compute_kpis(D, actor="test")
    assert values_of(D)["cartera_morosa_pct"] == Decimal("66.666667")


def test_missing_inputs_leave_the_indicator_without_value(root, co):
    write_snapshot(root, D, CUBE_D)  # no months.parquet, no previous snapshot
    kpis.compute_kpis(D, actor="test")
    kv = KpiValue.objects.get(snapshot__date=D, formula__code="eficiencia_morosa")
    assert kv.value is None
    assert kv.inputs["collected_arrears"] is None
    assert set(kv.inputs["_missing"]) == {"collected_arrears", "overdue_start"}
    row = {r.code: r for r in kpis.kpi_report(D)}["eficiencia_morosa"]
    assert row.computed and row.value is None
    assert "2026-08-31" in row.missing["overdue_start"]
    assert values_of(D)["cartera_morosa_pct"] == Decimal("38.000000")


def test_division_by_zero_is_no_value(root, co):
    write_snapshot(root, D, CUBE_D, months=months_rows(D, last_billed=0, last_reversed=0))
    kpis.compute_kpis(D, actor="test")
    row = {r.code: r for r in kpis.kpi_report(D)}["eficiencia_recaudo"]
    assert row.value is None and row.error == "división por cero"
    assert row.inputs["billed_month"] == 0


def test_compute_needs_a_done_snapshot(root, co):
    with pytest.raises(kpis.KpiError, match="No hay un corte de cartera terminado del 2026-09-30"):
        kpis.compute_kpis(D, actor="test")
    write_snapshot(root, D, CUBE_D, status=SnapshotStatus.RUNNING)
    with pytest.raises(kpis.KpiError):
        kpis.compute_kpis(D, actor="test")


def test_peruvian_snapshot_gets_peruvian_stage_shares(root, db):
    make_utility("PE")
    stages = [
        {"order": 1, "stage": "judicial", "name": "Judicial", "responsible": "Legal"},
        {"order": 2, "stage": "prejudicial", "name": "Prejudicial", "responsible": "Cobranza"},
        {"order": 3, "stage": "current", "name": "Corriente", "responsible": "Oficina"},
    ]
    cube = [
        dict(stage="current", debit_open=700, accounts=1),
        dict(stage="judicial", debit_open=300, overdue=300, accounts=1),
    ]
    write_snapshot(root, D, cube, stages=stages)
    kpis.compute_kpis(D, actor="test")
    values = values_of(D)
    assert values["participacion_judicial"] == Decimal(30)
    assert values["participacion_prejudicial"] == Decimal(0)  # in the policy, no accounts
    assert "participacion_coactiva" not in values
    assert [r.code for r in kpis.kpi_report(D) if r.code.startswith("participacion_")] == [
        "participacion_current",
        "participacion_prejudicial",
        "participacion_judicial",
    ]


# --- versions ---------------------------------------------------------------------------


def new_version(code: str, expression: str, valid_from: date, **extra: Any) -> KpiFormula:
    base = KpiFormula.objects.filter(code=code).order_by("-version").first()
    data = {
        "name": base.name if base else code,
        "expression": expression,
        "unit": base.unit if base else "percent",
        "direction": base.direction if base else "higher",
        "valid_from": valid_from.isoformat(),
        **extra,
    }
    return kpis.do_new_formula_version(code, data, actor="test")


def test_version_in_force_is_chosen_by_date(root, co):
    v2 = new_version("cartera_morosa_pct", "overdue / balance * 100", date(2026, 10, 1))
    v3 = new_version(
        "cartera_morosa_pct", "collectible_overdue / receivables * 100", date(2027, 1, 1)
    )
    assert (v2.version, v3.version) == (2, 3)
    in_force = {f.code: f.version for f in kpis.formulas_in_force(D)}
    assert in_force["cartera_morosa_pct"] == 1
    assert {f.code: f.version for f in kpis.formulas_in_force(NEXT)}["cartera_morosa_pct"] == 2
    assert {f.code: f.version for f in kpis.formulas_in_force(date(2027, 1, 1))}[
        "cartera_morosa_pct"
    ] == 3
    write_snapshot(root, D, CUBE_D)
    write_snapshot(root, NEXT, CUBE_D)
    kpis.compute_kpis(D, actor="test")
    kpis.compute_kpis(NEXT, actor="test")
    assert values_of(D)["cartera_morosa_pct"] == Decimal("38.000000")  # 38 000 / 100 000
    kv = KpiValue.objects.get(snapshot__date=NEXT, formula__code="cartera_morosa_pct")
    assert kv.formula.version == 2
    assert kv.value == Decimal("38.383838")  # 38 000 / 99 000


def test_a_version_backdated_over_a_computed_snapshot_shows_as_not_computed(root, co):
    write_snapshot(root, D, CUBE_D)
    kpis.compute_kpis(D, actor="test")
    new_version("ddr_pct", "aged_over_360 / receivables * 100", date(2026, 1, 1))
    row = {r.code: r for r in kpis.kpi_report(D)}["ddr_pct"]
    assert (row.version, row.computed, row.value) == (2, False, None)
    kpis.compute_kpis(D, actor="test")
    row = {r.code: r for r in kpis.kpi_report(D)}["ddr_pct"]
    assert (row.version, row.computed, row.value) == (2, True, Decimal("15.000000"))
    # The value of version 1 stays in the history.
    assert KpiValue.objects.filter(snapshot__date=D, formula__code="ddr_pct").count() == 2


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("expression", {"expression": "receivables ** 2"}, "no es válida"),
        ("expression", {"expression": "open(receivables)"}, "no es válida"),
        ("expression", {"expression": "receivables / facturado"}, "desconocidas: facturado"),
        ("expression", {"expression": "100"}, "al menos una entrada"),
        ("expression", {"expression": ""}, "Escriba la fórmula"),
        ("name", {"name": ""}, "nombre"),
        ("unit", {"unit": "kg"}, "unidad"),
        ("direction", {"direction": "up"}, "sentido"),
        ("valid_from", {"valid_from": "31/12/2026"}, "AAAA-MM-DD"),
    ],
)
def test_new_version_validation_names_the_field(db, field, data, message):
    base = {
        "name": "Cartera morosa",
        "expression": "overdue / receivables * 100",
        "unit": "percent",
        "direction": "lower",
        "valid_from": "2026-10-01",
    }
    with pytest.raises(kpis.KpiFormError) as caught:
        kpis.do_new_formula_version("cartera_morosa_pct", {**base, **data}, actor="test")
    assert set(caught.value.errors) == {field}
    assert message in caught.value.errors[field]
    assert KpiFormula.objects.filter(code="cartera_morosa_pct").count() == 1


def test_new_version_is_audited(db):
    formula = new_version(
        "micromedicion_pct",
        "read_metered_connections / water_connections * 100",
        date(2026, 10, 1),
        confirmed="on",
    )
    assert formula.confirmed and formula.version == 2
    event = AuditEvent.objects.get(action="portfolio.new_kpi_formula")
    assert event.before == {
        "version": 1,
        "expression": "metered_connections / water_connections * 100",
    }
    assert event.after is not None
    assert event.after["expression"] == "read_metered_connections / water_connections * 100"


# --- targets and the report ---------------------------------------------------------------


def test_report_with_targets_lights_and_previous_month(snapshots, root):
    kpis.compute_kpis(PREV, actor="test")  # the previous month-end snapshot's values
    kpis.compute_kpis(D, actor="test")
    kpis.do_set_target("eficiencia_recaudo", "2026-09", "95", "2", actor="test")  # 94: amber
    kpis.do_set_target("cartera_morosa_pct", "2026-09", "30", "5", actor="test")  # 38: red
    kpis.do_set_target("ddr_pct", "2026-09", "15", "0", actor="test")  # 15: green (lower)
    kpis.do_set_target("ddr_pct", "2026-10", "1", "0", actor="test")  # another period
    rows = {r.code: r for r in kpis.kpi_report(D)}
    assert rows["eficiencia_recaudo"].light == "amber"
    assert rows["cartera_morosa_pct"].light == "red"
    assert rows["ddr_pct"].light == "green"
    assert rows["ddr_pct"].target == Decimal("15")
    assert rows["morosidad_meses"].light == "none"  # no target
    assert rows["cartera_morosa_pct"].previous == Decimal("100.000000")  # 40 000 / 40 000
    assert rows["cartera_morosa_pct"].previous_date == PREV
    assert rows["conexiones_activas_pct"].confirmed
    assert not rows["morosidad_meses"].confirmed
    assert list(rows)[:6] == [
        "morosidad_meses",
        "eficiencia_recaudo",
        "eficiencia_corriente",
        "eficiencia_morosa",
        "cartera_morosa_pct",
        "ddr_pct",
    ]
    as_json = rows["eficiencia_recaudo"].as_dict()
    assert as_json["value"] == "94.000000" and as_json["target"] == "95.0000"
    assert as_json["light"] == "amber"


def test_set_target_validation_and_audit(db):
    with pytest.raises(kpis.KpiFormError) as caught:
        kpis.do_set_target("nope", "2026-13", "abc", "-1", actor="test")
    assert set(caught.value.errors) == {"code", "period", "target", "tolerance"}
    target = kpis.do_set_target("ddr_pct", "2026-09", "10,5", "", actor="test")
    assert (target.target, target.tolerance) == (Decimal("10.5"), Decimal(0))
    kpis.do_set_target("ddr_pct", "2026-09", "12", "1", actor="test")
    assert KpiTarget.objects.get(code="ddr_pct", period="2026-09").target == Decimal(12)
    events = AuditEvent.objects.filter(action="portfolio.set_kpi_target").order_by("id")
    assert events[1].before == {"target": "10.5000", "tolerance": "0.0000"}
    kpis.do_delete_target("ddr_pct", "2026-09", actor="test")
    assert not KpiTarget.objects.exists()
    assert AuditEvent.objects.filter(action="portfolio.delete_kpi_target").count() == 1


# --- CLI --------------------------------------------------------------------------------


def test_cli_json(snapshots):
    out = StringIO()
    kpis.do_set_target("eficiencia_recaudo", "2026-09", "90", "5", actor="test")
    call_command("kpis", "--date", D.isoformat(), "--json", stdout=out)
    data = json.loads(out.getvalue())
    by_code = {d["code"]: d for d in data}
    row = by_code["eficiencia_recaudo"]
    assert {
        "code",
        "version",
        "name",
        "value",
        "unit",
        "target",
        "light",
        "confirmed",
        "inputs",
    } <= set(row)
    assert row["value"] == "94.000000"
    assert row["version"] == 1
    assert row["target"] == "90.0000"
    assert row["light"] == "green"
    assert row["confirmed"] is False
    assert row["inputs"] == {"billed_month": 20_000, "collected_month": 18_800}
    assert by_code["morosidad_meses"]["unit"] == "months"
    assert "participacion_judicial" not in by_code
    assert KpiValue.objects.filter(snapshot__date=D).count() == 12


def test_cli_table_and_errors(root, co):
    write_snapshot(root, D, CUBE_D)
    out = StringIO()
    call_command("kpis", "--date", D.isoformat(), stdout=out)
    text = out.getvalue()
    assert "cartera_morosa_pct" in text and "38.00" in text
    assert "sin dato (falta billed_month" in text
    assert "definición provisional" in text
    with pytest.raises(CommandError, match="AAAA-MM-DD"):
        call_command("kpis", "--date", "30/09/2026")
    with pytest.raises(CommandError, match="No hay un corte de cartera terminado del 2026-10-31"):
        call_command("kpis", "--date", NEXT.isoformat())


# --- pages ------------------------------------------------------------------------------


def client_for(role: str) -> tuple[Client, User]:
    ensure_roles()
    user = User.objects.create_user(username=f"u-{role}", password="clave-de-prueba-123")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client, user


VIEWERS = ["manager", "cartera_analyst", "cartera_coordinator", "collections_officer", "auditor"]


@pytest.mark.parametrize("role", [*VIEWERS, "cashier", "billing_analyst"])
def test_pages_by_role(root, co, role):
    write_snapshot(root, D, CUBE_D)
    client, _user = client_for(role)
    viewer = role in VIEWERS
    for url in (
        f"/cartera/indicadores/?fecha={D}",
        "/cartera/indicadores/metas/",
        "/cartera/politicas/",
    ):
        assert client.get(url).status_code == (200 if viewer else 403), url
    editor = role == "manager"
    new_version_page = client.get("/cartera/indicadores/ddr_pct/nueva-version/")
    assert new_version_page.status_code == (200 if editor else 403)
    compute = client.post("/cartera/indicadores/calcular/", {"fecha": D.isoformat()})
    computes = role in ("manager", "cartera_analyst", "cartera_coordinator")
    assert compute.status_code == (302 if computes else 403)
    assert KpiValue.objects.exists() == computes
    targets = client.post(
        "/cartera/indicadores/metas/", {"periodo": "2026-09", "target-ddr_pct": "10"}
    )
    assert targets.status_code == (302 if editor else 403)
    assert KpiTarget.objects.exists() == editor


def test_anonymous_is_sent_to_login(client, co):
    response = client.get("/cartera/indicadores/")
    assert response.status_code == 302 and "ingresar" in response["Location"]


def test_indicators_page(snapshots):
    kpis.compute_kpis(PREV, actor="test")
    kpis.compute_kpis(D, actor="test")
    kpis.do_set_target("eficiencia_recaudo", "2026-09", "95", "2", actor="test")
    client, _user = client_for("cartera_analyst")
    body = client.get(f"/cartera/indicadores/?fecha={D}").content.decode()
    assert 'data-code="eficiencia_recaudo" data-light="amber"' in body
    assert "94,00 %" in body  # a Colombian utility writes a decimal comma
    assert "5,00 <span" in body  # morosidad, in months
    assert "(variación -62,00 p. p.)" in body  # cartera morosa: 38 % against 100 %
    assert body.count('data-testid="provisional"') == 5  # the unconfirmed formulas
    assert "Definición provisional: el administrador puede reemplazarla." in body
    assert 'data-code="participacion_judicial"' not in body  # not this profile's stage
    assert "Datos de entrada" in body and "avg_billing_12m" in body
    assert "Nueva versión" not in body  # the analyst does not manage policies
    assert 'data-testid="not-computed"' not in body
    manager, _m = client_for("manager")
    assert (
        "/cartera/indicadores/ddr_pct/nueva-version/"
        in manager.get(f"/cartera/indicadores/?fecha={D}").content.decode()
    )


def test_indicators_page_names_missing_inputs_and_offers_to_compute(root, co):
    write_snapshot(root, D, CUBE_D)
    client, _user = client_for("cartera_analyst")
    body = client.get("/cartera/indicadores/").content.decode()  # latest snapshot
    assert 'data-testid="not-computed"' in body and 'data-testid="compute"' in body
    response = client.post("/cartera/indicadores/calcular/", {"fecha": D.isoformat()})
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    assert "sin dato" in body
    assert "billed_month</span> (el corte no tiene months.parquet" in body


def test_indicators_page_without_snapshots(co):
    client, _user = client_for("auditor")
    body = client.get("/cartera/indicadores/").content.decode()
    assert 'data-testid="no-snapshot"' in body
    body = client.get("/cartera/indicadores/?fecha=2026-01-31").content.decode()
    assert "No hay un corte de cartera terminado del 2026-01-31" in body


def test_targets_page_saves_all_or_nothing(db):
    client, user = client_for("manager")
    bad = client.post(
        "/cartera/indicadores/metas/",
        {"periodo": "2026-09", "target-ddr_pct": "10", "target-morosidad_meses": "tres"},
    )
    assert bad.status_code == 400
    assert 'data-field="target-morosidad_meses"' in bad.content.decode()
    assert not KpiTarget.objects.exists()
    ok = client.post(
        "/cartera/indicadores/metas/",
        {
            "periodo": "2026-09",
            "target-ddr_pct": "10",
            "tolerance-ddr_pct": "2,5",
            "target-morosidad_meses": "3",
        },
    )
    assert ok.status_code == 302
    target = KpiTarget.objects.get(code="ddr_pct", period="2026-09")
    assert (target.target, target.tolerance, target.set_by) == (Decimal(10), Decimal("2.5"), user)
    page = client.get("/cartera/indicadores/metas/?periodo=2026-09").content.decode()
    assert 'name="target-ddr_pct" value="10"' in page
    # Clearing a target removes it; unchanged ones are not written again.
    client.post(
        "/cartera/indicadores/metas/",
        {"periodo": "2026-09", "target-ddr_pct": "10", "tolerance-ddr_pct": "2.5"},
    )
    assert list(KpiTarget.objects.values_list("code", flat=True)) == ["ddr_pct"]
    assert AuditEvent.objects.filter(action="portfolio.set_kpi_target").count() == 2
    assert AuditEvent.objects.filter(action="portfolio.delete_kpi_target").count() == 1


def test_new_formula_version_page(db):
    client, user = client_for("manager")
    page = client.get("/cartera/indicadores/morosidad_meses/nueva-version/").content.decode()
    assert 'value="receivables / avg_billing_12m"' in page
    assert "stage_value_coactiva" in page  # the inputs list
    bad = client.post(
        "/cartera/indicadores/morosidad_meses/nueva-version/",
        {
            "name": "Morosidad",
            "expression": "receivables / promedio",
            "unit": "months",
            "direction": "lower",
            "valid_from": "2026-12-01",
        },
    )
    assert bad.status_code == 400
    body = bad.content.decode()
    assert '<div class="field-error" data-field="expression">' in body
    assert "Entradas desconocidas: promedio" in body
    ok = client.post(
        "/cartera/indicadores/morosidad_meses/nueva-version/",
        {
            "name": "Morosidad (OTASS)",
            "expression": "receivables / (billed_12m / 12)",
            "unit": "months",
            "direction": "lower",
            "valid_from": "2026-12-01",
            "source": "Directiva OTASS",
            "confirmed": "on",
        },
    )
    assert ok.status_code == 302
    formula = KpiFormula.objects.get(code="morosidad_meses", version=2)
    assert formula.confirmed and formula.created_by == user
    assert formula.valid_from == date(2026, 12, 1)
    # A brand-new indicator code starts at version 1; a bad code is not found.
    client.post(
        "/cartera/indicadores/cartera_pesada_pct/nueva-version/",
        {
            "name": "Cartera pesada",
            "expression": "heavy_value / receivables * 100",
            "unit": "percent",
            "direction": "lower",
            "valid_from": "2026-12-01",
        },
    )
    assert KpiFormula.objects.get(code="cartera_pesada_pct").version == 1
    assert client.get("/cartera/indicadores/Mal-Codigo/nueva-version/").status_code == 404


def stage_post(rows: list[list[str]], **extra: str) -> dict[str, str]:
    data = {"form": "stage", "name": "Reglamento 2027", "valid_from": "2027-01-01"}
    data["rows"] = str(len(rows))
    for n, row in enumerate(rows, start=1):
        for field, value in zip(kpis.RULE_FIELDS, row, strict=True):
            data[f"rule-{n}-{field}"] = value
    data.update(extra)
    return data


def test_policies_page_shows_the_policy_in_force(co):
    client, _user = client_for("auditor")
    body = client.get("/cartera/politicas/").content.decode()
    assert 'data-stage="coactiva"' in body and "Dirección de Jurisdicción Coactiva" in body
    assert 'data-bucket="&gt;360"' in body
    assert 'id="new-stage-policy"' not in body  # the auditor cannot create versions
    assert client.post("/cartera/politicas/", {"form": "aging"}).status_code == 403


def test_new_stage_policy_version(co):
    client, user = client_for("manager")
    page = client.get("/cartera/politicas/").content.decode()
    assert 'name="rule-1-stage" value="coactiva"' in page
    rows = [
        ["1", "coactiva", "Cobro coactivo", "541", "", "1000.00", "", "DJC"],
        ["2", "persuasiva", "Cobro persuasivo", "91", "", "", "", "DJC"],
        ["", "", "", "", "", "", "", ""],
        ["3", "current", "Cartera corriente", "", "", "", "", "Zona"],
    ]
    response = client.post("/cartera/politicas/", stage_post(rows))
    assert response.status_code == 302
    policy = StagePolicy.objects.get(country="CO", version=2)
    assert policy.created_by == user and policy.valid_from == date(2027, 1, 1)
    assert [(r.stage, r.min_days, r.max_days, r.min_amount) for r in policy.rules.all()] == [
        ("coactiva", 541, None, 100_000),
        ("persuasiva", 91, None, 0),
        ("current", 0, None, 0),
    ]
    event = AuditEvent.objects.get(action="portfolio.new_stage_policy")
    assert event.after is not None and event.after["version"] == 2
    # In force from its date, not before.
    assert kpis.stage_policy_in_force(date(2026, 12, 31)).version == 1  # type: ignore[union-attr]
    assert kpis.stage_policy_in_force(date(2027, 1, 1)).version == 2  # type: ignore[union-attr]


def test_stage_policy_errors_name_row_and_field(co):
    client, _user = client_for("manager")
    rows = [
        ["1", "Coactiva!", "Cobro coactivo", "abc", "", "-5", "gold", "DJC"],
        ["2", "current", "Cartera corriente", "", "", "", "", ""],
    ]
    response = client.post("/cartera/politicas/", stage_post(rows, valid_from="mañana"))
    assert response.status_code == 400
    body = response.content.decode()
    for key in (
        "rule-1-stage",
        "rule-1-min_days",
        "rule-1-min_amount",
        "rule-1-segment",
        "rule-2-responsible",
        "valid_from",
    ):
        assert f'data-field="{key}"' in body, key
    assert "Fila 1, desde (días): un número entero de días" in body
    assert "Fila 2, responsable" in body
    assert StagePolicy.objects.count() == 2  # the defaults only
    # Valid rows, but the last one does not catch the rest.
    rows = [
        ["1", "coactiva", "Cobro coactivo", "361", "", "", "", "DJC"],
        ["2", "current", "Cartera corriente", "0", "360", "", "", "Zona"],
    ]
    response = client.post("/cartera/politicas/", stage_post(rows))
    assert response.status_code == 400
    assert "La última regla (la de mayor orden) debe atrapar el resto" in response.content.decode()
    with pytest.raises(kpis.KpiFormError) as caught:
        kpis.do_new_stage_policy({"name": "x", "valid_from": "2027-01-01"}, [], actor="test")
    assert set(caught.value.errors) == {"rules"}


def test_new_aging_policy_version(co):
    client, _user = client_for("manager")
    bad = client.post(
        "/cartera/politicas/",
        {
            "form": "aging",
            "bounds": "0, 30, 30, 90",
            "light_from_days": "200",
            "heavy_from_days": "181",
            "ddr_from_days": "361",
            "valid_from": "2027-01-01",
        },
    )
    assert bad.status_code == 400
    body = bad.content.decode()
    assert 'data-field="bounds"' in body and 'data-field="heavy_from_days"' in body
    ok = client.post(
        "/cartera/politicas/",
        {
            "form": "aging",
            "bounds": "0 30 90 180 360 720",
            "light_from_days": "31",
            "heavy_from_days": "181",
            "ddr_from_days": "361",
            "valid_from": "2027-01-01",
        },
    )
    assert ok.status_code == 302
    aging = AgingPolicy.objects.get(version=2)
    assert aging.bounds == [0, 30, 90, 180, 360, 720]
    assert AuditEvent.objects.filter(action="portfolio.new_aging_policy").count() == 1
    # Its bucket amounts become known inputs for formulas.
    assert "aged_over_720" in kpis.known_inputs()


def test_admin_lists_the_cartera_configuration_read_only(co):
    client, _user = client_for("manager")
    assert client.get("/admin/portfolio/kpiformula/").status_code == 200
    policy = StagePolicy.objects.get(country="CO", version=1)
    page = client.get(f"/admin/portfolio/stagepolicy/{policy.pk}/change/")
    assert page.status_code == 200 and "coactiva" in page.content.decode()
    assert client.get("/admin/portfolio/kpitarget/add/").status_code == 403
    analyst, _a = client_for("cartera_analyst")
    assert analyst.get("/admin/portfolio/kpiformula/").status_code == 302  # no admin access


# --- end to end: ledger → take_snapshot → compute_kpis ------------------------------------

_IMMUTABILITY = importlib.import_module("caudal.ledger.migrations.0002_immutability")
_DEFAULT_POLICIES = importlib.import_module("caudal.portfolio.migrations.0002_default_policies")
_DEFAULT_FORMULAS = importlib.import_module("caudal.portfolio.migrations.0003_kpi_formulas")


@pytest.fixture
def committed(transactional_db, settings, tmp_path):
    """take_snapshot reads through its own connection (ADBC), so the data is committed.
    The flush of a transactional test removed the rows the data migrations wrote: put
    them back; afterwards empty the append-only ledger tables past their SQLite triggers
    (PostgreSQL flushes with TRUNCATE, which they let through)."""
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    if not StagePolicy.objects.exists():
        _DEFAULT_POLICIES.create(django_apps, None)
    if not KpiFormula.objects.exists():
        _DEFAULT_FORMULAS.create(django_apps, None)
    yield
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys=OFF")
            for sql in _IMMUTABILITY.sqlite_backward():
                cursor.execute(sql)
            for table in (
                "ledger_blockevent",
                "ledger_clearing",
                "ledger_openitem",
                "ledger_documentline",
                "ledger_document",
            ):
                cursor.execute(f"DELETE FROM {table}")
            for sql in _IMMUTABILITY.sqlite_forward():
                cursor.execute(sql)
            cursor.execute("PRAGMA foreign_keys=ON")


def _bill(account, amount: int, on: date, due: date, ref: str) -> None:
    do_post_charge(
        account,
        kind="bill",
        lines=[("water", amount, "Agua")],
        document_date=on,
        due_date=due,
        reference=ref,
        actor="test",
    )


@pytest.mark.django_db(transaction=True)
def test_ledger_to_snapshot_to_indicators(committed):
    snapshot = pytest.importorskip("caudal.portfolio.snapshot")
    make_utility("PE")
    a, b, c = make_account(name="Ana"), make_account(name="Beto"), make_account(name="Carla")
    _bill(a, 3000, date(2026, 1, 6), date(2026, 1, 26), "A1")
    _bill(b, 4000, date(2026, 2, 6), date(2026, 2, 26), "B1")
    _bill(a, 2500, date(2026, 3, 6), date(2026, 4, 10), "A2")
    _bill(c, 2000, date(2026, 3, 6), date(2026, 4, 10), "C1")
    do_post_payment(b, amount=1500, payment_date=date(2026, 3, 10), actor="test")  # arrears
    do_post_payment(c, amount=1500, payment_date=date(2026, 3, 15), actor="test")  # current
    do_post_payment(a, amount=1000, payment_date=date(2026, 3, 20), actor="test")  # A1: arrears
    feb, mar = date(2026, 2, 28), date(2026, 3, 31)
    snapshot.take_snapshot(feb, actor="test")  # overdue then: A1 3 000 + B1 4 000
    snapshot.take_snapshot(mar, actor="test")
    kpis.compute_kpis(mar, actor="test")
    rows = {r.code: r for r in kpis.kpi_report(mar)}
    # Open at D: A1 2 000 and B1 2 500 overdue; A2 2 500 and C1 500 not yet due.
    assert rows["cartera_morosa_pct"].inputs == {"overdue": 4500, "receivables": 7500}
    assert rows["cartera_morosa_pct"].value == Decimal("60.000000")
    # March: 4 500 billed (A2, C1); 4 000 collected, 1 500 on current items.
    assert rows["eficiencia_recaudo"].value == Decimal("88.888889")
    assert rows["eficiencia_corriente"].value == Decimal("33.333333")
    assert rows["eficiencia_morosa"].inputs == {"collected_arrears": 2500, "overdue_start": 7000}
    assert rows["eficiencia_morosa"].value == Decimal("35.714286")
    # 7 500 owed over (3 000 + 4 000 + 4 500) / 12 a month.
    assert rows["morosidad_meses"].value == Decimal("7.826087")
    assert rows["ddr_pct"].value == Decimal(0)
    assert rows["participacion_current"].value == Decimal(100)
    assert "participacion_coactiva" not in rows
    assert rows["conexiones_activas_pct"].value == Decimal(100)
    assert rows["micromedicion_pct"].value == Decimal(0)
    assert all(r.computed for r in rows.values())
