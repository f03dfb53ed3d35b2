"""Bill the demo's recent periods through the real monthly cycle.

After the cadastre and the opening cartera are loaded, for each of the last
``DemoSpec.billed_periods`` periods of every cycle, oldest first:

1. the tariff of the profile is imported (``docs/examples/tariff-*.yaml``) and the reading
   calendar is generated for every period involved, plus the next one (left open: it is
   the period a user reads on the mobile page, critiques and bills in the demo);
2. the migrated reading history (six periods before the billed ones) is loaded as
   critiqued readings, as a utility migrating from another system would load it;
3. the period's readings are written as a readings CSV and loaded with
   ``caudal import-readings``;
4. the reading critique runs; what it holds is accepted, as the billing analyst would
   after review (the demo's analyst accepts everything, and it is audited as such);
5. the billing run bills the period (tariff, previous debt, red bills, messages);
6. the bills each account's behaviour says were paid are paid, on their payment day,
   through the collection channels (``collections.py``): bank files, collection centres
   and the cash desk; then the centres' days are settled and their deposits registered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from caudal.kernel.periods import Period

from .collections import cashier_day, issue_demo_key, pay_period, settle_history, setup_centres
from .data import Profile
from .history import History

TARIFF_FILES = {"PE": "tariff-sedapal-2015.yaml", "CO": "tariff-co-example.yaml"}
READER = "operario.campo"


def tariff_path(country: str) -> Path:
    return Path(settings.BASE_DIR) / "docs" / "examples" / TARIFF_FILES[country]


def bill_history(
    history: History,
    *,
    profile: Profile,
    accounts: pl.DataFrame,
    folder: Path,
    as_of: date,
    actor: str,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, int]:
    """Run the cycle for every billed (period, cycle) pair. ``accounts`` maps the
    generator's ``acct`` index to ``account_number`` and ``cycle``. Returns counts."""
    from caudal.billing.runs import run_billing
    from caudal.metering.calendar_actions import do_generate_calendar
    from caudal.metering.imports import import_readings
    from caudal.metering.runs import run_critique
    from caudal.tariffs.actions import do_import_tariff

    say = progress or (lambda _text: None)
    path = tariff_path(profile.country)
    do_import_tariff(path.read_text(encoding="utf-8"), source_name=path.name, actor=actor)
    setup_centres(profile, actor=actor)

    cycles = accounts.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("acct"), "cycle")
    readings = history.readings.join(cycles, on="acct", how="left")
    payments = history.payments.join(cycles, on="acct", how="left")
    billed = payments.select("period", "cycle").unique().sort("period", "cycle")
    periods = sorted(set(readings["period"].to_list()) | set(billed["period"].to_list()))
    months = 1 if profile.periodicity == "monthly" else 2
    last = max(billed["period"].to_list())
    periods.append(Period.parse(last, months=months).next().code)
    for code in periods:
        for cycle in (None,) if months == 1 else _cycles_of(billed, readings, code):
            do_generate_calendar(period=code, cycle=cycle, actor=actor)

    counts = {"history_readings": _load_reading_history(readings.filter(~pl.col("billed")))}
    counts.update(bills=0, paid=0, held_accepted=0, rejected=0)
    folder.mkdir(parents=True, exist_ok=True)
    for code in sorted(set(billed["period"].to_list())):
        part = readings.filter(pl.col("billed") & (pl.col("period") == code))
        csv_path = folder / f"readings-{code}.csv"
        _readings_csv(part).write_csv(csv_path)
        say(f"lecturas {code}")
        result = import_readings(csv_path, actor=actor)
        if result.errors:
            raise RuntimeError(f"{csv_path.name}: {result.errors[:5]}")
        for cycle in billed.filter(pl.col("period") == code)["cycle"].to_list():
            say(f"crítica y facturación {code} {cycle}")
            run_critique(code, cycle=cycle, actor=actor)
            counts["held_accepted"] += accept_held(code, cycle=cycle, actor=actor)
            run = run_billing(code, cycle=cycle, actor=actor)
            counts["bills"] += int(run.counts.get("billed", 0))
            counts["rejected"] += int(run.counts.get("rejected", 0))
        paid = pay_period(
            code,
            payments,
            profile=profile,
            as_of=as_of,
            folder=folder,
            online=code == last,
            actor=actor,
        )
        for key, value in paid.items():
            counts[key] = counts.get(key, 0) + value
    say("liquidaciones y depósitos")
    counts.update(settle_history(as_of=as_of, actor=actor))
    counts.update(cashier_day(actor=actor))
    issue_demo_key(folder, actor=actor)
    return counts


def accept_held(period: str, *, cycle: str, actor: str) -> int:
    """What the demo's billing analyst does after reviewing the critique: accept the held
    readings that have a consumption (in bulk, VIP ones one by one, as the page does)."""
    from caudal.cadastre.models import Cycle, Segment
    from caudal.metering.actions import do_accept_reading, do_bulk_accept
    from caudal.metering.models import Reading, ReadingStatus
    from caudal.metering.queries import CritiqueFilter

    cycle_obj = Cycle.objects.get(code=cycle)
    note = "Revisión de la demo: lectura aceptada"
    accepted = do_bulk_accept(
        CritiqueFilter(period=period, cycle=cycle_obj, status=ReadingStatus.FLAGGED),
        actor=actor,
        note=note,
    )
    vip = Reading.objects.filter(
        period=period,
        account__cycle=cycle_obj,
        account__segment=Segment.VIP,
        status=ReadingStatus.FLAGGED,
        consumption__isnull=False,
    ).values_list("id", flat=True)
    for reading_id in list(vip):
        do_accept_reading(reading_id, actor=actor, note=note)
        accepted += 1
    return accepted


def _cycles_of(billed: pl.DataFrame, readings: pl.DataFrame, code: str) -> list[str]:
    found = set(billed.filter(pl.col("period") == code)["cycle"].to_list())
    found |= set(readings.filter(pl.col("period") == code)["cycle"].to_list())
    return sorted(c for c in found if c)


def _readings_csv(part: pl.DataFrame) -> pl.DataFrame:
    """The readings CSV format of ``caudal import-readings`` (docs/reading.md)."""
    return part.select(
        "account_number",
        "period",
        pl.col("value").cast(pl.String).fill_null("").alias("reading"),
        (pl.col("read_on").dt.strftime("%Y-%m-%d") + " 09:30:00").alias("read_at"),
        "observation",
        pl.lit(READER).alias("reader"),
    )


def _load_reading_history(history: pl.DataFrame) -> int:
    """Migrated readings of the periods before the billed ones, already critiqued."""
    from caudal.cadastre.imports import bulk_insert, bulk_session, db_datetime, fetch_frame

    if history.height == 0:
        return 0
    with transaction.atomic(), bulk_session(), connection.cursor() as cursor:
        ids = fetch_frame(
            cursor,
            "SELECT a.id, a.number, p.route_id, m.id FROM cadastre_account a "
            "JOIN cadastre_property p ON p.id = a.property_id "
            "LEFT JOIN cadastre_meter m ON m.account_id = a.id AND m.removed_on IS NULL",
            [],
            {
                "account_id": pl.Int64,
                "account_number": pl.String,
                "route_id": pl.Int64,
                "meter_id": pl.Int64,
            },
        )
        now = db_datetime(timezone.now())
        rows = history.join(ids, on="account_number", how="inner").select(
            "account_id",
            "period",
            "route_id",
            "meter_id",
            pl.col("previous").alias("previous_value"),
            pl.col("true_value").alias("value"),
            (pl.col("read_on").dt.strftime("%Y-%m-%d") + " 14:30:00").alias("read_at"),
            pl.lit("").alias("observation"),
            pl.lit("system").alias("source"),
            pl.lit("").alias("photo"),
            pl.lit("").alias("client_uuid"),
            pl.lit("ok").alias("status"),
            pl.lit("").alias("flags"),
            "consumption",
            pl.lit("actual").alias("consumption_rule"),
            pl.lit(False).alias("control_sample"),
            pl.lit("Historial de lecturas migrado").alias("note"),
            pl.lit(now).alias("updated_at"),
        )
        bulk_insert(cursor, "metering_reading", rows)
    return rows.height
