"""Everything the account 360 page shows, read in a small constant number of queries.

Balances, open items, the statement and the state on a past date come from the ledger's
query API (``caudal.ledger.queries``); the page never sums ledger tables itself, except to
split the open items it already holds into blocked and credit totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caudal.audit.models import AuditEvent
from caudal.billing.models import Bill
from caudal.cadastre.models import (
    Account,
    Connection,
    ConnectionStatusChange,
    Meter,
    Service,
)
from caudal.ledger import queries
from caudal.ledger.models import DocumentKind, OpenItem, Side

STATEMENT_ROWS = 15
SERVICE_ORDER: dict[str, int] = {Service.WATER: 0, Service.SEWER: 1}
AUDIT_ROWS = 10
OTHER_ACCOUNTS = 5
BILL_ROWS = 12
BILL_FIELDS = (
    "id",
    "number",
    "period",
    "version",
    "kind",
    "issue_date",
    "due_date",
    "consumption",
    "amount",
    "total_due",
    "overdue_bills",
    "red",
)


@dataclass(frozen=True)
class ItemRow:
    item: OpenItem
    open_amount: int
    days_past_due: int
    doc_kind: str = ""
    doc_reference: str = ""

    @property
    def is_credit(self) -> bool:
        return self.item.side == Side.CREDIT

    @property
    def overdue(self) -> bool:
        return not self.is_credit and self.days_past_due > 0


@dataclass
class AsOf:
    on: date
    balance: int
    items: list[ItemRow]


@dataclass
class Account360:
    account: Account
    today: date
    connections: list[Connection]
    meters: list[Meter]
    other_accounts: list[Account]
    other_accounts_more: bool
    balance: int
    overdue: int
    blocked: int
    credit: int
    items: list[ItemRow]
    statement: list[queries.StatementRow]
    statement_total: int
    last_payment: queries.StatementRow | None
    audit: list[AuditEvent]
    bills: list[Bill] = field(default_factory=list)
    bills_more: bool = False
    as_of: AsOf | None = None
    kind_labels: dict[str, str] = field(default_factory=dict)

    @property
    def current_meter(self) -> Meter | None:
        return next((m for m in self.meters if m.removed_on is None), None)

    @property
    def past_meters(self) -> list[Meter]:
        return [m for m in self.meters if m.removed_on is not None]


def item_rows(
    pairs: list[tuple[OpenItem, int]],
    on: date,
    documents: dict[int, queries.StatementRow] | None = None,
) -> list[ItemRow]:
    """Rows for the items table. Document kind and reference come from ``documents`` (the
    statement rows by document id, already read); without it they are fetched in one query."""
    if documents is None:
        prefetch_related_objects([item for item, _amount in pairs], "document")
    rows = []
    for item, amount in pairs:
        if documents is not None and item.document_id in documents:
            doc = documents[item.document_id]
            kind, reference = doc.kind, doc.reference
        elif documents is None:
            kind, reference = item.document.kind, item.document.reference
        else:
            kind, reference = "", ""
        days = max(0, (on - item.due_date).days) if item.side == Side.DEBIT else 0
        rows.append(ItemRow(item, amount, days, kind, reference or str(item.document_id)))
    return rows


def kind_labels() -> dict[str, str]:
    labels = {k: str(v) for k, v in DocumentKind.choices}
    labels[queries.OPENING_KIND] = str(_("Previous balance"))
    return labels


def get_account(number: str) -> Account:
    account = (
        Account.objects.select_related(
            "customer",
            "cycle",
            "property__municipality",
            "property__zone",
            "property__sector",
            "property__route",
        )
        .filter(number=number)
        .first()
    )
    if account is None:
        raise Http404(number)
    return account


def load(number: str, *, as_of: date | None = None, today: date | None = None) -> Account360:
    """Read the 360 view of one account in a constant number of queries, whatever its size."""
    today = today or timezone.localdate()
    account = get_account(number)
    connections = sorted(
        Connection.objects.filter(account=account).prefetch_related(
            Prefetch(
                "history",
                queryset=ConnectionStatusChange.objects.order_by("-effective_on", "-id"),
            )
        ),
        key=lambda c: SERVICE_ORDER.get(c.service, 99),
    )
    meters = list(Meter.objects.filter(account=account).order_by("-installed_on", "-id"))
    others = list(
        Account.objects.filter(customer_id=account.customer_id)
        .exclude(pk=account.pk)
        .select_related("property")
        .only("id", "number", "property__address")
        .order_by("number")[: OTHER_ACCOUNTS + 1]
    )
    statement = queries.statement(account.pk)
    documents = {r.document_id: r for r in statement if r.document_id is not None}
    items = queries.open_items(account.pk)
    rows = item_rows([(i, i.open_amount) for i in items], today, documents)
    last_payment = next(
        (r for r in reversed(statement) if r.kind == DocumentKind.PAYMENT and r.credit), None
    )
    audit = list(
        AuditEvent.objects.filter(account_id=account.pk)
        .select_related("actor")
        .order_by("-at", "-id")[:AUDIT_ROWS]
    )
    bills = list(
        Bill.objects.filter(account_id=account.pk)
        .only(*BILL_FIELDS)
        .order_by("-period", "-version")[: BILL_ROWS + 1]
    )
    view = Account360(
        account=account,
        today=today,
        connections=connections,
        meters=meters,
        other_accounts=others[:OTHER_ACCOUNTS],
        other_accounts_more=len(others) > OTHER_ACCOUNTS,
        balance=queries.balance(account.pk),
        overdue=queries.overdue_balance(account.pk, today),
        blocked=sum(r.open_amount for r in rows if r.item.blocked and not r.is_credit),
        credit=sum(r.open_amount for r in rows if r.is_credit),
        items=rows,
        statement=statement[-STATEMENT_ROWS:],
        statement_total=len(statement),
        last_payment=last_payment,
        audit=audit,
        bills=bills[:BILL_ROWS],
        bills_more=len(bills) > BILL_ROWS,
        kind_labels=kind_labels(),
    )
    if as_of is not None:
        view.as_of = AsOf(
            on=as_of,
            balance=queries.balance_as_of(account.pk, as_of),
            items=item_rows(queries.state_as_of(account.pk, as_of), as_of, documents),
        )
    return view
