"""Web test fixtures: users per role, an account with a realistic ledger history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from caudal.audit.actions import ActorLike
from caudal.audit.roles import ROLES, ensure_roles
from caudal.cadastre.models import (
    Account,
    ConnectionStatus,
    ConnectionStatusChange,
    Meter,
    Service,
)
from caudal.cadastre.testing import make_account
from caudal.ledger import actions
from caudal.ledger.models import OpenItem

PASSWORD = "clave-de-prueba-123"
OFFICE_ROLES = sorted(set(ROLES) - {"field_worker"})


@pytest.fixture
def roles(db) -> None:
    ensure_roles()


@pytest.fixture
def make_user(roles) -> Callable[..., User]:
    def make(role: str | None, username: str | None = None, **extra: object) -> User:
        user = User.objects.create_user(
            username=username or (role or "norole"),
            password=PASSWORD,
            first_name=extra.pop("first_name", "Ana"),  # type: ignore[arg-type]
            last_name=extra.pop("last_name", "Torres"),  # type: ignore[arg-type]
            **extra,  # type: ignore[arg-type]
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def login(make_user) -> Callable[[str | None], Client]:
    """``login("cashier")`` → a test client signed in as a new user with that role."""

    def client_for(role: str | None, **extra: object) -> Client:
        client = Client()
        if role == "superuser":
            user = User.objects.create_superuser("root", "root@example.org", PASSWORD)
        else:
            user = make_user(role, **extra)
        client.force_login(user)
        return client

    return client_for


def populate_history(
    account: Account, *, today: date | None = None, actor: ActorLike = None
) -> None:
    """A year of monthly bills, payments, a blocked item in complaint and a cut service."""
    today = today or timezone.localdate()
    start = (today.replace(day=1) - timedelta(days=330)).replace(day=1)
    month = start
    n = 0
    bills = []
    while month < today.replace(day=1):
        n += 1
        due = month + timedelta(days=24)
        water = 2_850 + 137 * (n % 5)
        bills.append(
            actions.do_post_charge(
                account,
                kind="bill",
                lines=[
                    ("water", water, f"Consumo {month:%m/%Y}"),
                    ("sewer", water * 45 // 100, "Alcantarillado"),
                    ("fixed", 520, "Cargo fijo"),
                ],
                document_date=month + timedelta(days=5),
                due_date=due,
                reference=f"F{month:%Y%m}-{account.number[-4:]}",
                actor=actor or "billing-run",
            )
        )
        if n <= 6:
            actions.do_post_payment(
                account,
                amount=water + water * 45 // 100 + 520,
                payment_date=due - timedelta(days=3),
                reference=f"P{month:%Y%m}",
                source="caja",
                actor=actor or "cash-desk",
            )
        month = (month + timedelta(days=32)).replace(day=1)
    disputed = OpenItem.objects.filter(document=bills[7]).order_by("pk")[0]
    actions.do_block_item(
        disputed,
        reason="Reclamo por consumo excesivo",
        case_ref="PQR-2025-0142",
        actor=actor,
    )
    water_connection = account.connections.get(service=Service.WATER)
    cut_on = today - timedelta(days=40)
    ConnectionStatusChange.objects.create(
        connection=water_connection,
        status=ConnectionStatus.CUT,
        previous_status=ConnectionStatus.ACTIVE,
        effective_on=cut_on,
        reason="Corte por deuda",
    )
    water_connection.status = ConnectionStatus.CUT
    water_connection.status_since = cut_on
    water_connection.save()
    Meter.objects.create(
        account=account,
        serial="MED-2019-004512",
        brand="Itron",
        installed_on=date(2019, 6, 14),
    )
    customer = account.customer
    customer.email = "rosa.quispe@example.pe"
    customer.mobile = "+51 987 654 321"
    customer.consent_sms = True
    customer.consent_date = date(2023, 3, 2)
    customer.save()
    prop = account.property
    prop.latitude, prop.longitude = Decimal("-12.065113"), Decimal("-75.204856")
    prop.municipal_ref = "MZ-14-LT-07"
    prop.save()


@pytest.fixture
def rich_account(utility) -> Account:
    account = make_account(
        "40012345", name="Rosa Elvira Quispe Mamani", address="Av. Huancavelica 1452"
    )
    populate_history(account)
    return account
