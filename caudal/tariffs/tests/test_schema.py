"""The tariff file validator: every error at once, named by key path, in Spanish. No database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caudal.tariffs.schema import (
    TariffFileError,
    parse_document,
    parse_text,
    read_yaml,
    to_document,
)
from caudal.tariffs.testing import BROKEN, COLOMBIA, SEDAPAL, example_tariff

MINIMAL_PE = """
code: T1
name: Tarifa mínima
country: PE
valid_from: 2025-01-01
currency: PEN
rounding: 1
categories:
  domestic:
    fixed: 5
    blocks:
      - {from: 0, to: 10, water: 1.5, sewer: 0.5}
      - {from: 10, water: 2.5, sewer: 1.0}
"""


def errors(text: str) -> list[str]:
    with pytest.raises(TariffFileError) as info:
        parse_text(text)
    return [str(e) for e in info.value.errors]


def test_examples_are_valid():
    pe = example_tariff(SEDAPAL)
    assert pe.country == "PE" and pe.currency == "PEN" and pe.rounding == 1
    assert pe.tax is not None and pe.tax.rate_pct == Decimal(18)
    domestic = pe.categories["domestic"]
    assert [(b.lo, b.hi) for b in domestic.blocks] == [(0, 10), (10, 25), (25, 50), (50, None)]
    assert domestic.blocks[1].water == Decimal("1.295")
    assert domestic.mode == "stepped" and pe.categories["commercial"].mode == "whole"
    co = example_tariff(COLOMBIA)
    assert co.rounding == 100 and co.tax is None and co.periodicity == "bimonthly"
    assert [b.basic_m3 for b in co.altitude_bands] == [16, 13, 11]
    assert co.band_for(2640).basic_m3 == 11 and co.band_for(2000).basic_m3 == 13
    assert co.band_for(999).basic_m3 == 16 and co.band_for(1000).basic_m3 == 13
    bogota = co.municipalities["11001"]
    assert bogota.factors[1].subsidies[3] == Decimal("12.5")
    assert bogota.factors[0].contributions["commercial"] == Decimal(50)


def test_numbers_are_decimal_never_float():
    data = read_yaml("a: 1.116\nb: 0.1\nc: 4.8860\nd: 7\ne: '2.5'\n")
    assert data == {
        "a": Decimal("1.116"),
        "b": Decimal("0.1"),
        "c": Decimal("4.8860"),
        "d": 7,
        "e": "2.5",
    }
    assert not any(isinstance(v, float) for v in data.values())
    tariff = parse_text(MINIMAL_PE.replace("water: 1.5", "water: '1.5'"))
    assert tariff.categories["domestic"].blocks[0].water == Decimal("1.5")


def test_broken_example_lists_every_error_by_key():
    found = errors(BROKEN.read_text(encoding="utf-8"))
    assert found == [
        "code: use letras, dígitos, '.', '_' o '-' (sin espacios), hasta 40",
        "valid_to: debe ser igual o posterior a 'valid_from' (2015-06-01)",
        "rounding: debe ser mayor o igual que 1 (no 0)",
        "tax.rate_pct: use punto decimal, no coma ('18,0')",
        "categories.hotel: clave desconocida (se esperan: social, domestic, commercial, "
        "industrial, state)",
        "categories.domestic.mode: debe ser uno de: stepped, whole (no 'escalonado')",
        "categories.domestic.blocks[2].to: debe ser mayor que 'from' (25)",
        "categories.domestic.blocks[3].sewer: falta esta clave obligatoria",
        "categories.commercial.blocks[0].tarifa: clave desconocida (se esperan: from, to, "
        "water, sewer, label)",
        "categories.commercial.blocks[0].to: el último bloque debe quedar abierto (sin 'to'): "
        "todo consumo debe tener precio",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("country: PE", "country: BR", "country: debe ser uno de: PE, CO (no 'BR')"),
        ("currency: PEN\n", "", "currency: falta esta clave obligatoria"),
        (
            "valid_from: 2025-01-01",
            "valid_from: 2025-13-01",
            "valid_from: debe ser una fecha AAAA-MM-DD (no '2025-13-01')",
        ),
        (
            "{from: 10, water",
            "{from: 12, water",
            "categories.domestic.blocks[1].from: debe ser igual a 'to' del bloque anterior (10): "
            "los bloques no pueden dejar huecos ni solaparse",
        ),
        (
            "{from: 0, to: 10,",
            "{from: 1, to: 10,",
            "categories.domestic.blocks[0].from: el primer bloque debe empezar en 0 (no 1)",
        ),
        (
            "{from: 0, to: 10,",
            "{from: 0,",
            "categories.domestic.blocks[0].to: solo el último bloque puede quedar abierto (sin 'to')",
        ),
        (
            "water: 2.5",
            "water: -2.5",
            "categories.domestic.blocks[1].water: debe ser mayor o igual que 0 (no -2.5)",
        ),
        (
            "water: 2.5",
            "water: 2.1234567",
            "categories.domestic.blocks[1].water: admite hasta 6 decimales (2.1234567)",
        ),
        (
            "water: 2.5",
            "water: abc",
            "categories.domestic.blocks[1].water: debe ser un número decimal (no 'abc')",
        ),
        (
            "water: 2.5",
            "water: .inf",
            "categories.domestic.blocks[1].water: debe ser un número decimal (no NaN)",
        ),
        (
            "fixed: 5",
            "fixed: {water: 5, gas: 1}",
            "categories.domestic.fixed.gas: clave desconocida (se esperan: water, sewer)",
        ),
        ("rounding: 1", "rounding: 1.5", "rounding: debe ser un número entero (no 1.5)"),
        (
            "    fixed: 5\n",
            "    fixed: 5\n    split_by_units: si\n",
            "categories.domestic.split_by_units: debe ser true o false (no 'si')",
        ),
        (
            "categories:",
            "municipalities: {}\ncategories:",
            "municipalities: solo se usa en el perfil de Colombia (country: CO)",
        ),
    ],
)
def test_one_mistake_one_message(old, new, message):
    assert old in MINIMAL_PE
    assert errors(MINIMAL_PE.replace(old, new)) == [message]


def test_errors_come_all_at_once():
    text = MINIMAL_PE.replace("country: PE", "country: XX").replace("rounding: 1", "rounding: x")
    text = text.replace("water: 2.5", "water: -1")
    found = errors(text)
    assert len(found) == 3
    assert {m.split(":")[0] for m in found} == {
        "country",
        "rounding",
        "categories.domestic.blocks[1].water",
    }


def test_repeated_key_is_an_error_with_its_line():
    text = MINIMAL_PE.replace("categories:\n", "categories:\n  domestic:\n    fixed: 1\n", 1)
    assert errors(text) == [
        "línea 11, columna 3: el archivo no es YAML válido: clave repetida 'domestic'"
    ]


def test_empty_and_non_yaml_files():
    assert errors("") == ["el archivo está vacío"]
    assert errors("- a\n- b\n") == ["(archivo): debe ser un mapa de claves (no una lista)"]
    bad = errors("code: [unclosed\n")
    assert len(bad) == 1 and bad[0].startswith("línea 2, columna 1: el archivo no es YAML válido")


COLOMBIA_TEXT = COLOMBIA.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "subsidies: {1: 70, 2: 40, 3: 15}",
            "subsidies: {1: 75, 2: 40, 3: 15}",
            "municipalities.11001.factors[0].subsidies.1: no puede superar 70 (no 75)",
        ),
        (
            "subsidies: {1: 70, 2: 40, 3: 15}",
            "subsidies: {1: 70, 4: 10}",
            "municipalities.11001.factors[0].subsidies.4: solo los estratos 1, 2 y 3 reciben subsidio",
        ),
        (
            "contributions: {5: 50, 6: 60, commercial: 50, industrial: 30}\n      - valid_from",
            "contributions: {4: 10, 5: 50}\n      - valid_from",
            "municipalities.11001.factors[0].contributions.4: solo aportan los estratos 5 y 6, "
            "commercial e industrial (el estrato 4 paga la tarifa de referencia)",
        ),
        (
            "valid_to: 2025-06-30",
            "valid_to: 2025-07-15",
            "municipalities.11001.factors: los periodos se solapan: el que empieza el 2025-01-01 "
            "y el que empieza el 2025-07-01",
        ),
        (
            "  - {from_m: 1000, basic_m3: 13, sumptuary_from_m3: 26}",
            "  - {from_m: 1000, basic_m3: 13, sumptuary_from_m3: 13}",
            "altitude_bands[1].sumptuary_from_m3: debe ser mayor que 'basic_m3' (13)",
        ),
        (
            "  - {from_m: 2001,",
            "  - {from_m: 900,",
            "altitude_bands[2].from_m: debe ser mayor que 'from_m' de la franja anterior (1000)",
        ),
    ],
)
def test_colombian_mistakes(old, new, message):
    assert old in COLOMBIA_TEXT
    assert errors(COLOMBIA_TEXT.replace(old, new, 1)) == [message]


def test_colombian_residential_needs_basic_range():
    text = COLOMBIA_TEXT.replace(
        "    rates:\n      basic: {water: 2531.47, sewer: 2410.12}\n"
        "      complementary: {water: 2531.47, sewer: 2410.12}\n"
        "      sumptuary: {water: 2531.47, sewer: 2410.12}\n  social:",
        "    rates:\n      all: {water: 2531.47, sewer: 2410.12}\n  social:",
    )
    assert errors(text) == [
        "categories.domestic.rates.all: las categorías residenciales necesitan los rangos basic "
        "y complementary (el subsidio se aplica solo al consumo básico)"
    ]


def test_colombian_sumptuary_rates_required_when_a_band_has_a_threshold():
    text = COLOMBIA_TEXT.replace(
        "      sumptuary: {water: 2531.47, sewer: 2410.12}\n  social:", "  social:"
    )
    assert errors(text) == [
        "categories.domestic.rates.sumptuary: falta esta clave: altitude_bands define un umbral "
        "de consumo suntuario"
    ]


def test_document_round_trip_is_json_and_equal():
    import json

    for path in (SEDAPAL, COLOMBIA):
        data = read_yaml(path.read_text(encoding="utf-8"))
        document = json.loads(json.dumps(to_document(data)))
        assert parse_document(document) == parse_text(path.read_text(encoding="utf-8"))
