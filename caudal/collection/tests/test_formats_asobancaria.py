"""Asobancaria 2001: parser and writer (caudal.collection.formats.asobancaria)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from caudal.collection.formats import (
    MAX_ERRORS,
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    FileFormatError,
    LineError,
    exact_sum,
    format_amount,
    parse,
)
from caudal.collection.formats import asobancaria as aso

DAY = date(2024, 7, 11)
FILE_DAY = date(2024, 7, 12)


def header(nit: str = "0900649119", paid: str = "20240711", bank: str = "040") -> str:
    return (
        "01" + nit + paid + bank + "00000400702127333" + "20240712" + "0213" + "A" + "01"
    ).ljust(162)


def batch(number: str = "0001", service: str = "7709998888487") -> str:
    return ("05" + service + number).ljust(162)


def detail(
    ref: str,
    amount: int,
    *,
    seq: int = 1,
    medio: str = "01",
    branch: str = "0409",
    causal: str = "000",
    origin: str = "01",
) -> str:
    return (
        "06"
        + ref.rjust(48, "0")
        + str(amount).zfill(14)
        + origin
        + medio
        + "000000"
        + "000000"
        + "040"
        + branch
        + str(seq).zfill(7)
        + causal
    ).ljust(162)


def batch_control(count: int, total: int, number: str = "0001") -> str:
    return ("08" + str(count).zfill(9) + str(total).zfill(18) + number).ljust(162)


def file_control(count: int, total: int) -> str:
    return ("09" + str(count).zfill(9) + str(total).zfill(18)).ljust(162)


def build(lines: list[str], newline: str = "\r\n") -> bytes:
    return (newline.join(lines) + newline).encode("latin-1")


def simple_file() -> list[str]:
    return [
        header(),
        batch("0001"),
        detail("1055909", 1_800_000, seq=1),
        detail("1055907", 1_500_000, seq=2, medio="02", branch="0000"),
        batch_control(2, 3_300_000, "0001"),
        batch("0002"),
        detail("77", 100, seq=1, medio="13"),
        batch_control(1, 100, "0002"),
        file_control(3, 3_300_100),
    ]


def errors_of(data: bytes, **options: Any) -> list[LineError]:
    with pytest.raises(FileFormatError) as caught:
        parse(data, "asobancaria2001", **options)
    return caught.value.errors


def fields(errors: list[LineError]) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in errors]


# --- reading --------------------------------------------------------------------------------


def test_parses_records_header_and_totals() -> None:
    parsed = parse(build(simple_file()), "asobancaria2001")
    assert parsed.format == "asobancaria2001"
    assert parsed.file_date == FILE_DAY
    assert parsed.collector == "400702127333"
    assert parsed.header["nit_facturador"] == "0900649119"
    assert parsed.header["codigo_entidad"] == "040"
    assert parsed.total == 3_300_100
    assert parsed.count == 3
    assert parsed.records.schema == pl.Schema(RECORD_SCHEMA)
    assert tuple(parsed.records.columns) == RECORD_COLUMNS
    assert parsed.records.to_dicts() == [
        {
            "line": 3,
            "reference": "1055909",
            "amount": 1_800_000,
            "paid_on": DAY,
            "method": "cash",
            "external_reference": "0001-0000001",
            "point": "0409",
        },
        {
            "line": 4,
            "reference": "1055907",
            "amount": 1_500_000,
            "paid_on": DAY,
            "method": "cheque",
            "external_reference": "0001-0000002",
            "point": "",
        },
        {
            "line": 7,
            "reference": "77",
            "amount": 100,
            "paid_on": DAY,
            "method": "card",
            "external_reference": "0002-0000001",
            "point": "0409",
        },
    ]


def test_tolerates_trimmed_records_lf_bom_missing_final_newline_and_blank_lines() -> None:
    lines = [line.rstrip() for line in simple_file()]
    lines.insert(5, "")  # a blank line keeps its number
    data = b"\xef\xbb\xbf" + "\n".join(lines).encode()
    parsed = parse(data, "asobancaria2001")
    assert parsed.total == 3_300_100
    assert parsed.records["line"].to_list() == [3, 4, 8]


def test_non_ascii_bytes_take_the_plain_path_with_the_same_result() -> None:
    lines = simple_file()
    lines[0] = lines[0][:157] + "Ñandú"  # reserved area, up to position 162
    data = "\r\n".join(lines).encode("latin-1")
    assert parse(data, "asobancaria2001").records.equals(
        parse(build(simple_file()), "asobancaria2001").records
    )
    utf8 = "\r\n".join(lines).encode("utf-8")  # two bytes per letter: 164 positions
    assert fields(errors_of(utf8)) == [(1, "longitud_registro")]


def test_records_longer_than_162_only_with_trailing_blanks() -> None:
    lines = simple_file()
    lines[2] = lines[2] + "      "
    assert parse(build(lines), "asobancaria2001").count == 3
    lines[2] = lines[2] + "X"
    errors = errors_of(build(lines))
    assert fields(errors) == [(3, "longitud_registro")]
    assert "169 caracteres" in errors[0].message


def test_strict_length_refuses_short_records() -> None:
    lines = simple_file()
    lines[4] = lines[4].rstrip()
    assert parse(build(lines), "asobancaria2001").count == 3
    assert fields(errors_of(build(lines), strict_length=True)) == [(5, "longitud_registro")]


# --- control totals -------------------------------------------------------------------------


def test_batch_total_mismatch_names_line_field_and_amounts() -> None:
    lines = [
        header(),
        batch(),
        detail("1", 1_240_000),
        batch_control(1, 1_250_000),
        file_control(1, 1_240_000),
    ]
    errors = errors_of(build(lines))
    assert errors == [
        LineError(
            4,
            "valor_total_lote",
            "El total de control del lote 1 (12.500,00) no coincide con la suma de sus "
            "registros (12.400,00).",
        )
    ]


def test_a_changed_amount_breaks_both_controls() -> None:
    lines = simple_file()
    lines[3] = detail("1055907", 1_500_001, seq=2, medio="02")
    assert fields(errors_of(build(lines))) == [(5, "valor_total_lote"), (9, "valor_total_archivo")]


def test_record_counts() -> None:
    lines = simple_file()
    lines[4] = batch_control(3, 3_300_000, "0001")
    lines[8] = file_control(4, 3_300_100)
    errors = errors_of(build(lines))
    assert fields(errors) == [(5, "total_registros_lote"), (9, "total_registros_archivo")]
    assert "declara 3 registros y el lote tiene 2" in errors[0].message
    assert "3 registros de detalle (06) y 9 registros en total" in errors[1].message


def test_control_counts_option_for_files_that_count_every_record() -> None:
    records = [{"reference": "5", "amount": 10}, {"reference": "6", "amount": 20}]
    data = aso.write(
        records, collector_nit="1", file_date=FILE_DAY, batch_size=1, control_counts="records"
    )
    # 01 + 2 × (05, 06, 08) + 09 = 8 records; each batch counts 3.
    assert data.decode().splitlines()[-1].startswith("09000000008")
    assert errors_of(data)[0].field == "total_registros_lote"
    assert parse(data, "asobancaria2001", control_counts="records").total == 30
    assert parse(data, "asobancaria2001", control_counts="either").total == 30
    plain = aso.write(records, collector_nit="1", file_date=FILE_DAY, batch_size=1)
    assert parse(plain, "asobancaria2001", control_counts="either").total == 30
    with pytest.raises(ValueError):
        parse(plain, "asobancaria2001", control_counts="lines")


def test_batch_number_of_control_must_match_header() -> None:
    lines = simple_file()
    lines[4] = batch_control(2, 3_300_000, "0009")
    errors = errors_of(build(lines))
    assert fields(errors) == [(5, "numero_lote")]
    assert "línea 2" in errors[0].message


def test_exact_sum_does_not_wrap() -> None:
    big = pl.Series([99_999_999_999_999] * 200_000, dtype=pl.Int64)
    assert exact_sum(big) == 99_999_999_999_999 * 200_000
    assert big.sum() != exact_sum(big)  # what a plain Int64 sum would have given


def test_totals_larger_than_the_control_field_are_an_error_not_a_crash() -> None:
    amount = 99_999_999_999_999
    lines = [header(), batch()]
    lines += [detail(str(i + 1), amount, seq=i + 1) for i in range(20_000)]
    lines += [batch_control(20_000, 10**18 - 1), file_control(20_000, 10**18 - 1)]
    assert fields(errors_of(build(lines))) == [
        (20_003, "valor_total_lote"),
        (20_004, "valor_total_archivo"),
    ]


# --- structure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "expected", "words"),
    [
        (lambda ls: ls[:4] + ls[5:], [(5, "tipo_registro")], "no tiene control de lote (08)"),
        (lambda ls: ls[:-1], [(8, "tipo_registro")], "no termina con el control de archivo"),
        (lambda ls: ls[1:], [(1, "tipo_registro")], "debe empezar con el encabezado"),
        (lambda ls: [*ls, ls[2]], [(10, "tipo_registro")], "después del control de archivo"),
        (lambda ls: [ls[0], *ls], [(2, "tipo_registro")], "repetido"),
        (lambda ls: [*ls[:5], ls[2], *ls[5:]], [(6, "tipo_registro")], "fuera de un lote"),
        (
            lambda ls: [*ls[:2], "07" + ls[2][2:], *ls[3:]],
            [(3, "tipo_registro")],
            "desconocido",
        ),
    ],
)
def test_record_order(mutate, expected, words) -> None:  # type: ignore[no-untyped-def]
    errors = errors_of(build(mutate(simple_file())))
    assert fields(errors) == expected
    assert words in errors[0].message


def test_empty_files() -> None:
    assert fields(errors_of(b"")) == [(1, "archivo")]
    assert fields(errors_of(b"\r\n  \n")) == [(1, "archivo")]


def test_a_file_without_payments_is_valid() -> None:
    parsed = parse(build([header(), file_control(0, 0)]), "asobancaria2001")
    assert parsed.count == 0
    assert parsed.total == 0
    assert parsed.records.schema == pl.Schema(RECORD_SCHEMA)


# --- fields ---------------------------------------------------------------------------------


def test_field_errors_name_line_and_field_and_all_are_reported() -> None:
    lines = simple_file()
    lines[0] = header(paid="20240231")  # no such day
    lines[1] = batch("00A1")
    lines[2] = lines[2][:50] + "00000001X00000" + lines[2][64:]
    lines[3] = detail("12A4", 1_500_000, seq=2)
    lines[6] = detail("0000", 100, seq=1)
    errors = errors_of(build(lines))
    assert fields(errors) == [
        (1, "fecha_recaudo"),
        (2, "numero_lote"),
        (3, "valor_recaudado"),
        (4, "referencia_usuario"),
        (7, "referencia_usuario"),
    ]
    assert "'20240231' no es una fecha válida" in errors[0].message
    assert "vacía" in errors[4].message


def test_header_time_and_modifier() -> None:
    lines = simple_file()
    lines[0] = lines[0][:48] + "2460" + "a" + lines[0][53:]
    assert fields(errors_of(build(lines))) == [(1, "hora_archivo"), (1, "modificador_archivo")]


def test_zero_amount() -> None:
    lines = simple_file()
    lines[6] = detail("77", 0, seq=1)
    lines[7] = batch_control(1, 0, "0002")
    lines[8] = file_control(3, 3_300_000)
    assert fields(errors_of(build(lines))) == [(7, "valor_recaudado")]


def test_unknown_method_code_is_an_error_unless_configured() -> None:
    lines = simple_file()
    lines[6] = detail("77", 100, seq=1, medio="53")
    errors = errors_of(build(lines))
    assert fields(errors) == [(7, "medio_pago")]
    assert "'53'" in errors[0].message
    parsed = parse(build(lines), "asobancaria2001", unknown_method="transfer")
    assert parsed.records["method"].to_list() == ["cash", "cheque", "transfer"]
    parsed = parse(build(lines), "asobancaria2001", method_codes={"53": "card"})
    assert parsed.records["method"][2] == "card"
    with pytest.raises(ValueError):
        parse(build(lines), "asobancaria2001", method_codes={"53": "bitcoin"})


def test_method_codes_of_the_standard() -> None:
    codes = ["01", "02", "03", "11", "12", "13", "14", "15", "21", "22", "23", "24", "25"]
    lines = [header(), batch()]
    lines += [detail(str(i + 1), 100, seq=i + 1, medio=c) for i, c in enumerate(codes)]
    lines += [batch_control(len(codes), 100 * len(codes)), file_control(len(codes), 1300)]
    methods = parse(build(lines), "asobancaria2001").records["method"].to_list()
    assert methods == [aso.METHOD_CODES[c] for c in codes]
    assert set(methods) == {"cash", "cheque", "card", "transfer"}


def test_returned_payment_is_an_error() -> None:
    lines = simple_file()
    lines[2] = detail("1055909", 1_800_000, seq=1, causal="D03")
    errors = errors_of(build(lines))
    assert fields(errors) == [(3, "causal_devolucion")]
    lines[2] = detail("1055909", 1_800_000, seq=1, causal="   ")  # blank: accepted
    assert parse(build(lines), "asobancaria2001").count == 3


def test_duplicate_sequence_in_a_batch_and_duplicate_batch_numbers() -> None:
    lines = simple_file()
    lines[3] = detail("1055907", 1_500_000, seq=1)
    errors = errors_of(build(lines))
    assert errors == [
        LineError(
            4,
            "secuencia",
            "La secuencia (lote-secuencia) 0001-0000001 está repetida: ya aparece en la línea 3.",
        )
    ]
    lines = simple_file()
    lines[5] = batch("0001")
    lines[7] = batch_control(1, 100, "0001")
    assert fields(errors_of(build(lines))) == [(6, "numero_lote")]


def test_errors_are_capped_but_counted() -> None:
    n = MAX_ERRORS + 500
    lines = [header(), batch()]
    lines += [detail(str(i + 1), 100, seq=i + 1, medio="99") for i in range(n)]
    lines += [batch_control(n, 100 * n), file_control(n, 100 * n)]
    with pytest.raises(FileFormatError) as caught:
        parse(build(lines), "asobancaria2001")
    assert len(caught.value.errors) == MAX_ERRORS
    assert caught.value.total == n
    assert caught.value.truncated
    assert caught.value.errors[0].line == 3
    assert f"(y {n - 1} errores más)" in str(caught.value)


# --- writer ---------------------------------------------------------------------------------


def test_writer_round_trip_and_layout() -> None:
    records = pl.DataFrame(
        {
            "reference": ["1055909", "42", "900"],
            "amount": [1_800_000, 1, 99_999_999_999_999],
            "method": ["cash", "transfer", "card"],
            "point": ["9779", "", "0001"],
            "paid_on": [DAY, DAY, DAY],
        }
    )
    data = aso.write(
        records,
        collector_nit="900649119",
        file_date=FILE_DAY,
        bank_code="40",
        account="400702127333",
        batch_size=2,
        file_time="0213",
    )
    lines = data.decode("ascii").split("\r\n")
    assert lines[-1] == ""
    assert all(len(line) == 162 for line in lines[:-1])
    assert [line[:2] for line in lines[:-1]] == [
        "01",
        "05",
        "06",
        "06",
        "08",
        "05",
        "06",
        "08",
        "09",
    ]
    assert lines[0].startswith("0109006491192024071104000000400702127333202407120213A01")
    parsed = parse(data, "asobancaria2001")
    assert parsed.records.select(records.columns).equals(records)
    assert parsed.records["external_reference"].to_list() == [
        "0001-0000001",
        "0001-0000002",
        "0002-0000001",
    ]
    assert parsed.total == 1_800_001 + 99_999_999_999_999


def test_writer_refuses_what_it_cannot_write() -> None:
    ok = {"reference": "1", "amount": 1}
    for bad in (
        {"reference": "01", "amount": 1},
        {"reference": "A1", "amount": 1},
        {"reference": "1", "amount": 0},
        {"reference": "1", "amount": 10**14},
        {"reference": "1", "amount": 1, "method": "bitcoin"},
        {"reference": "1", "amount": 1, "point": "12345"},
    ):
        with pytest.raises(ValueError):
            aso.write([ok, bad], collector_nit="1", file_date=FILE_DAY)
    with pytest.raises(ValueError, match="one collection date"):
        aso.write(
            [{**ok, "paid_on": DAY}, {**ok, "paid_on": FILE_DAY}],
            collector_nit="1",
            file_date=FILE_DAY,
        )
    with pytest.raises(ValueError):
        aso.write([ok], collector_nit="12345678901", file_date=FILE_DAY)


def test_writer_without_records_writes_an_empty_valid_file() -> None:
    data = aso.write([], collector_nit="1", file_date=FILE_DAY)
    assert parse(data, "asobancaria2001").count == 0


def test_format_amount() -> None:
    assert format_amount(1_250_000) == "12.500,00"
    assert format_amount(5) == "0,05"
    assert format_amount(-123_456_789) == "-1.234.567,89"


def test_dispatcher_refuses_unknown_format_and_text() -> None:
    with pytest.raises(ValueError):
        parse(b"", "asobancaria1998")
    with pytest.raises(TypeError):
        parse("01", "asobancaria2001")  # type: ignore[arg-type]
