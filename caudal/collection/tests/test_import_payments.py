"""Bank payment files: ``caudal.collection.imports.import_payments``.

Posting exactly once, the ledger's rules (oldest due first, overpayment as credit, blocked
items never paid), all-or-nothing on any error (naming line and field), traceability from
every payment to its file line and from every ledger document to its payment, dry run,
reconnection notes, collisions with other files, and the column-wise settlement.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from caudal.audit.models import AuditEvent, Run, RunStatus
from caudal.billing.models import Bill
from caudal.cadastre.models import Account, Connection, ConnectionStatus
from caudal.cadastre.testing import make_account
from caudal.collection import actions, imports
from caudal.collection.formats import asobancaria, camt054, csvfile
from caudal.collection.imports import import_payments, settle_frame
from caudal.collection.models import (
    CentreKind,
    Payment,
    PaymentFile,
    ReconnectionDue,
)
from caudal.collection.testing import make_centre
from caudal.ledger import actions as ledger
from caudal.ledger import bulk, invariants, queries, rules
from caudal.ledger.models import Concept, Document, OpenItem

pytestmark = pytest.mark.django_db

BANK = "BANCO07"


def today() -> date:
    return timezone.localdate()


def charge(account: Account, amount: int, due: date, ref: str = "") -> Document:
    return ledger.do_post_charge(
        account.pk,
        kind="bill",
        lines=[(Concept.WATER, amount, "agua")],
        due_date=due,
        document_date=due - timedelta(days=20),
        posting_date=due - timedelta(days=20),
        reference=ref,
        actor="test",
    )


def aso(
    records: list[dict[str, Any]],
    *,
    paid_on: date | None = None,
    modifier: str = "A",
    file_time: str = "0600",
) -> bytes:
    day = paid_on or today() - timedelta(days=1)
    return asobancaria.write(
        records,
        collector_nit="899999094",
        file_date=day,
        collection_date=day,
        modifier=modifier,
        file_time=file_time,
    )


def run(data: bytes, fmt: str = "asobancaria2001", **kwargs: Any) -> imports.PaymentImport:
    kwargs.setdefault("centre", BANK)
    kwargs.setdefault("actor", "test")
    return import_payments(data, fmt=fmt, **kwargs)


def make_bill(account: Account, document: Document, reference: str, period: str) -> Bill:
    from caudal.tariffs.testing import make_tariff

    return Bill.objects.create(
        account=account,
        period=period,
        number=f"R-{reference}",
        payment_reference=reference,
        route=account.property.route,
        document=document,
        issue_date=document.document_date,
        due_date=document.document_date + timedelta(days=20),
        category=account.category,
        tariff=make_tariff(),
        consumption=10,
        consumption_rule="actual",
        amount=document.amount,
        total_due=document.amount,
    )


@pytest.fixture
def bank(db, utility):
    # An ``exact`` centre: a file is applied with rule ``any`` whatever the centre says.
    return make_centre(BANK, kind=CentreKind.BANK)


@pytest.fixture
def two(bank):
    a = make_account()
    b = make_account()
    charge(a, 5_000, today() - timedelta(days=40), "A1")
    charge(a, 7_000, today() - timedelta(days=5), "A2")
    charge(b, 3_000, today() - timedelta(days=10), "B1")
    return a, b


def open_amounts(account: Account) -> list[tuple[int, str, int]]:
    return list(
        OpenItem.objects.filter(account=account)
        .order_by("due_date", "id")
        .values_list("amount", "side", "open_amount")
    )


# --------------------------------------------------------------------------- posting


def test_asobancaria_posts_once_oldest_due_first_and_overpayment_as_credit(two):
    a, b = two
    data = aso([{"reference": a.number, "amount": 6_000}, {"reference": b.number, "amount": 4_500}])
    result = run(data, file_name="recaudo.txt")
    assert result.ok and result.committed
    assert (result.records, result.posted, result.total) == (2, 2, 10_500)
    assert result.accounts == 2 and result.credit_left == 1_500
    # oldest bill paid first, the rest on the next one; the excess of b is a credit
    assert open_amounts(a) == [(5_000, "D", 0), (7_000, "D", 6_000), (6_000, "C", 0)]
    assert queries.balance(a.pk) == 6_000 and queries.balance(b.pk) == -1_500
    assert Payment.objects.count() == 2 and PaymentFile.objects.count() == 1
    assert AuditEvent.objects.filter(action="collection.import_payments").count() == 1
    run_row = Run.objects.get(pk=int(result.run_id or 0))
    assert run_row.status == RunStatus.DONE and run_row.counts["posted"] == 2
    assert invariants.check_all() == []

    documents = Document.objects.count()
    again = run(data, file_name="copia.txt")
    assert again.already_imported and not again.committed and again.ok
    assert again.file_id == result.file_id and again.imported_at is not None
    assert Document.objects.count() == documents and Payment.objects.count() == 2
    assert AuditEvent.objects.filter(action="collection.import_payments").count() == 1


def test_blocked_items_are_never_paid(bank):
    a = make_account()
    disputed = charge(a, 5_000, today() - timedelta(days=40), "OLD")
    charge(a, 3_000, today() - timedelta(days=5), "NEW")
    item = OpenItem.objects.get(document=disputed)
    ledger.do_block_item(item.pk, reason="reclamo 7", actor="test")
    result = run(aso([{"reference": a.number, "amount": 4_000}]))
    assert result.committed and result.credit_left == 1_000
    item.refresh_from_db()
    assert item.open_amount == 5_000 and item.blocked
    assert open_amounts(a) == [(5_000, "D", 5_000), (3_000, "D", 0), (4_000, "C", 1_000)]


def test_existing_credit_is_used_with_the_payment(bank):
    a = make_account()
    ledger.do_post_payment(
        a.pk, amount=1_000, payment_date=today() - timedelta(days=30), actor="test"
    )
    charge(a, 5_000, today() - timedelta(days=5), "X")  # takes the 1,000 credit
    result = run(aso([{"reference": a.number, "amount": 4_000}]))
    assert result.committed and result.credit_left == 0
    assert queries.balance(a.pk) == 0
    assert invariants.check_account(a.pk) == []


def test_camt054_posts_once(two):
    a, b = two
    day = today() - timedelta(days=2)
    data = camt054.write(
        [
            {"reference": a.number, "amount": 12_000, "paid_on": day, "external_reference": "E1"},
            {"reference": b.number, "amount": 3_000, "paid_on": day, "external_reference": "E2"},
        ],
        account="12345678901",
        created_at=day,
    )
    result = run(data, "camt054")
    assert result.committed and result.posted == 2
    assert queries.balance(a.pk) == 0 and queries.balance(b.pk) == 0
    assert sorted(Payment.objects.values_list("external_reference", "method")) == [
        ("E1", "transfer"),
        ("E2", "transfer"),
    ]
    assert run(data, "camt054").already_imported
    assert Payment.objects.count() == 2


def test_csv_with_two_dates_leading_zeros_and_a_bill_reference(two):
    a, b = two
    bill_doc = Document.objects.get(account=b, reference="B1")
    make_bill(b, bill_doc, "4455667788", "2026-10")
    early, late = today() - timedelta(days=3), today() - timedelta(days=1)
    records = pl.DataFrame(
        {
            "reference": ["000" + a.number, "4455667788", a.number],
            "amount": [5_000, 3_000, 7_000],
            "paid_on": [late, early, early],
            "method": ["cash", "card", "cheque"],
            "external_reference": ["C1", "C2", "C3"],
            "point": ["01", "", "P01"],
        }
    )
    data = csvfile.write(records)
    result = run(data, "csv")
    assert result.committed and result.posted == 3
    assert run(data, "csv").already_imported and Payment.objects.count() == 3
    rows = {
        p.external_reference: p
        for p in Payment.objects.select_related("document").order_by("file_line")
    }
    assert rows["C2"].account_id == b.pk and rows["C2"].bill_reference == "4455667788"
    assert rows["C1"].account_id == a.pk and rows["C1"].bill_reference == ""
    # each payment is posted on its own date; the earlier date is applied first
    assert rows["C1"].document.posting_date == late and rows["C3"].document.posting_date == early
    assert rows["C3"].method == "cheque" and rows["C3"].point is not None
    assert rows["C3"].point.code == "P01" and rows["C1"].point is None
    # the 7,000 of the 3rd line (earlier day) paid the oldest bill (5,000) and 2,000 of A2
    assert open_amounts(a)[:2] == [(5_000, "D", 0), (7_000, "D", 0)]
    assert queries.balance(a.pk) == 0 and queries.balance(b.pk) == 0


# ----------------------------------------------------------------------- bad files


def test_bad_control_total_posts_nothing_and_names_line_and_field(two):
    a, _b = two
    lines = aso([{"reference": a.number, "amount": 6_000}]).decode().split("\r\n")
    control = next(i for i, text in enumerate(lines) if text.startswith("08"))
    lines[control] = lines[control][:11] + "9" * 18 + lines[control][29:]
    documents = Document.objects.count()
    result = run("\r\n".join(lines).encode())
    assert not result.ok and not result.committed and result.file_id is None
    assert any(e.line == control + 1 and e.field == "valor_total_lote" for e in result.errors)
    assert Document.objects.count() == documents
    assert not Payment.objects.exists() and not PaymentFile.objects.exists()
    assert Run.objects.get(pk=int(result.run_id or 0)).status == RunStatus.FAILED


def test_unknown_reference_posts_nothing(two):
    a, b = two
    documents = Document.objects.count()
    data = aso(
        [
            {"reference": a.number, "amount": 6_000},
            {"reference": "99999999", "amount": 1_000},
            {"reference": b.number, "amount": 3_000},
        ]
    )
    result = run(data)
    assert not result.committed and result.error_count == 1
    (error,) = result.errors
    # line 1 is the file header, 2 the batch header, 3..5 the details
    assert (error.line, error.field) == (4, "reference") and "99999999" in error.message
    assert Document.objects.count() == documents and not Payment.objects.exists()
    assert not PaymentFile.objects.exists()
    # the corrected file imports (the refused one left nothing behind)
    fixed = aso(
        [{"reference": a.number, "amount": 6_000}, {"reference": b.number, "amount": 3_000}]
    )
    assert run(fixed).committed


def test_collision_with_payments_of_another_file(two):
    a, b = two
    day = today() - timedelta(days=1)
    first = aso([{"reference": a.number, "amount": 1_000}], paid_on=day)
    assert run(first).committed
    # The bank sends the same day's file again with a different time stamp: same
    # modifier, same batch-sequence, same date: every record collides.
    resent = aso(
        [{"reference": a.number, "amount": 1_000}, {"reference": b.number, "amount": 500}],
        paid_on=day,
        file_time="0930",
    )
    result = run(resent)
    assert not result.committed
    assert [(e.line, e.field) for e in result.errors] == [(3, "external_reference")]
    assert "ya se aplicó desde el archivo" in result.errors[0].message
    assert Payment.objects.count() == 1
    # The day's second file (modifier B) has its own sequence: no collision.
    second = aso([{"reference": b.number, "amount": 500}], paid_on=day, modifier="B")
    assert run(second).committed
    assert sorted(Payment.objects.values_list("external_reference", flat=True)) == [
        "A-0001-0000001",
        "B-0001-0000001",
    ]


def test_unknown_centre_is_refused(db):
    with pytest.raises(imports.ImportRefused):
        run(b"x", centre="NOPE")


# ---------------------------------------------------------------------- traceability


def test_every_payment_has_its_file_line_and_every_document_its_payment(two):
    a, b = two
    data = aso(
        [
            {"reference": a.number, "amount": 100},
            {"reference": b.number, "amount": 200},
            {"reference": a.number, "amount": 300},
        ]
    )
    result = run(data, file_name="trace.txt")
    file = PaymentFile.objects.get(pk=int(result.file_id or 0))
    assert (file.records, file.total, file.sha256) == (3, 600, result.sha256)
    assert file.run_id == result.run_id and file.centre.code == BANK
    details = [i + 1 for i, t in enumerate(data.decode().split("\r\n")) if t.startswith("06")]
    payments = list(Payment.objects.filter(payment_file=file).order_by("file_line"))
    assert [p.file_line for p in payments] == details
    assert [p.amount for p in payments] == [100, 200, 300]
    for p in payments:
        doc = p.document
        assert doc.kind == "payment" and doc.amount == -p.amount
        assert doc.reference == f"F{file.pk}-L{p.file_line}"
        assert doc.source == f"file:{result.sha256[:8]}"
        assert doc.account_id == p.account_id
    file_docs = Document.objects.filter(source=f"file:{result.sha256[:8]}")
    assert file_docs.count() == 3
    assert all(d.collection_payment.payment_file_id == file.pk for d in file_docs)


def test_dry_run_posts_nothing(two):
    a, b = two
    data = aso([{"reference": a.number, "amount": 6_000}, {"reference": b.number, "amount": 4_500}])
    documents = Document.objects.count()
    result = run(data, dry_run=True)
    assert result.ok and result.dry_run and not result.committed and result.file_id is None
    assert (result.posted, result.credit_left) == (2, 1_500)
    assert Document.objects.count() == documents
    assert not Payment.objects.exists() and not PaymentFile.objects.exists()
    assert Run.objects.get(pk=int(result.run_id or 0)).status == RunStatus.DRY_RUN
    assert run(data).committed  # a dry run does not mark the file as imported


def test_chunks_and_repeated_accounts_give_the_same_ledger(two, monkeypatch):
    a, b = two
    monkeypatch.setattr(imports, "CHUNK", 2)
    monkeypatch.setattr(imports, "UPDATE_SLICE", 1)
    records = [{"reference": r.number, "amount": 2_000} for r in (a, b, a, a, b)]
    result = run(aso(records))
    assert result.committed and result.posted == 5
    assert queries.balance(a.pk) == 12_000 - 6_000 and queries.balance(b.pk) == 3_000 - 4_000
    assert result.credit_left == 1_000
    assert invariants.check_all() == []


# ------------------------------------------------------------------- reconnection


def test_reconnection_note_for_cut_account_that_no_longer_owes_overdue_debt(bank):
    cut = make_account()
    partly = make_account()
    for acc in (cut, partly):
        Connection.objects.filter(account=acc, service="water").update(status=ConnectionStatus.CUT)
        charge(acc, 5_000, today() - timedelta(days=40))
        charge(acc, 4_000, today() + timedelta(days=10))  # not due yet: no obstacle
    result = run(
        aso(
            [
                {"reference": cut.number, "amount": 5_000},
                {"reference": partly.number, "amount": 4_999},
            ]
        )
    )
    assert result.reconnections == 1
    note = ReconnectionDue.objects.get()
    payment = Payment.objects.get(account=cut)
    assert note.account_id == cut.pk and note.payment_id == payment.pk
    assert note.document_id == payment.document_id and note.cleared_on == payment.payment_date
    # another payment while the note is pending adds none
    again = run(aso([{"reference": cut.number, "amount": 100}], modifier="B"))
    assert again.committed and again.reconnections == 0
    assert ReconnectionDue.objects.count() == 1


# -------------------------------------------------------------------- resolution


def test_resolution_agrees_with_the_single_payment_path(two):
    a, b = two
    make_bill(b, Document.objects.get(account=b, reference="B1"), "7700112233", "2026-09")
    refs = [a.number, "000" + a.number, "7700112233", "0007700112233", b.number, "123"]
    with connection.cursor() as cursor:
        frame = imports.resolve_references(cursor, pl.Series(refs))
    found = {r: (acc, bill) for r, acc, bill in frame.iter_rows()}
    for ref in refs:
        try:
            account, bill = actions.resolve(ref)
        except Exception:
            assert found[ref][0] is None
            continue
        assert found[ref] == (account.pk, bill.payment_reference if bill else "")


# -------------------------------------------------------------- column-wise settle

ITEM = st.tuples(
    st.integers(1, 4),  # account
    st.sampled_from("CD"),
    st.integers(1, 60),  # open amount
    st.integers(0, 40),  # due offset
    st.integers(0, 40),  # issue offset
)


@settings(max_examples=150, deadline=None)
@given(st.lists(ITEM, max_size=14), st.integers(0, 50))
def test_settle_frame_is_bulk_settle(rows, on_offset):
    start = date(2026, 1, 1)
    on = start + timedelta(days=on_offset)
    book = bulk.OpenBook()
    frame_rows = []
    for item_id, (account, side, amount, due, issue) in enumerate(rows, start=1):
        issued = start + timedelta(days=issue)
        due_date = issued + timedelta(days=due) if side == "D" else issued
        book.items.setdefault(account, []).append(
            rules.Item(
                id=item_id, side=side, open_amount=amount, due_date=due_date, issue_date=issued
            )
        )
        frame_rows.append((item_id, account, side, amount, due_date, issued))
    expected = bulk.settle(book, {}, on=on, document_of={})
    frame = pl.DataFrame(frame_rows, schema=imports.ITEM_SCHEMA, orient="row")
    clearings, changes = settle_frame(frame, on=on)
    assert [tuple(r) for r in clearings.iter_rows()] == [c[:5] for c in expected.clearings]
    assert {r[0]: (r[1], r[2]) for r in changes.iter_rows()} == expected.open_amounts
