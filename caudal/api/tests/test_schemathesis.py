"""Schemathesis against ``/api/v1/openapi.json``, through the WSGI application.

Stateless property tests of every operation, positive and negative data, with a valid key:
no 5xx, every response conforms to the document (status code, content type, headers,
body schema), invalid data is refused with a 4xx. Part of the generated payments and
payment ids are pointed at a real account and a real payment, so that the posting and
reversal paths run too; afterwards nothing is half-posted: every payment has its ledger
document and the ledger invariants hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from caudal.collection import rules
from caudal.collection.models import AmountRule, ApiKey, Payment
from caudal.collection.testing import make_centre
from caudal.ledger.invariants import check_all
from caudal.ledger.models import Document

from .conftest import Api

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
]


def _load() -> Any:
    from caudal.wsgi import application

    # Loaded at collection (the OpenAPI view reads no table); pytest 9 breaks schemathesis'
    # lazy fixture loader, so the schema is not taken from a fixture.
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


schema = _load()

#: The fuzzing centre's key, fixed so that schemathesis' auth provider can send it.
PREFIX, SECRET = "fuzz0001", "fuzzing-secret-for-tests-only"
KEY = f"cau_{PREFIX}_{SECRET}"


@schema.auth()
class CentreKey:
    """Every generated request carries the fuzzing centre's valid key."""

    def get(self, case: Any, ctx: Any) -> str:
        return KEY

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@contextmanager
def _connection_kept() -> Iterator[None]:
    """Schemathesis calls the WSGI handler directly, whose request signals would close the
    test's database connection (its transaction holds the fixtures) on PostgreSQL. Django's
    test client unhooks the same handler around each of its requests (and hooks it again
    after, so this must start after the last test-client request)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(owing: Any, request: pytest.FixtureRequest) -> Iterator[tuple[Api, str, int]]:
    """A centre that accepts any amount, an owing account and one payment of its own.

    After all the examples of an operation: every payment has its ledger document and
    every payment document its payment, and the ledger invariants hold."""
    centre = make_centre("FUZZ", amount_rule=AmountRule.ANY)
    ApiKey.objects.create(centre=centre, prefix=PREFIX, secret_hash=rules.secret_hash(SECRET))
    api = Api(centre, KEY, Client())
    paid = api.pay("seed", reference=owing.number, amount=1_000).json()
    with _connection_kept():
        yield api, owing.number, paid["id"]
    if "POST /api/v1/payments]" in request.node.name:
        # The payment path ran, not only refusals.
        assert Payment.objects.count() > 1
    if "reversal]" in request.node.name:
        assert Payment.objects.filter(status="reversed").exists()
    payments = set(Payment.objects.values_list("document_id", flat=True))
    documents = set(Document.objects.filter(kind="payment").values_list("pk", flat=True))
    assert payments == documents
    assert check_all() == []


def _coin(case: Any) -> bool:
    """Half of the cases, chosen from the case's own data (stable across shrinking)."""
    digest = hashlib.sha256(repr((case.body, case.path_parameters)).encode()).digest()
    return digest[0] % 2 == 0


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(case: Any, world: tuple[Api, str, int]) -> None:
    _api, number, payment_id = world
    op = f"{case.method} {case.path}"
    mode = case.meta.generation.mode if case.meta is not None else None
    if mode is not None and mode.is_positive and _coin(case):
        if op == "POST /api/v1/payments" and isinstance(case.body, dict):
            if isinstance(case.body.get("reference"), str):
                case.body["reference"] = number
            case.body.pop("point", None)
        elif "{payment_id}" in case.path and isinstance(case.path_parameters, dict):
            case.path_parameters["payment_id"] = payment_id
        elif "{number}" in case.path and isinstance(case.path_parameters, dict):
            case.path_parameters["number"] = number
    case.call_and_validate(checks=CHECKS)
