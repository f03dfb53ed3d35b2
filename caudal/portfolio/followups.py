"""Follow-ups of the cartera (seguimientos): the EAAB procedure's monthly activities.

Each function answers one activity of the seed procedure from the snapshot folders (DuckDB
over Parquet, in memory; nothing is written and the ledger is not read):

- :func:`by_stage` — accounts and value per collection stage at D against the previous
  months' snapshots (difference and %): "por etapas de cobro ... comparándolo con periodos
  anteriores";
- :func:`by_dimension` — the same by use (category), stratum, municipality, zone or cycle;
- :func:`blocked` — the blocked items (partidas bloqueadas) at D by responsible and age,
  with totals per responsible, so that each one can be notified;
- :func:`recaudo` — the money applied by day (D's month) or by month (the 12 months up to
  D), split by the stage the account was in when it paid (``recaudo.parquet``);
- :func:`financing` — new agreements per day and stage (D's month) and the active ones per
  stage at D (``agreements.parquet``).

"Value" (valor) is the net open balance (``balance``: open debits minus unapplied
credits), as in the testigos; the overdue part is shown next to it.

The previous periods of a comparison are, for each of the N months before D's month, the
latest done snapshot dated in that month (the month-end snapshot when the monthly task
ran; a later daily or ad-hoc one of the month otherwise). A month without a snapshot is
left out, and the page says which periods were compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from django.conf import settings
from django.utils.translation import gettext as _

from . import schema
from .models import Snapshot, SnapshotStatus

DIMENSIONS: tuple[str, ...] = ("category", "stratum", "municipality", "zone", "cycle")
GRANULARITIES: tuple[str, ...] = ("day", "month")
MAX_COMPARE = 12


class FollowupError(ValueError):
    """No snapshot for the date, or parameters that do not exist (message in Spanish)."""


def dimension_labels() -> dict[str, str]:
    return {
        "stage": _("Etapa de cobro"),
        "category": _("Uso"),
        "stratum": _("Estrato"),
        "municipality": _("Municipio"),
        "zone": _("Zona"),
        "cycle": _("Ciclo"),
    }


# --- snapshots and their folders ---------------------------------------------------------


def done_dates() -> list[date]:
    """Dates of the done snapshots, newest first."""
    return list(
        Snapshot.objects.filter(status=SnapshotStatus.DONE)
        .order_by("-date")
        .values_list("date", flat=True)
    )


def folder_of(on: date) -> Path:
    """The folder of the done snapshot of ``on``; :class:`FollowupError` when none."""
    row = Snapshot.objects.filter(date=on, status=SnapshotStatus.DONE).values("path").first()
    root = Path(settings.CAUDAL_SNAPSHOT_DIR)
    folder = root / (row["path"] or on.isoformat()) if row else root / on.isoformat()
    if row is None or not (folder / schema.ACCOUNTS).is_file():
        raise FollowupError(
            _("No hay corte de cartera terminado del %(date)s.") % {"date": on.strftime("%d/%m/%Y")}
        )
    return folder


def latest_date() -> date | None:
    dates = done_dates()
    return dates[0] if dates else None


def _month_start(d: date, back: int = 0) -> date:
    index = d.year * 12 + d.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def previous_months(on: date, count: int) -> list[date]:
    """For each of the ``count`` months before ``on``'s month (newest first), the latest
    done snapshot dated in that month; months without one are skipped."""
    count = max(0, min(int(count), MAX_COMPARE))
    if count == 0:
        return []
    first = _month_start(on, count)
    dates = Snapshot.objects.filter(
        status=SnapshotStatus.DONE, date__gte=first, date__lt=on.replace(day=1)
    ).values_list("date", flat=True)
    latest: dict[date, date] = {}
    for d in dates:
        month = d.replace(day=1)
        if d > latest.get(month, date.min):
            latest[month] = d
    return [latest[m] for m in sorted(latest, reverse=True)]


def month_snapshots(on: date, count: int) -> list[date]:
    """``on`` and, for each of the ``count - 1`` months before, its latest done snapshot;
    oldest first."""
    return sorted([on, *previous_months(on, count - 1)])


# --- names ------------------------------------------------------------------------------


def _manifest_stages(folder: Path) -> list[dict[str, Any]]:
    import json

    path = folder / schema.MANIFEST
    if not path.is_file():
        return []
    stages = json.loads(path.read_text(encoding="utf-8")).get("stages") or []
    return sorted(stages, key=lambda s: s.get("order", 0))


def stage_names(folders: Iterable[Path]) -> dict[str, str]:
    """Stage code → name, in the policy's order: from the snapshots' manifests (the first
    folder wins), then the stage rules in the database for codes not found there."""
    from .models import StageRule

    names: dict[str, str] = {}
    for folder in folders:
        for s in _manifest_stages(folder):
            names.setdefault(str(s["stage"]), str(s.get("name") or s["stage"]))
    for code, name in StageRule.objects.order_by("-policy__version", "order").values_list(
        "stage", "name"
    ):
        names.setdefault(code, name)
    return names


def dimension_names(dimension: str) -> dict[str, str]:
    """Code → label of a dimension's values (the code itself when not found)."""
    from caudal.cadastre.models import Cycle, Municipality, UseCategory, Zone

    if dimension == "category":
        return {str(k): str(v) for k, v in UseCategory.choices}
    if dimension == "municipality":
        return {c: f"{c} {n}" for c, n in Municipality.objects.values_list("code", "name")}
    if dimension == "zone":
        return {c: f"{c} {n}" for c, n in Zone.objects.values_list("code", "name")}
    if dimension == "cycle":
        return {c: f"{c} {n}" for c, n in Cycle.objects.values_list("code", "name")}
    return {}


def _label(dimension: str, key: str, names: Mapping[str, str]) -> str:
    if key == "":
        return _("Sin estrato") if dimension == "stratum" else _("(sin dato)")
    if dimension == "stratum":
        return _("Estrato %(n)s") % {"n": key}
    return names.get(key, key)


# --- DuckDB -----------------------------------------------------------------------------


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        rel = con.execute(sql, list(params))
        columns = [d[0] for d in rel.description or []]
        return [dict(zip(columns, r, strict=True)) for r in rel.fetchall()]
    finally:
        con.close()


def _key_sql(dimension: str) -> str:
    # Keys as text ('' for nulls), so periods match whatever the column's type.
    return f"COALESCE(CAST({dimension} AS VARCHAR), '')"


# --- by stage and by dimension ----------------------------------------------------------


def pct(now: int, before: int) -> float | None:
    """Change from ``before`` to ``now`` in percent (one decimal); None from zero."""
    if before == 0:
        return None
    return round((now - before) * 100 / abs(before), 1)


@dataclass
class Comparison:
    """A table of accounts and value per group at D and at earlier snapshots.

    ``rows`` (and ``total``) are dicts: ``key``, ``label``, ``accounts``, ``value``,
    ``overdue``, ``share`` (% of the value at D) and ``previous``: one dict per date of
    ``previous`` (newest first) with ``date``, ``accounts``, ``value``, ``diff_accounts``,
    ``diff_value``, ``pct_accounts``, ``pct_value`` (D minus that period).
    """

    on: date
    dimension: str
    previous: list[date]
    rows: list[dict[str, Any]]
    total: dict[str, Any]


def _grouped(folder: Path, dimension: str) -> dict[str, dict[str, int]]:
    rows = _rows(
        f"SELECT {_key_sql(dimension)} AS key, SUM(accounts) AS accounts, "
        "SUM(balance) AS value, SUM(overdue) AS overdue "
        "FROM read_parquet(?) GROUP BY 1",
        [str(folder / schema.CUBE)],
    )
    return {
        str(r["key"]): {
            "accounts": int(r["accounts"] or 0),
            "value": int(r["value"] or 0),
            "overdue": int(r["overdue"] or 0),
        }
        for r in rows
    }


def _compare_entry(now: Mapping[str, int], before: Mapping[str, int], on: date) -> dict[str, Any]:
    return {
        "date": on,
        "accounts": before["accounts"],
        "value": before["value"],
        "diff_accounts": now["accounts"] - before["accounts"],
        "diff_value": now["value"] - before["value"],
        "pct_accounts": pct(now["accounts"], before["accounts"]),
        "pct_value": pct(now["value"], before["value"]),
    }


def compare(
    on: date,
    dimension: str,
    folders: Mapping[date, Path],
    *,
    order: Sequence[str] = (),
    names: Mapping[str, str] | None = None,
) -> Comparison:
    """The comparison of ``dimension`` at ``on`` against the other dates of ``folders``
    (date → snapshot folder; ``on`` must be one). Groups in ``order`` first, then the rest
    sorted by key (numerically when they are numbers)."""
    names = names or {}
    previous = sorted((d for d in folders if d != on), reverse=True)
    current = _grouped(folders[on], dimension)
    before = {d: _grouped(folders[d], dimension) for d in previous}
    keys = set(current).union(*[set(b) for b in before.values()])

    def sort_key(k: str) -> tuple[int, int, str]:
        if k in order:
            return (0, list(order).index(k), "")
        return (1, int(k) if k.isdigit() else 10**9, k)

    empty = {"accounts": 0, "value": 0, "overdue": 0}
    total_now = {m: sum(g[m] for g in current.values()) for m in ("accounts", "value", "overdue")}
    rows = []
    for key in sorted(keys, key=sort_key):
        now = current.get(key, empty)
        rows.append(
            {
                "key": key,
                "label": _label(dimension, key, names),
                **now,
                "share": round(now["value"] * 100 / total_now["value"], 1)
                if total_now["value"]
                else None,
                "previous": [_compare_entry(now, before[d].get(key, empty), d) for d in previous],
            }
        )
    total = {
        "key": "",
        "label": _("Total"),
        **total_now,
        "share": 100.0 if total_now["value"] else None,
        "previous": [
            _compare_entry(
                total_now,
                {m: sum(g[m] for g in before[d].values()) for m in ("accounts", "value")},
                d,
            )
            for d in previous
        ],
    }
    return Comparison(on=on, dimension=dimension, previous=previous, rows=rows, total=total)


def by_stage(on: date, compare_months: int = 1) -> Comparison:
    """Accounts and value per collection stage at ``on`` against the previous
    ``compare_months`` monthly snapshots."""
    dates = [on, *previous_months(on, compare_months)]
    folders = {d: folder_of(d) for d in dates}
    names = stage_names(folders[d] for d in dates)
    return compare(on, "stage", folders, order=list(names), names=names)


def by_dimension(on: date, dimension: str, compare_months: int = 1) -> Comparison:
    """Accounts and value per ``dimension`` (category, stratum, municipality, zone,
    cycle) at ``on`` against the previous ``compare_months`` monthly snapshots."""
    if dimension not in DIMENSIONS:
        raise FollowupError(
            _("Dimensión desconocida %(d)s: use %(all)s.")
            % {"d": dimension, "all": ", ".join(DIMENSIONS)}
        )
    dates = [on, *previous_months(on, compare_months)]
    folders = {d: folder_of(d) for d in dates}
    return compare(on, dimension, folders, names=dimension_names(dimension))


# --- blocked items ----------------------------------------------------------------------


@dataclass
class Blocked:
    """Blocked debit items at D.

    ``rows``: one dict per item (``item_id``, ``account_id``, ``account_number``,
    ``document_id``, ``document_kind``, ``concept``, ``due_date``, ``open_amount``,
    ``days_past_due``, ``bucket``, ``blocked_since``, ``days_blocked``, ``block_case``,
    ``responsible`` (who handles the complaint; the stage's responsible unit when the
    block names nobody), ``stage``, ``stage_responsible``, ``zone``), sorted by
    responsible, then oldest first. ``by_responsible``: per responsible ``items``,
    ``accounts``, ``amount``, ``max_days`` and ``buckets`` (amount per age bucket code).
    """

    on: date
    rows: list[dict[str, Any]]
    by_responsible: list[dict[str, Any]]
    buckets: list[str]
    total: dict[str, Any] = field(default_factory=dict)


def _bucket_order(folder: Path) -> list[str]:
    import json

    path = folder / schema.MANIFEST
    if path.is_file():
        codes = json.loads(path.read_text(encoding="utf-8")).get("bucket_codes")
        if codes:
            return [str(c) for c in codes]
    from .rules import bucket_codes

    return bucket_codes()


def blocked(on: date, *, responsible: str | None = None) -> Blocked:
    """The blocked items of the snapshot of ``on`` (optionally of one responsible)."""
    folder = folder_of(on)
    items = str(folder / schema.ITEMS)
    who = "COALESCE(NULLIF(block_responsible, ''), responsible, '')"
    where = "blocked AND side = 'D' AND open_amount > 0"
    params: list[Any] = [items]
    if responsible is not None:
        where += f" AND {who} = ?"
        params.append(responsible)
    rows = _rows(
        "SELECT item_id, account_id, account_number, document_id, document_kind, concept, "
        "due_date, open_amount, days_past_due, bucket, blocked_since, "
        "CASE WHEN blocked_since IS NULL THEN NULL "
        f"ELSE date_diff('day', blocked_since, DATE '{on.isoformat()}') END AS days_blocked, "
        f"block_case, {who} AS responsible, stage, responsible AS stage_responsible, zone "
        f"FROM read_parquet(?) WHERE {where} "
        "ORDER BY responsible, days_past_due DESC, account_id, item_id",
        params,
    )
    codes = _bucket_order(folder)
    groups: dict[str, dict[str, Any]] = {}
    accounts: dict[str, set[int]] = {}
    for r in rows:
        g = groups.setdefault(
            r["responsible"],
            {
                "responsible": r["responsible"],
                "items": 0,
                "amount": 0,
                "max_days": 0,
                "buckets": dict.fromkeys(codes, 0),
            },
        )
        g["items"] += 1
        g["amount"] += int(r["open_amount"])
        g["max_days"] = max(g["max_days"], int(r["days_past_due"] or 0))
        g["buckets"][r["bucket"]] = g["buckets"].get(r["bucket"], 0) + int(r["open_amount"])
        accounts.setdefault(r["responsible"], set()).add(int(r["account_id"]))
    by_responsible = []
    for name, g in groups.items():
        g["accounts"] = len(accounts[name])
        g["bucket_amounts"] = [g["buckets"].get(c, 0) for c in codes]
        by_responsible.append(g)
    total = {
        "items": len(rows),
        "accounts": len({int(r["account_id"]) for r in rows}),
        "amount": sum(int(r["open_amount"]) for r in rows),
        "bucket_amounts": [sum(g["buckets"].get(c, 0) for g in groups.values()) for c in codes],
    }
    return Blocked(on=on, rows=rows, by_responsible=by_responsible, buckets=codes, total=total)


def blocked_responsibles(on: date) -> list[str]:
    return [g["responsible"] for g in blocked(on).by_responsible]


# --- recaudo by stage -------------------------------------------------------------------


@dataclass
class Recaudo:
    """Money applied per period (day or month) and stage.

    ``stages``: (code, name) in the policy's order. ``rows``: per period ``period`` (a
    date: the day, or the first of the month), ``through`` (last day counted), ``amounts``
    (per stage, in ``stages`` order), ``current``, ``arrears``, ``total``. ``channels``:
    per channel (centre kind; "" = no centre) the amount over the whole table.
    """

    on: date
    granularity: str
    stages: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    channels: list[dict[str, Any]]
    missing: list[date] = field(default_factory=list)


def _recaudo_file(folder: Path) -> Path | None:
    path = folder / schema.RECAUDO
    return path if path.is_file() else None


def recaudo(on: date, granularity: str = "day") -> Recaudo:
    """``day``: D's month day by day (``recaudo.parquet`` of D). ``month``: the 12 months
    up to D, each from the ``recaudo.parquet`` of its latest done snapshot (a month whose
    snapshot is not its last day is counted up to that snapshot: ``through``)."""
    if granularity not in GRANULARITIES:
        raise FollowupError(_("Detalle desconocido %(g)s: use day o month.") % {"g": granularity})
    folder = folder_of(on)
    if granularity == "day":
        sources = {on: folder}
    else:
        sources = {d: folder_of(d) for d in month_snapshots(on, 12)}
    files = {d: _recaudo_file(f) for d, f in sources.items()}
    missing = sorted(d for d, f in files.items() if f is None)
    present = [(d, f) for d, f in sorted(files.items()) if f is not None]
    grouped: list[dict[str, Any]] = []
    channels: dict[str, int] = {}
    for snap_date, path in present:
        period = "cleared_on" if granularity == "day" else "date_trunc('month', cleared_on)"
        grouped += [
            {**r, "through": snap_date}
            for r in _rows(
                f"SELECT CAST({period} AS DATE) AS period, stage, "
                "SUM(amount) AS amount, "
                "SUM(CASE WHEN in_arrears THEN amount ELSE 0 END) AS arrears "
                "FROM read_parquet(?) GROUP BY 1, 2",
                [str(path)],
            )
        ]
        for r in _rows(
            "SELECT channel, SUM(amount) AS amount FROM read_parquet(?) GROUP BY 1",
            [str(path)],
        ):
            channels[r["channel"]] = channels.get(r["channel"], 0) + int(r["amount"] or 0)
    names = stage_names([folder, *(f for _d, f in sorted(sources.items(), reverse=True))])
    seen = {r["stage"] for r in grouped}
    stages = [(c, n) for c, n in names.items() if c in seen] + [
        (c, c) for c in sorted(seen - set(names))
    ]
    index = {c: i for i, (c, _n) in enumerate(stages)}
    periods: dict[date, dict[str, Any]] = {}
    for r in grouped:
        p = periods.setdefault(
            r["period"],
            {
                "period": r["period"],
                "through": r["through"],
                "amounts": [0] * len(stages),
                "current": 0,
                "arrears": 0,
                "total": 0,
            },
        )
        amount, arrears = int(r["amount"] or 0), int(r["arrears"] or 0)
        p["amounts"][index[r["stage"]]] += amount
        p["arrears"] += arrears
        p["current"] += amount - arrears
        p["total"] += amount
    rows = [periods[k] for k in sorted(periods)]
    total = {
        "amounts": [sum(r["amounts"][i] for r in rows) for i in range(len(stages))],
        "current": sum(r["current"] for r in rows),
        "arrears": sum(r["arrears"] for r in rows),
        "total": sum(r["total"] for r in rows),
    }
    return Recaudo(
        on=on,
        granularity=granularity,
        stages=stages,
        rows=rows,
        total=total,
        channels=[{"channel": k, "amount": v} for k, v in sorted(channels.items())],
        missing=missing,
    )


# --- financing --------------------------------------------------------------------------


@dataclass
class Financing:
    """Agreements (financiaciones). ``days``: per posting day of D's month ``day``,
    ``counts`` and ``amounts`` per stage (``stages`` order), ``count``, ``amount``.
    ``active``: per stage ``stage``, ``label``, ``agreements``, ``accounts``, ``amount``
    (financed) and ``open_amount`` at D."""

    on: date
    stages: list[tuple[str, str]]
    days: list[dict[str, Any]]
    days_total: dict[str, Any]
    active: list[dict[str, Any]]
    active_total: dict[str, Any]
    available: bool = True


def financing(on: date) -> Financing:
    folder = folder_of(on)
    path = folder / schema.AGREEMENTS
    names = stage_names([folder])
    if not path.is_file():
        return Financing(on, [], [], {}, [], {}, available=False)
    first = on.replace(day=1)
    new = _rows(
        "SELECT posting_date AS day, stage, COUNT(*) AS n, SUM(amount) AS amount "
        "FROM read_parquet(?) WHERE posting_date >= ? AND posting_date <= ? AND NOT reversed "
        "GROUP BY 1, 2",
        [str(path), first, on],
    )
    active = _rows(
        "SELECT stage, COUNT(*) AS agreements, COUNT(DISTINCT account_id) AS accounts, "
        "SUM(amount) AS amount, SUM(open_amount) AS open_amount "
        "FROM read_parquet(?) WHERE active GROUP BY 1",
        [str(path)],
    )
    seen = {r["stage"] for r in new} | {r["stage"] for r in active}
    stages = [(c, n) for c, n in names.items() if c in seen] + [
        (c, c) for c in sorted(seen - set(names))
    ]
    index = {c: i for i, (c, _n) in enumerate(stages)}
    days: dict[date, dict[str, Any]] = {}
    for r in new:
        d = days.setdefault(
            r["day"],
            {
                "day": r["day"],
                "counts": [0] * len(stages),
                "amounts": [0] * len(stages),
                "count": 0,
                "amount": 0,
            },
        )
        i = index[r["stage"]]
        d["counts"][i] += int(r["n"])
        d["amounts"][i] += int(r["amount"] or 0)
        d["count"] += int(r["n"])
        d["amount"] += int(r["amount"] or 0)
    day_rows = [days[k] for k in sorted(days)]
    days_total = {
        "counts": [sum(r["counts"][i] for r in day_rows) for i in range(len(stages))],
        "amounts": [sum(r["amounts"][i] for r in day_rows) for i in range(len(stages))],
        "count": sum(r["count"] for r in day_rows),
        "amount": sum(r["amount"] for r in day_rows),
    }
    by_stage = {r["stage"]: r for r in active}
    active_rows = [
        {
            "stage": code,
            "label": name,
            "agreements": int(by_stage[code]["agreements"]),
            "accounts": int(by_stage[code]["accounts"]),
            "amount": int(by_stage[code]["amount"] or 0),
            "open_amount": int(by_stage[code]["open_amount"] or 0),
        }
        for code, name in stages
        if code in by_stage
    ]
    active_total = {
        m: sum(r[m] for r in active_rows)
        for m in ("agreements", "accounts", "amount", "open_amount")
    }
    return Financing(on, stages, day_rows, days_total, active_rows, active_total)
