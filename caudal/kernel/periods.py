"""Billing periods: pure value type, no Django.

A period is named by its first month, ``YYYY-MM``, and lasts one month (monthly billing) or
two (bimonthly, as EAAB bills): ``2026-11`` bimonthly covers November and December 2026.
Bimonthly cycles are staggered (EAAB reads half its cycles in odd months and half in even
ones), so a bimonthly period may start in any month; the periods of one cycle follow each
other two months apart. The code and the cycle identify a period within a utility, because
the periodicity is a utility setting.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_CODE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int
    months: int = 1

    def __post_init__(self) -> None:
        if self.months not in (1, 2):
            raise ValueError(f"a period lasts 1 or 2 months, not {self.months}")
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} out of range")

    @classmethod
    def parse(cls, code: str, *, months: int = 1) -> Period:
        """``Period.parse("2026-11")``; raises ValueError with the bad code in the message."""
        match = _CODE.match(code.strip())
        if not match:
            raise ValueError(f"periodo {code!r} no tiene la forma AAAA-MM")
        return cls(int(match.group(1)), int(match.group(2)), months)

    @classmethod
    def containing(cls, day: date, *, months: int = 1, odd: bool = True) -> Period:
        """The period holding ``day``; bimonthly periods aligned on odd months unless
        ``odd`` is false (even-month cycles)."""
        if months == 1:
            month = day.month
        else:
            month = day.month - (day.month + (1 if odd else 0)) % 2
            if month == 0:
                return cls(day.year - 1, 12, months)
        return cls(day.year, month, months)

    @property
    def code(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __str__(self) -> str:
        return self.code

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """Last day of the period (inclusive)."""
        return self.next().start - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shift(self, n: int) -> Period:
        index = self.year * 12 + (self.month - 1) + n * self.months
        return Period(index // 12, index % 12 + 1, self.months)

    def next(self) -> Period:
        return self.shift(1)

    def previous(self) -> Period:
        return self.shift(-1)

    def last(self, n: int) -> list[Period]:
        """The ``n`` periods before this one, oldest first."""
        return [self.shift(-k) for k in range(n, 0, -1)]

    def day(self, day_of_month: int, *, month_offset: int = 0) -> date:
        """A day in the period's first month (or ``month_offset`` months later), clamped."""
        index = self.year * 12 + (self.month - 1) + month_offset
        year, month = index // 12, index % 12 + 1
        last = calendar.monthrange(year, month)[1]
        return date(year, month, min(max(day_of_month, 1), last))


__all__ = ["Period"]
