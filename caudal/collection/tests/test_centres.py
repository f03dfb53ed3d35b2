"""Creating and editing centres and points: validation per field, audit before/after."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from caudal.audit.models import AuditEvent
from caudal.collection import actions
from caudal.collection.centres import (
    CentreError,
    centre_form_values,
    do_save_centre,
    do_save_point,
)
from caudal.collection.models import AmountRule, Centre, PaymentPoint
from caudal.collection.testing import make_centre

pytestmark = pytest.mark.django_db

GOOD = {
    "code": "car-sur",
    "name": "Centro Autorizado Sur",
    "kind": "car",
    "tax_id": "20601234567",
    "amount_rule": "exact",
    "commission_fixed": "0.50",
    "commission_percent": "1,5",
    "commission_minimum": "0.80",
    "commission_deducted": "on",
    "deposit_account": "BCP 215-1234567-0-12",
    "deposit_days": "1",
    "deposit_time": "10:30",
    "active": "on",
}


def test_create_centre_converts_units_and_audits(utility):
    centre = do_save_centre(GOOD, actor="jefa")
    centre.refresh_from_db()
    assert centre.code == "CAR-SUR"
    assert (centre.commission_fixed, centre.commission_minimum) == (50, 80)
    assert centre.commission_rate == Decimal("0.01500")
    assert centre.commission_deducted and centre.active
    assert centre.deposit_time == time(10, 30) and centre.deposit_days == 1
    event = AuditEvent.objects.get(action="collection.create_centre")
    assert event.actor_label == "jefa"
    assert (event.after or {})["commission_rate"] == "0.01500"
    assert (event.after or {})["deposit_time"] == "10:30"
    assert event.before is None


def test_every_bad_field_is_reported_in_spanish(utility):
    make_centre("CAR01")
    bad = {
        "code": "car01",
        "name": "",
        "kind": "kiosk",
        "tax_id": "RUC-ABC",
        "amount_rule": "most",
        "commission_fixed": "0.505",
        "commission_percent": "150",
        "commission_minimum": "-1",
        "deposit_account": "",
        "deposit_days": "dos",
        "deposit_time": "25:00",
    }
    with pytest.raises(CentreError) as exc:
        do_save_centre(bad, actor="jefa")
    errs = exc.value.errors
    assert set(errs) == {
        "code",
        "name",
        "kind",
        "tax_id",
        "amount_rule",
        "commission_fixed",
        "commission_percent",
        "commission_minimum",
        "deposit_days",
        "deposit_time",
    }
    assert "Ya existe un centro con el código CAR01" in errs["code"]
    assert errs["name"] == "Indique el nombre del centro."
    assert "2 decimales" in errs["commission_fixed"]
    assert "entre 0 y 100" in errs["commission_percent"]
    assert "HH:MM" in errs["deposit_time"]
    assert Centre.objects.count() == 1
    assert not AuditEvent.objects.filter(action="collection.create_centre").exists()


def test_a_car_needs_a_deposit_account_a_bank_does_not(utility):
    with pytest.raises(CentreError) as exc:
        do_save_centre({**GOOD, "deposit_account": ""}, actor="jefa")
    assert set(exc.value.errors) == {"deposit_account"}
    bank = do_save_centre({**GOOD, "code": "BCP", "kind": "bank", "deposit_account": ""}, actor="j")
    assert bank.kind == "bank"


def test_percent_with_more_than_three_decimals_is_refused(utility):
    with pytest.raises(CentreError) as exc:
        do_save_centre({**GOOD, "commission_percent": "1.2345"}, actor="j")
    assert "3 decimales" in exc.value.errors["commission_percent"]
    ok = do_save_centre({**GOOD, "commission_percent": "1.234%"}, actor="j")
    ok.refresh_from_db()
    assert ok.commission_rate == Decimal("0.01234")


def test_edit_records_only_what_changed(utility):
    centre = do_save_centre(GOOD, actor="jefa")
    values = centre_form_values(centre, "PEN")
    assert values["commission_percent"] == "1.5"
    assert values["commission_fixed"] == "0.50"
    edited = do_save_centre(
        {**values, "commission_minimum": "1.00", "deposit_time": "12:00"},
        actor="gerente",
        centre=centre,
    )
    assert edited.commission_minimum == 100
    event = AuditEvent.objects.get(action="collection.update_centre")
    assert event.before == {"commission_minimum": 80, "deposit_time": "10:30"}
    assert event.after == {"commission_minimum": 100, "deposit_time": "12:00", "centre": "CAR-SUR"}
    # saving the same values again records nothing
    do_save_centre(centre_form_values(edited, "PEN"), actor="gerente", centre=edited)
    assert AuditEvent.objects.filter(action="collection.update_centre").count() == 1


def test_missing_keys_keep_current_values_and_checkbox_false_deactivates(utility):
    centre = do_save_centre(GOOD, actor="jefa")
    edited = do_save_centre(
        {"name": "CAR Sur (nuevo local)", "active": False}, actor="j", centre=centre
    )
    assert edited.name == "CAR Sur (nuevo local)"
    assert not edited.active
    assert edited.commission_fixed == 50 and edited.code == "CAR-SUR"


def test_code_cannot_change_once_the_centre_has_payments(account):
    centre = make_centre("CAR01", amount_rule=AmountRule.ANY)
    do_save_centre({"code": "CAR09"}, actor="j", centre=centre)  # no payments yet: allowed
    centre.refresh_from_db()
    actions.do_post_centre_payment(centre=centre, reference=account.number, amount=100, actor="c")
    with pytest.raises(CentreError) as exc:
        do_save_centre({"code": "CAR10"}, actor="j", centre=centre)
    assert "no se puede cambiar" in exc.value.errors["code"]


def test_colombian_pesos_commission(utility):
    centre = do_save_centre(
        {**GOOD, "commission_fixed": "350", "commission_minimum": "1200.50"},
        actor="j",
        currency="COP",
    )
    assert (centre.commission_fixed, centre.commission_minimum) == (35_000, 120_050)


def test_points_create_edit_and_unique_code(utility):
    centre = make_centre("CAR01", points=0)
    point = do_save_point(
        centre, {"code": "p01", "name": "Agencia Mercado", "address": "Jr. Ayacucho 245"}, actor="j"
    )
    assert (point.code, point.active) == ("P01", True)
    with pytest.raises(CentreError) as exc:
        do_save_point(centre, {"code": "P01", "name": "Otra"}, actor="j")
    assert "ya tiene un punto de pago P01" in exc.value.errors["code"]
    with pytest.raises(CentreError) as exc:
        do_save_point(centre, {"code": "", "name": ""}, actor="j")
    assert set(exc.value.errors) == {"code", "name"}
    other = make_centre("CAR02", points=0)
    do_save_point(other, {"code": "P01", "name": "Misma clave, otro centro"}, actor="j")
    edited = do_save_point(centre, {"active": ""}, actor="k", point=point)
    assert not edited.active
    event = AuditEvent.objects.get(action="collection.update_point")
    assert event.before == {"active": True}
    assert event.after == {"active": False, "centre": "CAR01"}
    assert AuditEvent.objects.filter(action="collection.create_point").count() == 2
    with pytest.raises(CentreError):
        do_save_point(other, {"name": "x"}, actor="j", point=point)
    assert PaymentPoint.objects.count() == 2
