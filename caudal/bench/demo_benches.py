"""Benchmarks on a demo utility: building it, posting payments, the account 360 page.

``caudal bench demo --size N`` builds the demo (generation, CSV files, both imports) on the
fresh database the bench command prepared. ``ledger-payment`` and ``account-page`` build a
demo of ``--size`` accounts first, unless the database already has accounts (``--db PATH``
reusing one that ``caudal bench demo --keep --workdir DIR`` left), in which case they use it
as it is.

Every benchmark reports a floor measured on the same database, so the ratio says how far
the code is from the cost of the bare SQL:

- ``demo``: the same number of rows written with plain ``executemany`` into the same
  tables (same indexes and triggers), in a transaction rolled back, before the build;
- ``ledger-payment``: the same number of bare payment inserts (one document, one line, one
  open item per payment) through the raw cursor, rolled back;
- ``account-page``: one indexed ``SELECT`` of the account row by number.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from caudal.bench.harness import benchmark, percentiles
from caudal.demo.build import build_demo, database_counts
from caudal.demo.generator import DemoData, DemoSpec, generate

DEMO_MONTHS = 12
SEED = 20261
FLOOR_CHUNK = 50_000


def _populated() -> bool:
    return database_counts()["accounts"] > 0


def _ensure_demo(size: int) -> dict[str, Any]:
    """Build a demo of ``size`` accounts unless the database already has one."""
    if _populated():
        return {"reused_database": True, **database_counts()}
    started = time.perf_counter()
    build_demo(DemoSpec(accounts=size, months=DEMO_MONTHS, seed=SEED, as_of=_today()))
    return {"reused_database": False, "build_seconds": round(time.perf_counter() - started, 1)}


def _today() -> date:
    return timezone.localdate()


# --------------------------------------------------------------------------------- demo


@benchmark(
    "demo",
    default_size=20_000,
    description="caudal demo: generate + write CSV + import cadastre and 12 months of cartera",
)
def bench_demo(size: int, workdir: Path) -> dict[str, Any]:
    if _populated():
        raise SystemExit("bench demo needs an empty database (do not pass --db of a built demo)")
    spec = DemoSpec(accounts=size, months=DEMO_MONTHS, seed=SEED, as_of=_today())
    demo = generate(spec)
    floor_rows, floor_seconds = _floor_inserts(demo)
    del demo
    started = time.perf_counter()
    report = build_demo(spec, folder=workdir / "demo")
    seconds = time.perf_counter() - started
    counts = database_counts()
    return {
        "seconds": seconds,
        "rows": {"accounts": counts["accounts"], "items": counts["items"]},
        "rows_written": floor_rows,
        "stages": {name: round(s, 2) for name, s in report.stages},
        "floor_seconds": floor_seconds,
        "floor": "executemany of the same rows into the same tables, rolled back",
    }


def _floor_inserts(demo: DemoData) -> tuple[int, float]:
    """Plain ``executemany`` of as many rows as the build writes, into the same tables,
    in one transaction that is rolled back. Returns (rows, seconds)."""
    tables = list(_floor_tables(demo))
    total = 0
    started = time.perf_counter()
    mark = "?" if connection.vendor == "sqlite" else "%s"
    with transaction.atomic():
        cursor = connection.connection.cursor()  # the DB-API cursor, no Django wrapper
        for table, frame in tables:
            columns = ", ".join(frame.columns)
            marks = ", ".join([mark] * frame.width)
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            for offset in range(0, frame.height, FLOOR_CHUNK):
                cursor.executemany(sql, frame.slice(offset, FLOOR_CHUNK).rows())
            total += frame.height
        cursor.close()
        transaction.set_rollback(True)
    return total, time.perf_counter() - started


def _floor_tables(demo: DemoData) -> Iterator[tuple[str, pl.DataFrame]]:
    """The rows the imports write, table by table, parents first (ids from 1)."""
    now = datetime.now(tz=timezone.get_current_timezone()).isoformat(sep=" ")
    topo = demo.topology
    acc = demo.accounts.with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))
    yield (
        "cadastre_municipality",
        topo.municipalities.select(
            pl.int_range(1, pl.len() + 1).alias("id"), "code", "name", "department", "altitude_m"
        ),
    )
    for table, frame in (
        ("cadastre_zone", topo.zones),
        ("cadastre_sector", topo.sectors),
    ):
        parent = "municipality_id" if table == "cadastre_zone" else "zone_id"
        yield (
            table,
            frame.select(
                pl.int_range(1, pl.len() + 1).alias("id"), "code", "name", pl.lit(1).alias(parent)
            ),
        )
    yield (
        "cadastre_cycle",
        topo.cycles.select(
            pl.int_range(1, pl.len() + 1).alias("id"),
            "code",
            "name",
            "reading_day",
            "billing_day",
            "due_days",
        ),
    )
    yield (
        "cadastre_route",
        topo.routes.select(
            pl.int_range(1, pl.len() + 1).alias("id"),
            "code",
            "name",
            pl.lit(1).alias("sector_id"),
            pl.lit(1).alias("cycle_id"),
        ),
    )
    customers = acc.unique(["doc_type", "doc_number"], keep="first", maintain_order=True)
    yield (
        "cadastre_customer",
        customers.select(
            pl.int_range(1, pl.len() + 1).alias("id"),
            "doc_type",
            "doc_number",
            pl.col("customer_name").alias("name"),
            "email",
            "phone",
            "mobile",
            "consent_email",
            "consent_sms",
            pl.col("consent_date").cast(pl.String),
            pl.lit(now).alias("created_at"),
        ),
    )
    yield (
        "cadastre_property",
        acc.select(
            "id",
            "cadastral_code",
            "address",
            pl.lit(1).alias("municipality_id"),
            pl.lit(1).alias("zone_id"),
            pl.lit(1).alias("sector_id"),
            pl.lit(1).alias("route_id"),
            "sequence",
            pl.col("latitude").cast(pl.String),
            pl.col("longitude").cast(pl.String),
            pl.lit("").alias("municipal_ref"),
        ),
    )
    yield (
        "cadastre_account",
        acc.select(
            "id",
            pl.col("account_number").alias("number"),
            ((pl.col("id") - 1) % customers.height + 1).alias("customer_id"),
            pl.col("id").alias("property_id"),
            "category",
            "units",
            "stratum",
            "segment",
            pl.lit(1).alias("cycle_id"),
            pl.col("opened_on").cast(pl.String),
            pl.lit(now).alias("updated_at"),
        ),
    )
    conns = pl.concat(
        [
            acc.select(
                pl.col("id").alias("account_id"),
                pl.lit("water").alias("service"),
                pl.col("water_status").alias("status"),
                pl.col("water_since").cast(pl.String).alias("status_since"),
            ),
            acc.filter(pl.col("sewer_status") != "").select(
                pl.col("id").alias("account_id"),
                pl.lit("sewer").alias("service"),
                pl.col("sewer_status").alias("status"),
                pl.col("sewer_since").cast(pl.String).alias("status_since"),
            ),
        ]
    ).with_row_index("id", offset=1)
    yield (
        "cadastre_connection",
        conns.select("id", "account_id", "service", "status", "status_since"),
    )
    yield (
        "cadastre_connectionstatuschange",
        conns.select(
            "id",
            pl.col("id").alias("connection_id"),
            "status",
            pl.lit("").alias("previous_status"),
            pl.col("status_since").alias("effective_on"),
            pl.lit("Importación de catastro").alias("reason"),
            pl.lit(now).alias("recorded_at"),
        ),
    )
    yield (
        "cadastre_meter",
        acc.filter(pl.col("meter_serial").is_not_null()).select(
            pl.int_range(1, pl.len() + 1).alias("id"),
            pl.col("id").alias("account_id"),
            pl.col("meter_serial").alias("serial"),
            pl.col("meter_brand").alias("brand"),
            pl.col("meter_diameter").alias("diameter"),
            pl.col("meter_digits").alias("digits"),
            pl.col("meter_installed_on").cast(pl.String).alias("installed_on"),
            pl.lit(None, dtype=pl.String).alias("removed_on"),
            pl.lit("installed").alias("status"),
        ),
    )
    lines = demo.balances.select(
        (pl.col("acct") + 1).alias("account_id"),
        pl.col("document_reference").cast(pl.String),
        pl.col("concept").cast(pl.String),
        pl.col("issue_date").cast(pl.String),
        pl.col("due_date").cast(pl.String),
        "amount",
    ).with_row_index("id", offset=1)
    docs = (
        lines.group_by("account_id", "document_reference", maintain_order=True)
        .agg(pl.col("issue_date").first(), pl.col("amount").sum())
        .with_row_index("id", offset=1)
    )
    lines = lines.join(
        docs.select(pl.col("id").alias("document_id"), "account_id", "document_reference"),
        on=["account_id", "document_reference"],
        maintain_order="left",
    ).with_columns(
        (pl.int_range(pl.len()).over("document_id") + 1).alias("line_no"),
    )
    yield (
        "ledger_document",
        docs.select(
            "id",
            "account_id",
            pl.lit("opening").alias("kind"),
            pl.col("document_reference").alias("reference"),
            pl.col("issue_date").alias("document_date"),
            pl.col("issue_date").alias("posting_date"),
            "amount",
            pl.lit(None, dtype=pl.Int64).alias("reverses_id"),
            pl.lit("").alias("reason"),
            pl.lit("import-balances").alias("source"),
            pl.lit(None, dtype=pl.Int64).alias("created_by_id"),
            pl.lit(now).alias("created_at"),
        ),
    )
    yield (
        "ledger_documentline",
        lines.select(
            "id", "document_id", "line_no", "concept", "amount", pl.lit("").alias("description")
        ),
    )
    yield (
        "ledger_openitem",
        lines.select(
            "id",
            "account_id",
            "document_id",
            pl.col("id").alias("line_id"),
            "concept",
            pl.when(pl.col("amount") > 0).then(pl.lit("D")).otherwise(pl.lit("C")).alias("side"),
            "issue_date",
            "due_date",
            pl.col("amount").abs().alias("amount"),
            pl.col("amount").abs().alias("open_amount"),
            pl.lit(None, dtype=pl.String).alias("cleared_on"),
            pl.lit(False).alias("blocked"),
            pl.lit("").alias("block_reason"),
        ),
    )


# ----------------------------------------------------------------------- ledger-payment

PAYMENTS = 2_000


@benchmark(
    "ledger-payment",
    default_size=20_000,
    description="2,000 single payments (do_post_payment) on accounts with open debt",
)
def bench_ledger_payment(size: int, workdir: Path) -> dict[str, Any]:
    from caudal.ledger.actions import do_post_payment

    setup = _ensure_demo(size)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT account_id FROM ledger_openitem WHERE open_amount > 0 AND side = 'D'"
        )
        debtors = sorted(row[0] for row in cursor.fetchall())
    rng = random.Random(SEED)
    chosen = rng.sample(debtors, min(PAYMENTS, len(debtors)))
    amounts = [rng.randint(10, 300) * 100 for _ in chosen]
    today = _today()
    stamp = time.strftime("%Y%m%d%H%M%S")

    floor_ms = _payment_floor(chosen, amounts, today)

    samples: list[float] = []
    started = time.perf_counter()
    for i, (account_id, amount) in enumerate(zip(chosen, amounts, strict=True)):
        t0 = time.perf_counter()
        do_post_payment(
            account_id,
            amount=amount,
            payment_date=today,
            reference=f"BENCH-{stamp}-{i:05d}",
            source="bench",
            actor="bench",
        )
        samples.append((time.perf_counter() - t0) * 1000)
    seconds = time.perf_counter() - started
    floor = percentiles(floor_ms)
    return {
        "seconds": seconds,
        "rate_per_s": round(len(samples) / seconds, 1),
        "payments": len(samples),
        **percentiles(samples),
        "floor_seconds": sum(floor_ms) / 1000,
        "floor_p99_ms": floor.get("p99_ms"),
        "floor_p50_ms": floor.get("p50_ms"),
        "p99_ratio": round(percentiles(samples)["p99_ms"] / floor["p99_ms"], 2)
        if floor.get("p99_ms")
        else None,
        "floor": "raw INSERT of 1 document + 1 line + 1 open item, one transaction per "
        "payment, rolled back",
        **setup,
    }


def _payment_floor(accounts: list[int], amounts: list[int], today: date) -> list[float]:
    """Bare inserts of a payment (document, line, open item) per account, each in its own
    transaction, timed from BEGIN to the end of the transaction, which is rolled back (the
    ledger tables are append-only, so nothing of the floor may stay)."""
    now = timezone.now().isoformat(sep=" ")
    day = today.isoformat()
    samples: list[float] = []
    with connection.cursor() as cursor:
        ids = []
        for table in ("ledger_document", "ledger_documentline", "ledger_openitem"):
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            ids.append(int(cursor.fetchone()[0]) + 1)
    doc_id, line_id, item_id = ids
    for i, (account_id, amount) in enumerate(zip(accounts, amounts, strict=True)):
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_document (id, account_id, kind, reference, document_date, "
                "posting_date, amount, reason, source, created_at) "
                "VALUES (%s, %s, 'payment', %s, %s, %s, %s, '', 'bench-floor', %s)",
                [doc_id, account_id, f"FLOOR-{i}", day, day, -amount, now],
            )
            cursor.execute(
                "INSERT INTO ledger_documentline (id, document_id, line_no, concept, amount, "
                "description) VALUES (%s, %s, 1, 'payment', %s, '')",
                [line_id, doc_id, -amount],
            )
            cursor.execute(
                "INSERT INTO ledger_openitem (id, account_id, document_id, line_id, concept, "
                "side, issue_date, due_date, amount, open_amount, blocked, block_reason) "
                "VALUES (%s, %s, %s, %s, 'payment', 'C', %s, %s, %s, %s, %s, '')",
                [item_id, account_id, doc_id, line_id, day, day, amount, amount, False],
            )
            transaction.set_rollback(True)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


# ------------------------------------------------------------------------- account-page

PAGE_REQUESTS = 500
PAGE_WARMUP = 50


@benchmark(
    "account-page",
    default_size=20_000,
    description="the account 360 page (/suministros/<number>/) as customer service, 500 GETs",
)
def bench_account_page(size: int, workdir: Path) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client, override_settings
    from django.urls import reverse

    from caudal.audit.roles import ensure_roles

    setup = _ensure_demo(size)
    ensure_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench.atencion")
    user.groups.set([Group.objects.get(name="customer_service")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM cadastre_account")
        numbers = sorted(row[0] for row in cursor.fetchall())
    rng = random.Random(SEED)
    chosen = rng.sample(numbers, min(PAGE_REQUESTS + PAGE_WARMUP, len(numbers)))
    # the manifest of collected static files is not needed to time the page
    plain_static = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    samples: list[float] = []
    with override_settings(STORAGES=plain_static):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        for i, number in enumerate(chosen):
            url = reverse("account-detail", args=[number])
            t0 = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - t0) * 1000
            if response.status_code != 200:
                raise SystemExit(f"GET {url} answered {response.status_code}")
            if i >= PAGE_WARMUP:
                samples.append(elapsed)
    floor_ms: list[float] = []
    with connection.cursor() as cursor:
        for number in chosen[PAGE_WARMUP:]:
            t0 = time.perf_counter()
            cursor.execute("SELECT * FROM cadastre_account WHERE number = %s", [number])
            cursor.fetchall()
            floor_ms.append((time.perf_counter() - t0) * 1000)
    page = percentiles(samples)
    floor = percentiles(floor_ms)
    return {
        "seconds": sum(samples) / 1000,
        "rate_per_s": round(len(samples) / (sum(samples) / 1000), 1),
        "requests": len(samples),
        **page,
        "floor_seconds": sum(floor_ms) / 1000,
        "floor_p95_ms": floor.get("p95_ms"),
        "p95_ratio": round(page["p95_ms"] / floor["p95_ms"], 1) if floor.get("p95_ms") else None,
        "floor": "one indexed SELECT of the account row by number",
        **setup,
    }
