"""Fuzz and property tests of the payment file parsers (hypothesis).

Whatever the bytes, :func:`caudal.collection.formats.parse` returns a :class:`ParsedFile` whose
total is the sum of its records, or raises :class:`FileFormatError` with located errors; never
another exception and never a partial result. The writers round-trip through the parsers.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caudal.collection.formats import (
    FORMATS,
    METHODS,
    RECORD_SCHEMA,
    FileFormatError,
    ParsedFile,
    asobancaria,
    camt054,
    csvfile,
    parse,
)

FUZZ = settings(
    max_examples=int(os.environ.get("CAUDAL_FUZZ_EXAMPLES", "80")),
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DAY = date(2024, 7, 11)


def outcome(data: bytes, fmt: str, **options: Any) -> ParsedFile | None:
    """Parse and check the invariants of whichever result came out."""
    lines = data.count(b"\n") + 1
    try:
        parsed = parse(data, fmt, **options)
    except FileFormatError as exc:
        assert exc.errors, "an error without errors"
        assert exc.total >= len(exc.errors)
        for error in exc.errors:
            assert isinstance(error.line, int) and 1 <= error.line <= lines
            assert isinstance(error.field, str)
            assert isinstance(error.message, str) and error.message
        return None
    records = parsed.records
    assert records.schema == pl.Schema(RECORD_SCHEMA)
    assert parsed.total == sum(records["amount"].to_list())
    if records.height:
        assert records.null_count().sum_horizontal().item() == 0
        assert records["amount"].min() > 0  # type: ignore[operator]
        assert set(records["method"].to_list()) <= set(METHODS)
        assert records["external_reference"].n_unique() == records.height
        assert records["line"].is_sorted() and records["line"].min() >= 1  # type: ignore[operator]
        assert records["line"].max() <= lines  # type: ignore[operator]
        assert (records["reference"] != "").all()
    return parsed


# --- strategies -----------------------------------------------------------------------------

references = st.integers(min_value=1, max_value=10**20).map(str)
amounts = st.integers(min_value=1, max_value=10**14 - 1)
methods = st.sampled_from(METHODS)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))
text_ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/&<>",
    min_size=1,
    max_size=35,
)


@st.composite
def asobancaria_files(draw: st.DrawFn) -> tuple[pl.DataFrame, bytes, int]:
    n = draw(st.integers(min_value=0, max_value=12))
    records = pl.DataFrame(
        {
            "reference": [draw(references) for _ in range(n)],
            "amount": [draw(amounts) for _ in range(n)],
            "method": [draw(methods) for _ in range(n)],
            "point": [draw(st.sampled_from(["", "0001", "9779", "0410"])) for _ in range(n)],
            "paid_on": [draw(days)] * n,
        },
        schema={
            "reference": pl.String,
            "amount": pl.Int64,
            "method": pl.String,
            "point": pl.String,
            "paid_on": pl.Date,
        },
    )
    batch_size = draw(st.integers(min_value=1, max_value=5))
    data = asobancaria.write(
        records,
        collector_nit=draw(st.integers(min_value=1, max_value=9_999_999_999)),
        file_date=draw(days),
        bank_code=draw(st.sampled_from(["007", "040", "51"])),
        account=str(draw(st.integers(min_value=0, max_value=10**17 - 1))),
        batch_size=batch_size,
        newline=draw(st.sampled_from(["\r\n", "\n"])),
    )
    return records, data, batch_size


@st.composite
def payment_rows(draw: st.DrawFn, max_size: int = 10) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=max_size))
    externals = draw(st.lists(text_ids, min_size=n, max_size=n, unique=True))
    return [
        {
            "reference": draw(text_ids.filter(lambda t: not t.startswith("0"))),
            "amount": draw(amounts),
            "paid_on": draw(days),
            "method": draw(methods),
            "external_reference": externals[i],
        }
        for i in range(n)
    ]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """One to three random edits of a file: flip a byte, drop, duplicate or swap lines,
    insert junk, truncate."""
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        lines = data.split(b"\n")
        kind = draw(st.sampled_from(["flip", "drop", "dup", "swap", "insert", "truncate"]))
        if kind == "flip" and data:
            at = draw(st.integers(min_value=0, max_value=len(data) - 1))
            byte = draw(st.sampled_from([b"0", b"1", b"9", b" ", b"A", b"\n", b"\x00", b"\xff"]))
            data = data[:at] + byte + data[at + 1 :]
        elif kind == "drop" and lines:
            i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            data = b"\n".join(lines[:i] + lines[i + 1 :])
        elif kind == "dup" and lines:
            i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            data = b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        elif kind == "swap" and len(lines) > 1:
            i = draw(st.integers(min_value=0, max_value=len(lines) - 2))
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
            data = b"\n".join(lines)
        elif kind == "insert":
            i = draw(st.integers(min_value=0, max_value=len(lines)))
            junk = draw(st.binary(max_size=170))
            data = b"\n".join([*lines[:i], junk, *lines[i:]])
        elif kind == "truncate" and data:
            data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    return data


# --- any bytes ------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=3000), fmt=st.sampled_from(FORMATS))
def test_random_bytes_never_crash(data: bytes, fmt: str) -> None:
    outcome(data, fmt)


@FUZZ
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(["01", "05", "06", "08", "09", "07", "  "]),
            st.text(alphabet="0123456789 A", max_size=170),
        ),
        max_size=12,
    )
)
def test_random_asobancaria_shaped_lines_never_crash(lines: list[tuple[str, str]]) -> None:
    outcome("\n".join(kind + rest for kind, rest in lines).encode(), "asobancaria2001")


# --- Asobancaria 2001 -----------------------------------------------------------------------


@FUZZ
@given(file=asobancaria_files())
def test_asobancaria_round_trip(file: tuple[pl.DataFrame, bytes, int]) -> None:
    records, data, batch_size = file
    parsed = outcome(data, "asobancaria2001")
    assert parsed is not None
    got = parsed.records
    assert got.select(records.columns).equals(records)
    expected_refs = [
        f"{i // batch_size + 1:04d}-{i % batch_size + 1:07d}" for i in range(records.height)
    ]
    assert got["external_reference"].to_list() == expected_refs
    assert parsed.total == sum(records["amount"].to_list())


@FUZZ
@given(file=asobancaria_files(), data=st.data())
def test_asobancaria_mutations(file: tuple[pl.DataFrame, bytes, int], data: st.DataObject) -> None:
    _, original, _ = file
    outcome(data.draw(mutated(original)), "asobancaria2001")


@FUZZ
@given(file=asobancaria_files(), data=st.data())
def test_asobancaria_any_amount_digit_changed_is_caught(
    file: tuple[pl.DataFrame, bytes, int], data: st.DataObject
) -> None:
    records, original, _ = file
    if records.height == 0:
        return
    lines = original.split(b"\n")
    details = [i for i, line in enumerate(lines) if line.startswith(b"06")]
    i = data.draw(st.sampled_from(details))
    at = data.draw(st.integers(min_value=50, max_value=63))  # valor recaudado, 51–64
    old = lines[i][at : at + 1]
    new = data.draw(st.sampled_from([d for d in b"0123456789" if bytes([d]) != old]))
    lines[i] = lines[i][:at] + bytes([new]) + lines[i][at + 1 :]
    assert outcome(b"\n".join(lines), "asobancaria2001") is None


# --- camt.054 -------------------------------------------------------------------------------


def camt_file(rows: list[dict[str, Any]], group: bool, version: str) -> bytes:
    return camt054.write(
        rows,
        account="0400702127333",
        created_at=datetime(2024, 7, 12, 6, 0),
        group_by_day=group,
        version=version,
    )


@FUZZ
@given(rows=payment_rows(), group=st.booleans(), version=st.sampled_from(["02", "06", "08"]))
def test_camt_round_trip(rows: list[dict[str, Any]], group: bool, version: str) -> None:
    parsed = outcome(camt_file(rows, group, version), "camt054")
    assert parsed is not None
    got = parsed.records.drop("line", "point").sort("external_reference").to_dicts()
    assert got == sorted(rows, key=lambda r: r["external_reference"])
    assert parsed.total == sum(r["amount"] for r in rows)


@FUZZ
@given(rows=payment_rows(max_size=5), group=st.booleans(), data=st.data())
def test_camt_mutations(rows: list[dict[str, Any]], group: bool, data: st.DataObject) -> None:
    outcome(data.draw(mutated(camt_file(rows, group, "08"))), "camt054")


# --- CSV ------------------------------------------------------------------------------------


def csv_frame(rows: list[dict[str, Any]], point: str) -> pl.DataFrame:
    return pl.DataFrame(
        [{"line": i + 2, **row, "point": point} for i, row in enumerate(rows)],
        schema=RECORD_SCHEMA,
    )


@FUZZ
@given(
    rows=payment_rows(),
    point=st.sampled_from(["", "P1", "Oficina, 3"]),
    sep=st.sampled_from([",", ";"]),
)
def test_csv_round_trip(rows: list[dict[str, Any]], point: str, sep: str) -> None:
    frame = csv_frame(rows, point)
    parsed = outcome(csvfile.write(frame, separator=sep), "csv", today=date(2031, 1, 1))
    assert parsed is not None
    assert parsed.records.equals(frame)


@FUZZ
@given(rows=payment_rows(max_size=6), data=st.data())
def test_csv_mutations(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    original = csvfile.write(csv_frame(rows, ""))
    outcome(data.draw(mutated(original)), "csv", today=date(2031, 1, 1))
