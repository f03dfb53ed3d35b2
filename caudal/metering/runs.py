"""The critique run: flag every reading of a period and decide the consumption to bill.

``run_critique("2026-11", cycle="C01", actor=user)``, or ``caudal critique --period
2026-11 [--cycle C01] [--json]``. For every account of the cycle (by account id range,
a million at a time):

1. load the accounts with their water connection, installed meter and reading of the
   period (one query), and the summary of their previous readings (one query);
2. create the missing readings: a metered account (installed meter) whose water
   connection is active and that has no reading gets one with no value (flag
   ``not_read``, consumption by average, source ``system``);
3. compute flags, status, average and consumption with :func:`rules.critique_frame`;
   readings a person already decided (accepted, corrected, estimated, re-read ordered)
   are left as they are;
4. draw the control sample (``control_sample``) among the read readings;
5. write only the rows whose stored values differ, with multi-row statements.

Running it twice gives the same state and writes nothing the second time. One
``audit.Run`` row records the parameters, the counts per status and per flag.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from caudal.audit.actions import ActorLike, finish_run, record, start_run
from caudal.audit.models import Run, RunStatus
from caudal.cadastre.imports import (
    bulk_insert,
    bulk_session,
    db_datetime,
    is_postgresql,
    lock_tables,
    reserve_ids,
)
from caudal.cadastre.models import Cycle
from caudal.kernel.errors import DomainError

from . import queries, rules
from .models import ReadingSource

KIND = "critique"
TABLE = "metering_reading"
#: Accounts loaded and computed at a time. The history query reads the whole window of
#: periods through the (period, …) indexes whatever the account range, so one block is
#: best; blocks only bound memory and SQLite's 1 GB string limit on huge utilities.
ACCOUNTS_PER_CHUNK = 5_000_000
#: Compute the history summary on a second connection while this one loads the period
#: (when a core is free, see ``_spare_core``).
PARALLEL_HISTORY = True
#: Rows per multi-row UPDATE statement on SQLite (measured best between 25 and 100).
UPDATE_ROWS_PER_STATEMENT = 50

WRITE_COLUMNS = (
    "status",
    "flags",
    "consumption",
    "consumption_rule",
    "average",
    "previous_value",
    "meter_id",
    "control_sample",
)


def config_from_settings() -> rules.CritiqueConfig:
    """``settings.CAUDAL_CRITIQUE`` (a dict of :class:`rules.CritiqueConfig` knobs)."""
    return rules.CritiqueConfig.from_mapping(getattr(settings, "CAUDAL_CRITIQUE", None))


@dataclass
class CritiqueResult:
    period: str
    cycle: str | None
    accounts: int = 0
    readings: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    decided: int = 0
    control_sample: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "cycle": self.cycle,
            "accounts": self.accounts,
            "readings": self.readings,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "decided": self.decided,
            "control_sample": self.control_sample,
            "statuses": self.statuses,
            "flags": self.flags,
            "held_by_flag": self.held,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def run_critique(
    period: str,
    *,
    cycle: str | None = None,
    actor: ActorLike,
    config: rules.CritiqueConfig | None = None,
) -> Run:
    """Critique every reading of ``period`` (of ``cycle``, or of every cycle).

    Raises :class:`DomainError` for an unknown cycle or a malformed period. Returns the
    finished ``Run`` (``run.counts`` holds :meth:`CritiqueResult.as_dict`).
    """
    config = config or config_from_settings()
    try:
        p = queries.parse_period(period)
    except ValueError as exc:
        raise DomainError(str(exc)) from exc
    cycle_obj: Cycle | None = None
    if cycle:
        cycle_obj = Cycle.objects.filter(code=cycle).first()
        if cycle_obj is None:
            raise DomainError(f"el ciclo {cycle!r} no existe")
    run = start_run(
        kind=KIND,
        actor=actor,
        parameters={"period": p.code, "cycle": cycle, "config": config.as_dict()},
    )
    try:
        result = _critique(p, cycle_obj, config)
    except Exception as exc:
        finish_run(run, status=RunStatus.FAILED, counts={}, errors=[{"error": str(exc)}])
        raise
    with transaction.atomic():
        record(
            actor=actor,
            action="metering.critique",
            object_type="audit.run",
            object_id=run.pk,
            after={
                "period": p.code,
                "cycle": cycle,
                "readings": result.readings,
                "created": result.created,
                "updated": result.updated,
                "held": result.statuses.get(rules.FLAGGED, 0),
            },
        )
        finish_run(run, status=RunStatus.DONE, counts=result.as_dict())
    return run


def _critique(period: Any, cycle: Cycle | None, config: rules.CritiqueConfig) -> CritiqueResult:
    started = time.perf_counter()
    result = CritiqueResult(period=period.code, cycle=cycle.code if cycle else None)
    timings: dict[str, float] = dict.fromkeys(("load", "history", "compute", "write"), 0.0)
    codes = queries.history_codes(period, config.history_periods)
    months = period.months
    now = db_datetime(timezone.now())
    cycle_id = cycle.pk if cycle else None
    statuses: dict[str, int] = {}
    flags: dict[str, int] = dict.fromkeys(rules.FLAG_CODES, 0)
    held: dict[str, int] = dict.fromkeys(rules.FLAG_CODES, 0)
    commit_started = 0.0
    # The history summary only reads committed rows of earlier periods, so a second
    # connection can compute it while this one loads the period (two cores, and SQLite
    # releases the GIL while it steps). Not inside a caller's transaction (tests): the
    # second connection would not see its uncommitted rows.
    parallel = PARALLEL_HISTORY and not connection.in_atomic_block and _spare_core()
    with (
        bulk_session(),
        transaction.atomic(),
        connection.cursor() as cursor,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="critique-history") as pool,
    ):
        lock_tables(cursor, [TABLE])
        bounds = queries.account_bounds(cursor, cycle_id)
        lo, hi = bounds if bounds else (1, 0)
        for start in range(lo, hi + 1, ACCOUNTS_PER_CHUNK):
            end = min(start + ACCOUNTS_PER_CHUNK - 1, hi)
            t = time.perf_counter()
            pending = (
                pool.submit(_history_on_own_connection, codes, config, start, end, cycle_id)
                if parallel
                else None
            )
            current = queries.load_current(cursor, period.code, start, end, cycle_id)
            timings["load"] += time.perf_counter() - t
            t = time.perf_counter()
            if pending is not None:
                history = pending.result()
            elif current.height:
                history = queries.load_history(cursor, codes, config, start, end, cycle_id)
            timings["history"] += time.perf_counter() - t
            if current.height == 0:
                continue
            t = time.perf_counter()
            chunk = _compute(cursor, current, history, period.code, config, months)
            timings["compute"] += time.perf_counter() - t
            t = time.perf_counter()
            _write(cursor, chunk, period.code, now, result)
            timings["write"] += time.perf_counter() - t
            result.accounts += current.height
            result.decided += chunk.decided
            computed = chunk.frame
            result.readings += computed.height + chunk.decided
            result.control_sample += int(computed["control_sample"].sum())
            for status, n in chunk.decided_statuses.items():
                statuses[status] = statuses.get(status, 0) + n
            # Few distinct flag lists: count them, then split.
            for text, status, n in computed.group_by(["flags", "status"]).agg(pl.len()).iter_rows():
                statuses[status] = statuses.get(status, 0) + n
                for code in rules.split_flags(text):
                    flags[code] = flags.get(code, 0) + n
                    if status == rules.FLAGGED:
                        held[code] = held.get(code, 0) + n
        commit_started = time.perf_counter()
    timings["commit"] = time.perf_counter() - commit_started
    result.statuses = statuses
    result.flags = {k: v for k, v in flags.items() if v}
    result.held = {k: v for k, v in held.items() if v}
    result.seconds = time.perf_counter() - started
    result.timings = timings
    return result


def _spare_core() -> bool:
    """Whether a second thread would get a core of its own: on a machine whose cores are
    busy the two connections only slow each other down (measured: the load step takes
    twice as long), so the run stays on one connection there."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return cores >= 2 and busy <= cores - 1


def _history_on_own_connection(
    codes: list[str], config: rules.CritiqueConfig, lo: int, hi: int, cycle_id: int | None
) -> pl.DataFrame:
    """:func:`queries.load_history` on this thread's own database connection."""
    db = connections[DEFAULT_DB_ALIAS]
    try:
        with db.cursor() as cursor:
            return queries.load_history(cursor, codes, config, lo, hi, cycle_id)
    finally:
        db.close()


@dataclass
class _Chunk:
    frame: pl.DataFrame  # readings computed: existing open ones and new ones
    decided: int
    decided_statuses: dict[str, int]


def _compute(
    cursor: Any,
    current: pl.DataFrame,
    history: pl.DataFrame,
    period: str,
    config: rules.CritiqueConfig,
    months: int,
) -> _Chunk:
    c = pl.col
    has_row = c("reading_id").is_not_null()
    decided_rows = current.filter(has_row & ~c("stored_status").is_in(list(rules.OPEN)))
    decided_statuses = dict(decided_rows["stored_status"].value_counts().iter_rows())
    # The readings to compute: open ones, plus a new row for every metered account with an
    # active water connection and no reading.
    frame = current.filter(
        (has_row & c("stored_status").is_in(list(rules.OPEN)))
        | (~has_row & c("current_meter_id").is_not_null() & (c("water_status") == rules.ACTIVE))
    )
    # The reading's own meter when recorded, else the installed one; digits of a meter that
    # is not the installed one are looked up (rare: a reading taken before a meter change).
    other = (
        frame.filter(
            c("reading_meter_id").is_not_null() & (c("reading_meter_id") != c("current_meter_id"))
        )["reading_meter_id"]
        .unique()
        .to_list()
    )
    digits = queries.meter_digits(cursor, other) if other else {}
    frame = frame.with_columns(
        pl.coalesce(c("reading_meter_id"), c("current_meter_id")).alias("meter_id"),
        pl.when(c("reading_meter_id").is_null() | (c("reading_meter_id") == c("current_meter_id")))
        .then(c("current_digits"))
        .otherwise(
            c("reading_meter_id").replace_strict(digits, default=None, return_dtype=pl.Int64)
            if digits
            else pl.lit(None, dtype=pl.Int64)
        )
        .alias("digits"),
        c("observation").fill_null(""),
    )
    frame = frame.join(history, on="account_id", how="left")
    frame = frame.with_columns(
        [
            c(name).fill_null(0)
            for name in (
                "billed_count",
                "billed_sum",
                "unread_mask",
                "equal_mask",
                "unread_since_last",
            )
        ]
    )
    verdict = rules.critique_frame(frame, config, months=months)
    sample = rules.control_sample_mask(verdict["account_id"], period, config)
    verdict = verdict.with_columns(
        (sample & c("value").is_not_null()).alias("control_sample"),
    )
    return _Chunk(frame=verdict, decided=decided_rows.height, decided_statuses=decided_statuses)


def _write(cursor: Any, chunk: _Chunk, period: str, now: Any, result: CritiqueResult) -> None:
    c = pl.col
    frame = chunk.frame.with_columns(
        c("prev").alias("new_previous"),
    )
    new = frame.filter(c("reading_id").is_null())
    existing = frame.filter(c("reading_id").is_not_null())
    changed = existing.filter(
        ~(
            (c("status") == c("stored_status"))
            & (c("flags") == c("stored_flags").fill_null(""))
            & c("consumption").eq_missing(c("stored_consumption"))
            & (c("consumption_rule") == c("stored_rule").fill_null(""))
            & c("average").eq_missing(c("stored_average"))
            & c("new_previous").eq_missing(c("previous_value"))
            & c("meter_id").eq_missing(c("reading_meter_id"))
            & (c("control_sample").cast(pl.Int64) == c("stored_control"))
        )
    )
    result.unchanged += existing.height - changed.height
    result.updated += changed.height
    result.created += new.height
    if changed.height:
        rows = changed.select(
            c("reading_id").alias("id"),
            "status",
            "flags",
            "consumption",
            "consumption_rule",
            "average",
            c("new_previous").alias("previous_value"),
            "meter_id",
            "control_sample",
        )
        # Columns that no changed row changes are left out of the statements.
        same = changed.select(
            c("new_previous").eq_missing(c("previous_value")).all().alias("previous_value"),
            c("meter_id").eq_missing(c("reading_meter_id")).all().alias("meter_id"),
        ).row(0, named=True)
        rows = rows.drop([name for name, unchanged in same.items() if unchanged])
        update_rows(cursor, rows, now)
    if new.height:
        first = reserve_ids(cursor, TABLE, new.height)
        rows = new.select(
            pl.int_range(first, first + new.height, dtype=pl.Int64).alias("id"),
            "account_id",
            pl.lit(period).alias("period"),
            c("account_route_id").alias("route_id"),
            "meter_id",
            c("new_previous").alias("previous_value"),
            pl.lit(None, dtype=pl.Int64).alias("value"),
            pl.lit("").alias("observation"),
            pl.lit(ReadingSource.SYSTEM.value).alias("source"),
            pl.lit("").alias("photo"),
            pl.lit("").alias("client_uuid"),
            "status",
            "flags",
            "consumption",
            "consumption_rule",
            "average",
            "control_sample",
            pl.lit("").alias("note"),
            pl.lit(now).alias("updated_at"),
        )
        bulk_insert(cursor, TABLE, rows)


def update_rows(cursor: Any, rows: pl.DataFrame, now: Any) -> None:
    """``UPDATE metering_reading SET <columns of rows but id>, updated_at = now`` for every
    row of ``rows`` (matched by ``id``).

    SQLite: ``UPDATE ... FROM (VALUES (...), (...)) WHERE id = column1``, fifty rows per
    statement (about 1.5× faster than one row per statement). PostgreSQL: ``COPY`` into a
    temporary table, then one ``UPDATE ... FROM``.
    """
    columns = [n for n in rows.columns if n != "id"]
    if is_postgresql():
        cursor.execute(
            "CREATE TEMP TABLE _critique_rows ON COMMIT DROP AS "
            f"SELECT id, {', '.join(columns)} FROM {TABLE} WITH NO DATA"
        )
        bulk_insert(cursor, "_critique_rows", rows.select("id", *columns))
        sets = ", ".join(f"{n} = u.{n}" for n in columns)
        cursor.execute(
            f"UPDATE {TABLE} AS r SET {sets}, updated_at = %s FROM _critique_rows AS u "
            "WHERE r.id = u.id",
            [now],
        )
        cursor.execute("DROP TABLE _critique_rows")
        return
    ordered = rows.select("id", *columns).sort("id")
    width = len(columns) + 1
    sets = ", ".join(f"{n} = v.column{i}" for i, n in enumerate(columns, start=2))
    one = "(" + ", ".join(["%s"] * width) + ")"

    def statement(n: int) -> str:
        return (
            f"UPDATE {TABLE} SET {sets}, updated_at = %s FROM (VALUES "
            + ", ".join([one] * n)
            + ") AS v WHERE "
            f"{TABLE}.id = v.column1"
        )

    per = UPDATE_ROWS_PER_STATEMENT
    for offset in range(0, ordered.height, 100_000):
        part = ordered.slice(offset, 100_000)
        values = list(zip(*(part[n].to_list() for n in ["id", *columns]), strict=True))
        full = len(values) // per * per
        if full:
            sql = statement(per)
            cursor.executemany(
                sql,
                (
                    [now, *(v for row in values[i : i + per] for v in row)]
                    for i in range(0, full, per)
                ),
            )
        if full < len(values):
            rest = values[full:]
            cursor.execute(statement(len(rest)), [now, *(v for row in rest for v in row)])


__all__ = ["KIND", "CritiqueResult", "config_from_settings", "run_critique", "update_rows"]
