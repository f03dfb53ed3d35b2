"""API fixtures: two centres with a key each, an account owing two bills, a JSON client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from caudal.billing.models import Bill
from caudal.cadastre.models import Account
from caudal.collection.actions import do_issue_key
from caudal.collection.models import AmountRule, Centre
from caudal.collection.testing import make_centre
from caudal.ledger import actions as ledger
from caudal.ledger.models import Concept, Document

HOST = "127.0.0.1"


def pytest_configure(config: pytest.Config) -> None:
    # The SIGKILL fault test starts the real server twice (over 20 s on a busy machine).
    config.addinivalue_line("markers", "slow: takes more than about 20 seconds")


@dataclass
class Api:
    """A test client for ``/api/v1/`` that sends one centre's key."""

    centre: Centre
    key: str
    client: Client

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(
            f"/api/v1{path}", params, headers=self._headers(None), HTTP_HOST=HOST
        )

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            json.dumps(body) if not isinstance(body, (str, bytes)) else body,
            content_type="application/json",
            headers=self._headers(headers),
            HTTP_HOST=HOST,
        )

    def pay(self, key: str, **body: Any) -> Any:
        body.setdefault("method", "cash")
        return self.post("/payments", body, {"Idempotency-Key": key})


def make_api(code: str, *, amount_rule: str = AmountRule.EXACT) -> Api:
    centre = make_centre(code, amount_rule=amount_rule)
    _key, raw = do_issue_key(centre, label="test", actor="test")
    return Api(centre=centre, key=raw, client=Client())


def bill_for(
    account: Account, amount: int, due: date, period: str, ref: str, *, previous: int = 0
) -> Bill:
    """A ledger bill document and the Bill that names it (payment reference ``ref``)."""
    from caudal.tariffs.testing import make_tariff

    document: Document = ledger.do_post_charge(
        account.pk,
        kind="bill",
        lines=[(Concept.WATER, amount, "agua")],
        due_date=due,
        document_date=due - timedelta(days=20),
        posting_date=due - timedelta(days=20),
        reference=f"R-{period}",
        actor="test",
    )
    return Bill.objects.create(
        account=account,
        period=period,
        number=f"F-{account.number}-{period}",
        payment_reference=ref,
        route=account.property.route,
        document=document,
        issue_date=due - timedelta(days=20),
        due_date=due,
        category="domestic",
        tariff=make_tariff(),
        consumption=10,
        consumption_rule="actual",
        amount=amount,
        previous_debt=previous,
        total_due=amount + previous,
    )


@pytest.fixture
def owing(account: Account) -> Account:
    """Owes 50.00 (overdue, bill ref 9000000001) and 70.00 (not due, ref 9000000002, whose
    bill asks 120.00: it lists the 50.00 as previous debt)."""
    today = timezone.localdate()
    bill_for(account, 5_000, today - timedelta(days=40), "2026-01", "9000000001")
    bill_for(account, 7_000, today + timedelta(days=5), "2026-02", "9000000002", previous=5_000)
    return account


@pytest.fixture
def car(db) -> Api:
    return make_api("CAR01")


@pytest.fixture
def bank(db) -> Api:
    return make_api("BANK01", amount_rule=AmountRule.ANY)
