"""Follow-ups (seguimientos) over snapshot folders: synthetic series (the production build
on generated data) and hand-made flow files, checked against the Parquet itself."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from caudal.cadastre.models import Municipality, Zone
from caudal.cadastre.testing import make_utility
from caudal.portfolio import flows, followups, schema, synthetic
from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus

LAST = date(2024, 5, 31)


def register(root: Path, on: date, status: str = SnapshotStatus.DONE) -> None:
    Snapshot.objects.update_or_create(
        date=on,
        defaults={"kind": SnapshotKind.MONTHLY, "status": status, "path": on.isoformat()},
    )


@pytest.fixture
def series(db, settings, tmp_path):
    """Three synthetic month-end snapshots (31/03, 30/04, 31/05), registered as done."""
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path
    make_utility("CO")
    folders = synthetic.write_series(tmp_path, last=LAST, months=3, accounts=400, seed=3)
    for f in folders:
        register(tmp_path, date.fromisoformat(f.name))
    return {date.fromisoformat(f.name): f for f in folders}


def accounts(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(folder / schema.ACCOUNTS)


# --- periods ----------------------------------------------------------------------------


def test_previous_months_take_the_latest_done_snapshot_of_each_month(series, tmp_path):
    # A daily snapshot of 15/04 and a failed one of 20/04 do not replace 30/04; in March
    # a later snapshot would win, and February has none.
    synthetic.write_folder(tmp_path / "2024-04-15", on=date(2024, 4, 15), accounts=50)
    register(tmp_path, date(2024, 4, 15))
    register(tmp_path, date(2024, 4, 20), status=SnapshotStatus.FAILED)
    assert followups.previous_months(LAST, 3) == [date(2024, 4, 30), date(2024, 3, 31)]
    assert followups.previous_months(LAST, 0) == []
    assert followups.previous_months(date(2024, 4, 30), 1) == [date(2024, 3, 31)]


def test_missing_snapshot_is_an_error_in_spanish(series):
    with pytest.raises(followups.FollowupError, match="No hay corte de cartera"):
        followups.by_stage(date(2024, 5, 30))


# --- by stage ---------------------------------------------------------------------------


def test_by_stage_against_previous_months(series):
    result = followups.by_stage(LAST, compare_months=2)
    assert result.previous == [date(2024, 4, 30), date(2024, 3, 31)]
    # Stages in the policy's order, with the names of the snapshot's manifest.
    codes = [r["key"] for r in result.rows]
    assert codes == [s.stage for s in synthetic.CO_STAGES if s.stage in codes]
    assert {r["label"] for r in result.rows} <= {s.name for s in synthetic.CO_STAGES}
    for on, column in ((LAST, None), (date(2024, 4, 30), 0), (date(2024, 3, 31), 1)):
        acc = accounts(series[on])
        expected = {
            k: (n, v)
            for k, n, v in acc.group_by("stage").agg(pl.len(), pl.col("balance").sum()).iter_rows()
        }
        for row in result.rows:
            got = row if column is None else row["previous"][column]
            assert (got["accounts"], got["value"]) == expected.get(row["key"], (0, 0))
    # Differences and % against each period; totals are the whole snapshot.
    for row in [*result.rows, result.total]:
        for prev in row["previous"]:
            assert prev["diff_accounts"] == row["accounts"] - prev["accounts"]
            assert prev["diff_value"] == row["value"] - prev["value"]
            if prev["value"]:
                expected_pct = round((row["value"] - prev["value"]) * 100 / abs(prev["value"]), 1)
                assert prev["pct_value"] == expected_pct
    acc = accounts(series[LAST])
    assert result.total["accounts"] == acc.height
    assert result.total["value"] == acc["balance"].sum()
    assert result.total["overdue"] == acc["overdue"].sum()
    assert sum(r["accounts"] for r in result.rows) == acc.height
    assert result.total["previous"][0]["accounts"] == accounts(series[date(2024, 4, 30)]).height


def test_pct_of_zero_is_none():
    assert followups.pct(10, 0) is None
    assert followups.pct(150, 100) == 50.0
    assert followups.pct(-50, -100) == 50.0


# --- by dimension -----------------------------------------------------------------------


@pytest.mark.parametrize("dimension", followups.DIMENSIONS)
def test_by_dimension_totals_match_the_accounts(series, dimension):
    result = followups.by_dimension(LAST, dimension, compare_months=1)
    acc = accounts(series[LAST])
    assert result.previous == [date(2024, 4, 30)]
    assert sum(r["accounts"] for r in result.rows) == acc.height == result.total["accounts"]
    assert sum(r["value"] for r in result.rows) == acc["balance"].sum()
    keys = {r["key"] for r in result.rows}
    values = acc[dimension].cast(pl.Utf8).fill_null("").unique().to_list()
    assert set(values) <= keys


def test_by_dimension_labels(series):
    Municipality.objects.create(code="M01", name="Bogotá")
    Zone.objects.create(code="Z01", name="Zona Norte", municipality=Municipality.objects.get())
    strata = followups.by_dimension(LAST, "stratum")
    labels = {r["key"]: r["label"] for r in strata.rows}
    assert labels[""] == "Sin estrato" and labels["1"] == "Estrato 1"
    assert [r["key"] for r in strata.rows][:6] == ["1", "2", "3", "4", "5", "6"]
    uses = {r["key"]: r["label"] for r in followups.by_dimension(LAST, "category").rows}
    assert uses["domestic"] == "Doméstico"
    munis = {r["key"]: r["label"] for r in followups.by_dimension(LAST, "municipality").rows}
    assert munis["M01"] == "M01 Bogotá" and munis["M02"] == "M02"
    zones = {r["key"]: r["label"] for r in followups.by_dimension(LAST, "zone").rows}
    assert zones["Z01"] == "Z01 Zona Norte"
    with pytest.raises(followups.FollowupError, match="Dimensión desconocida"):
        followups.by_dimension(LAST, "colour")


# --- blocked ----------------------------------------------------------------------------


def test_blocked_items_by_responsible_and_age(series):
    items = pl.read_parquet(series[LAST] / schema.ITEMS).filter(
        pl.col("blocked") & (pl.col("side") == "D")
    )
    result = followups.blocked(LAST)
    assert len(result.rows) == items.height > 0
    assert result.total["amount"] == items["open_amount"].sum()
    assert result.total["accounts"] == items["account_id"].n_unique()
    assert sum(g["amount"] for g in result.by_responsible) == result.total["amount"]
    assert sum(g["items"] for g in result.by_responsible) == result.total["items"]
    for g in result.by_responsible:
        assert sum(g["bucket_amounts"]) == g["amount"]
        mine = items.filter(pl.col("responsible") == g["responsible"])
        assert g["items"] == mine.height and g["max_days"] == mine["days_past_due"].max()
    assert sum(result.total["bucket_amounts"]) == result.total["amount"]
    # Sorted by responsible, then oldest first.
    keys = [(r["responsible"], -r["days_past_due"]) for r in result.rows]
    assert keys == sorted(keys)
    # One responsible's list (for notifying them).
    name = result.by_responsible[0]["responsible"]
    one = followups.blocked(LAST, responsible=name)
    assert {r["responsible"] for r in one.rows} == {name}
    assert one.total["amount"] == result.by_responsible[0]["amount"]


def test_blocked_uses_the_complaints_responsible_and_days_blocked(series):
    folder = series[LAST]
    items = pl.read_parquet(folder / schema.ITEMS)
    first = items.filter(pl.col("blocked") & (pl.col("side") == "D"))["item_id"][0]
    items.with_columns(
        pl.when(pl.col("item_id") == first)
        .then(pl.lit("Oficina de PQR"))
        .otherwise(pl.col("block_responsible"))
        .alias("block_responsible"),
        pl.when(pl.col("item_id") == first)
        .then(pl.lit(date(2024, 5, 1)))
        .otherwise(pl.col("blocked_since"))
        .alias("blocked_since"),
        pl.when(pl.col("item_id") == first)
        .then(pl.lit("PQR-77"))
        .otherwise(pl.col("block_case"))
        .alias("block_case"),
    ).write_parquet(folder / schema.ITEMS)
    rows = followups.blocked(LAST, responsible="Oficina de PQR").rows
    assert len(rows) == 1
    assert (rows[0]["item_id"], rows[0]["days_blocked"], rows[0]["block_case"]) == (
        first,
        30,
        "PQR-77",
    )


# --- recaudo and financing from the flow files ------------------------------------------


def recaudo_rows(rows: list[tuple]) -> pl.DataFrame:
    """(cleared_on, stage, amount, in_arrears, channel) → a recaudo.parquet frame."""
    n = len(rows)
    return pl.DataFrame(
        {
            "clearing_id": list(range(1, n + 1)),
            "cleared_on": [r[0] for r in rows],
            "applied_on": [r[0] for r in rows],
            "account_id": [1] * n,
            "payment_document_id": [1] * n,
            "debit_item_id": [1] * n,
            "debit_document_kind": ["bill"] * n,
            "concept": ["water"] * n,
            "amount": [r[2] for r in rows],
            "due_date": [r[0] for r in rows],
            "days_past_due": [10 if r[3] else 0 for r in rows],
            "in_arrears": [r[3] for r in rows],
            "stage": [r[1] for r in rows],
            "stage_source": ["snapshot"] * n,
            "channel": [r[4] for r in rows],
            "centre": [""] * n,
        },
        schema=flows.RECAUDO_SCHEMA,
    )


def test_recaudo_by_day_and_stage(series):
    recaudo_rows(
        [
            (date(2024, 5, 2), "current", 1000, False, "bank"),
            (date(2024, 5, 2), "coactiva", 5000, True, "car"),
            (date(2024, 5, 2), "current", 300, True, ""),
            (date(2024, 5, 9), "prejuridica", 700, True, "bank"),
            (date(2024, 5, 9), "prejuridica", -200, True, "bank"),  # a reset
        ]
    ).write_parquet(series[LAST] / schema.RECAUDO)
    result = followups.recaudo(LAST, "day")
    # Stages in the policy's order, only those with money.
    assert [c for c, _n in result.stages] == ["coactiva", "prejuridica", "current"]
    assert [r["period"] for r in result.rows] == [date(2024, 5, 2), date(2024, 5, 9)]
    first, second = result.rows
    assert first["amounts"] == [5000, 0, 1300] and first["total"] == 6300
    assert (first["current"], first["arrears"]) == (1000, 5300)
    assert second["amounts"] == [0, 500, 0]
    assert result.total["total"] == 6800 == sum(result.total["amounts"])
    assert result.total["current"] + result.total["arrears"] == 6800
    assert {c["channel"]: c["amount"] for c in result.channels} == {
        "bank": 1500,
        "car": 5000,
        "": 300,
    }
    with pytest.raises(followups.FollowupError):
        followups.recaudo(LAST, "week")


def test_recaudo_by_month_reads_each_months_snapshot(series):
    recaudo_rows([(date(2024, 5, 3), "current", 900, False, "")]).write_parquet(
        series[LAST] / schema.RECAUDO
    )
    recaudo_rows([(date(2024, 4, 20), "coactiva", 400, True, "bank")]).write_parquet(
        series[date(2024, 4, 30)] / schema.RECAUDO
    )
    # March's snapshot has no recaudo file (taken before the flows existed): listed.
    result = followups.recaudo(LAST, "month")
    assert [r["period"] for r in result.rows] == [date(2024, 4, 1), date(2024, 5, 1)]
    assert [r["through"] for r in result.rows] == [date(2024, 4, 30), LAST]
    assert result.total["total"] == 1300
    assert result.missing == [date(2024, 3, 31)]


def test_financing_new_per_day_and_active_per_stage(series):
    pl.DataFrame(
        {
            "document_id": [1, 2, 3, 4, 5],
            "account_id": [10, 11, 12, 12, 13],
            "reference": [""] * 5,
            "posting_date": [
                date(2024, 4, 10),  # before the month: active, not new
                date(2024, 5, 2),
                date(2024, 5, 2),
                date(2024, 5, 7),
                date(2024, 5, 8),  # reversed: not new, not active
            ],
            "amount": [1000, 2000, 3000, 500, 800],
            "installments": [2, 3, 3, 1, 1],
            "open_amount": [400, 2000, 0, 500, 0],
            "active": [True, True, False, True, False],
            "reversed": [False, False, False, False, True],
            "stage": ["coactiva", "current", "persuasiva", "persuasiva", "current"],
            "stage_source": ["snapshot"] * 5,
        },
        schema=flows.AGREEMENT_SCHEMA,
    ).write_parquet(series[LAST] / schema.AGREEMENTS)
    result = followups.financing(LAST)
    assert [c for c, _n in result.stages] == ["coactiva", "persuasiva", "current"]
    assert [d["day"] for d in result.days] == [date(2024, 5, 2), date(2024, 5, 7)]
    assert result.days[0]["counts"] == [0, 1, 1] and result.days[0]["amount"] == 5000
    assert result.days_total["count"] == 3 and result.days_total["amount"] == 5500
    active = {r["stage"]: r for r in result.active}
    assert set(active) == {"coactiva", "current", "persuasiva"}
    assert (active["persuasiva"]["agreements"], active["persuasiva"]["open_amount"]) == (1, 500)
    assert result.active_total["agreements"] == 3
    assert result.active_total["open_amount"] == 2900


def test_financing_without_the_file(series):
    result = followups.financing(LAST)
    assert not result.available and result.days == []


# --- pages ------------------------------------------------------------------------------

PAGES = (
    "followup-stage",
    "followup-dimension",
    "followup-blocked",
    "followup-recaudo",
    "followup-financing",
)


def client_for(role: str | None):
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from caudal.audit.roles import ensure_roles

    ensure_roles()
    user = User.objects.create_user(username=role or "nobody", password="x-clave-123")
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def xlsx(response):
    import io

    import openpyxl

    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment;" in response["Content-Disposition"]
    return openpyxl.load_workbook(io.BytesIO(response.content))


def totals_row(ws):
    """(row index, values) of the sheet's "Total" row, with the formulas' cached values
    replaced by nothing: openpyxl reads formulas as text."""
    for row in ws.iter_rows():
        if row[0].value == "Total":
            return row[0].row, [c.value for c in row]
    raise AssertionError("no totals row")


def column_sum(ws, col: int, first: int, last: int) -> float:
    return sum(ws.cell(r, col).value or 0 for r in range(first, last + 1))


@pytest.fixture
def flows_written(series):
    recaudo_rows(
        [
            (date(2024, 5, 2), "current", 1000, False, "bank"),
            (date(2024, 5, 3), "coactiva", 5050, True, "car"),
        ]
    ).write_parquet(series[LAST] / schema.RECAUDO)
    pl.DataFrame(
        {
            "document_id": [1],
            "account_id": [10],
            "reference": [""],
            "posting_date": [date(2024, 5, 6)],
            "amount": [1200],
            "installments": [3],
            "open_amount": [800],
            "active": [True],
            "reversed": [False],
            "stage": ["persuasiva"],
            "stage_source": ["snapshot"],
        },
        schema=flows.AGREEMENT_SCHEMA,
    ).write_parquet(series[LAST] / schema.AGREEMENTS)
    return series


@pytest.mark.parametrize("name", PAGES)
def test_pages_need_view_cartera(flows_written, name):
    from django.urls import reverse

    url = reverse(name)
    assert url.startswith("/cartera/seguimiento/")
    assert client_for(None).get(url).status_code == 403
    assert client_for("cashier").get(url).status_code == 403
    response = client_for("collections_officer").get(url)
    assert response.status_code == 200
    assert response.context["p"]["on"] == LAST  # the latest done snapshot by default
    assert b'data-testid="xlsx"' in response.content


@pytest.mark.parametrize("name", PAGES)
def test_pages_without_snapshots(db, settings, tmp_path, name):
    from django.urls import reverse

    settings.CAUDAL_SNAPSHOT_DIR = tmp_path
    make_utility()
    response = client_for("cartera_analyst").get(reverse(name))
    assert response.status_code == 200
    assert b'data-testid="empty"' in response.content


def test_stage_page_and_xlsx(flows_written):
    from django.urls import reverse

    client = client_for("cartera_analyst")
    url = reverse("followup-stage")
    response = client.get(url, {"fecha": "2024-05-31", "comparar": "2"})
    result = response.context["result"]
    assert result.previous == [date(2024, 4, 30), date(2024, 3, 31)]
    assert 'data-key="coactiva"' in response.content.decode()
    book = xlsx(client.get(url, {"fecha": "2024-05-31", "comparar": "2", "formato": "xlsx"}))
    ws = book.worksheets[0]
    assert ws.freeze_panes == "A5" and ws.auto_filter.ref
    header = [c.value for c in ws[4]]
    assert header[:5] == ["Etapa de cobro", "Cuentas", "Saldo", "Vencido", "% del saldo"]
    assert len(header) == 5 + 2 * 5
    total_at, total = totals_row(ws)
    assert total[1] == f"=SUM(B5:B{total_at - 1})"
    assert column_sum(ws, 2, 5, total_at - 1) == result.total["accounts"]
    # Money in major units (centavos / 100), summing to the snapshot's balance.
    assert round(column_sum(ws, 3, 5, total_at - 1) * 100) == result.total["value"]
    assert total[4] == 100.0  # the share of the totals row is written, not summed


def test_dimension_page_and_bad_parameters(flows_written):
    from django.urls import reverse

    client = client_for("cartera_analyst")
    url = reverse("followup-dimension")
    response = client.get(url, {"por": "stratum"})
    assert response.context["result"].dimension == "stratum"
    assert "Estrato 1" in response.content.decode()
    # Unknown dimension → use; a date without snapshot → the latest, with a message.
    response = client.get(url, {"por": "colour", "fecha": "2024-05-30", "comparar": "x"})
    assert response.context["result"].dimension == "category"
    assert response.context["p"]["on"] == LAST and response.context["p"]["compare"] == 1
    assert "No hay corte de cartera terminado del 30/05/2024" in response.content.decode()
    book = xlsx(client.get(url, {"por": "zone", "formato": "xlsx"}))
    ws = book.worksheets[0]
    assert ws["A4"].value == "Zona"
    total_at, _total = totals_row(ws)
    assert column_sum(ws, 2, 5, total_at - 1) == accounts(flows_written[LAST]).height


def test_blocked_page_and_xlsx(flows_written):
    from django.urls import reverse

    client = client_for("cartera_analyst")
    url = reverse("followup-blocked")
    response = client.get(url)
    result = response.context["result"]
    assert result.total["items"] > 0
    book = xlsx(client.get(url, {"formato": "xlsx"}))
    summary, detail = book.worksheets
    assert detail.title == "Detalle"
    total_at, _t = totals_row(summary)
    assert column_sum(summary, 2, 5, total_at - 1) == result.total["items"]
    assert round(column_sum(summary, 4, 5, total_at - 1) * 100) == result.total["amount"]
    detail_at, _t = totals_row(detail)
    assert detail_at - 5 == result.total["items"]  # one row per item
    assert round(column_sum(detail, 8, 5, detail_at - 1) * 100) == result.total["amount"]
    # One responsible: the page and the XLSX for notifying them.
    name = result.by_responsible[0]["responsible"]
    one = client.get(url, {"responsable": name})
    assert one.context["who"] == name
    assert {r["responsible"] for r in one.context["result"].rows} == {name}
    book = xlsx(client.get(url, {"responsable": name, "formato": "xlsx"}))
    at, _t = totals_row(book.worksheets[0])
    assert at == 6  # a single responsible row


def test_recaudo_page_and_xlsx(flows_written):
    from django.urls import reverse

    client = client_for("cartera_analyst")
    url = reverse("followup-recaudo")
    response = client.get(url)
    assert response.context["result"].total["total"] == 6050
    assert 'data-stage="coactiva"' in response.content.decode()
    book = xlsx(client.get(url, {"formato": "xlsx"}))
    ws = book["Por día"]
    assert [c.value for c in ws[4]] == [
        "Fecha",
        "Cobro coactivo",
        "Cartera corriente",
        "Corriente",
        "Mora",
        "Total",
    ]
    assert ws["B6"].value == 50.5 and ws["C5"].value == 10.0
    at, total = totals_row(ws)
    assert total[5] == f"=SUM(F5:F{at - 1})"
    assert column_sum(ws, 6, 5, at - 1) == 60.5
    channels = book["Por canal"]
    at, _t = totals_row(channels)
    assert column_sum(channels, 2, 5, at - 1) == 60.5
    monthly = client.get(url, {"detalle": "month"})
    assert monthly.context["result"].granularity == "month"
    book = xlsx(client.get(url, {"detalle": "month", "formato": "xlsx"}))
    assert book["Por mes"]["A5"].value == "2024-05"


def test_financing_page_and_xlsx(flows_written):
    from django.urls import reverse

    client = client_for("cartera_analyst")
    url = reverse("followup-financing")
    response = client.get(url)
    assert response.context["result"].days_total["count"] == 1
    assert 'data-stage="persuasiva"' in response.content.decode()
    book = xlsx(client.get(url, {"formato": "xlsx"}))
    new, active = book.worksheets
    assert new["A5"].value.date() == date(2024, 5, 6)
    assert new["C5"].value == 12.0
    at, _t = totals_row(active)
    assert at == 6 and active["B5"].value == 1 and active["E5"].value == 8.0


# --- end to end: ledger → take_snapshot → follow-ups -------------------------------------


@pytest.fixture
def real_snapshots(transactional_db, settings, tmp_path):
    """Ledger actions, then the snapshots of 30/04 and 31/05/2024 taken by take_snapshot
    (its own ADBC connection: the rows are committed; on SQLite the append-only ledger
    tables are emptied past their triggers before the flush)."""
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    from caudal.cadastre.testing import make_account
    from caudal.ledger.actions import do_block_item, do_post_charge, do_post_payment
    from caudal.ledger.models import OpenItem
    from caudal.portfolio.models import StagePolicy

    snapshot = pytest.importorskip("caudal.portfolio.snapshot")
    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    if not StagePolicy.objects.exists():  # a transactional flush removed the data migration's
        importlib.import_module("caudal.portfolio.migrations.0002_default_policies").create(
            django_apps, None
        )
    make_utility("PE")
    a, b, c = make_account(), make_account(), make_account()

    def charge(account, amount, on, due, kind="bill", concept="water", n=1):
        return do_post_charge(
            account,
            kind=kind,
            lines=[(concept, amount, f"{n}") for n in range(1, n + 1)],
            document_date=on,
            due_date=due,
            actor="test",
        )

    charge(a, 60000, date(2024, 1, 5), date(2024, 1, 20))  # 101 days at 30/04: prejudicial
    charge(b, 5000, date(2024, 4, 5), date(2024, 4, 25))  # 5 days at 30/04: current
    disputed = charge(c, 3000, date(2024, 3, 1), date(2024, 3, 20))
    do_block_item(
        OpenItem.objects.get(document=disputed),
        reason="Reclamo por consumo",
        case_ref="PQR-1",
        responsible="Oficina de PQR",
        on=date(2024, 5, 2),
        actor="test",
    )
    snapshot.take_snapshot(date(2024, 4, 30), actor="analyst")
    do_post_payment(b, amount=5000, payment_date=date(2024, 5, 3), actor="test")
    do_post_payment(a, amount=20000, payment_date=date(2024, 5, 10), actor="test")
    charge(c, 2000, date(2024, 5, 6), date(2024, 5, 25), "agreement", "installment", n=3)
    snapshot.take_snapshot(date(2024, 5, 31), actor="analyst")
    yield {"a": a, "b": b, "c": c}
    if connection.vendor == "sqlite":
        immutability = importlib.import_module("caudal.ledger.migrations.0002_immutability")
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys=OFF")
            for sql in immutability.sqlite_backward():
                cursor.execute(sql)
            for table in (
                "ledger_blockevent",
                "ledger_clearing",
                "ledger_openitem",
                "ledger_documentline",
                "ledger_document",
            ):
                cursor.execute(f"DELETE FROM {table}")
            for sql in immutability.sqlite_forward():
                cursor.execute(sql)
            cursor.execute("PRAGMA foreign_keys=ON")


def test_followups_of_real_snapshots(real_snapshots):
    may, april = date(2024, 5, 31), date(2024, 4, 30)
    snap = Snapshot.objects.get(date=may)
    stages = followups.by_stage(may, compare_months=1)
    assert stages.previous == [april]
    assert stages.total["accounts"] == snap.accounts == 2  # B paid everything
    assert stages.total["value"] == snap.balance == 40000 + 3000 + 6000
    prev = Snapshot.objects.get(date=april)
    assert stages.total["previous"][0]["accounts"] == prev.accounts
    assert stages.total["previous"][0]["diff_value"] == snap.balance - prev.balance
    assert {r["key"]: r["label"] for r in stages.rows}["prejudicial"] == "Cobranza prejudicial"
    # Recaudo of May by the stage each account had at the end of April.
    recaudo = followups.recaudo(may, "day")
    stage_of = dict(zip([c for c, _n in recaudo.stages], range(len(recaudo.stages)), strict=True))
    by_day = {r["period"]: r for r in recaudo.rows}
    assert by_day[date(2024, 5, 3)]["amounts"][stage_of["current"]] == 5000
    assert by_day[date(2024, 5, 10)]["amounts"][stage_of["prejudicial"]] == 20000
    assert recaudo.total["arrears"] == 25000 and recaudo.total["current"] == 0
    # The agreement of 06/05, new in May and active at its end.
    fin = followups.financing(may)
    assert fin.days_total["count"] == 1 and fin.days_total["amount"] == 6000
    assert fin.active_total == {"agreements": 1, "accounts": 1, "amount": 6000, "open_amount": 6000}
    # The blocked item, under the complaint's responsible.
    blocked = followups.blocked(may)
    assert blocked.total == {
        "items": 1,
        "accounts": 1,
        "amount": 3000,
        "bucket_amounts": [0, 0, 0, 3000, 0, 0, 0],
    }
    row = blocked.rows[0]
    assert row["days_past_due"] == 72 and row["account_id"] == real_snapshots["c"].pk
    # The complaint's responsible when the snapshot carries the block event's fields;
    # otherwise the stage's responsible unit.
    item = pl.read_parquet(followups.folder_of(may) / schema.ITEMS).filter(pl.col("blocked"))
    if item["block_responsible"][0]:
        assert (row["responsible"], row["block_case"], row["days_blocked"]) == (
            "Oficina de PQR",
            "PQR-1",
            29,
        )
    else:
        assert row["responsible"] == item["responsible"][0] == "Oficina comercial de la zona"
    # The months file carries the billing and collections of the period.
    months = pl.read_parquet(followups.folder_of(may) / schema.MONTHS)
    last = months.row(-1, named=True)
    assert (last["period"], last["collected"], last["collected_arrears"]) == (
        "2024-05",
        25000,
        25000,
    )
    # And the page reads them.
    from django.urls import reverse

    response = client_for("cartera_analyst").get(reverse("followup-recaudo"))
    assert response.status_code == 200 and response.context["result"].total["total"] == 25000
