"""Route sheets (hojas de ruta): what a reader needs to read one route in one period.

``route_sheet(period, route)`` loads the accounts to read on the route, in route sequence
(``Property.sequence``), with their meter, previous reading, last three consumptions and
the expected range; the same rows feed the PDF for paper, the CSV and JSON for handhelds,
and the mobile reading page.

Accounts to read: every account of the route with a current meter (``removed_on`` empty).
Unmetered accounts are billed by assigned volume and are not on the sheet.

Expected range (:func:`expected_range`, pure): from up to six past consumptions ``c``
(whole m³) with average ``a``, a consumption between ``min(min(c), ⌊a/2⌋)`` and
``max(max(c), ⌈2a⌉, low + 3)`` is plausible; the sheet prints it as readings (previous
reading + consumption, modulo the meter's 10^digits). A reading outside it is not refused:
the mobile page asks the reader to confirm, and the critique decides.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.cadastre.models import Account, Meter, Route
from caudal.kernel.periods import Period

from .models import Observation, ReadingCalendar, RouteAssignment
from .models import Reading as ReadingModel

#: Past periods looked at for the previous reading and the consumption history.
LOOKBACK = 12
#: Consumptions used for the expected range.
RANGE_HISTORY = 6
#: Consumptions printed on the sheet (most recent first).
SHOWN_HISTORY = 3

#: Two-digit keys for the observation codes (claves de lectura), for paper sheets and
#: handhelds that cannot type the codes; the import accepts either.
OBSERVATION_KEYS: dict[str, str] = {
    "01": Observation.NO_ACCESS,
    "02": Observation.HOUSE_CLOSED,
    "03": Observation.METER_BROKEN,
    "04": Observation.METER_MISSING,
    "05": Observation.ILLEGIBLE,
    "06": Observation.DOG,
    "07": Observation.SELF_RECONNECTED,
    "08": Observation.METER_REVERSED,
    "09": Observation.METER_BURIED,
    "10": Observation.LEAK,
    "11": Observation.VACANT,
    "12": Observation.DEMOLISHED,
    "13": Observation.CLANDESTINE,
    "14": Observation.METER_CHANGED,
    "15": Observation.REFUSED,
}
KEY_OF = {v: k for k, v in OBSERVATION_KEYS.items()}


def observation_legend() -> list[dict[str, str]]:
    """Every observation code with its key and its label (in the active language)."""
    return [
        {"key": KEY_OF.get(value, ""), "code": value, "label": str(label)}
        for value, label in Observation.choices
        if value
    ]


def expected_range(consumptions: Sequence[int]) -> tuple[int, int] | None:
    """Plausible consumption (m³) from past consumptions; None without history."""
    c = [int(x) for x in consumptions if x is not None and x >= 0]
    if not c:
        return None
    total, n = sum(c), len(c)
    low = min(min(c), total // (2 * n))
    high = max(max(c), -(-2 * total // n), low + 3)
    return low, high


def consumption_between(previous: int | None, value: int | None, digits: int) -> int | None:
    """Whole m³ between two readings, across one rollover of a ``digits``-digit meter;
    None when either is missing."""
    if previous is None or value is None:
        return None
    if value >= previous:
        return value - previous
    return value + 10**digits - previous


@dataclass
class SheetRow:
    sequence: int
    account_id: int
    account_number: str
    address: str
    customer: str
    category: str
    segment: str
    meter_serial: str
    meter_digits: int
    previous_value: int | None
    previous_period: str
    consumptions: list[int | None]
    expected_min: int | None
    expected_max: int | None
    expected_consumption: tuple[int, int] | None
    latitude: float | None = None
    longitude: float | None = None
    # the period's reading, when there is one
    value: int | None = None
    observation: str = ""
    status: str = ""
    read_at: str = ""
    reread: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["expected_consumption"] = (
            list(self.expected_consumption) if self.expected_consumption else None
        )
        return data


@dataclass
class RouteSheet:
    period: str
    route_id: int
    route_code: str
    route_name: str
    cycle_code: str
    reader: str
    read_from: str
    read_to: str
    closed: bool
    generated_at: datetime
    rows: list[SheetRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "route": self.route_code,
            "route_name": self.route_name,
            "cycle": self.cycle_code,
            "reader": self.reader,
            "read_from": self.read_from,
            "read_to": self.read_to,
            "closed": self.closed,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "observation_codes": observation_legend(),
            "accounts": [r.as_dict() for r in self.rows],
        }


def _history_consumption(row: dict[str, Any], digits: int) -> int | None:
    """The billed consumption when the critique decided one, else the reading difference."""
    if row["consumption"] is not None:
        return int(row["consumption"])
    return consumption_between(row["previous_value"], row["value"], digits)


def route_sheet(period: Period | str, route: Route, *, only_reread: bool = False) -> RouteSheet:
    """The sheet of ``route`` for ``period`` (a few queries, whatever the route's size)."""
    from .calendar_actions import utility_months

    p = period if isinstance(period, Period) else Period.parse(period, months=utility_months())
    code = p.code
    calendar = (
        ReadingCalendar.objects.filter(cycle_id=route.cycle_id, period=code)
        .only("read_from", "read_to", "closed")
        .first()
    )
    assignment = (
        RouteAssignment.objects.filter(period=code, route=route).select_related("reader").first()
    )
    reader = (
        (assignment.reader.get_full_name() or assignment.reader.get_username())
        if assignment
        else ""
    )
    accounts = list(
        Account.objects.filter(property__route=route)
        .order_by("property__sequence", "number")
        .values(
            "id",
            "number",
            "category",
            "segment",
            "property__sequence",
            "property__address",
            "property__latitude",
            "property__longitude",
            "customer__name",
        )
    )
    ids = [a["id"] for a in accounts]
    meters: dict[int, dict[str, Any]] = {}
    for m in (
        Meter.objects.filter(account_id__in=ids, removed_on__isnull=True)
        .exclude(status="removed")
        .order_by("account_id", "installed_on", "id")
        .values("account_id", "serial", "digits")
    ):
        meters[m["account_id"]] = dict(m)  # the latest installed wins
    periods = [q.code for q in p.last(LOOKBACK)] + [code]
    history: dict[int, dict[str, dict[str, Any]]] = {}
    r: Any
    for r in ReadingModel.objects.filter(account_id__in=list(meters), period__in=periods).values(
        "account_id",
        "period",
        "value",
        "previous_value",
        "consumption",
        "observation",
        "status",
        "read_at",
    ):
        history.setdefault(r["account_id"], {})[r["period"]] = dict(r)
    past_codes = periods[:-1][::-1]  # most recent first
    rows: list[SheetRow] = []
    for a in accounts:
        meter = meters.get(a["id"])
        if meter is None:
            continue
        past = history.get(a["id"], {})
        current: dict[str, Any] | None = past.get(code)
        if only_reread and (current is None or current["status"] != "reread"):
            continue
        previous_value, previous_period = None, ""
        for q in past_codes:
            r = past.get(q)
            if r is not None and r["value"] is not None:
                previous_value, previous_period = int(r["value"]), q
                break
        if previous_value is None and current is not None and current["previous_value"] is not None:
            previous_value = int(current["previous_value"])
        digits = int(meter["digits"])
        consumptions = [
            _history_consumption(past[q], digits) if q in past else None for q in past_codes
        ]
        known = [c for c in consumptions if c is not None][:RANGE_HISTORY]
        expected = expected_range(known)
        emin = emax = None
        if expected is not None and previous_value is not None:
            emin = (previous_value + expected[0]) % 10**digits
            emax = (previous_value + expected[1]) % 10**digits
        read_at = current["read_at"] if current else None
        rows.append(
            SheetRow(
                sequence=int(a["property__sequence"]),
                account_id=int(a["id"]),
                account_number=a["number"],
                address=a["property__address"],
                customer=a["customer__name"],
                category=a["category"],
                segment=a["segment"],
                meter_serial=meter["serial"],
                meter_digits=digits,
                previous_value=previous_value,
                previous_period=previous_period,
                consumptions=consumptions[:SHOWN_HISTORY],
                expected_min=emin,
                expected_max=emax,
                expected_consumption=expected,
                latitude=float(a["property__latitude"])
                if a["property__latitude"] is not None
                else None,
                longitude=float(a["property__longitude"])
                if a["property__longitude"] is not None
                else None,
                value=current["value"] if current else None,
                observation=current["observation"] if current else "",
                status=current["status"] if current else "",
                read_at=timezone.localtime(read_at).isoformat(timespec="seconds")
                if read_at
                else "",
                reread=bool(current and current["status"] == "reread"),
            )
        )
    return RouteSheet(
        period=code,
        route_id=route.pk,
        route_code=route.code,
        route_name=route.name,
        cycle_code=route.cycle.code,
        reader=reader,
        read_from=calendar.read_from.isoformat() if calendar else "",
        read_to=calendar.read_to.isoformat() if calendar else "",
        closed=bool(calendar and calendar.closed),
        generated_at=timezone.localtime(),
        rows=rows,
    )


CSV_COLUMNS = (
    "sequence",
    "account_number",
    "address",
    "customer",
    "meter_serial",
    "meter_digits",
    "previous_reading",
    "previous_period",
    "consumption_1",
    "consumption_2",
    "consumption_3",
    "expected_min",
    "expected_max",
    "reading",
    "observation",
)


def sheet_csv(sheet: RouteSheet) -> str:
    """UTF-8 CSV, comma-separated, one row per account in sequence; ``reading`` and
    ``observation`` are left empty for the handheld to fill."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in sheet.rows:
        c = [*r.consumptions, None, None, None][:SHOWN_HISTORY]
        writer.writerow(
            [
                r.sequence,
                r.account_number,
                r.address,
                r.customer,
                r.meter_serial,
                r.meter_digits,
                "" if r.previous_value is None else r.previous_value,
                r.previous_period,
                *("" if x is None else x for x in c),
                "" if r.expected_min is None else r.expected_min,
                "" if r.expected_max is None else r.expected_max,
                "",
                "",
            ]
        )
    return out.getvalue()


def sheet_json(sheet: RouteSheet) -> str:
    return json.dumps(sheet.as_dict(), ensure_ascii=False)


def sheet_pdf(sheet: RouteSheet, *, utility_name: str = "") -> bytes:
    """The printable sheet: A4 landscape, header with route, period and reader, page
    numbers, the observation codes legend at the end. Rendered by WeasyPrint from the
    template ``web/metering/sheet_pdf.html`` (installed by ``caudal.web``)."""
    from django.template.loader import render_to_string
    from weasyprint import HTML

    html = render_to_string(
        "web/metering/sheet_pdf.html",
        {
            "sheet": sheet,
            "legend": observation_legend(),
            "utility_name": utility_name,
            "title": _("Hoja de ruta de lectura"),
        },
    )
    return bytes(HTML(string=html).write_pdf())


__all__ = [
    "CSV_COLUMNS",
    "OBSERVATION_KEYS",
    "RouteSheet",
    "SheetRow",
    "consumption_between",
    "expected_range",
    "observation_legend",
    "route_sheet",
    "sheet_csv",
    "sheet_json",
    "sheet_pdf",
]
