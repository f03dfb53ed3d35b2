"""Reads of the receivables ledger. Other apps code against these names: keep them stable.

Each function is one SQL query (``statement`` one query on documents; the as-of functions
one aggregate query), served by the indexes declared in ``models.py``:
``item_open_by_account`` (partial, open items), ``item_account_issue``,
``document_account_date`` and the foreign-key indexes of ``Clearing``.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from django.db.models import (
    BigIntegerField,
    Case,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils.translation import gettext as _

from .models import Clearing, Document, DocumentKind, DocumentLine, OpenItem, Side

OPENING_KIND = "opening_balance"

__all__ = [
    "OPENING_KIND",
    "StatementRow",
    "balance",
    "balance_as_of",
    "blocked_items",
    "open_items",
    "overdue_balance",
    "state_as_of",
    "statement",
]


def _signed_open() -> Case:
    return Case(
        When(side=Side.DEBIT, then=F("open_amount")),
        default=-F("open_amount"),
        output_field=BigIntegerField(),
    )


def balance(account_id: int) -> int:
    """Signed open balance: open debits minus open credits (positive = the customer owes)."""
    total = OpenItem.objects.filter(account_id=account_id, open_amount__gt=0).aggregate(
        total=Sum(_signed_open())
    )["total"]
    return int(total or 0)


def overdue_balance(account_id: int, on: date, *, include_blocked: bool = False) -> int:
    """Open debit amounts due before ``on``. Credits are not subtracted; blocked items are
    left out unless ``include_blocked``."""
    qs = OpenItem.objects.filter(
        account_id=account_id, open_amount__gt=0, side=Side.DEBIT, due_date__lt=on
    )
    if not include_blocked:
        qs = qs.filter(blocked=False)
    return int(qs.aggregate(total=Sum("open_amount"))["total"] or 0)


def open_items(account_id: int) -> list[OpenItem]:
    """The account's open items (debits and credits), by due date, issue date, id."""
    return list(
        OpenItem.objects.filter(account_id=account_id, open_amount__gt=0).order_by(
            "due_date", "issue_date", "pk"
        )
    )


class StatementRow(NamedTuple):
    """One line of an account statement (estado de cuenta). Amounts in minor units."""

    date: date
    document_id: int | None
    kind: str
    reference: str
    description: str
    debit: int
    credit: int
    running_balance: int


def statement(
    account_id: int, start: date | None = None, end: date | None = None
) -> list[StatementRow]:
    """Documents of the account by posting date with a running balance.

    With ``start``, the first row is the opening balance (``kind == OPENING_KIND``,
    ``document_id`` None) carried from everything posted before ``start``. One query:
    the documents up to ``end`` with their first line's description.
    """
    qs = Document.objects.filter(account_id=account_id)
    if end is not None:
        qs = qs.filter(posting_date__lte=end)
    first_line = DocumentLine.objects.filter(document_id=OuterRef("pk")).order_by("line_no")
    rows = qs.annotate(line_text=Subquery(first_line.values("description")[:1])).order_by(
        "posting_date", "pk"
    )
    labels = dict(DocumentKind.choices)
    out: list[StatementRow] = []
    running = 0
    opened = start is None
    for doc in rows.values_list(
        "pk", "posting_date", "kind", "reference", "reason", "line_text", "amount"
    ):
        pk, posted, kind, reference, reason, line_text, amount = doc
        if not opened and posted >= start:  # type: ignore[operator]
            out.append(_opening_row(start, running))  # type: ignore[arg-type]
            opened = True
        running += amount
        if not opened:
            continue
        out.append(
            StatementRow(
                date=posted,
                document_id=pk,
                kind=kind,
                reference=reference,
                description=reason or line_text or str(labels.get(kind, kind)),
                debit=amount if amount > 0 else 0,
                credit=-amount if amount < 0 else 0,
                running_balance=running,
            )
        )
    if not opened:
        out.append(_opening_row(start, running))  # type: ignore[arg-type]
    return out


def _opening_row(start: date, running: int) -> StatementRow:
    return StatementRow(
        date=start,
        document_id=None,
        kind=OPENING_KIND,
        reference="",
        description=_("Saldo anterior"),
        debit=0,
        credit=0,
        running_balance=running,
    )


def _cleared_by(on: date, side_field: str) -> Subquery:
    sums = (
        Clearing.objects.filter(**{side_field: OuterRef("pk")}, cleared_on__lte=on)
        .order_by()
        .values(side_field)
        .annotate(total=Cast(Sum("amount"), BigIntegerField()))  # PostgreSQL: SUM is numeric
        .values("total")
    )
    return Subquery(sums, output_field=BigIntegerField())


def _items_as_of(account_id: int, on: date) -> QuerySet[OpenItem]:
    zero = Value(0, output_field=BigIntegerField())
    return (
        OpenItem.objects.filter(account_id=account_id, issue_date__lte=on)
        .annotate(
            open_on=F("amount")
            - Case(
                When(side=Side.DEBIT, then=Coalesce(_cleared_by(on, "debit_item"), zero)),
                default=Coalesce(_cleared_by(on, "credit_item"), zero),
                output_field=BigIntegerField(),
            )
        )
        .filter(open_on__gt=0)
    )


def state_as_of(account_id: int, on: date) -> list[tuple[OpenItem, int]]:
    """Items open at the end of ``on``, with their open amount that day (one query).

    An item counts when its document was posted on or before ``on`` and its amount minus
    the clearings dated on or before ``on`` is positive: an item paid after ``on`` is
    still open in the result. The ``blocked`` flag is today's, not the historic one (see
    ``BlockEvent`` for that).
    """
    qs = _items_as_of(account_id, on).order_by("due_date", "issue_date", "pk")
    return [(item, int(item.open_on)) for item in qs]  # type: ignore[attr-defined]


def balance_as_of(account_id: int, on: date) -> int:
    """Signed balance at the end of ``on`` (one aggregate query on documents).

    Equal to the signed sum of :func:`state_as_of`: a clearing moves the same amount off a
    debit and a credit and is never dated before either item exists, so it never changes
    the balance on any date.
    """
    total = Document.objects.filter(account_id=account_id, posting_date__lte=on).aggregate(
        total=Sum("amount")
    )["total"]
    return int(total or 0)


def blocked_items(account_id: int) -> list[OpenItem]:
    """Open items held by a block (partidas bloqueadas), by due date."""
    return list(
        OpenItem.objects.filter(
            Q(account_id=account_id, open_amount__gt=0) & Q(blocked=True)
        ).order_by("due_date", "pk")
    )
