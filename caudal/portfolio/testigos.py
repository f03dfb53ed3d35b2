"""Testigos de cartera: the current and overdue portfolio witnesses of a snapshot.

The EAAB procedure (seed ``004``, activity 2) builds, at every close, two workbooks from the
extraction: the *Testigo de Cartera Vigente* (every account with open items and 0 days past
due) and the *Testigo de Cartera Vencida* (every account with open items ≥ 1 day past due),
each "detailing every account and its characteristics", classified by collection stage,
responsible unit, value, age, use, stratum and municipality. Here they are read from a
snapshot folder's ``accounts.parquet`` (``testigo`` column), one row per account.

Formats (see ``docs/testigos.md`` for every column):

``xlsx``
    A *Resumen* sheet (totals, then accounts and value by stage, responsible, age bucket,
    use, stratum, municipality and zone) and the detail on *Detalle* (split into *Detalle 1*,
    *Detalle 2*, … past 1,048,575 data rows: Excel's 1,048,576 rows include the header).
    Written with xlsxwriter in ``constant_memory`` mode from DuckDB record batches, so only
    one batch of rows is ever held in Python. Money is a number in major units with the
    currency's decimals, written as the exact decimal text (``Decimal(minor).scaleb(-2)``,
    never a float: the file holds ``9.95``, not ``9.949999999999999``).
``csv``
    The same detail columns, UTF-8 with a byte-order mark and ``;`` as separator (what Excel
    opens in Spanish locales, as the account statement CSV); amounts in major units without
    thousands separator, decimal comma for COP and decimal point for PEN.
``parquet``
    The accounts rows of the testigo exactly as in the snapshot (codes, integer minor units),
    for machines.

Files offered for download are built once per snapshot into ``<folder>/testigos/`` and
rebuilt when the snapshot's ``accounts.parquet`` is newer (a snapshot taken again).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, record
from caudal.kernel.money import CURRENCY_SYMBOL, exponent

from . import build, schema, snapshot, xlsxrows

WHICH: tuple[str, ...] = ("vigente", "vencida")
FORMATS: tuple[str, ...] = ("xlsx", "csv", "parquet")
#: Excel's rows per sheet (header included): the detail splits past this minus the header.
EXCEL_ROWS = 1_048_576
SHEET_ROWS = EXCEL_ROWS - 1
#: Rows fetched from DuckDB per Arrow record batch.
BATCH_ROWS = 65_536
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
CACHE_DIR = "testigos"
ENGINES: tuple[str, ...] = ("xml", "cells")


class TestigoError(ValueError):
    """No snapshot for the date, or a testigo / format that does not exist."""


# --- where ------------------------------------------------------------------------------


def folder_for(on: date) -> Path:
    """The snapshot folder of a date (:func:`caudal.portfolio.snapshot.folder_for`)."""
    return snapshot.folder_for(on)


def accounts_file(on: date) -> Path:
    """``accounts.parquet`` of the snapshot of ``on``; :class:`TestigoError` when there is
    no snapshot of that date."""
    path = folder_for(on) / schema.ACCOUNTS
    if not path.is_file():
        raise TestigoError(
            _(
                "No hay corte de cartera del %(date)s: tómelo antes (caudal snapshot --date %(iso)s)."
            )
            % {"date": on.strftime("%d/%m/%Y"), "iso": on.isoformat()}
        )
    return path


def check(which: str, fmt: str | None = None) -> None:
    if which not in WHICH:
        raise TestigoError(_("Testigo desconocido %(w)s: use vigente o vencida.") % {"w": which})
    if fmt is not None and fmt not in FORMATS:
        raise TestigoError(_("Formato desconocido %(f)s: use xlsx, csv o parquet.") % {"f": fmt})


def filename(on: date, which: str, fmt: str) -> str:
    """``testigo-cartera-vencida-2026-10-31.xlsx``."""
    return f"testigo-cartera-{which}-{on.isoformat()}.{fmt}"


def title(which: str) -> str:
    return (
        _("Testigo de Cartera Vigente") if which == "vigente" else _("Testigo de Cartera Vencida")
    )


# --- labels -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """Names shown instead of codes, and the utility's currency. ``from_db`` reads them;
    a snapshot folder alone gives codes (``Labels()``)."""

    currency: str = "PEN"
    utility: str = ""
    municipality: Mapping[str, str] = field(default_factory=dict)
    zone: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_db(cls) -> Labels:
        from caudal.cadastre.models import Municipality, UtilitySettings, Zone

        utility = UtilitySettings.current()
        return cls(
            currency=utility.currency,
            utility=utility.name,
            municipality=dict(Municipality.objects.values_list("code", "name")),
            zone=dict(Zone.objects.values_list("code", "name")),
        )


def _choice_labels() -> dict[str, dict[str, str]]:
    from caudal.cadastre.models import Segment, UseCategory

    return {
        "category": {str(k): str(v) for k, v in UseCategory.choices},
        "segment": {str(k): str(v) for k, v in Segment.choices},
        "age_class": {
            "current": _("Corriente"),
            "early": _("Mora temprana"),
            "light": _("Cartera liviana"),
            "heavy": _("Cartera pesada"),
            "ddr": _("DDR (difícil recaudo)"),
        },
    }


def bucket_label(code: str) -> str:
    """``"0"`` → ``Al día``, ``"1-30"`` → ``1–30 días``, ``">360"`` → ``> 360 días``."""
    if code == "0":
        return _("Al día (0 días)")
    if code.startswith(">"):
        return _("> %(d)s días") % {"d": code[1:]}
    low, _sep, high = code.partition("-")
    return _("%(a)s–%(b)s días") % {"a": low, "b": high}


def _label_table(labels: Labels, bucket_codes: Sequence[str]) -> pa.Table:
    kinds: list[str] = []
    codes: list[str] = []
    names: list[str] = []
    groups = {
        **_choice_labels(),
        "municipality": dict(labels.municipality),
        "zone": dict(labels.zone),
        "bucket": {c: bucket_label(c) for c in bucket_codes},
    }
    for kind, mapping in groups.items():
        for code, name in mapping.items():
            kinds.append(kind)
            codes.append(code)
            names.append(name)
    return pa.table(
        {"kind": pa.array(kinds, pa.string()), "code": codes, "label": names},
        schema=pa.schema([("kind", pa.string()), ("code", pa.string()), ("label", pa.string())]),
    )


# --- columns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str  # text | int | money
    width: float
    sql: str  # DuckDB expression over ``a`` (the accounts row) and the label joins


#: Labelled dimensions: (column, join alias).
_LABELLED = ("category", "segment", "municipality", "zone", "bucket", "age_class")


def bucket_codes_of(folder: Path) -> list[str]:
    """Bucket codes of a snapshot (manifest; else the ``aged_*`` columns' order)."""
    manifest = folder / schema.MANIFEST
    if manifest.is_file():
        codes = build.read_manifest(folder).get("bucket_codes")
        if codes:
            return [str(c) for c in codes]
    import pyarrow.parquet as pq

    names = pq.read_schema(folder / schema.ACCOUNTS).names
    out = []
    for n in names:
        if n.startswith("aged_"):
            code = n[len("aged_") :]
            out.append(
                ">" + code[len("over_") :] if code.startswith("over_") else code.replace("_", "-")
            )
    return out


def _clean(expr: str) -> str:
    """Text without the control characters XML 1.0 cannot carry (tab and newlines stay)."""
    return f"regexp_replace({expr}, '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '', 'g')"


def columns(currency: str, bucket_codes: Sequence[str]) -> list[Column]:
    """The detail's columns, in order (XLSX and CSV)."""
    sym = CURRENCY_SYMBOL.get(currency, currency)

    def money(title: str) -> str:
        return f"{title} ({sym})"

    cols = [
        Column("account_number", _("Cuenta contrato"), "text", 14, "a.account_number"),
        Column("holder_name", _("Titular"), "text", 30, _clean("a.holder_name")),
        Column("address", _("Dirección"), "text", 32, _clean("a.address")),
        Column("category", _("Uso"), "text", 13, "coalesce(l_category.label, a.category)"),
        Column("stratum", _("Estrato"), "int", 8, "a.stratum"),
        Column("segment", _("Segmento"), "text", 13, "coalesce(l_segment.label, a.segment)"),
        Column(
            "municipality",
            _("Municipio"),
            "text",
            16,
            "coalesce(l_municipality.label, a.municipality)",
        ),
        Column("zone", _("Zona"), "text", 14, "coalesce(l_zone.label, a.zone)"),
        Column("cycle", _("Ciclo"), "text", 8, "a.cycle"),
        Column("route", _("Ruta"), "text", 9, "a.route"),
        Column("stage", _("Etapa de cobro"), "text", 18, "a.stage_name"),
        Column("responsible", _("Responsable"), "text", 28, "a.responsible"),
        Column("balance", money(_("Saldo")), "money", 14, "a.balance"),
        Column("overdue", money(_("Vencido")), "money", 14, "a.overdue"),
        Column("blocked_amount", money(_("Bloqueado")), "money", 13, "a.blocked_amount"),
        Column("max_days_past_due", _("Días de mora"), "int", 9, "a.max_days_past_due"),
        Column("bucket", _("Tramo de edad"), "text", 14, "coalesce(l_bucket.label, a.bucket)"),
        Column(
            "age_class", _("Clase de edad"), "text", 16, "coalesce(l_age_class.label, a.age_class)"
        ),
    ]
    for code in bucket_codes:
        col = schema.bucket_column(code)
        cols.append(Column(col, money(bucket_label(code)), "money", 13, f"a.{col}"))
    cols += [
        Column("credit_amount", money(_("Saldo a favor")), "money", 13, "a.credit_amount"),
        Column("items", _("Partidas abiertas"), "int", 9, "a.items"),
        Column(
            "in_agreement",
            _("En convenio"),
            "text",
            9,
            f"CASE WHEN a.in_agreement THEN '{_('Sí')}' ELSE 'No' END",
        ),
    ]
    return cols


def _joins() -> str:
    return " ".join(
        f"LEFT JOIN lbl AS l_{d} ON l_{d}.kind = '{d}' AND l_{d}.code = CAST(a.{d} AS VARCHAR)"
        for d in _LABELLED
    )


def _connect(labels: Labels, bucket_codes: Sequence[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("lbl", _label_table(labels, bucket_codes))
    return con


# --- summary (the Resumen sheet and the page) ---------------------------------------------


@dataclass(frozen=True)
class Totals:
    accounts: int = 0
    balance: int = 0
    overdue: int = 0
    blocked: int = 0


@dataclass(frozen=True)
class Group:
    label: str
    totals: Totals


@dataclass(frozen=True)
class Section:
    title: str  # "Por etapa de cobro"
    dimension: str  # "Etapa de cobro"
    groups: list[Group]


def totals_by_testigo(on: date) -> dict[str, Totals]:
    """Accounts, balance, overdue and blocked amount of each testigo of a snapshot."""
    path = accounts_file(on)
    cube = path.parent / schema.CUBE
    source, count = (cube, "sum(accounts)") if cube.is_file() else (path, "count(*)")
    rows = duckdb.execute(
        f"SELECT testigo, {count}, sum(balance), sum(overdue), sum(blocked_amount) "
        "FROM read_parquet(?) GROUP BY testigo",
        [str(source)],
    ).fetchall()
    out = {w: Totals() for w in WHICH}
    for testigo, n, bal, over, blocked in rows:
        out[str(testigo)] = Totals(int(n or 0), int(bal or 0), int(over or 0), int(blocked or 0))
    return out


def _sections(
    con: duckdb.DuckDBPyConnection, path: Path, which: str, stage_order: Sequence[str]
) -> tuple[Totals, list[Section]]:
    measures = "count(*), sum(a.balance), sum(a.overdue), sum(a.blocked_amount)"
    src = f"FROM read_parquet(?) AS a {_joins()} WHERE a.testigo = ?"
    params = [str(path), which]
    n, bal, over, blocked = con.execute(f"SELECT {measures} {src}", params).fetchone() or (0,) * 4
    total = Totals(int(n or 0), int(bal or 0), int(over or 0), int(blocked or 0))
    stage_rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(stage_order))
    stage_key = f"CASE a.stage {stage_rank} ELSE 999 END" if stage_rank else "0"
    dims: list[tuple[str, str, str, str]] = [
        (_("Por etapa de cobro"), _("Etapa de cobro"), "a.stage_name", f"min({stage_key})"),
        (_("Por responsable"), _("Responsable"), "a.responsible", "1"),
        (
            _("Por tramo de edad"),
            _("Tramo de edad"),
            "coalesce(l_bucket.label, a.bucket)",
            "min(a.max_days_past_due)",
        ),
        (
            _("Por clase de edad"),
            _("Clase de edad"),
            "coalesce(l_age_class.label, a.age_class)",
            "min(a.max_days_past_due)",
        ),
        (_("Por uso"), _("Uso"), "coalesce(l_category.label, a.category)", "1"),
        (
            _("Por estrato"),
            _("Estrato"),
            f"coalesce(CAST(a.stratum AS VARCHAR), '{_('Sin estrato')}')",
            "min(coalesce(a.stratum, 99))",
        ),
        (
            _("Por municipio"),
            _("Municipio"),
            "coalesce(l_municipality.label, a.municipality)",
            "1",
        ),
        (_("Por zona"), _("Zona"), "coalesce(l_zone.label, a.zone)", "1"),
    ]
    sections = []
    for heading, dimension, expr, order in dims:
        rows = con.execute(
            f"SELECT {expr} AS g, {measures} {src} GROUP BY g ORDER BY {order}, g", params
        ).fetchall()
        sections.append(
            Section(
                heading,
                dimension,
                [
                    Group(
                        str(g) if g is not None else "—",
                        Totals(int(c or 0), int(b or 0), int(o or 0), int(k or 0)),
                    )
                    for g, c, b, o, k in rows
                ],
            )
        )
    return total, sections


def _stage_order(folder: Path) -> list[str]:
    if (folder / schema.MANIFEST).is_file():
        stages = build.read_manifest(folder).get("stages") or []
        return [str(s["stage"]) for s in sorted(stages, key=lambda s: s.get("order", 0))]
    return []


# --- writers ----------------------------------------------------------------------------


@dataclass
class Result:
    path: Path
    which: str
    fmt: str
    accounts: int
    sheets: list[str] = field(default_factory=list)


def _reader(
    con: duckdb.DuckDBPyConnection, path: Path, which: str, cols: Sequence[Column]
) -> pa.RecordBatchReader:
    select = ", ".join(f'{c.sql} AS "{c.key}"' for c in cols)
    sql = (
        f"SELECT {select} FROM read_parquet(?) AS a {_joins()} "
        "WHERE a.testigo = ? ORDER BY a.account_number, a.account_id"
    )
    return con.sql(sql, params=[str(path), which]).to_arrow_reader(BATCH_ROWS)


def write_testigo(
    on: date,
    which: str,
    fmt: str,
    out: Path,
    *,
    labels: Labels | None = None,
    sheet_rows: int = SHEET_ROWS,
    engine: str = "xml",
) -> Path:
    """Write the testigo ``which`` (vigente / vencida) of the snapshot of ``on`` to ``out``
    in ``fmt`` (xlsx / csv / parquet). Returns ``out``. Raises :class:`TestigoError`.

    ``sheet_rows`` is the number of detail rows per XLSX sheet (tests split small).
    ``engine`` writes the XLSX detail rows as XML rendered by DuckDB (``xml``, the default)
    or cell by cell through xlsxwriter's API (``cells``, the reference; 5× slower)."""
    return write_testigo_result(
        on, which, fmt, out, labels=labels, sheet_rows=sheet_rows, engine=engine
    ).path


def write_testigo_result(
    on: date,
    which: str,
    fmt: str,
    out: Path,
    *,
    labels: Labels | None = None,
    sheet_rows: int = SHEET_ROWS,
    engine: str = "xml",
) -> Result:
    check(which, fmt)
    if engine not in ENGINES:
        raise TestigoError(f"unknown engine {engine!r}")
    path = accounts_file(on)
    if sheet_rows < 1 or sheet_rows > SHEET_ROWS:
        raise TestigoError(_("Filas por hoja entre 1 y %(n)s.") % {"n": SHEET_ROWS})
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        n = _write_parquet(path, which, out)
        return Result(out, which, fmt, n)
    labels = labels if labels is not None else Labels.from_db()
    codes = bucket_codes_of(path.parent)
    con = _connect(labels, codes)
    cols = columns(labels.currency, codes)
    try:
        if fmt == "csv":
            n = 0
            with out.open("wb") as fh:
                for chunk, rows in _csv_chunks(con, path, which, cols, labels.currency):
                    fh.write(chunk)
                    n += rows
            return Result(out, which, fmt, n)
        return _write_xlsx(con, path, on, which, out, cols, labels, sheet_rows, engine)
    finally:
        con.close()


def _write_parquet(path: Path, which: str, out: Path) -> int:
    import pyarrow.parquet as pq

    con = duckdb.connect()
    try:
        reader = con.sql(
            "SELECT * FROM read_parquet(?) WHERE testigo = ? ORDER BY account_id",
            params=[str(path), which],
        ).to_arrow_reader(BATCH_ROWS)
        n = 0
        with pq.ParquetWriter(out, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
                n += batch.num_rows
        return n
    finally:
        con.close()


def _money_sql(expr: str, currency: str, sep: str | None = None) -> str:
    """Exact major-unit text of an integer minor-unit expression (``-1234.05``); decimal
    comma for COP unless ``sep`` says otherwise."""
    return xlsxrows.money_text_sql(
        expr, exponent(currency), sep or ("," if currency == "COP" else ".")
    )


def _csv_chunks(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    which: str,
    cols: Sequence[Column],
    currency: str,
) -> Iterator[tuple[bytes, int]]:
    """The CSV as byte chunks (one per record batch), with the number of rows in each."""
    import pyarrow.csv as pacsv

    select = ", ".join(
        f'{_money_sql(c.sql, currency) if c.kind == "money" else c.sql} AS "{c.title}"'
        for c in cols
    )
    sql = (
        f"SELECT {select} FROM read_parquet(?) AS a {_joins()} "
        "WHERE a.testigo = ? ORDER BY a.account_number, a.account_id"
    )
    reader = con.sql(sql, params=[str(path), which]).to_arrow_reader(BATCH_ROWS)
    buf = io.BytesIO()
    buf.write("\ufeff".encode())
    options = pacsv.WriteOptions(delimiter=";", quoting_style="needed")
    with pacsv.CSVWriter(buf, reader.schema, write_options=options) as writer:
        head = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        yield head, 0
        for batch in reader:
            writer.write_batch(batch)
            chunk = buf.getvalue()
            buf.seek(0)
            buf.truncate()
            yield chunk, batch.num_rows


class _Formats:
    def __init__(self, wb: Any, currency: str) -> None:
        decimals = exponent(currency)
        money = "#,##0" + ("." + "0" * decimals if decimals else "")
        add = wb.add_format
        self.title = add({"bold": True, "font_size": 14})
        self.sub = add({"italic": True, "font_color": "#4b5563"})
        self.section = add({"bold": True, "font_size": 12, "font_color": "#1d4e89"})
        self.head = add(
            {
                "bold": True,
                "bg_color": "#1d4e89",
                "font_color": "#ffffff",
                "border": 1,
                "text_wrap": True,
                "valign": "vcenter",
            }
        )
        self.int = add({"num_format": "#,##0"})
        self.money = add({"num_format": money})
        self.total_text = add({"bold": True, "top": 2})
        self.total_int = add({"bold": True, "top": 2, "num_format": "#,##0"})
        self.total_money = add({"bold": True, "top": 2, "num_format": money})
        self.scale = -decimals
        self.currency = currency


def _write_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    on: date,
    which: str,
    out: Path,
    cols: Sequence[Column],
    labels: Labels,
    sheet_rows: int,
    engine: str,
) -> Result:
    import xlsxwriter

    total, sections = _sections(con, path, which, _stage_order(path.parent))
    tmp_dir = str(out.parent)
    wb = xlsxwriter.Workbook(
        str(out),
        {
            "constant_memory": True,
            "use_zip64": total.accounts > 500_000,
            "tmpdir": tmp_dir,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    f = _Formats(wb, labels.currency)
    n_sheets = max(1, -(-total.accounts // sheet_rows))
    names = (
        [_("Detalle")]
        if n_sheets == 1
        else [_("Detalle %(n)s") % {"n": i} for i in range(1, n_sheets + 1)]
    )
    _write_summary(wb, f, on, which, total, sections, labels, names)
    detail = _write_detail_xml if engine == "xml" else _write_detail
    written = detail(wb, f, con, path, which, cols, names, sheet_rows)
    wb.close()
    return Result(out, which, "xlsx", written, [_("Resumen"), *names])


def _write_summary(
    wb: Any,
    f: _Formats,
    on: date,
    which: str,
    total: Totals,
    sections: Sequence[Section],
    labels: Labels,
    detail_sheets: Sequence[str],
) -> None:
    ws = wb.add_worksheet(_("Resumen"))
    sym = CURRENCY_SYMBOL.get(labels.currency, labels.currency)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 4, 18)
    ws.write_string(0, 0, title(which), f.title)
    scope = (
        _("Cuentas contrato con partidas abiertas y 0 días de mora al cierre")
        if which == "vigente"
        else _("Cuentas contrato con partidas abiertas y 1 o más días de mora al cierre")
    )
    ws.write_string(1, 0, (labels.utility + " · " if labels.utility else "") + scope, f.sub)
    ws.write_string(
        2,
        0,
        _("Corte al %(d)s · generado %(g)s · detalle en: %(s)s")
        % {
            "d": on.strftime("%d/%m/%Y"),
            "g": timezone.localtime().strftime("%d/%m/%Y %H:%M"),
            "s": ", ".join(detail_sheets),
        },
        f.sub,
    )
    heads = [
        _("Testigo"),
        _("Cuentas"),
        f"{_('Saldo')} ({sym})",
        f"{_('Vencido')} ({sym})",
        f"{_('Bloqueado')} ({sym})",
    ]
    row = 4
    for c, h in enumerate(heads):
        ws.write_string(row, c, h, f.head)
    row += 1
    _totals_row(ws, f, row, _("Total"), total)
    row += 2
    for section in sections:
        ws.write_string(row, 0, section.title, f.section)
        row += 1
        for c, h in enumerate(heads):
            ws.write_string(row, c, section.dimension if c == 0 else h, f.head)
        row += 1
        for g in section.groups:
            ws.write_string(row, 0, g.label)
            ws.write_number(row, 1, g.totals.accounts, f.int)
            ws.write_number(row, 2, _major(g.totals.balance, f.scale), f.money)
            ws.write_number(row, 3, _major(g.totals.overdue, f.scale), f.money)
            ws.write_number(row, 4, _major(g.totals.blocked, f.scale), f.money)
            row += 1
        _totals_row(ws, f, row, _("Total"), _sum(g.totals for g in section.groups))
        row += 2


def _sum(items: Any) -> Totals:
    a = b = o = k = 0
    for t in items:
        a, b, o, k = a + t.accounts, b + t.balance, o + t.overdue, k + t.blocked
    return Totals(a, b, o, k)


def _totals_row(ws: Any, f: _Formats, row: int, label: str, t: Totals) -> None:
    ws.write_string(row, 0, label, f.total_text)
    ws.write_number(row, 1, t.accounts, f.total_int)
    ws.write_number(row, 2, _major(t.balance, f.scale), f.total_money)
    ws.write_number(row, 3, _major(t.overdue, f.scale), f.total_money)
    ws.write_number(row, 4, _major(t.blocked, f.scale), f.total_money)


def _major(minor: int, scale: int) -> Decimal:
    """Minor units as an exact Decimal in major units (xlsxwriter writes its digits)."""
    return Decimal(int(minor)).scaleb(scale)


def _write_detail(
    wb: Any,
    f: _Formats,
    con: duckdb.DuckDBPyConnection,
    path: Path,
    which: str,
    cols: Sequence[Column],
    names: Sequence[str],
    sheet_rows: int,
) -> int:
    reader = _reader(con, path, which, cols)
    sheets = iter(names)
    ws: Any = None
    row = 0  # rows written on the current sheet (data rows)
    written = 0
    ncols = len(cols)

    def new_sheet() -> Any:
        sheet = wb.add_worksheet(next(sheets))
        for c, col in enumerate(cols):
            sheet.set_column(c, c, col.width)
            sheet.write_string(0, c, col.title, f.head)
        sheet.set_row(0, 32)
        sheet.freeze_panes(1, 1)
        return sheet

    def close_sheet(sheet: Any, rows: int) -> None:
        sheet.autofilter(0, 0, max(rows, 1), ncols - 1)

    ws = new_sheet()
    writers = _cell_writers(cols, f)
    for batch in reader:
        values = [batch.column(i).to_pylist() for i in range(ncols)]
        for i in range(batch.num_rows):
            if row == sheet_rows:
                close_sheet(ws, row)
                ws = new_sheet()
                row = 0
            row += 1
            for c in range(ncols):
                v = values[c][i]
                if v is not None and v != "":
                    writers[c](ws, row, c, v)
        written += batch.num_rows
    close_sheet(ws, row)
    return written


def _cell_writers(cols: Sequence[Column], f: _Formats) -> list[Callable[[Any, int, int, Any], Any]]:
    scale = f.scale

    def text(ws: Any, r: int, c: int, v: Any) -> None:
        ws.write_string(r, c, str(v))

    def integer(ws: Any, r: int, c: int, v: Any) -> None:
        ws.write_number(r, c, int(v), f.int)

    def money(ws: Any, r: int, c: int, v: Any) -> None:
        ws.write_number(r, c, Decimal(v).scaleb(scale), f.money)

    return [{"money": money, "int": integer}.get(c.kind, text) for c in cols]


def _write_detail_xml(
    wb: Any,
    f: _Formats,
    con: duckdb.DuckDBPyConnection,
    path: Path,
    which: str,
    cols: Sequence[Column],
    names: Sequence[str],
    sheet_rows: int,
) -> int:
    """The detail sheets with each row's XML rendered by DuckDB and appended by
    :mod:`caudal.portfolio.xlsxrows` (the test compares it with the cell-by-cell writer)."""
    from xlsxwriter.utility import xl_col_to_name

    xf = {"int": f.int._get_xf_index(), "money": f.money._get_xf_index(), "text": 0}
    inner = ", ".join(f'{c.sql} AS "{c.key}"' for c in cols)
    row_xml = xlsxrows.row_xml_sql(
        xlsxrows.cell_xml_sql(
            f'd."{c.key}"', c.kind, xl_col_to_name(i), xf[c.kind], exponent(f.currency)
        )
        for i, c in enumerate(cols)
    )
    sql = (
        f"SELECT {row_xml} AS xml FROM ("
        f"SELECT *, (i % {sheet_rows}) + 2 AS r FROM ("
        f"SELECT {inner}, row_number() OVER (ORDER BY a.account_number, a.account_id) - 1 AS i "
        f"FROM read_parquet(?) AS a {_joins()} WHERE a.testigo = ?) ORDER BY i) AS d"
    )
    reader = con.sql(sql, params=[str(path), which]).to_arrow_reader(BATCH_ROWS)
    sheets = iter(names)
    ncols = len(cols)

    def new_sheet() -> Any:
        sheet = wb.add_worksheet(next(sheets))
        for c, col in enumerate(cols):
            sheet.set_column(c, c, col.width)
            sheet.write_string(0, c, col.title, f.head)
        sheet.set_row(0, 32)
        sheet.freeze_panes(1, 1)
        sheet._write_single_row(1)  # the header row goes to the row file now
        return sheet

    def close_sheet(sheet: Any, rows: int) -> None:
        if rows:
            sheet._check_dimensions(rows, ncols - 1)
        sheet.autofilter(0, 0, max(rows, 1), ncols - 1)

    return xlsxrows.append_rows(
        reader, sheet_rows=sheet_rows, new_sheet=new_sheet, close_sheet=close_sheet
    )


# --- downloads ----------------------------------------------------------------------------


def testigo_file(on: date, which: str, fmt: str, *, labels: Labels | None = None) -> Path:
    """The testigo as a file in the snapshot's ``testigos/`` folder, built on first use and
    again when the snapshot is newer than it (written to a temporary name, then renamed, so
    a concurrent download never reads half a file)."""
    check(which, fmt)
    source = accounts_file(on)
    cache = source.parent / CACHE_DIR
    target = cache / filename(on, which, fmt)
    if target.is_file() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f".{fmt}", dir=cache)
    os.close(fd)
    try:
        write_testigo(on, which, fmt, Path(tmp), labels=labels)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def stream_testigo(
    on: date, which: str, fmt: str, *, labels: Labels | None = None, chunk: int = 1 << 20
) -> Iterator[bytes]:
    """The testigo as byte chunks for an HTTP response: CSV straight from DuckDB's record
    batches; XLSX and Parquet from :func:`testigo_file` (a zip cannot be streamed before
    it is closed). Checks run before the first chunk is asked for."""
    check(which, fmt)
    source = accounts_file(on)
    if fmt == "csv":
        labels = labels if labels is not None else Labels.from_db()
        codes = bucket_codes_of(source.parent)
        cols = columns(labels.currency, codes)
        con = _connect(labels, codes)

        def csv_chunks() -> Iterator[bytes]:
            try:
                for data, _rows in _csv_chunks(con, source, which, cols, labels.currency):
                    yield data
            finally:
                con.close()

        return csv_chunks()
    path = testigo_file(on, which, fmt, labels=labels)

    def file_chunks() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while data := fh.read(chunk):
                yield data

    return file_chunks()


def do_record_download(
    on: date, which: str, fmt: str, *, actor: ActorLike, accounts: int | None = None
) -> None:
    """Audit who took which testigo (personal data of every account in it)."""
    record(
        actor=actor,
        action="portfolio.download_testigo",
        object_type="portfolio.snapshot",
        object_id=on.isoformat(),
        after={"testigo": which, "format": fmt, "accounts": accounts},
    )
