"""The extraction as of a date equals the ledger's own as-of queries, over random ledgers;
the snapshot writes no operational table. Runs on SQLite and PostgreSQL (scripts/test.sh).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import polars as pl
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caudal.cadastre.testing import make_account, make_utility
from caudal.kernel.errors import DomainError
from caudal.ledger.actions import (
    do_block_item,
    do_post_charge,
    do_post_payment,
    do_reverse_document,
    do_unblock_item,
)
from caudal.ledger.models import BlockEvent, Document, OpenItem
from caudal.ledger.queries import balance_as_of, state_as_of
from caudal.portfolio import extract, schema
from caudal.portfolio.snapshot import folder_for, take_snapshot

from .test_snapshot import _snapshot_dir  # noqa: F401 (fixture: folder, policies, teardown)

pytestmark = pytest.mark.django_db(transaction=True)

START = date(2026, 1, 1)


def test_postgres_uri_quotes_and_sockets():
    uri = extract.postgres_uri(
        {"NAME": "caudal db", "USER": "ana", "PASSWORD": "p@ss/w", "HOST": "db", "PORT": 5433}
    )
    assert uri == "postgresql://ana:p%40ss%2Fw@db:5433/caudal%20db"
    socket = extract.postgres_uri({"NAME": "c", "USER": "u", "HOST": "/run/pg", "PORT": ""})
    assert socket == "postgresql://u@/c?host=%2Frun%2Fpg"


def blocked_reference(item_id: int, on: date, today_flag: bool) -> bool:
    """The as-of blocked rule, written plainly: last event on or before ``on`` decides;
    events but none by then: the opposite of the first; no events: today's flag."""
    events = list(BlockEvent.objects.filter(item_id=item_id).order_by("effective_on", "pk"))
    if not events:
        return today_flag
    past = [e for e in events if e.effective_on <= on]
    return past[-1].blocked if past else not events[0].blocked


# One operation of a random ledger: (kind, day offset, amount, index)
operation = st.tuples(
    st.sampled_from(["bill", "bill", "agreement", "pay", "pay", "block", "unblock", "reverse"]),
    st.integers(min_value=0, max_value=89),
    st.integers(min_value=1, max_value=5_000),
    st.integers(min_value=0, max_value=20),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(st.tuples(st.integers(0, 2), operation), min_size=1, max_size=14),
    cut=st.integers(min_value=0, max_value=89),
)
def test_extract_equals_ledger_as_of(ops, cut):
    make_utility("PE")
    accounts = [make_account() for _ in range(3)]
    docs: list[Document] = []
    for who, (kind, day, amount, idx) in sorted(ops, key=lambda o: o[1][1]):
        acc = accounts[who]
        when = START + timedelta(days=day)
        try:
            if kind in ("bill", "agreement"):
                docs.append(
                    do_post_charge(
                        acc,
                        kind=kind,
                        lines=[("water", amount, "Agua"), ("fixed", 300, "Cargo fijo")],
                        document_date=when,
                        due_date=when + timedelta(days=idx),
                        actor="t",
                    )
                )
            elif kind == "pay":
                docs.append(do_post_payment(acc, amount=amount, payment_date=when, actor="t"))
            elif kind in ("block", "unblock"):
                items = list(OpenItem.objects.filter(account=acc, side="D").order_by("pk"))
                if items:
                    item = items[idx % len(items)]
                    if kind == "block":
                        do_block_item(item, reason="Reclamo", on=when, actor="t")
                    else:
                        do_unblock_item(item, reason="Resuelto", on=when, actor="t")
            elif docs:
                doc = docs[idx % len(docs)]
                if doc.account_id == acc.pk:
                    do_reverse_document(doc, reason="Error", posting_date=when, actor="t")
        except DomainError:
            pass  # an operation the ledger refuses (already blocked, nothing open...)
    on = START + timedelta(days=cut)
    raw = extract.read_raw(on)
    mine = {a.pk for a in accounts}
    frame = raw.items.filter(pl.col("account_id").is_in(list(mine)))
    got = {r["item_id"]: r for r in frame.iter_rows(named=True)}
    expected: dict[int, tuple[int, bool]] = {}
    for acc in accounts:
        for item, open_on in state_as_of(acc.pk, on):
            expected[item.pk] = (open_on, blocked_reference(item.pk, on, item.blocked))
        signed = (
            frame.filter(pl.col("account_id") == acc.pk)
            .select(
                pl.when(pl.col("side") == "D")
                .then(pl.col("open_amount"))
                .otherwise(-pl.col("open_amount"))
                .sum()
            )
            .item()
        )
        assert (signed or 0) == balance_as_of(acc.pk, on)
    assert {k: (v["open_amount"], v["blocked"]) for k, v in got.items()} == expected
    for item_id, row in got.items():
        item = OpenItem.objects.select_related("document").get(pk=item_id)
        assert row["document_kind"] == item.document.kind
        assert (row["issue_date"], row["due_date"], row["amount"]) == (
            item.issue_date,
            item.due_date,
            item.amount,
        )
    # The snapshot built from it has the same per-account balances.
    take_snapshot(on, actor="t")
    acc_frame = pl.read_parquet(folder_for(on) / schema.ACCOUNTS).filter(
        pl.col("account_id").is_in(list(mine))
    )
    for row in acc_frame.iter_rows(named=True):
        assert row["balance"] == balance_as_of(row["account_id"], on)


WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


def test_snapshot_writes_no_operational_table():
    make_utility("PE")
    acc = make_account()
    do_post_charge(
        acc,
        kind="bill",
        lines=[("water", 1000, "Agua")],
        document_date=date(2026, 1, 5),
        due_date=date(2026, 1, 25),
        actor="t",
    )
    written: list[str] = []

    def guard(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        match = WRITE.match(sql)
        if match:
            table = match.group(1).lower()
            written.append(table)
            if not table.startswith(("portfolio_", "audit_")):
                raise AssertionError(f"the snapshot wrote {table}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(guard):
        snap = take_snapshot(date(2026, 2, 28), actor="t")
    assert snap.items == 1
    assert "portfolio_snapshot" in written and "audit_run" in written
    assert "audit_auditevent" in written


def test_in_memory_sqlite_is_copied_and_removed():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with extract.source() as src:
        path = src.target
        assert src.engine == "sqlite"
        assert extract.fetch_arrow(src, "SELECT 1 AS one").column("one").to_pylist() == [1]
    from pathlib import Path

    assert connection.is_in_memory_db()  # type: ignore[attr-defined]
    assert not Path(path).exists()


def test_id_ranges_cover_without_overlap():
    assert extract.id_ranges(1, 10, 3) == [(1, 4), (5, 8), (9, 10)]
    assert extract.id_ranges(5, 5, 4) == [(5, 5)]
    for lo, hi, parts in ((1, 1000, 7), (3, 17, 2), (1, 2, 8)):
        ranges = extract.id_ranges(lo, hi, parts)
        covered = [i for a, b in ranges for i in range(a, b + 1)]
        assert covered == list(range(lo, hi + 1))


def _small_ledger() -> None:
    make_utility("PE")
    for n in range(5):
        acc = make_account()
        do_post_charge(
            acc,
            kind="bill",
            lines=[("water", 1000 + n, "Agua"), ("sewer", 500, "Desagüe")],
            document_date=date(2026, 1, 5),
            due_date=date(2026, 1, 25),
            actor="t",
        )
        do_post_payment(acc, amount=700 + n, payment_date=date(2026, 2, 3 + n), actor="t")


def test_partitions_read_the_same_rows(monkeypatch):
    _small_ledger()
    on = date(2026, 2, 4)
    one = extract.read_raw(on, partitions=1)
    assert one.timings["partitions"] == 1
    for parts in (2, 3, 7):
        many = extract.read_raw(on, partitions=parts)
        assert 2 <= many.timings["partitions"] <= parts
        assert many.items.sort("item_id").equals(one.items.sort("item_id"))
        assert many.accounts.sort("account_id").equals(one.accounts.sort("account_id"))
    # Connections that never agree on the ledger's state: one connection reads it all.
    real_open = extract.Pinned.open

    def disagree(self: extract.Pinned) -> bool:
        return real_open(self) and self.count == 1

    monkeypatch.setattr(extract.Pinned, "open", disagree)
    fallback = extract.read_raw(on, partitions=3)
    assert fallback.timings["partitions"] == 1
    assert fallback.items.sort("item_id").equals(one.items.sort("item_id"))
