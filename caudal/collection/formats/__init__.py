"""Bank payment files: Asobancaria 2001, camt.054 and a simple CSV (docs/payment-files.md).

One entry point, :func:`parse`, turns the bytes of a file into a :class:`ParsedFile` (one row per
payment in a Polars frame with :data:`RECORD_SCHEMA`) or raises :class:`FileFormatError` with
*every* problem found (up to :data:`MAX_ERRORS`), each naming the physical line and the field.
A file with any error yields no records at all: there is no partial result.

Pure code: no Django, no database. Messages are in Spanish (the people who read them are the
utility's collection staff); they are plain strings because this layer has no translation
machinery, and they are shown as they are by ``caudal import-payments``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

FORMATS = ("asobancaria2001", "camt054", "csv")

#: Payment methods a record can carry (``caudal.collection.models.PaymentMethod``).
METHODS = ("cash", "card", "cheque", "transfer")

#: Errors kept in a :class:`FileFormatError`; the count of all errors is ``total``.
MAX_ERRORS = 1000

RECORD_SCHEMA: dict[str, Any] = {
    "line": pl.Int64,
    "reference": pl.String,
    "amount": pl.Int64,
    "paid_on": pl.Date,
    "method": pl.String,
    "external_reference": pl.String,
    "point": pl.String,
}
RECORD_COLUMNS = tuple(RECORD_SCHEMA)


@dataclass(frozen=True, order=True)
class LineError:
    """One problem: the 1-based physical line of the file, the field and a Spanish message."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"línea {self.line}, campo {self.field}: {self.message}"


class FileFormatError(Exception):
    """The file cannot be imported. ``errors`` holds every problem found, sorted by line
    (at most :data:`MAX_ERRORS`); ``total`` counts them all, including those left out."""

    def __init__(self, errors: Iterable[LineError], total: int | None = None) -> None:
        ordered = sorted(errors)
        self.total = max(total if total is not None else len(ordered), len(ordered))
        self.errors: list[LineError] = ordered[:MAX_ERRORS]
        self.truncated = self.total > len(self.errors)
        first = str(self.errors[0]) if self.errors else "archivo no válido"
        more = self.total - 1
        super().__init__(first + (f" (y {more} errores más)" if more > 0 else ""))


@dataclass
class ParsedFile:
    """A file that passed every check. ``total`` equals the sum of ``records["amount"]`` and
    the file's own control totals."""

    format: str
    file_date: date | None
    collector: str
    records: pl.DataFrame
    total: int
    #: Header data as text, by field name (format-specific, see docs/payment-files.md).
    header: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return self.records.height


class ErrorList:
    """Collects errors while counting all of them.

    Checks run one field at a time over the whole file, so the list keeps more than
    :data:`MAX_ERRORS` (up to ``_KEEP``) and :class:`FileFormatError` keeps the first
    :data:`MAX_ERRORS` *by line*.
    """

    _KEEP = 20 * MAX_ERRORS

    def __init__(self) -> None:
        self.items: list[LineError] = []
        self.total = 0

    def __bool__(self) -> bool:
        return self.total > 0

    def __len__(self) -> int:
        return self.total

    def add(self, line: int, field_name: str, message: str) -> None:
        self.total += 1
        if len(self.items) < self._KEEP:
            self.items.append(LineError(int(line), field_name, message))

    def count_only(self, n: int) -> None:
        """Count ``n`` errors that were not built (the list is already full)."""
        self.total += n

    def raise_if_any(self) -> None:
        if self.total:
            raise FileFormatError(self.items, self.total)


def format_amount(minor: int) -> str:
    """``1250000`` → ``"12.500,00"`` (Colombian style, as in the contract's messages)."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{units:,}".replace(",", ".") + f",{cents:02d}"


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=RECORD_SCHEMA)


def exact_sum(series: pl.Series) -> int:
    """Exact sum of an Int64 column as a Python int (Polars' Int64 sum would wrap)."""
    if series.len() == 0:
        return 0
    high = (series // 10_000_000).sum()
    low = (series % 10_000_000).sum()
    return int(high) * 10_000_000 + int(low)


def duplicate_errors(
    errors: ErrorList, frame: pl.DataFrame, key: str, field_name: str, what: str
) -> None:
    """Report every occurrence of ``frame[key]`` after the first (``frame`` has ``line``)."""
    firsts = frame.group_by(key).agg(pl.col("line").min().alias("_first"))
    dups = frame.join(firsts, on=key).filter(pl.col("line") != pl.col("_first")).sort("line")
    if dups.height == 0:
        return
    for row in dups.head(MAX_ERRORS).iter_rows(named=True):
        errors.add(
            row["line"],
            field_name,
            f"{what} {row[key]!s} está repetida: ya aparece en la línea {row['_first']}.",
        )
    errors.count_only(max(0, dups.height - MAX_ERRORS))


def parse(data: bytes, fmt: str, *, default_date: date | None = None, **options: Any) -> ParsedFile:
    """Parse a payment file. ``fmt`` is one of :data:`FORMATS`.

    ``default_date`` is the payment date of records whose file does not give one (a CSV without
    ``paid_on``, a camt.054 entry without booking or value date). ``options`` go to the format's
    parser (for example ``control_counts`` or ``unknown_method`` for Asobancaria 2001).

    Raises :class:`FileFormatError` on any problem; nothing else for bad input.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse() takes the file's bytes")
    raw = bytes(data)
    if fmt == "asobancaria2001":
        from caudal.collection.formats import asobancaria

        return asobancaria.parse(raw, default_date=default_date, **options)
    if fmt == "camt054":
        from caudal.collection.formats import camt054

        return camt054.parse(raw, default_date=default_date, **options)
    if fmt == "csv":
        from caudal.collection.formats import csvfile

        return csvfile.parse(raw, default_date=default_date, **options)
    raise ValueError(f"unknown payment file format {fmt!r}; use one of {', '.join(FORMATS)}")
