"""Flows of the period (recaudo, agreements, months) from ledgers built with ledger actions.

The flows are read through ADBC, which opens its own connection and sees committed rows
only: on PostgreSQL these tests commit (``transaction=True``, flushed with TRUNCATE). The
in-memory SQLite test database cannot be opened by ADBC; the reader uses Django's
connection there, so on SQLite the tests keep the usual rolled-back transaction (the
ledger's append-only triggers refuse a flush). The ADBC SQLite path is tested on a file.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from django.db import connection

from caudal.cadastre.testing import make_account, make_utility
from caudal.collection import actions as collection_actions
from caudal.collection.models import AmountRule, CentreKind
from caudal.collection.testing import make_centre
from caudal.ledger.actions import do_post_charge, do_post_payment, do_reverse_document
from caudal.ledger.models import Concept, DocumentKind
from caudal.portfolio import flows, schema
from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus

#: ADBC reads through its own connection: commit on PostgreSQL (see the docstring).
pytestmark = pytest.mark.django_db(transaction=connection.vendor == "postgresql")

D = date(2024, 5, 20)
LIMA = zoneinfo.ZoneInfo("America/Lima")


def bill(account, amount, posted, due, *, kind=DocumentKind.BILL, lines=None):
    return do_post_charge(
        account,
        kind=kind,
        lines=lines or [(Concept.WATER, amount, "")],
        document_date=posted,
        due_date=due,
        actor="test",
    )


def pay(account, amount, on):
    return do_post_payment(account, amount=amount, payment_date=on, actor="test")


def write_snapshot(root: Path, on: date, stages: dict[int, str], status=SnapshotStatus.DONE):
    """A snapshot row and a minimal accounts.parquet (the columns the flows read)."""
    folder = root / on.isoformat()
    folder.mkdir(parents=True)
    frame = pl.DataFrame(
        {
            "snapshot_date": [on] * len(stages),
            "account_id": list(stages),
            "stage": list(stages.values()),
        },
        schema={"snapshot_date": pl.Date, "account_id": pl.Int64, "stage": pl.Utf8},
    )
    frame.write_parquet(folder / schema.ACCOUNTS)
    Snapshot.objects.create(date=on, kind=SnapshotKind.ADHOC, status=status, path=on.isoformat())


@pytest.fixture
def ledger(settings, tmp_path):
    """Three accounts with bills, payments (one through a centre), a reversed payment, a
    reversed bill and agreements; snapshots on 30/04 (done), 10/05 (done), 15/05 (failed)."""
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    make_utility()
    a, b, c = make_account(), make_account(), make_account()
    # Account A: three bills; March's paid in April, April's in May (one payment reversed).
    bill(a, 10000, date(2024, 3, 1), date(2024, 3, 20))
    bill(a, 8000, date(2024, 4, 1), date(2024, 4, 20))
    bill(a, 9000, date(2024, 5, 1), date(2024, 5, 25))
    pay(a, 10000, date(2024, 4, 10))  # B1, 21 days past due: April arrears
    p2 = pay(a, 5000, date(2024, 5, 5))  # part of B2: arrears
    centre = make_centre("CAR01", kind=CentreKind.CAR, amount_rule=AmountRule.ANY)
    collection_actions.do_post_centre_payment(
        centre=centre,
        reference=a.number,
        amount=12000,
        received_at=datetime(2024, 5, 10, 10, 0, tzinfo=LIMA),
        actor="test",
    )  # rest of B2 (3000 arrears) and B3 (9000 current)
    do_reverse_document(p2, reason="cheque rechazado", posting_date=date(2024, 5, 15), actor="t")
    pay(a, 1000, date(2024, 5, 22))  # after D
    # Account B: an agreement of April paid on time, one of May with one installment paid.
    bill(
        b,
        2000,
        date(2024, 4, 2),
        date(2024, 4, 20),
        kind=DocumentKind.AGREEMENT,
        lines=[(Concept.INSTALLMENT, 2000, "Cuota única")],
    )
    pay(b, 2000, date(2024, 4, 15))
    agreement = bill(
        b,
        9000,
        date(2024, 5, 3),
        date(2024, 5, 15),
        kind=DocumentKind.AGREEMENT,
        lines=[(Concept.INSTALLMENT, 3000, f"Cuota {n}") for n in (1, 2, 3)],
    )
    pay(b, 3000, date(2024, 5, 16))  # one installment, 1 day late
    pay(b, 3000, date(2024, 5, 28))  # after D: still open as of D
    bill(
        b,
        5000,
        date(2024, 5, 25),
        date(2024, 6, 10),
        kind=DocumentKind.AGREEMENT,
        lines=[(Concept.INSTALLMENT, 5000, "")],
    )  # posted after D
    # Account C: a bill reversed in May (billed and billed_reversed), never paid.
    b4 = bill(c, 4000, date(2024, 5, 2), date(2024, 5, 20))
    do_reverse_document(b4, reason="error de lectura", posting_date=date(2024, 5, 6), actor="t")
    bill(c, 7000, date(2023, 6, 1), date(2023, 6, 20))  # a year ago, unpaid
    root = settings.CAUDAL_SNAPSHOT_DIR
    write_snapshot(root, date(2024, 4, 30), {a.pk: "prejudicial", c.pk: "judicial"})
    write_snapshot(root, date(2024, 5, 10), {a.pk: "current", b.pk: "prejudicial"})
    write_snapshot(root, date(2024, 5, 15), {b.pk: "judicial"}, status=SnapshotStatus.FAILED)
    return {"a": a, "b": b, "c": c, "agreement": agreement, "folder": tmp_path / "out"}


def stages_at_d(*pairs):
    return pl.DataFrame(
        {"account_id": [p[0] for p in pairs], "stage": [p[1] for p in pairs]},
        schema={"account_id": pl.Int64, "stage": pl.Utf8},
    )


def run(ledger, stages=None):
    folder = ledger["folder"]
    folder.mkdir(exist_ok=True)
    b, c = ledger["b"], ledger["c"]
    stages = stages if stages is not None else stages_at_d((b.pk, "current"), (c.pk, "judicial"))
    counts = flows.write_flows(D, folder, stages)
    read = {
        name: pl.read_parquet(folder / name)
        for name in (schema.RECAUDO, schema.AGREEMENTS, schema.MONTHS)
    }
    return counts, read


def test_recaudo_is_the_money_applied_this_month_up_to_d(ledger):
    counts, files = run(ledger)
    r = files[schema.RECAUDO]
    a, b = ledger["a"].pk, ledger["b"].pk
    assert list(r.columns) == list(flows.RECAUDO_SCHEMA)
    # 5 rows: P2→B2, P3→B2, P3→B3, the reset of P2→B2, B's installment. Not: April's
    # payments, the payment after D, the reversed payment against its own mirror.
    assert r.height == 5
    assert counts["recaudo_rows"] == 5
    assert r["amount"].sum() == 5000 + 3000 + 9000 - 5000 + 3000 == counts["recaudo_amount"]
    assert r["cleared_on"].min() >= date(2024, 5, 1)
    assert r["cleared_on"].max() <= D
    reset = r.filter(pl.col("amount") < 0).row(0, named=True)
    assert reset["cleared_on"] == date(2024, 5, 15)
    assert reset["applied_on"] == date(2024, 5, 5)  # classified as the clearing it resets
    assert reset["in_arrears"] and reset["days_past_due"] == 15
    # Current vs arrears by days past due when paid.
    assert r.filter(~pl.col("in_arrears"))["amount"].sum() == 9000
    assert r.filter(pl.col("in_arrears"))["amount"].sum() == 6000
    b3 = r.filter(pl.col("amount") == 9000).row(0, named=True)
    assert b3["days_past_due"] == 0 and b3["due_date"] == date(2024, 5, 25)
    # Channel: only the centre's payment has one.
    by_channel = dict(r.group_by("channel").agg(pl.col("amount").sum()).iter_rows())
    assert by_channel == {"car": 12000, "": 3000}
    assert set(r.filter(pl.col("channel") == "car")["centre"]) == {"CAR01"}
    # Everything of account A paid in May: stage in the snapshot of 30/04 (prejudicial);
    # the 10/05 payment too (the 10/05 snapshot is of that evening, not before it).
    ra = r.filter(pl.col("account_id") == a)
    assert set(ra["stage"]) == {"prejudicial"} and set(ra["stage_source"]) == {"snapshot"}
    # B paid on 16/05: latest done snapshot before it is 10/05 (the failed 15/05 is not).
    rb = r.filter(pl.col("account_id") == b).row(0, named=True)
    assert (rb["stage"], rb["stage_source"]) == ("prejudicial", "snapshot")
    assert counts["recaudo_stage_sources"] == {"snapshot": 5, "cut_off": 0, "default": 0}


def test_agreements_open_as_of_d_and_stage_at_posting(ledger):
    counts, files = run(ledger)
    ag = files[schema.AGREEMENTS]
    assert list(ag.columns) == list(flows.AGREEMENT_SCHEMA)
    assert ag.height == 2  # the one posted after D is left out
    april, may = ag.rows(named=True)
    assert april["posting_date"] == date(2024, 4, 2)
    assert (april["amount"], april["open_amount"], april["active"]) == (2000, 0, False)
    assert may["document_id"] == ledger["agreement"].pk
    assert (may["amount"], may["installments"]) == (9000, 3)
    # One installment paid by D; the payment of 28/05 does not count.
    assert (may["open_amount"], may["active"], may["reversed"]) == (6000, True, False)
    # 02/04: no done snapshot before it → stage at D (cut_off).
    assert (april["stage"], april["stage_source"]) == ("current", "cut_off")
    # 03/05: the 30/04 snapshot did not hold B (nothing open) → the catch-all stage.
    assert (may["stage"], may["stage_source"]) == ("current", "default")
    assert counts["agreements"] == 2 and counts["agreements_active"] == 1
    assert counts["agreements_open"] == 6000


def test_reversed_agreement_is_not_active(ledger):
    do_reverse_document(
        ledger["agreement"], reason="desistimiento", posting_date=date(2024, 5, 18), actor="t"
    )
    _counts, files = run(ledger)
    may = files[schema.AGREEMENTS].filter(pl.col("document_id") == ledger["agreement"].pk)
    row = may.row(0, named=True)
    assert row["reversed"] and not row["active"] and row["open_amount"] == 0


def test_months_billed_and_collected(ledger):
    _counts, files = run(ledger)
    m = files[schema.MONTHS]
    assert list(m.columns) == list(flows.MONTH_SCHEMA)
    assert m.height == 13
    assert m["period"].to_list()[0] == "2023-05" and m["period"].to_list()[-1] == "2024-05"
    rows = {r["period"]: r for r in m.iter_rows(named=True)}
    assert rows["2024-05"]["through"] == D
    assert rows["2024-04"]["through"] == date(2024, 4, 30)
    assert (rows["2024-03"]["billed"], rows["2024-03"]["bills"]) == (10000, 1)
    assert rows["2024-04"]["billed"] == 8000  # agreements are not bills
    assert (rows["2024-05"]["billed"], rows["2024-05"]["bills"]) == (13000, 2)
    assert rows["2024-05"]["billed_reversed"] == 4000
    assert rows["2023-06"]["billed"] == 7000
    # April: B1 paid 21 days late (arrears), B's first agreement paid before due (current).
    assert rows["2024-04"]["collected"] == 12000
    assert rows["2024-04"]["collected_arrears"] == 10000
    assert rows["2024-04"]["collected_current"] == 2000
    # May equals recaudo.parquet.
    may = rows["2024-05"]
    assert may["collected"] == files[schema.RECAUDO]["amount"].sum() == 15000
    assert (may["collected_current"], may["collected_arrears"]) == (9000, 6000)
    for r in rows.values():
        assert r["collected"] == r["collected_current"] + r["collected_arrears"]
    assert rows["2023-05"]["collected"] == 0 and rows["2023-05"]["billed"] == 0


def test_without_earlier_snapshots_stage_at_d_then_the_default(ledger):
    Snapshot.objects.all().delete()
    a, b = ledger["a"].pk, ledger["b"].pk
    _counts, files = run(ledger, stages=stages_at_d((b, "prejudicial")))
    r = files[schema.RECAUDO]
    rb = r.filter(pl.col("account_id") == b).row(0, named=True)
    assert (rb["stage"], rb["stage_source"]) == ("prejudicial", "cut_off")
    # A is not open at D (everything paid): the policy's catch-all stage (PE: current).
    ra = r.filter(pl.col("account_id") == a)
    assert set(ra["stage_source"]) == {"default"} and set(ra["stage"]) == {"current"}


def test_files_are_typed_parquet(ledger):
    run(ledger)
    folder = ledger["folder"]
    recaudo = pq.read_schema(folder / schema.RECAUDO)
    assert str(recaudo.field("cleared_on").type) == "date32[day]"
    assert str(recaudo.field("amount").type) == "int64"
    months = pq.read_schema(folder / schema.MONTHS)
    assert str(months.field("month").type) == "date32[day]"


def test_empty_ledger_writes_empty_files(settings, tmp_path):
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    make_utility()
    counts = flows.write_flows(D, tmp_path, stages_at_d())
    assert counts["recaudo_rows"] == 0 and counts["agreements"] == 0
    months = pl.read_parquet(tmp_path / schema.MONTHS)
    assert months.height == 13 and months["collected"].sum() == 0
    assert pl.read_parquet(tmp_path / schema.RECAUDO).columns == list(flows.RECAUDO_SCHEMA)


def test_adbc_sqlite_reader_types(tmp_path):
    """The ADBC SQLite driver gives dates as text, booleans as integers and an empty
    result without types: the frames are cast to the files' schema."""
    import sqlite3

    path = tmp_path / "t.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id integer, day date, amount bigint)")
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(1, "2024-05-02", 700), (2, None, 5)])
    sql = "SELECT id AS account_id, day AS cleared_on, amount, amount > 10 AS in_arrears FROM t"
    table = flows.adbc_read("sqlite", {"NAME": str(path)}, sql)
    frame = flows._frame(table, flows.RECAUDO_SCHEMA)
    assert frame.schema["cleared_on"] == pl.Date and frame.schema["in_arrears"] == pl.Boolean
    assert frame["cleared_on"].to_list() == [date(2024, 5, 2), None]
    assert frame["in_arrears"].to_list() == [True, False]
    empty = flows._frame(
        flows.adbc_read("sqlite", {"NAME": str(path)}, sql + " WHERE 0"), flows.RECAUDO_SCHEMA
    )
    assert empty.height == 0 and empty.schema["cleared_on"] == pl.Date
