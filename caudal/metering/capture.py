"""Readings from the field: the reader's routes, route assignments and the sync of the
mobile page's queue.

The mobile page (``/lecturas/campo/``) queues readings on the phone, each with a UUID
made on the device (``client_uuid``), and sends them in batches when it has a
connection. :func:`do_sync_readings` stores a batch:

- **Idempotent.** A reading is one row per (account, period). An item whose
  ``client_uuid`` is the row's is ``unchanged``; an item older (``read_at``) than the
  stored reading is ``superseded``; an item with the same content is ``unchanged``.
  Re-sending a batch therefore changes nothing.
- **Every item on its own.** Items are independent readings: the good ones are stored
  even when others are rejected; each rejected item says which field is wrong and why
  (``errors``: ``{field: reason}``).
- **Writable rows.** A reading the critique has not decided (pending, ok, flagged, or
  with a re-read order) is replaced, and goes back to ``pending`` with its flags and
  billed consumption cleared so the critique sees it again; a re-read is stored with
  source ``reread``. A reading already accepted, corrected or estimated by a critic is
  never overwritten (rejected on ``account``).
- **Audit.** One event per batch that stored something (counts, routes, periods); each
  row keeps its reader, ``read_at`` and source.

Which routes a reader sees (:func:`reader_routes`): the routes of cycles whose reading
window contains today, and routes with re-read orders in a period that is not closed.
A route assigned to a reader for the period (``RouteAssignment``) is shown to that reader
only; an unassigned route is open to every reader.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.cadastre.models import Account, Meter, Route
from caudal.kernel.errors import DomainError
from caudal.kernel.periods import Period

from .models import (
    Observation,
    Reading,
    ReadingCalendar,
    ReadingSource,
    ReadingStatus,
    RouteAssignment,
)

#: Readings a critic decided: never overwritten by the field or an import.
DECIDED = frozenset({ReadingStatus.ACCEPTED, ReadingStatus.CORRECTED, ReadingStatus.ESTIMATED})
#: Most items accepted in one sync request.
MAX_BATCH = 200
#: Largest photo accepted (bytes, after base64 decoding). The page sends ~100 KB JPEGs.
MAX_PHOTO_BYTES = 2_000_000
#: Tolerance for a phone clock ahead of the server.
CLOCK_SKEW = timedelta(minutes=15)
UUID_PATTERN = re.compile(r"^[A-Za-z0-9-]{8,40}$")
OBSERVATIONS = frozenset(value for value, _label in Observation.choices)


def photo_root() -> Path:
    """Where reading photos are stored: ``MEDIA_ROOT/readings`` (``VAR_DIR/media`` when
    MEDIA_ROOT is not set)."""
    base = settings.MEDIA_ROOT or Path(settings.VAR_DIR) / "media"
    return Path(base) / "readings"


# --- routes -------------------------------------------------------------------------------


@dataclass
class RouteEntry:
    period: str
    route_id: int
    route_code: str
    route_name: str
    cycle_code: str
    read_from: date
    read_to: date
    mode: str  # "reading" (window open) or "reread" (only re-read orders)
    assigned_to_me: bool = False
    total: int = 0
    done: int = 0
    rereads: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "route": self.route_code,
            "route_name": self.route_name,
            "cycle": self.cycle_code,
            "read_from": self.read_from.isoformat(),
            "read_to": self.read_to.isoformat(),
            "mode": self.mode,
            "assigned_to_me": self.assigned_to_me,
            "total": self.total,
            "done": self.done,
            "rereads": self.rereads,
        }


def reader_routes(user: AbstractBaseUser, *, today: date | None = None) -> list[RouteEntry]:
    """The routes ``user`` may read today (see the module docstring); a few queries."""
    today = today or timezone.localdate()
    started = list(
        ReadingCalendar.objects.filter(closed=False, read_from__lte=today).values(
            "cycle_id", "period", "read_from", "read_to"
        )
    )
    calendars = {(c["cycle_id"], c["period"]): c for c in started}
    in_window = {k for k, c in calendars.items() if c["read_to"] >= today}
    pairs: dict[tuple[str, int], str] = {}
    if in_window:
        cycles = {cycle for cycle, _p in in_window}
        for route_id, cycle_id in Route.objects.filter(cycle_id__in=cycles).values_list(
            "id", "cycle_id"
        ):
            for cycle, period in in_window:
                if cycle == cycle_id:
                    pairs[(period, route_id)] = "reading"
    periods = sorted({p for _c, p in calendars})
    reread_counts: dict[tuple[str, int], int] = {}
    if periods:
        for row in (
            Reading.objects.filter(period__in=periods, status=ReadingStatus.REREAD)
            .values("period", "route_id")
            .annotate(n=Count("id"))
        ):
            reread_counts[(row["period"], row["route_id"])] = row["n"]
    routes = {
        r.pk: r
        for r in Route.objects.filter(pk__in={rid for _p, rid in (*pairs, *reread_counts)})
        .select_related("cycle")
        .only("id", "code", "name", "cycle__code", "cycle_id")
    }
    for (period, route_id), _n in reread_counts.items():
        route = routes.get(route_id)
        if route is None or (route.cycle_id, period) not in calendars:
            continue
        pairs.setdefault((period, route_id), "reread")
    if not pairs:
        return []
    assigned = {
        (a["period"], a["route_id"]): a["reader_id"]
        for a in RouteAssignment.objects.filter(
            period__in={p for p, _r in pairs}, route_id__in={r for _p, r in pairs}
        ).values("period", "route_id", "reader_id")
    }
    entries: list[RouteEntry] = []
    for (period, route_id), mode in pairs.items():
        owner = assigned.get((period, route_id))
        if owner is not None and owner != user.pk:
            continue
        route = routes[route_id]
        cal = calendars[(route.cycle_id, period)]
        entries.append(
            RouteEntry(
                period=period,
                route_id=route_id,
                route_code=route.code,
                route_name=route.name,
                cycle_code=route.cycle.code,
                read_from=cal["read_from"],
                read_to=cal["read_to"],
                mode=mode,
                assigned_to_me=owner == user.pk,
                rereads=reread_counts.get((period, route_id), 0),
            )
        )
    _add_counts(entries)
    entries.sort(key=lambda e: (not e.assigned_to_me, e.mode != "reading", e.period, e.route_code))
    return entries


def _add_counts(entries: list[RouteEntry]) -> None:
    """Accounts to read and readings taken per entry (two grouped queries)."""
    route_ids = {e.route_id for e in entries}
    totals = dict(
        Meter.objects.filter(removed_on__isnull=True, account__property__route_id__in=route_ids)
        .exclude(status="removed")
        .values_list("account__property__route_id")
        .annotate(n=Count("account_id", distinct=True))
        .values_list("account__property__route_id", "n")
    )
    done: dict[tuple[str, int], int] = {}
    for row in (
        Reading.objects.filter(
            period__in={e.period for e in entries},
            route_id__in=route_ids,
        )
        .filter(visited())
        .values("period", "route_id")
        .annotate(n=Count("id"))
    ):
        done[(row["period"], row["route_id"])] = row["n"]
    for e in entries:
        e.total = totals.get(e.route_id, 0)
        e.done = done.get((e.period, e.route_id), 0)


def visited() -> Q:
    """A reading that records a visit: a value or an observation, not made by the system."""
    return (Q(value__isnull=False) | ~Q(observation="")) & ~Q(source=ReadingSource.SYSTEM)


class RouteAccess(DomainError):
    """Why a reader may not read a route in a period; ``field`` names the culprit."""

    def __init__(self, message: str, field: str, status: int = 403) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def check_route_access(user: AbstractBaseUser, period: str, route: Route) -> ReadingCalendar:
    """The calendar row of ``route``'s cycle in ``period`` when ``user`` may read it."""
    calendar = ReadingCalendar.objects.filter(cycle_id=route.cycle_id, period=period).first()
    if calendar is None:
        raise RouteAccess(
            _("no hay calendario de lectura del ciclo %(cycle)s para el periodo %(period)s")
            % {"cycle": route.cycle.code, "period": period},
            "period",
            404,
        )
    if calendar.closed:
        raise RouteAccess(
            _("el periodo %(period)s está cerrado para el ciclo %(cycle)s")
            % {"period": period, "cycle": route.cycle.code},
            "period",
            409,
        )
    owner = (
        RouteAssignment.objects.filter(period=period, route=route)
        .values_list("reader_id", flat=True)
        .first()
    )
    if owner is not None and owner != user.pk:
        raise RouteAccess(
            _("la ruta %(route)s está asignada a otro lector en %(period)s")
            % {"route": route.code, "period": period},
            "route",
        )
    return calendar


@transaction.atomic
def do_assign_route(
    *, period: str, route: Route, reader: Any, actor: ActorLike
) -> RouteAssignment | None:
    """Give ``route`` to ``reader`` for ``period`` (None: open it to every reader)."""
    Period.parse(period)
    user, _label = actor_parts(actor)
    current = RouteAssignment.objects.select_for_update().filter(period=period, route=route).first()
    before = {"reader": current.reader.get_username()} if current else {"reader": ""}
    if reader is None:
        if current is None:
            return None
        current.delete()
        result = None
    elif current is None:
        result = RouteAssignment.objects.create(
            period=period, route=route, reader=reader, assigned_by=user
        )
    else:
        if current.reader_id == reader.pk:
            return current
        current.reader = reader
        current.assigned_by = user
        current.save()
        result = current
    record(
        actor=actor,
        action="metering.assign_route",
        object_type="metering.routeassignment",
        object_id=f"{period}/{route.code}",
        before=before,
        after={"reader": reader.get_username() if reader else ""},
    )
    return result


# --- the sync ------------------------------------------------------------------------------


@dataclass
class Item:
    """One reading sent by the mobile page, parsed."""

    index: int
    client_uuid: str
    period: str
    route: str
    account: str
    value: int | None
    observation: str
    read_at: datetime
    latitude: Decimal | None
    longitude: Decimal | None
    photo: bytes | None
    photo_ext: str = "jpg"


@dataclass
class ItemResult:
    client_uuid: str
    status: str  # created | updated | unchanged | superseded | rejected
    errors: dict[str, str] = field(default_factory=dict)
    account: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"client_uuid": self.client_uuid, "status": self.status}
        if self.account:
            data["account"] = self.account
        if self.errors:
            data["errors"] = self.errors
        return data


@dataclass
class SyncResult:
    items: list[ItemResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": len(self.items),
            **{
                s: self.count(s)
                for s in ("created", "updated", "unchanged", "superseded", "rejected")
            },
            "results": [i.as_dict() for i in self.items],
        }


class BatchError(DomainError):
    """The request as a whole is malformed (not one item): ``field`` names the key."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    return str(value).strip()


def _decimal(value: Any, limit: int) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError
    number = Decimal(str(value))
    if not number.is_finite() or abs(number) > limit:
        raise ValueError
    return number.quantize(Decimal("0.000001"))


def _photo(value: Any) -> tuple[bytes, str]:
    """Decode a ``data:image/jpeg;base64,...`` URL and check it is a real image."""
    text = str(value)
    match = re.match(r"^data:image/(jpeg|png|webp);base64,", text)
    if not match:
        raise ValueError(_("la foto debe ser una imagen JPEG, PNG o WebP en base64"))
    if len(text) > MAX_PHOTO_BYTES * 4 // 3 + 100:
        raise ValueError(
            _("la foto pesa demasiado (máximo %(n)s MB)") % {"n": MAX_PHOTO_BYTES // 1_000_000}
        )
    try:
        data = base64.b64decode(text[match.end() :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(_("la foto no es base64 válido")) from exc
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(_("la foto no es una imagen legible")) from exc
    return data, {"jpeg": "jpg"}.get(match.group(1), match.group(1))


def parse_item(index: int, raw: Any, *, now: datetime) -> tuple[Item | None, ItemResult | None]:
    """Check the shape of one item; the database checks come later."""
    if not isinstance(raw, dict):
        return None, ItemResult(
            client_uuid="", status="rejected", errors={"item": _("cada lectura debe ser un objeto")}
        )
    errors: dict[str, str] = {}
    client_uuid = _text(raw, "client_uuid")
    if not UUID_PATTERN.match(client_uuid):
        errors["client_uuid"] = _("falta el identificador del equipo o no es válido")
    period = _text(raw, "period")
    try:
        Period.parse(period)
    except ValueError:
        errors["period"] = _("periodo no válido: use AAAA-MM")
    account = _text(raw, "account")
    if not account:
        errors["account"] = _("falta el número de suministro")
    route = _text(raw, "route")
    if not route:
        errors["route"] = _("falta la ruta")
    value: int | None = None
    raw_value = raw.get("value")
    if raw_value not in (None, ""):
        if isinstance(raw_value, bool):
            errors["value"] = _("la lectura debe ser un número entero")
        else:
            text = str(raw_value).strip()
            if re.fullmatch(r"-?\d{1,15}", text):
                value = int(text)
                if value < 0:
                    errors["value"] = _("la lectura no puede ser negativa")
            else:
                errors["value"] = _("la lectura debe ser un número entero")
    observation = _text(raw, "observation")
    if observation not in OBSERVATIONS:
        errors["observation"] = _("código de observación desconocido: %(code)s") % {
            "code": observation
        }
    if value is None and not observation and "value" not in errors:
        errors["value"] = _("falta la lectura o una observación que explique por qué no se leyó")
    read_at = parse_datetime(_text(raw, "read_at")) if _text(raw, "read_at") else None
    if read_at is None:
        errors["read_at"] = _("falta la fecha y hora de lectura (ISO 8601) o no es válida")
    else:
        if timezone.is_naive(read_at):
            read_at = timezone.make_aware(read_at)
        if read_at > now + CLOCK_SKEW:
            errors["read_at"] = _(
                "la fecha de lectura está en el futuro: revise el reloj del equipo"
            )
        elif "period" not in errors and read_at.date() < Period.parse(period).start:
            errors["read_at"] = _("la fecha de lectura es anterior al periodo %(period)s") % {
                "period": period
            }
    latitude = longitude = None
    try:
        latitude = _decimal(raw.get("latitude"), 90)
    except (ValueError, InvalidOperation):
        errors["latitude"] = _("latitud no válida (entre -90 y 90)")
    try:
        longitude = _decimal(raw.get("longitude"), 180)
    except (ValueError, InvalidOperation):
        errors["longitude"] = _("longitud no válida (entre -180 y 180)")
    if (latitude is None) != (longitude is None) and not {"latitude", "longitude"} & set(errors):
        errors["longitude" if longitude is None else "latitude"] = _(
            "la ubicación necesita latitud y longitud"
        )
    photo: bytes | None = None
    ext = "jpg"
    if raw.get("photo"):
        try:
            photo, ext = _photo(raw["photo"])
        except ValueError as exc:
            errors["photo"] = str(exc)
    if errors:
        return None, ItemResult(
            client_uuid=client_uuid, status="rejected", errors=errors, account=account
        )
    assert read_at is not None
    return (
        Item(
            index=index,
            client_uuid=client_uuid,
            period=period,
            route=route,
            account=account,
            value=value,
            observation=observation,
            read_at=read_at,
            latitude=latitude,
            longitude=longitude,
            photo=photo,
            photo_ext=ext,
        ),
        None,
    )


def previous_values(account_ids: Iterable[int], period: str) -> dict[int, int]:
    """The latest reading value before ``period`` within a year, per account."""
    ids = list(account_ids)
    if not ids:
        return {}
    from .calendar_actions import utility_months

    p = Period.parse(period, months=utility_months())
    best: dict[int, tuple[str, int]] = {}
    for account_id, code, value in Reading.objects.filter(
        account_id__in=ids,
        period__in=[q.code for q in p.last(12)],
        value__isnull=False,
    ).values_list("account_id", "period", "value"):
        if value is not None and code > best.get(account_id, ("", 0))[0]:
            best[account_id] = (code, int(value))
    return {k: v for k, (_c, v) in best.items()}


def current_meters(account_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """``account_id → (meter_id, digits)`` of the installed meter (latest installed)."""
    meters: dict[int, tuple[int, int]] = {}
    for account_id, meter_id, digits in (
        Meter.objects.filter(account_id__in=list(account_ids), removed_on__isnull=True)
        .exclude(status="removed")
        .order_by("account_id", "installed_on", "id")
        .values_list("account_id", "id", "digits")
    ):
        meters[account_id] = (meter_id, digits)
    return meters


def _same(row: Reading, item: Item) -> bool:
    return (
        row.value == item.value
        and row.observation == item.observation
        and row.latitude == item.latitude
        and row.longitude == item.longitude
        and row.read_at is not None
        and abs((row.read_at - item.read_at).total_seconds()) < 1
        and not item.photo
    )


def do_sync_readings(raw_items: Any, *, actor: AbstractBaseUser) -> SyncResult:
    """Store a batch of readings from the mobile page (see the module docstring).

    Raises ``BatchError`` when the request is not a list of at most ``MAX_BATCH`` items.
    Retries once when a concurrent writer inserted the same (account, period) first.
    """
    if not isinstance(raw_items, list):
        raise BatchError(_("se esperaba una lista de lecturas"), "readings")
    if len(raw_items) > MAX_BATCH:
        raise BatchError(
            _("demasiadas lecturas en un envío (máximo %(n)s)") % {"n": MAX_BATCH}, "readings"
        )
    try:
        return _sync(raw_items, actor=actor)
    except IntegrityError:
        return _sync(raw_items, actor=actor)


@transaction.atomic
def _sync(raw_items: list[Any], *, actor: AbstractBaseUser) -> SyncResult:
    now = timezone.now()
    results: list[ItemResult | None] = []
    items: list[Item] = []
    for i, raw in enumerate(raw_items):
        item, rejected = parse_item(i, raw, now=now)
        results.append(rejected)
        if item is not None:
            items.append(item)

    def reject(item: Item, field_name: str, reason: str) -> None:
        results[item.index] = ItemResult(
            client_uuid=item.client_uuid,
            status="rejected",
            errors={field_name: reason},
            account=item.account,
        )

    accounts: dict[str, dict[str, Any]] = {
        a["number"]: dict(a)
        for a in Account.objects.filter(number__in={i.account for i in items}).values(
            "id", "number", "cycle_id", "property__route_id", "property__route__code"
        )
    }
    routes = {
        r.code: r
        for r in Route.objects.filter(code__in={i.route for i in items}).select_related("cycle")
    }
    periods = {i.period for i in items}
    calendars = {
        (c.cycle_id, c.period): c
        for c in ReadingCalendar.objects.filter(
            period__in=periods, cycle_id__in={r.cycle_id for r in routes.values()}
        )
    }
    owners = {
        (a["period"], a["route_id"]): a["reader_id"]
        for a in RouteAssignment.objects.filter(
            period__in=periods, route_id__in={r.pk for r in routes.values()}
        ).values("period", "route_id", "reader_id")
    }
    ok: list[tuple[Item, dict[str, Any]]] = []
    for item in items:
        acc = accounts.get(item.account)
        route = routes.get(item.route)
        if route is None:
            reject(item, "route", _("la ruta %(route)s no existe") % {"route": item.route})
            continue
        if acc is None:
            reject(
                item,
                "account",
                _("el suministro %(number)s no existe") % {"number": item.account},
            )
            continue
        if acc["property__route_id"] != route.pk:
            reject(
                item,
                "account",
                _("el suministro %(number)s no está en la ruta %(route)s (está en %(actual)s)")
                % {
                    "number": item.account,
                    "route": route.code,
                    "actual": acc["property__route__code"],
                },
            )
            continue
        cal = calendars.get((route.cycle_id, item.period))
        if cal is None:
            reject(
                item,
                "period",
                _("no hay calendario de lectura del ciclo %(cycle)s para el periodo %(period)s")
                % {"cycle": route.cycle.code, "period": item.period},
            )
            continue
        if cal.closed:
            reject(
                item,
                "period",
                _("el periodo %(period)s está cerrado para el ciclo %(cycle)s")
                % {"period": item.period, "cycle": route.cycle.code},
            )
            continue
        owner = owners.get((item.period, route.pk))
        if owner is not None and owner != actor.pk:
            reject(
                item,
                "route",
                _("la ruta %(route)s está asignada a otro lector en %(period)s")
                % {"route": route.code, "period": item.period},
            )
            continue
        ok.append((item, acc))
    account_ids = {acc["id"] for _i, acc in ok}
    meters = current_meters(account_ids)
    existing = {
        (r.account_id, r.period): r
        for r in Reading.objects.select_for_update().filter(
            account_id__in=account_ids, period__in=periods
        )
    }
    previous: dict[str, dict[int, int]] = {}
    new_rows: dict[tuple[int, str], Reading] = {}
    changed: dict[tuple[int, str], Reading] = {}
    photos: list[tuple[Path, bytes]] = []
    for item, acc in ok:
        meter = meters.get(acc["id"])
        if meter is None:
            reject(
                item,
                "account",
                _("el suministro %(number)s no tiene medidor instalado") % {"number": item.account},
            )
            continue
        meter_id, digits = meter
        if item.value is not None and item.value >= 10**digits:
            reject(
                item,
                "value",
                _("la lectura tiene más dígitos que el medidor (%(digits)s)") % {"digits": digits},
            )
            continue
        key = (acc["id"], item.period)
        row = new_rows.get(key) or existing.get(key)
        status = "updated"
        if row is not None and row.client_uuid == item.client_uuid:
            results[item.index] = ItemResult(item.client_uuid, "unchanged", account=item.account)
            continue
        if row is not None and row.status in DECIDED:
            reject(
                item,
                "account",
                _(
                    "la lectura de %(number)s en %(period)s ya fue decidida en la crítica "
                    "(%(status)s); pida una orden de relectura"
                )
                % {
                    "number": item.account,
                    "period": item.period,
                    "status": ReadingStatus(row.status).label,
                },
            )
            continue
        if (
            row is not None
            and row.read_at is not None
            and row.read_at > item.read_at
            and (row.source in (ReadingSource.HANDHELD, ReadingSource.REREAD))
        ):
            results[item.index] = ItemResult(item.client_uuid, "superseded", account=item.account)
            continue
        if row is not None and _same(row, item):
            results[item.index] = ItemResult(item.client_uuid, "unchanged", account=item.account)
            continue
        if row is None:
            if item.period not in previous:
                previous[item.period] = previous_values(
                    [a["id"] for i, a in ok if i.period == item.period], item.period
                )
            row = Reading(
                account_id=acc["id"],
                period=item.period,
                route_id=acc["property__route_id"],
                previous_value=previous[item.period].get(acc["id"]),
                source=ReadingSource.HANDHELD,
            )
            new_rows[key] = row
            status = "created"
        elif key not in new_rows:
            changed[key] = row
        if row.status == ReadingStatus.REREAD:
            row.source = ReadingSource.REREAD
        elif row.source not in (ReadingSource.HANDHELD, ReadingSource.REREAD):
            row.source = ReadingSource.HANDHELD
        row.meter_id = meter_id
        row.value = item.value
        row.observation = item.observation
        row.read_at = item.read_at
        row.reader_id = actor.pk
        row.latitude = item.latitude
        row.longitude = item.longitude
        row.client_uuid = item.client_uuid
        row.status = ReadingStatus.PENDING
        row.flags = ""
        row.consumption = None
        row.consumption_rule = ""
        row.updated_at = now
        if item.photo:
            name = f"{item.period}/{item.account}-{item.client_uuid[:12]}.{item.photo_ext}"
            photos.append((photo_root() / name, item.photo))
            row.photo = name
        results[item.index] = ItemResult(item.client_uuid, status, account=item.account)
    Reading.objects.bulk_create(list(new_rows.values()))
    Reading.objects.bulk_update(
        list(changed.values()),
        [
            "meter",
            "value",
            "observation",
            "read_at",
            "reader",
            "latitude",
            "longitude",
            "client_uuid",
            "status",
            "flags",
            "consumption",
            "consumption_rule",
            "source",
            "photo",
            "updated_at",
        ],
    )
    for path, data in photos:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    result = SyncResult(items=[r for r in results if r is not None])
    stored = result.count("created") + result.count("updated")
    if stored:
        record(
            actor=actor,
            action="metering.sync_readings",
            object_type="metering.reading",
            object_id=",".join(sorted({f"{i.period}/{i.route}" for i, _a in ok}))[:60],
            after={k: v for k, v in result.as_dict().items() if k not in ("results",)}
            | {"photos": len(photos)},
        )
    return result


__all__ = [
    "DECIDED",
    "BatchError",
    "ItemResult",
    "RouteAccess",
    "RouteEntry",
    "SyncResult",
    "check_route_access",
    "current_meters",
    "do_assign_route",
    "do_sync_readings",
    "parse_item",
    "photo_root",
    "previous_values",
    "reader_routes",
    "visited",
]
