"""Pure rules of billing: plain data in, plain data out; no ORM (see docs/architecture.md).

What lives here (the billing run in ``runs.py`` and the corrections in ``actions.py`` call
these on data they loaded; nothing here touches the database):

- **Bill number and payment reference.** The bill number is ``YYYYMM`` of the period
  followed by the bill's id on 10 digits (16 digits, unique because the id is). The payment
  reference is the bill number followed by one GS1 mod-10 check digit (17 digits, numeric,
  within the 25 characters of GS1 AI 8020): it is the ``(8020)`` reference of the
  Colombian GS1-128 bill barcode and the payment code (código de pago) of a Peruvian bill.
  A bank or collection centre that echoes it identifies the bill, hence the account, and a
  mistyped digit is caught by the check digit.
- **Red bill** (recibo rojo, SEDACUSCO): ``overdue_bills >= policy.red_threshold`` (2 by
  default) at the billing date.
- **Messages** printed on the bill: the cut warning (with the calendar's cut-warning date)
  when the account has overdue debt, the red-bill notice, and the policy notices given for
  the period.
- **Consumption determination** for what the reading critique does not decide, and which
  services are billed (:func:`determine`).
- **Bill lines as JSON** (:data:`BillLine`, :func:`lines_json`) and the comparison of a
  simulation against the previous period (:func:`compare`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypedDict

import numpy as np
import polars as pl
from django.utils.translation import gettext as _

# =========================================================================================
# Bill number and payment reference
# =========================================================================================

#: Digits of the sequence part of a bill number (the bill id).
SEQUENCE_DIGITS = 10
#: Longest payment reference (GS1 AI 8020 is X..25; we stay numeric).
REFERENCE_MAX = 25


def gs1_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of ``digits`` (the rule of GTIN and GLN check digits).

    From the rightmost digit leftwards the weights are 3, 1, 3, 1, …; the check digit is
    ``(10 - sum mod 10) mod 10``. It catches every single wrong digit and most swaps of two
    neighbouring digits.
    """
    if not digits or not digits.isdigit() or not digits.isascii():
        raise ValueError(f"not a string of digits: {digits!r}")
    total = sum(int(d) * (3 if pos % 2 == 0 else 1) for pos, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def bill_number(period: str, sequence: int) -> str:
    """``YYYYMM`` + ``sequence`` on 10 digits, e.g. ``bill_number("2026-11", 42)`` →
    ``"2026110000000042"``. ``sequence`` is the bill's id, so the number is unique."""
    if not 0 < sequence < 10**SEQUENCE_DIGITS:
        raise ValueError(f"bill sequence out of range: {sequence}")
    year, month = period.split("-")
    return f"{int(year):04d}{int(month):02d}{sequence:0{SEQUENCE_DIGITS}d}"


def payment_reference(number: str) -> str:
    """The payment reference of a bill: its number plus a GS1 mod-10 check digit."""
    if len(number) + 1 > REFERENCE_MAX:
        raise ValueError(f"bill number too long for a payment reference: {number!r}")
    return number + str(gs1_check_digit(number))


def is_valid_reference(reference: str) -> bool:
    """True when ``reference`` is numeric, at most 25 digits, and its last digit checks."""
    ref = reference.strip()
    if not 2 <= len(ref) <= REFERENCE_MAX or not ref.isdigit() or not ref.isascii():
        return False
    return gs1_check_digit(ref[:-1]) == int(ref[-1])


def numbers_and_references(period: str, ids: Sequence[int]) -> tuple[list[str], list[str]]:
    """:func:`bill_number` and :func:`payment_reference` of many bill ids, vectorised
    (NumPy): the billing run numbers a route at a time."""
    year, month = period.split("-")
    if not len(ids):
        return [], []
    sequence = np.asarray(ids, dtype=np.int64)
    if int(sequence.min()) <= 0 or int(sequence.max()) >= 10**SEQUENCE_DIGITS:
        raise ValueError("bill sequence out of range")
    value = sequence + (int(year) * 100 + int(month)) * 10**SEQUENCE_DIGITS
    total = np.zeros(len(sequence), dtype=np.int64)
    rest = value.copy()
    for pos in range(6 + SEQUENCE_DIGITS):
        total += (rest % 10) * (3 if pos % 2 == 0 else 1)
        rest //= 10
    check = (10 - total % 10) % 10
    numbers = list(map(str, value.tolist()))
    references = list(map(str, (value * 10 + check).tolist()))
    return numbers, references


# =========================================================================================
# Policy, red bill, messages
# =========================================================================================


@dataclass(frozen=True)
class BillingPolicy:
    """The configurable parts of billing (Django setting ``CAUDAL_BILLING``, a dict with
    these keys; ``notices`` also per run).

    - ``red_threshold``: overdue bills at the billing date that make the bill red
      (SEDACUSCO: 2).
    - ``fixed_charge_when_cut``: an account whose services are all cut (cortada) still
      pays the fixed charge (cargo fijo) of the cut services, with no volumetric charge.
      Default True: the fixed charge pays for the commercial service (reading, billing,
      customer service) that continues while the supply is cut. False: a cut account gets
      no bill and is listed as ``service_cut``.
    - ``cut_warning``: print the cut warning on bills of accounts with overdue debt.
    - ``grace_days``: days after the due date before an item counts as overdue (the
      utility setting of the same name).
    - ``notices``: policy notices printed on every bill of the run (e.g. a tariff change
      or a campaign).
    """

    red_threshold: int = 2
    fixed_charge_when_cut: bool = True
    cut_warning: bool = True
    grace_days: int = 0
    notices: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None, **overrides: Any) -> BillingPolicy:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        known.update({k: v for k, v in overrides.items() if v is not None})
        if "notices" in known:
            known["notices"] = tuple(str(n).strip() for n in known["notices"] if str(n).strip())
        policy = cls(**known)
        if policy.red_threshold < 1:
            raise ValueError("red_threshold must be at least 1")
        if policy.grace_days < 0:
            raise ValueError("grace_days must not be negative")
        return policy

    def as_dict(self) -> dict[str, Any]:
        return {
            "red_threshold": self.red_threshold,
            "fixed_charge_when_cut": self.fixed_charge_when_cut,
            "cut_warning": self.cut_warning,
            "grace_days": self.grace_days,
            "notices": list(self.notices),
        }


def is_red(overdue_bills: int, *, threshold: int = 2) -> bool:
    """Red bill (recibo rojo): ``threshold`` or more overdue bills at the billing date."""
    return overdue_bills >= threshold


#: Message codes (the text is in the language active when the bill is computed).
CUT_WARNING = "cut_warning"
RED_BILL = "red_bill"
NOTICE = "notice"


class Message(TypedDict):
    code: str
    text: str


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def bill_messages(
    *,
    overdue_bills: int,
    overdue_amount: int,
    cut_warning_date: date | None,
    policy: BillingPolicy,
) -> list[Message]:
    """The messages of one bill, in print order: red notice, cut warning, policy notices.

    The cut warning appears when the account has overdue debt (an unblocked debit past its
    due date plus grace days) and the calendar gives a cut-warning date.
    """
    out: list[Message] = []
    if is_red(overdue_bills, threshold=policy.red_threshold):
        out.append(
            {
                "code": RED_BILL,
                "text": _(
                    "RECIBO ROJO: tiene %(n)s recibos vencidos. Regularice su deuda para "
                    "evitar el corte del servicio y el reporte a centrales de riesgo."
                )
                % {"n": overdue_bills},
            }
        )
    if policy.cut_warning and overdue_amount > 0 and cut_warning_date is not None:
        out.append(
            {
                "code": CUT_WARNING,
                "text": _(
                    "AVISO DE CORTE: tiene deuda vencida. Si no la paga, el servicio podrá "
                    "ser suspendido a partir del %(date)s."
                )
                % {"date": _day(cut_warning_date)},
            }
        )
    out.extend({"code": NOTICE, "text": text} for text in policy.notices)
    return out


# =========================================================================================
# Consumption determination and billed services
# =========================================================================================

# Consumption rules (values of caudal.metering.models.ConsumptionRule, plus CUT).
ACTUAL = "actual"
AVERAGE = "average"
ASSIGNED = "assigned"
MINIMUM = "minimum"
#: A bill of an account whose services are all cut: fixed charge only, no volume.
CUT = "cut"

#: Reading statuses the run bills from (caudal.metering.models.BILLABLE_STATUSES).
BILLABLE = ("ok", "accepted", "corrected", "estimated")

# Meter states of an account at billing time.
METERED = "metered"  # a current meter, installed (or broken: the critique estimates)
REMOVED = "removed"  # meter(s) removed or stolen and none reinstalled (RCD 011-2007 art. 87 c)
UNMETERED = "unmetered"  # never had a meter

# Connection statuses (caudal.cadastre.models.ConnectionStatus values).
ACTIVE = "active"
CUT_STATUS = "cut"

# Outcomes of an account in a run.
BILL = "bill"
HELD = "held"
REJECTED = "rejected"

# Reasons an account is not billed (codes are stable; labels in REASONS).
R_INACTIVE = "inactive"
R_SERVICE_CUT = "service_cut"
R_READING_HELD = "reading_held"
R_NO_READING = "no_reading"
R_NO_CONSUMPTION = "no_consumption"
R_NO_ASSIGNED = "no_assigned_volume"
R_UNPRICEABLE = "unpriceable"
R_NO_CALENDAR = "no_calendar"
R_NO_ROUTE = "no_route"


def reason_labels() -> dict[str, str]:
    """Human label of every reason code (Spanish through gettext)."""
    return {
        R_INACTIVE: _("Suministro inactivo: ningún servicio activo ni cortado"),
        R_SERVICE_CUT: _("Servicios cortados: la política no factura cargo fijo"),
        R_READING_HELD: _("Lectura retenida por la crítica (observada, por criticar o relectura)"),
        R_NO_READING: _("Sin lectura del periodo para un suministro con medidor"),
        R_NO_CONSUMPTION: _("Lectura aprobada sin consumo a facturar"),
        R_NO_ASSIGNED: _("Sin asignación de consumo para la categoría en la tarifa"),
        R_UNPRICEABLE: _("La tarifa no puede facturar el suministro"),
        R_NO_CALENDAR: _("El ciclo no tiene calendario para el periodo"),
        R_NO_ROUTE: _("El predio del suministro no tiene ruta"),
    }


HELD_REASONS = frozenset({R_READING_HELD, R_NO_READING, R_NO_CONSUMPTION})


def average_m3(total: int, count: int) -> int:
    """Whole-m³ average, rounded half up (integer arithmetic)."""
    if count <= 0:
        raise ValueError("no periods to average")
    return (2 * total + count) // (2 * count)


def determine(frame: pl.DataFrame, *, hold_unresolved: bool, policy: BillingPolicy) -> pl.DataFrame:
    """Consumption to bill, its rule, the billed services and the outcome of each account.

    Input columns: ``water_status``, ``sewer_status`` (connection status or null),
    ``meter_state`` (:data:`METERED`, :data:`REMOVED`, :data:`UNMETERED`),
    ``reading_status`` (null: no reading row), ``reading_consumption``, ``reading_rule``,
    ``average_m3`` (historical average, nullable), ``assigned_m3`` (assigned volume of
    the account: tariff volume for its category × units; null when the tariff has none).

    Adds ``consumption_m3`` (Int64), ``consumption_rule``, ``water``, ``sewer`` (Boolean:
    the services priced), ``outcome`` (:data:`BILL`, :data:`HELD`, :data:`REJECTED`) and
    ``reason`` (null when billed).

    The rules, in order:

    1. Services: a service is billed when its connection is active. An account with no
       active service is billed only when some service is cut and the policy bills the
       fixed charge of cut accounts (consumption 0, rule ``cut``, the cut services priced
       for their fixed charge); otherwise it is rejected (``service_cut`` or ``inactive``).
    2. A reading in a billable status (ok, accepted, corrected, estimated) with a
       consumption: that consumption and the rule the critique recorded.
    3. No meter ever: the assigned volume (asignación de consumo), rule ``assigned``.
    4. Meter removed or stolen and not reinstalled: the smaller of the assigned volume and
       the historical average (SUNASS RCD 011-2007 art. 87 c), rule ``minimum``; with no
       average, the assigned volume (``assigned``); with no assigned volume, the average
       (``average``).
    5. A metered account whose reading is not billable (pending, flagged, re-read ordered),
       or that has no reading: held (``reading_held``, ``no_reading``) while
       ``hold_unresolved``; otherwise the historical average (``average``), else the
       assigned volume (``assigned``), else held.
    """
    c = pl.col
    water_on = c("water_status").fill_null("") == ACTIVE
    sewer_on = c("sewer_status").fill_null("") == ACTIVE
    water_cut = c("water_status").fill_null("") == CUT_STATUS
    sewer_cut = c("sewer_status").fill_null("") == CUT_STATUS
    any_on = water_on | sewer_on
    any_cut = water_cut | sewer_cut
    cut_bill = ~any_on & any_cut & pl.lit(policy.fixed_charge_when_cut)

    billable_reading = c("reading_status").is_in(list(BILLABLE)).fill_null(False)
    has_reading_value = billable_reading & c("reading_consumption").is_not_null()
    assigned = c("assigned_m3")
    average = c("average_m3")
    smaller = pl.min_horizontal(assigned, average)
    fallback_value = pl.coalesce(average, assigned)
    fallback_rule = (
        pl.when(average.is_not_null())
        .then(pl.lit(AVERAGE))
        .when(assigned.is_not_null())
        .then(pl.lit(ASSIGNED))
    )
    removed_value = (
        pl.when(assigned.is_not_null() & average.is_not_null())
        .then(smaller)
        .otherwise(pl.coalesce(assigned, average))
    )
    removed_rule = (
        pl.when(assigned.is_not_null() & average.is_not_null())
        .then(pl.lit(MINIMUM))
        .when(assigned.is_not_null())
        .then(pl.lit(ASSIGNED))
        .when(average.is_not_null())
        .then(pl.lit(AVERAGE))
    )
    state = c("meter_state")
    metered_unresolved = (state == METERED) & ~has_reading_value
    unresolved_reason = (
        pl.when(c("reading_status").is_null())
        .then(pl.lit(R_NO_READING))
        .when(billable_reading)
        .then(pl.lit(R_NO_CONSUMPTION))
        .otherwise(pl.lit(R_READING_HELD))
    )

    consumption = (
        pl.when(cut_bill)
        .then(pl.lit(0, dtype=pl.Int64))
        .when(has_reading_value)
        .then(c("reading_consumption"))
        .when(state == UNMETERED)
        .then(assigned)
        .when(state == REMOVED)
        .then(removed_value)
        .when(pl.lit(not hold_unresolved))
        .then(fallback_value)
    )
    rule = (
        pl.when(cut_bill)
        .then(pl.lit(CUT))
        .when(has_reading_value)
        .then(c("reading_rule").fill_null(ACTUAL).replace("", ACTUAL))
        .when(state == UNMETERED)
        .then(pl.when(assigned.is_not_null()).then(pl.lit(ASSIGNED)))
        .when(state == REMOVED)
        .then(removed_rule)
        .when(pl.lit(not hold_unresolved))
        .then(fallback_rule)
    )
    reason = (
        pl.when(~any_on & ~cut_bill)
        .then(pl.when(any_cut).then(pl.lit(R_SERVICE_CUT)).otherwise(pl.lit(R_INACTIVE)))
        .when(cut_bill)
        .then(pl.lit(None, dtype=pl.String))
        .when(has_reading_value)
        .then(pl.lit(None, dtype=pl.String))
        .when((state == UNMETERED) & assigned.is_null())
        .then(pl.lit(R_NO_ASSIGNED))
        .when((state == REMOVED) & assigned.is_null() & average.is_null())
        .then(pl.lit(R_NO_ASSIGNED))
        .when(metered_unresolved & (pl.lit(hold_unresolved) | fallback_value.is_null()))
        .then(unresolved_reason)
    )
    out = frame.with_columns(
        consumption.cast(pl.Int64).alias("consumption_m3"),
        rule.alias("consumption_rule"),
        (pl.when(cut_bill).then(water_cut).otherwise(water_on)).alias("water"),
        (pl.when(cut_bill).then(sewer_cut).otherwise(sewer_on)).alias("sewer"),
        reason.alias("reason"),
    )
    outcome = (
        pl.when(c("reason").is_null())
        .then(pl.lit(BILL))
        .when(c("reason").is_in(sorted(HELD_REASONS)))
        .then(pl.lit(HELD))
        .otherwise(pl.lit(REJECTED))
    )
    out = out.with_columns(outcome.alias("outcome"))
    # Not billed: no consumption, no services (keeps later joins honest).
    not_billed = c("outcome") != BILL
    return out.with_columns(
        pl.when(not_billed).then(None).otherwise(c("consumption_m3")).alias("consumption_m3"),
        pl.when(not_billed).then(None).otherwise(c("consumption_rule")).alias("consumption_rule"),
        pl.when(not_billed).then(False).otherwise(c("water")).alias("water"),
        pl.when(not_billed).then(False).otherwise(c("sewer")).alias("sewer"),
    )


# =========================================================================================
# Bill lines (JSON) and the comparison with the previous period
# =========================================================================================


class BillLine(TypedDict, total=False):
    """One entry of ``Bill.lines``: the explanation of one ledger line of the bill.

    ``line_no`` equals the ledger ``DocumentLine.line_no``; ``amount`` its amount (minor
    units). ``gross`` is the amount before the subsidy / contribution ``factor`` (percent
    as decimal text, negative for a subsidy); ``rate`` the unit price as decimal text;
    ``block`` and ``volume`` the consumption block and the m³ billed in it; ``tariff`` the
    tariff version (``CODE vN``); ``rule`` the consumption rule. Keys whose value is null
    are left out.
    """

    line_no: int
    concept: str
    description: str
    block: str
    volume: int
    rate: str
    factor: str
    gross: int
    amount: int
    tariff: str
    rule: str


def lines_json(priced: pl.DataFrame, *, tariff_label: str, rules: pl.DataFrame) -> pl.DataFrame:
    """One JSON text per account (``account_id``, ``lines_json``) from the priced lines.

    ``priced`` has the columns of ``caudal.tariffs.pricing.price_accounts``; ``rules``
    maps ``account_id`` → ``consumption_rule``. Keys with null values are dropped, so the
    JSON of a fixed-charge line carries no block, volume or rate.
    """
    if priced.height == 0:
        return pl.DataFrame(schema={"account_id": pl.Int64, "lines_json": pl.String})
    c = pl.col

    def pair(key: str, value: pl.Expr, *, text: bool) -> pl.Expr:
        encoded = value.cast(pl.String)
        if text:
            # JSON string escaping of the text (json_encode of a one-field struct is exact).
            encoded = pl.struct(value.alias("v")).struct.json_encode().str.slice(5).str.head(-1)
        return (
            pl.when(value.is_null())
            .then(pl.lit(""))
            .otherwise(pl.concat_str([pl.lit(f',"{key}":'), encoded]))
        )

    frame = priced.join(rules, on="account_id", how="left")
    entry = pl.concat_str(
        [
            pl.lit('{"line_no":'),
            c("line_no").cast(pl.String),
            pair("concept", c("concept"), text=True),
            pair("description", c("description"), text=True),
            pair("block", c("block"), text=True),
            pair("volume", c("volume_m3"), text=False),
            pair("rate", c("rate"), text=True),
            pair("factor", c("factor_pct"), text=True),
            pair("gross", c("gross"), text=False),
            pair("amount", c("amount"), text=False),
            pl.lit(f',"tariff":{json.dumps(tariff_label)}'),
            pair("rule", c("consumption_rule"), text=True),
            pl.lit("}"),
        ]
    )
    return (
        frame.sort(["account_id", "line_no"])
        .group_by("account_id", maintain_order=True)
        .agg(entry.str.join(",").alias("body"))
        .select(
            "account_id", pl.concat_str([pl.lit("["), c("body"), pl.lit("]")]).alias("lines_json")
        )
    )


def compare(current: pl.DataFrame, previous: pl.DataFrame, *, top: int = 20) -> dict[str, Any]:
    """Differences between this period's bills and the previous period's.

    Both frames: ``account_id``, ``number`` (account number), ``consumption_m3``,
    ``amount``. Returns the totals of both, their differences, the accounts billed only in
    one of them, and the ``top`` accounts with the largest change of amount.
    """

    def summary(frame: pl.DataFrame) -> dict[str, int]:
        return {
            "accounts": frame.height,
            "volume_m3": int(frame["consumption_m3"].sum() or 0),
            "amount": int(frame["amount"].sum() or 0),
        }

    now, before = summary(current), summary(previous)
    joined = current.select("account_id", "number", "consumption_m3", "amount").join(
        previous.select(
            "account_id",
            pl.col("number").alias("number_prev"),
            pl.col("consumption_m3").alias("volume_prev"),
            pl.col("amount").alias("amount_prev"),
        ),
        on="account_id",
        how="full",
        coalesce=True,
    )
    both = joined.filter(pl.col("amount").is_not_null() & pl.col("amount_prev").is_not_null())
    largest = (
        both.with_columns(
            (pl.col("amount") - pl.col("amount_prev")).alias("amount_change"),
            (pl.col("consumption_m3") - pl.col("volume_prev")).alias("volume_change"),
        )
        .with_columns(pl.col("amount_change").abs().alias("__abs"))
        .sort(["__abs", "account_id"], descending=[True, False])
        .head(top)
        .select(
            "account_id",
            "number",
            pl.col("volume_prev"),
            pl.col("consumption_m3").alias("volume"),
            "volume_change",
            pl.col("amount_prev"),
            "amount",
            "amount_change",
        )
    )
    return {
        "current": now,
        "previous": before,
        "difference": {k: now[k] - before[k] for k in now},
        "new_accounts": int(joined.filter(pl.col("amount_prev").is_null()).height),
        "missing_accounts": int(joined.filter(pl.col("amount").is_null()).height),
        "largest_changes": largest.to_dicts(),
    }


def count_reasons(reasons: Iterable[str | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason in reasons:
        if reason:
            out[reason] = out.get(reason, 0) + 1
    return dict(sorted(out.items()))


def merge_counts(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Add the integer counts of ``more`` into ``into`` (nested dicts merged the same way)."""
    for key, value in more.items():
        if isinstance(value, dict):
            merge_counts(into.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value
        else:
            into[key] = value
    return into
