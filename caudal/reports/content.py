"""The figures of a management report, read from a cartera snapshot (and the previous one).

:func:`build_content` answers a :class:`Content`: headline figures with their value in the
previous monthly snapshot, and tables (plain rows of ints, text and Decimals) that the web
page, the PDF (:mod:`caudal.reports.render`) and the XLSX annex all show the same way.
Amounts are integer minor units; percentages are Decimals rounded to one decimal.

DuckDB reads the snapshot's Parquet files in memory (``cube.parquet`` for totals and
breakdowns, ``accounts.parquet`` for movement between stages and the top debtors,
``items.parquet`` for blocked items). Nothing is written.

Kinds (:class:`caudal.reports.models.ReportKind`):

- ``monthly``: the whole cartera: totals, by stage, by age bucket and age class, by use and
  stratum, by zone, blocked items by responsible, indicators against their targets, and
  collections and financing by stage when the snapshot has them;
- ``prelegal`` (stages :data:`PRELEGAL_STAGES`), ``coercive`` (:data:`COERCIVE_STAGES`) and
  ``agencies`` (the stages whose responsible, in the snapshot's stage policy, names a
  collection agency): the accounts of those stages only, their value, the movement in and
  out of each stage since the previous month, their age, the top debtors and blocked items.

The previous snapshot is the latest finished *monthly* snapshot before this one; without
one, the latest finished snapshot dated in an earlier month. Without either, comparisons
are left empty and the report says so.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from caudal.cadastre.models import Municipality, UseCategory, UtilitySettings, Zone
from caudal.kernel.errors import DomainError
from caudal.portfolio import schema
from caudal.portfolio.models import (
    Snapshot,
    SnapshotKind,
    SnapshotStatus,
    StageRule,
)

from .models import ReportKind

PRELEGAL_STAGES: tuple[str, ...] = ("prejudicial", "prejuridica", "persuasiva")
COERCIVE_STAGES: tuple[str, ...] = ("judicial", "coactiva")
#: A responsible unit "names an agency" when its text contains one of these (accents and
#: case ignored).
AGENCY_WORDS: tuple[str, ...] = ("agencia", "agency")
TOP_DEBTORS = 20
ONE_DECIMAL = Decimal("0.1")


class ContentError(DomainError):
    """The snapshot cannot give the report's figures (files missing, snapshot not done)."""


# --- value types ------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """A table column. ``kind``: text | int | money | pct | decimal | days."""

    key: str
    title: str
    kind: str = "text"
    total: bool = False


@dataclass
class Table:
    key: str
    title: str
    columns: list[Col]
    rows: list[dict[str, Any]]
    total: dict[str, Any] | None = None
    note: str = ""
    empty: str = ""

    def add_total(self, label: str | None = None, **extra: Any) -> None:
        """A totals row: the sum of every ``total`` column, the first column's label.
        None without rows."""
        if not self.rows:
            self.total = None
            return
        total: dict[str, Any] = {self.columns[0].key: label or _("Total")}
        for col in self.columns[1:]:
            if col.total:
                total[col.key] = sum(int(r.get(col.key) or 0) for r in self.rows)
        total.update(extra)
        self.total = total


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: int
    kind: str = "money"  # money | int
    previous: int | None = None

    @property
    def change(self) -> int | None:
        return None if self.previous is None else self.value - self.previous

    @property
    def change_pct(self) -> Decimal | None:
        return None if self.previous is None else pct_change(self.value, self.previous)


@dataclass
class Content:
    kind: str
    title: str
    date: dt.date
    previous_date: dt.date | None
    currency: str
    utility_name: str
    scope: str
    stages: list[str]
    figures: list[Figure]
    tables: list[Table]
    notices: list[str] = field(default_factory=list)
    #: Series for the charts: ``stage`` [(label, value)], ``buckets`` [(label, value)].
    series: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def has_table(self, key: str) -> bool:
        return any(t.key == key for t in self.tables)

    def table(self, key: str) -> Table:
        """The table ``key`` (KeyError when the report has none)."""
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)

    def figure(self, key: str) -> Figure:
        """The figure ``key`` (KeyError when the report has none)."""
        for f in self.figures:
            if f.key == key:
                return f
        raise KeyError(key)


# --- helpers ----------------------------------------------------------------------------


def pct(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(int(part)) * 100 / Decimal(int(whole))).quantize(
        ONE_DECIMAL, rounding=ROUND_HALF_UP
    )


def pct_change(value: int, previous: int) -> Decimal | None:
    if not previous:
        return None
    return (Decimal(int(value) - int(previous)) * 100 / abs(Decimal(int(previous)))).quantize(
        ONE_DECIMAL, rounding=ROUND_HALF_UP
    )


def _fold(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in norm if not unicodedata.combining(c)).lower()


def names_agency(responsible: str) -> bool:
    folded = _fold(responsible)
    return any(word in folded for word in AGENCY_WORDS)


def bucket_label(column: str) -> str:
    """``aged_0`` → ``Al día``; ``aged_1_30`` → ``1–30 días``; ``aged_over_360`` →
    ``> 360 días``; ``credit_amount`` → ``Saldos a favor``."""
    if column == "credit_amount":
        return _("Saldos a favor")
    code = column.removeprefix("aged_")
    if code == "0":
        return _("Al día (0 días)")
    if code.startswith("over_"):
        return _("Más de %(d)s días") % {"d": code.removeprefix("over_")}
    low, _sep, high = code.partition("_")
    return _("%(a)s–%(b)s días") % {"a": low, "b": high}


AGE_CLASS_LABELS = {
    "current": "Al día",
    "early": "Mora temprana",
    "light": "Cartera liviana",
    "heavy": "Cartera pesada",
    "ddr": "Difícil recaudo (DDR)",
}


def age_class_label(code: str) -> str:
    return _(AGE_CLASS_LABELS.get(code, code))


def snapshot_folder(snapshot: Snapshot) -> Path:
    """The folder of a snapshot's files (``Snapshot.path`` under the snapshot directory)."""
    from caudal.portfolio.snapshot import folder_for, snapshot_root

    return snapshot_root() / snapshot.path if snapshot.path else folder_for(snapshot.date)


def previous_snapshot(snapshot: Snapshot) -> Snapshot | None:
    """The latest finished monthly snapshot before ``snapshot``; else the latest finished
    snapshot of an earlier month."""
    done = Snapshot.objects.filter(status=SnapshotStatus.DONE).exclude(pk=snapshot.pk)
    found = done.filter(kind=SnapshotKind.MONTHLY, date__lt=snapshot.date).order_by("-date").first()
    if found is None:
        month_start = snapshot.date.replace(day=1)
        found = done.filter(date__lt=month_start).order_by("-date").first()
    return found


def agency_responsibles(responsibles: Iterable[str]) -> list[str]:
    return sorted({r for r in responsibles if r and names_agency(r)})


def report_scope(
    kind: str, stage_responsibles: Iterable[tuple[str, str]]
) -> tuple[Scope | None, list[str]]:
    """The scope of a report and the stage codes it shows (all for the monthly report).

    ``stage_responsibles`` are (stage, responsible) pairs of the policy and the data."""
    pairs = list(stage_responsibles)
    codes = list(dict.fromkeys(code for code, _r in pairs))
    if kind == ReportKind.PRELEGAL:
        stages = [c for c in codes if c in PRELEGAL_STAGES] or list(PRELEGAL_STAGES)
        return Scope("stage", tuple(stages)), stages
    if kind == ReportKind.COERCIVE:
        stages = [c for c in codes if c in COERCIVE_STAGES] or list(COERCIVE_STAGES)
        return Scope("stage", tuple(stages)), stages
    if kind == ReportKind.AGENCIES:
        agencies = agency_responsibles(r for _c, r in pairs)
        stages = list(dict.fromkeys(c for c, r in pairs if r in agencies))
        return Scope("responsible", tuple(agencies)), stages
    return None, codes


# --- the reader -------------------------------------------------------------------------


class _Reader:
    """DuckDB views over one snapshot's files (and the previous snapshot's)."""

    def __init__(self, folder: Path, previous: Path | None, on: date) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.date = on
        self.folder = folder
        self.previous = previous
        for name, fname in (
            ("cube", schema.CUBE),
            ("accounts", schema.ACCOUNTS),
            ("items", schema.ITEMS),
        ):
            path = folder / fname
            if not path.exists():
                raise ContentError(
                    _("Falta el archivo %(f)s del corte en %(d)s.") % {"f": fname, "d": folder}
                )
            self.con.read_parquet(str(path)).create_view(name)
        self.item_cols = {str(row[0]) for row in self.con.execute("DESCRIBE items").fetchall()}
        self.has_previous = False
        if previous is not None and (previous / schema.CUBE).exists():
            self.con.read_parquet(str(previous / schema.CUBE)).create_view("prev_cube")
            self.con.read_parquet(str(previous / schema.ACCOUNTS)).create_view("prev_accounts")
            self.has_previous = True
        self.bucket_cols = [
            row[0]
            for row in self.con.execute("DESCRIBE cube").fetchall()
            if str(row[0]).startswith("aged_") or row[0] == "credit_amount"
        ]
        self.prev_bucket_cols: list[str] = []
        if self.has_previous:
            self.prev_bucket_cols = [
                row[0]
                for row in self.con.execute("DESCRIBE prev_cube").fetchall()
                if str(row[0]).startswith("aged_") or row[0] == "credit_amount"
            ]

    def close(self) -> None:
        self.con.close()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def optional(self, fname: str) -> Path | None:
        path = self.folder / fname
        return path if path.exists() else None


@dataclass(frozen=True)
class Scope:
    """The accounts a stage report covers: ``column`` (stage or responsible) in ``values``."""

    column: str
    values: tuple[str, ...]


def _where(scope: Scope | None, prefix: str = "") -> tuple[str, list[Any]]:
    if scope is None:
        return "TRUE", []
    return f"list_contains(?::VARCHAR[], {prefix}{_ident(scope.column)})", [list(scope.values)]


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ContentError(f"unexpected column name {name!r}")
    return f'"{name}"'


# --- building ---------------------------------------------------------------------------


def build_content(kind: str, snapshot: Snapshot) -> Content:
    """The figures of a report of ``kind`` on ``snapshot``."""
    if snapshot.status != SnapshotStatus.DONE:
        raise ContentError(
            _("El corte del %(d)s no está terminado (estado: %(s)s).")
            % {"d": snapshot.date.strftime("%d/%m/%Y"), "s": snapshot.get_status_display()}
        )
    utility = UtilitySettings.current()
    prev = previous_snapshot(snapshot)
    folder = snapshot_folder(snapshot)
    if not folder.exists():
        raise ContentError(
            _("Los archivos del corte del %(d)s no están en %(p)s.")
            % {"d": snapshot.date.strftime("%d/%m/%Y"), "p": folder}
        )
    reader = _Reader(folder, snapshot_folder(prev) if prev is not None else None, snapshot.date)
    try:
        return _build(reader, kind, snapshot, prev if reader.has_previous else None, utility)
    finally:
        reader.close()


def _stage_names(
    reader: _Reader, snapshot: Snapshot
) -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """Stage code → name and stage code → responsible, in display order (corriente first:
    the reverse of the rule order). From the snapshot's manifest (the policy it was taken
    with), else the snapshot's stage policy, else the accounts file."""
    names: dict[str, str] = {}
    responsible: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    manifest_path = reader.folder / schema.MANIFEST
    stages: list[dict[str, Any]] = []
    if manifest_path.exists():
        try:
            stages = list(json.loads(manifest_path.read_text(encoding="utf-8")).get("stages", []))
        except (ValueError, AttributeError):
            stages = []
    if stages:
        for rule in sorted(stages, key=lambda r: -int(r.get("order", 0))):
            names.setdefault(str(rule["stage"]), str(rule.get("name") or rule["stage"]))
            responsible.setdefault(str(rule["stage"]), str(rule.get("responsible") or ""))
            pairs.append((str(rule["stage"]), str(rule.get("responsible") or "")))
    elif snapshot.stage_policy_id:
        rules = StageRule.objects.filter(policy_id=snapshot.stage_policy_id).order_by("-order")
        for r in rules:
            names.setdefault(r.stage, r.name)
            responsible.setdefault(r.stage, r.responsible)
            pairs.append((r.stage, r.responsible))
    found = reader.rows(
        "SELECT stage, responsible AS resp, any_value(stage_name) AS name "
        "FROM accounts GROUP BY stage, responsible ORDER BY stage, responsible"
    )
    for row in found:
        names.setdefault(row["stage"], row["name"] or row["stage"])
        responsible.setdefault(row["stage"], row["resp"] or "")
        if (row["stage"], row["resp"] or "") not in pairs:
            pairs.append((row["stage"], row["resp"] or ""))
    return names, responsible, pairs


def _build(
    reader: _Reader,
    kind: str,
    snapshot: Snapshot,
    prev: Snapshot | None,
    utility: UtilitySettings,
) -> Content:
    names, responsibles, pairs = _stage_names(reader, snapshot)
    scoped, stages = report_scope(kind, pairs)
    notices: list[str] = []
    if prev is None:
        notices.append(
            _("No hay un corte de un mes anterior: el informe no compara con el mes pasado.")
        )
    if kind == ReportKind.AGENCIES and scoped is not None and not scoped.values:
        notices.append(
            _(
                "Ninguna etapa de la política de cobro tiene como responsable una agencia de "
                "cobro: el informe no tiene cuentas. Asigne las agencias como responsables en "
                "la política de etapas."
            )
        )
    if kind == ReportKind.MONTHLY:
        scope = _("Toda la cartera")
    else:
        scope = ", ".join(names.get(s, s) for s in stages) or _("ninguna etapa")
        if kind == ReportKind.AGENCIES and scoped is not None and scoped.values:
            scope = ", ".join(scoped.values)
    content = Content(
        kind=kind,
        title=str(ReportKind(kind).label),
        date=snapshot.date,
        previous_date=prev.date if prev else None,
        currency=utility.currency,
        utility_name=utility.name,
        scope=scope,
        stages=stages,
        figures=[],
        tables=[],
        notices=notices,
    )
    content.figures = _figures(reader, scoped, kind)
    content.tables.append(_by_stage(reader, scoped, names, responsibles))
    if kind != ReportKind.MONTHLY:
        assert scoped is not None
        content.tables.append(_movement(reader, scoped, names))
    content.tables.append(_by_bucket(reader, scoped))
    content.tables.append(_by_age_class(reader, scoped))
    if kind == ReportKind.MONTHLY:
        content.tables.append(_by_use_stratum(reader))
    content.tables.append(_by_zone(reader, scoped))
    if kind != ReportKind.MONTHLY:
        assert scoped is not None
        content.tables.append(_top_debtors(reader, scoped, names))
    content.tables.append(_blocked(reader, scoped))
    if kind == ReportKind.MONTHLY:
        content.tables.append(_indicators(snapshot))
    content.tables.extend(_flows(reader, scoped, names))
    if kind == ReportKind.MONTHLY:
        months = _months(reader)
        content.tables.append(months)
        content.series["months_billed"] = [(r["period"], r["billed"]) for r in months.rows]
        content.series["months_collected"] = [(r["period"], r["collected"]) for r in months.rows]
    stage_table = content.tables[0]
    by_name: dict[str, int] = {}
    for r in stage_table.rows:
        by_name[r["name"]] = by_name.get(r["name"], 0) + int(r["balance"])
    content.series["stage"] = list(by_name.items())
    if content.has_table("buckets"):
        bucket_table = content.table("buckets")
        content.series["buckets"] = [
            (r["label"], int(r["amount"])) for r in bucket_table.rows if r["column"] != "credit"
        ]
    return content


def _totals(reader: _Reader, view: str, scoped: Scope | None) -> dict[str, int]:
    where, params = _where(scoped)
    row = reader.rows(
        f"SELECT coalesce(sum(accounts), 0) AS accounts, coalesce(sum(items), 0) AS items, "
        f"coalesce(sum(balance), 0) AS balance, coalesce(sum(debit_open), 0) AS debit_open, "
        f"coalesce(sum(overdue), 0) AS overdue, "
        f"coalesce(sum(blocked_amount), 0) AS blocked_amount, "
        f"coalesce(sum(collectible_overdue), 0) AS collectible_overdue, "
        f"coalesce(sum(balance) FILTER (WHERE testigo = 'vigente'), 0) AS vigente, "
        f"coalesce(sum(balance) FILTER (WHERE testigo = 'vencida'), 0) AS vencida, "
        f"coalesce(sum(accounts) FILTER (WHERE testigo = 'vencida'), 0) AS accounts_overdue "
        f"FROM {view} WHERE {where}",
        params,
    )[0]
    return {k: int(v) for k, v in row.items()}


def _figures(reader: _Reader, scoped: Scope | None, kind: str) -> list[Figure]:
    now = _totals(reader, "cube", scoped)
    before = _totals(reader, "prev_cube", scoped) if reader.has_previous else None

    def fig(key: str, label: str, kind: str = "money") -> Figure:
        return Figure(key, label, now[key], kind, before[key] if before else None)

    figures = [
        fig("accounts", _("Cuentas con partidas abiertas"), "int"),
        fig("balance", _("Saldo de cartera")),
        fig("overdue", _("Cartera vencida")),
        fig("blocked_amount", _("Partidas bloqueadas")),
    ]
    if kind == ReportKind.MONTHLY:
        figures += [
            fig("vigente", _("Testigo de cartera vigente (saldo)")),
            fig("vencida", _("Testigo de cartera vencida (saldo)")),
            fig("accounts_overdue", _("Cuentas en mora"), "int"),
        ]
    else:
        figures.append(fig("collectible_overdue", _("Vencido cobrable (sin bloqueos)")))
    return figures


def _grouped(
    reader: _Reader, view: str, dims: Sequence[str], scoped: Scope | None
) -> dict[tuple[Any, ...], dict[str, int]]:
    where, params = _where(scoped)
    cols = ", ".join(_ident(d) for d in dims)
    rows = reader.rows(
        f"SELECT {cols}, sum(accounts) AS accounts, sum(balance) AS balance, "
        f"sum(overdue) AS overdue, sum(blocked_amount) AS blocked_amount "
        f"FROM {view} WHERE {where} GROUP BY {cols}",
        params,
    )
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    for r in rows:
        key = tuple(r[d] for d in dims)
        out[key] = {k: int(r[k] or 0) for k in ("accounts", "balance", "overdue", "blocked_amount")}
    return out


def _compare_rows(
    now: dict[tuple[Any, ...], dict[str, int]],
    before: dict[tuple[Any, ...], dict[str, int]] | None,
    order: Sequence[tuple[Any, ...]] | None = None,
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    keys = list(order) if order is not None else []
    for k in sorted(set(now) | set(before or {}), key=lambda k: tuple(str(x) for x in k)):
        if k not in keys:
            keys.append(k)
    total_balance = sum(v["balance"] for v in now.values())
    out = []
    for key in keys:
        cur = now.get(key)
        old = before.get(key) if before is not None else None
        if cur is None and old is None:
            continue
        cur = cur or {"accounts": 0, "balance": 0, "overdue": 0, "blocked_amount": 0}
        row: dict[str, Any] = {
            "accounts": cur["accounts"],
            "balance": cur["balance"],
            "overdue": cur["overdue"],
            "share": pct(cur["balance"], total_balance),
            "prev_accounts": None if before is None else (old or {}).get("accounts", 0),
            "prev_balance": None if before is None else (old or {}).get("balance", 0),
        }
        if before is not None:
            row["change"] = cur["balance"] - row["prev_balance"]
            row["change_pct"] = pct_change(cur["balance"], row["prev_balance"])
        else:
            row["change"] = None
            row["change_pct"] = None
        out.append((key, row))
    return out


COMPARE_COLUMNS = [
    Col("accounts", "Cuentas", "int", True),
    Col("balance", "Saldo", "money", True),
    Col("overdue", "Vencido", "money", True),
    Col("share", "% del saldo", "pct"),
    Col("prev_accounts", "Cuentas mes anterior", "int", True),
    Col("prev_balance", "Saldo mes anterior", "money", True),
    Col("change", "Variación", "money", True),
    Col("change_pct", "Variación %", "pct"),
]


def _compare_columns() -> list[Col]:
    return [Col(c.key, _(c.title), c.kind, c.total) for c in COMPARE_COLUMNS]


def _finish_compare(table: Table, has_previous: bool) -> Table:
    total_balance = sum(int(r["balance"]) for r in table.rows)
    extra: dict[str, Any] = {"share": Decimal(100) if table.rows and total_balance else None}
    if not has_previous:
        table.columns = [
            c for c in table.columns if c.key not in ("prev_accounts", "prev_balance", "change")
        ]
        table.columns = [c for c in table.columns if c.key != "change_pct"]
    table.add_total(**extra)
    if has_previous and table.total is not None and "prev_balance" in table.total:
        table.total["change_pct"] = pct_change(
            int(table.total["balance"]), int(table.total["prev_balance"])
        )
    return table


def _by_stage(
    reader: _Reader,
    scoped: Scope | None,
    names: dict[str, str],
    responsibles: dict[str, str],
) -> Table:
    """By stage and responsible unit (a stage can have several, e.g. an agency for one
    segment), in the stage order of the policy."""
    now = _grouped(reader, "cube", ["stage", "responsible"], scoped)
    before = (
        _grouped(reader, "prev_cube", ["stage", "responsible"], scoped)
        if reader.has_previous
        else None
    )
    rank = {s: i for i, s in enumerate(names)}
    keys = sorted(
        set(now) | set(before or {}), key=lambda k: (rank.get(k[0], 99), str(k[0]), str(k[1]))
    )
    rows = []
    for (stage, responsible), row in _compare_rows(now, before, keys):
        rows.append(
            {
                "name": names.get(stage, stage),
                "stage": stage,
                "responsible": responsible or responsibles.get(stage, ""),
                **row,
            }
        )
    table = Table(
        "stages",
        _("Cartera por etapa de cobro"),
        [Col("name", _("Etapa")), Col("responsible", _("Responsable")), *_compare_columns()],
        rows,
        empty=_("Sin cuentas en estas etapas."),
    )
    return _finish_compare(table, reader.has_previous)


def _by_bucket(reader: _Reader, scoped: Scope | None) -> Table:
    where, params = _where(scoped)
    cols = reader.bucket_cols
    now: dict[str, int] = {}
    if cols:
        sums = ", ".join(f"coalesce(sum({_ident(c)}), 0) AS {_ident(c)}" for c in cols)
        now = {
            k: int(v)
            for k, v in reader.rows(f"SELECT {sums} FROM cube WHERE {where}", params)[0].items()
        }
    before: dict[str, int] | None = None
    if reader.has_previous and reader.prev_bucket_cols:
        sums = ", ".join(
            f"coalesce(sum({_ident(c)}), 0) AS {_ident(c)}" for c in reader.prev_bucket_cols
        )
        before = {
            k: int(v)
            for k, v in reader.rows(f"SELECT {sums} FROM prev_cube WHERE {where}", params)[
                0
            ].items()
        }
    debit_total = sum(v for k, v in now.items() if k != "credit_amount")
    rows = []
    for col in cols:
        amount = now[col]
        row: dict[str, Any] = {
            "label": bucket_label(col),
            "column": "credit" if col == "credit_amount" else col,
            "amount": -amount if col == "credit_amount" else amount,
            "share": None if col == "credit_amount" else pct(amount, debit_total),
        }
        if before is not None:
            old = before.get(col, 0)
            old = -old if col == "credit_amount" else old
            row["prev_amount"] = old
            row["change"] = row["amount"] - old
        rows.append(row)
    columns = [
        Col("label", _("Tramo de edad")),
        Col("amount", _("Importe"), "money", True),
        Col("share", _("% de la deuda"), "pct"),
    ]
    if before is not None:
        columns += [
            Col("prev_amount", _("Importe mes anterior"), "money", True),
            Col("change", _("Variación"), "money", True),
        ]
    table = Table(
        "buckets",
        _("Cartera por edad de mora"),
        columns,
        rows,
        note=_(
            "Cada partida en el tramo de sus días de mora; los saldos a favor restan. "
            "La suma de los tramos es el saldo de la cartera."
        ),
    )
    table.add_total(share=Decimal(100) if debit_total else None)
    return table


def _by_age_class(reader: _Reader, scoped: Scope | None) -> Table:
    now = _grouped(reader, "cube", ["age_class"], scoped)
    before = _grouped(reader, "prev_cube", ["age_class"], scoped) if reader.has_previous else None
    order = [(c,) for c in AGE_CLASS_LABELS]
    rows = [{"name": age_class_label(k[0]), **row} for k, row in _compare_rows(now, before, order)]
    table = Table(
        "age_classes",
        _("Cartera liviana, pesada y de difícil recaudo"),
        [Col("name", _("Clase (por la deuda más antigua)")), *_compare_columns()],
        rows,
        empty=_("Sin cuentas."),
    )
    return _finish_compare(table, reader.has_previous)


def _by_use_stratum(reader: _Reader) -> Table:
    now = _grouped(reader, "cube", ["category", "stratum"], None)
    before = (
        _grouped(reader, "prev_cube", ["category", "stratum"], None)
        if reader.has_previous
        else None
    )
    labels = dict(UseCategory.choices)
    order_cat = {code: i for i, code in enumerate(labels)}
    keys = sorted(
        set(now) | set(before or {}),
        key=lambda k: (order_cat.get(k[0], 99), str(k[0]), -1 if k[1] is None else int(k[1])),
    )
    rows = [
        {
            "category": str(labels.get(k[0], k[0] or "—")),
            "stratum": "" if k[1] is None else str(k[1]),
            **row,
        }
        for k, row in _compare_rows(now, before, keys)
    ]
    table = Table(
        "use_stratum",
        _("Cartera por uso y estrato"),
        [Col("category", _("Uso")), Col("stratum", _("Estrato")), *_compare_columns()],
        rows,
        empty=_("Sin cuentas."),
    )
    return _finish_compare(table, reader.has_previous)


def _by_zone(reader: _Reader, scoped: Scope | None) -> Table:
    now = _grouped(reader, "cube", ["zone", "municipality"], scoped)
    before = (
        _grouped(reader, "prev_cube", ["zone", "municipality"], scoped)
        if reader.has_previous
        else None
    )
    zones = dict(Zone.objects.values_list("code", "name"))
    munis = dict(Municipality.objects.values_list("code", "name"))
    keys = sorted(set(now) | set(before or {}), key=lambda k: (str(k[1]), str(k[0])))
    rows = [
        {
            "zone": f"{k[0]} · {zones[k[0]]}" if k[0] in zones else str(k[0] or "—"),
            "municipality": munis.get(k[1], str(k[1] or "—")),
            **row,
        }
        for k, row in _compare_rows(now, before, keys)
    ]
    table = Table(
        "zones",
        _("Cartera por municipio y zona"),
        [Col("zone", _("Zona")), Col("municipality", _("Municipio")), *_compare_columns()],
        rows,
        empty=_("Sin cuentas."),
    )
    return _finish_compare(table, reader.has_previous)


def _blocked(reader: _Reader, scoped: Scope | None) -> Table:
    """Blocked open debits by who must resolve them (the complaint's responsible when the
    block names one, else the account's stage responsible), with their age."""
    where, params = _where(scoped)
    have = reader.item_cols
    who = (
        "coalesce(nullif(block_responsible, ''), responsible)"
        if "block_responsible" in have
        else "responsible"
    )
    since = "date_diff('day', blocked_since, snapshot_date)" if "blocked_since" in have else "NULL"
    rows = reader.rows(
        f"SELECT {who} AS who, count(*) AS items, count(DISTINCT account_id) AS accounts, "
        "sum(open_amount) AS amount, max(days_past_due) AS max_days, "
        f"max({since}) AS max_blocked_days, "
        f"sum(open_amount) FILTER (WHERE {since} > 30) AS over_30 "
        f"FROM items WHERE blocked AND side = 'D' AND {where} "
        "GROUP BY who ORDER BY amount DESC, who",
        params,
    )
    out: list[dict[str, Any]] = [
        {
            "responsible": r["who"] or "—",
            "items": int(r["items"]),
            "accounts": int(r["accounts"]),
            "amount": int(r["amount"] or 0),
            "over_30": int(r["over_30"] or 0),
            "max_blocked_days": None
            if r["max_blocked_days"] is None
            else int(r["max_blocked_days"]),
            "max_days": int(r["max_days"] or 0),
        }
        for r in rows
    ]
    table = Table(
        "blocked",
        _("Partidas bloqueadas por responsable"),
        [
            Col("responsible", _("Responsable")),
            Col("items", _("Partidas"), "int", True),
            Col("accounts", _("Cuentas"), "int", True),
            Col("amount", _("Importe bloqueado"), "money", True),
            Col("over_30", _("Bloqueado hace más de 30 días"), "money", True),
            Col("max_blocked_days", _("Bloqueo más antiguo (días)"), "days"),
            Col("max_days", _("Mayor edad de mora (días)"), "days"),
        ],
        out,
        note=_(
            "Partidas excluidas del cobro por un reclamo en curso, por quien debe resolverlo "
            "(el responsable del reclamo o, si no lo indica, el de la etapa): cada uno debe "
            "resolverlas o notificarlas."
        ),
        empty=_("No hay partidas bloqueadas."),
    )
    table.add_total(
        max_days=max((int(r["max_days"]) for r in out), default=None),
        max_blocked_days=max(
            (int(r["max_blocked_days"]) for r in out if r["max_blocked_days"] is not None),
            default=None,
        ),
    )
    return table


def _movement(reader: _Reader, scope: Scope, names: dict[str, str]) -> Table:
    """Accounts in, out and staying per stage (or per agency) against the previous month."""
    by_agency = scope.column == "responsible"
    columns = [
        Col("name", _("Agencia") if by_agency else _("Etapa")),
        Col("stayed", _("Permanecen"), "int", True),
        Col("entered", _("Ingresan"), "int", True),
        Col("entered_value", _("Saldo de las que ingresan"), "money", True),
        Col(
            "moved_out",
            _("Pasan a otro responsable") if by_agency else _("Pasan a otra etapa"),
            "int",
            True,
        ),
        Col("moved_out_value", _("Saldo anterior de las que pasan"), "money", True),
        Col("cleared", _("Sin saldo abierto"), "int", True),
        Col("cleared_value", _("Saldo anterior de las que salen"), "money", True),
    ]
    table = Table(
        "movement",
        _("Movimiento de cuentas respecto del mes anterior"),
        columns,
        [],
        note=_(
            "Ingresan: cuentas en la etapa al cierre que no lo estaban el mes anterior. "
            "Pasan a otra etapa / sin saldo abierto: cuentas que estaban en la etapa el mes "
            "anterior y ya no lo están (con su saldo de entonces)."
        ),
        empty=_("Sin corte del mes anterior para comparar."),
    )
    if not reader.has_previous or not scope.values:
        return table
    key = _ident(scope.column)
    values = list(scope.values)
    rows = reader.rows(
        f"WITH cur AS (SELECT account_id, {key} AS k, balance FROM accounts "
        f"  WHERE list_contains(?::VARCHAR[], {key})), "
        f"old AS (SELECT account_id, {key} AS k, balance FROM prev_accounts "
        f"  WHERE list_contains(?::VARCHAR[], {key})), "
        f"now_all AS (SELECT account_id, {key} AS k FROM accounts "
        f"  WHERE account_id IN (SELECT account_id FROM old)), "
        "ins AS (SELECT cur.k, count(*) AS n, sum(cur.balance) AS v, "
        "  count(*) FILTER (WHERE old.k = cur.k) AS stayed "
        "  FROM cur LEFT JOIN old USING (account_id) GROUP BY cur.k), "
        "outs AS (SELECT old.k, "
        "  count(*) FILTER (WHERE n.account_id IS NOT NULL AND n.k <> old.k) AS moved, "
        "  sum(old.balance) FILTER (WHERE n.account_id IS NOT NULL AND n.k <> old.k) AS moved_v, "
        "  count(*) FILTER (WHERE n.account_id IS NULL) AS cleared, "
        "  sum(old.balance) FILTER (WHERE n.account_id IS NULL) AS cleared_v "
        "  FROM old LEFT JOIN now_all n USING (account_id) GROUP BY old.k), "
        "keys AS (SELECT unnest(?::VARCHAR[]) AS k) "
        "SELECT keys.k, coalesce(ins.stayed, 0) AS stayed, "
        " coalesce(ins.n, 0) - coalesce(ins.stayed, 0) AS entered, "
        " coalesce(ins.v, 0) - coalesce(st.v, 0) AS entered_value, "
        " coalesce(outs.moved, 0) AS moved_out, coalesce(outs.moved_v, 0) AS moved_out_value, "
        " coalesce(outs.cleared, 0) AS cleared, coalesce(outs.cleared_v, 0) AS cleared_value "
        "FROM keys LEFT JOIN ins ON ins.k = keys.k LEFT JOIN outs ON outs.k = keys.k "
        "LEFT JOIN (SELECT cur.k, sum(cur.balance) AS v FROM cur JOIN old USING (account_id) "
        "  WHERE old.k = cur.k GROUP BY cur.k) st ON st.k = keys.k",
        [values, values, values],
    )
    order = {v: i for i, v in enumerate(names)}
    if not by_agency:
        rows.sort(key=lambda r: order.get(r["k"], 99))
    table.rows = [
        {
            "name": r["k"] if by_agency else names.get(r["k"], r["k"]),
            **{k: int(v) for k, v in r.items() if k != "k"},
        }
        for r in rows
    ]
    table.add_total()
    return table


def _top_debtors(reader: _Reader, scope: Scope, names: dict[str, str]) -> Table:
    table = Table(
        "top_debtors",
        _("Mayores deudores"),
        [
            Col("account_number", _("Suministro")),
            Col("holder_name", _("Titular")),
            Col("stage", _("Etapa")),
            Col("zone", _("Zona")),
            Col("balance", _("Saldo"), "money"),
            Col("overdue", _("Vencido"), "money"),
            Col("blocked_amount", _("Bloqueado"), "money"),
            Col("max_days", _("Días de mora"), "days"),
        ],
        [],
        note=_("Las %(n)s cuentas de mayor saldo del informe.") % {"n": TOP_DEBTORS},
        empty=_("Sin cuentas en estas etapas."),
    )
    if not scope.values:
        return table
    where, params = _where(scope)
    rows = reader.rows(
        "SELECT account_number, holder_name, stage, zone, balance, overdue, blocked_amount, "
        f"max_days_past_due AS max_days FROM accounts WHERE {where} "
        "ORDER BY balance DESC, account_id LIMIT ?",
        [*params, TOP_DEBTORS],
    )
    table.rows = [
        {
            **r,
            "stage": names.get(r["stage"], r["stage"]),
            "balance": int(r["balance"]),
            "overdue": int(r["overdue"]),
            "blocked_amount": int(r["blocked_amount"]),
            "max_days": int(r["max_days"]),
        }
        for r in rows
    ]
    return table


LIGHT_LABELS = {"green": "Cumple", "amber": "Cerca de la meta", "red": "No cumple", "none": "—"}


def _indicators(snapshot: Snapshot) -> Table:
    """The indicators of the snapshot against the period's targets, with last month's
    value (:func:`caudal.portfolio.kpis.kpi_report`)."""
    from caudal.portfolio.kpis import kpi_report

    period = snapshot.date.strftime("%Y-%m")
    rows = []
    unconfirmed = False
    missing = False
    for k in kpi_report(snapshot.date):
        unconfirmed = unconfirmed or not k.confirmed
        missing = missing or not k.computed
        rows.append(
            {
                "name": k.name + ("" if k.confirmed else " *"),
                "code": k.code,
                "value": _two(k.value),
                "previous": _two(k.previous),
                "unit": k.unit_label,
                "target": _two(k.target),
                "light": k.light,
                "light_label": _(LIGHT_LABELS.get(k.light, k.light)),
            }
        )
    notes = []
    if unconfirmed:
        notes.append(
            _(
                "* Definición usual no confirmada en la referencia: un administrador puede "
                "reemplazarla por una nueva versión."
            )
        )
    if missing:
        notes.append(_("Indicadores sin valor: calcúlelos con caudal kpis --date."))
    return Table(
        "indicators",
        _("Indicadores frente a las metas del periodo %(p)s") % {"p": period},
        [
            Col("name", _("Indicador")),
            Col("value", _("Valor"), "decimal"),
            Col("unit", _("Unidad")),
            Col("previous", _("Mes anterior"), "decimal"),
            Col("target", _("Meta"), "decimal"),
            Col("light_label", _("Semáforo")),
        ],
        rows,
        note=" ".join(notes),
        empty=_("Sin indicadores en vigor para este corte."),
    )


def _two(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _flows(reader: _Reader, scoped: Scope | None, names: dict[str, str]) -> list[Table]:
    """Collections by stage and financing by stage (``recaudo.parquet`` and
    ``agreements.parquet``, see :mod:`caudal.portfolio.flows`), or "sin datos" without the
    files. Agency reports count the accounts the agencies hold at the cut-off."""
    order = {s: i for i, s in enumerate(names)}
    month_start = reader.date.replace(day=1)
    params: list[Any]
    if scoped is None:
        where, params = "TRUE", []
    elif scoped.column == "stage":
        where, params = _where(scoped)
    else:
        inner, params = _where(scoped)
        where = f"account_id IN (SELECT account_id FROM accounts WHERE {inner})"
    note = (
        _("Cuentas que las agencias tienen asignadas al cierre.")
        if scoped is not None and scoped.column == "responsible"
        else ""
    )
    recaudo = Table(
        "recaudo",
        _("Recaudo del mes por etapa de cobro"),
        [
            Col("name", _("Etapa (al pagar)")),
            Col("payments", _("Pagos"), "int", True),
            Col("current", _("Aplicado a deuda corriente"), "money", True),
            Col("arrears", _("Aplicado a deuda vencida"), "money", True),
            Col("amount", _("Recaudo total"), "money", True),
        ],
        [],
        note=note,
        empty=_("Sin datos: el corte no tiene el recaudo del periodo."),
    )
    path = reader.optional(schema.RECAUDO)
    if path is not None:
        reader.con.read_parquet(str(path)).create_view("recaudo", replace=True)
        rows = reader.rows(
            "SELECT stage, count(DISTINCT payment_document_id) FILTER (WHERE amount > 0) "
            "AS payments, coalesce(sum(amount) FILTER (WHERE NOT in_arrears), 0) AS current, "
            "coalesce(sum(amount) FILTER (WHERE in_arrears), 0) AS arrears, "
            "coalesce(sum(amount), 0) AS amount "
            f"FROM recaudo WHERE cleared_on >= ? AND {where} GROUP BY stage",
            [month_start, *params],
        )
        rows.sort(key=lambda r: (order.get(r["stage"], 99), str(r["stage"])))
        recaudo.rows = [
            {"name": names.get(r["stage"], r["stage"]), **_ints(r, "stage")} for r in rows
        ]
        recaudo.add_total()
        if not rows:
            recaudo.empty = _("Sin recaudo en el mes.")
    agreements = Table(
        "agreements",
        _("Financiaciones por etapa de cobro"),
        [
            Col("name", _("Etapa (al financiar)")),
            Col("new", _("Nuevas en el mes"), "int", True),
            Col("new_amount", _("Valor financiado en el mes"), "money", True),
            Col("active", _("Activas al cierre"), "int", True),
            Col("open_amount", _("Saldo de las activas"), "money", True),
        ],
        [],
        note=note,
        empty=_("Sin datos: el corte no tiene las financiaciones del periodo."),
    )
    path = reader.optional(schema.AGREEMENTS)
    if path is not None:
        reader.con.read_parquet(str(path)).create_view("agreements", replace=True)
        rows = reader.rows(
            "SELECT stage, "
            "count(*) FILTER (WHERE posting_date >= ? AND NOT reversed) AS new, "
            "coalesce(sum(amount) FILTER (WHERE posting_date >= ? AND NOT reversed), 0) "
            "AS new_amount, count(*) FILTER (WHERE active AND NOT reversed) AS active, "
            "coalesce(sum(open_amount) FILTER (WHERE active AND NOT reversed), 0) AS open_amount "
            f"FROM agreements WHERE {where} GROUP BY stage",
            [month_start, month_start, *params],
        )
        rows.sort(key=lambda r: (order.get(r["stage"], 99), str(r["stage"])))
        agreements.rows = [
            {"name": names.get(r["stage"], r["stage"]), **_ints(r, "stage")}
            for r in rows
            if r["new"] or r["active"]
        ]
        agreements.add_total()
        if not agreements.rows:
            agreements.empty = _("Sin financiaciones nuevas ni activas.")
    return [recaudo, agreements]


def _ints(row: dict[str, Any], *skip: str) -> dict[str, int]:
    return {k: int(v or 0) for k, v in row.items() if k not in skip}


def _months(reader: _Reader) -> Table:
    """Billing and collections of the last 13 months (``months.parquet``)."""
    table = Table(
        "months",
        _("Facturación y recaudo de los últimos meses"),
        [
            Col("period", _("Mes")),
            Col("billed", _("Facturado neto"), "money", True),
            Col("collected", _("Recaudado"), "money", True),
            Col("collected_current", _("Recaudo corriente"), "money", True),
            Col("collected_arrears", _("Recaudo de mora"), "money", True),
            Col("efficiency", _("Recaudo / facturado %"), "pct"),
        ],
        [],
        note=_("El último mes se cuenta hasta la fecha de corte."),
        empty=_("Sin datos: el corte no tiene la facturación y el recaudo mensual."),
    )
    path = reader.optional(schema.MONTHS)
    if path is None:
        return table
    rel = reader.con.read_parquet(str(path))
    have = set(rel.columns)
    rel.create_view("months", replace=True)
    billed = "billed - billed_reversed" if "billed_reversed" in have else "billed"
    period = "period" if "period" in have else "strftime(month, '%Y-%m')"
    rows = reader.rows(
        f"SELECT {period} AS period, {billed} AS billed, collected, collected_current, "
        "collected_arrears FROM months ORDER BY month"
    )
    table.rows = [
        {
            "period": str(r["period"]),
            **_ints(r, "period"),
            "efficiency": pct(int(r["collected"] or 0), int(r["billed"] or 0)),
        }
        for r in rows
    ]
    table.add_total()
    if table.total is not None:
        table.total["efficiency"] = pct(int(table.total["collected"]), int(table.total["billed"]))
    return table


__all__ = [
    "COERCIVE_STAGES",
    "PRELEGAL_STAGES",
    "Col",
    "Content",
    "ContentError",
    "Figure",
    "Table",
    "build_content",
    "previous_snapshot",
    "snapshot_folder",
]
