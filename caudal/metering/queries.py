"""Reads of the reading critique: the run's column loaders and the critique page's queries.

The run loads millions of rows. Python's database drivers build one object per value,
which costs more than the critique itself, so :func:`read_frame` lets the database write
the rows as text (SQLite: ``printf`` + ``group_concat`` in C; PostgreSQL: ``COPY ... TO
STDOUT``) and Polars parses the text in Rust. The history of an account is summarised in
SQL (one row per account, see :func:`load_history`) for the same reason; the pure
:func:`caudal.metering.rules.summarize_history` is the reference a test compares it with.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db import connection
from django.db.models import Count, Q, QuerySet

from caudal.cadastre.models import Cycle, Periodicity, UtilitySettings
from caudal.kernel.periods import Period

from . import rules
from .models import Reading, ReadingStatus

#: Field separator of the text transfer (never inside a code, number or flag list).
SEP = "|"
#: Readings at or above this are ignored as previous readings (packed in 40 bits).
PACK_LIMIT = rules.PACK_LIMIT  # 2^30: values are capped below it
#: Meter ids packed next to the value (below 2^29); larger ids get their own aggregate.
METER_LIMIT = 1 << 29
#: The offset sits above value and meter: (16 − offset) · 2^59.
_TOP_SHIFT = 1 << 59
#: Offsets are packed as (16 − offset) above the 40 bits of the value.
_PACK_TOP = 16


def utility_months() -> int:
    return 2 if UtilitySettings.current().periodicity == Periodicity.BIMONTHLY else 1


def parse_period(code: str) -> Period:
    """The utility's period named ``code`` (ValueError with a Spanish message)."""
    months = utility_months()
    try:
        return Period.parse(code, months=months)
    except ValueError as exc:
        text = str(exc)
        if "AAAA-MM" in text:
            raise
        if "bimonthly" in text:
            raise ValueError(
                f"periodo {code!r}: la facturación es bimestral y los periodos empiezan en "
                "meses impares"
            ) from exc
        raise ValueError(f"periodo {code!r}: el mes debe estar entre 01 y 12") from exc


def history_codes(period: Period, n: int) -> list[str]:
    """Codes of the ``n`` periods before ``period``: offset 1 first."""
    return [period.shift(-k).code for k in range(1, n + 1)]


# --- the text transfer --------------------------------------------------------------------


def read_frame(
    cursor: Any, sql: str, params: Sequence[Any], schema: dict[str, Any]
) -> pl.DataFrame:
    """Run ``sql`` (its columns named and ordered as ``schema``) into a Polars frame.

    Values must not contain ``|`` or line breaks (ids, numbers, codes, flag lists).
    Empty text and NULL both arrive as null.
    """
    names = list(schema)
    if connection.vendor == "postgresql":
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        buffer = io.BytesIO()
        copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER '{SEP}')"
        with raw.copy(copy_sql, params) as copy:
            for block in copy:
                buffer.write(block)
        data = buffer.getvalue()
    else:
        fmt = SEP.join(["%%s"] * len(names))  # "%%" is "%" after Django's placeholders
        cols = ", ".join(f"q.{n}" for n in names)
        cursor.execute(
            f"SELECT group_concat(printf('{fmt}', {cols}), char(10)) FROM ({sql}) AS q", params
        )
        text = cursor.fetchone()[0]
        data = text.encode("utf-8") if text else b""
    if not data:
        return pl.DataFrame(schema=schema)
    return pl.read_csv(
        data,
        has_header=False,
        separator=SEP,
        new_columns=names,
        schema=schema,
        quote_char='"',  # PostgreSQL quotes empty strings ("") to tell them from NULL
    )


def account_bounds(cursor: Any, cycle_id: int | None) -> tuple[int, int] | None:
    where, params = ("WHERE cycle_id = %s", [cycle_id]) if cycle_id else ("", [])
    cursor.execute(f"SELECT MIN(id), MAX(id) FROM cadastre_account {where}", params)
    lo, hi = cursor.fetchone()
    return None if lo is None else (int(lo), int(hi))


# --- the run's loaders --------------------------------------------------------------------

ACCOUNT_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64,
    "category": pl.String,
    "segment": pl.String,
    "account_route_id": pl.Int64,
}
WATER_SCHEMA: dict[str, Any] = {"account_id": pl.Int64, "water_status": pl.String}
METER_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64,
    "current_meter_id": pl.Int64,
    "current_digits": pl.Int64,
}
READING_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64,
    "reading_id": pl.Int64,
    "route_id": pl.Int64,
    "reading_meter_id": pl.Int64,
    "value": pl.Int64,
    "previous_value": pl.Int64,
    "observation": pl.String,
    "stored_status": pl.String,
    "stored_flags": pl.String,
    "stored_consumption": pl.Int64,
    "stored_rule": pl.String,
    "stored_average": pl.Int64,
    "stored_control": pl.Int64,
}
CURRENT_SCHEMA: dict[str, Any] = {
    **ACCOUNT_SCHEMA,
    "water_status": pl.String,
    "current_meter_id": pl.Int64,
    "current_digits": pl.Int64,
    **{k: v for k, v in READING_SCHEMA.items() if k != "account_id"},
}


def load_current(cursor: Any, period: str, lo: int, hi: int, cycle_id: int | None) -> pl.DataFrame:
    """Every account with id in [lo, hi] (of the cycle), its water connection status, its
    installed meter and its reading of ``period`` (null columns when it has none).

    Four range queries joined in Polars: cheaper than one SQL query with three outer
    joins, which pays an index descent per account and table."""
    cycle = "AND a.cycle_id = %s" if cycle_id else ""
    in_cycle = (
        "AND account_id IN (SELECT id FROM cadastre_account WHERE cycle_id = %s)"
        if cycle_id
        else ""
    )
    extra = [cycle_id] if cycle_id else []
    accounts = read_frame(
        cursor,
        f"""SELECT a.id AS account_id, a.category AS category, a.segment AS segment,
                   p.route_id AS account_route_id
            FROM cadastre_account a JOIN cadastre_property p ON p.id = a.property_id
            WHERE a.id BETWEEN %s AND %s {cycle}""",
        [lo, hi, *extra],
        ACCOUNT_SCHEMA,
    )
    water = read_frame(
        cursor,
        f"""SELECT account_id AS account_id, status AS water_status FROM cadastre_connection
            WHERE service = 'water' AND account_id BETWEEN %s AND %s {in_cycle}""",
        [lo, hi, *extra],
        WATER_SCHEMA,
    )
    meters = read_frame(
        cursor,
        f"""SELECT account_id AS account_id, id AS current_meter_id, digits AS current_digits
            FROM cadastre_meter
            WHERE removed_on IS NULL AND status <> 'removed'
              AND account_id BETWEEN %s AND %s {in_cycle}""",
        [lo, hi, *extra],
        METER_SCHEMA,
    )
    readings = read_frame(
        cursor,
        f"""SELECT account_id AS account_id, id AS reading_id, route_id AS route_id,
                   meter_id AS reading_meter_id, value AS value,
                   previous_value AS previous_value, observation AS observation,
                   status AS stored_status, flags AS stored_flags,
                   consumption AS stored_consumption, consumption_rule AS stored_rule,
                   average AS stored_average,
                   CASE WHEN control_sample THEN 1 ELSE 0 END AS stored_control
            FROM metering_reading
            WHERE period = %s AND account_id BETWEEN %s AND %s {in_cycle}""",
        [period, lo, hi, *extra],
        READING_SCHEMA,
    )
    # One water connection per account (unique account + service), one installed meter
    # (partial unique index), one reading per account and period: plain left joins.
    frame = (
        accounts.join(water, on="account_id", how="left")
        .join(meters, on="account_id", how="left")
        .join(readings, on="account_id", how="left")
    )
    return frame.select(list(CURRENT_SCHEMA))


def meter_digits(cursor: Any, meter_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(meter_ids))
    out: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(part))
        cursor.execute(f"SELECT id, digits FROM cadastre_meter WHERE id IN ({marks})", part)
        out.update({int(i): int(d) for i, d in cursor.fetchall()})
    return out


HISTORY_SCHEMA: dict[str, Any] = {
    "account_id": pl.Int64,
    "billed": pl.Int64,
    "last_pack": pl.Int64,
    "meter_pack": pl.Int64,
    "masks": pl.Int64,
    "unread_list": pl.String,
}


def _check_codes(codes: Sequence[str]) -> None:
    for code in codes:
        if len(code) != 7 or code[4] != "-" or not (code[:4] + code[5:]).isdigit():
            raise ValueError(f"periodo no válido: {code!r}")


#: ``billed`` packs the count of billed periods above the sum of their consumption.
_COUNT_SHIFT = 1 << 36
#: ``masks`` packs the equal-reading mask above the unread mask.
_EQUAL_SHIFT = 1 << 16


def history_sql(
    codes: Sequence[str],
    config: rules.CritiqueConfig,
    cycle_id: int | None,
    *,
    wide_meters: bool = False,
) -> str:
    """One row per account with readings in ``codes`` (offset 1 first): the columns of
    :class:`rules.HistorySummary`, packed so SQLite evaluates few aggregates per row.

    The periods come from a ``VALUES`` list joined on the reading's period (each row gets
    its offset, bit and pack base as plain columns, no CASE); the codes are validated
    ``YYYY-MM`` literals. Placeholders left: the account range, then the cycle.

    - ``billed``: ``count · 2^36 + sum`` of the consumption of billed periods in the
      average window (a period's consumption is below 10^9, six of them below 2^36);
    - ``last_pack``: ``MAX((16 − offset) · 2^59 + value · 2^29 + meter id)`` over readings
      with a value: the most recent one, its value (capped below 2^30) and meter (0: none).
      With ``wide_meters`` (some meter id ≥ 2^29) the meter is left out of it and
      ``meter_pack`` = ``MAX((16 − offset) · 2^59 + meter id)`` carries it;
    - ``masks``: ``equal_mask · 2^16 + unread_mask``;
    - ``unread_list``: ``offset:consumption`` of billed periods without a value.
    """
    _check_codes(codes)
    pg = connection.vendor == "postgresql"
    # SQLite's two-argument min() is NULL for a NULL argument; PostgreSQL's LEAST skips
    # NULLs, hence the "+ 0 * r.value" that keeps unread rows out of the MAX.
    least = "LEAST" if pg else "min"
    agg = "string_agg" if pg else "group_concat"
    values = ", ".join(
        f"('{code}', {k}, {1 << (k - 1)}, {(_PACK_TOP - k) * _TOP_SHIFT}, "
        f"{1 if k <= config.average_periods else 0})"
        for k, code in enumerate(codes, start=1)
    )
    billable = ", ".join(f"'{s}'" for s in rules.BILLABLE)
    billed = f"r.status IN ({billable})"
    if config.average_measured_only:
        measured = ", ".join(f"'{s}'" for s in rules.MEASURED_RULES)
        billed += f" AND r.consumption_rule IN ({measured})"
    cycle = (
        "AND r.account_id IN (SELECT id FROM cadastre_account WHERE cycle_id = %s)"
        if cycle_id
        else ""
    )
    value = f"{least}(r.value, {PACK_LIMIT - 1}) * {METER_LIMIT} + 0 * r.value"
    if wide_meters:
        last = f"MAX(w.column4 + {value}) AS last_pack"
        meter = "MAX(w.column4 + COALESCE(r.meter_id, 0) + 0 * r.value) AS meter_pack"
    else:
        last = f"MAX(w.column4 + {value} + COALESCE(r.meter_id, 0)) AS last_pack"
        meter = "NULL AS meter_pack"
    return f"""
        SELECT r.account_id AS account_id,
               SUM(CAST({billed} AS INTEGER) * w.column5
                   * (r.consumption + {_COUNT_SHIFT})) AS billed,
               {last},
               {meter},
               SUM(w.column3 * (CAST(r.value IS NULL AS INTEGER)
                   + {_EQUAL_SHIFT} * COALESCE(CAST(r.value = r.previous_value AS INTEGER), 0)))
                   AS masks,
               {agg}(CASE WHEN r.value IS NULL AND r.status IN ({billable})
                           AND r.consumption IS NOT NULL
                          THEN CAST(w.column2 AS TEXT) || ':' || CAST(r.consumption AS TEXT)
                     END, ',') AS unread_list
        FROM (VALUES {values}) AS w
        JOIN metering_reading r ON r.period = w.column1
        WHERE r.account_id BETWEEN %s AND %s {cycle}
        GROUP BY r.account_id
    """


def load_history(
    cursor: Any,
    codes: Sequence[str],
    config: rules.CritiqueConfig,
    lo: int,
    hi: int,
    cycle_id: int | None,
) -> pl.DataFrame:
    """:class:`rules.HistorySummary` columns per account with readings in ``codes``
    (offset 1 first), for account ids in [lo, hi]."""
    cursor.execute("SELECT MAX(id) FROM cadastre_meter")
    wide = (cursor.fetchone()[0] or 0) >= METER_LIMIT
    sql = history_sql(codes, config, cycle_id, wide_meters=wide)
    params: list[Any] = [lo, hi]
    if cycle_id:
        params.append(cycle_id)
    raw = read_frame(cursor, sql, params, HISTORY_SCHEMA)
    return unpack_history(raw, wide_meters=wide)


def unpack_history(raw: pl.DataFrame, *, wide_meters: bool = False) -> pl.DataFrame:
    c = pl.col
    meter = c("meter_pack") % _TOP_SHIFT if wide_meters else c("last_pack") % METER_LIMIT
    frame = raw.with_columns(
        (c("billed").fill_null(0) // _COUNT_SHIFT).alias("billed_count"),
        (c("billed").fill_null(0) % _COUNT_SHIFT).alias("billed_sum"),
        (_PACK_TOP - (c("last_pack") // _TOP_SHIFT)).alias("last_offset"),
        (c("last_pack") // METER_LIMIT % PACK_LIMIT).alias("last_value"),
        pl.when(meter > 0).then(meter).otherwise(None).alias("last_meter_id"),
        (c("masks") % _EQUAL_SHIFT).alias("unread_mask"),
        (c("masks") // _EQUAL_SHIFT).alias("equal_mask"),
    )
    listed = (
        frame.select("account_id", "last_offset", "unread_list")
        .filter(c("unread_list").is_not_null())
        .with_columns(c("unread_list").str.split(","))
        .explode("unread_list")
        .with_columns(c("unread_list").str.split_exact(":", 1).struct.rename_fields(["off", "vol"]))
        .unnest("unread_list")
        .with_columns(c("off").cast(pl.Int64), c("vol").cast(pl.Int64))
        .filter(c("off") < c("last_offset"))
        .group_by("account_id")
        .agg(c("vol").sum().alias("unread_since_last"))
    )
    frame = frame.join(listed, on="account_id", how="left").with_columns(
        c("unread_since_last").fill_null(0)
    )
    return frame.select(
        "account_id",
        "billed_count",
        "billed_sum",
        "last_offset",
        "last_value",
        "last_meter_id",
        "unread_mask",
        "equal_mask",
        "unread_since_last",
    )


def history_rows(account_id: int, period: Period, n: int) -> list[rules.HistoryRow]:
    """One account's readings of the ``n`` periods before ``period`` (for one reading's
    critique: corrections and explanations)."""
    codes = history_codes(period, n)
    offsets = {code: k for k, code in enumerate(codes, start=1)}
    return [
        rules.HistoryRow(
            offset=offsets[p],
            value=v,
            previous_value=pv,
            consumption=c,
            status=s,
            rule=r,
            meter_id=m,
        )
        for p, v, pv, c, s, r, m in Reading.objects.filter(
            account_id=account_id, period__in=codes
        ).values_list(
            "period",
            "value",
            "previous_value",
            "consumption",
            "status",
            "consumption_rule",
            "meter_id",
        )
    ]


def reading_facts(reading: Reading, config: rules.CritiqueConfig) -> rules.ReadingFacts:
    """Everything :func:`rules.critique_reading` needs about one stored reading."""
    from caudal.cadastre.models import Connection, Meter, Service

    account = reading.account
    water = (
        Connection.objects.filter(account=account, service=Service.WATER)
        .values_list("status", flat=True)
        .first()
    )
    meter = None
    if reading.meter_id is not None:
        meter = Meter.objects.filter(pk=reading.meter_id).first()
    if meter is None:
        meter = (
            Meter.objects.filter(account=account, removed_on__isnull=True)
            .exclude(status="removed")
            .first()
        )
    period = parse_period(reading.period)
    summary = rules.summarize_history(
        history_rows(account.pk, period, config.history_periods), config
    )
    facts = rules.ReadingFacts(
        account_id=account.pk,
        category=account.category,
        segment=account.segment,
        water_status=water,
        meter_id=meter.pk if meter else None,
        digits=meter.digits if meter else None,
        value=reading.value,
        previous_value=reading.previous_value,
        observation=reading.observation,
    )
    return facts.with_history(summary)


# --- the critique page --------------------------------------------------------------------


@dataclass(frozen=True)
class CritiqueFilter:
    """What the critique page shows. Empty strings mean "any"."""

    period: str
    cycle: Cycle | None = None
    flag: str = ""
    route: str = ""
    status: str = ""
    segment: str = ""
    control_sample: bool = False

    def queryset(self) -> QuerySet[Reading]:
        """The readings shown. Account conditions are ``account_id IN (SELECT …)`` so the
        database looks the readings up by (account, period) instead of joining every
        reading of the period to its account."""
        from caudal.cadastre.models import Account

        qs = Reading.objects.filter(period=self.period)
        accounts = Account.objects.all()
        if self.cycle is not None:
            accounts = accounts.filter(cycle=self.cycle)
        if self.segment:
            accounts = accounts.filter(segment=self.segment)
        if self.cycle is not None or self.segment:
            qs = qs.filter(account_id__in=accounts.values("id"))
        if self.flag:
            qs = qs.filter(flag_q(self.flag))
        if self.route:
            qs = qs.filter(route__code=self.route)
        if self.status == "pending_decision":
            qs = qs.filter(status__in=[ReadingStatus.FLAGGED, ReadingStatus.PENDING])
        elif self.status:
            qs = qs.filter(status=self.status)
        if self.control_sample:
            qs = qs.filter(control_sample=True)
        return qs

    def as_params(self) -> dict[str, str]:
        params = {
            "periodo": self.period,
            "ciclo": self.cycle.code if self.cycle else "",
            "anomalia": self.flag,
            "ruta": self.route,
            "estado": self.status,
            "segmento": self.segment,
            "muestra": "1" if self.control_sample else "",
        }
        return {k: v for k, v in params.items() if v}


def flag_q(code: str) -> Q:
    """Readings whose flag list holds ``code`` (codes are whole items of the list:
    ``high_consumption`` does not match ``very_high_consumption``)."""
    return (
        Q(flags=code)
        | Q(flags__startswith=f"{code},")
        | Q(flags__endswith=f",{code}")
        | Q(flags__contains=f",{code},")
    )


def periods_with_readings(limit: int = 24) -> list[str]:
    return list(
        Reading.objects.order_by("-period").values_list("period", flat=True).distinct()[:limit]
    )


def status_counts(period: str, cycle: Cycle | None) -> dict[str, int]:
    qs = CritiqueFilter(period=period, cycle=cycle).queryset()
    rows = qs.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
    return {status: n for status, n in rows}


def vip_to_validate(period: str, cycle: Cycle | None, statuses: Sequence[str]) -> int:
    """VIP readings of the period in ``statuses``. Driven from the accounts (few are VIP):
    ``CROSS JOIN`` keeps SQLite from walking every reading of the period instead."""
    marks = ", ".join(["%s"] * len(statuses))
    cycle_sql = "AND a.cycle_id = %s" if cycle is not None else ""
    params: list[Any] = [period, *statuses]
    if cycle is not None:
        params.append(cycle.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT COUNT(*) FROM cadastre_account a CROSS JOIN metering_reading r
                WHERE a.segment = 'vip' AND r.account_id = a.id AND r.period = %s
                  AND r.status IN ({marks}) {cycle_sql}""",
            params,
        )
        return int(cursor.fetchone()[0])


def flag_counts(period: str, cycle: Cycle | None, statuses: Sequence[str] | None) -> dict[str, int]:
    """Readings per flag (of the given statuses). Grouped by the flag list first: the
    combinations are few, so this is one indexed query."""
    qs = CritiqueFilter(period=period, cycle=cycle).queryset().exclude(flags="")
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    counts: dict[str, int] = dict.fromkeys(rules.FLAG_CODES, 0)
    for flags, n in qs.order_by().values("flags").annotate(n=Count("id")).values_list("flags", "n"):
        for code in rules.split_flags(flags):
            counts[code] = counts.get(code, 0) + n
    return counts


def consumption_history(
    account_ids: Sequence[int], period: Period, n: int = 6
) -> dict[int, list[int | None]]:
    """The billed consumption of each account in the ``n`` periods before ``period``,
    oldest first (None when the period has no billable reading)."""
    codes = list(reversed(history_codes(period, n)))
    out: dict[int, list[int | None]] = {a: [None] * n for a in account_ids}
    index = {code: i for i, code in enumerate(codes)}
    # No status condition in SQL: with (account, period) alone the unique index answers;
    # a status condition lets SQLite pick the (period, status) index and scan a period.
    for account_id, code, status, consumption in Reading.objects.filter(
        account_id__in=list(account_ids), period__in=codes
    ).values_list("account_id", "period", "status", "consumption"):
        if status in rules.BILLABLE:
            out[account_id][index[code]] = consumption
    return out
