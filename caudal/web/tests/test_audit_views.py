"""Audit pages: the trail of a user (manager and auditor only) and readable diffs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from caudal.audit.actions import record
from caudal.web import audit_display

pytestmark = pytest.mark.django_db


def test_diff_flags_changed_fields_and_formats_money():
    changes = audit_display.diff(
        {"blocked": False, "amount": 12345, "same": "x"},
        {"blocked": True, "amount": 12345, "same": "x", "case_ref": "PQR-1"},
        "PEN",
    )
    by_field = {c.field: c for c in changes}
    assert by_field["bloqueada"].before == "no" or by_field["bloqueada"].before == "No"
    assert by_field["bloqueada"].changed
    assert by_field["importe"].after == "S/ 123.45"
    assert not by_field["importe"].changed
    assert by_field["reclamo / expediente"].before == ""
    assert by_field["reclamo / expediente"].after == "PQR-1"


def test_field_labels_come_from_the_model():
    changes = audit_display.diff(
        {"mobile": ""}, {"mobile": "+51 9"}, "PEN", object_type="cadastre.customer"
    )
    assert changes[0].field == "celular"
    assert audit_display.field_label("whatever_key", "nope.nothing") == "whatever key"


def test_unknown_action_gets_a_readable_label():
    assert audit_display.action_label("fieldwork.close_order") == "Close order"
    assert audit_display.action_label("ledger.post_payment") == "Pago registrado"


def test_user_audit_page(login, make_user, rich_account):
    clerk = make_user("cashier", username="cajero1", first_name="Carla", last_name="Ríos")
    record(
        actor=clerk,
        action="ledger.post_payment",
        object_type="ledger.document",
        object_id=77,
        account_id=rich_account.pk,
        after={"amount": -5000, "reference": "REC-001"},
        reason="Pago en ventanilla",
    )
    record(actor="billing-run", action="ledger.post_charge", object_type="ledger.document")
    response = login("auditor").get("/auditoria/usuarios/cajero1/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Pago en ventanilla" in body
    assert "REC-001" in body
    assert "Pago registrado" in body
    assert 'href="/suministros/40012345/"' in body
    rows = response.context["page"].rows
    assert [r.event.actor_id for r in rows] == [clerk.pk]


def test_user_audit_pages_backwards(login, make_user):
    clerk = make_user("cashier", username="cajero2")
    for i in range(60):
        record(actor=clerk, action="ledger.adjust", object_type="x", object_id=i)
    client = login("manager")
    first = client.get("/auditoria/usuarios/cajero2/").context["page"]
    assert len(first.rows) == 50 and first.next_cursor
    second = client.get("/auditoria/usuarios/cajero2/", {"antes": first.next_cursor}).context[
        "page"
    ]
    assert len(second.rows) == 10 and second.next_cursor is None
    ids = [r.event.object_id for r in first.rows + second.rows]
    assert ids == [str(i) for i in reversed(range(60))]


def test_unknown_user_is_404(login):
    assert login("manager").get("/auditoria/usuarios/nobody/").status_code == 404


def test_user_list(login, make_user):
    make_user("billing_analyst", username="fact1")
    response = login("auditor").get("/auditoria/usuarios/")
    body = response.content.decode()
    assert "fact1" in body
    assert "Analista de facturación" in body
    assert User.objects.count() == 2
