"""The demo's collection channels: centres, keys, and the history payments through them.

The demo used to pay its history bills with the ledger's bulk settlement. The payments now
go through the channels a utility has (issue 4), chosen per account by a stable hash so
that an account keeps paying where it usually pays:

- **banks** (about 40 %): one file per bank and day (Asobancaria 2001 in Colombia, a CSV
  in Peru; the second bank sends ISO 20022 camt.054), imported with ``import_payments``
  as a bank's file would be; the files stay in the demo folder under ``pagos/``;
- **collection centres (CAR)** (about 40 %): posted one by one through the same path as
  the API (``do_post_centre_payment``, with an idempotency key) for the last billed
  period; for older periods the centres' daily files (CSV) are imported, as a utility that
  moved its CAR to the online API would have them;
- **the utility's own cash desk** (about 20 %): the same payment path, at a counter.

Every centre's past days are then closed (daily settlement, commission, expected deposit)
and deposits registered: most on time, a few late, one with a shortfall, the last day
still pending, so the supervisor's page has something to chase. A cashier session of
today is closed with a small shortage. One API key is issued for the first CAR and written
to ``car-api-key.txt`` in the demo folder, for ``docs/examples/car_client.py``.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from django.db import connection
from django.utils import timezone

from .data import Profile

OFFICE = "OFICINA"
CARS = ("CAR01", "CAR02", "CAR03")
BANKS = ("BANCO1", "BANCO2")

#: Channel of an account: hash bucket (0-99) → centre code.
_SHARES = ((20, OFFICE), (33, "CAR01"), (47, "CAR02"), (60, "CAR03"), (85, "BANCO1"))


def setup_centres(profile: Profile, *, actor: str) -> dict[str, Any]:
    """Create the demo's centres and points (idempotent) and issue a key for CAR01."""
    from caudal.collection.models import AmountRule, Centre, CentreKind, PaymentPoint

    co = profile.country == "CO"
    unit = 100 if not co else 100 * 100  # céntimos of a sol / centavos of a peso
    specs = [
        (
            OFFICE,
            f"Oficinas comerciales {profile.short_name}",
            CentreKind.OFFICE,
            AmountRule.ANY,
            0,
            "0",
            0,
        ),
        (
            "CAR01",
            "Bodega La Económica",
            CentreKind.CAR,
            AmountRule.EXACT,
            int(Decimal("0.80") * unit) if not co else 8 * unit,
            "0",
            0,
        ),
        (
            "CAR02",
            "Farmacia San Martín",
            CentreKind.CAR,
            AmountRule.EXACT,
            int(Decimal("0.80") * unit) if not co else 8 * unit,
            "0",
            0,
        ),
        (
            "CAR03",
            "Minimarket El Sol",
            CentreKind.CAR,
            AmountRule.PARTIAL,
            0,
            "0.01000",
            int(Decimal("0.50") * unit) if not co else 5 * unit,
        ),
        (
            "BANCO1",
            "Banco Regional",
            CentreKind.BANK,
            AmountRule.ANY,
            int(Decimal("1.20") * unit) if not co else 12 * unit,
            "0",
            0,
        ),
        ("BANCO2", "Banco Cooperativo", CentreKind.BANK, AmountRule.ANY, 0, "0.00500", 0),
    ]
    for code, name, kind, rule, fixed, rate, minimum in specs:
        centre, _created = Centre.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "amount_rule": rule,
                "commission_fixed": fixed,
                "commission_rate": Decimal(rate),
                "commission_minimum": minimum,
                "deposit_account": f"191-{zlib.crc32(code.encode()) % 10**8:08d}-0-{len(code)}",
                "tax_id": "",
            },
        )
        points = 2 if kind == CentreKind.OFFICE else 1
        for n in range(1, points + 1):
            PaymentPoint.objects.get_or_create(
                centre=centre,
                code=f"{n:04d}",
                defaults={"name": (f"Caja {n}" if kind == CentreKind.OFFICE else "Principal")},
            )
    return {"centres": len(specs)}


def issue_demo_key(folder: Path, *, actor: str) -> str:
    from caudal.collection.actions import do_issue_key
    from caudal.collection.models import Centre

    _key, raw = do_issue_key(Centre.objects.get(code="CAR01"), label="demo", actor=actor)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "car-api-key.txt").write_text(raw + "\n", encoding="utf-8")
    return raw


def channel_of(numbers: pl.Series) -> pl.Series:
    """Stable centre code per account number."""
    buckets = pl.Series([zlib.crc32(n.encode()) % 100 for n in numbers.to_list()])
    expr = pl.lit("BANCO2")
    for upper, code in reversed(_SHARES):
        expr = pl.when(pl.col("b") < upper).then(pl.lit(code)).otherwise(expr)
    return pl.DataFrame({"b": buckets}).select(expr.alias("centre"))["centre"]


def _open_amounts(document_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(document_ids), 20_000):
            part = document_ids[start : start + 20_000]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                "SELECT document_id, SUM(open_amount) FROM ledger_openitem "
                f"WHERE side = 'D' AND NOT blocked AND document_id IN ({marks}) "
                "GROUP BY document_id",
                part,
            )
            out.update({d: int(a) for d, a in cursor.fetchall()})
    return out


def pay_period(
    code: str,
    payments: pl.DataFrame,
    *,
    profile: Profile,
    as_of: date,
    folder: Path,
    online: bool,
    actor: str,
) -> dict[str, int]:
    """Pay the bills of period ``code`` that the behaviour says were paid, through the
    channels (module docstring). ``online``: CAR and office payments one by one through
    the payment path (the last billed period); else CAR payments come as daily files."""
    from caudal.billing.models import Bill

    wanted = payments.filter((pl.col("period") == code) & pl.col("paid_on").is_not_null())
    counts = {"paid": 0, "files": 0, "online": 0}
    if wanted.height == 0:
        return counts
    rows = list(
        Bill.objects.filter(period=code, document__isnull=False).values_list(
            "account__number", "document_id", "issue_date", "payment_reference"
        )
    )
    if not rows:
        return counts
    issued = pl.DataFrame(
        rows,
        schema={
            "account_number": pl.String,
            "document_id": pl.Int64,
            "issue_date": pl.Date,
            "payment_reference": pl.String,
        },
        orient="row",
    )
    frame = (
        wanted.join(issued, on="account_number", how="inner")
        .with_columns(pl.max_horizontal("paid_on", "issue_date").alias("paid_on"))
        .filter(pl.col("paid_on") < pl.lit(as_of))
    )
    open_now = _open_amounts(frame["document_id"].to_list())
    frame = (
        frame.with_columns(
            pl.col("document_id").replace_strict(open_now, default=0).alias("amount"),
            channel_of(frame["account_number"]).alias("centre"),
        )
        .filter(pl.col("amount") > 0)
        .sort("paid_on", "account_number")
    )
    pay_dir = folder / "pagos"
    pay_dir.mkdir(parents=True, exist_ok=True)
    file_centres = list(BANKS) + ([] if online else list(CARS))
    for centre in file_centres:
        part = frame.filter(pl.col("centre") == centre)
        for day_frame in part.partition_by("paid_on", maintain_order=True):
            counts["paid"] += _import_day(
                centre, day_frame, period=code, profile=profile, folder=pay_dir, actor=actor
            )
            counts["files"] += 1
    direct = frame.filter(~pl.col("centre").is_in(file_centres))
    counts["online"] = _post_online(direct, actor=actor)
    counts["paid"] += counts["online"]
    return counts


def _import_day(
    centre: str, frame: pl.DataFrame, *, period: str, profile: Profile, folder: Path, actor: str
) -> int:
    """One file of a centre's payments of one day for the bills of ``period`` (a bank sends
    one file per day and service; the demo sends one per billed period paid that day)."""
    from caudal.collection.formats import asobancaria, camt054, csvfile
    from caudal.collection.imports import import_payments

    day: date = frame["paid_on"][0]
    records = frame.select(
        pl.col("payment_reference").alias("reference"),
        "amount",
        "paid_on",
        pl.lit("cash").alias("method"),
        (
            pl.lit(f"{centre}-{day:%Y%m%d}-{period.replace('-', '')}-")
            + pl.int_range(1, pl.len() + 1).cast(pl.String)
        ).alias("external_reference"),
        pl.lit("").alias("point"),
    )
    if centre == "BANCO2":
        fmt, suffix = "camt054", "xml"
        data = camt054.write(
            records.with_columns(pl.lit("transfer").alias("method")),
            account="CO0012345678901234" if profile.country == "CO" else "PE00191000123456789",
            created_at=datetime.combine(day + timedelta(days=1), time(6, 0)),
            currency=profile.currency,
            message_id=f"DEMO-{centre}-{day:%Y%m%d}-{period}",
            group_by_day=True,
        )
    elif centre == "BANCO1" and profile.country == "CO":
        fmt, suffix = "asobancaria2001", "txt"
        data = asobancaria.write(
            records.select("reference", "amount", "method", "paid_on"),
            collector_nit=profile.tax_id_base[:10].rjust(10, "0"),
            file_date=day + timedelta(days=1),
            collection_date=day,
        )
    else:
        fmt, suffix = "csv", "csv"
        data = csvfile.write(records)
    name = f"{centre}-{day:%Y%m%d}-{period}.{suffix}"
    (folder / name).write_bytes(data)
    result = import_payments(data, fmt=fmt, centre=centre, actor=actor, file_name=name)
    if not result.ok:
        raise RuntimeError(f"{name}: {result.errors[:5]}")
    return int(result.counts().get("posted", frame.height))


def _post_online(frame: pl.DataFrame, *, actor: str) -> int:
    from caudal.collection import actions
    from caudal.collection.errors import PaymentRefused
    from caudal.collection.models import Centre

    centres = {c.code: c for c in Centre.objects.filter(code__in=[OFFICE, *CARS])}
    points = {c.code: c.points.order_by("code").first() for c in centres.values()}
    posted = 0
    for n, row in enumerate(frame.iter_rows(named=True)):
        centre = centres[row["centre"]]
        when = timezone.make_aware(datetime.combine(row["paid_on"], time(8 + n % 10, (7 * n) % 60)))
        amount = int(row["amount"])
        if centre.amount_rule == "exact":
            # An exact centre asks for what the bill's reference is due now (the bill's
            # total when older debt is still open): the customer pays that.
            account, bill = actions.resolve(row["payment_reference"])
            amount = actions.debt(account, bill, on=row["paid_on"]).due
            if amount <= 0:
                continue
        try:
            actions.do_post_centre_payment(
                centre=centre,
                reference=row["payment_reference"],
                amount=amount,
                method="cash",
                idempotency_key=f"demo-{row['document_id']}",
                point=points[centre.code],
                received_at=when,
                actor=f"api:{centre.code}:demo" if centre.code != OFFICE else "cajero",
            )
        except PaymentRefused:
            continue  # the bill was paid meanwhile through another channel
        posted += 1
    return posted


def settle_history(*, as_of: date, actor: str) -> dict[str, int]:
    """Close every centre's past days and register their deposits (see module docstring)."""
    from caudal.collection.models import Centre, DailySettlement, Payment
    from caudal.collection.settlement import do_close_day, do_register_deposit, refresh_overdue

    counts = {"settlements": 0, "deposits": 0}
    last = Payment.objects.order_by("-payment_date").values_list("payment_date", flat=True).first()
    for centre in Centre.objects.order_by("code"):
        days = sorted(
            set(
                Payment.objects.filter(centre=centre, settlement__isnull=True)
                .values_list("payment_date", flat=True)
                .distinct()
            )
        )
        for day in days:
            if day >= as_of:
                continue
            closed_at = timezone.make_aware(datetime.combine(day, time(20, 0)))
            settlement = do_close_day(centre, day, actor=actor, now=closed_at)
            counts["settlements"] += 1
            if day == last:
                continue  # the last day's deposit is still pending
            seed = zlib.crc32(f"{centre.code}{day}".encode()) % 100
            deposit_at = settlement.deposit_due_at - timedelta(minutes=45)
            amount = settlement.expected_deposit
            if seed < 5:
                deposit_at = settlement.deposit_due_at + timedelta(hours=3)  # late
            elif seed < 8:
                amount -= min(amount, 50 * 100)  # a shortfall
            do_register_deposit(
                settlement,
                amount=amount,
                deposited_at=deposit_at,
                reference=f"DEP-{centre.code}-{day:%Y%m%d}",
                actor=actor,
                now=settlement.deposit_due_at + timedelta(days=1),
            )
            counts["deposits"] += 1
    refresh_overdue()
    counts["late"] = DailySettlement.objects.filter(status="late").count()
    return counts


def cashier_day(*, actor: str) -> dict[str, int]:
    """Today's closed session of the demo cashier: a few payments, a small shortage."""
    from django.contrib.auth import get_user_model

    from caudal.collection import cashdesk
    from caudal.collection.actions import debt, resolve
    from caudal.collection.errors import PaymentRefused
    from caudal.collection.models import Centre
    from caudal.ledger.models import OpenItem

    user = get_user_model().objects.filter(username="cajero").first()
    office = Centre.objects.filter(code=OFFICE).first()
    point = office.points.order_by("code").last() if office is not None else None
    if user is None or point is None:
        return {"session_payments": 0}
    session = cashdesk.do_open_session(user, point, 20_000, actor=user)
    accounts = list(
        OpenItem.objects.filter(side="D", open_amount__gt=0, blocked=False)
        .values_list("account__number", flat=True)
        .distinct()
        .order_by("account__number")[:8]
    )
    taken = 0
    for n, number in enumerate(accounts):
        account, _bill = resolve(number)
        due = debt(account).due
        if due <= 0:
            continue
        method = ("cash", "cash", "card", "cheque")[n % 4]
        try:
            cashdesk.do_take_payment(
                session,
                reference=number,
                amount=due,
                method=method,
                tendered=(due + 1_000 - due % 1_000) if method == "cash" else None,
                cheque_bank="Banco Regional" if method == "cheque" else "",
                cheque_number=f"{100200 + n}" if method == "cheque" else "",
                card_last4="4242" if method == "card" else "",
                card_authorization=f"A{n:05d}" if method == "card" else "",
                client_key=f"demo-session-{session.pk}-{n}",
                actor=user,
            )
        except PaymentRefused:
            continue
        taken += 1
    expected = cashdesk.expected_amounts(session)
    counted = dict(expected)
    counted["cash"] = max(0, counted.get("cash", 0) - 1_000)  # a 10.00 shortage
    cashdesk.do_close_session(session, counted, "Faltante por revisar", actor=user)
    return {"session_payments": taken}
