"""Single-record cadastre actions (audited, atomic)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from caudal.audit.models import AuditEvent
from caudal.cadastre.actions import do_change_connection_status, do_replace_meter, do_update_contact
from caudal.cadastre.imports import import_cadastre
from caudal.cadastre.models import Account, Connection, Meter
from caudal.kernel.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(peru, examples):
    assert import_cadastre(examples / "cadastre.csv", actor="test").committed


def test_status_change_appends_history(loaded):
    water = Connection.objects.get(account__number="01000104", service="water")
    change = do_change_connection_status(
        water, status="activa", on=date(2025, 2, 1), reason="Pagó la deuda", actor="cajero"
    )
    water.refresh_from_db()
    assert (water.status, water.status_since) == ("active", date(2025, 2, 1))
    assert (change.previous_status, change.status) == ("cut", "active")
    assert list(water.history.order_by("effective_on").values_list("status", flat=True)) == [
        "cut",
        "active",
    ]
    event = AuditEvent.objects.get(action="cadastre.change_connection_status")
    assert event.before == {"status": "cut", "status_since": "2025-01-15"}
    assert event.account_id == water.account_id


@pytest.mark.parametrize(
    ("status", "on", "reason", "message"),
    [
        ("cortada", date(2025, 2, 1), "x", "ya está en estado"),
        ("activa", date(2025, 1, 1), "x", "anterior al estado vigente"),
        ("conectada", date(2025, 2, 1), "x", "estado no válido"),
        ("activa", date(2025, 2, 1), " ", "motivo"),
    ],
)
def test_status_change_refusals(loaded, status, on, reason, message):
    water = Connection.objects.get(account__number="01000104", service="water")
    with pytest.raises(DomainError, match=message):
        do_change_connection_status(water, status=status, on=on, reason=reason, actor="t")
    with pytest.raises(DomainError, match="futuro"):
        do_change_connection_status(
            water,
            status="activa",
            on=timezone.localdate() + timedelta(days=1),
            reason="x",
            actor="t",
        )


def test_replace_meter(loaded):
    account = Account.objects.get(number="01000101")
    meter = do_replace_meter(
        account, serial="IT25000001", installed_on=date(2025, 3, 3), actor="campo"
    )
    old = Meter.objects.get(serial="ZN19001234")
    assert (old.removed_on, old.status) == (date(2025, 3, 3), "removed")
    assert (meter.removed_on, meter.digits, meter.diameter) == (None, 5, "1/2")
    with pytest.raises(DomainError, match="ya está instalado"):
        do_replace_meter(account, serial="IT25000001", installed_on=date(2025, 3, 4), actor="campo")
    with pytest.raises(DomainError, match="antes que el actual"):
        do_replace_meter(account, serial="X1", installed_on=date(2025, 1, 1), actor="campo")
    no_meter = Account.objects.get(number="01000105")
    first = do_replace_meter(no_meter, serial="NEW1", installed_on=date(2025, 1, 1), actor="campo")
    assert Meter.objects.filter(account=no_meter).get() == first
    assert AuditEvent.objects.filter(action="cadastre.replace_meter").count() == 2


def test_update_contact(loaded):
    account = Account.objects.select_related("customer").get(number="01000102")
    customer = do_update_contact(
        account.customer, email="Julio.H@Gmail.com", consent_email=True, actor="t"
    )
    assert (customer.email, customer.consent_email, customer.consent_date) == (
        "julio.h@gmail.com",
        True,
        timezone.localdate(),
    )
    event = AuditEvent.objects.get(action="cadastre.update_contact")
    assert event.before == {"email": "", "consent_email": False}
    unchanged = do_update_contact(customer, email="julio.h@gmail.com", actor="t")
    assert unchanged.pk == customer.pk
    assert AuditEvent.objects.filter(action="cadastre.update_contact").count() == 1
    with pytest.raises(DomainError, match="correo"):
        do_update_contact(customer, email="julio@", actor="t")
