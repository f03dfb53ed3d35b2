"""Payments CSV (caudal.collection.formats.csvfile)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from caudal.collection.formats import RECORD_SCHEMA, FileFormatError, LineError, csvfile, parse

TODAY = date(2024, 7, 15)
HEADER = "reference,amount,paid_on,method,external_reference,point\n"


def errors_of(data: bytes, **options: Any) -> list[LineError]:
    with pytest.raises(FileFormatError) as caught:
        parse(data, "csv", today=TODAY, **options)
    return caught.value.errors


def fields(errors: list[LineError]) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in errors]


def test_parses_semicolons_bom_aliases_and_both_date_forms() -> None:
    text = (
        "\ufeffReference;AMOUNT;paid_on;method;external_reference;point\n"
        "0001234;12345.60;2024-07-11;Efectivo;R-1;OF01\n"
        "\n"
        "555;7,5;5/3/2024;TRANSFER;R-2;\n"
        '77;"1,00";31/12/2023;tarjeta;"R;3";\n'
    )
    parsed = parse(text.encode(), "csv", today=TODAY)
    assert parsed.format == "csv"
    assert parsed.file_date is None
    assert parsed.collector == ""
    assert parsed.records.schema == pl.Schema(RECORD_SCHEMA)
    assert parsed.records.to_dicts() == [
        {
            "line": 2,
            "reference": "1234",
            "amount": 1_234_560,
            "paid_on": date(2024, 7, 11),
            "method": "cash",
            "external_reference": "R-1",
            "point": "OF01",
        },
        {
            "line": 4,
            "reference": "555",
            "amount": 750,
            "paid_on": date(2024, 3, 5),
            "method": "transfer",
            "external_reference": "R-2",
            "point": "",
        },
        {
            "line": 5,
            "reference": "77",
            "amount": 100,
            "paid_on": date(2023, 12, 31),
            "method": "card",
            "external_reference": "R;3",
            "point": "",
        },
    ]
    assert parsed.total == 1_234_560 + 750 + 100


def test_every_bad_value_is_reported_with_line_and_column() -> None:
    text = (
        HEADER + ",0,2024-02-31,x,,\n"
        "1,1.234,31/12/2999,cash,A,\n"
        "2,5,2024-01-01,cash,A,\n"
        '3,"5\n",2024-01-01,cash,B,P,extra\n'
        "4,1e5,2024-1-1,,C," + "P" * 21 + "\n"
        "00,-3,1899-12-31,cheque,D,\n"
    )
    assert fields(errors_of(text.encode())) == [
        (2, "amount"),
        (2, "external_reference"),
        (2, "method"),
        (2, "paid_on"),
        (2, "reference"),
        (3, "amount"),
        (3, "paid_on"),
        (4, "external_reference"),
        (5, ""),
        (7, "amount"),
        (7, "method"),
        (7, "paid_on"),
        (7, "point"),
        (8, "amount"),
        (8, "paid_on"),
        (8, "reference"),
    ]


def test_messages() -> None:
    text = HEADER + "1,1.234,2024-07-20,cash,A,\n2,5,2024-01-01,cash,A,\n"
    errors = errors_of(text.encode())
    assert errors == [
        LineError(
            2,
            "amount",
            "Importe no válido: use 12345.60 (punto o coma decimal, hasta 2 decimales, sin "
            "separador de miles). (valor '1.234')",
        ),
        LineError(2, "paid_on", "La fecha de pago está en el futuro. (valor '2024-07-20')"),
        LineError(
            3,
            "external_reference",
            "La referencia externa A está repetida: ya aparece en la línea 2.",
        ),
    ]


def test_header_problems_stop_at_line_one() -> None:
    errors = errors_of(b"reference,amount,amount,foo\n1,2,3,4\n")
    assert fields(errors) == [
        (1, "amount"),
        (1, "external_reference"),
        (1, "foo"),
        (1, "method"),
        (1, "paid_on"),
    ]
    assert fields(errors_of(b"")) == [(1, "")]
    assert fields(errors_of(b"\n1,2\n")) == [(1, "")]


def test_encoding_and_nul_bytes() -> None:
    data = (HEADER + "1,2.00,2024-07-01,cash,A,Peñas\n").encode("cp1252")
    errors = errors_of(data)
    assert fields(errors) == [(2, "archivo")]
    assert "UTF-8" in errors[0].message
    assert fields(errors_of(HEADER.encode() + b"1,2\x00,x\n")) == [(2, "archivo")]


def test_default_date_fills_empty_or_absent_paid_on() -> None:
    text = "reference,amount,method,external_reference\n1,2.5,cash,A\n"
    parsed = parse(text.encode(), "csv", default_date=date(2024, 1, 31))
    assert parsed.records["paid_on"].to_list() == [date(2024, 1, 31)]
    text = HEADER + "1,2.5,,cash,A,\n"
    assert fields(errors_of(text.encode())) == [(2, "paid_on")]
    parsed = parse(text.encode(), "csv", default_date=date(2024, 1, 31))
    assert parsed.records["paid_on"].to_list() == [date(2024, 1, 31)]


def test_header_only_is_an_empty_valid_file() -> None:
    parsed = parse(HEADER.encode(), "csv")
    assert parsed.count == 0
    assert parsed.total == 0
    assert parsed.records.schema == pl.Schema(RECORD_SCHEMA)


def test_unterminated_quote_is_an_error_not_a_crash() -> None:
    errors = errors_of((HEADER + '1,"2.00,2024-07-01,cash,A,\n').encode())
    assert errors and errors[0].line == 2


def test_write_round_trip() -> None:
    records = pl.DataFrame(
        {
            "line": [2, 3],
            "reference": ["12", "A;B"],
            "amount": [1_234_560, 5],
            "paid_on": [date(2024, 7, 1), date(2024, 7, 2)],
            "method": ["cheque", "transfer"],
            "external_reference": ["X,1", 'Q"2'],
            "point": ["", "P1"],
        },
        schema=RECORD_SCHEMA,
    )
    for separator in (",", ";"):
        data = csvfile.write(records, separator=separator)
        assert parse(data, "csv").records.equals(records)
