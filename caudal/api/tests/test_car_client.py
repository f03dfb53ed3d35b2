"""The example client of docs/examples runs against a live server: lookup, pay, retry
(replayed, not posted twice), reverse; a refusal exits 1 with the API's error code."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.db import connection

from caudal.billing.models import Bill
from caudal.collection.actions import do_issue_key
from caudal.collection.models import Payment, PaymentStatus, ReconnectionDue
from caudal.collection.testing import make_centre
from caudal.ledger import queries

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "car_client.py"


def _client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("car_client", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LEDGER_TABLES = [
    "ledger_blockevent",
    "ledger_clearing",
    "ledger_openitem",
    "ledger_documentline",
    "ledger_document",
]


@pytest.fixture
def flushable(transactional_db: Any) -> Iterator[None]:
    """Let the end-of-test flush run on SQLite: it deletes row by row, which the ledger's
    append-only triggers refuse. Rows pointing at ledger documents go first, then the
    ledger's rows with its triggers lifted for that moment (put back exactly as they were).
    PostgreSQL flushes with TRUNCATE, which row triggers do not see."""
    yield
    if connection.vendor != "sqlite":
        return
    for model in (ReconnectionDue, Payment, Bill):
        model.objects.all().delete()
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(LEDGER_TABLES))
        cursor.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks})",
            LEDGER_TABLES,
        )
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        for table in LEDGER_TABLES:
            cursor.execute(f"DELETE FROM {table}")
        for _name, sql in triggers:
            cursor.execute(sql)


def test_example_client_against_live_server(
    flushable: None, live_server: Any, owing: Any, capsys: Any
) -> None:
    _key, raw = do_issue_key(make_centre("CAR01"), actor="test")
    client = _client()
    base = ["--base", live_server.url, "--key", raw]
    assert client.main([*base, "--reference", owing.number]) == 0
    out = capsys.readouterr().out
    assert "HTTP 201" in out and "Idempotent-Replayed: true" in out
    assert '"status": "reversed"' in out
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.REVERSED and payment.amount == 12_000
    assert queries.balance(owing.pk) == 12_000
    assert client.main([*base, "--reference", "9000000002", "--keep"]) == 0
    assert Payment.objects.filter(status=PaymentStatus.POSTED).count() == 1
    assert client.main([*base, "--reference", "424242"]) == 1
    assert "unknown_reference" in capsys.readouterr().out
    bad_key = ["--base", live_server.url, "--key", raw[:-3] + "zzz"]
    assert client.main([*bad_key, "--reference", owing.number]) == 1
    assert "unauthorized" in capsys.readouterr().out
