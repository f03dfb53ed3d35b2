"""The snapshot benchmark on a small ledger: the generated ledger is sound (the ledger's
own invariants), the snapshot finds the N items as of the date (the 1 % paid the day
after included), and the figures are reported."""

from __future__ import annotations

import pytest

from caudal.bench import snapshot_benches
from caudal.bench.management.commands.bench import load_registry
from caudal.ledger import invariants
from caudal.ledger.models import Clearing, OpenItem
from caudal.portfolio.tests.test_snapshot import _snapshot_dir  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_snapshot_bench_small(tmp_path):
    assert "snapshot" in load_registry()
    result = snapshot_benches.bench_snapshot(3000, tmp_path)
    assert result["items"] == 3000  # 1000 bills of three lines, all open at the date
    assert result["accounts"] == round(3000 / 8.7)
    assert result["seconds"] > 0 and result["floor_seconds"] > 0
    assert result["stages"]["partitions"] >= 1
    assert result["bytes"]["items.parquet"] > 10_000
    paid_after = OpenItem.objects.filter(side="D", open_amount=0).count()
    assert paid_after == Clearing.objects.count() > 0  # read back as of the date
    assert invariants.check_all() == []
    again = snapshot_benches.bench_snapshot(3000, tmp_path)  # data reused
    assert again["setup"] == {"reused": True} and again["items"] == 3000


def test_tables_are_consistent():
    tables = snapshot_benches.tables(870, sqlite=False)
    assert tables["cadastre_account"].num_rows == 100
    docs, lines = tables["ledger_document"], tables["ledger_documentline"]
    items, clearings = tables["ledger_openitem"], tables["ledger_clearing"]
    payments = clearings.num_rows
    bills = docs.num_rows - payments
    assert bills == 290 and lines.num_rows == 3 * bills + payments == items.num_rows
    # Every document balances: its amount is the sum of its lines.
    sums = lines.group_by("document_id").aggregate([("amount", "sum")])
    by_doc = dict(zip(sums["document_id"].to_pylist(), sums["amount_sum"].to_pylist(), strict=True))
    assert all(
        by_doc[d] == a
        for d, a in zip(docs["id"].to_pylist(), docs["amount"].to_pylist(), strict=True)
    )
    # Each clearing clears a whole debit item the day after the date.
    assert set(clearings["cleared_on"].to_pylist()) == {
        snapshot_benches.ON.replace(day=31) + __import__("datetime").timedelta(days=1)
    }
