"""The critique run on a small database: flags, created rows, idempotence, decisions kept,
the SQL history summary, the control sample, the Run record and the command."""

from __future__ import annotations

import io
import json
import random
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from caudal.audit.models import AuditEvent, Run
from caudal.cadastre.models import ConnectionStatus, Cycle, Meter, Segment, UseCategory
from caudal.cadastre.testing import make_route
from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period
from caudal.metering import queries, rules
from caudal.metering.models import Reading, ReadingStatus
from caudal.metering.runs import run_critique

from .critique_builders import PERIOD, current_meter, history, jsonmap, metered_account, read

pytestmark = pytest.mark.django_db

FIELDS = (
    "account_id",
    "status",
    "flags",
    "consumption",
    "consumption_rule",
    "average",
    "previous_value",
    "meter_id",
    "control_sample",
)


def state() -> list[tuple]:
    return list(Reading.objects.filter(period=PERIOD).order_by("account_id").values_list(*FIELDS))


def reading_of(account) -> Reading:
    return Reading.objects.get(account=account, period=PERIOD)


def test_plain_reading_is_ok_and_billed_by_difference(utility):
    acc = metered_account("10000001")
    last = history(acc, [18, 20, 22, 20, 18, 22])
    read(acc, last + 21)
    run = run_critique(PERIOD, actor="test")
    r = reading_of(acc)
    assert (r.status, r.flags, r.consumption, r.consumption_rule) == ("ok", "", 21, "actual")
    assert r.average == 20
    assert r.previous_value == last
    assert r.meter_id == current_meter(acc).pk
    assert run.counts["statuses"] == {"ok": 1}
    assert run.kind == "critique" and run.status == "done"


def test_flags_on_the_database_path(utility):
    """A handful of anomalies through the SQL loaders, not only the pure rules."""
    high = metered_account("10000002")
    below = metered_account("10000003")
    cut = metered_account("10000004", water=ConnectionStatus.CUT)
    vip = metered_account("10000005", segment=Segment.VIP, category=UseCategory.COMMERCIAL)
    roll = metered_account("10000006", digits=4)
    fresh = metered_account("10000007")
    read(high, history(high, [20] * 6) + 90)
    read(below, history(below, [20] * 6) - 5)
    read(cut, history(cut, [0, 0, 0]) + 7)
    read(vip, history(vip, [100] * 6) + 101)
    history(roll, [30] * 6, start=9_790)  # last value 9,970 on a 4-digit dial
    read(roll, 12)
    read(fresh, 35)
    run_critique(PERIOD, actor="test")
    assert reading_of(high).flags == "high_consumption"
    assert reading_of(high).consumption == 90
    r = reading_of(below)
    assert (r.flags, r.consumption, r.consumption_rule, r.status) == (
        "below_previous",
        20,
        "average",
        "flagged",
    )
    assert "consumption_on_cut" in rules.split_flags(reading_of(cut).flags)
    r = reading_of(vip)
    assert (r.flags, r.status, r.consumption) == ("vip_review", "flagged", 101)
    r = reading_of(roll)
    assert (r.flags, r.status, r.consumption) == ("rollover", "ok", 42)
    r = reading_of(fresh)
    assert rules.split_flags(r.flags) == ["no_previous_reading", "no_history", "undetermined"]
    assert r.consumption is None and r.status == "flagged"


def test_creates_not_read_rows_for_metered_active_accounts_only(utility):
    missing = metered_account("10000011")
    history(missing, [10, 12, 14, 10, 12, 14])
    unmetered = metered_account("10000012", meter=False)
    cut = metered_account("10000013", water=ConnectionStatus.CUT)
    run = run_critique(PERIOD, actor="test")
    r = reading_of(missing)
    assert rules.split_flags(r.flags) == ["not_read", "no_observation"]
    assert (r.status, r.consumption, r.consumption_rule, r.source) == (
        "flagged",
        12,
        "average",
        "system",
    )
    assert r.route_id == missing.property.route_id
    assert r.value is None and r.previous_value == 1072
    assert not Reading.objects.filter(account__in=[unmetered, cut], period=PERIOD).exists()
    assert run.counts["created"] == 1


def test_running_twice_gives_the_same_state_and_writes_nothing(utility):
    for i in range(8):
        acc = metered_account(f"1000010{i}")
        last = history(acc, [10 + i, 12, None, 14, 16, 18][: 3 + i % 4])
        if i % 3:
            read(acc, last + 5 * i)
    first = run_critique(PERIOD, actor="test")
    before = state()
    second = run_critique(PERIOD, actor="test")
    assert state() == before
    assert second.counts["updated"] == 0 and second.counts["created"] == 0
    assert second.counts["unchanged"] == first.counts["readings"]
    assert second.counts["flags"] == first.counts["flags"]


def test_decided_readings_are_never_overwritten(utility):
    decided = {}
    for i, status in enumerate(
        [
            ReadingStatus.ACCEPTED,
            ReadingStatus.CORRECTED,
            ReadingStatus.ESTIMATED,
            ReadingStatus.REREAD,
        ]
    ):
        acc = metered_account(f"1000020{i}")
        last = history(acc, [20] * 6)
        r = read(acc, last + 500, status=status)
        Reading.objects.filter(pk=r.pk).update(
            flags="high_consumption", consumption=33, consumption_rule="estimated"
        )
        decided[r.pk] = (status, "high_consumption", 33, "estimated")
    run = run_critique(PERIOD, actor="test")
    for pk, expected in decided.items():
        r = Reading.objects.get(pk=pk)
        assert (r.status, r.flags, r.consumption, r.consumption_rule) == expected
    assert run.counts["decided"] == 4
    assert run.counts["statuses"] == {"accepted": 1, "corrected": 1, "estimated": 1, "reread": 1}


def test_a_new_value_after_a_decision_made_pending_is_critiqued_again(utility):
    acc = metered_account("10000301")
    last = history(acc, [20] * 6)
    r = read(acc, last + 200)
    run_critique(PERIOD, actor="test")
    assert reading_of(acc).status == "flagged"
    # The re-read arrives (the capture side stores it as pending).
    Reading.objects.filter(pk=r.pk).update(value=last + 22, status="pending")
    run_critique(PERIOD, actor="test")
    r = reading_of(acc)
    assert (r.status, r.flags, r.consumption) == ("ok", "", 22)


def test_catch_up_after_periods_billed_by_average(utility):
    acc = metered_account("10000401")
    last = history(acc, [20, 20, 20, 20, None, None])  # two unread periods billed 10 each
    read(acc, last + 50)
    run_critique(PERIOD, actor="test")
    r = reading_of(acc)
    assert r.previous_value == last
    assert r.consumption == 30  # 50 read since the last reading − 20 already billed
    assert "catch_up" in rules.split_flags(r.flags)


def test_meter_change_uses_the_average(utility):
    acc = metered_account("10000501")
    last = history(acc, [15] * 6)
    old = current_meter(acc)
    old.removed_on = date(2026, 6, 20)
    old.status = "removed"
    old.save()
    Meter.objects.create(account=acc, serial="NEW-1", digits=5, installed_on=date(2026, 6, 20))
    read(acc, 12, previous_value=last)
    run_critique(PERIOD, actor="test")
    r = reading_of(acc)
    assert "meter_changed" in rules.split_flags(r.flags)
    assert (r.consumption, r.consumption_rule, r.status) == (15, "average", "flagged")


def test_cycle_limits_the_run(utility):
    a = metered_account("10000601")
    b = metered_account("10000602")
    other = Cycle.objects.create(code="C02", name="Ciclo 2")
    b.cycle = other
    b.save()
    history(a, [10] * 6)
    history(b, [10] * 6)
    run = run_critique(PERIOD, cycle="C02", actor="test")
    assert Reading.objects.filter(period=PERIOD, account=b).exists()
    assert not Reading.objects.filter(period=PERIOD, account=a).exists()
    assert run.counts["cycle"] == "C02" and run.counts["readings"] == 1


def test_unknown_cycle_and_bad_period_are_refused(utility):
    with pytest.raises(DomainError, match="ciclo"):
        run_critique(PERIOD, cycle="NOPE", actor="test")
    with pytest.raises(DomainError, match="AAAA-MM"):
        run_critique("2026/07", actor="test")


def test_control_sample_is_reproducible_and_only_read_readings(utility):
    accounts = [metered_account(f"1000070{i:02d}") for i in range(40)]
    for i, acc in enumerate(accounts):
        last = history(acc, [10] * 6)
        if i % 4:
            read(acc, last + 10)
    config = rules.CritiqueConfig(control_sample_percent=rules.Decimal("50"))
    run = run_critique(PERIOD, actor="test", config=config)
    sampled = set(
        Reading.objects.filter(period=PERIOD, control_sample=True).values_list(
            "account_id", flat=True
        )
    )
    assert sampled
    assert all(Reading.objects.get(account_id=a, period=PERIOD).value is not None for a in sampled)
    expected = {
        a.pk
        for i, a in enumerate(accounts)
        if i % 4 and rules.in_control_sample(a.pk, PERIOD, config)
    }
    assert sampled == expected
    assert run.counts["control_sample"] == len(expected)
    run_critique(PERIOD, actor="test", config=config)
    assert (
        set(
            Reading.objects.filter(period=PERIOD, control_sample=True).values_list(
                "account_id", flat=True
            )
        )
        == sampled
    )


def test_run_is_recorded_with_counts_per_flag_and_audited(utility):
    acc = metered_account("10000801")
    history(acc, [20] * 6)
    run = run_critique(PERIOD, actor="test")
    assert run.counts["flags"] == {"not_read": 1, "no_observation": 1}
    assert run.counts["held_by_flag"] == {"not_read": 1, "no_observation": 1}
    assert run.parameters["period"] == PERIOD
    assert run.parameters["config"]["average_periods"] == 6
    event = AuditEvent.objects.get(action="metering.critique")
    assert event.object_id == str(run.pk)
    assert jsonmap(event.after)["readings"] == 1


def test_sql_history_summary_equals_the_pure_summary(utility):
    """Random histories: the packed SQL aggregate and ``rules.summarize_history`` agree."""
    rng = random.Random(7)
    config = rules.CritiqueConfig()
    period = Period.parse(PERIOD)
    codes = queries.history_codes(period, config.history_periods)
    accounts = [metered_account(f"1000090{i:02d}") for i in range(60)]
    meter_ids = list(Meter.objects.values_list("id", flat=True))
    for acc in accounts:
        for code in codes:
            if rng.random() < 0.2:
                continue
            value = rng.choice([None, None, 2**31, *range(0, 60)])
            Reading.objects.create(
                account=acc,
                period=code,
                route=acc.property.route,
                meter_id=rng.choice([*meter_ids[:3], None]),
                value=value,
                previous_value=rng.choice([None, value, 5]),
                status=rng.choice(["ok", "accepted", "flagged", "estimated", "reread"]),
                consumption=rng.choice([None, 0, 7, 30]),
                consumption_rule=rng.choice(["actual", "average", "estimated", "corrected"]),
            )
    # A period outside the window is ignored.
    Reading.objects.create(
        account=accounts[0], period=period.shift(-9).code, route=accounts[0].property.route,
        value=1, status="ok", consumption=99,
    )  # fmt: skip
    for measured, wide in ((False, False), (True, False), (False, True)):
        cfg = rules.CritiqueConfig(average_measured_only=measured, average_periods=4 + measured)
        window = queries.history_codes(period, cfg.history_periods)
        with connection.cursor() as cursor:
            if wide:  # meter ids too large to pack next to the value: own aggregate
                sql = queries.history_sql(window, cfg, None, wide_meters=True)
                raw = queries.read_frame(cursor, sql, [1, 10**9], queries.HISTORY_SCHEMA)
                frame = queries.unpack_history(raw, wide_meters=True)
            else:
                frame = queries.load_history(cursor, window, cfg, 1, 10**9, None)
        got = {row["account_id"]: row for row in frame.to_dicts()}
        for acc in accounts:
            expected = rules.summarize_history(
                queries.history_rows(acc.pk, period, cfg.history_periods), cfg
            )
            row = got.get(acc.pk)
            if row is None:
                assert expected == rules.HistorySummary()
                continue
            row.pop("account_id")
            assert rules.HistorySummary(**row) == expected, acc.pk


def test_read_frame_handles_nulls_and_empty_results(utility):
    import polars as pl

    schema = {"a": pl.Int64, "b": pl.String}
    with connection.cursor() as cursor:
        empty = queries.read_frame(cursor, "SELECT 1 AS a, 'x' AS b WHERE 1 = 0", [], schema)
        one = queries.read_frame(cursor, "SELECT NULL AS a, 'ok,flag' AS b", [], schema)
    assert empty.height == 0 and empty.schema == pl.Schema(schema)
    assert one.to_dicts() == [{"a": None, "b": "ok,flag"}]


def test_command_json_and_text(utility):
    acc = metered_account("10001001")
    read(acc, history(acc, [20] * 6) + 20)
    out = io.StringIO()
    call_command("critique", "--period", PERIOD, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["readings"] == 1 and data["statuses"] == {"ok": 1}
    assert Run.objects.get(pk=data["run"]).kind == "critique"
    out = io.StringIO()
    call_command("critique", "--period", PERIOD, stdout=out)
    assert "Crítica 2026-07" in out.getvalue()
    assert "1 sin cambios" in out.getvalue()


def test_command_errors(utility, tmp_path):
    with pytest.raises(CommandError, match="AAAA-MM"):
        call_command("critique", "--period", "julio")
    with pytest.raises(CommandError, match="ciclo"):
        call_command("critique", "--period", PERIOD, "--cycle", "ZZ")
    bad = tmp_path / "c.yaml"
    bad.write_text("vip_factor: 0.5\n", encoding="utf-8")
    with pytest.raises(CommandError, match="vip_factor"):
        call_command("critique", "--period", PERIOD, "--config", str(bad))
    bad.write_text("nonsense: 1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="nonsense"):
        call_command("critique", "--period", PERIOD, "--config", str(bad))
    good = tmp_path / "ok.yaml"
    good.write_text("severity: {not_read: info}\naverage_periods: 3\n", encoding="utf-8")
    make_route()
    out = io.StringIO()
    call_command("critique", "--period", PERIOD, "--config", str(good), "--json", stdout=out)
    assert json.loads(out.getvalue())["readings"] == 0


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_history_is_read_on_a_second_connection(monkeypatch):
    """The run's parallel path (history summary on its own connection, in a thread)."""
    from caudal.cadastre.testing import make_utility
    from caudal.metering import runs

    used: list[bool] = []
    real = runs._history_on_own_connection

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        used.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "_spare_core", lambda: True)
    monkeypatch.setattr(runs, "_history_on_own_connection", spy)
    make_utility()
    acc = metered_account("10002001")
    last = history(acc, [20, 20, None, 20, 20, 20])
    read(acc, last + 90)
    fresh = metered_account("10002002")
    history(fresh, [10] * 6)
    run = run_critique(PERIOD, actor="test")
    r = reading_of(acc)
    assert (r.status, r.flags, r.consumption, r.average) == ("flagged", "high_consumption", 90, 18)
    assert run.counts["created"] == 1
    assert reading_of(fresh).consumption == 10
    assert used == [True]
