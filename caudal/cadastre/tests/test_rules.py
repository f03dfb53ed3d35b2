"""Cadastre rules without a database, and their agreement with the column-wise import."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.co import nit
from stdnum.pe import ruc

from caudal.cadastre import rules
from caudal.cadastre.imports import COLUMN_NAMES, IDX, LINE, Errors, validate_rows

TODAY = date(2025, 6, 30)


# --- identity documents ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "doc_type", "number", "stored"),
    [
        ("PE", "DNI", "07458963", "07458963"),
        ("PE", "d.n.i.", " 40125896 ", "40125896"),
        ("PE", "DNI", "10117410-2", "10117410"),  # with its check digit (stdnum.pe.cui)
        ("PE", "RUC", "20100152356", "20100152356"),
        ("PE", "RUC", "10412356786", "10412356786"),
        ("PE", "CE", "001234567", "001234567"),
        ("PE", "pasaporte", "x1234567", "X1234567"),
        ("CO", "CC", "79.845.123", "79845123"),
        ("CO", "C.C.", "1023456789", "1023456789"),
        ("CO", "NIT", "900.123.456-8", "9001234568"),
        ("CO", "NIT", "800197268-4", "8001972684"),
        ("CO", "CE", "E4587123", "E4587123"),
        ("CO", "PAS", "AB1234567", "AB1234567"),
    ],
)
def test_valid_documents(country, doc_type, number, stored):
    checked = rules.validate_document(country, doc_type, number)
    assert checked.ok, checked.error
    assert checked.value == stored


@pytest.mark.parametrize(
    ("country", "doc_type", "number", "fragment"),
    [
        ("PE", "DNI", "7458963", "8 dígitos"),
        ("PE", "DNI", "074589631", "verificación"),  # 9th digit is not its check digit
        ("PE", "DNI", "10117410-3", "verificación"),
        ("PE", "RUC", "20100152357", "incorrecto del RUC"),
        ("PE", "RUC", "30100152356", "11 dígitos"),
        ("PE", "CE", "12345", "9 a 12"),
        ("PE", "CC", "79845123", "tipo de documento no válido en PE"),
        ("CO", "DNI", "07458963", "tipo de documento no válido en CO"),
        ("CO", "CC", "0123456", "no empieza por 0"),
        ("CO", "CC", "12345678901", "3 a 10"),
        ("CO", "NIT", "900.123.456-7", "incorrecto del NIT"),
        ("CO", "PAS", "AB12", "6 a 15"),
        ("PE", "DNI", "", "falta"),
        ("PE", "", "12345678", "tipo de documento"),
    ],
)
def test_invalid_documents(country, doc_type, number, fragment):
    checked = rules.validate_document(country, doc_type, number)
    assert not checked.ok
    assert fragment in (checked.error or "")


@given(st.integers(min_value=0, max_value=99_999_999))
def test_any_eight_digits_is_a_dni(n):
    text = f"{n:08d}"
    assert rules.validate_document("PE", "DNI", text).value == text


@given(st.sampled_from(["10", "15", "17", "20"]), st.integers(0, 99_999_999))
def test_ruc_check_digit(prefix, body):
    base = f"{prefix}{body:08d}"
    good = base + ruc.calc_check_digit(base)
    assert rules.validate_document("PE", "RUC", good).value == good
    bad = base + str((int(good[-1]) + 1) % 10)
    assert not rules.validate_document("PE", "RUC", bad).ok


@given(st.integers(10_000_000, 999_999_999))
def test_nit_check_digit_and_separators(body):
    base = str(body)
    good = base + nit.calc_check_digit(base)
    formatted = nit.format(good)
    assert rules.validate_document("CO", "NIT", formatted).value == good
    bad = base + str((int(good[-1]) + 1) % 10)
    assert not rules.validate_document("CO", "NIT", bad).ok


# --- other validators -------------------------------------------------------------------------


def test_choices_accept_spanish_spellings():
    assert rules.validate_category("Doméstico").value == "domestic"
    assert rules.validate_category("ESTATAL").value == "state"
    assert not rules.validate_category("vivienda").ok
    assert rules.validate_status("Cortada").value == "cut"
    assert rules.validate_status("levantada").value == "removed"
    assert not rules.validate_status("conectada").ok
    assert rules.validate_segment("").value == "regular"
    assert rules.validate_segment("VIP").value == "vip"
    assert rules.validate_bool("Sí").value is True
    assert rules.validate_bool("").value is False
    assert not rules.validate_bool("quizá").ok


def test_stratum_depends_on_country_and_category():
    assert rules.validate_stratum("PE", "", "domestic").value is None
    assert not rules.validate_stratum("PE", "3", "domestic").ok
    assert rules.validate_stratum("CO", "3", "domestic").value == 3
    assert not rules.validate_stratum("CO", "", "domestic").ok
    assert not rules.validate_stratum("CO", "7", "domestic").ok
    assert rules.validate_stratum("CO", "", "commercial").value is None
    assert not rules.validate_stratum("CO", "2", "commercial").ok


def test_numbers():
    assert rules.validate_units("").value == 1
    assert rules.validate_units("12").value == 12
    assert not rules.validate_units("0").ok
    assert not rules.validate_units("1.5").ok
    assert rules.validate_meter_digits("").value == 5
    assert not rules.validate_meter_digits("12").ok
    assert not rules.validate_sequence("").ok
    assert rules.validate_sequence("40").value == 40


def test_coordinates_inside_the_country():
    assert rules.validate_coordinate("PE", "-13.516803", "lat").value == Decimal("-13.516803")
    assert rules.validate_coordinate("CO", "4,655012", "lat").value == Decimal("4.655012")
    assert rules.validate_coordinate("PE", "", "lon").value is None
    swapped = rules.validate_coordinate("PE", "13.516803", "lat")
    assert "fuera de Perú" in (swapped.error or "")
    assert not rules.validate_coordinate("PE", "-13.5168031", "lat").ok  # 7 decimals


def test_dates():
    assert rules.validate_date("2024-03-31", today=TODAY).value == date(2024, 3, 31)
    assert rules.validate_date("31/03/2024", today=TODAY).value == date(2024, 3, 31)
    assert rules.validate_date("5/1/2024", today=TODAY).value == date(2024, 1, 5)
    assert not rules.validate_date("31/02/2024", today=TODAY).ok
    assert not rules.validate_date("2024/03/31", today=TODAY).ok
    assert "futuro" in (rules.validate_date("2025-07-01", today=TODAY).error or "")
    assert rules.validate_date("2025-07-01", today=TODAY, future_ok=True).ok
    assert not rules.validate_date("1899-12-31", today=TODAY).ok
    assert rules.validate_date("", today=TODAY, required=False).value is None


def test_contact():
    assert rules.validate_email("Rosa.Quispe@Gmail.com").value == "rosa.quispe@gmail.com"
    assert not rules.validate_email("rosa@").ok
    assert rules.validate_phone("+51 84 231456").ok
    assert not rules.validate_phone("tel. 231456").ok


# --- the column-wise import agrees with the rules ----------------------------------------------

VALID_ROW: dict[str, str | None] = {
    "account_number": "01000101",
    "customer_doc_type": "DNI",
    "customer_doc_number": "23801245",
    "customer_name": "Quispe Mamani Rosa",
    "cadastral_code": "01-01-001-001",
    "address": "Jr. Tupac Amaru 245",
    "municipality_code": "080101",
    "zone_code": "Z01",
    "sector_code": "S011",
    "route_code": "R0101",
    "cycle_code": "C01",
    "sequence": "10",
    "category": "domestic",
    "opened_on": "2008-03-14",
    "water_status": "active",
    "water_status_since": "2008-03-14",
}


def run_rows(rows: list[dict[str, str | None]], country: str = "PE") -> tuple[pl.DataFrame, list]:
    # Distinct accounts, customers and properties: only the column under test varies.
    rows = [
        {
            "account_number": f"A{i:06d}",
            "cadastral_code": f"P{i:06d}",
            "customer_name": f"Titular {i}",
            "sequence": str(i + 1),
            **{
                k: v
                for k, v in row.items()
                if k not in ("account_number", "cadastral_code", "customer_name", "sequence")
            },
        }
        for i, row in enumerate(rows)
    ]
    frame = pl.DataFrame(
        [{name: row.get(name) for name in COLUMN_NAMES} for row in rows],
        schema=dict.fromkeys(COLUMN_NAMES, pl.String),
    ).with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias(IDX),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias(LINE),
    )
    errors = Errors(COLUMN_NAMES)
    out = validate_rows(frame, country=country, today=TODAY, errors=errors)
    return out, errors.to_list()


def column_errors(errors: list, line: int, column: str) -> list[str]:
    return [e.reason for e in errors if e.line == line and e.column == column]


def test_valid_row_passes():
    _frame, errors = run_rows([VALID_ROW])
    assert errors == []


text_samples = st.one_of(
    st.text(alphabet="0123456789-. ", min_size=0, max_size=14),
    st.text(alphabet="0123456789AKXE", min_size=6, max_size=13),
    st.from_regex(r"\A(10|15|17|20)[0-9]{9}\Z"),
    st.from_regex(r"\A[0-9]{8}\Z"),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["DNI", "RUC", "CE", "PAS", "CC", "NIT", "dni", "X"]),
            text_samples,
        ),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from(["PE", "CO"]),
)
def test_documents_agree_with_rules(pairs, country):
    rows = [
        {
            **VALID_ROW,
            "customer_doc_type": t,
            "customer_doc_number": n or None,
            "stratum": "2" if country == "CO" else None,
        }
        for t, n in pairs
    ]
    frame, errors = run_rows(rows, country)
    for i, (t, n) in enumerate(pairs):
        expected = rules.validate_document(country, t, n)
        line = i + 2
        found = column_errors(errors, line, "customer_doc_type") + column_errors(
            errors, line, "customer_doc_number"
        )
        assert bool(found) == (not expected.ok), (t, n, found, expected)
        if expected.ok:
            assert frame["customer_doc_number__v"][i] == expected.value


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.dates(date(1890, 1, 1), date(2030, 12, 31)).map(lambda d: d.isoformat()),
            st.dates(date(1890, 1, 1), date(2030, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y")),
            st.from_regex(r"\A[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}\Z"),
            st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\Z"),
            st.text(alphabet="0123456789/-", max_size=10),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_dates_agree_with_rules(texts):
    frame, errors = run_rows([{**VALID_ROW, "opened_on": t or None} for t in texts])
    for i, text in enumerate(texts):
        expected = rules.validate_date(text, today=TODAY)
        found = column_errors(errors, i + 2, "opened_on")
        assert bool(found) == (not expected.ok), (text, found, expected)
        if expected.ok:
            assert frame["opened_on__v"][i] == expected.value.isoformat()  # type: ignore[union-attr]


coord_text = st.one_of(
    st.decimals(min_value=-100, max_value=100, places=6).map(str),
    st.from_regex(r"\A-?[0-9]{1,3}([.,][0-9]{1,7})?\Z"),
    st.text(alphabet="-0123456789.,", max_size=9),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(coord_text, coord_text), min_size=1, max_size=20),
    st.sampled_from(["PE", "CO"]),
)
def test_coordinates_agree_with_rules(pairs, country):
    rows = [
        {
            **VALID_ROW,
            "latitude": la or None,
            "longitude": lo or None,
            "stratum": "2" if country == "CO" else None,
        }
        for la, lo in pairs
    ]
    frame, errors = run_rows(rows, country)
    for i, (la, lo) in enumerate(pairs):
        for text, axis, column in ((la, "lat", "latitude"), (lo, "lon", "longitude")):
            expected = rules.validate_coordinate(country, text, axis)
            found = [r for r in column_errors(errors, i + 2, column) if "juntas" not in r]
            assert bool(found) == (not expected.ok), (text, found, expected)
            if expected.ok and expected.value is not None:
                assert Decimal(frame[f"{column}__v"][i]) == expected.value


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "1", "3", "6", "7", "0", "x", "12"]),
            st.sampled_from(["domestic", "social", "commercial", "industrial", "estatal"]),
        ),
        min_size=1,
        max_size=15,
    ),
    st.sampled_from(["PE", "CO"]),
)
def test_stratum_agrees_with_rules(pairs, country):
    rows = [{**VALID_ROW, "stratum": s or None, "category": c} for s, c in pairs]
    frame, errors = run_rows(rows, country)
    for i, (s, c) in enumerate(pairs):
        category = rules.validate_category(c).value or ""
        expected = rules.validate_stratum(country, s, category)
        found = column_errors(errors, i + 2, "stratum")
        assert bool(found) == (not expected.ok), (s, c, found, expected)
        if expected.ok:
            assert frame["stratum__v"][i] == expected.value


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "1", "0", "sí", "SI", "no", "x", "true", "tal vez"]),
            st.sampled_from(["", "1", "9999", "10000", "0", "2.5", "abc"]),
            st.sampled_from(["", "3", "5", "9", "2", "10"]),
            st.sampled_from(["Activa", "cortado", "factible", "LEVANTADA", "conectada", ""]),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_small_columns_agree_with_rules(quads):
    rows = [
        {
            **VALID_ROW,
            "consent_sms": b or None,
            "units": u or None,
            "meter_digits": d or None,
            "water_status": w or None,
        }
        for b, u, d, w in quads
    ]
    frame, errors = run_rows(rows)
    for i, (b, u, d, w) in enumerate(quads):
        line = i + 2
        for text, validator, column in (
            (b, rules.validate_bool, "consent_sms"),
            (u, rules.validate_units, "units"),
            (d, rules.validate_meter_digits, "meter_digits"),
            (w, rules.validate_status, "water_status"),
        ):
            expected = validator(text)
            found = column_errors(errors, line, column)
            assert bool(found) == (not expected.ok), (column, text, found)
            if expected.ok:
                assert frame[f"{column}__v"][i] == expected.value


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 99_999_999), min_size=1, max_size=20),
    st.lists(st.integers(1_000_000, 10**15 - 1), min_size=1, max_size=20),
    st.integers(0, 9),
)
def test_check_digits_agree_with_stdnum(ruc_bodies, nit_bases, shift):
    """The column-wise RUC and NIT check digits equal python-stdnum's, right or wrong."""
    rucs = []
    for body in ruc_bodies:
        base = f"20{body:08d}"
        rucs.append(base + str((int(ruc.calc_check_digit(base)) + shift) % 10))
    nits = []
    for base_number in nit_bases:
        base = str(base_number)
        nits.append(base + str((int(nit.calc_check_digit(base)) + shift) % 10))
    _frame, pe_errors = run_rows(
        [{**VALID_ROW, "customer_doc_type": "RUC", "customer_doc_number": r} for r in rucs]
    )
    for i, number in enumerate(rucs):
        found = column_errors(pe_errors, i + 2, "customer_doc_number")
        assert bool(found) == (not ruc.is_valid(number)), number
    co_rows = [{**VALID_ROW, "customer_doc_type": "NIT", "customer_doc_number": n} for n in nits]
    _frame, co_errors = run_rows(co_rows, "CO")
    for i, number in enumerate(nits):
        found = column_errors(co_errors, i + 2, "customer_doc_number")
        assert bool(found) == (not nit.is_valid(number)), number
