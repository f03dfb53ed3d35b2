"""The operational dashboard (Cuadro de Mando Operativo, CMO) over a snapshot's Parquet files.

Every tile is one function (so each can be timed) answering from DuckDB over the snapshot's
``cube.parquet`` (tens of thousands of rows, whatever the number of items), with the filters
zone, cycle, category (use), stratum and municipality in any combination:

- :func:`totals`: accounts, balance, overdue, blocked, DDR;
- :func:`by_stage`: accounts and balance per collection stage;
- :func:`aging`: the aging pyramid, accounts by the bucket of their oldest open debit and
  value by the bucket of each item (the ``aged_*`` columns);
- :func:`trend`: balance and overdue over the monthly snapshots of the last 12 months;
- :func:`collected_vs_billed`: ``months.parquet`` of the snapshot (written by
  :mod:`caudal.portfolio.flows`), ``None`` when the snapshot has none;
- :func:`top_zones`: the 10 zones with most overdue.

Each figure carries the :class:`Drill` it stands for: a tile and a segment which, with the
filters, name a set of accounts and the measure summed over them. :func:`drill_page` lists
those accounts from ``accounts.parquet`` (paginated, with the total) and
:func:`export_xlsx` writes the same list to a workbook (xlsxwriter ``constant_memory``, from
DuckDB record batches). The list's total always equals the figure: both are the same
condition and measure, one over the cube and one over the accounts (tests prove it).

Definitions (amounts are integer minor units):

- *balance* (saldo) is ``debit_open - credit_open``; *overdue* open debits ≥ 1 day past due
  (blocked included); *blocked* open debits blocked at the date;
- *DDR* (deudas de difícil recaudo) is the balance of the accounts of age class ``ddr``
  (oldest open debit past the policy's DDR threshold, 361 days by default), as the
  ``ddr_pct`` indicator defines it.

No Django models here: the page (``caudal.web.portfolio.dashboard_views``) picks the
snapshots and passes their folders.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import duckdb

from . import schema, xlsxrows

#: Filters of the dashboard, in the order the form shows them.
FILTERS: tuple[str, ...] = ("zone", "cycle", "category", "stratum", "municipality")
TOP_ZONES = 10
PAGE_SIZE = 50
#: Rows fetched from DuckDB per record batch when exporting.
BATCH_ROWS = 65_536
#: Excel's data rows per sheet (1,048,576 rows, one is the header).
SHEET_ROWS = 1_048_575


class DashboardError(ValueError):
    """A filter, drill-down or snapshot that cannot be used (the message says which)."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Filters:
    """Dashboard filters; ``None`` = all. Stratum is a number (1–6, Colombia)."""

    zone: str | None = None
    cycle: str | None = None
    category: str | None = None
    stratum: int | None = None
    municipality: str | None = None

    @classmethod
    def from_query(cls, data: Mapping[str, Any]) -> Filters:
        """From request parameters: blank means all; a bad stratum is an error that names
        the field."""
        values: dict[str, Any] = {}
        for name in FILTERS:
            raw = data.get(name)
            text = str(raw).strip() if raw is not None else ""
            if not text:
                continue
            if name == "stratum":
                try:
                    values[name] = int(text)
                except ValueError as exc:
                    raise DashboardError(f"stratum: {text!r} is not a number") from exc
            else:
                values[name] = text
        return cls(**values)

    def active(self) -> list[tuple[str, str | int]]:
        return [(n, v) for n in FILTERS if (v := getattr(self, n)) is not None]

    def query(self) -> dict[str, str]:
        """As request parameters (only the set ones)."""
        return {n: str(v) for n, v in self.active()}

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition and parameters (``TRUE`` without filters)."""
        parts = [f"{name} = ?" for name, _v in self.active()]
        return (" AND ".join(parts) or "TRUE"), [v for _n, v in self.active()]


@dataclass(frozen=True)
class Drill:
    """The accounts behind a figure: ``tile`` and ``segment`` (a stage code, a bucket, a
    zone …) with the page's filters; ``on`` is the snapshot when it is not the page's (a
    point of the trend)."""

    tile: str
    segment: str = ""
    on: date | None = None

    def query(self) -> dict[str, str]:
        out = {"tile": self.tile}
        if self.segment:
            out["segment"] = self.segment
        if self.on is not None:
            out["snapshot"] = self.on.isoformat()
        return out


@dataclass(frozen=True)
class Source:
    """A snapshot folder with what its manifest says (bucket codes, stages, DDR days)."""

    folder: Path
    on: date
    bucket_codes: tuple[str, ...]
    stages: tuple[tuple[str, str], ...]  # (code, name) in policy order
    responsible: Mapping[str, str] = field(default_factory=dict)

    @property
    def cube(self) -> str:
        return str(self.folder / schema.CUBE)

    @property
    def accounts(self) -> str:
        return str(self.folder / schema.ACCOUNTS)

    @property
    def items(self) -> str:
        return str(self.folder / schema.ITEMS)

    @property
    def months(self) -> Path:
        return self.folder / schema.MONTHS

    def stage_name(self, code: str) -> str:
        return dict(self.stages).get(code, code)


_sources: dict[tuple[str, int], Source] = {}
_sources_lock = threading.Lock()


def open_snapshot(folder: Path) -> Source:
    """The :class:`Source` of a snapshot folder (manifest read once per folder version)."""
    manifest = folder / schema.MANIFEST
    try:
        stamp = manifest.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise DashboardError(f"{folder}: not a snapshot folder (no {schema.MANIFEST})") from exc
    key = (str(folder), stamp)
    with _sources_lock:
        found = _sources.get(key)
    if found is not None:
        return found
    data = json.loads(manifest.read_text(encoding="utf-8"))
    stages = data.get("stages") or []
    source = Source(
        folder=folder,
        on=date.fromisoformat(data["date"]),
        bucket_codes=tuple(str(c) for c in data.get("bucket_codes") or ()),
        stages=tuple((str(s["stage"]), str(s["name"])) for s in stages),
        responsible={str(s["stage"]): str(s.get("responsible", "")) for s in stages},
    )
    with _sources_lock:
        _sources[key] = source
    return source


# --------------------------------------------------------------------------- engine

_con: duckdb.DuckDBPyConnection | None = None
_con_lock = threading.Lock()


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor on the process's in-memory DuckDB (one connection, a cursor per query:
    cursors may be used from different threads; Parquet metadata is cached)."""
    global _con
    with _con_lock:
        if _con is None:
            _con = duckdb.connect(config={"enable_object_cache": True})
        return _con.cursor()


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cur = cursor()
    try:
        return cur.execute(sql, list(params)).fetchall()
    finally:
        cur.close()


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One figure of a tile: ``value`` (minor units, or a count when the tile counts),
    the ``accounts`` behind it, and the drill-down it stands for."""

    key: str
    label: str
    value: int
    accounts: int | None  # None when the cube cannot count them (blocked: items instead)
    drill: Drill | None = None
    items: int | None = None


@dataclass(frozen=True)
class AgingRow:
    bucket: str
    accounts: int  # accounts whose oldest open debit is in the bucket
    value: int  # open debits in the bucket (all accounts)
    accounts_drill: Drill
    value_drill: Drill


@dataclass(frozen=True)
class TrendPoint:
    on: date
    balance: int
    overdue: int
    accounts: int
    balance_drill: Drill
    overdue_drill: Drill


@dataclass(frozen=True)
class MonthRow:
    month: date
    billed: int
    collected: int
    collected_current: int
    collected_arrears: int


# --------------------------------------------------------------------------- drill specs


@dataclass(frozen=True)
class DrillSpec:
    """How a drill-down selects accounts: an SQL condition over an accounts row (or a cube
    row: the same columns), its parameters, and the measure summed (``None`` = count)."""

    where: str
    params: tuple[Any, ...]
    measure: str | None
    #: The condition is on cube dimensions only, so the cube counts its accounts exactly.
    dimensional: bool = True


TOTAL_KEYS: tuple[str, ...] = ("accounts", "balance", "overdue", "blocked", "ddr")


def drill_spec(source: Source, drill: Drill) -> DrillSpec:
    """The condition and measure of a drill-down; :class:`DashboardError` when the tile or
    segment does not exist in the snapshot."""
    tile, seg = drill.tile, drill.segment
    if tile == "totals":
        specs = {
            "accounts": DrillSpec("TRUE", (), None),
            "balance": DrillSpec("TRUE", (), "balance"),
            # testigo 'vencida' ⇔ an open debit ≥ 1 day past due ⇔ overdue > 0
            "overdue": DrillSpec("testigo = 'vencida'", (), "overdue"),
            "blocked": DrillSpec("blocked_amount <> 0", (), "blocked_amount", False),
            "ddr": DrillSpec("age_class = 'ddr'", (), "balance"),
        }
        if seg in specs:
            return specs[seg]
    elif tile == "stage":
        if seg in dict(source.stages):
            return DrillSpec("stage = ?", (seg,), "balance")
    elif tile == "aging-accounts":
        if seg in source.bucket_codes:
            return DrillSpec("bucket = ?", (seg,), None)
    elif tile == "aging-value":
        if seg in source.bucket_codes:
            col = schema.bucket_column(seg)
            return DrillSpec(f"{col} <> 0", (), col, False)
    elif tile == "zone":
        if seg:
            return DrillSpec("zone = ? AND testigo = 'vencida'", (seg,), "overdue")
    else:
        raise DashboardError(f"tile: unknown tile {tile!r}")
    raise DashboardError(f"segment: {seg!r} is not a segment of tile {tile!r}")


def _cube_sum(source: Source, filters: Filters, spec: DrillSpec) -> tuple[int, int | None]:
    """(value, accounts) of a drill spec over the cube; accounts ``None`` when the cube
    cannot count them (a condition on an amount)."""
    where, params = filters.where()
    measure = f"sum({spec.measure})" if spec.measure else "sum(accounts)"
    row = _rows(
        f"SELECT coalesce({measure}, 0), coalesce(sum(accounts), 0) FROM read_parquet(?) "
        f"WHERE {where} AND ({spec.where})",
        [source.cube, *params, *spec.params],
    )[0]
    return int(row[0]), (int(row[1]) if spec.dimensional else None)


# --------------------------------------------------------------------------- tiles


def totals(source: Source, filters: Filters) -> dict[str, Figure]:
    """Accounts, balance, overdue, blocked and DDR of the (filtered) cartera."""
    where, params = filters.where()
    row = _rows(
        "SELECT coalesce(sum(accounts), 0), coalesce(sum(balance), 0),"
        " coalesce(sum(overdue), 0),"
        " coalesce(sum(accounts) FILTER (WHERE testigo = 'vencida'), 0),"
        " coalesce(sum(blocked_amount), 0), coalesce(sum(blocked_items), 0),"
        " coalesce(sum(balance) FILTER (WHERE age_class = 'ddr'), 0),"
        " coalesce(sum(accounts) FILTER (WHERE age_class = 'ddr'), 0)"
        f" FROM read_parquet(?) WHERE {where}",
        [source.cube, *params],
    )[0]
    accounts, balance, overdue, n_overdue, blocked, blocked_items, ddr, n_ddr = (
        int(v) for v in row
    )
    return {
        "accounts": Figure("accounts", "accounts", accounts, accounts, Drill("totals", "accounts")),
        "balance": Figure("balance", "balance", balance, accounts, Drill("totals", "balance")),
        "overdue": Figure("overdue", "overdue", overdue, n_overdue, Drill("totals", "overdue")),
        "blocked": Figure(
            "blocked", "blocked", blocked, None, Drill("totals", "blocked"), items=blocked_items
        ),
        "ddr": Figure("ddr", "ddr", ddr, n_ddr, Drill("totals", "ddr")),
    }


def by_stage(source: Source, filters: Filters) -> list[Figure]:
    """Accounts and balance per collection stage, in the policy's order (stages with no
    accounts included, at 0)."""
    where, params = filters.where()
    found = {
        str(stage): (int(n), int(v))
        for stage, n, v in _rows(
            "SELECT stage, sum(accounts), sum(balance) FROM read_parquet(?)"
            f" WHERE {where} GROUP BY stage",
            [source.cube, *params],
        )
    }
    codes = [c for c, _n in source.stages] + sorted(set(found) - {c for c, _n in source.stages})
    out = []
    for code in codes:
        n, v = found.get(code, (0, 0))
        out.append(Figure(code, source.stage_name(code), v, n, Drill("stage", code)))
    return out


def aging(source: Source, filters: Filters) -> list[AgingRow]:
    """The aging pyramid: per bucket, the accounts whose oldest open debit falls in it and
    the open debits (of every account) of that age."""
    where, params = filters.where()
    codes = list(source.bucket_codes)
    if not codes:
        return []
    sums = ", ".join(f"coalesce(sum({schema.bucket_column(c)}), 0)" for c in codes)
    value_row = _rows(f"SELECT {sums} FROM read_parquet(?) WHERE {where}", [source.cube, *params])[
        0
    ]
    counts = {
        str(b): int(n)
        for b, n in _rows(
            f"SELECT bucket, sum(accounts) FROM read_parquet(?) WHERE {where} GROUP BY bucket",
            [source.cube, *params],
        )
    }
    return [
        AgingRow(
            bucket=code,
            accounts=counts.get(code, 0),
            value=int(value_row[i]),
            accounts_drill=Drill("aging-accounts", code),
            value_drill=Drill("aging-value", code),
        )
        for i, code in enumerate(codes)
    ]


def trend(sources: Sequence[Source], filters: Filters) -> list[TrendPoint]:
    """Balance and overdue of each snapshot (oldest first): the page passes the monthly
    snapshots of the last 12 months. One query over all their cubes."""
    if not sources:
        return []
    where, params = filters.where()
    ordered = sorted(sources, key=lambda s: s.on)
    by_file = {str(Path(s.cube)): s for s in ordered}
    rows = _rows(
        "SELECT filename, coalesce(sum(balance), 0), coalesce(sum(overdue), 0),"
        " coalesce(sum(accounts), 0)"
        f" FROM read_parquet(?, filename = true, union_by_name = true) WHERE {where}"
        " GROUP BY filename",
        [[s.cube for s in ordered], *params],
    )
    found = {str(Path(f)): (int(b), int(o), int(n)) for f, b, o, n in rows}
    out = []
    for path, src in by_file.items():
        b, o, n = found.get(path, (0, 0, 0))
        out.append(
            TrendPoint(
                on=src.on,
                balance=b,
                overdue=o,
                accounts=n,
                balance_drill=Drill("totals", "balance", src.on),
                overdue_drill=Drill("totals", "overdue", src.on),
            )
        )
    return out


def collected_vs_billed(source: Source) -> list[MonthRow] | None:
    """Billed and collected per month from the snapshot's ``months.parquet`` (the 13 months
    up to its date); ``None`` when the snapshot has no flows file. Not filtered: the flows
    are totals of the utility."""
    if not source.months.is_file():
        return None
    rows = _rows(
        "SELECT month, billed, collected, collected_current, collected_arrears"
        " FROM read_parquet(?) ORDER BY month",
        [str(source.months)],
    )
    return [MonthRow(m, int(b), int(c), int(cc), int(ca)) for m, b, c, cc, ca in rows]


def top_zones(source: Source, filters: Filters, limit: int = TOP_ZONES) -> list[Figure]:
    """The zones with the most overdue (ties by zone code), with their accounts in arrears."""
    where, params = filters.where()
    rows = _rows(
        "SELECT zone, sum(overdue) AS v, sum(accounts) FROM read_parquet(?)"
        f" WHERE {where} AND zone IS NOT NULL AND testigo = 'vencida' GROUP BY zone"
        " ORDER BY v DESC, zone LIMIT ?",
        [source.cube, *params, int(limit)],
    )
    return [Figure(str(z), str(z), int(v), int(n), Drill("zone", str(z))) for z, v, n in rows]


def filter_values(source: Source) -> dict[str, list[str | int]]:
    """The values each filter can take in the snapshot (from the cube), sorted."""
    cols = ", ".join(f"list(DISTINCT {f}) FILTER (WHERE {f} IS NOT NULL)" for f in FILTERS)
    row = _rows(f"SELECT {cols} FROM read_parquet(?)", [source.cube])[0]
    return {name: sorted(values or []) for name, values in zip(FILTERS, row, strict=True)}


def figure_of(source: Source, filters: Filters, drill: Drill) -> tuple[int, int | None]:
    """(value, accounts) of a drill-down computed over the cube: what the tile shows."""
    return _cube_sum(source, filters, drill_spec(source, drill))


# --------------------------------------------------------------------------- drill-down

#: Columns of the drill-down list and export (accounts.parquet names).
LIST_COLUMNS: tuple[str, ...] = (
    "account_id",
    "account_number",
    "holder_name",
    "address",
    "category",
    "stratum",
    "municipality",
    "zone",
    "cycle",
    "stage",
    "stage_name",
    "max_days_past_due",
    "balance",
    "overdue",
    "blocked_amount",
)


@dataclass(frozen=True)
class DrillPage:
    rows: list[dict[str, Any]]
    total_accounts: int
    total_value: int  # sum of the measure (= total_accounts when the figure is a count)
    measure: str | None
    page: int
    pages: int


def _drill_sql(source: Source, filters: Filters, spec: DrillSpec) -> tuple[str, list[Any]]:
    where, params = filters.where()
    return (
        f"FROM read_parquet(?) WHERE {where} AND ({spec.where})",
        [source.accounts, *params, *spec.params],
    )


def drill_page(
    source: Source, filters: Filters, drill: Drill, *, page: int = 1, size: int = PAGE_SIZE
) -> DrillPage:
    """One page of the accounts behind a figure, largest measure first (then account id),
    with the total number of accounts and the total of the measure.

    The totals come from the cube when the drill's condition is on cube dimensions (the
    same numbers, without reading the accounts); the page is found on two narrow columns
    (account id and measure) and only its rows are then read in full: an offset deep in
    2.3 M accounts costs a sort of two columns, not of every column.
    """
    spec = drill_spec(source, drill)
    frm, params = _drill_sql(source, filters, spec)
    measure = spec.measure
    if spec.dimensional:
        total, counted = _cube_sum(source, filters, spec)
        n = int(counted or 0)
    else:
        total_expr = f"coalesce(sum({measure}), 0)" if measure else "count(*)"
        n, total = (int(v) for v in _rows(f"SELECT count(*), {total_expr} {frm}", params)[0])
    pages = max(1, -(-n // size))
    page = min(max(1, page), pages)
    order = f"{measure} DESC, account_id" if measure else "account_id"
    ids = [
        int(r[0])
        for r in _rows(
            f"SELECT account_id {frm} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, size, (page - 1) * size],
        )
    ]
    rows: list[dict[str, Any]] = []
    if ids:
        cols = ", ".join(f"a.{c}" for c in LIST_COLUMNS)
        measure_col = f", a.{measure} AS measure" if measure else ", 1 AS measure"
        cur = cursor()
        try:
            cur.execute(
                f"SELECT {cols}{measure_col} FROM read_parquet(?) AS a"
                " SEMI JOIN (SELECT unnest(?::BIGINT[]) AS id) AS p ON a.account_id = p.id",
                [source.accounts, ids],
            )
            names = [d[0] for d in cur.description or []]
            found = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        finally:
            cur.close()
        rows = [found[i] for i in ids if i in found]
    return DrillPage(rows, n, total, measure, page, pages)


def account_items(source: Source, account_id: int) -> list[dict[str, Any]]:
    """The open items of one account in the snapshot (``items.parquet`` is sorted by
    account, so DuckDB reads one row group)."""
    cur = cursor()
    try:
        cur.execute(
            "SELECT item_id, document_id, document_kind, concept, side, issue_date, due_date,"
            " amount, open_amount, signed_amount, days_past_due, bucket, blocked"
            " FROM read_parquet(?) WHERE account_id = ? ORDER BY due_date, item_id",
            [source.items, int(account_id)],
        )
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        cur.close()


@dataclass(frozen=True)
class ExportColumn:
    key: str
    title: str
    kind: str  # text | int | money
    width: float


def export_xlsx(
    source: Source,
    filters: Filters,
    drill: Drill,
    out: str | Path | BinaryIO,
    *,
    columns: Sequence[ExportColumn],
    labels: Mapping[str, Mapping[Any, str]] | None = None,
    title: str = "",
    currency_exponent: int = 2,
    sheet_rows: int = SHEET_ROWS,
) -> int:
    """Write the drill-down list to an XLSX workbook and return the rows written.

    ``columns`` name accounts.parquet columns (``measure`` is the drill's measure); ``labels``
    maps a column's codes to names (zone code → name). The order is the list's (largest
    measure first). Sheets split past ``sheet_rows`` data rows. Money is written as exact
    decimal major units (DuckDB renders the digits; never a float).

    Each row's XML is rendered by DuckDB and appended to the sheet by
    :mod:`caudal.portfolio.xlsxrows` (a 50,000-row export took 11 s cell by cell, 1 s so).
    """
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    spec = drill_spec(source, drill)
    frm, params = _drill_sql(source, filters, spec)
    labels = labels or {}
    joins: list[str] = []
    join_params: list[Any] = []
    exprs: list[str] = []
    for n, col in enumerate(columns):
        if col.key == "measure":
            exprs.append(f"a.{spec.measure}" if spec.measure else "1")
        elif col.key not in LIST_COLUMNS and not col.key.startswith("aged_"):
            raise DashboardError(f"columns: {col.key!r} is not an exported column")
        elif labels.get(col.key):
            mapping = labels[col.key]
            joins.append(
                f"LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS code, unnest(?::VARCHAR[]) AS label)"
                f" AS l{n} ON l{n}.code = CAST(a.{col.key} AS VARCHAR)"
            )
            join_params += [[str(k) for k in mapping], [str(v) for v in mapping.values()]]
            exprs.append(f"coalesce(l{n}.label, CAST(a.{col.key} AS VARCHAR))")
        else:
            exprs.append(f"a.{col.key}")
    order = f"a.{spec.measure} DESC, a.account_id" if spec.measure else "a.account_id"
    # "<filters> AND (<drill>)": unqualified columns, all of ``a`` (the label joins only
    # have ``code`` and ``label``)
    where = frm.split(" WHERE ", 1)[1]

    wb = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "in_memory": False,
            "use_zip64": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    head = wb.add_format({"bold": True, "bg_color": "#1d4e89", "font_color": "#ffffff"})
    int_fmt = wb.add_format({"num_format": "#,##0"})
    money_fmt = wb.add_format(
        {"num_format": "#,##0" + ("." + "0" * currency_exponent if currency_exponent else "")}
    )
    title_fmt = wb.add_format({"bold": True})
    styles = {"int": int_fmt._get_xf_index(), "money": money_fmt._get_xf_index(), "text": 0}
    header_row = 1 if title else 0  # 0-based row of the header; data follow it
    row_xml = xlsxrows.row_xml_sql(
        xlsxrows.cell_xml_sql(
            f'd."c{n}"', col.kind, xl_col_to_name(n), styles[col.kind], currency_exponent
        )
        for n, col in enumerate(columns)
    )
    inner = ", ".join(f'{e} AS "c{n}"' for n, e in enumerate(exprs))
    sql = (
        f"SELECT {row_xml} FROM ("
        f"SELECT *, (i % {int(sheet_rows)}) + {header_row + 2} AS r FROM ("
        f"SELECT {inner}, row_number() OVER (ORDER BY {order}) - 1 AS i"
        f" FROM read_parquet(?) AS a {' '.join(joins)} WHERE {where}) ORDER BY i) AS d"
    )
    sheet_no = 0
    ncols = len(columns)

    def new_sheet() -> Any:
        nonlocal sheet_no
        sheet_no += 1
        sheet = wb.add_worksheet(f"Cuentas {sheet_no}" if sheet_no > 1 else "Cuentas")
        if title:
            sheet.write_string(0, 0, title, title_fmt)
        for c, col in enumerate(columns):
            sheet.set_column(c, c, col.width)
            sheet.write_string(header_row, c, col.title, head)
        sheet.freeze_panes(header_row + 1, 0)
        sheet._write_single_row(header_row + 1)  # the header goes to the row file now
        return sheet

    def close_sheet(sheet: Any, rows: int) -> None:
        if rows:
            sheet._check_dimensions(header_row + rows, ncols - 1)
        sheet.autofilter(header_row, 0, header_row + max(rows, 1), ncols - 1)

    cur = cursor()
    try:
        reader = cur.sql(sql, params=[source.accounts, *join_params, *params[1:]]).to_arrow_reader(
            BATCH_ROWS
        )
        return xlsxrows.append_rows(
            reader, sheet_rows=sheet_rows, new_sheet=new_sheet, close_sheet=close_sheet
        )
    finally:
        cur.close()
        wb.close()


def iter_file(path: Path, chunk: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while data := fh.read(chunk):
            yield data
