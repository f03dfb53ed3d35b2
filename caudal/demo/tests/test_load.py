"""The generated files through the real imports, and the ``caudal demo`` command."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from caudal.cadastre.imports import import_cadastre
from caudal.cadastre.models import Account, Connection, Customer, Meter, UtilitySettings
from caudal.demo.build import ADMIN_USER, DEMO_PASSWORD, DEMO_USERS
from caudal.demo.generator import DemoSpec, generate, write_csvs
from caudal.ledger.imports import import_balances
from caudal.ledger.models import Document, OpenItem


@pytest.mark.parametrize("profile", ["pe", "co"])
def test_generated_files_import_without_errors(db, tmp_path: Path, profile: str) -> None:
    spec = DemoSpec(
        accounts=300,
        months=12,
        profile=profile,
        seed=11,
        as_of=timezone.localdate() - timedelta(days=3),
    )
    demo = generate(spec)
    paths = write_csvs(demo, tmp_path)
    cadastre = import_cadastre(paths["cadastre"], actor="test", country=profile.upper())
    assert cadastre.errors == []
    assert Account.objects.count() == 300
    assert Connection.objects.count() == demo.accounts.height + int(
        (demo.accounts["sewer_status"] != "").sum()
    )
    assert Meter.objects.count() == int(demo.accounts["meter_serial"].is_not_null().sum())
    balances = import_balances(paths["balances"], actor="test")
    assert balances.errors == []
    assert OpenItem.objects.count() == demo.balances.height
    assert Document.objects.count() == demo.balances["document_reference"].n_unique()
    total = sum(item.signed_open for item in OpenItem.objects.all())
    assert total == int(demo.balances["amount"].sum())


def test_demo_command_builds_a_utility(db, tmp_path: Path, settings) -> None:
    settings.VAR_DIR = tmp_path
    # The demo takes snapshots and publishes a report: keep their files out of the shared
    # test folders (other tests of the worker read every snapshot folder there).
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    settings.CAUDAL_REPORT_DIR = tmp_path / "reports"
    call_command("demo", accounts=200, months=6, profile="pe", seed=1, quiet=True)
    assert Account.objects.count() == 200
    assert Customer.objects.exists()
    assert OpenItem.objects.filter(open_amount__gt=0).exists()
    utility = UtilitySettings.current()
    assert (utility.name, utility.currency, utility.country) == ("EPS Demo S.A.", "PEN", "PE")
    assert (tmp_path / "demo" / "cadastre.csv").is_file()
    assert (tmp_path / "snapshots").is_dir()
    assert (tmp_path / "demo" / "balances.csv").is_file()
    users = get_user_model().objects
    admin = users.get(username=ADMIN_USER)
    assert admin.is_superuser
    assert admin.check_password(DEMO_PASSWORD)
    for username, group, _first, _last in DEMO_USERS:
        user = users.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.check_password(DEMO_PASSWORD)
    # the last periods went through readings, critique, the billing run and payments
    from caudal.billing.models import Bill
    from caudal.ledger.invariants import check_all
    from caudal.metering.models import ReadingCalendar

    periods = sorted(set(Bill.objects.values_list("period", flat=True)))
    assert len(periods) >= 3
    assert Bill.objects.filter(document__isnull=False).exists()
    # payments came through the channels: bank files, centres online, the cash desk
    from caudal.collection.models import CashierSession, DailySettlement, Payment, PaymentFile

    assert PaymentFile.objects.exists()
    assert (tmp_path / "demo" / "car-api-key.txt").read_text().startswith("cau_")
    assert Payment.objects.filter(payment_file__isnull=False).exists()
    assert Payment.objects.filter(payment_file__isnull=True, session__isnull=True).exists()
    assert Payment.objects.filter(session__isnull=False).exists()
    assert CashierSession.objects.filter(status="closed").exists()
    assert DailySettlement.objects.exists()
    assert (
        not Document.objects.filter(kind="payment")
        .exclude(pk__in=Payment.objects.values("document_id"))
        .exists()
    )
    assert ReadingCalendar.objects.filter(period__gt=periods[-1]).exists()  # the open period
    assert check_all() == []
    # a second run refuses to load over an existing demo
    with pytest.raises(CommandError, match="--fresh"):
        call_command("demo", accounts=200, months=6, seed=1, quiet=True)


def test_migration_only_demo(db, tmp_path: Path, settings) -> None:
    settings.VAR_DIR = tmp_path
    call_command("demo", accounts=100, billed_periods=0, seed=2, quiet=True)
    from caudal.billing.models import Bill

    assert not Bill.objects.exists()
    assert OpenItem.objects.filter(open_amount__gt=0).exists()


def test_fresh_never_drops_a_database_outside_var(db, tmp_path: Path, settings) -> None:
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="--fresh"):
        call_command("demo", accounts=10, fresh=True, quiet=True)


def test_csv_only_writes_the_files(tmp_path: Path, settings) -> None:
    settings.VAR_DIR = tmp_path
    call_command("demo", accounts=50, profile="co", csv_only=True, quiet=True)
    header = (tmp_path / "demo" / "cadastre.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("account_number,customer_doc_type,customer_doc_number")
