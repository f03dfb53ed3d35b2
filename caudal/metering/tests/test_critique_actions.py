"""Decisions on readings: accept, correct, estimate, re-read, bulk; each audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from caudal.audit.models import AuditEvent
from caudal.cadastre.models import Segment
from caudal.kernel.errors import DomainError
from caudal.metering import actions, queries
from caudal.metering.models import BILLABLE_STATUSES, Reading, ReadingStatus
from caudal.metering.runs import run_critique

from .critique_builders import PERIOD, history, jsonmap, metered_account, prev, read

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst(db):
    return User.objects.create_user("analista", password="x")


def critiqued(number: str, delta: int | None, consumptions=(20,) * 6, **kw) -> Reading:
    acc = metered_account(number, **kw)
    last = history(acc, list(consumptions))
    r = read(acc, None if delta is None else last + delta)
    run_critique(PERIOD, actor="test")
    r.refresh_from_db()
    return r


def event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


def test_accept_keeps_the_proposal_and_records_who(utility, analyst):
    r = critiqued("20000001", 95)
    assert (r.status, r.consumption) == ("flagged", 95)
    actions.do_accept_reading(r, actor=analyst, note="Confirmado por teléfono")
    r.refresh_from_db()
    assert (r.status, r.consumption, r.consumption_rule) == ("accepted", 95, "actual")
    assert r.reviewed_by == analyst and r.reviewed_at is not None
    assert r.note == "Confirmado por teléfono"
    e = event("metering.accept_reading")
    assert e.actor == analyst and e.account_id == r.account_id
    assert jsonmap(e.before)["status"] == "flagged" and jsonmap(e.after)["status"] == "accepted"
    assert e.reason == "Confirmado por teléfono"


def test_accept_refuses_twice_and_without_consumption(utility, analyst):
    r = critiqued("20000002", 20)
    actions.do_accept_reading(r, actor=analyst)
    with pytest.raises(DomainError, match="ya fue decidida"):
        actions.do_accept_reading(r, actor=analyst)
    acc = metered_account("20000003")
    fresh = read(acc, 40)
    run_critique(PERIOD, actor="test")
    with pytest.raises(DomainError, match="no hay consumo"):
        actions.do_accept_reading(fresh, actor=analyst)


def test_correct_recomputes_the_consumption(utility, analyst):
    r = critiqued("20000011", -8)  # below previous: proposal is the average
    assert r.flags == "below_previous"
    actions.do_correct_reading(r, value=prev(r) + 23, reason="Foto: 1 dígito mal", actor=analyst)
    r.refresh_from_db()
    assert (r.status, r.consumption, r.consumption_rule, r.flags) == (
        "corrected",
        23,
        "corrected",
        "",
    )
    e = event("metering.correct_reading")
    assert jsonmap(e.before)["value"] == prev(r) - 8
    assert jsonmap(e.after)["value"] == prev(r) + 23
    assert e.reason == "Foto: 1 dígito mal"
    # The run keeps the decision.
    run_critique(PERIOD, actor="test")
    r.refresh_from_db()
    assert (r.status, r.consumption) == ("corrected", 23)


def test_correct_refuses_impossible_values(utility, analyst):
    r = critiqued("20000012", 5)
    with pytest.raises(DomainError, match="motivo"):
        actions.do_correct_reading(r, value=10, reason=" ", actor=analyst)
    with pytest.raises(DomainError, match="menor que la anterior"):
        actions.do_correct_reading(r, value=prev(r) - 50, reason="x", actor=analyst)
    with pytest.raises(DomainError, match="dígitos"):
        actions.do_correct_reading(r, value=100_000, reason="x", actor=analyst)
    with pytest.raises(DomainError, match="entero"):
        actions.do_correct_reading(r, value=-1, reason="x", actor=analyst)
    assert not AuditEvent.objects.filter(action="metering.correct_reading").exists()


def test_estimate_sets_the_volume(utility, analyst):
    r = critiqued("20000021", None)
    actions.do_estimate_reading(r, volume=17, reason="Predio con 2 habitantes", actor=analyst)
    r.refresh_from_db()
    assert (r.status, r.consumption, r.consumption_rule) == ("estimated", 17, "estimated")
    assert jsonmap(event("metering.estimate_reading").after)["consumption"] == 17
    with pytest.raises(DomainError):
        actions.do_estimate_reading(r, volume=-3, reason="x", actor=analyst)


def test_order_reread_holds_the_reading(utility, analyst):
    r = critiqued("20000031", 300)
    actions.do_order_reread(r, reason="Verificar lectura", actor=analyst)
    r.refresh_from_db()
    assert r.status == "reread" and r.note == "Verificar lectura"
    assert ReadingStatus.REREAD not in BILLABLE_STATUSES
    with pytest.raises(DomainError, match="relectura"):
        actions.do_order_reread(r, reason="otra", actor=analyst)
    assert jsonmap(event("metering.order_reread").after)["status"] == "reread"


def test_bulk_accept_a_flag_of_a_route_except_vip(utility, analyst):
    low = [critiqued(f"2000004{i}", 2) for i in range(3)]  # 2 m³ against 20: low (info)
    vip = critiqued("20000049", 2, segment=Segment.VIP)
    high = critiqued("20000050", 90)
    filters = queries.CritiqueFilter(period=PERIOD, flag="low_consumption", route="R01")
    n = actions.do_bulk_accept(filters, actor=analyst, note="Consumos bajos revisados")
    assert n == 3
    for r in low:
        r.refresh_from_db()
        assert (r.status, r.reviewed_by, r.note) == (
            "accepted",
            analyst,
            "Consumos bajos revisados",
        )
    vip.refresh_from_db()
    high.refresh_from_db()
    assert vip.status == "flagged" and high.status == "flagged"
    e = event("metering.bulk_accept")
    assert jsonmap(e.after)["count"] == 3
    assert jsonmap(e.after)["filter"]["anomalia"] == "low_consumption"
    assert sorted(jsonmap(e.after)["ids"]) == sorted(r.pk for r in low)


def test_bulk_reread_of_the_control_sample(utility, analyst):
    rows = [critiqued(f"2000006{i}", 20) for i in range(4)]
    Reading.objects.update(control_sample=False)  # whatever the run drew (ids vary)
    Reading.objects.filter(pk__in=[rows[0].pk, rows[2].pk]).update(control_sample=True)
    filters = queries.CritiqueFilter(period=PERIOD, control_sample=True)
    n = actions.do_bulk_order_reread(filters, actor=analyst, reason="Muestra de control")
    assert n == 2
    assert set(Reading.objects.filter(status="reread").values_list("pk", flat=True)) == {
        rows[0].pk,
        rows[2].pk,
    }
    with pytest.raises(DomainError, match="motivo"):
        actions.do_bulk_order_reread(filters, actor=analyst, reason="")
