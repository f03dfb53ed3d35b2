"""The example payment files of docs/examples/ are what the writers write, and they parse.

To write them again after a change of a writer::

    CAUDAL_WRITE_EXAMPLES=1 .venv/bin/pytest caudal/collection/tests/test_formats_examples.py
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from caudal.collection.formats import RECORD_SCHEMA, asobancaria, camt054, csvfile, parse

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
PAID_ON = date(2024, 7, 11)
FILE_DATE = date(2024, 7, 12)

# Accounts of docs/examples/cadastre-co.csv (Bogotá), so the files match that cadastre.
PAYMENTS = pl.DataFrame(
    {
        "reference": ["11020001", "11020002", "11020003", "11020004", "11020005"],
        "amount": [8_550_000, 4_312_050, 125_780_000, 2_990_000, 6_100_000],
        "paid_on": [PAID_ON] * 5,
        "method": ["cash", "cash", "cheque", "card", "transfer"],
        "point": ["0102", "0102", "0245", "", "0102"],
    },
    schema={
        "reference": pl.String,
        "amount": pl.Int64,
        "paid_on": pl.Date,
        "method": pl.String,
        "point": pl.String,
    },
)
CAMT_REFS = [f"BCOL-20240711-{n:06d}" for n in range(1, 6)]
CSV_REFS = [f"REC-{n:05d}" for n in range(301, 306)]


def asobancaria_example() -> bytes:
    return asobancaria.write(
        PAYMENTS,
        collector_nit="899999094",
        file_date=FILE_DATE,
        bank_code="007",
        account="12345678901",
        account_type="02",
        service_code="7709998000001",
        batch_size=3,
        file_time="0615",
    )


def camt_example() -> bytes:
    rows = PAYMENTS.drop("point").with_columns(external_reference=pl.Series(CAMT_REFS))
    return camt054.write(
        rows,
        account="12345678901",
        created_at=datetime(2024, 7, 12, 6, 15),
        currency="COP",
        message_id="BCOL-NTF-20240712-001",
        group_by_day=True,
    )


def csv_example() -> bytes:
    rows = PAYMENTS.with_columns(
        line=pl.int_range(2, 7), external_reference=pl.Series(CSV_REFS)
    ).select(list(RECORD_SCHEMA))
    return csvfile.write(rows)


CASES = [
    ("payments-asobancaria2001.txt", "asobancaria2001", asobancaria_example),
    ("payments-camt054.xml", "camt054", camt_example),
    ("payments.csv", "csv", csv_example),
]


@pytest.mark.parametrize(("name", "fmt", "make"), CASES)
def test_example_is_what_the_writer_writes_and_parses(name: str, fmt: str, make) -> None:  # type: ignore[no-untyped-def]
    path = EXAMPLES / name
    data = make()
    if os.environ.get("CAUDAL_WRITE_EXAMPLES"):
        path.write_bytes(data)
    assert path.read_bytes() == data, f"{name} is stale: see this module's docstring"
    parsed = parse(path.read_bytes(), fmt)
    assert parsed.count == 5
    assert parsed.total == 147_732_050
    assert parsed.records["reference"].to_list() == PAYMENTS["reference"].to_list()
    assert parsed.records["paid_on"].to_list() == [PAID_ON] * 5


def test_example_details() -> None:
    aso = parse((EXAMPLES / "payments-asobancaria2001.txt").read_bytes(), "asobancaria2001")
    assert aso.collector == "12345678901"
    assert aso.file_date == FILE_DATE
    assert aso.records["external_reference"].to_list() == [
        "0001-0000001",
        "0001-0000002",
        "0001-0000003",
        "0002-0000001",
        "0002-0000002",
    ]
    assert aso.records["method"].to_list() == PAYMENTS["method"].to_list()
    assert aso.records["point"].to_list() == PAYMENTS["point"].to_list()
    camt = parse((EXAMPLES / "payments-camt054.xml").read_bytes(), "camt054")
    assert camt.collector == "12345678901"
    assert sorted(camt.records["external_reference"].to_list()) == CAMT_REFS
    csv = parse((EXAMPLES / "payments.csv").read_bytes(), "csv")
    assert csv.records["external_reference"].to_list() == CSV_REFS
