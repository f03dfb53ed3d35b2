"""The billing run on a small utility: posting, balance, idempotence, resume, credits, red
bills and messages, simulation, rejected accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count, Q, Sum

from caudal.audit.models import AuditEvent, Run, RunChunk, RunStatus
from caudal.bench.billing_benches import build_utility, calendar_for
from caudal.billing import rules, runs
from caudal.billing.models import Bill
from caudal.cadastre.models import Connection, Route
from caudal.kernel.errors import DomainError
from caudal.ledger import bulk, invariants
from caudal.ledger.models import Clearing, Document, DocumentLine, OpenItem
from caudal.metering.models import ReadingCalendar
from caudal.tariffs.models import TariffVersion

pytestmark = pytest.mark.django_db

COMPARED = (
    "billed",
    "held",
    "rejected",
    "amount",
    "volume_m3",
    "credit_applied",
    "previous_debt",
    "red",
    "cut_warnings",
    "lines",
    "documents",
    "clearings",
    "by_category",
    "by_concept",
    "reasons",
)


@pytest.fixture
def utility(db):
    # 80 accounts, 8 routes in 2 cycles, a lot of debt and credits to exercise the rules.
    return build_utility(
        80, cycles=2, per_route=10, seed=11, debt_share=0.5, credit_share=0.15, held_share=0.08
    )


def test_bills_are_posted_and_balance_with_the_ledger(utility):
    run = runs.run_billing(utility.period, actor="test")
    assert run.status == RunStatus.DONE
    c = run.counts
    bills = Bill.objects.filter(period=utility.period)
    assert bills.count() == c["billed"] > 60
    assert c["billed"] + c["held"] + c["rejected"] == 80
    assert invariants.check_all() == []
    # Each bill's document: kind bill, reference = bill number, lines = bill amount.
    for bill in bills.select_related("document"):
        assert rules.is_valid_reference(bill.payment_reference)
        assert bill.payment_reference.startswith(bill.number)
        if bill.amount == 0:
            assert bill.document_id is None
            continue
        doc = bill.document
        assert doc is not None
        assert doc.kind == "bill" and doc.reference == bill.number
        assert doc.document_date == bill.issue_date == doc.posting_date
        assert doc.amount == bill.amount
        lines = list(DocumentLine.objects.filter(document=doc).order_by("line_no"))
        assert [ln.line_no for ln in lines] == [e["line_no"] for e in bill.lines]
        assert [ln.amount for ln in lines] == [e["amount"] for e in bill.lines]
        assert [ln.concept for ln in lines] == [e["concept"] for e in bill.lines]
        items = OpenItem.objects.filter(document=doc)
        assert items.count() == len(lines)
        assert set(items.values_list("due_date", flat=True)) == {bill.due_date}
        assert bill.total_due == bill.previous_debt + bill.amount - bill.credit_applied
    cal = ReadingCalendar.objects.get(cycle=utility.cycles[0], period=utility.period)
    first = bills.filter(account__cycle=utility.cycles[0]).first()
    assert first is not None
    assert (first.issue_date, first.due_date, first.cut_warning_date) == (
        cal.billing_date,
        cal.due_date,
        cal.cut_warning_date,
    )
    assert first.tariff == utility.tariff
    assert {e["tariff"] for e in first.lines} == {"SEDAPAL-2015 v1"}
    # one chunk per route, each done, and an audit event for the run
    assert RunChunk.objects.filter(run=run, status=RunStatus.DONE).count() == len(utility.routes)
    assert AuditEvent.objects.filter(action="billing.run", object_id=str(run.pk)).exists()


def test_second_run_posts_nothing(utility):
    first = runs.run_billing(utility.period, actor="test")
    documents = Document.objects.count()
    second = runs.run_billing(utility.period, actor="test")
    assert second.pk != first.pk
    assert second.counts["billed"] == 0
    assert second.counts["already_billed"] == first.counts["billed"]
    assert Document.objects.count() == documents
    assert Bill.objects.count() == first.counts["billed"]


def test_a_crashed_run_resumes_without_billing_twice(utility, monkeypatch):
    """A kill in the middle of the third chunk (after its ledger rows, before its bills):
    that chunk is rolled back, the same parameters resume the same run."""
    calls = {"bills": 0}
    real = bulk.insert_columns

    def crash_on_third_bill_insert(cursor, table, columns):
        if table == "billing_bill":
            calls["bills"] += 1
            if calls["bills"] == 3:
                raise KeyboardInterrupt("killed")
        return real(cursor, table, columns)

    monkeypatch.setattr(bulk, "insert_columns", crash_on_third_bill_insert)
    with pytest.raises(KeyboardInterrupt):
        runs.run_billing(utility.period, actor="test")
    run = Run.objects.get(kind="billing")
    assert run.status == RunStatus.RUNNING
    assert RunChunk.objects.filter(run=run, status=RunStatus.DONE).count() == 2
    billed_before = Bill.objects.count()
    assert billed_before > 0
    # nothing of the half-written chunk remains
    assert Document.objects.filter(kind="bill", source=runs.SOURCE).count() == (
        Bill.objects.exclude(document=None).count()
    )
    assert invariants.check_all() == []
    monkeypatch.setattr(bulk, "insert_columns", real)
    resumed = runs.run_billing(utility.period, actor="test")
    assert resumed.pk == run.pk
    assert resumed.status == RunStatus.DONE
    total = Bill.objects.count()
    assert total == resumed.counts["billed"]
    assert Bill.objects.values("account").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    assert Document.objects.filter(kind="bill", source=runs.SOURCE).count() == (
        Bill.objects.exclude(document=None).count()
    )
    assert invariants.check_all() == []


def test_held_and_rejected_accounts_are_listed_with_reasons(utility):
    # one account without any active service, one cycle without calendar
    inactive = utility.accounts["id"][0]
    Connection.objects.filter(account_id=inactive).update(status="removed")
    run = runs.run_billing(utility.period, actor="test")
    problems = [p for chunk in RunChunk.objects.filter(run=run) for p in chunk.errors]
    by_account = {p["account"]: p for p in problems}
    assert by_account[inactive]["reason"] == rules.R_INACTIVE
    assert by_account[inactive]["outcome"] == rules.REJECTED
    held = [p for p in problems if p["outcome"] == rules.HELD]
    assert held and all(p["reason"] == rules.R_READING_HELD for p in held)
    assert all(p["number"] and p["detail"] for p in problems)
    assert run.counts["reasons"][rules.R_INACTIVE] >= 1
    assert len(problems) == run.counts["held"] + run.counts["rejected"]
    assert not Bill.objects.filter(account_id__in=[p["account"] for p in problems]).exists()


def test_cycle_without_calendar_is_rejected_by_account(utility):
    ReadingCalendar.objects.filter(cycle=utility.cycles[1]).delete()
    run = runs.run_billing(utility.period, actor="test")
    in_cycle = Route.objects.filter(cycle=utility.cycles[1]).count() * 10
    assert run.counts["reasons"][rules.R_NO_CALENDAR] == in_cycle
    assert not Bill.objects.filter(account__cycle=utility.cycles[1]).exists()
    assert Bill.objects.filter(account__cycle=utility.cycles[0]).exists()


def test_one_cycle_only(utility):
    run = runs.run_billing(utility.period, cycle="B02", actor="test")
    assert run.counts["billed"] > 0
    assert set(Bill.objects.values_list("account__cycle__code", flat=True)) == {"B02"}


def test_credits_pay_old_debt_first_then_the_new_bill(utility):
    with_credit = set(
        OpenItem.objects.filter(side="C", open_amount__gt=0).values_list("account_id", flat=True)
    )
    assert with_credit
    run = runs.run_billing(utility.period, actor="test")
    assert run.counts["credit_applied"] > 0
    for bill in Bill.objects.filter(account_id__in=with_credit):
        items = OpenItem.objects.filter(account_id=bill.account_id, open_amount__gt=0)
        credit_left = items.filter(side="C").exists()
        debit_left = items.filter(side="D", blocked=False).exists()
        assert not (credit_left and debit_left), bill.account_id  # credits applied eagerly
        if bill.document_id:
            applied = Clearing.objects.filter(document_id=bill.document_id).aggregate(
                t=Sum("amount")
            )["t"]
            assert bill.credit_applied == (applied or 0)
        open_debt = items.filter(side="D", blocked=False).aggregate(t=Sum("open_amount"))["t"] or 0
        assert bill.total_due == open_debt
    assert invariants.check_all() == []


def test_red_bill_and_messages(utility):
    run = runs.run_billing(utility.period, actor="test")
    red = Bill.objects.filter(red=True)
    assert red.count() == run.counts["red"] > 0
    for bill in red:
        assert bill.overdue_bills >= 2
        assert bill.messages[0]["code"] == rules.RED_BILL
    warned = [
        b for b in Bill.objects.all() if any(m["code"] == rules.CUT_WARNING for m in b.messages)
    ]
    assert len(warned) == run.counts["cut_warnings"] > 0
    cal = ReadingCalendar.objects.get(cycle=warned[0].account.cycle, period=utility.period)
    assert cal.cut_warning_date.strftime("%d/%m/%Y") in warned[0].messages[-1]["text"]
    assert Bill.objects.filter(red=False, overdue_bills__lt=2).exists()


def test_red_threshold_is_configurable(utility, settings):
    settings.CAUDAL_BILLING = {"red_threshold": 3}
    runs.run_billing(utility.period, actor="test")
    assert not Bill.objects.filter(red=True, overdue_bills__lt=3).exists()


def test_simulation_posts_nothing_and_equals_the_real_run(utility):
    before = (Document.objects.count(), OpenItem.objects.count(), Clearing.objects.count())
    sim = runs.run_billing(utility.period, simulate=True, actor="test")
    assert sim.status == RunStatus.DRY_RUN
    assert (Document.objects.count(), OpenItem.objects.count(), Clearing.objects.count()) == before
    assert Bill.objects.count() == 0
    real = runs.run_billing(utility.period, actor="test")
    assert real.pk != sim.pk
    for key in COMPARED:
        assert sim.counts[key] == real.counts[key], key
    comparison = sim.counts["comparison"]
    assert comparison["current"]["accounts"] == real.counts["billed"]
    assert comparison["current"]["amount"] == real.counts["amount"]
    assert comparison["previous"]["accounts"] == 0  # nothing billed by the run before


def test_simulation_compares_with_the_previous_period(utility):
    runs.run_billing(utility.period, actor="test")
    nxt = "2026-11"
    for cycle in utility.cycles:
        calendar_for(cycle, nxt)
    # no readings for next period: the metered accounts are held, the others billed again
    sim = runs.run_billing(nxt, simulate=True, actor="test")
    comparison = sim.counts["comparison"]
    assert comparison["previous_period"] == utility.period
    assert comparison["previous"]["accounts"] == Bill.objects.count()
    assert comparison["missing_accounts"] > 0
    assert sim.counts["reasons"][rules.R_NO_READING] > 0


def test_cut_accounts_pay_the_fixed_charge_only(utility, settings):
    cut = int(utility.accounts["id"][5])
    Connection.objects.filter(account_id=cut).update(status="cut")
    runs.run_billing(utility.period, actor="test")
    bill = Bill.objects.get(account_id=cut)
    assert bill.consumption == 0 and bill.consumption_rule == rules.CUT
    assert {e["concept"] for e in bill.lines} <= {"fixed", "tax"}
    assert bill.amount > 0


def test_cut_accounts_skipped_when_the_policy_says_so(utility, settings):
    settings.CAUDAL_BILLING = {"fixed_charge_when_cut": False}
    cut = int(utility.accounts["id"][5])
    Connection.objects.filter(account_id=cut).update(status="cut")
    run = runs.run_billing(utility.period, actor="test")
    assert not Bill.objects.filter(account_id=cut).exists()
    assert run.counts["reasons"][rules.R_SERVICE_CUT] >= 1


def test_no_tariff_fails_with_a_clear_message(utility):
    TariffVersion.objects.update(valid_from=utility.tariff.valid_from + timedelta(days=5000))
    with pytest.raises(DomainError, match="No hay tarifa vigente"):
        runs.run_billing(utility.period, actor="test")
    run = Run.objects.get(kind="billing")
    assert run.status == RunStatus.FAILED
    assert "tarifa" in run.errors[0]["detail"]
    # once the tariff is there, the same command resumes the failed run and finishes it
    TariffVersion.objects.update(valid_from=utility.tariff.valid_from)
    again = runs.run_billing(utility.period, actor="test")
    assert again.pk == run.pk and again.status == RunStatus.DONE and again.errors == []


def test_bad_parameters(utility):
    with pytest.raises(DomainError, match="Periodo no válido"):
        runs.run_billing("2026-13", actor="test")
    with pytest.raises(DomainError, match="No existe el ciclo"):
        runs.run_billing(utility.period, cycle="ZZ", actor="test")
    assert not Run.objects.exists()


def test_unresolved_readings_billed_by_average_when_asked(utility):
    run = runs.run_billing(utility.period, hold_unresolved=False, actor="test")
    assert run.counts["held"] == 0
    assert Bill.objects.filter(consumption_rule="average").exists()


def test_progress_callback_and_counts(utility):
    seen: list[tuple[int, int]] = []
    run = runs.run_billing(
        utility.period, actor="test", progress=lambda done, total, c: seen.append((done, total))
    )
    assert seen[-1] == (len(utility.routes), len(utility.routes))
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)
    assert run.counts["chunks"] == run.counts["chunks_done"] == len(utility.routes)
    assert sum(r["accounts"] for r in run.counts["by_category"]) == run.counts["billed"]


def test_account_billed_meanwhile_is_skipped_in_its_chunk(utility, monkeypatch):
    """Between the plan and the chunk, another process bills an account: skipped."""
    from caudal.billing import queries

    real = queries.billed_accounts
    target = int(utility.accounts["id"][1])

    def pretend(cursor, period, account_ids=None):
        found = real(cursor, period, account_ids)
        if account_ids is not None and target in account_ids:
            found = found | {target}
        return found

    monkeypatch.setattr(queries, "billed_accounts", pretend)
    run = runs.run_billing(utility.period, actor="test")
    assert run.counts["already_billed"] == 1
    assert not Bill.objects.filter(account_id=target).exists()
    assert invariants.check_all() == []


def test_bill_rows_match_the_readings(utility):
    runs.run_billing(utility.period, actor="test")
    metered = Bill.objects.filter(consumption_rule="actual").exclude(meter_serial="")
    assert metered.exists()
    for bill in metered[:10]:
        assert bill.current_reading is not None and bill.previous_reading is not None
        assert bill.current_reading - bill.previous_reading == bill.consumption
    assigned = Bill.objects.filter(consumption_rule="assigned")
    assert assigned.exists()
    assert all(b.consumption == 20 * b.units for b in assigned.filter(category="domestic"))
    assert Bill.objects.filter(
        Q(consumption_rule="minimum") | Q(consumption_rule="assigned")
    ).exists()


def test_a_route_without_accounts_does_not_stop_the_run(utility):
    Route.objects.create(code="EMPTY", sector=utility.routes[0].sector, cycle=utility.cycles[0])
    run = runs.run_billing(utility.period, actor="test")
    assert run.status == RunStatus.DONE


def test_deferred_balance_trigger_accepts_the_bulk_documents(utility):
    """PostgreSQL checks every inserted document's balance at commit (a deferred constraint
    trigger); fire it now inside the test transaction."""
    from django.db import connection

    runs.run_billing(utility.period, actor="test")
    if connection.vendor != "postgresql":
        pytest.skip("the deferred trigger exists on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert Document.objects.filter(kind="bill").exists()


def test_route_with_accounts_of_two_cycles_posts_each_on_its_billing_date(utility):
    """An account whose cycle differs from its route's: its bill takes its own cycle's
    dates; the route's chunk posts one batch per billing date."""
    from caudal.cadastre.models import Account

    other = utility.cycles[1]
    cal = ReadingCalendar.objects.get(cycle=other, period=utility.period)
    cal.billing_date += timedelta(days=2)
    cal.save()
    moved = int(utility.accounts["id"][0])  # route B00001 belongs to the first cycle
    Account.objects.filter(pk=moved).update(cycle=other)
    runs.run_billing(utility.period, actor="test")
    bill = Bill.objects.get(account_id=moved)
    assert bill.issue_date == cal.billing_date
    neighbour = Bill.objects.filter(route=bill.route).exclude(account_id=moved).first()
    assert neighbour is not None and neighbour.issue_date != cal.billing_date
    assert invariants.check_all() == []
