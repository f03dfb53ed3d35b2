"""Reading progress per route for supervisors (``/lecturas/avance/``).

The page polls every few seconds, so the query that changes (readings) is one grouped
query over ``metering_reading`` restricted to one period and the routes shown, which the
``reading_period_route`` index serves. The number of accounts to read per route (a join
over meters, accounts and properties) changes slowly and is cached for a few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.utils import timezone

from caudal.cadastre.models import Cycle, Meter, Route
from caudal.kernel.periods import Period

from .capture import visited
from .models import Reading, ReadingCalendar, ReadingStatus, RouteAssignment

TOTALS_CACHE_SECONDS = 300
CYCLE_CACHE_SECONDS = 60


@dataclass
class RouteProgress:
    route_id: int
    code: str
    name: str
    cycle: str
    total: int = 0
    visited: int = 0
    read: int = 0
    observed: int = 0
    rereads: int = 0
    last_read_at: datetime | None = None
    readers: int = 0
    last_reader: str = ""
    assigned: str = ""
    assigned_username: str = ""

    @property
    def pending(self) -> int:
        return max(self.total - self.visited, 0)

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        return min(100, self.visited * 100 // self.total)


@dataclass
class CycleProgress:
    code: str
    name: str
    calendar: ReadingCalendar | None
    routes: int = 0
    total: int = 0
    visited: int = 0
    observed: int = 0
    rereads: int = 0

    @property
    def percent(self) -> int:
        return min(100, self.visited * 100 // self.total) if self.total else 0


@dataclass
class Progress:
    period: str
    cycle: str
    cycles: list[CycleProgress] = field(default_factory=list)
    routes: list[RouteProgress] = field(default_factory=list)
    generated_at: datetime = field(default_factory=timezone.now)

    def totals(self) -> RouteProgress:
        out = RouteProgress(route_id=0, code="", name="", cycle=self.cycle)
        for r in self.routes:
            out.total += r.total
            out.visited += r.visited
            out.read += r.read
            out.observed += r.observed
            out.rereads += r.rereads
            if r.last_read_at and (out.last_read_at is None or r.last_read_at > out.last_read_at):
                out.last_read_at = r.last_read_at
        return out


def default_period(today: date | None = None) -> str:
    """The latest period whose reading has started, else the current month."""
    today = today or timezone.localdate()
    code = (
        ReadingCalendar.objects.filter(read_from__lte=today)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )
    return code or Period.containing(today).code


def route_totals(period: str) -> dict[int, int]:
    """Accounts to read per route (a current meter), cached a few minutes."""
    key = f"metering:route-totals:{period}"
    totals: dict[int, int] | None = cache.get(key)
    if totals is None:
        totals = dict(
            Meter.objects.filter(removed_on__isnull=True)
            .exclude(status="removed")
            .values_list("account__property__route_id")
            .annotate(n=Count("account_id", distinct=True))
            .values_list("account__property__route_id", "n")
        )
        cache.set(key, totals, TOTALS_CACHE_SECONDS)
    return totals


def grouped(period: str, route_ids: list[int] | None) -> list[dict[str, Any]]:
    """The one grouped query: per route of ``period`` (restricted to ``route_ids``), the
    counts the page shows. Served by the ``reading_period_route`` index."""
    qs = Reading.objects.filter(period=period)
    if route_ids is not None:
        if not route_ids:
            return []
        qs = qs.filter(route_id__in=route_ids)
    return [
        dict(g)
        for g in qs.values("route_id").annotate(
            n_visited=Count("id", filter=visited()),
            n_read=Count("id", filter=Q(value__isnull=False)),
            n_observed=Count("id", filter=~Q(observation="")),
            n_rereads=Count("id", filter=Q(status=ReadingStatus.REREAD)),
            last=Max("read_at"),
            readers=Count("reader_id", distinct=True),
            reader=Max("reader_id"),
        )
    ]


def cycle_counts(period: str) -> dict[int, tuple[int, int, int]]:
    """Visited, observed and re-read counts per route for the whole period (the cycle
    summary), cached for a minute so polling does not rescan every cycle."""
    key = f"metering:cycle-counts:{period}"
    counts: dict[int, tuple[int, int, int]] | None = cache.get(key)
    if counts is None:
        counts = {
            g["route_id"]: (g["n_visited"], g["n_observed"], g["n_rereads"])  # type: ignore[misc]
            for g in grouped(period, None)
        }
        cache.set(key, counts, CYCLE_CACHE_SECONDS)
    return counts


def reading_progress(period: str, *, cycle: str = "", today: date | None = None) -> Progress:
    """Progress of ``period``: a summary per cycle with a calendar row, and per route of
    ``cycle`` (the first cycle whose window is open today when empty)."""
    today = today or timezone.localdate()
    calendars = {c.cycle_id: c for c in ReadingCalendar.objects.filter(period=period)}
    cycles = list(Cycle.objects.filter(pk__in=calendars).order_by("code"))
    if not cycle and cycles:
        open_now = [
            c for c in cycles if calendars[c.pk].read_from <= today <= calendars[c.pk].read_to
        ]
        cycle = (open_now or cycles)[0].code
    progress = Progress(period=period, cycle=cycle)
    if not cycles:
        return progress
    code_of = {c.pk: c.code for c in cycles}
    route_cycle = {
        route_id: code_of[cycle_id]
        for route_id, cycle_id in Route.objects.filter(cycle_id__in=calendars).values_list(
            "id", "cycle_id"
        )
    }
    totals = route_totals(period)
    by_cycle = {
        c.code: CycleProgress(code=c.code, name=c.name, calendar=calendars[c.pk]) for c in cycles
    }
    rows = {
        r["id"]: RouteProgress(
            route_id=r["id"],
            code=r["code"],
            name=r["name"],
            cycle=cycle,
            total=totals.get(r["id"], 0),
        )
        for r in Route.objects.filter(cycle__code=cycle, cycle_id__in=calendars)
        .order_by("code")
        .values("id", "code", "name")
    }
    for route_id, code in route_cycle.items():
        cp = by_cycle[code]
        cp.routes += 1
        cp.total += totals.get(route_id, 0)
    for route_id, counts in cycle_counts(period).items():
        owner = route_cycle.get(route_id)
        if owner is not None:
            cp = by_cycle[owner]
            cp.visited += counts[0]
            cp.observed += counts[1]
            cp.rereads += counts[2]
    reader_ids: set[int] = set()
    for g in grouped(period, list(rows)):
        row = rows[g["route_id"]]
        row.visited, row.read = g["n_visited"], g["n_read"]
        row.observed, row.rereads = g["n_observed"], g["n_rereads"]
        row.last_read_at, row.readers = g["last"], g["readers"]
        if g["reader"]:
            reader_ids.add(g["reader"])
            row.last_reader = str(g["reader"])
    assignments = list(
        RouteAssignment.objects.filter(period=period, route_id__in=rows).values_list(
            "route_id", "reader_id"
        )
    )
    reader_ids.update(uid for _r, uid in assignments)
    users = {
        u.pk: (u.get_full_name() or u.get_username(), u.get_username())
        for u in get_user_model().objects.filter(pk__in=reader_ids)
    }
    for row in rows.values():
        if row.last_reader:
            row.last_reader = users.get(int(row.last_reader), ("", ""))[0]
    for route_id, uid in assignments:
        rows[route_id].assigned, rows[route_id].assigned_username = users.get(uid, ("", ""))
    progress.cycles = list(by_cycle.values())
    progress.routes = list(rows.values())
    return progress


__all__ = ["CycleProgress", "Progress", "RouteProgress", "default_period", "reading_progress"]
