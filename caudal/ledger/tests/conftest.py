"""Ledger test fixtures.

Ledger tests use pytest-django's ``db`` fixture (each test inside a transaction rolled back
at the end), never ``transactional_db``: the immutability triggers of migration
``0002_immutability`` refuse the ``DELETE FROM`` that a TransactionTestCase flush runs on
SQLite once ledger rows exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from caudal.cadastre.testing import make_account
from caudal.ledger import actions
from caudal.ledger.models import Document, OpenItem

D = date
DUE = D(2025, 2, 15)


@pytest.fixture
def other_account(db, utility):
    return make_account()


@pytest.fixture
def bill(account) -> Callable[..., Document]:
    """Post a bill on ``account`` (or another): ``bill(amount, due, *, lines=..., on=...)``."""

    def post(
        amount: int = 10_000,
        due: date = DUE,
        *,
        on: date | None = None,
        lines: list[tuple[str, int, str]] | None = None,
        target=None,
        reference: str = "",
    ) -> Document:
        return actions.do_post_charge(
            target or account,
            kind="bill",
            lines=lines or [("water", amount, "Consumo")],
            document_date=on or D(2025, 1, 31),
            due_date=due,
            reference=reference,
            actor="test",
        )

    return post


def items_of(document: Document) -> list[OpenItem]:
    return list(OpenItem.objects.filter(document=document).order_by("pk"))


def item_of(document: Document) -> OpenItem:
    (item,) = items_of(document)
    return item
