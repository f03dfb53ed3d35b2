"""End to end: bills and payments posted through the ledger → ``take_snapshot`` of two
month ends → the monthly and pre-legal reports → publication.

``take_snapshot`` reads through its own (ADBC) connection, so this test commits
(``django_db(transaction=True)``).
"""

from __future__ import annotations

import hashlib
import importlib
import io
from datetime import date
from pathlib import Path

import pypdf
import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core import mail
from django.db import connection

from caudal.cadastre.testing import make_account, make_utility
from caudal.ledger.actions import do_post_charge, do_post_payment
from caudal.ledger.queries import balance_as_of
from caudal.portfolio.models import StagePolicy
from caudal.portfolio.snapshot import take_snapshot
from caudal.reports import actions
from caudal.reports.content import build_content
from caudal.reports.models import ReportStatus

pytestmark = pytest.mark.django_db(transaction=True)

PREV = date(2026, 2, 28)
ON = date(2026, 3, 31)
_IMMUTABILITY = importlib.import_module("caudal.ledger.migrations.0002_immutability")
_DEFAULT_POLICIES = importlib.import_module("caudal.portfolio.migrations.0002_default_policies")
LEDGER_TABLES = (
    "ledger_blockevent",
    "ledger_clearing",
    "ledger_openitem",
    "ledger_documentline",
    "ledger_document",
)


@pytest.fixture(autouse=True)
def _setup(transactional_db, settings, tmp_path):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    settings.CAUDAL_REPORT_DIR = tmp_path / "reports"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CAUDAL_REPORT_RECIPIENTS = ["gerencia@eps.example"]
    if not StagePolicy.objects.exists():  # a transactional flush removed the data migration's rows
        _DEFAULT_POLICIES.create(django_apps, None)
    yield
    if connection.vendor == "sqlite":  # the append-only triggers refuse the flush's DELETE
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys=OFF")
            for sql in _IMMUTABILITY.sqlite_backward():
                cursor.execute(sql)
            for table in LEDGER_TABLES:
                cursor.execute(f"DELETE FROM {table}")
            for sql in _IMMUTABILITY.sqlite_forward():
                cursor.execute(sql)
            cursor.execute("PRAGMA foreign_keys=ON")


def bill(account, amount: int, *, on: date, due: date, ref: str) -> None:
    do_post_charge(
        account,
        kind="bill",
        lines=[("water", amount, "Agua")],
        document_date=on,
        due_date=due,
        reference=ref,
        actor="test",
    )


def test_ledger_to_published_report(analyst, coordinator, manager):
    make_utility("PE")
    ana = make_account(name="Ana")
    beto = make_account(name="Beto")
    bill(ana, 30_000, on=date(2025, 10, 6), due=date(2025, 10, 26), ref="A1")  # prejudicial
    bill(ana, 2_500, on=date(2026, 2, 6), due=date(2026, 2, 26), ref="A2")
    bill(beto, 4_000, on=date(2026, 1, 6), due=date(2026, 1, 26), ref="B1")
    do_post_payment(beto, amount=4_000, payment_date=date(2026, 3, 10), actor="test")
    bill(beto, 1_800, on=date(2026, 3, 6), due=date(2026, 3, 26), ref="B2")
    take_snapshot(PREV, actor="analyst", kind="monthly")
    snapshot = take_snapshot(ON, actor="analyst", kind="monthly")

    content = build_content("monthly", snapshot)
    expected = balance_as_of(ana.pk, ON) + balance_as_of(beto.pk, ON)
    assert content.figure("balance").value == expected == snapshot.balance == 34_300
    assert content.figure("balance").previous == 30_000 + 2_500 + 4_000
    assert content.previous_date == PREV
    assert sum(r["amount"] for r in content.table("buckets").rows) == expected
    prelegal = build_content("prelegal", snapshot)
    assert prelegal.stages == ["prejudicial"]
    assert prelegal.figure("balance").value == 32_500  # Ana's account
    assert prelegal.table("movement").rows[0]["stayed"] == 1
    # Beto paid in March: collected by the stage his account was in when he paid.
    recaudo = content.table("recaudo").rows
    assert sum(r["amount"] for r in recaudo) == 4_000

    report = actions.do_create_report("monthly", snapshot, actor=analyst)
    actions.do_edit_report(report, "La cartera se mantiene.", "Cobrar a Ana.", actor=analyst)
    actions.do_submit(report, actor=analyst)
    actions.do_forward(report, actor=coordinator)
    actions.do_approve(report, actor=manager)
    actions.do_publish(report, actor=manager)  # transaction=True: the e-mail goes on commit
    report.refresh_from_db()
    assert report.status == ReportStatus.PUBLISHED
    data = (Path(settings.CAUDAL_REPORT_DIR) / report.pdf_path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == report.pdf_sha256
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "S/ 343.00" in text and "BORRADOR" not in text
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["gerencia@eps.example"]
