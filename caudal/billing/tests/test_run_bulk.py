"""``caudal.ledger.bulk``: bulk posting gives what the per-account ledger actions give."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from django.db import connection
from django.utils import timezone

from caudal.cadastre.imports import db_datetime
from caudal.cadastre.testing import make_account
from caudal.ledger import actions, bulk, invariants
from caudal.ledger.models import Clearing, Document, OpenItem

pytestmark = pytest.mark.django_db

BILL_LINES = [("fixed", 577, "Cargo fijo"), ("water", 1830, "Agua"), ("tax", 433, "IGV")]


def _history(account) -> None:
    """An old overdue bill, a migrated credit left open (as the balances import leaves
    it), and a blocked disputed charge."""
    actions.do_post_charge(
        account,
        kind="bill",
        lines=[("water", 1500, "Agua")],
        document_date=date(2026, 8, 6),
        due_date=date(2026, 8, 26),
        reference=f"OLD-{account.pk}",
        actor="t",
    )
    disputed = actions.do_post_charge(
        account,
        kind="fee",
        lines=[("other", 900, "Cargo")],
        document_date=date(2026, 8, 7),
        due_date=date(2026, 8, 27),
        actor="t",
    )
    actions.do_block_item(disputed.items.get(), reason="Reclamo", actor="t")
    with connection.cursor() as cursor:
        bulk.post(
            cursor,
            pl.DataFrame(
                {
                    "key": [1],
                    "account_id": [account.pk],
                    "kind": ["opening"],
                    "reference": [f"CRED-{account.pk}"],
                    "document_date": [date(2026, 7, 1)],
                    "posting_date": [date(2026, 7, 1)],
                }
            ),
            pl.DataFrame(
                {
                    "key": [1],
                    "line_no": [1],
                    "concept": ["credit"],
                    "amount": [-2500],
                    "description": ["Saldo a favor migrado"],
                    "due_date": [date(2026, 7, 1)],
                }
            ),
            apply_credits=False,
            created_by_id=None,
            created_at=db_datetime(timezone.now()),
        )


def _state(account) -> list[tuple]:
    items = OpenItem.objects.filter(account=account).order_by("document__document_date", "line_id")
    return [(i.concept, i.side, i.amount, i.open_amount, i.cleared_on, i.blocked) for i in items]


def test_bulk_post_applies_credits_like_the_ledger_actions():
    by_action, by_bulk = make_account(), make_account()
    for account in (by_action, by_bulk):
        _history(account)
    on, due = date(2026, 11, 6), date(2026, 11, 26)
    actions.do_post_charge(
        by_action,
        kind="bill",
        lines=BILL_LINES,
        document_date=on,
        due_date=due,
        reference="NEW",
        actor="t",
    )
    with connection.cursor() as cursor:
        posted, settlement = bulk.post(
            cursor,
            pl.DataFrame(
                {
                    "key": [7],
                    "account_id": [by_bulk.pk],
                    "kind": ["bill"],
                    "reference": ["NEW"],
                    "document_date": [on],
                    "posting_date": [on],
                }
            ),
            pl.DataFrame(
                {
                    "key": [7] * 3,
                    "line_no": [1, 2, 3],
                    "concept": [c for c, _a, _d in BILL_LINES],
                    "amount": [a for _c, a, _d in BILL_LINES],
                    "description": [d for _c, _a, d in BILL_LINES],
                    "due_date": [due] * 3,
                }
            ),
            created_by_id=None,
            created_at=db_datetime(timezone.now()),
        )
    assert _state(by_bulk) == _state(by_action)
    assert settlement.applied == {by_bulk.pk: 2500}
    doc = Document.objects.get(pk=posted.documents["document_id"][0])
    assert doc.amount == sum(a for _c, a, _d in BILL_LINES)
    bulk_clearings = list(
        Clearing.objects.filter(account=by_bulk).order_by("pk").values_list("amount", "cleared_on")
    )
    action_clearings = list(
        Clearing.objects.filter(account=by_action)
        .order_by("pk")
        .values_list("amount", "cleared_on")
    )
    assert bulk_clearings == action_clearings
    assert Clearing.objects.filter(account=by_bulk, document=doc).count() == len(bulk_clearings)
    assert invariants.check_all() == []


def test_insert_columns_handles_partial_statements(monkeypatch):
    account = make_account()
    monkeypatch.setattr(bulk, "SQLITE_PARAMS", 30)  # 2 rows per statement + a remainder
    docs = pl.DataFrame(
        {
            "key": list(range(5)),
            "account_id": [account.pk] * 5,
            "kind": ["fee"] * 5,
            "reference": [f"R{k}" for k in range(5)],
            "document_date": [date(2026, 1, 1)] * 5,
            "posting_date": [date(2026, 1, 1)] * 5,
        }
    )
    lines = pl.DataFrame(
        {
            "key": list(range(5)),
            "line_no": [1] * 5,
            "concept": ["other"] * 5,
            "amount": [100 + k for k in range(5)],
            "description": ["x"] * 5,
            "due_date": [date(2026, 1, 20)] * 5,
        }
    )
    with connection.cursor() as cursor:
        bulk.post(cursor, docs, lines, created_by_id=None, created_at=db_datetime(timezone.now()))
    assert Document.objects.filter(account=account).count() == 5
    assert sorted(OpenItem.objects.filter(account=account).values_list("amount", flat=True)) == [
        100,
        101,
        102,
        103,
        104,
    ]
    assert invariants.check_all() == []
