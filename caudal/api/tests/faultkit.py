"""Helpers of the SIGKILL fault test that run in their own process, on the database the
server uses (not the test database): ``python -m caudal.api.tests.faultkit setup|verify``.

``setup`` migrates, builds accounts owing two bills each, a centre that accepts any
amount, and prints ``{"key", "accounts"}``. ``verify`` prints what the test asserts on:
the payments (id, idempotency key, amount, document), keys with more than one payment,
payment documents without a payment and payments without a document, and the ledger
invariants' violations.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from typing import Any


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caudal.settings.dev")
    import django

    django.setup()


def setup(accounts: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)
    from caudal.cadastre.testing import make_account, make_utility
    from caudal.collection.actions import do_issue_key
    from caudal.collection.models import AmountRule
    from caudal.collection.testing import make_centre
    from caudal.ledger import actions as ledger
    from caudal.ledger.models import Concept

    make_utility("PE")
    today = timezone.localdate()
    numbers = []
    for n in range(accounts):
        account = make_account(f"{30_000_000 + n}")
        for k, days in enumerate((-30, 10)):
            ledger.do_post_charge(
                account.pk,
                kind="bill",
                lines=[(Concept.WATER, 2_000 + 100 * k, "agua")],
                due_date=today + timedelta(days=days),
                document_date=today - timedelta(days=40),
                posting_date=today - timedelta(days=40),
                reference=f"F-{n}-{k}",
                actor="fault-setup",
            )
        numbers.append(account.number)
    centre = make_centre("FAULT", amount_rule=AmountRule.ANY)
    _key, raw = do_issue_key(centre, label="fault test", actor="fault-setup")
    return {"key": raw, "accounts": numbers}


def verify() -> dict[str, Any]:
    from django.db import connection

    from caudal.ledger.invariants import check_all

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.id, p.idempotency_key, p.amount, p.document_id, c.code "
            "FROM collection_payment p JOIN collection_centre c ON c.id = p.centre_id "
            "ORDER BY p.id"
        )
        payments = [list(row) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT centre_id, idempotency_key, COUNT(*) FROM collection_payment "
            "GROUP BY centre_id, idempotency_key HAVING COUNT(*) > 1"
        )
        duplicate_keys = [list(row) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT d.id FROM ledger_document d LEFT JOIN collection_payment p "
            "ON p.document_id = d.id WHERE d.kind = 'payment' AND p.id IS NULL"
        )
        documents_without_payment = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT p.id FROM collection_payment p LEFT JOIN ledger_document d "
            "ON d.id = p.document_id WHERE d.id IS NULL OR d.kind <> 'payment'"
        )
        payments_without_document = [row[0] for row in cursor.fetchall()]
    return {
        "payments": payments,
        "duplicate_keys": duplicate_keys,
        "documents_without_payment": documents_without_payment,
        "payments_without_document": payments_without_document,
        "violations": check_all(),
    }


def main(argv: list[str]) -> None:
    _django()
    if argv[1] == "setup":
        result = setup(int(argv[2]))
    elif argv[1] == "verify":
        result = verify()
    else:
        raise SystemExit(f"unknown command {argv[1]!r}")
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv)
