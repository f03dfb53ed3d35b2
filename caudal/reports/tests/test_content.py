"""Figures of the management reports, against the hand-worked cartera of conftest.py."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from caudal.portfolio.models import KpiFormula, KpiTarget, KpiValue
from caudal.reports.content import ContentError, build_content, previous_snapshot

from .conftest import AGENCY, BALANCE_ON, BALANCE_PREV, BLOCK_RESPONSIBLE, ON, PREV

pytestmark = pytest.mark.django_db


def total(table) -> dict:
    assert table.total is not None
    return table.total


def rows_by(table, key="name"):
    return {r[key]: r for r in table.rows}


def test_monthly_totals_compare_with_the_previous_month(world):
    c = build_content("monthly", world.snapshot)
    assert c.previous_date == PREV
    balance = c.figure("balance")
    assert (balance.value, balance.previous) == (BALANCE_ON, BALANCE_PREV)
    assert balance.change == BALANCE_ON - BALANCE_PREV
    assert c.figure("accounts").value == 7 and c.figure("accounts").previous == 8
    # Testigos: vigente is the only account with nothing past due (account 1).
    assert c.figure("vigente").value == 5_000
    assert c.figure("vencida").value == BALANCE_ON - 5_000
    assert c.figure("blocked_amount").value == 10_000
    assert not c.notices


def test_monthly_by_stage_keeps_each_responsible_and_sums_to_the_total(world):
    c = build_content("monthly", world.snapshot)
    stages = c.table("stages")
    pairs = [(r["stage"], r["responsible"]) for r in stages.rows]
    # corriente first (policy order reversed); persuasiva split by responsible.
    assert pairs == [
        ("current", "Comercial zona"),
        ("prejuridica", "Prejurídico DJC"),
        ("persuasiva", AGENCY),
        ("persuasiva", "Persuasivo DJC"),
        ("coactiva", "Jurisdicción Coactiva"),
    ]
    by = {(r["stage"], r["responsible"]): r for r in stages.rows}
    assert by[("prejuridica", "Prejurídico DJC")]["balance"] == 29_000
    assert by[("prejuridica", "Prejurídico DJC")]["prev_balance"] == 22_000
    assert by[("persuasiva", "Persuasivo DJC")]["prev_accounts"] == 2  # accounts 3 and 8
    assert by[("coactiva", "Jurisdicción Coactiva")]["balance"] == 117_000
    assert total(stages)["balance"] == BALANCE_ON
    assert total(stages)["prev_balance"] == BALANCE_PREV
    assert total(stages)["share"] == Decimal(100)
    assert sum(r["share"] for r in stages.rows) == pytest.approx(Decimal(100), abs=Decimal("0.3"))


def test_age_buckets_sum_to_the_balance(world):
    for kind in ("monthly", "prelegal", "coercive", "agencies"):
        c = build_content(kind, world.snapshot)
        buckets = c.table("buckets")
        assert sum(r["amount"] for r in buckets.rows) == c.figure("balance").value, kind
        assert total(buckets)["amount"] == c.figure("balance").value
    c = build_content("monthly", world.snapshot)
    by = rows_by(c.table("buckets"), "column")
    assert by["aged_over_360"]["amount"] == 120_000
    assert by["aged_91_180"]["amount"] == 130_000  # accounts 3 and 4
    assert by["credit"]["amount"] == -3_000


def test_use_stratum_and_zone(world):
    c = build_content("monthly", world.snapshot)
    use = {(r["category"], r["stratum"]): r for r in c.table("use_stratum").rows}
    assert use[("Comercial", "")]["balance"] == 94_000  # accounts 3 and 8
    assert use[("Doméstico", "2")]["balance"] == 5_000 + 117_000
    assert use[("Doméstico", "2")]["prev_accounts"] == 3  # 1, 5 and 6
    zones = rows_by(c.table("zones"), "zone")
    assert zones["Z01"]["balance"] + zones["Z02"]["balance"] == BALANCE_ON


def test_blocked_items_by_the_complaints_responsible_with_their_age(world):
    c = build_content("monthly", world.snapshot)
    blocked = c.table("blocked")
    assert len(blocked.rows) == 1
    row = blocked.rows[0]
    assert row["responsible"] == BLOCK_RESPONSIBLE
    assert (row["items"], row["accounts"], row["amount"]) == (1, 1, 10_000)
    assert row["max_blocked_days"] == (ON - date(2025, 5, 20)).days
    assert row["over_30"] == 10_000
    assert row["max_days"] == 29
    assert build_content("coercive", world.snapshot).table("blocked").rows == []


def test_prelegal_report_covers_its_stages_and_their_movement(world):
    c = build_content("prelegal", world.snapshot)
    assert c.stages == ["prejuridica", "persuasiva"]
    assert c.figure("balance").value == 29_000 + 90_000 + 50_000
    assert c.figure("collectible_overdue").value == 29_000 + 80_000 + 50_000
    move = rows_by(c.table("movement"))
    pre, per = move["Cobro prejurídico"], move["Cobro persuasivo"]
    # prejurídica: 2 stayed, 7 came from corriente, 6 paid off.
    assert (pre["stayed"], pre["entered"], pre["entered_value"]) == (1, 1, 9_000)
    assert (pre["moved_out"], pre["cleared"], pre["cleared_value"]) == (0, 1, 7_000)
    # persuasiva: 3 and 4 stayed, 8 went back to corriente with S/ 300 owed then.
    assert (per["stayed"], per["entered"]) == (2, 0)
    assert (per["moved_out"], per["moved_out_value"], per["cleared"]) == (1, 30_000, 0)
    top = c.table("top_debtors").rows
    assert [r["account_number"] for r in top] == ["1003", "1004", "1002", "1007"]
    assert top[0]["blocked_amount"] == 10_000


def test_coercive_and_agency_reports(world):
    c = build_content("coercive", world.snapshot)
    assert c.stages == ["coactiva"]
    assert c.figure("balance").value == 117_000
    assert [r["account_number"] for r in c.table("top_debtors").rows] == ["1005"]
    a = build_content("agencies", world.snapshot)
    assert a.scope == AGENCY
    assert a.figure("balance").value == 50_000
    assert a.figure("accounts").value == 1
    assert [r["responsible"] for r in a.table("stages").rows] == [AGENCY]
    assert a.table("movement").rows[0]["name"] == AGENCY
    assert a.table("movement").rows[0]["stayed"] == 1


def test_agency_report_without_agencies_says_so(world_without_agency):
    a = build_content("agencies", world_without_agency.snapshot)
    assert a.figure("accounts").value == 0
    assert a.table("stages").rows == []
    assert any("agencia" in n for n in a.notices)


def test_without_a_previous_month_there_is_no_comparison(world):
    world.previous.delete()
    c = build_content("monthly", world.snapshot)
    assert c.previous_date is None
    assert c.figure("balance").previous is None
    assert "prev_balance" not in [col.key for col in c.table("stages").columns]
    assert c.notices
    assert build_content("prelegal", world.snapshot).table("movement").rows == []


def test_previous_snapshot_prefers_the_last_monthly_one(world, settings):
    from caudal.portfolio.models import Snapshot, SnapshotStatus

    Snapshot.objects.create(date=date(2025, 6, 15), kind="daily", status=SnapshotStatus.DONE)
    found = previous_snapshot(world.snapshot)
    assert found is not None and found.date == PREV


def test_missing_files_and_unfinished_snapshots_are_refused(world, settings):
    shutil.rmtree(Path(settings.CAUDAL_SNAPSHOT_DIR) / ON.isoformat())
    with pytest.raises(ContentError, match="no están en"):
        build_content("monthly", world.snapshot)
    world.previous.status = "running"
    with pytest.raises(ContentError, match="no está terminado"):
        build_content("monthly", world.previous)


def test_flows_say_sin_datos_without_files_and_group_by_stage_with_them(world, settings):
    c = build_content("monthly", world.snapshot)
    assert c.table("recaudo").rows == [] and "Sin datos" in c.table("recaudo").empty
    assert c.table("agreements").rows == [] and "Sin datos" in c.table("agreements").empty
    folder = Path(settings.CAUDAL_SNAPSHOT_DIR) / ON.isoformat()
    pl.DataFrame(
        {
            "clearing_id": [1, 2, 3, 4],
            "cleared_on": [date(2025, 6, 3), date(2025, 6, 3), date(2025, 6, 9), date(2025, 5, 9)],
            "payment_document_id": [10, 10, 11, 12],
            "account_id": [6, 6, 8, 2],
            "amount": [4_000, 3_000, 30_000, 999],
            "in_arrears": [True, True, True, False],
            "stage": ["prejuridica", "prejuridica", "persuasiva", "prejuridica"],
        }
    ).write_parquet(folder / "recaudo.parquet")
    pl.DataFrame(
        {
            "document_id": [20, 21],
            "account_id": [4, 5],
            "posting_date": [date(2025, 6, 2), date(2025, 1, 2)],
            "amount": [40_000, 100_000],
            "open_amount": [40_000, 60_000],
            "active": [True, True],
            "reversed": [False, False],
            "stage": ["persuasiva", "coactiva"],
        }
    ).write_parquet(folder / "agreements.parquet")
    c = build_content("monthly", world.snapshot)
    recaudo = rows_by(c.table("recaudo"))
    assert recaudo["Cobro prejurídico"]["amount"] == 7_000  # May's row is not this month's
    assert recaudo["Cobro prejurídico"]["payments"] == 1
    assert recaudo["Cobro persuasivo"]["arrears"] == 30_000
    agreements = rows_by(c.table("agreements"))
    assert (agreements["Cobro persuasivo"]["new"], agreements["Cobro persuasivo"]["active"]) == (
        1,
        1,
    )
    assert (agreements["Cobro coactivo"]["new"], agreements["Cobro coactivo"]["open_amount"]) == (
        0,
        60_000,
    )
    coercive = build_content("coercive", world.snapshot)
    assert [r["name"] for r in coercive.table("recaudo").rows] == []
    assert [r["name"] for r in coercive.table("agreements").rows] == ["Cobro coactivo"]


def test_indicators_with_targets_and_traffic_lights(world):
    formula = KpiFormula.objects.filter(code="morosidad_meses").latest("version")
    assert formula.direction == "lower"
    KpiValue.objects.create(snapshot=world.snapshot, formula=formula, value=Decimal("2.5"))
    KpiValue.objects.create(snapshot=world.previous, formula=formula, value=Decimal("2.25"))
    KpiTarget.objects.create(
        code="morosidad_meses", period="2025-06", target=Decimal("2"), tolerance=Decimal("1")
    )
    table = build_content("monthly", world.snapshot).table("indicators")
    row = rows_by(table, "code")["morosidad_meses"]
    assert (row["value"], row["previous"], row["target"]) == (
        Decimal("2.50"),
        Decimal("2.25"),
        Decimal("2.00"),
    )
    assert row["light"] == "amber"
    assert row["name"].endswith("*") == (not formula.confirmed)
    assert "caudal kpis" in table.note  # the other indicators are not computed yet
