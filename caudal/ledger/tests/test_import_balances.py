"""The legacy-balances import (``caudal import-balances``) against a database."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

from caudal.audit.models import AuditEvent, Run
from caudal.cadastre.imports import import_cadastre
from caudal.cadastre.testing import make_utility
from caudal.ledger import invariants, queries
from caudal.ledger.imports import import_balances
from caudal.ledger.models import Document, DocumentLine, OpenItem

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
HEADER = [
    "account_number",
    "document_reference",
    "concept",
    "issue_date",
    "due_date",
    "amount",
    "document_kind",
    "description",
]


@pytest.fixture
def cadastre(db):
    make_utility("PE")
    result = import_cadastre(EXAMPLES / "cadastre.csv", actor="test")
    assert result.committed
    return result


@pytest.fixture
def balances_csv(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1, 1000))

    def make(
        rows: list[list[str]], *, header: list[str] | None = None, delimiter: str = ","
    ) -> Path:
        path = tmp_path / f"balances{next(counter)}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter)
            writer.writerow(header or HEADER)
            writer.writerows(rows)
        return path

    return make


def example_rows() -> list[list[str]]:
    with (EXAMPLES / "balances.csv").open(encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]


def ledger_counts() -> tuple[int, int, int]:
    return Document.objects.count(), DocumentLine.objects.count(), OpenItem.objects.count()


def check_balanced_on_postgresql() -> None:
    """Fire PostgreSQL's deferred balance trigger now (tests never commit)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_example_imports(cadastre):
    result = import_balances(EXAMPLES / "balances.csv", actor="test")
    assert result.errors == []
    assert result.committed
    assert (result.rows, result.created, result.unchanged) == (26, 10, 0)
    assert result.extra["items_created"] == 26
    assert (result.extra["debit_items"], result.extra["credit_items"]) == (24, 2)
    assert (result.extra["debit_total"], result.extra["credit_total"]) == (60797, 6550)
    assert ledger_counts() == (10, 26, 26)
    check_balanced_on_postgresql()
    assert invariants.check_all() == []

    bill = Document.objects.get(reference="R001-00451230")
    assert (bill.kind, bill.account.number, bill.amount) == ("bill", "01000101", 5256)
    assert bill.document_date == bill.posting_date == date(2025, 1, 6)
    assert bill.source == "import-balances"
    lines = list(
        bill.lines.order_by("line_no").values_list("line_no", "concept", "amount", "description")
    )
    assert lines == [
        (1, "water", 2840, "Consumo diciembre 2024: 14 m3"),
        (2, "sewer", 1095, ""),
        (3, "fixed", 520, ""),
        (4, "tax", 801, "IGV 18%"),
    ]
    items = OpenItem.objects.filter(document=bill).order_by("line__line_no")
    assert [(i.side, i.amount, i.open_amount, i.due_date) for i in items] == [
        ("D", 2840, 2840, date(2025, 1, 27)),
        ("D", 1095, 1095, date(2025, 1, 27)),
        ("D", 520, 520, date(2025, 1, 27)),
        ("D", 801, 801, date(2025, 1, 27)),
    ]
    credit = OpenItem.objects.get(document__reference="NC-2024-000356")
    assert (credit.side, credit.amount, credit.concept, credit.document.kind) == (
        "C",
        1550,
        "credit",
        "opening",
    )
    comma = DocumentLine.objects.get(document__reference="R001-00450987", line_no=2)
    assert comma.amount == 887  # written "8,87"
    interest = Document.objects.get(reference="SALDO-01000104")
    assert interest.posting_date == date(2024, 12, 31)  # written 31/12/2024


def test_as_of_queries_see_the_legacy_dates(cadastre):
    import_balances(EXAMPLES / "balances.csv", actor="test")
    account = Document.objects.get(reference="R001-00448811").account_id
    # Before the first legacy bill, nothing; after the October and November bills, both.
    assert queries.balance_as_of(account, date(2024, 10, 6)) == 0
    assert queries.balance_as_of(account, date(2024, 11, 30)) == 4227 + 4660
    assert queries.balance(account) == 4227 + 4660 + 4369 + 3500 + 418


def test_audit_event_and_run(cadastre):
    result = import_balances(EXAMPLES / "balances.csv", actor="migración")
    run = Run.objects.get(pk=result.extra["run_id"])
    assert (run.kind, run.status, run.counts["created"]) == ("import_balances", "done", 10)
    event = AuditEvent.objects.get(action="ledger.import_balances")
    assert event.object_id == str(run.pk)
    assert (event.after or {})["file"] == "balances.csv"


def test_reimport_posts_nothing(cadastre):
    import_balances(EXAMPLES / "balances.csv", actor="test")
    again = import_balances(EXAMPLES / "balances.csv", actor="test")
    assert again.errors == []
    assert (again.created, again.unchanged) == (0, 10)
    assert again.extra["unchanged_rows"] == 26
    assert ledger_counts() == (10, 26, 26)


def test_reimport_with_new_documents_adds_only_those(cadastre, balances_csv):
    import_balances(EXAMPLES / "balances.csv", actor="test")
    rows = [
        *example_rows(),
        ["01000102", "R001-00452000", "agua", "2025-02-06", "2025-02-27", "19.90", "bill", ""],
    ]
    result = import_balances(balances_csv(rows), actor="test")
    assert (result.created, result.unchanged) == (1, 10)
    assert ledger_counts() == (11, 27, 27)


def test_same_reference_with_other_lines_is_an_error(cadastre, balances_csv):
    import_balances(EXAMPLES / "balances.csv", actor="test")
    rows = example_rows()
    rows[0][5] = "28.41"  # first line of R001-00451230 changes amount
    result = import_balances(balances_csv(rows), actor="test")
    assert not result.committed
    assert [(e.line, e.column) for e in result.errors] == [
        (n, "document_reference") for n in (2, 3, 4, 5)
    ]
    assert "ya existe" in result.errors[0].reason
    assert ledger_counts() == (10, 26, 26)


def test_row_errors(cadastre, balances_csv):
    rows = [
        ["01000101", "A-1", "agua", "2025-01-06", "2025-01-27", "10.00", "", ""],  # 2 ok
        ["99999999", "A-2", "agua", "2025-01-06", "2025-01-27", "10.00", "", ""],  # 3 unknown
        ["01000101", "A-3", "agua", "2025-01-06", "2025-01-27", "0.00", "", ""],  # 4 zero
        ["01000101", "A-4", "agua", "2025-01-06", "2025-01-05", "10.00", "", ""],  # 5 due<issue
        ["01000101", "A-5", "gasolina", "2025-01-06", "2025-01-27", "10.00", "", ""],  # 6
        ["01000101", "A-6", "agua", "2025-13-06", "2025-01-27", "10.00", "", ""],  # 7 date
        ["01000101", "A-7", "agua", "2025-01-06", "2025-01-27", "1.234,50", "", ""],  # 8
        ["01000101", "A-8", "pago", "2025-01-06", "2025-01-27", "10.00", "", ""],  # 9 sign
        ["01000101", "A-9", "agua", "2025-01-06", "2025-01-27", "10.00", "recibo", ""],  # 10 ok
        ["01000101", "A-9", "igv", "2025-01-07", "2025-01-27", "1.80", "recibo", ""],  # 11
        ["01000101", "A-10", "agua", "2025-01-06", "2025-01-27", "10.00", "nota", ""],  # 12
        ["01000101", "", "agua", "2025-01-06", "2025-01-27", "10.005", "", ""],  # 13
    ]
    result = import_balances(balances_csv(rows), actor="test")
    assert not result.committed
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "account_number"),
        (4, "amount"),
        (5, "due_date"),
        (6, "concept"),
        (7, "issue_date"),
        (8, "amount"),
        (9, "amount"),
        (11, "issue_date"),
        (12, "document_kind"),
        (13, "document_reference"),
        (13, "amount"),
    ]
    reasons = {e.line: e.reason for e in result.errors}
    assert reasons[3] == "el suministro 99999999 no existe en el catastro"
    assert reasons[4] == "el importe no puede ser cero"
    assert reasons[5] == "el vencimiento es anterior a la emisión"
    assert reasons[11].startswith("la fecha de emisión difiere de la línea 10")
    assert ledger_counts() == (0, 0, 0)


def test_partial_rejects_whole_documents(cadastre, balances_csv):
    rows = [
        ["01000101", "B-1", "agua", "2025-01-06", "2025-01-27", "10.00", "bill", ""],
        ["01000101", "B-1", "alcantarillado", "2025-01-06", "2025-01-27", "0", "bill", ""],
        ["01000102", "B-2", "agua", "2025-01-06", "2025-01-27", "12.50", "bill", ""],
        ["01000102", "B-2", "saldo a favor", "2025-01-06", "2025-01-27", "-2.50", "bill", ""],
    ]
    result = import_balances(balances_csv(rows), actor="test", partial=True)
    assert result.committed
    assert [(e.line, e.column) for e in result.errors] == [(2, "document_reference"), (3, "amount")]
    assert (
        result.errors[0].reason
        == "documento rechazado: la línea 3 del mismo documento tiene errores"
    )
    assert (result.created, result.extra["rejected_rows"]) == (1, 2)
    doc = Document.objects.get()
    assert (doc.reference, doc.amount, doc.lines.count()) == ("B-2", 1000, 2)
    assert sorted(OpenItem.objects.values_list("side", "amount")) == [("C", 250), ("D", 1250)]
    check_balanced_on_postgresql()
    assert invariants.check_all() == []


def test_dry_run_writes_nothing(cadastre):
    result = import_balances(EXAMPLES / "balances.csv", actor="test", dry_run=True)
    assert (result.created, result.extra["items_created"], result.committed) == (10, 26, False)
    assert ledger_counts() == (0, 0, 0)
    assert Run.objects.get(pk=result.extra["run_id"]).status == "dry_run"
    assert not AuditEvent.objects.filter(action="ledger.import_balances").exists()


def test_semicolons_and_same_reference_on_two_accounts(cadastre, balances_csv):
    rows = [
        ["01000101", "SALDO-2024", "agua", "31/12/2024", "31/01/2025", "15,00"],
        ["01000102", "SALDO-2024", "agua", "31/12/2024", "31/01/2025", "20,00"],
    ]
    path = balances_csv(rows, header=HEADER[:6], delimiter=";")
    result = import_balances(path, actor="test")
    assert result.errors == []
    assert result.created == 2
    assert sorted(Document.objects.values_list("account__number", "kind", "amount")) == [
        ("01000101", "opening", 1500),
        ("01000102", "opening", 2000),
    ]


def test_apply_credits_option(cadastre, balances_csv):
    rows = [
        ["01000101", "C-1", "agua", "2025-01-06", "2025-01-27", "30.00", "bill", ""],
        ["01000101", "C-2", "saldo_a_favor", "2025-01-10", "2025-01-10", "-10.00", "", ""],
    ]
    result = import_balances(balances_csv(rows), actor="test", apply_credits=True)
    assert result.extra["credits_applied_accounts"] == 1
    debit = OpenItem.objects.get(side="D")
    credit = OpenItem.objects.get(side="C")
    assert (debit.open_amount, credit.open_amount) == (2000, 0)
    check_balanced_on_postgresql()
    assert invariants.check_all() == []


def test_header_errors(cadastre, balances_csv):
    path = balances_csv([], header=["account_number", "document_reference", "amount", "fecha"])
    result = import_balances(path, actor="test")
    assert {(e.column, e.reason) for e in result.errors} == {
        ("fecha", "columna desconocida"),
        ("concept", "falta la columna obligatoria"),
        ("issue_date", "falta la columna obligatoria"),
        ("due_date", "falta la columna obligatoria"),
    }
