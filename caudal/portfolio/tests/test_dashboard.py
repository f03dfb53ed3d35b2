"""The dashboard (CMO): tile figures against sums computed independently with Polars over
accounts.parquet, filters, drill-downs that add up to the figure, the XLSX export, and the
pages (200/403, SVG well-formed, links)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import openpyxl
import polars as pl
import pytest

from caudal.portfolio import dashboard as dash
from caudal.portfolio import schema, synthetic

LAST = date(2025, 6, 30)
ACCOUNTS = 1500


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("snapshots")
    return synthetic.write_series(root, last=LAST, months=3, accounts=ACCOUNTS, seed=5)


@pytest.fixture(scope="module")
def source(series) -> dash.Source:
    return dash.open_snapshot(series[-1])


@pytest.fixture(scope="module")
def accounts(series) -> pl.DataFrame:
    return pl.read_parquet(series[-1] / schema.ACCOUNTS)


def narrow(df: pl.DataFrame, filters: dash.Filters) -> pl.DataFrame:
    for name, value in filters.active():
        df = df.filter(pl.col(name) == value)
    return df


def some_filters(accounts: pl.DataFrame) -> list[dash.Filters]:
    row = accounts.filter(pl.col("stratum").is_not_null()).row(0, named=True)
    return [
        dash.Filters(),
        dash.Filters(zone=row["zone"]),
        dash.Filters(cycle=row["cycle"], category=row["category"]),
        dash.Filters(stratum=row["stratum"], municipality=row["municipality"]),
        dash.Filters(
            zone=row["zone"],
            cycle=row["cycle"],
            category=row["category"],
            stratum=row["stratum"],
            municipality=row["municipality"],
        ),
        dash.Filters(zone="no-such-zone"),
    ]


def sum_of(df: pl.DataFrame, col: str) -> int:
    return int(df[col].sum() or 0)


def test_manifest_is_read(source):
    assert source.on == LAST
    assert source.bucket_codes == ("0", "1-30", "31-60", "61-90", "91-180", "181-360", ">360")
    assert [c for c, _n in source.stages] == ["coactiva", "persuasiva", "prejuridica", "current"]
    with pytest.raises(dash.DashboardError, match="not a snapshot folder"):
        dash.open_snapshot(source.folder / "nowhere")


def test_filters_from_query():
    f = dash.Filters.from_query({"zone": " Z01 ", "stratum": "3", "cycle": "", "x": "y"})
    assert f == dash.Filters(zone="Z01", stratum=3)
    assert f.query() == {"zone": "Z01", "stratum": "3"}
    with pytest.raises(dash.DashboardError, match="stratum: 'tres'"):
        dash.Filters.from_query({"stratum": "tres"})


def test_totals_equal_independent_sums(source, accounts):
    for filters in some_filters(accounts):
        df = narrow(accounts, filters)
        t = dash.totals(source, filters)
        assert t["accounts"].value == df.height
        assert t["balance"].value == sum_of(df, "balance")
        assert t["overdue"].value == sum_of(df, "overdue")
        assert t["overdue"].accounts == df.filter(pl.col("overdue") > 0).height
        assert t["blocked"].value == sum_of(df, "blocked_amount")
        assert t["blocked"].items == sum_of(df, "blocked_items")
        ddr = df.filter(pl.col("max_days_past_due") >= 361)
        assert t["ddr"].value == sum_of(ddr, "balance")
        assert t["ddr"].accounts == ddr.height
    assert dash.totals(source, dash.Filters())["overdue"].value > 0


def test_by_stage_equals_group_by(source, accounts):
    for filters in some_filters(accounts):
        df = narrow(accounts, filters)
        figures = dash.by_stage(source, filters)
        assert [f.key for f in figures][:4] == ["coactiva", "persuasiva", "prejuridica", "current"]
        expected = {
            r["stage"]: (r["n"], r["v"])
            for r in df.group_by("stage")
            .agg(pl.len().alias("n"), pl.col("balance").sum().alias("v"))
            .iter_rows(named=True)
        }
        got = {f.key: (f.accounts, f.value) for f in figures if f.accounts}
        assert got == expected
        assert sum(f.value for f in figures) == sum_of(df, "balance")
    names = {f.key: f.label for f in dash.by_stage(source, dash.Filters())}
    assert names["coactiva"] == "Cobro coactivo"


def test_aging_pyramid(source, accounts):
    for filters in some_filters(accounts):
        df = narrow(accounts, filters)
        rows = dash.aging(source, filters)
        assert [r.bucket for r in rows] == list(source.bucket_codes)
        for r in rows:
            assert r.accounts == df.filter(pl.col("bucket") == r.bucket).height
            assert r.value == sum_of(df, schema.bucket_column(r.bucket))
        # the bucket columns add up to the open debits; the accounts to all accounts
        assert sum(r.value for r in rows) == sum_of(df, "debit_open")
        assert sum(r.accounts for r in rows) == df.height


def test_top_zones(source, accounts):
    for filters in some_filters(accounts):
        df = narrow(accounts, filters).filter(pl.col("overdue") > 0)
        expected = (
            df.group_by("zone")
            .agg(pl.col("overdue").sum().alias("v"), pl.len().alias("n"))
            .sort(["v", "zone"], descending=[True, False])
            .head(10)
        )
        got = dash.top_zones(source, filters)
        assert [(z.key, z.value, z.accounts) for z in got] == [
            (r["zone"], r["v"], r["n"]) for r in expected.iter_rows(named=True)
        ]
    assert len(dash.top_zones(source, dash.Filters())) == 10
    assert len(dash.top_zones(source, dash.Filters(), limit=3)) == 3


def test_trend_over_the_monthly_snapshots(series, accounts):
    sources = [dash.open_snapshot(f) for f in reversed(series)]  # any order in, oldest out
    for filters in some_filters(accounts)[:3]:
        points = dash.trend(sources, filters)
        assert [p.on for p in points] == [date(2025, 4, 30), date(2025, 5, 31), LAST]
        for p, folder in zip(points, series, strict=True):
            df = narrow(pl.read_parquet(folder / schema.ACCOUNTS), filters)
            assert (p.balance, p.overdue, p.accounts) == (
                sum_of(df, "balance"),
                sum_of(df, "overdue"),
                df.height,
            )
            assert p.balance_drill == dash.Drill("totals", "balance", p.on)
    assert dash.trend([], dash.Filters()) == []


def test_collected_vs_billed(series, source, tmp_path):
    months = pl.read_parquet(series[-1] / schema.MONTHS)
    rows = dash.collected_vs_billed(source)
    assert rows is not None and len(rows) == months.height == 13
    assert [r.billed for r in rows] == months["billed"].to_list()
    assert [r.collected for r in rows] == months["collected"].to_list()
    assert rows[-1].month == date(2025, 6, 1)
    # a snapshot without flows: no data (the page says "sin datos")
    bare = tmp_path / LAST.isoformat()
    bare.mkdir()
    for name in (schema.MANIFEST, schema.CUBE, schema.ACCOUNTS):
        (bare / name).write_bytes((series[-1] / name).read_bytes())
    assert dash.collected_vs_billed(dash.open_snapshot(bare)) is None


def test_filter_values(source, accounts):
    values = dash.filter_values(source)
    assert values["zone"] == sorted(accounts["zone"].unique().to_list())
    assert values["stratum"] == sorted(accounts["stratum"].drop_nulls().unique().to_list())
    assert values["category"] == sorted(accounts["category"].unique().to_list())


def all_drills(source: dash.Source) -> Iterator[dash.Drill]:
    for key in dash.TOTAL_KEYS:
        yield dash.Drill("totals", key)
    for code, _name in source.stages:
        yield dash.Drill("stage", code)
    for b in source.bucket_codes:
        yield dash.Drill("aging-accounts", b)
        yield dash.Drill("aging-value", b)
    for z in dash.filter_values(source)["zone"][:3]:
        yield dash.Drill("zone", str(z))


def tile_figure(source: dash.Source, filters: dash.Filters, drill: dash.Drill) -> tuple[int, Any]:
    """The figure the page shows for a drill (value, accounts), from the tile functions."""
    if drill.tile == "totals":
        f = dash.totals(source, filters)[drill.segment]
        return f.value, f.accounts
    if drill.tile == "stage":
        f = next(f for f in dash.by_stage(source, filters) if f.key == drill.segment)
        return f.value, f.accounts
    if drill.tile.startswith("aging"):
        r = next(r for r in dash.aging(source, filters) if r.bucket == drill.segment)
        return (r.accounts, r.accounts) if drill.tile == "aging-accounts" else (r.value, None)
    zones = {z.key: z for z in dash.top_zones(source, filters, limit=1000)}
    z = zones.get(drill.segment)
    return (z.value, z.accounts) if z else (0, 0)


def test_drill_down_total_equals_the_figure(source, accounts):
    for filters, drill in itertools.product(some_filters(accounts)[:5], all_drills(source)):
        value, n_accounts = tile_figure(source, filters, drill)
        page = dash.drill_page(source, filters, drill, size=20)
        assert page.total_value == value, (filters, drill)
        if n_accounts is not None:
            assert page.total_accounts == n_accounts, (filters, drill)
        assert dash.figure_of(source, filters, drill)[0] == value


def test_drill_pages_cover_every_account_once(source, accounts):
    filters = some_filters(accounts)[1]
    drill = dash.Drill("totals", "overdue")
    first = dash.drill_page(source, filters, drill, size=25)
    seen: list[int] = []
    values: list[int] = []
    for n in range(1, first.pages + 1):
        page = dash.drill_page(source, filters, drill, page=n, size=25)
        seen += [r["account_id"] for r in page.rows]
        values += [r["measure"] for r in page.rows]
    expected = narrow(accounts, filters).filter(pl.col("overdue") > 0)
    assert sorted(seen) == sorted(expected["account_id"].to_list())
    assert len(seen) == len(set(seen)) == first.total_accounts
    assert values == sorted(values, reverse=True)  # largest first
    assert sum(values) == first.total_value
    # out of range pages are clamped
    assert dash.drill_page(source, filters, drill, page=10_000, size=25).page == first.pages
    assert dash.drill_page(source, filters, drill, page=-3, size=25).page == 1


def test_bad_drills_are_refused(source):
    with pytest.raises(dash.DashboardError, match="tile: unknown tile 'x'"):
        dash.drill_spec(source, dash.Drill("x", "y"))
    with pytest.raises(dash.DashboardError, match="segment: 'judicial'"):
        dash.drill_spec(source, dash.Drill("stage", "judicial"))
    with pytest.raises(dash.DashboardError, match="segment: '9-99'"):
        dash.drill_spec(source, dash.Drill("aging-value", "9-99"))
    with pytest.raises(dash.DashboardError, match="segment"):
        dash.drill_spec(source, dash.Drill("totals", "nothing"))


def test_account_items(source, series):
    items = pl.read_parquet(series[-1] / schema.ITEMS)
    account_id = int(items["account_id"][0])
    got = dash.account_items(source, account_id)
    mine = items.filter(pl.col("account_id") == account_id)
    assert sorted(i["item_id"] for i in got) == sorted(mine["item_id"].to_list())
    assert sum(i["signed_amount"] for i in got) == sum_of(mine, "signed_amount")
    assert dash.account_items(source, 10**12) == []


COLUMNS = [
    dash.ExportColumn("account_number", "Cuenta", "text", 12),
    dash.ExportColumn("zone", "Zona", "text", 10),
    dash.ExportColumn("max_days_past_due", "Días", "int", 8),
    dash.ExportColumn("measure", "Deuda del tramo", "money", 12),
]


def test_export_xlsx_has_the_rows(source, accounts, tmp_path):
    filters = dash.Filters(zone=str(accounts["zone"][0]))
    drill = dash.Drill("aging-value", ">360")
    out = tmp_path / "x.xlsx"
    zone = str(accounts["zone"][0])
    n = dash.export_xlsx(
        source,
        filters,
        drill,
        out,
        columns=COLUMNS,
        labels={"zone": {zone: "Zona Norte"}},
        title="Deuda > 360 días",
    )
    expected = narrow(accounts, filters).filter(pl.col("aged_over_360") != 0)
    assert n == expected.height > 0
    wb = openpyxl.load_workbook(out, read_only=True)
    ws = wb["Cuentas"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "Deuda > 360 días"
    assert list(rows[1]) == ["Cuenta", "Zona", "Días", "Deuda del tramo"]
    data = rows[2:]
    assert len(data) == n
    assert {r[1] for r in data} == {"Zona Norte"}
    assert sorted(r[0] for r in data) == sorted(expected["account_number"].to_list())
    # money in major units, exact; the sum is the figure
    total_minor = sum(round(r[3] * 100) for r in data)
    assert total_minor == sum_of(expected, "aged_over_360")
    assert total_minor == dash.figure_of(source, filters, drill)[0]


def test_export_splits_sheets(source, accounts, tmp_path):
    out = tmp_path / "split.xlsx"
    n = dash.export_xlsx(
        source,
        dash.Filters(),
        dash.Drill("totals", "accounts"),
        out,
        columns=COLUMNS[:2],
        sheet_rows=400,
    )
    assert n == accounts.height
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["Cuentas", "Cuentas 2", "Cuentas 3", "Cuentas 4"]
    counts = [ws.max_row - 1 for ws in wb.worksheets]  # minus the header
    assert counts == [400, 400, 400, accounts.height - 1200]


# --------------------------------------------------------------------------- pages

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def snapshots_dir(settings, tmp_path, series):
    """The synthetic folders under CAUDAL_SNAPSHOT_DIR with their Snapshot rows (monthly)."""
    from caudal.cadastre.testing import make_utility
    from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus

    make_utility("CO")
    root = tmp_path / "snapshots"
    root.mkdir()
    for folder in series:
        (root / folder.name).symlink_to(folder, target_is_directory=True)
        Snapshot.objects.create(
            date=date.fromisoformat(folder.name),
            kind=SnapshotKind.MONTHLY,
            status=SnapshotStatus.DONE,
            path=folder.name,
        )
    settings.CAUDAL_SNAPSHOT_DIR = root
    return root


@pytest.fixture
def client_for(db):
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from caudal.audit.roles import ensure_roles

    ensure_roles()

    counter = itertools.count(1)

    def make(role: str | None) -> Client:
        name = f"{role or 'nobody'}-{next(counter)}"
        user = User.objects.create_user(username=name)
        if role:
            user.groups.add(Group.objects.get(name=role))
        client = Client()
        client.force_login(user)
        return client

    return make


def svgs(html: str) -> list[ET.Element]:
    out = []
    start = 0
    while (i := html.find("<svg", start)) != -1:
        j = html.index("</svg>", i) + len("</svg>")
        out.append(ET.fromstring(html[i:j]))  # noqa: S314  (our own page)
        start = j
    return out


def drill_links(html: str) -> list[str]:
    import re

    return [
        m.replace("&amp;", "&")
        for m in re.findall(r'href="(/cartera/tablero/detalle/\?[^"]+)"', html)
    ]


@pytest.mark.django_db
def test_page_permissions(client_for, snapshots_dir):
    assert client_for(None).get("/cartera/tablero/").status_code == 403
    assert client_for("cashier").get("/cartera/tablero/").status_code == 403
    for role in ("cartera_analyst", "manager", "auditor", "collections_officer"):
        assert client_for(role).get("/cartera/tablero/").status_code == 200, role
    url = "/cartera/tablero/exportar/?tile=totals&segment=accounts"
    assert client_for("auditor").get(url).status_code == 403  # personal data
    assert (
        client_for("cashier")
        .get("/cartera/tablero/detalle/?tile=totals&segment=accounts")
        .status_code
        == 403
    )


@pytest.mark.django_db
def test_page_without_snapshots(client_for):
    response = client_for("cartera_analyst").get("/cartera/tablero/")
    assert response.status_code == 200
    assert b'data-testid="no-snapshot"' in response.content


@pytest.mark.django_db
def test_page_shows_the_tiles(client_for, snapshots_dir, source, accounts):
    client = client_for("cartera_analyst")
    zone = str(accounts["zone"][0])
    response = client.get("/cartera/tablero/", {"zone": zone})
    assert response.status_code == 200
    html = response.content.decode()
    charts = svgs(html)
    ids = {c.get("id") for c in charts}
    assert {"chart-stage", "chart-aging", "chart-trend", "chart-flows", "chart-zones"} <= ids
    trend = next(c for c in charts if c.get("id") == "chart-trend")
    assert len(trend.findall(f".//{SVG}circle")) == 6  # 3 months × balance and overdue
    # the latest snapshot by default; the figures are the tile's
    t = dash.totals(source, dash.Filters(zone=zone))
    assert response.context["snap"].date == LAST
    kpi = {k["key"]: k for k in response.context["kpis"]}
    assert kpi["accounts"]["value"] == f"{t['accounts'].value:,}".replace(",", ".")
    # every drill link carries the filter and resolves to a drill-down whose total is the figure
    links = drill_links(html)
    assert len(links) > 20
    for link in links[:8]:
        q = parse_qs(urlparse(link).query)
        assert q["zone"] == [zone]
        page = client.get(link)
        assert page.status_code == 200, link
    flows_empty = 'data-testid="flows-empty"'
    assert flows_empty not in html


@pytest.mark.django_db
def test_drill_page_total_and_export(client_for, snapshots_dir, source, accounts):
    from caudal.audit.models import AuditEvent

    client = client_for("cartera_analyst")
    zone = str(accounts["zone"][0])
    params = {"tile": "stage", "segment": "persuasiva", "zone": zone}
    response = client.get("/cartera/tablero/detalle/", params)
    assert response.status_code == 200
    page = response.context["page"]
    expected = narrow(accounts, dash.Filters(zone=zone)).filter(pl.col("stage") == "persuasiva")
    assert page.total_accounts == expected.height
    assert page.total_value == sum_of(expected, "balance")
    assert b'data-testid="export"' in response.content
    # an account's items
    account_id = page.rows[0]["account_id"]
    with_items = client.get("/cartera/tablero/detalle/", {**params, "account": account_id})
    assert with_items.context["items"]
    # export
    export = client.get("/cartera/tablero/exportar/", params)
    assert export.status_code == 200
    assert export["Content-Disposition"].startswith("attachment;")
    path = snapshots_dir.parent / "export.xlsx"
    path.write_bytes(b"".join(export.streaming_content))
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb["Cuentas"].max_row == 2 + expected.height  # title, header, rows
    event = AuditEvent.objects.get(action="portfolio.export_dashboard")
    assert event.after is not None and event.after["rows"] == expected.height
    # the auditor sees the list but cannot export it
    seen = client_for("auditor").get("/cartera/tablero/detalle/", params)
    assert seen.status_code == 200 and b'data-testid="export"' not in seen.content


@pytest.mark.django_db
def test_bad_requests(client_for, snapshots_dir):
    client = client_for("cartera_analyst")
    assert client.get("/cartera/tablero/", {"snapshot": "2020-01-31"}).status_code == 404
    assert client.get("/cartera/tablero/", {"stratum": "x"}).status_code == 400
    assert client.get("/cartera/tablero/detalle/", {"tile": "nope"}).status_code == 404
    assert (
        client.get("/cartera/tablero/detalle/", {"tile": "stage", "segment": "x"}).status_code
        == 404
    )


@pytest.mark.django_db
def test_flows_missing_says_no_data(client_for, snapshots_dir, series, tmp_path):
    # a fourth, adhoc snapshot without months.parquet
    from caudal.portfolio.models import Snapshot, SnapshotKind, SnapshotStatus

    on = date(2025, 7, 15)
    folder = snapshots_dir / on.isoformat()
    folder.mkdir()
    synthetic.write_folder(folder, on=on, accounts=200, seed=9)
    (folder / schema.MONTHS).unlink()
    Snapshot.objects.create(date=on, kind=SnapshotKind.ADHOC, status=SnapshotStatus.DONE, path="x")
    response = client_for("manager").get("/cartera/tablero/")
    assert response.context["snap"].date == on
    assert b'data-testid="flows-empty"' in response.content
    # the trend: the three month ends and the chosen adhoc snapshot
    assert [r["on"] for r in response.context["trend_rows"]] == [
        date(2025, 4, 30),
        date(2025, 5, 31),
        LAST,
        on,
    ]


# --------------------------------------------------------------------------- ledger → dashboard


@pytest.fixture
def ledger_snapshot(transactional_db, settings, tmp_path):
    """A ledger of three accounts, its snapshot taken by take_snapshot (ADBC reads through
    its own connection, hence a transactional test); the ledger tables are emptied past
    their append-only triggers afterwards, as caudal/portfolio/tests/test_snapshot.py does."""
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    from caudal.cadastre.testing import make_account, make_utility
    from caudal.ledger.actions import do_block_item, do_post_charge, do_post_payment
    from caudal.ledger.models import OpenItem
    from caudal.portfolio.models import StagePolicy
    from caudal.portfolio.snapshot import take_snapshot

    settings.CAUDAL_SNAPSHOT_DIR = tmp_path / "snapshots"
    if not StagePolicy.objects.exists():
        policies = importlib.import_module("caudal.portfolio.migrations.0002_default_policies")
        policies.create(django_apps, None)
    make_utility("PE")
    on = date(2026, 3, 31)

    def bill(account, amount, doc_on, due):
        return do_post_charge(
            account,
            kind="bill",
            lines=[("water", amount, "Agua")],
            document_date=doc_on,
            due_date=due,
            actor="test",
        )

    a, b, c = make_account(name="Ana"), make_account(name="Beto"), make_account(name="Carla")
    old = bill(a, 3000, date(2024, 10, 6), date(2024, 10, 26))  # > 360 days at D: DDR
    bill(a, 2500, date(2026, 2, 6), date(2026, 2, 26))
    bill(b, 4000, date(2026, 1, 6), date(2026, 1, 26))
    bill(b, 1000, date(2026, 3, 6), date(2026, 4, 5))  # not yet due
    do_post_payment(b, amount=1500, payment_date=date(2026, 2, 10), actor="test")
    do_post_payment(c, amount=900, payment_date=date(2026, 3, 10), actor="test")
    do_block_item(
        OpenItem.objects.get(document=old), reason="Reclamo", on=date(2026, 3, 1), actor="test"
    )
    take_snapshot(on, actor="analyst")
    yield {"on": on, "a": a, "b": b, "c": c}
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


def test_ledger_to_snapshot_to_dashboard(ledger_snapshot, client_for):
    from caudal.ledger.queries import balance_as_of
    from caudal.portfolio.snapshot import folder_for

    on = ledger_snapshot["on"]
    source = dash.open_snapshot(folder_for(on))
    t = dash.totals(source, dash.Filters())
    accounts = [ledger_snapshot[k] for k in "abc"]
    assert t["accounts"].value == 3
    assert t["balance"].value == sum(balance_as_of(acc.pk, on) for acc in accounts)
    assert t["balance"].value == (3000 + 2500) + (4000 + 1000 - 1500) - 900
    # overdue: a's two bills and what is left of b's first (the payment cleared 1500 of it)
    assert t["overdue"].value == 3000 + 2500 + 2500
    assert t["overdue"].accounts == 2
    assert t["blocked"].value == 3000 and t["blocked"].items == 1
    assert (t["ddr"].value, t["ddr"].accounts) == (5500, 1)  # a: oldest debt > 360 days
    aging = {r.bucket: r for r in dash.aging(source, dash.Filters())}
    assert aging[">360"].value == 3000 and aging[">360"].accounts == 1
    assert aging["0"].value == 1000  # b's bill not yet due
    assert sum(r.value for r in aging.values()) == 3000 + 2500 + 2500 + 1000
    page = dash.drill_page(source, dash.Filters(), dash.Drill("totals", "overdue"))
    assert [r["account_id"] for r in page.rows] == [
        ledger_snapshot["a"].pk,
        ledger_snapshot["b"].pk,
    ]
    assert page.total_value == t["overdue"].value
    items = dash.account_items(source, ledger_snapshot["b"].pk)
    assert sorted(i["open_amount"] for i in items) == [1000, 2500]
    # the page shows it
    response = client_for("cartera_analyst").get("/cartera/tablero/")
    assert response.status_code == 200
    assert response.context["snap"].date == on
    kpis = {k["key"]: k["value"] for k in response.context["kpis"]}
    assert kpis["accounts"] == "3"
    assert kpis["overdue"] == "S/ 80.00"


def test_export_xlsx_text_and_numbers_exact(series, tmp_path):
    """Names with markup, control characters and edge spaces, empty cells and negative
    amounts survive the DuckDB-rendered XML exactly (read back with openpyxl)."""
    folder = tmp_path / LAST.isoformat()
    folder.mkdir()
    for name in (schema.MANIFEST, schema.CUBE):
        (folder / name).write_bytes((series[-1] / name).read_bytes())
    acc = pl.read_parquet(series[-1] / schema.ACCOUNTS).head(4)
    acc = acc.with_columns(
        pl.Series("holder_name", ['<b>Ana & "Beto"</b>', " Carla\x07 ", "Ñandú 'ñ'", None]),
        pl.Series("address", ["", "Av. Sol", None, "Jr. Luna\tB"]),
        pl.Series("balance", [-5, 0, 123456789012, -100001], dtype=pl.Int64),
        pl.Series("stratum", [None, 3, None, 1], dtype=pl.Int16),
    )
    acc.write_parquet(folder / schema.ACCOUNTS)
    columns = [
        dash.ExportColumn("account_id", "Id", "int", 8),
        dash.ExportColumn("holder_name", "Titular", "text", 20),
        dash.ExportColumn("address", "Dirección", "text", 20),
        dash.ExportColumn("zone", "Zona", "text", 8),
        dash.ExportColumn("stratum", "Estrato", "int", 8),
        dash.ExportColumn("balance", "Saldo", "money", 14),
    ]
    out = tmp_path / "edge.xlsx"
    source = dash.open_snapshot(folder)
    zone = str(acc["zone"][1])
    n = dash.export_xlsx(
        source,
        dash.Filters(),
        dash.Drill("totals", "accounts"),
        out,
        columns=columns,
        labels={"zone": {zone: "Zona <Norte> & Sur"}},
    )
    assert n == 4
    ws = openpyxl.load_workbook(out)["Cuentas"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0] == ["Id", "Titular", "Dirección", "Zona", "Estrato", "Saldo"]
    by_id = {r[0]: r for r in rows[1:]}
    expected = acc.sort("account_id")
    for r in expected.iter_rows(named=True):
        got = by_id[r["account_id"]]
        holder = r["holder_name"].replace("\x07", "") if r["holder_name"] else None
        assert got[1] == holder
        assert got[2] == (r["address"] or None)
        assert got[3] == ("Zona <Norte> & Sur" if r["zone"] == zone else r["zone"])
        assert got[4] == r["stratum"]
        assert round(got[5] * 100) == r["balance"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F5"
    with pytest.raises(dash.DashboardError, match="columns: 'holder_name; DROP'"):
        dash.export_xlsx(
            source,
            dash.Filters(),
            dash.Drill("totals", "accounts"),
            tmp_path / "bad.xlsx",
            columns=[dash.ExportColumn("holder_name; DROP", "x", "text", 5)],
        )


@pytest.mark.django_db
def test_page_queries_do_not_grow(client_for, snapshots_dir, django_assert_max_num_queries):
    client = client_for("manager")
    # session, user, permissions (2), utility, snapshots (3), names (3): fixed, whatever the data
    client.get("/cartera/tablero/")
    with django_assert_max_num_queries(12) as captured:
        assert client.get("/cartera/tablero/", {"zone": "Z01"}).status_code == 200
    n = len(captured.captured_queries)
    with django_assert_max_num_queries(n):  # a drill-down costs no more than the page
        assert (
            client.get(
                "/cartera/tablero/detalle/", {"tile": "totals", "segment": "ddr"}
            ).status_code
            == 200
        )
