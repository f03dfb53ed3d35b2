"""Import of readings taken by other devices: ``caudal import-readings FILE.csv``.

One row per reading (account and period). Columns (``docs/reading.md``):

``account_number, period, reading, read_at, observation, reader`` are required in the
header; ``latitude, longitude`` are optional. ``reading`` may be empty when
``observation`` says why the meter was not read; ``reader`` may be empty (the reading
then has no reader) or must be the user name of a Caudal user.

Every row is checked (the first failing check of each column is reported with its line,
column and value): unknown account, bad period, negative or non-integer reading, more
digits than the meter, unknown observation code, neither reading nor observation, bad or
future date, a date before the period, a repeated (account, period) in the file, an
account whose cycle has no calendar row for the period, a closed period, a reading
already decided by a critic (accepted, corrected or estimated: never overwritten), an
unknown reader, a lone latitude or longitude.

Upsert by (account, period): a new reading is inserted with source ``import`` and status
``pending``; a reading not yet decided is updated (back to ``pending``, flags cleared)
unless it already holds the same values, which counts as unchanged. So importing the
same file twice changes nothing the second time. All-or-nothing by default; ``partial``
writes the good rows. One ``Run`` row per import, one audit event per committed import.

Columnar: Polars validates, the accounts, meters, calendars and stored readings are
loaded with one query each, and rows are written with multi-row INSERT / UPDATE
statements (PostgreSQL: COPY) in one transaction.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike
from caudal.audit.models import Run
from caudal.cadastre.imports import (
    IDX,
    LINE,
    Check,
    CsvInput,
    Errors,
    Rollback,
    audit_import,
    bulk_insert,
    bulk_session,
    close_run,
    fetch_frame,
    first_reason,
    fmt,
    is_postgresql,
    keys_condition,
    keys_param,
    lock_tables,
    missing,
    read_csv,
    reason_if,
)
from caudal.kernel.errors import ImportResult
from caudal.kernel.periods import Period

from .calendar_actions import utility_months
from .capture import DECIDED
from .models import Observation, Reading, ReadingSource, ReadingStatus
from .sheets import OBSERVATION_KEYS

COLUMNS: tuple[tuple[str, bool], ...] = (
    ("account_number", True),
    ("period", True),
    ("reading", True),
    ("read_at", True),
    ("observation", True),
    ("reader", True),
    ("latitude", False),
    ("longitude", False),
)
COLUMN_NAMES = tuple(name for name, _req in COLUMNS)
REQUIRED = tuple(name for name, req in COLUMNS if req)
TABLE = "metering_reading"
#: Observation by accepted spelling: the code, its two-digit key (also without the
#: leading zero) and a few Spanish words.
OBSERVATION_ALIASES: dict[str, str] = {
    **{str(v): str(v) for v, _label in Observation.choices if v},
    **{k: str(v) for k, v in OBSERVATION_KEYS.items()},
    **{str(int(k)): str(v) for k, v in OBSERVATION_KEYS.items()},
    "sin_acceso": str(Observation.NO_ACCESS),
    "cerrado": str(Observation.HOUSE_CLOSED),
    "averiado": str(Observation.METER_BROKEN),
    "perro": str(Observation.DOG),
    "ilegible": str(Observation.ILLEGIBLE),
    "fuga": str(Observation.LEAK),
}
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
COORD_PATTERN = r"^[+-]?[0-9]{1,3}(\.[0-9]{1,8})?$"


def _read_at_expr() -> pl.Expr:
    """Local date-time from the text (several layouts; a date alone is midnight), as UTC."""
    s = pl.col("read_at").str.replace(r"Z$|[+-][0-9]{2}:?[0-9]{2}$", "")
    parsed = [s.str.strptime(pl.Datetime("us"), f, strict=False) for f in DATETIME_FORMATS]
    parsed += [
        s.str.strptime(pl.Date, f, strict=False).cast(pl.Datetime("us")) for f in DATE_FORMATS
    ]
    return (
        pl.coalesce(parsed)
        .dt.replace_time_zone(settings.TIME_ZONE, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def validate_rows(frame: pl.DataFrame, *, now: datetime, errors: Errors) -> pl.DataFrame:
    """Column-wise checks; adds ``value__v`` (int), ``obs__v``, ``at__v`` (UTC datetime),
    ``lat__v`` / ``lon__v`` (text), ``period_start``."""
    for name in COLUMN_NAMES:
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    c = pl.col
    folded = (
        c("observation")
        .str.to_lowercase()
        .str.replace_many(["á", "é", "í", "ó", "ú"], ["a", "e", "i", "o", "u"])
        .str.replace_all(r"[\s\-]+", "_")
    )
    frame = frame.with_columns(
        pl.when(c("reading").str.contains(r"^-?[0-9]{1,15}$"))
        .then(c("reading").cast(pl.Int64, strict=False))
        .otherwise(None)
        .alias("value__v"),
        pl.when(c("observation").is_null())
        .then(pl.lit(""))
        .otherwise(folded.replace_strict(OBSERVATION_ALIASES, default=None, return_dtype=pl.String))
        .alias("obs__v"),
        _read_at_expr().alias("at__v"),
        pl.when(c("period").str.contains(PERIOD_PATTERN))
        .then((c("period") + "-01").str.to_date("%Y-%m-%d", strict=False))
        .otherwise(None)
        .alias("period_start"),
        c("latitude").cast(pl.Float64, strict=False).alias("lat__f"),
        c("longitude").cast(pl.Float64, strict=False).alias("lon__f"),
    )
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    limit = pl.lit(now_utc).dt.replace_time_zone("UTC")
    checks = [
        Check("account_number", missing("account_number")),
        Check(
            "period",
            first_reason(
                missing("period"),
                reason_if(c("period_start").is_null(), _("periodo no válido: use AAAA-MM")),
            ),
        ),
        Check(
            "reading",
            first_reason(
                reason_if(
                    c("reading").is_not_null() & c("value__v").is_null(),
                    _("la lectura debe ser un número entero de m³, sin decimales"),
                ),
                reason_if(c("value__v") < 0, _("la lectura no puede ser negativa")),
                reason_if(
                    c("reading").is_null() & c("observation").is_null(),
                    _("falta la lectura o una observación que explique por qué no se leyó"),
                ),
            ),
        ),
        Check(
            "read_at",
            first_reason(
                missing("read_at"),
                reason_if(
                    c("at__v").is_null(),
                    _("fecha y hora no válidas: use AAAA-MM-DD HH:MM o DD/MM/AAAA HH:MM"),
                ),
                reason_if(
                    c("at__v") > limit,
                    _("la fecha de lectura está en el futuro"),
                ),
                reason_if(
                    c("at__v").dt.convert_time_zone(settings.TIME_ZONE).dt.date()
                    < c("period_start"),
                    _("la fecha de lectura es anterior al periodo"),
                ),
            ),
        ),
        Check(
            "observation",
            reason_if(
                c("observation").is_not_null() & c("obs__v").is_null(),
                _("código de observación desconocido; use un código o su clave (%(list)s)")
                % {"list": ", ".join(f"{k}={v}" for k, v in OBSERVATION_KEYS.items())},
            ),
        ),
        Check(
            "latitude",
            first_reason(
                reason_if(
                    c("latitude").is_not_null()
                    & (~c("latitude").str.contains(COORD_PATTERN) | (c("lat__f").abs() > 90)),
                    _("latitud no válida (grados decimales entre -90 y 90)"),
                ),
                reason_if(
                    c("latitude").is_null() & c("longitude").is_not_null(),
                    _("la ubicación necesita latitud y longitud"),
                ),
            ),
        ),
        Check(
            "longitude",
            first_reason(
                reason_if(
                    c("longitude").is_not_null()
                    & (~c("longitude").str.contains(COORD_PATTERN) | (c("lon__f").abs() > 180)),
                    _("longitud no válida (grados decimales entre -180 y 180)"),
                ),
                reason_if(
                    c("longitude").is_null() & c("latitude").is_not_null(),
                    _("la ubicación necesita latitud y longitud"),
                ),
            ),
        ),
    ]
    errors.run(frame, checks)
    return frame


def _duplicates(frame: pl.DataFrame, errors: Errors) -> None:
    """Second and later rows of the same (account, period) in the file."""
    keyed = frame.filter(pl.col("account_number").is_not_null() & pl.col("period").is_not_null())
    first = keyed.group_by(["account_number", "period"]).agg(pl.col(LINE).min().alias("__first"))
    dup = keyed.join(first, on=["account_number", "period"]).filter(
        pl.col(LINE) != pl.col("__first")
    )
    errors.add_rows(
        dup,
        "account_number",
        fmt(
            _("fila repetida: el suministro ya aparece en la línea %(line)s para %(period)s"),
            line=pl.col("__first"),
            period=pl.col("period"),
        ),
    )


class ReadingsImport:
    """The database side: accounts, meters, calendars, readers and stored readings."""

    def __init__(self, frame: pl.DataFrame, errors: Errors, *, cursor: Any) -> None:
        self.frame = frame
        self.errors = errors
        self.cursor = cursor

    def resolve(self) -> None:
        f = self.frame
        numbers = f["account_number"].drop_nulls().unique().to_list()
        accounts = fetch_frame(
            self.cursor,
            "SELECT a.id, a.number, a.cycle_id, p.route_id FROM cadastre_account a "
            "JOIN cadastre_property p ON p.id = a.property_id WHERE " + keys_condition("a.number"),
            [keys_param(numbers)],
            {
                "account_id": pl.Int64,
                "account_number": pl.String,
                "cycle_id": pl.Int64,
                "route_id": pl.Int64,
            },
        )
        f = f.join(accounts, on="account_number", how="left")
        self.errors.add_rows(
            f.filter(pl.col("account_id").is_null() & pl.col("account_number").is_not_null()),
            "account_number",
            fmt(_("el suministro %(n)s no existe"), n=pl.col("account_number")),
        )
        ids = f["account_id"].drop_nulls().unique().to_list()
        meters = (
            fetch_frame(
                self.cursor,
                "SELECT account_id, id, digits, CAST(installed_on AS TEXT) FROM cadastre_meter "
                "WHERE removed_on IS NULL AND status <> 'removed' AND "
                + keys_condition("account_id"),
                [keys_param(ids)],
                {
                    "account_id": pl.Int64,
                    "meter_id": pl.Int64,
                    "digits": pl.Int64,
                    "installed_on": pl.String,
                },
            )
            .sort(["account_id", "installed_on", "meter_id"])
            .group_by("account_id")
            .last()
            .drop("installed_on")
        )
        f = f.join(meters, on="account_id", how="left")
        known = f.filter(pl.col("account_id").is_not_null())
        self.errors.add_rows(
            known.filter(pl.col("meter_id").is_null()),
            "account_number",
            fmt(_("el suministro %(n)s no tiene medidor instalado"), n=pl.col("account_number")),
        )
        self.errors.add_rows(
            known.filter(
                pl.col("value__v").is_not_null()
                & pl.col("digits").is_not_null()
                & (pl.col("value__v") >= pl.lit(10).pow(pl.col("digits")))
            ),
            "reading",
            fmt(
                _("la lectura tiene más dígitos que el medidor (%(d)s)"),
                d=pl.col("digits"),
            ),
        )
        periods = f["period"].drop_nulls().unique().to_list()
        calendars = fetch_frame(
            self.cursor,
            "SELECT cycle_id, period, closed FROM metering_readingcalendar WHERE "
            + keys_condition("period"),
            [keys_param(periods)],
            {"cycle_id": pl.Int64, "period": pl.String, "closed": pl.Boolean},
        ).with_columns(pl.lit(True).alias("__cal"))
        f = f.join(calendars, on=["cycle_id", "period"], how="left")
        cycles = dict(
            fetch_frame(
                self.cursor,
                "SELECT id, code FROM cadastre_cycle",
                [],
                {"id": pl.Int64, "code": pl.String},
            ).iter_rows()
        )
        f = f.with_columns(
            pl.col("cycle_id")
            .replace_strict(cycles, default=None, return_dtype=pl.String)
            .alias("cycle_code")
        )
        valid_period = pl.col("period_start").is_not_null() & pl.col("account_id").is_not_null()
        self.errors.add_rows(
            f.filter(valid_period & pl.col("__cal").is_null()),
            "period",
            fmt(
                _(
                    "el suministro no está en el calendario del periodo: su ciclo %(c)s "
                    "no tiene calendario de lectura para %(p)s"
                ),
                c=pl.col("cycle_code"),
                p=pl.col("period"),
            ),
        )
        self.errors.add_rows(
            f.filter(valid_period & pl.col("closed").fill_null(False)),
            "period",
            fmt(
                _("el periodo %(p)s está cerrado para el ciclo %(c)s"),
                p=pl.col("period"),
                c=pl.col("cycle_code"),
            ),
        )
        usernames = f["reader"].drop_nulls().unique().to_list()
        users = pl.DataFrame(
            list(
                get_user_model()
                .objects.filter(username__in=usernames)
                .values_list("username", "id")
            ),
            schema={"reader": pl.String, "reader_id": pl.Int64},
            orient="row",
        )
        f = f.join(users, on="reader", how="left")
        self.errors.add_rows(
            f.filter(pl.col("reader").is_not_null() & pl.col("reader_id").is_null()),
            "reader",
            fmt(_("no existe el usuario %(u)s"), u=pl.col("reader")),
        )
        self.frame = f

    def existing(self) -> None:
        """Join the stored readings of the file's (account, period) pairs."""
        f = self.frame
        ids = f["account_id"].drop_nulls().unique().to_list()
        rows = list(
            Reading.objects.filter(
                account_id__in=ids, period__in=f["period"].drop_nulls().unique().to_list()
            ).values_list(
                "id",
                "account_id",
                "period",
                "status",
                "value",
                "observation",
                "read_at",
                "reader_id",
                "latitude",
                "longitude",
            )
        )
        stored = pl.DataFrame(
            [
                (
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6].astimezone(UTC).replace(tzinfo=None) if r[6] else None,
                    r[7],
                    None if r[8] is None else float(r[8]),
                    None if r[9] is None else float(r[9]),
                )
                for r in rows
            ],
            schema={
                "reading_id": pl.Int64,
                "account_id": pl.Int64,
                "period": pl.String,
                "stored_status": pl.String,
                "stored_value": pl.Int64,
                "stored_obs": pl.String,
                "stored_at": pl.Datetime("us"),
                "stored_reader": pl.Int64,
                "stored_lat": pl.Float64,
                "stored_lon": pl.Float64,
            },
            orient="row",
        ).with_columns(pl.col("stored_at").dt.replace_time_zone("UTC"))
        f = f.join(stored, on=["account_id", "period"], how="left")
        labels = {str(k): str(v) for k, v in ReadingStatus.choices}
        decided = f.filter(pl.col("stored_status").is_in([str(s) for s in DECIDED]))
        self.errors.add_rows(
            decided,
            "reading",
            fmt(
                _(
                    "la lectura de este periodo ya fue decidida en la crítica (%(s)s); "
                    "no se sobrescribe"
                ),
                s=pl.col("stored_status").replace_strict(labels, default=pl.col("stored_status")),
            ),
        )
        f = f.with_columns(
            pl.col("lat__f").round(6).alias("lat__v"), pl.col("lon__f").round(6).alias("lon__v")
        )

        def close(a: str, b: str) -> pl.Expr:
            both_null = pl.col(a).is_null() & pl.col(b).is_null()
            return both_null | ((pl.col(a) - pl.col(b)).abs() < 1e-6).fill_null(False)

        same = (
            pl.col("reading_id").is_not_null()
            & pl.col("stored_value").eq_missing(pl.col("value__v"))
            & (pl.col("stored_obs") == pl.col("obs__v"))
            & pl.col("stored_at").dt.truncate("1s").eq_missing(pl.col("at__v").dt.truncate("1s"))
            & pl.col("stored_reader").eq_missing(pl.col("reader_id"))
            & close("stored_lat", "lat__v")
            & close("stored_lon", "lon__v")
        )
        self.frame = f.with_columns(same.alias("__same"))

    def previous(self, new: pl.DataFrame) -> pl.DataFrame:
        """``previous_value``: the latest reading within a year before each row's period."""
        if new.height == 0:
            return new.with_columns(pl.lit(None, dtype=pl.Int64).alias("previous_value"))
        months = utility_months()
        periods: set[str] = set()
        floor: dict[str, str] = {}
        for code in new["period"].unique().to_list():
            p = Period.parse(code, months=months)
            periods.update(q.code for q in p.last(12 // months))
            floor[code] = p.shift(-12 // months).code
        history = fetch_frame(
            self.cursor,
            "SELECT account_id, period, value FROM metering_reading WHERE value IS NOT NULL AND "
            + keys_condition("account_id")
            + " AND "
            + keys_condition("period"),
            [keys_param(new["account_id"].unique().to_list()), keys_param(sorted(periods))],
            {"account_id": pl.Int64, "hperiod": pl.String, "previous_value": pl.Int64},
        )
        best = (
            new.select(IDX, "account_id", "period")
            .join(history, on="account_id", how="inner")
            .filter(
                (pl.col("hperiod") < pl.col("period"))
                & (
                    pl.col("hperiod")
                    >= pl.col("period").replace_strict(floor, return_dtype=pl.String)
                )
            )
            .sort("hperiod")
            .group_by(IDX)
            .last()
            .select(IDX, "previous_value")
        )
        return new.join(best, on=IDX, how="left")


def _db_time(expr: pl.Expr) -> pl.Expr:
    """UTC datetimes as the backend stores them."""
    text = expr.dt.strftime("%Y-%m-%d %H:%M:%S")
    return text + "+00:00" if is_postgresql() else text


def import_readings(
    path: str | Path,
    *,
    actor: ActorLike,
    dry_run: bool = False,
    partial: bool = False,
) -> ImportResult:
    """Import the readings CSV at ``path`` (module docstring; ``docs/reading.md``)."""
    from caudal.cadastre.imports import run_file_import

    started = time.perf_counter()
    source = read_csv(path, known=COLUMN_NAMES, required=REQUIRED)
    result, _value = run_file_import(
        "import_readings",
        source,
        actor=actor,
        dry_run=dry_run,
        parameters={"partial": partial},
        started=started,
        body=lambda run, result: _run_import(
            source, result, run=run, actor=actor, dry_run=dry_run, partial=partial, started=started
        ),
    )
    return result


def _run_import(
    source: CsvInput,
    result: ImportResult,
    *,
    run: Run,
    actor: ActorLike,
    dry_run: bool,
    partial: bool,
    started: float,
) -> None:
    errors = Errors(COLUMN_NAMES)
    now = timezone.now()
    frame = validate_rows(source.frame, now=now, errors=errors)
    result.rows = frame.height
    _duplicates(frame, errors)
    try:
        with bulk_session(), transaction.atomic(), connection.cursor() as cursor:
            lock_tables(cursor, [TABLE])
            job = ReadingsImport(frame, errors, cursor=cursor)
            job.resolve()
            job.existing()
            result.errors = errors.to_list()
            if errors and not partial:
                raise Rollback
            bad = errors.bad_rows()
            f = job.frame
            good = f.filter(~pl.col(IDX).is_in(bad.implode())) if bad.len() else f
            unchanged = good.filter(pl.col("__same"))
            update = good.filter(pl.col("reading_id").is_not_null() & ~pl.col("__same"))
            new = job.previous(good.filter(pl.col("reading_id").is_null()))
            result.created = new.height
            result.updated = update.height
            result.unchanged = unchanged.height
            result.extra = {
                "rejected_rows": int(bad.len()),
                "accounts": good["account_id"].n_unique(),
                "run_id": run.pk,
            }
            if dry_run:
                raise Rollback
            _write(cursor, new, update, now=now)
            result.committed = True
            result.seconds = time.perf_counter() - started
            audit_import(
                actor=actor,
                action="metering.import_readings",
                run=run,
                source=source,
                result=result,
            )
            close_run(run, result)
    except Rollback:
        result.committed = False


def _write(cursor: Any, new: pl.DataFrame, update: pl.DataFrame, *, now: datetime) -> None:
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    stamp_text = stamp.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if is_postgresql() else "")
    if new.height:
        bulk_insert(
            cursor,
            TABLE,
            new.sort(["period", "route_id", "account_id"]).select(
                "account_id",
                "period",
                "route_id",
                "meter_id",
                "previous_value",
                pl.col("value__v").alias("value"),
                _db_time(pl.col("at__v")).alias("read_at"),
                pl.col("obs__v").alias("observation"),
                pl.lit(str(ReadingSource.IMPORT)).alias("source"),
                "reader_id",
                pl.col("lat__v").alias("latitude"),
                pl.col("lon__v").alias("longitude"),
                pl.lit("").alias("photo"),
                pl.lit("").alias("client_uuid"),
                pl.lit(str(ReadingStatus.PENDING)).alias("status"),
                pl.lit("").alias("flags"),
                pl.lit(None, dtype=pl.Int64).alias("consumption"),
                pl.lit("").alias("consumption_rule"),
                pl.lit(None, dtype=pl.Int64).alias("average"),
                pl.lit(False).alias("control_sample"),
                pl.lit("").alias("note"),
                pl.lit(stamp_text).alias("updated_at"),
            ),
        )
    if update.height:
        rows = update.select(
            "reading_id",
            "meter_id",
            "value__v",
            _db_time(pl.col("at__v")).alias("at"),
            "obs__v",
            "reader_id",
            "lat__v",
            "lon__v",
        ).rows()
        cursor.executemany(
            f"UPDATE {TABLE} SET meter_id = %s, value = %s, read_at = %s, observation = %s, "
            "reader_id = %s, latitude = %s, longitude = %s, source = %s, status = %s, "
            "flags = '', consumption = NULL, consumption_rule = '', client_uuid = '', "
            "updated_at = %s WHERE id = %s",
            [
                (
                    meter,
                    value,
                    at,
                    obs,
                    reader,
                    lat,
                    lon,
                    str(ReadingSource.IMPORT),
                    str(ReadingStatus.PENDING),
                    stamp_text,
                    reading_id,
                )
                for reading_id, meter, value, at, obs, reader, lat, lon in rows
            ],
        )


__all__ = ["COLUMNS", "COLUMN_NAMES", "OBSERVATION_ALIASES", "import_readings"]
