"""The demo's recent history: meter readings and which recent bills were paid, and when.

The opening cartera (``generator._balances``) carries every open bill older than the last
``billed_periods`` periods, as a migrating utility would. The last ``billed_periods``
periods are billed by the real billing run from readings made here; then the bills each
account's behaviour says were paid are paid. So the open cartera after the build has the
same shape as a pure migration would give, but its recent part went through critique,
tariffs and billing.

Readings: ``HISTORY_PERIODS`` periods before the billed ones form the migrated reading
history (the critique's averages need it); the billed periods' readings are read in the
field, with the usual events: no access, a house closed, a broken meter, a leak.
Pure NumPy/Polars, seeded; nothing loops per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .days import dates, month_start_days

HISTORY_PERIODS = 6

# observation codes (caudal.metering.models.Observation) drawn for readings not taken
_NOT_READ = ("no_access", "closed", "dog", "illegible", "broken")
_NOT_READ_P = (0.4, 0.3, 0.1, 0.1, 0.1)


@dataclass
class History:
    readings: pl.DataFrame  # account_number, period, offset, billed, previous, value, ...
    payments: pl.DataFrame  # account_number, period, offset, paid_on (null: unpaid)


def month_code(month_index: np.ndarray) -> pl.Series:
    """``YYYY-MM`` of month indexes ``year * 12 + month - 1``."""
    idx = pl.Series(np.asarray(month_index, dtype=np.int64))
    year = (idx // 12).cast(pl.String)
    month = (idx % 12 + 1).cast(pl.String).str.zfill(2)
    return pl.select(pl.concat_str([pl.lit(year), pl.lit("-"), pl.lit(month)])).to_series()


def period_month(cal: Any, cycle: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Month index of the first month of the period billed ``offset`` periods before the
    cycle's latest bill: the bill issued in month M covers the period that ends the month
    before (monthly: M - 1; bimonthly: M - 2)."""
    return cal.latest_month[cycle] - offset * cal.step - cal.step


def build_history(
    *,
    rng: np.random.Generator,
    acc: dict[str, Any],
    debt: dict[str, np.ndarray],
    services: dict[str, Any],
    metered: np.ndarray,
    digits: np.ndarray,
    cycle: np.ndarray,
    cal: Any,
    reading_day: np.ndarray,
    billed_periods: int,
) -> History:
    n = cycle.size
    span = billed_periods + HISTORY_PERIODS
    step = cal.step
    acct = np.repeat(np.flatnonzero(metered), span)
    offset = np.tile(np.arange(span - 1, -1, -1), int(metered.sum()))
    behaviour = acc["behaviour"][acct]
    # consumption per period: the account's base, noise, zero after a cut or a stop
    noise = np.exp(rng.normal(0, 0.22, acct.size))
    volume = np.rint(acc["base_m3"][acct] * noise * step).astype(np.int64)
    volume[services["_cut_offset"][acct] > offset] = 0
    inactive = behaviour == 4  # generator.INACTIVE: stopped ``start`` periods ago
    volume[inactive & (offset < debt["start"][acct])] = 0
    billed = offset < billed_periods
    # field events in the billed periods only (the migrated history is clean): a reading
    # not taken (no access, house closed, …), and real spikes (a leak: the register moves)
    u = rng.random(acct.size)
    not_read = billed & (u < 0.02)
    spike = billed & (u >= 0.02) & (u < 0.03)
    volume[spike] = volume[spike] * 4 + 10 * step
    # cumulative meter register, wrapping at the meter's capacity (rollover is real)
    modulus = (10 ** digits[acct]).astype(np.int64)
    first = np.ones(acct.size, dtype=bool)
    first[1:] = acct[1:] != acct[:-1]
    start_value = (rng.random(n) * 0.9 * (10**digits)).astype(np.int64)
    group_start = np.maximum.accumulate(np.where(first, np.arange(acct.size), 0))
    cumulative = np.cumsum(volume)
    register = start_value[acct] + cumulative - cumulative[group_start] + volume[group_start]
    value = register % modulus
    previous = np.where(first, start_value[acct] % modulus, np.roll(value, 1))
    observation = np.full(acct.size, "", dtype=object)
    codes = np.array(_NOT_READ, dtype=object)[rng.choice(len(_NOT_READ), acct.size, p=_NOT_READ_P)]
    observation[not_read] = codes[not_read]
    observation[spike & (rng.random(acct.size) < 0.5)] = "leak"
    shown = value
    month = period_month(cal, cycle[acct], offset)
    last_month = month + step - 1
    read_day = month_start_days(last_month) + np.minimum(
        reading_day[cycle[acct]] - 1 + rng.integers(0, 5, acct.size), 27
    )
    readings = pl.DataFrame(
        {
            "acct": acct,
            "period": month_code(month),
            "offset": offset,
            "billed": billed,
            "previous": previous,
            "value": pl.Series(shown).set(pl.Series(not_read), None),
            "true_value": value,
            "consumption": volume,
            "read_on": dates(read_day),
            "observation": pl.Series(observation.astype(str), dtype=pl.String),
        }
    )
    # payments of the billed periods: unpaid when the debt shape says the bill is open
    p_acct = np.repeat(np.arange(n), billed_periods)
    p_offset = np.tile(np.arange(billed_periods - 1, -1, -1), n)
    open_now = (p_offset >= debt["start"][p_acct]) & (
        p_offset < debt["start"][p_acct] + debt["count"][p_acct]
    )
    issue = cal.issue_days(cycle[p_acct], p_offset)
    b = acc["behaviour"][p_acct]
    delay = np.where(
        b == 0,  # punctual: before the due date
        rng.integers(1, max(2, cal.due_days), p_acct.size),
        cal.due_days + rng.integers(3, 45, p_acct.size),
    )
    paid_on = np.minimum(issue + delay, cal.as_of - 1)
    paid = ~open_now & ~acc["feasible"][p_acct] & (paid_on >= issue)
    payments = (
        pl.DataFrame(
            {
                "acct": p_acct,
                "period": month_code(period_month(cal, cycle[p_acct], p_offset)),
                "offset": p_offset,
                "paid_on": dates(paid_on),
                "paid": paid,
            }
        )
        .with_columns(pl.when(pl.col("paid")).then(pl.col("paid_on")).alias("paid_on"))
        .drop("paid")
    )
    return History(readings=readings, payments=payments)
