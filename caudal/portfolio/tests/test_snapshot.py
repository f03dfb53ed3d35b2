"""take_snapshot end to end: ledger → ADBC read → build → folder, on SQLite and PostgreSQL.

The reads go through their own connection, so these tests commit
(``django_db(transaction=True)``).
"""

from __future__ import annotations

import importlib
import json
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone

from caudal.audit.models import AuditEvent, Run
from caudal.cadastre.testing import make_account, make_utility
from caudal.ledger.actions import (
    do_block_item,
    do_post_charge,
    do_post_payment,
    do_reverse_document,
    do_unblock_item,
)
from caudal.ledger.models import OpenItem
from caudal.ledger.queries import balance_as_of, state_as_of
from caudal.portfolio import schema
from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus, StagePolicy
from caudal.portfolio.snapshot import (
    SnapshotError,
    default_kind,
    folder_for,
    load_policies,
    take_due_snapshots,
    take_snapshot,
)

pytestmark = pytest.mark.django_db(transaction=True)

D = date(2026, 3, 31)
_IMMUTABILITY = importlib.import_module("caudal.ledger.migrations.0002_immutability")
_DEFAULT_POLICIES = importlib.import_module("caudal.portfolio.migrations.0002_default_policies")
LEDGER_TABLES = (
    "ledger_blockevent",
    "ledger_clearing",
    "ledger_openitem",
    "ledger_documentline",
    "ledger_document",
)


def empty_ledger_tables() -> None:
    """Empty the ledger tables past the append-only triggers (SQLite test teardown).

    A transactional test's flush runs ``DELETE FROM`` on SQLite, which the triggers of
    ``ledger.0002_immutability`` refuse; PostgreSQL flushes with TRUNCATE, which they let
    through. So on SQLite the triggers are dropped, the rows deleted and the triggers
    created again, before the flush.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys=OFF")
        for sql in _IMMUTABILITY.sqlite_backward():
            cursor.execute(sql)
        for table in LEDGER_TABLES:
            cursor.execute(f"DELETE FROM {table}")
        for sql in _IMMUTABILITY.sqlite_forward():
            cursor.execute(sql)
        cursor.execute("PRAGMA foreign_keys=ON")


@pytest.fixture(autouse=True)
def _snapshot_dir(transactional_db, settings, tmp_path):
    """Snapshots in a temporary folder; the default policies present (a transactional
    test's flush removed the rows the data migration wrote)."""
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    if not StagePolicy.objects.exists():
        _DEFAULT_POLICIES.create(django_apps, None)
    yield
    empty_ledger_tables()


def bill(account, amount: int, *, on: date, due: date, kind: str = "bill", ref: str = ""):
    return do_post_charge(
        account,
        kind=kind,
        lines=[("water", amount, "Agua")],
        document_date=on,
        due_date=due,
        reference=ref,
        actor="test",
    )


def content(on: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    folder = folder_for(on)
    return pl.read_parquet(folder / schema.ITEMS), pl.read_parquet(folder / schema.ACCOUNTS)


@pytest.fixture
def ledger():
    """Three accounts: one owing old and new bills (one blocked), one paid in part, one
    with an overpayment (open credit)."""
    make_utility("PE")
    a = make_account(name="Ana")
    b = make_account(name="Beto")
    c = make_account(name="Carla")
    b1 = bill(a, 3000, on=date(2025, 10, 6), due=date(2025, 10, 26), ref="A1")
    bill(a, 2500, on=date(2026, 2, 6), due=date(2026, 2, 26), ref="A2")
    bill(a, 2000, on=date(2026, 3, 6), due=date(2026, 3, 31), ref="A3", kind="agreement")
    item = OpenItem.objects.get(document=b1)
    do_block_item(
        item,
        reason="Reclamo",
        case_ref="PQR-7",
        responsible="Atención al cliente",
        on=date(2026, 3, 1),
        actor="test",
    )
    bill(b, 4000, on=date(2026, 1, 6), due=date(2026, 1, 26), ref="B1")
    do_post_payment(b, amount=1500, payment_date=date(2026, 2, 10), actor="test")
    do_post_payment(c, amount=900, payment_date=date(2026, 3, 10), actor="test")
    return {"a": a, "b": b, "c": c, "blocked_item": item}


def test_snapshot_totals_and_files(ledger):
    snap = take_snapshot(D, actor="analyst")
    assert snap.status == SnapshotStatus.DONE
    assert snap.kind == SnapshotKind.MONTHLY
    assert snap.engine == connection.vendor
    items, accounts = content(D)
    assert snap.items == items.height == 5  # A1, A2, A3, B1 (part), C credit
    assert snap.accounts == accounts.height == 3
    assert snap.debit_open == 3000 + 2500 + 2000 + 2500
    assert snap.credit_open == 900
    assert snap.balance == 10000 - 900
    assert snap.blocked == 3000
    # overdue at D: A1 (blocked too), A2, B1; A3 is due on D itself (0 days past due)
    assert snap.overdue == 3000 + 2500 + 2500
    a = accounts.filter(pl.col("account_id") == ledger["a"].pk).row(0, named=True)
    assert a["blocked_items"] == 1
    assert a["max_days_past_due"] == (D - date(2025, 10, 26)).days
    assert a["collectible_days"] == (D - date(2026, 2, 26)).days
    assert a["in_agreement"] is True
    assert a["holder_name"] == "Ana"
    assert a["testigo"] == "vencida"
    c = accounts.filter(pl.col("account_id") == ledger["c"].pk).row(0, named=True)
    assert c["balance"] == -900 and c["testigo"] == "vigente"
    kinds = dict(items.select("item_id", "document_kind").iter_rows())
    assert kinds[ledger["blocked_item"].pk] == "bill"
    assert sorted(items["document_kind"].unique().to_list()) == ["agreement", "bill", "payment"]
    manifest = json.loads((folder_for(D) / schema.MANIFEST).read_text())
    assert manifest["kind"] == "monthly"
    assert manifest["stage_policy"] == "PE v1"
    assert set(manifest["files"]) >= {schema.ITEMS, schema.ACCOUNTS, schema.CUBE}
    assert manifest["totals"]["items"] == 5
    run = snap.run
    assert run is not None
    assert run.kind == "snapshot" and run.status == "done" and run.counts["items"] == 5
    event = AuditEvent.objects.get(action="portfolio.take_snapshot")
    assert event.after is not None and event.after["date"] == D.isoformat()


def test_totals_equal_ledger_as_of(ledger):
    take_snapshot(D, actor="analyst")
    _items, accounts = content(D)
    for acc in ledger["a"], ledger["b"], ledger["c"]:
        row = accounts.filter(pl.col("account_id") == acc.pk).row(0, named=True)
        assert row["balance"] == balance_as_of(acc.pk, D)
        state = state_as_of(acc.pk, D)
        assert row["items"] == len(state)


def test_late_snapshot_equals_on_day_snapshot(ledger):
    on = date(2026, 3, 15)
    take_snapshot(on, actor="analyst")
    first = content(on)
    files_first = json.loads((folder_for(on) / schema.MANIFEST).read_text())["files"]
    # After the date: payments, a block lifted, a reversal, a new bill.
    a, b = ledger["a"], ledger["b"]
    do_unblock_item(ledger["blocked_item"], reason="Resuelto", on=date(2026, 3, 20), actor="t")
    do_post_payment(a, amount=5000, payment_date=date(2026, 3, 25), actor="t")
    pay = do_post_payment(b, amount=2500, payment_date=date(2026, 3, 26), actor="t")
    do_reverse_document(pay, reason="Cheque rechazado", posting_date=date(2026, 3, 28), actor="t")
    bill(b, 700, on=date(2026, 3, 28), due=date(2026, 4, 20), ref="B2")
    take_snapshot(on, actor="analyst")
    second = content(on)
    assert first[0].equals(second[0])
    assert first[1].equals(second[1])
    files_second = json.loads((folder_for(on) / schema.MANIFEST).read_text())["files"]
    assert files_first == files_second  # same bytes, same SHA-256
    assert Snapshot.objects.filter(date=on).count() == 1


def test_blocked_as_of_follows_block_events(ledger):
    item = ledger["blocked_item"]
    do_unblock_item(item, reason="Resuelto", on=date(2026, 3, 20), actor="t")
    on_before, on_blocked, on_after = date(2026, 2, 27), date(2026, 3, 10), date(2026, 3, 25)
    for on in (on_before, on_blocked, on_after):
        take_snapshot(on, actor="t")
    flags = {
        on: pl.read_parquet(folder_for(on) / schema.ITEMS)
        .filter(pl.col("item_id") == item.pk)["blocked"]
        .item()
        for on in (on_before, on_blocked, on_after)
    }
    assert flags == {on_before: False, on_blocked: True, on_after: False}
    row = (
        pl.read_parquet(folder_for(on_blocked) / schema.ITEMS)
        .filter(pl.col("item_id") == item.pk)
        .row(0, named=True)
    )
    assert row["blocked_since"] == date(2026, 3, 1)
    assert (row["block_case"], row["block_responsible"]) == ("PQR-7", "Atención al cliente")
    after = (
        pl.read_parquet(folder_for(on_after) / schema.ITEMS)
        .filter(pl.col("item_id") == item.pk)
        .row(0, named=True)
    )
    assert (after["blocked_since"], after["block_case"]) == (None, "")


def test_bucket_columns_sum_to_outstanding(ledger):
    take_snapshot(D, actor="t")
    manifest = json.loads((folder_for(D) / schema.MANIFEST).read_text())
    cols = manifest["bucket_columns"]
    accounts = pl.read_parquet(folder_for(D) / schema.ACCOUNTS)
    sums = accounts.select(pl.sum_horizontal(cols).alias("s"), "debit_open")
    assert (sums["s"] == sums["debit_open"]).all()
    cube = pl.read_parquet(folder_for(D) / schema.CUBE)
    assert cube.select(pl.sum_horizontal(cols)).to_series().sum() == cube["debit_open"].sum()
    assert cube["debit_open"].sum() == accounts["debit_open"].sum()


def test_previous_stage_comes_from_latest_done_snapshot(ledger):
    take_snapshot(date(2026, 2, 28), actor="t")
    take_snapshot(D, actor="t")
    prev = pl.read_parquet(folder_for(date(2026, 2, 28)) / schema.ACCOUNTS)
    cur = pl.read_parquet(folder_for(D) / schema.ACCOUNTS)
    joined = cur.join(prev.select("account_id", pl.col("stage").alias("p")), on="account_id")
    assert joined.height >= 1
    assert (joined["previous_stage"] == joined["p"]).all()
    manifest = json.loads((folder_for(D) / schema.MANIFEST).read_text())
    assert manifest["previous_snapshot"] == "2026-02-28"


def test_failure_keeps_previous_folder(ledger, monkeypatch):
    take_snapshot(D, actor="t")
    before = content(D)
    from caudal.portfolio import build

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build, "write_folder", boom)
    with pytest.raises(SnapshotError, match="disk full"):
        take_snapshot(D, actor="t")
    snap = Snapshot.objects.get(date=D)
    assert snap.status == SnapshotStatus.DONE
    after = content(D)
    assert before[0].equals(after[0]) and before[1].equals(after[1])
    assert Run.objects.filter(kind="snapshot", status="failed").count() == 1
    # A first attempt that fails leaves a FAILED row.
    with pytest.raises(SnapshotError):
        take_snapshot(date(2026, 3, 30), actor="t")
    assert Snapshot.objects.get(date=date(2026, 3, 30)).status == SnapshotStatus.FAILED
    assert not folder_for(date(2026, 3, 30)).exists()
    assert not any((folder_for(D).parent / ".staging").iterdir())


def test_refuses_future_date(ledger):
    with pytest.raises(SnapshotError, match="futura"):
        take_snapshot(timezone.localdate() + timedelta(days=1), actor="t")


def test_kind_and_policies():
    make_utility("CO")
    assert default_kind(date(2026, 2, 28)) == "monthly"
    assert default_kind(date(2026, 2, 27)) == "daily"
    assert load_policies(D).stage_policy == "CO v1"
    assert [r.stage for r in load_policies(D).stage_rules][-1] == "current"


def test_due_snapshots(ledger):
    today = date(2026, 4, 2)
    taken = take_due_snapshots(today, actor="scheduler")
    assert [(s.date, s.kind) for s in taken] == [
        (date(2026, 3, 31), "monthly"),
        (date(2026, 4, 1), "daily"),
    ]
    assert take_due_snapshots(today, actor="scheduler") == []


def test_empty_ledger():
    make_utility("PE")
    make_account()
    snap = take_snapshot(D, actor="t")
    assert snap.items == 0 and snap.accounts == 0 and snap.balance == 0
    assert duckdb.connect().execute(
        "SELECT count(*) FROM read_parquet(?)", [str(folder_for(D) / schema.CUBE)]
    ).fetchone() == (0,)


def test_stale_staging_folders_are_removed(ledger):
    import os
    import time

    staging = folder_for(D).parent / ".staging"
    old = staging / "2026-01-01-deadbeef"
    old.mkdir(parents=True)
    (old / "items.parquet").write_bytes(b"partial")
    past = time.time() - 2 * 24 * 3600
    os.utime(old, (past, past))
    take_snapshot(D, actor="t")
    assert not old.exists()
    assert list(staging.iterdir()) == []
