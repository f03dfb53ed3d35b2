"""The cash desk receipt (comprobante de pago): a payment → a PDF for an 80 mm roll.

What it prints: the utility (name, RUC / NIT), the centre and point, the cashier, date and
time, the receipt number (the payment id, zero-padded), account and holder, amount and
method (tendered and change for cash; authorization or cheque data), what the payment
cleared (the bills, from the ledger clearings the payment document made when it was
posted), what stayed as credit, and the account's balance right after the payment. A
receipt printed again says "REIMPRESIÓN"; a reversed payment says "ANULADO".

Rendering is WeasyPrint's, as the bills (:mod:`caudal.billing.document`): inline
stylesheet, fonts from fontconfig, and a URL fetcher that refuses every URL. The page is
80 mm wide and exactly as long as its content: laid out once on a long page, measured,
and laid out again at that height (a thermal printer cuts at the end of the page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation

from caudal.audit.actions import ActorLike, record
from caudal.audit.models import AuditEvent
from caudal.billing.document import bill_money, html_to_pdf_document
from caudal.billing.models import Bill
from caudal.cadastre.models import Country, UtilitySettings
from caudal.ledger.models import Clearing, Document, DocumentKind

from .cashdesk import cash_handed
from .models import Payment, PaymentMethod, PaymentStatus

WIDTH_MM = 80
MARGIN_MM = 4
PX_PER_MM = 96 / 25.4
NUMBER_DIGITS = 10
PRINT_ACTION = "collection.print_receipt"


@dataclass
class PaidLine:
    label: str  # "Recibo R202610-40012345 · 2026-10"
    due: str
    amount: str


@dataclass
class Receipt:
    number: str
    utility_name: str
    tax_label: str
    tax_id: str
    centre: str
    point: str
    point_address: str
    cashier: str
    when: str
    account: str
    holder: str
    address: str
    amount: str
    method: str
    method_detail: str
    tendered: str
    change: str
    bill_reference: str
    paid: list[PaidLine] = field(default_factory=list)
    credit_left: str = ""
    balance_after: str = ""
    balance_label: str = ""
    reprint: bool = False
    reversed: bool = False
    reversed_when: str = ""
    printed_at: str = ""


def receipt_number(payment: Payment | int) -> str:
    pk = payment if isinstance(payment, int) else payment.pk
    return str(pk).zfill(NUMBER_DIGITS)


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def _cashier_label(payment: Payment) -> str:
    user = payment.created_by
    if user is None:
        return ""
    name = user.get_full_name() or user.get_username()
    return f"{name} ({user.get_username()})" if name != user.get_username() else name


def _paid_lines(payment: Payment, currency: str) -> tuple[list[PaidLine], int]:
    """What the payment cleared when it was posted, per document, and the total."""
    rows = list(
        Clearing.objects.filter(
            document_id=payment.document_id,
            credit_item__document_id=payment.document_id,
            amount__gt=0,
        )
        .values("debit_item__document_id")
        .annotate(total=Sum("amount"))
        .order_by("debit_item__document_id")
    )
    doc_ids = [r["debit_item__document_id"] for r in rows]
    bills = {b.document_id: b for b in Bill.objects.filter(document_id__in=doc_ids)}
    docs = {
        d.pk: d
        for d in Document.objects.filter(pk__in=doc_ids).only("kind", "reference", "document_date")
    }
    kinds = dict(DocumentKind.choices)
    lines: list[PaidLine] = []
    total = 0
    for r in rows:
        doc_id, amount = r["debit_item__document_id"], int(r["total"])
        total += amount
        bill = bills.get(doc_id)
        if bill is not None:
            label = f"{bill.number} · {bill.period}"
            due = bill.due_date.strftime("%d/%m/%Y")
        else:
            doc = docs[doc_id]
            label = f"{kinds.get(doc.kind, doc.kind)} {doc.reference}".strip()
            due = ""
        lines.append(PaidLine(label=label, due=due, amount=bill_money(amount, currency)))
    return lines, total


def _balance_after(payment: Payment) -> int:
    """The account's balance right after the payment was posted (documents up to it)."""
    total = Document.objects.filter(
        account_id=payment.account_id, pk__lte=payment.document_id
    ).aggregate(s=Sum("amount"))["s"]
    return int(total or 0)


def _method_detail(payment: Payment) -> str:
    ext = payment.external_reference
    if payment.method == PaymentMethod.CARD and ext.startswith("TARJ "):
        return ext[5:].replace("AUT ", "aut. ")
    if payment.method == PaymentMethod.CHEQUE and ext.startswith("CHQ "):
        return "N.º " + ext[4:]
    return ext


def build(payment: Payment, *, reprint: bool = False) -> Receipt:
    utility = UtilitySettings.current()
    currency = utility.currency
    p = (
        Payment.objects.select_related(
            "centre", "point", "account__customer", "account__property", "created_by"
        )
        .filter(pk=payment.pk)
        .get()
    )
    paid, cleared = _paid_lines(p, currency)
    tendered, change = cash_handed(p) if p.method == PaymentMethod.CASH else (None, 0)
    balance = _balance_after(p)
    methods = dict(PaymentMethod.choices)
    return Receipt(
        number=receipt_number(p),
        utility_name=utility.name,
        tax_label="NIT" if utility.country == Country.COLOMBIA else "RUC",
        tax_id=utility.tax_id,
        centre=p.centre.name,
        point=f"{p.point.code} {p.point.name}" if p.point else "",
        point_address=p.point.address if p.point else "",
        cashier=_cashier_label(p),
        when=_local(p.received_at),
        account=p.account.number,
        holder=p.account.customer.name,
        address=p.account.property.address,
        amount=bill_money(p.amount, currency),
        method=str(methods.get(p.method, p.method)),
        method_detail=_method_detail(p),
        tendered=bill_money(tendered, currency) if tendered is not None else "",
        change=bill_money(change, currency) if tendered is not None else "",
        bill_reference=p.bill_reference,
        paid=paid,
        credit_left=bill_money(p.amount - cleared, currency) if p.amount > cleared else "",
        balance_after=bill_money(abs(balance), currency),
        balance_label=(
            "Saldo a favor" if balance < 0 else ("Saldo pendiente" if balance > 0 else "Saldo")
        ),
        reprint=reprint,
        reversed=p.status == PaymentStatus.REVERSED,
        reversed_when=_local(p.reversed_at),
        printed_at=_local(timezone.now()),
    )


def render_html(receipt: Receipt, *, height_mm: float | None = None) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(
            "collection/receipt.html",
            {
                "r": receipt,
                "width_mm": WIDTH_MM,
                "height_mm": f"{height_mm:.2f}" if height_mm else "2000",
                "margin_mm": MARGIN_MM,
            },
        )


def _content_height_mm(document: Any) -> float:
    page = document.pages[0]
    root = page._page_box.children[0]
    bottom_px = root.position_y + root.margin_height()
    return float(bottom_px / PX_PER_MM + MARGIN_MM)


def render(receipt: Receipt) -> bytes:
    """The receipt as a one-page PDF, 80 mm wide and as long as its content."""
    first = html_to_pdf_document(render_html(receipt))
    height = max(60.0, _content_height_mm(first) + 1.0)
    return bytes(html_to_pdf_document(render_html(receipt, height_mm=height)).write_pdf())


def was_printed(payment: Payment) -> bool:
    return AuditEvent.objects.filter(
        account_id=payment.account_id, action=PRINT_ACTION, object_id=str(payment.pk)
    ).exists()


def do_print_receipt(payment: Payment, *, actor: ActorLike) -> bytes:
    """The receipt PDF; every print after the first is marked as a reprint. Audited."""
    reprint = was_printed(payment)
    pdf = render(build(payment, reprint=reprint))
    # Recorded after rendering: no write lock is held while WeasyPrint lays out the page.
    record(
        actor=actor,
        action=PRINT_ACTION,
        object_type="collection.payment",
        object_id=payment.pk,
        account_id=payment.account_id,
        after={"reprint": reprint, "number": receipt_number(payment)},
    )
    return pdf
