"""The billing run: ``run_billing(period, cycle=..., simulate=...)`` (``caudal bill``).

Two phases:

1. **Plan** (columnar, once for the whole run): load every account of the cycle(s) with
   its attributes, connections, meter and the period's reading (one query), the calendars,
   the tariff version valid on the period's first day, historical averages where needed,
   the accounts already billed for the period; decide consumption and services
   (``rules.determine``), refuse what the tariff cannot price (``pricing.unpriceable``),
   price the rest (``pricing.price_accounts``) and explain every line as JSON
   (``rules.lines_json``). Nothing is written.
2. **Chunks** (one per route, ``audit.RunChunk``; each one database transaction): lock the
   route's accounts and the ledger tables (PostgreSQL), skip accounts billed meanwhile,
   read their open items (previous debt, overdue bills, open credits), number the ledger
   rows and the bills, apply open credits to the new items, and write documents, lines,
   open items, clearings and bills with bulk inserts (``caudal.ledger.bulk``); then mark
   the chunk done and update the run's counts, in the same transaction.

Guarantees: a chunk is atomic (all of the route or nothing); a run is idempotent per
(account, period) — an account that has a bill for the period is skipped, and the unique
``(account, period, version)`` of ``Bill`` backs it up; a killed run restarted with the
same parameters continues the same ``Run`` (chunks done are skipped; the chunk that was
being written was rolled back by the database). Every account not billed is listed with
its reason in its route's ``RunChunk.errors``. A simulation does all of the above except
writing ledger rows and bills, and reports totals and the comparison with the previous
period in ``Run.counts``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.audit.models import Run, RunChunk, RunStatus
from caudal.cadastre.imports import bulk_session, db_datetime
from caudal.cadastre.models import Cycle, Route, UtilitySettings
from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period
from caudal.ledger import bulk
from caudal.ledger import rules as ledger_rules
from caudal.metering.models import ReadingCalendar
from caudal.tariffs import pricing
from caudal.tariffs import queries as tariff_queries
from caudal.tariffs.models import TariffVersion
from caudal.tariffs.schema import Tariff

from . import queries, rules

KIND = queries.RUN_KIND
SOURCE = "billing-run"
#: Periods of reading history behind the average of a removed meter.
HISTORY_PERIODS = 6

Progress = Callable[[int, int, dict[str, Any]], None]


# =========================================================================================
# Parameters and the Run row
# =========================================================================================


def policy(notices: Sequence[str] = ()) -> rules.BillingPolicy:
    """The billing policy: ``settings.CAUDAL_BILLING`` over the defaults, the utility's
    grace days, and the notices of this run."""
    data = dict(getattr(settings, "CAUDAL_BILLING", {}) or {})
    data.setdefault("grace_days", UtilitySettings.current().grace_days)
    if notices:
        data["notices"] = list(data.get("notices", ())) + list(notices)
    return rules.BillingPolicy.from_mapping(data)


def parameters(
    period: str,
    *,
    cycle: str | None,
    simulate: bool,
    hold_unresolved: bool,
    notices: Sequence[str] = (),
) -> dict[str, Any]:
    """Check the parameters of a run (``DomainError`` with a clear message) and return
    them as stored on ``Run.parameters``."""
    try:
        Period.parse(period)
    except ValueError as exc:
        raise DomainError(
            _("Periodo no válido: %(period)r (use AAAA-MM, por ejemplo 2026-11).")
            % {"period": period}
        ) from exc
    code = (cycle or "").strip() or None
    if code and not Cycle.objects.filter(code=code).exists():
        raise DomainError(_("No existe el ciclo %(cycle)s.") % {"cycle": code})
    return {
        "period": period.strip(),
        "cycle": code,
        "simulate": bool(simulate),
        "hold_unresolved": bool(hold_unresolved),
        "notices": [n.strip() for n in notices if n and n.strip()],
    }


def start(
    period: str,
    *,
    cycle: str | None = None,
    simulate: bool = False,
    hold_unresolved: bool = True,
    notices: Sequence[str] = (),
    actor: ActorLike,
) -> Run:
    """The ``Run`` row for these parameters: the unfinished billing run with the same
    parameters if there is one (it is resumed), otherwise a new one. Simulations always
    start afresh."""
    params = parameters(
        period, cycle=cycle, simulate=simulate, hold_unresolved=hold_unresolved, notices=notices
    )
    if not simulate:
        for run in Run.objects.filter(
            kind=KIND, status__in=[RunStatus.RUNNING, RunStatus.FAILED]
        ).order_by("-id"):
            stored = run.parameters or {}
            if {key: stored.get(key) for key in params} == params:
                return run
    user, label = actor_parts(actor)
    return Run.objects.create(
        kind=KIND, actor=user, parameters={**params, "actor": label}, counts={"phase": "queued"}
    )


def run_billing(
    period: str,
    *,
    cycle: str | None = None,
    simulate: bool = False,
    actor: ActorLike,
    hold_unresolved: bool = True,
    notices: Sequence[str] = (),
    progress: Progress | None = None,
) -> Run:
    """Bill ``period`` for one cycle (or all): see the module docstring. Returns the Run,
    whose ``counts`` hold the summary. Bad parameters raise ``DomainError``."""
    run = start(
        period,
        cycle=cycle,
        simulate=simulate,
        hold_unresolved=hold_unresolved,
        notices=notices,
        actor=actor,
    )
    return execute(run, actor=actor, progress=progress)


# =========================================================================================
# Phase 1: the plan
# =========================================================================================


@dataclass
class Plan:
    period: str
    tariff_version: TariffVersion
    tariff: Tariff
    policy: rules.BillingPolicy
    calendars: dict[int, ReadingCalendar]
    #: every account of the scope: account_id, number, route_id, outcome, reason, detail
    accounts: pl.DataFrame
    #: accounts to bill: one row each (see ``_bill_frame``)
    bills: pl.DataFrame
    #: priced lines of each distinct pricing input (``combo``): combo, line_no, concept,
    #: amount, description, …
    lines: pl.DataFrame
    routes: dict[int, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: distinct pricing inputs priced
    combos: int = 0
    #: route id → (first row, rows) of its bills in ``bills``
    slices: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: combo → its lines as Python lists: (line numbers, concepts, amounts, descriptions)
    combo_lines: dict[int, tuple[list[int], list[str], list[int], list[str]]] = field(
        default_factory=dict
    )
    #: route id → counts by category / amounts by concept of the route's bills
    by_category: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    by_concept: dict[int, dict[str, int]] = field(default_factory=dict)
    #: route id → held and rejected accounts; route id → accounts already billed
    problems: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    already: dict[int, int] = field(default_factory=dict)


ALREADY = "already_billed"


def _calendar_frame(cals: dict[int, ReadingCalendar]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cycle_id": list(cals),
            "months": [c.months for c in cals.values()],
            "billing_date": [c.billing_date for c in cals.values()],
            "due_date": [c.due_date for c in cals.values()],
            "cut_warning_date": [c.cut_warning_date for c in cals.values()],
        },
        schema={
            "cycle_id": pl.Int64,
            "months": pl.Int64,
            "billing_date": pl.Date,
            "due_date": pl.Date,
            "cut_warning_date": pl.Date,
        },
    )


def _history_periods(period: str, months: Sequence[int]) -> list[str]:
    codes: set[str] = set()
    for m in months or (1,):
        codes.update(p.code for p in Period.parse(period, months=m).last(HISTORY_PERIODS))
    return sorted(codes)


def tariff_for(period: str) -> tuple[TariffVersion, Tariff]:
    """The tariff version of the utility's country valid on the period's first day
    (``DomainError`` when there is none, or two are ambiguous)."""
    first = Period.parse(period).start
    version = tariff_queries.tariff_on(first, country=UtilitySettings.current().country)
    return version, tariff_queries.load(version)


def prepare(
    period: str,
    *,
    cycles: Sequence[Cycle],
    all_cycles: bool,
    hold_unresolved: bool,
    billing_policy: rules.BillingPolicy,
) -> Plan:
    """Phase 1 (nothing written): who is billed, with what consumption, for how much."""
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    version, tariff = tariff_for(period)
    cycle_ids = [c.pk for c in cycles]
    cals = queries.calendars(period, cycle_ids)
    first_day = Period.parse(period).start
    with connection.cursor() as cursor:
        queries.refresh_statistics(cursor)
        accounts = queries.load_accounts(cursor, period, None if all_cycles else cycle_ids)
        seconds["load"] = time.perf_counter() - t0
        billed = queries.billed_accounts(cursor, period)
        accounts = accounts.join(_calendar_frame(cals), on="cycle_id", how="left").with_columns(
            pl.col("account_id").is_in(sorted(billed)).alias("__billed"),
            pl.col("months").fill_null(1),
        )
        # Assigned volumes (tariff × units × months), one call per period length.
        parts = []
        for (months,), part in accounts.select(
            "account_id", "category", "units", "months"
        ).group_by(["months"]):
            parts.append(
                pricing.assigned_volumes_frame(
                    part.select("account_id", "category", "units"), tariff, months=int(months)
                )
            )
        assigned = (
            pl.concat(parts)
            if parts
            else pl.DataFrame(schema={"account_id": pl.Int64, "assigned_m3": pl.Int64})
        )
        accounts = accounts.join(assigned, on="account_id", how="left")
        # Historical averages, only where a rule needs one and the reading has none.
        billable_reading = pl.col("reading_status").is_in(list(rules.BILLABLE)).fill_null(False)
        needs_average = (pl.col("meter_state") == rules.REMOVED) | (
            pl.lit(not hold_unresolved)
            & (pl.col("meter_state") == rules.METERED)
            & ~billable_reading
        )
        wanted = accounts.filter(
            needs_average & pl.col("reading_average").is_null() & ~pl.col("__billed")
        )["account_id"]
        history = queries.load_averages(
            cursor,
            wanted.to_list(),
            _history_periods(period, sorted({c.months for c in cals.values()})),
        )
        accounts = accounts.join(history, on="account_id", how="left").with_columns(
            pl.coalesce("reading_average", "history_average").alias("average_m3")
        )
    seconds["prepare"] = time.perf_counter() - t0 - seconds["load"]
    decided = rules.determine(accounts, hold_unresolved=hold_unresolved, policy=billing_policy)
    labels = rules.reason_labels()
    no_calendar = pl.col("billing_date").is_null()
    decided = decided.with_columns(
        pl.when(pl.col("__billed"))
        .then(pl.lit(ALREADY))
        .when(no_calendar)
        .then(pl.lit(rules.REJECTED))
        .otherwise(pl.col("outcome"))
        .alias("outcome"),
        pl.when(pl.col("__billed"))
        .then(None)
        .when(no_calendar)
        .then(pl.lit(rules.R_NO_CALENDAR))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    )
    # Price each distinct pricing input once: accounts with the same category, units,
    # stratum, municipality, consumption and services get the same lines (``combo``).
    t1 = time.perf_counter()
    to_price = decided.filter(pl.col("outcome") == rules.BILL)
    combos = (
        to_price.select(COMBO_KEY)
        .unique(maintain_order=True)
        .with_row_index("combo")
        .with_columns(pl.col("combo").cast(pl.Int64))
    )
    decided = decided.join(combos, on=COMBO_KEY, how="left", nulls_equal=True)
    refused: list[pl.DataFrame] = []
    priced_parts: list[pl.DataFrame] = []
    for (months,), part in combos.group_by(["months"]):
        frame = _pricing_input(part.rename({"combo": "account_id"}))
        bad = pricing.unpriceable(frame, tariff, months=int(months), on=first_day)
        if bad.height:
            refused.append(bad)
            frame = frame.join(bad.select("account_id"), on="account_id", how="anti")
        if frame.height:
            priced_parts.append(
                pricing.price_accounts(frame, tariff, months=int(months), on=first_day)
            )
    seconds["price"] = time.perf_counter() - t1
    if refused:
        bad_all = pl.concat(refused).select(
            pl.col("account_id").alias("combo"), pl.col("reason").alias("__tariff_reason")
        )
        decided = decided.join(bad_all, on="combo", how="left").with_columns(
            pl.when(pl.col("__tariff_reason").is_not_null())
            .then(pl.lit(rules.REJECTED))
            .otherwise(pl.col("outcome"))
            .alias("outcome"),
            pl.when(pl.col("__tariff_reason").is_not_null())
            .then(pl.lit(rules.R_UNPRICEABLE))
            .otherwise(pl.col("reason"))
            .alias("reason"),
        )
    else:
        decided = decided.with_columns(pl.lit(None, dtype=pl.String).alias("__tariff_reason"))
    detail = (
        pl.when(pl.col("reason") == rules.R_UNPRICEABLE)
        .then(pl.col("__tariff_reason"))
        .when(pl.col("reason") == rules.R_READING_HELD)
        .then(
            pl.concat_str(
                [
                    pl.lit(labels[rules.R_READING_HELD]),
                    pl.lit(" ("),
                    pl.col("reading_status").fill_null(""),
                    pl.lit(")"),
                ]
            )
        )
        .otherwise(pl.col("reason").replace_strict(labels, default=None, return_dtype=pl.String))
    )
    decided = decided.with_columns(detail.alias("detail"))
    combo_lines = (
        pl.concat(priced_parts).rename({"account_id": "combo"})
        if priced_parts
        else pl.DataFrame(
            schema={
                "combo": pl.Int64,
                "line_no": pl.Int64,
                "concept": pl.String,
                "description": pl.String,
                "block": pl.String,
                "volume_m3": pl.Int64,
                "rate": pl.String,
                "factor_pct": pl.String,
                "gross": pl.Int64,
                "amount": pl.Int64,
            }
        )
    )
    billable = decided.filter(pl.col("outcome") == rules.BILL)
    t2 = time.perf_counter()
    explained = rules.lines_json(
        combo_lines.rename({"combo": "account_id"}),
        tariff_label=tariff.label,
        rules=combos.select(pl.col("combo").alias("account_id"), "consumption_rule"),
    ).rename({"account_id": "combo"})
    amounts = combo_lines.group_by("combo").agg(
        pl.col("amount").sum().alias("amount"), pl.len().alias("n_lines")
    )
    bills = (
        billable.join(amounts, on="combo", how="left")
        .join(explained, on="combo", how="left")
        .with_columns(
            pl.col("amount").fill_null(0),
            pl.col("n_lines").fill_null(0),
            pl.col("lines_json").fill_null("[]"),
        )
    )
    seconds["explain"] = time.perf_counter() - t2
    route_ids = decided["route_id"].unique().to_list()
    routes = dict(Route.objects.filter(pk__in=route_ids).values_list("pk", "code"))
    plan = Plan(
        period=period,
        tariff_version=version,
        tariff=tariff,
        policy=billing_policy,
        calendars=cals,
        accounts=decided.select(
            "account_id", "number", "route_id", "category", "outcome", "reason", "detail"
        ),
        bills=bills,
        lines=combo_lines.select("combo", "line_no", "concept", "amount", "description"),
        combos=combos.height,
        routes=routes,
        seconds=seconds,
    )
    t3 = time.perf_counter()
    _index_by_route(plan)
    seconds["index"] = time.perf_counter() - t3
    return plan


#: What determines the priced lines of an account (and their explanation).
COMBO_KEY = [
    "category",
    "stratum",
    "units",
    "municipality_code",
    "altitude_m",
    "consumption_m3",
    "water",
    "sewer",
    "months",
    "consumption_rule",
]


def _pricing_input(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns ``tariffs.pricing.price_accounts`` reads, in its order."""
    return frame.select(list(pricing.INPUT_SCHEMA))


def _index_by_route(plan: Plan) -> None:
    """Sort the plan's bills by route (then sequence) and note where each route's rows
    are, what its bills add up to and which of its accounts are held, rejected or already
    billed; keep each combo's lines as Python lists. The chunks then only slice."""
    bills = (
        plan.bills.sort(["route_id", "sequence", "account_id"])
        .with_columns(
            pl.col("billing_date").cast(pl.String).alias("issue_text"),
            pl.col("due_date").cast(pl.String).alias("due_text"),
            pl.col("cut_warning_date").cast(pl.String).alias("cut_text"),
            pl.col("meter_serial").fill_null(""),
        )
        .with_row_index("__pos")
    )
    lines = plan.lines.sort(["combo", "line_no"]).with_columns(
        pl.col("description").fill_null("").str.slice(0, 200)
    )
    for combo, numbers, concepts, amounts, texts in (
        lines.group_by("combo", maintain_order=True)
        .agg("line_no", "concept", "amount", "description")
        .iter_rows()
    ):
        plan.combo_lines[int(combo)] = (numbers, concepts, amounts, texts)
    plan.slices = {
        int(r): (int(b0), int(bn))
        for r, b0, bn in bills.group_by("route_id").agg(pl.col("__pos").min(), pl.len()).iter_rows()
    }
    for route, cat, n, vol, amt in (
        bills.group_by(["route_id", "category"])
        .agg(pl.len(), pl.col("consumption_m3").sum(), pl.col("amount").sum())
        .iter_rows()
    ):
        plan.by_category.setdefault(int(route), {})[cat] = {
            "accounts": int(n),
            "volume_m3": int(vol or 0),
            "amount": int(amt or 0),
        }
    per_combo = lines.group_by(["combo", "concept"]).agg(pl.col("amount").sum().alias("a"))
    for route, concept, amt in (
        bills.group_by(["route_id", "combo"])
        .agg(pl.len().alias("n"))
        .join(per_combo, on="combo")
        .group_by(["route_id", "concept"])
        .agg((pl.col("n") * pl.col("a")).sum())
        .iter_rows()
    ):
        plan.by_concept.setdefault(int(route), {})[concept] = int(amt)
    problems = plan.accounts.filter(pl.col("outcome").is_in([rules.HELD, rules.REJECTED]))
    for route, account, number, outcome, reason, detail in problems.select(
        "route_id", "account_id", "number", "outcome", "reason", "detail"
    ).iter_rows():
        plan.problems.setdefault(int(route), []).append(
            {
                "account": account,
                "number": number,
                "outcome": outcome,
                "reason": reason,
                "detail": detail or "",
            }
        )
    plan.already = {
        int(r): int(n)
        for r, n in plan.accounts.filter(pl.col("outcome") == ALREADY)
        .group_by("route_id")
        .agg(pl.len())
        .iter_rows()
    }
    plan.bills = bills


# =========================================================================================
# Phase 2: the chunks
# =========================================================================================

BILL_TABLE = "billing_bill"

#: Columns of ``Plan.bills`` a chunk reads, as Python lists.
BILL_FIELDS = (
    "account_id",
    "combo",
    "route_id",
    "n_lines",
    "amount",
    "category",
    "stratum",
    "units",
    "meter_serial",
    "previous_reading",
    "current_reading",
    "consumption_m3",
    "consumption_rule",
    "lines_json",
    "issue_text",
    "due_text",
    "cut_text",
    "cut_warning_date",
    "billing_date",
)
LINE_FIELDS = ("account_id", "line_no", "concept", "amount", "description", "due_text")


def _expand_lines(plan: Plan, bills: Columns) -> Columns:
    """The ledger lines of ``bills``, in bill order then line order, from their combos
    (loops in C: ``map``, ``chain``, ``numpy.repeat``)."""
    empty: tuple[list[int], list[str], list[int], list[str]] = ([], [], [], [])
    parts = list(map(plan.combo_lines.get, bills["combo"], repeat(empty)))
    numbers = list(map(itemgetter(0), parts))
    sizes = list(map(len, numbers))
    dues = bills["due_text"]
    total = sum(sizes)
    if len(set(dues)) == 1:
        due = [dues[0]] * total
    else:
        due = np.repeat(np.array(dues, dtype=object), sizes).tolist()
    return {
        "account_id": np.repeat(np.asarray(bills["account_id"], dtype=np.int64), sizes).tolist(),
        "line_no": list(chain.from_iterable(numbers)),
        "concept": list(chain.from_iterable(map(itemgetter(1), parts))),
        "amount": list(chain.from_iterable(map(itemgetter(2), parts))),
        "description": list(chain.from_iterable(map(itemgetter(3), parts))),
        "due_text": due,
    }


Columns = dict[str, list[Any]]


@dataclass
class Context:
    run: Run
    plan: Plan
    simulate: bool
    user_id: int | None
    now: Any
    message_cache: dict[tuple[int, bool, date | None], str] = field(default_factory=dict)
    #: seconds spent per step of the chunks (reported in ``counts["stages"]``)
    timers: dict[str, float] = field(default_factory=dict)
    #: when the run's progress was last written (``time.perf_counter``)
    progress_written: float = 0.0
    _mark: float = 0.0

    def lap(self, step: str) -> None:
        """Add the time since the previous lap to ``step``."""
        now = time.perf_counter()
        if self._mark:
            self.timers[step] = self.timers.get(step, 0.0) + now - self._mark
        self._mark = now


def _messages_json(
    ctx: Context, overdue_bills: int, overdue_amount: int, cut_date: date | None
) -> str:
    key = (overdue_bills, overdue_amount > 0, cut_date)
    text = ctx.message_cache.get(key)
    if text is None:
        text = json.dumps(
            rules.bill_messages(
                overdue_bills=overdue_bills,
                overdue_amount=overdue_amount,
                cut_warning_date=cut_date,
                policy=ctx.plan.policy,
            ),
            ensure_ascii=False,
        )
        ctx.message_cache[key] = text
    return text


def _overdue_after(
    book: bulk.OpenBook,
    settlement: bulk.Settlement,
    account_id: int,
    *,
    before: date,
    kinds: dict[int, str],
) -> tuple[int, int]:
    """Overdue amount and overdue bills of an account after its credits were applied."""
    amount = 0
    docs: set[int] = set()
    for item in book.items.get(account_id, ()):
        if item.side != ledger_rules.DEBIT or item.blocked or item.due_date >= before:
            continue
        left = settlement.open_amounts.get(item.id, (item.open_amount, None))[0]
        if left > 0:
            amount += left
            doc = book.documents.get(item.id)
            if doc is not None and kinds.get(doc) in queries.OVERDUE_KINDS:
                docs.add(doc)
    return amount, len(docs)


def _keep(columns: Columns, keep: list[bool]) -> Columns:
    return {k: [v for v, ok in zip(vals, keep, strict=True) if ok] for k, vals in columns.items()}


def _aggregate(bills: Columns, lines: Columns) -> tuple[dict[str, Any], dict[str, int]]:
    by_category: dict[str, Any] = {}
    for cat, vol, amt in zip(
        bills["category"], bills["consumption_m3"], bills["amount"], strict=True
    ):
        row = by_category.setdefault(cat, {"accounts": 0, "volume_m3": 0, "amount": 0})
        row["accounts"] += 1
        row["volume_m3"] += vol or 0
        row["amount"] += amt
    by_concept: dict[str, int] = {}
    for concept, amt in zip(lines["concept"], lines["amount"], strict=True):
        by_concept[concept] = by_concept.get(concept, 0) + amt
    return by_category, by_concept


def _process_chunk(ctx: Context, route_id: int, cursor: Any) -> dict[str, Any]:
    """Compute (and unless simulating, write) the bills of one route. Returns the chunk's
    counts and its held / rejected accounts."""
    plan = ctx.plan
    problems = plan.problems.get(route_id, [])
    already = plan.already.get(route_id, 0)
    counts: dict[str, Any] = {
        "accounts": len(problems) + already,
        "billed": 0,
        "already_billed": already,
        "zero_amount": 0,
        "amount": 0,
        "volume_m3": 0,
        "credit_applied": 0,
        "previous_debt": 0,
        "red": 0,
        "cut_warnings": 0,
        "lines": 0,
        "documents": 0,
        "clearings": 0,
        "by_category": {},
        "by_concept": {},
        "held": sum(1 for p in problems if p["outcome"] == rules.HELD),
        "rejected": sum(1 for p in problems if p["outcome"] == rules.REJECTED),
        "reasons": rules.count_reasons(p["reason"] for p in problems),
    }
    where = plan.slices.get(route_id)
    if where is None:
        return {"counts": counts, "errors": problems}
    b0, bn = where
    bills_frame = plan.bills.slice(b0, bn)
    bills: Columns = {c: bills_frame[c].to_list() for c in BILL_FIELDS}
    lines = _expand_lines(plan, bills)
    ctx.lap("slice")
    ids = bills["account_id"]
    counts["accounts"] += len(ids)
    if not ctx.simulate:
        bulk.lock_accounts(cursor, ids)
    aggregates = None
    meanwhile = queries.billed_accounts(cursor, plan.period, ids)
    ctx.lap("lock")
    if meanwhile:
        counts["already_billed"] += len(meanwhile)
        bills = _keep(bills, [a not in meanwhile for a in bills["account_id"]])
        lines = _keep(lines, [a not in meanwhile for a in lines["account_id"]])
        aggregates = _aggregate(bills, lines)
    dates = set(bills["billing_date"])
    if len(dates) > 1:  # accounts of one route in cycles with different billing dates
        for day in sorted(dates):
            accounts = {
                a
                for a, d in zip(bills["account_id"], bills["billing_date"], strict=True)
                if d == day
            }
            _write_batch(
                ctx,
                cursor,
                _keep(bills, [a in accounts for a in bills["account_id"]]),
                _keep(lines, [a in accounts for a in lines["account_id"]]),
                day,
                counts,
            )
        aggregates = _aggregate(bills, lines)
    elif bills["account_id"]:
        _write_batch(ctx, cursor, bills, lines, next(iter(dates)), counts)
    if aggregates is None:
        by_category = plan.by_category.get(route_id, {})
        by_concept = plan.by_concept.get(route_id, {})
    else:
        by_category, by_concept = aggregates
    counts["by_category"] = by_category
    counts["by_concept"] = by_concept
    return {"counts": counts, "errors": problems}


def _write_batch(
    ctx: Context,
    cursor: Any,
    bills: Columns,
    lines: Columns,
    billing_date: date,
    counts: dict[str, Any],
) -> None:
    """The bills of one route (and billing date): ledger rows, credits, bill rows."""
    plan = ctx.plan
    ids: list[int] = bills["account_id"]
    n = len(ids)
    nl = len(lines["account_id"])
    overdue_before = billing_date - timedelta(days=plan.policy.grace_days)
    summary = queries.debt_summary(cursor, ids, overdue_before=overdue_before)
    ctx.lap("debt")
    n_lines: list[int] = bills["n_lines"]
    doc_accounts = [a for a, k in zip(ids, n_lines, strict=True) if k]
    nd = len(doc_accounts)
    dry = ctx.simulate
    doc_ids = bulk.reserve_many(cursor, bulk.DOCUMENT, nd, dry_run=dry)
    line_ids = bulk.reserve_many(cursor, bulk.LINE, nl, dry_run=dry)
    item_ids = bulk.reserve_many(cursor, bulk.ITEM, nl, dry_run=dry)
    bill_ids = bulk.reserve_many(cursor, BILL_TABLE, n, dry_run=dry)
    ctx.lap("reserve")
    doc_of: dict[int, int | None] = dict(zip(doc_accounts, doc_ids, strict=True))
    line_doc = [doc_of[a] for a in lines["account_id"]]
    open_amount = list(lines["amount"])
    cleared_on: list[str | None] = [None] * nl
    # Open credits pay older debt first, then the new items (ledger.rules.settle).
    with_credit = [a for a in ids if summary.get(a, (0, 0, 0, 0))[1] > 0]
    applied: dict[int, int] = {}
    overdue_fix: dict[int, tuple[int, int]] = {}
    settlement = bulk.Settlement()
    if with_credit:
        book = bulk.load_open_items(cursor, with_credit)
        wanted = set(with_credit)
        fresh: dict[int, list[ledger_rules.Item]] = {}
        for pos, account_id in enumerate(lines["account_id"]):
            if account_id in wanted:
                fresh.setdefault(account_id, []).append(
                    ledger_rules.Item(
                        id=item_ids[pos],
                        side=ledger_rules.DEBIT,
                        open_amount=lines["amount"][pos],
                        due_date=date.fromisoformat(lines["due_text"][pos]),
                        issue_date=billing_date,
                        concept=lines["concept"][pos],
                    )
                )
        settlement = bulk.settle(book, fresh, on=billing_date, document_of=doc_of)
        position = {item_id: pos for pos, item_id in enumerate(item_ids)}
        for item_id, (left, cleared) in settlement.open_amounts.items():
            pos = position.get(item_id, -1)
            if pos >= 0:
                open_amount[pos] = left
                cleared_on[pos] = cleared.isoformat() if cleared else None
        applied = settlement.applied
        kinds = queries.document_kinds(cursor, sorted(set(book.documents.values())))
        for account_id in with_credit:
            overdue_fix[account_id] = _overdue_after(
                book, settlement, account_id, before=overdue_before, kinds=kinds
            )
    ctx.lap("credits")
    numbers, references = rules.numbers_and_references(plan.period, bill_ids)
    previous_debt: list[int] = []
    credit_applied: list[int] = []
    total_due: list[int] = []
    overdue_bills: list[int] = []
    red: list[bool] = []
    messages: list[str] = []
    threshold = plan.policy.red_threshold
    zero = (0, 0, 0, 0)
    cut_warnings = 0
    for account_id, amount, cut_date in zip(
        ids, bills["amount"], bills["cut_warning_date"], strict=True
    ):
        debit_open, _credit, overdue_amount, n_overdue = summary.get(account_id, zero)
        if account_id in overdue_fix:
            overdue_amount, n_overdue = overdue_fix[account_id]
        used = applied.get(account_id, 0)
        previous_debt.append(debit_open)
        credit_applied.append(used)
        total_due.append(debit_open + amount - used)
        overdue_bills.append(n_overdue)
        red.append(n_overdue >= threshold)
        text = _messages_json(ctx, n_overdue, overdue_amount, cut_date)
        messages.append(text)
        if overdue_amount > 0 and cut_date is not None and plan.policy.cut_warning:
            cut_warnings += 1
    ctx.lap("compute")
    if not ctx.simulate:
        number_of = dict(zip(ids, numbers, strict=True))
        doc_amounts = [a for a, k in zip(bills["amount"], n_lines, strict=True) if k]
        issue = billing_date.isoformat()
        bulk.insert_columns(
            cursor,
            bulk.DOCUMENT,
            {
                "id": list(doc_ids),
                "account_id": doc_accounts,
                "kind": ["bill"] * nd,
                "reference": [number_of[a] for a in doc_accounts],
                "document_date": [issue] * nd,
                "posting_date": [issue] * nd,
                "amount": doc_amounts,
                "reason": [""] * nd,
                "source": [SOURCE] * nd,
                "created_by_id": [ctx.user_id] * nd,
                "created_at": [ctx.now] * nd,
            },
        )
        ctx.lap("insert_documents")
        bulk.insert_columns(
            cursor,
            bulk.LINE,
            {
                "id": list(line_ids),
                "document_id": line_doc,
                "line_no": lines["line_no"],
                "concept": lines["concept"],
                "amount": lines["amount"],
                "description": lines["description"],
            },
        )
        ctx.lap("insert_lines")
        bulk.insert_columns(
            cursor,
            bulk.ITEM,
            {
                "id": list(item_ids),
                "account_id": lines["account_id"],
                "document_id": line_doc,
                "line_id": list(line_ids),
                "concept": lines["concept"],
                "side": [ledger_rules.DEBIT] * nl,
                "issue_date": [issue] * nl,
                "due_date": lines["due_text"],
                "amount": lines["amount"],
                "open_amount": open_amount,
                "cleared_on": cleared_on,
                "blocked": [False] * nl,
                "block_reason": [""] * nl,
            },
        )
        ctx.lap("insert_items")
        bulk.write_settlement(cursor, settlement, skip=item_ids, created_at=ctx.now)
        ctx.lap("settlement")
        bulk.insert_columns(
            cursor,
            BILL_TABLE,
            {
                "id": list(bill_ids),
                "account_id": ids,
                "period": [plan.period] * n,
                "version": [1] * n,
                "kind": ["regular"] * n,
                "number": numbers,
                "payment_reference": references,
                "run_id": [ctx.run.pk] * n,
                "route_id": bills["route_id"],
                "document_id": [doc_of.get(a) for a in ids],
                "replaces_id": [None] * n,
                "issue_date": bills["issue_text"],
                "due_date": bills["due_text"],
                "cut_warning_date": bills["cut_text"],
                "category": bills["category"],
                "stratum": bills["stratum"],
                "units": bills["units"],
                "tariff_id": [plan.tariff_version.pk] * n,
                "meter_serial": bills["meter_serial"],
                "previous_reading": bills["previous_reading"],
                "current_reading": bills["current_reading"],
                "consumption": bills["consumption_m3"],
                "consumption_rule": bills["consumption_rule"],
                "amount": bills["amount"],
                "previous_debt": previous_debt,
                "credit_applied": credit_applied,
                "total_due": total_due,
                "overdue_bills": overdue_bills,
                "red": red,
                "lines": bills["lines_json"],
                "messages": messages,
                "created_at": [ctx.now] * n,
            },
        )
        ctx.lap("insert_bills")
    counts["billed"] += n
    counts["documents"] += nd
    counts["zero_amount"] += n - nd
    counts["lines"] += nl
    counts["clearings"] += len(settlement.clearings)
    counts["amount"] += sum(bills["amount"])
    counts["volume_m3"] += sum(v or 0 for v in bills["consumption_m3"])
    counts["credit_applied"] += sum(credit_applied)
    counts["previous_debt"] += sum(previous_debt)
    counts["red"] += sum(red)
    counts["cut_warnings"] += cut_warnings


# =========================================================================================
# Running
# =========================================================================================


def _ensure_chunks(run: Run, plan: Plan) -> dict[str, RunChunk]:
    keys = {code: rid for rid, code in plan.routes.items()}
    existing = {c.key: c for c in RunChunk.objects.filter(run=run)}
    missing = [
        RunChunk(run=run, key=code, status=RunStatus.RUNNING)
        for code in sorted(keys)
        if code not in existing
    ]
    if missing:
        RunChunk.objects.bulk_create(missing, batch_size=2000, ignore_conflicts=True)
        existing = {c.key: c for c in RunChunk.objects.filter(run=run)}
    return existing


def _sum_chunks(run: Run) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for counts in RunChunk.objects.filter(
        run=run, status__in=[RunStatus.DONE, RunStatus.DRY_RUN]
    ).values_list("counts", flat=True):
        rules.merge_counts(total, counts or {})
    return total


def _summary(run: Run, plan: Plan | None, counts: dict[str, Any]) -> dict[str, Any]:
    by_category = counts.get("by_category", {})
    by_concept = counts.get("by_concept", {})
    out = {k: v for k, v in counts.items() if k not in ("by_category", "by_concept")}
    out["by_category"] = [{"category": k, **v} for k, v in sorted(by_category.items())]
    out["by_concept"] = [{"concept": k, "amount": v} for k, v in sorted(by_concept.items())]
    if plan is not None:
        out["tariff"] = plan.tariff.label
    return out


def execute(run: Run, *, actor: ActorLike, progress: Progress | None = None) -> Run:
    """Run (or resume) the billing run ``run`` with its stored parameters."""
    params = run.parameters
    period = params["period"]
    simulate = bool(params.get("simulate"))
    started = time.perf_counter()
    user, _label = actor_parts(actor)
    cycles = queries.cycles_in_scope(params.get("cycle"))
    if run.status != RunStatus.RUNNING:  # a failed run resumed
        run.status, run.errors, run.finished_at = RunStatus.RUNNING, [], None
        run.save(update_fields=["status", "errors", "finished_at"])
    try:
        billing_policy = policy(params.get("notices") or ())
        _set_counts(run, {"phase": "plan"})
        plan = prepare(
            period,
            cycles=cycles,
            all_cycles=not params.get("cycle"),
            hold_unresolved=bool(params.get("hold_unresolved", True)),
            billing_policy=billing_policy,
        )
    except Exception as exc:
        _fail(run, exc)
        raise
    plan_seconds = time.perf_counter() - started
    chunks = _ensure_chunks(run, plan)
    ctx = Context(
        run=run,
        plan=plan,
        simulate=simulate,
        user_id=user.pk if user else None,
        now=db_datetime(timezone.now()),
    )
    route_of = {code: rid for rid, code in plan.routes.items()}
    todo = sorted(k for k, c in chunks.items() if c.status != RunStatus.DONE and k in route_of)
    base = _sum_chunks(run) if not simulate else {}
    running: dict[str, Any] = {}
    total = len(chunks)
    done = total - len(todo)
    _set_counts(
        run,
        {
            "phase": "chunks",
            "chunks": total,
            "chunks_done": done,
            **{k: base.get(k, 0) for k in PROGRESS_KEYS},
        },
    )
    failed: list[dict[str, Any]] = []
    write_started = time.perf_counter()
    with bulk_session(), _wal_batches():
        for key in todo:
            chunk = chunks[key]
            chunk_started = timezone.now()
            try:
                result = _run_chunk(ctx, chunk, route_of[key], chunk_started)
            except Exception as exc:  # the chunk was rolled back; record and go on
                failed.append({"chunk": key, "reason": f"{type(exc).__name__}: {exc}"})
                RunChunk.objects.filter(pk=chunk.pk).update(
                    status=RunStatus.FAILED,
                    errors=[{"reason": "error", "detail": f"{type(exc).__name__}: {exc}"}],
                    started_at=chunk_started,
                    finished_at=timezone.now(),
                )
                done += 1
                continue
            done += 1
            if progress is not None:
                if result is not None:
                    rules.merge_counts(running, result)
                progress(done, total, rules.merge_counts(rules.merge_counts({}, base), running))
    seconds = time.perf_counter() - started
    counts = _sum_chunks(run)
    summary = _summary(run, plan, counts)
    summary.update(
        {
            "phase": "done",
            "chunks": total,
            "chunks_done": total - len(failed),
            "chunks_failed": len(failed),
            "accounts_in_scope": plan.accounts.height,
            "seconds": round(seconds, 3),
            "plan_seconds": round(plan_seconds, 3),
            "write_seconds": round(time.perf_counter() - write_started, 3),
            "stages": {
                **{k: round(v, 3) for k, v in plan.seconds.items()},
                **{f"chunks_{k}": round(v, 3) for k, v in sorted(ctx.timers.items())},
            },
            "priced_combinations": plan.combos,
        }
    )
    if simulate:
        summary["comparison"] = _comparison(plan, cycles, all_cycles=not params.get("cycle"))
    status = RunStatus.DRY_RUN if simulate else (RunStatus.FAILED if failed else RunStatus.DONE)
    run.status = status
    run.counts = summary
    run.errors = failed[:1000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "counts", "errors", "finished_at"])
    record(
        actor=actor,
        action="billing.simulate" if simulate else "billing.run",
        object_type="audit.run",
        object_id=run.pk,
        after={
            "period": period,
            "cycle": params.get("cycle"),
            "billed": summary.get("billed", 0),
            "held": summary.get("held", 0),
            "rejected": summary.get("rejected", 0),
            "amount": summary.get("amount", 0),
            "status": status,
        },
    )
    return run


#: WAL pages between automatic checkpoints while a run writes (SQLite's default is 1,000).
WAL_CHECKPOINT_PAGES = 50_000


@contextmanager
def _wal_batches() -> Iterator[None]:
    """SQLite: checkpoint the WAL every ~200 MB instead of every 4 MB while the run
    commits its chunks (a route of bills is about 4 MB, so the default checkpoints at every
    commit). Only when the database file is checkpointed changes; every commit stays
    durable as ``synchronous`` says. Restored afterwards, with one checkpoint."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {previous}")
            if not connection.in_atomic_block:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _run_chunk(
    ctx: Context, chunk: RunChunk, route_id: int, chunk_started: Any
) -> dict[str, Any] | None:
    """One chunk in its own transaction: the bills, the chunk row and the run's progress."""
    status = RunStatus.DRY_RUN if ctx.simulate else RunStatus.DONE
    ctx.lap("between")
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Every query of a chunk is a keyed lookup of one route's rows; the tables
            # it reads grow while the run writes, faster than statistics follow, and a
            # stale plan scans the whole period (bitmap on ``bill_period_route``).
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        if not ctx.simulate:
            # Another process may have finished this chunk meanwhile.
            lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
            cursor.execute(f"SELECT status FROM audit_runchunk WHERE id = %s{lock}", [chunk.pk])
            found = cursor.fetchone()
            if found and found[0] == RunStatus.DONE:
                return None
        result = _process_chunk(ctx, route_id, cursor)
        counts: dict[str, Any] = result["counts"]
        json_mark = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
        cursor.execute(
            f"UPDATE audit_runchunk SET status = %s, counts = {json_mark}, "
            f"errors = {json_mark}, started_at = %s, finished_at = %s WHERE id = %s",
            [
                status,
                json.dumps(counts, ensure_ascii=False),
                json.dumps(result["errors"], ensure_ascii=False),
                db_datetime(chunk_started),
                db_datetime(timezone.now()),
                chunk.pk,
            ],
        )
        progress = _progress_counts(ctx.run, counts)
        now = time.perf_counter()
        if now - ctx.progress_written >= PROGRESS_EVERY:
            cursor.execute(
                f"UPDATE audit_run SET counts = {json_mark} WHERE id = %s",
                [json.dumps(progress, ensure_ascii=False), ctx.run.pk],
            )
            ctx.progress_written = now
        ctx.lap("chunk_rows")
    ctx.lap("commit")
    return counts


PROGRESS_KEYS = ("billed", "held", "rejected", "amount", "already_billed")
#: Seconds between two writes of the run's progress (the page polls every few seconds).
PROGRESS_EVERY = 1.0


def _progress_counts(run: Run, chunk_counts: dict[str, Any]) -> dict[str, Any]:
    """The run's counts while it works: chunks done and running totals (for the web)."""
    progress = dict(run.counts) if isinstance(run.counts, dict) else {}
    progress["phase"] = "chunks"
    progress["chunks_done"] = progress.get("chunks_done", 0) + 1
    for key in PROGRESS_KEYS:
        progress[key] = progress.get(key, 0) + int(chunk_counts.get(key, 0))
    run.counts = progress
    return progress


def _set_counts(run: Run, counts: dict[str, Any]) -> None:
    run.counts = counts
    Run.objects.filter(pk=run.pk).update(counts=counts)


def _fail(run: Run, exc: BaseException) -> None:
    run.status = RunStatus.FAILED
    run.errors = [{"reason": "error", "detail": str(exc)}]
    run.finished_at = timezone.now()
    run.counts = {**(run.counts or {}), "phase": "failed"}
    run.save(update_fields=["status", "errors", "finished_at", "counts"])


def _comparison(plan: Plan, cycles: Sequence[Cycle], *, all_cycles: bool) -> dict[str, Any]:
    months = sorted({c.months for c in plan.calendars.values()}) or [1]
    previous = Period.parse(plan.period, months=months[0]).previous().code
    current = plan.bills.select("account_id", "number", "consumption_m3", "amount")
    with connection.cursor() as cursor:
        before = queries.period_bills(
            cursor, previous, None if all_cycles else [c.pk for c in cycles]
        )
    out = rules.compare(current, before)
    out["previous_period"] = previous
    return out
