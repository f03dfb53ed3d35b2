"""Database triggers (migration 0002) and the invariant checker against tampering.

Each refused statement runs inside its own ``transaction.atomic()`` so that, on
PostgreSQL, the failed statement does not abort the test's transaction. Rows inserted
behind the ledger's back to test the invariant checker are rolled back inside the test
(``rolled_back()``): on PostgreSQL Django's test teardown runs ``SET CONSTRAINTS ALL
IMMEDIATE``, which fires the deferred balance trigger on every document a test left.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from caudal.kernel.errors import DomainError
from caudal.ledger import actions, invariants
from caudal.ledger.models import BlockEvent, Clearing, Document, DocumentLine, OpenItem

from .conftest import item_of

D = date
pytestmark = pytest.mark.django_db


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def raw(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql: str, params: list, message: str) -> None:
    with pytest.raises(IntegrityError, match=message), transaction.atomic():
        raw(sql, params)


@pytest.fixture
def ledger(account, bill):
    """A bill, a payment clearing it, and a blocked second bill."""
    b = bill(1_000)
    actions.do_post_payment(account, amount=1_000, payment_date=D(2025, 2, 1), actor=None)
    blocked = bill(500)
    actions.do_block_item(item_of(blocked), reason="Reclamo", actor=None)
    return b


@pytest.mark.parametrize(
    "table", ["ledger_document", "ledger_documentline", "ledger_clearing", "ledger_blockevent"]
)
def test_append_only_tables_refuse_update_and_delete(ledger, table):
    models: dict[str, type[Model]] = {
        "ledger_document": Document,
        "ledger_documentline": DocumentLine,
        "ledger_clearing": Clearing,
        "ledger_blockevent": BlockEvent,
    }
    pk = models[table]._default_manager.values_list("pk", flat=True)[0]
    column = {"ledger_blockevent": "reason", "ledger_clearing": "cleared_on"}.get(table, "amount")
    value = {"reason": "otro", "cleared_on": "2030-01-01"}.get(column, 1)
    refused(
        f"UPDATE {table} SET {column} = %s WHERE id = %s",
        [value, pk],
        f"{table} is append-only: UPDATE refused",
    )
    refused(f"DELETE FROM {table} WHERE id = %s", [pk], f"{table} is append-only: DELETE refused")


def test_orm_delete_and_save_of_a_posted_document_are_refused(ledger):
    doc = Document.objects.get(pk=ledger.pk)
    doc.reason = "retocado"
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        doc.save()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Document.objects.filter(pk=ledger.pk).update(amount=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Clearing.objects.all().delete()
    assert Document.objects.get(pk=ledger.pk).amount == 1_000


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("amount", 999),
        ("due_date", "2030-01-01"),
        ("issue_date", "2030-01-01"),
        ("side", "C"),
        ("concept", "sewer"),
    ],
)
def test_open_item_identity_is_frozen(ledger, column, value):
    pk = item_of(ledger).pk
    refused(
        f"UPDATE ledger_openitem SET {column} = %s WHERE id = %s",
        [value, pk],
        "ledger_openitem: UPDATE of account_id",
    )


def test_open_item_cannot_be_deleted_but_its_open_state_can_change(ledger):
    item = item_of(ledger)
    refused("DELETE FROM ledger_openitem WHERE id = %s", [item.pk], "never deleted: DELETE refused")
    # open amount, cleared_on and the block may change (full-row ORM save included)
    item.block_reason = "nota"
    item.save()
    raw("UPDATE ledger_openitem SET open_amount = 10, cleared_on = NULL WHERE id = %s", [item.pk])
    problems = invariants.check_all()
    assert any(f"item {item.pk}: open amount 10 != amount 1000" in p for p in problems)


def test_check_all_is_empty_on_a_sound_ledger(ledger):
    assert invariants.check_all() == []
    assert invariants.check_account(ledger.account_id) == []


def test_invariants_catch_an_unbalanced_document_inserted_behind_the_ledger(account):
    with rolled_back():
        raw(
            "INSERT INTO ledger_document (account_id, kind, reference, document_date,"
            " posting_date, amount, reason, source, created_at)"
            " VALUES (%s, 'bill', 'X', %s, %s, 500, '', '', %s)",
            [account.pk, D(2025, 1, 1), D(2025, 1, 1), "2025-01-01 00:00:00+00:00"],
        )
        problems = invariants.check_account(account.pk)
    assert any("does not balance: amount 500, 0 lines" in p for p in problems)
    assert any("documents add up to 500 but the signed open items to 0" in p for p in problems)


def test_invariants_catch_a_wrong_clearing_and_block(ledger, account):
    credit = OpenItem.objects.filter(account=account, side="C").earliest("pk")
    raw(
        "INSERT INTO ledger_clearing (account_id, debit_item_id, credit_item_id, amount,"
        " cleared_on, created_at) VALUES (%s, %s, %s, 5, %s, %s)",
        [account.pk, credit.pk, credit.pk, D(2025, 3, 1), "2025-03-01 00:00:00+00:00"],
    )
    raw("UPDATE ledger_openitem SET blocked = %s WHERE id = %s", [True, credit.pk])
    problems = invariants.check_all()
    assert any("does not pair a debit and a credit item" in p for p in problems)
    assert any(f"item {credit.pk} is blocked but is not an open debit" in p for p in problems)
    assert any("cleared on the wrong side" in p for p in problems)


def test_check_all_reports_a_missing_trigger(ledger):
    name = (
        "ledger_document_no_update"
        if connection.vendor == "sqlite"
        else "ledger_document_append_only"
    )
    with rolled_back():
        raw(
            f"DROP TRIGGER {name}"
            + ("" if connection.vendor == "sqlite" else " ON ledger_document")
        )
        assert invariants.check_all() == [
            f"immutability trigger {name} is missing (re-run migration ledger 0002)"
        ]
    assert invariants.check_all() == []


def test_invariant_output_is_capped(account):
    with rolled_back():
        for n in range(invariants.LIMIT + 5):
            raw(
                "INSERT INTO ledger_document (account_id, kind, reference, document_date,"
                " posting_date, amount, reason, source, created_at)"
                " VALUES (%s, 'bill', %s, %s, %s, 1, '', '', %s)",
                [account.pk, f"R{n}", D(2025, 1, 1), D(2025, 1, 1), "2025-01-01 00:00:00+00:00"],
            )
        problems = invariants.check_all()
    problems = [p for p in problems if "does not balance" in p or p.startswith("... and")]
    assert len(problems) == invariants.LIMIT + 1
    assert problems[-1] == f"... and 5 more (only the first {invariants.LIMIT} shown)"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="deferred constraint triggers: PostgreSQL"
)
def test_postgres_refuses_an_unbalanced_document_at_commit(account):
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        raw(
            "INSERT INTO ledger_document (account_id, kind, reference, document_date,"
            " posting_date, amount, reason, source, created_at)"
            " VALUES (%s, 'bill', 'X', %s, %s, 500, '', '', now())",
            [account.pk, D(2025, 1, 1), D(2025, 1, 1)],
        )
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT would do


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="deferred constraint triggers: PostgreSQL"
)
def test_postgres_accepts_documents_posted_by_the_actions_at_commit(account, bill):
    bill(lines=[("water", 700, ""), ("sewer", 300, "")])
    actions.do_post_payment(account, amount=1_200, payment_date=D(2025, 2, 1), actor=None)
    with transaction.atomic():
        raw("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        doc = Document.objects.earliest("pk")
        raw(
            "INSERT INTO ledger_documentline (document_id, line_no, concept, amount, description)"
            " VALUES (%s, 9, 'water', 1, '')",
            [doc.pk],
        )
        raw("SET CONSTRAINTS ALL IMMEDIATE")


def test_domain_errors_do_not_leave_partial_writes(account, bill):
    bill(1_000, reference="F-1")
    before = (Document.objects.count(), DocumentLine.objects.count(), OpenItem.objects.count())
    with pytest.raises(DomainError):
        bill(1_000, reference="F-1")
    assert (
        Document.objects.count(),
        DocumentLine.objects.count(),
        OpenItem.objects.count(),
    ) == before
    assert invariants.check_all() == []
