"""GS1-128 payment barcode: element strings, FNC1 rules, Code 128, decoded by zxing-cpp.

No database. The SVG the encoder draws is rasterised here from its rectangles (one per bar)
and read back with zxing-cpp, a real decoder; the PDF path is tested in test_document.
"""

from __future__ import annotations

import re
import string
from datetime import date

import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from caudal.billing import barcode
from caudal.billing.barcode import FNC1, GS, BarcodeError

GLN = "7709998039933"  # the GLN of the public Colombian example (standards.md §2.2)


def svg_to_image(svg: str, *, px: int = 3, height: int = 60) -> np.ndarray:
    """Rasterise the encoder's SVG: every rectangle inside the black group is a bar."""
    match = re.search(r'viewBox="0 0 (\d+) ', svg)
    assert match is not None
    width = int(match.group(1))
    row = np.full(width * px, 255, dtype=np.uint8)
    bars = svg.split('<g fill="#000">', 1)[1].split("</g>", 1)[0]
    for x, w in re.findall(r'<rect x="(\d+)" y="0" width="(\d+)"', bars):
        row[int(x) * px : (int(x) + int(w)) * px] = 0
    return np.repeat(row[np.newaxis, :], height, axis=0)


def decode(image: np.ndarray, mode=zxingcpp.TextMode.HRI) -> zxingcpp.Barcode:
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128), text_mode=mode
    )
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------------------ GS1 data


@pytest.mark.parametrize(
    ("first12", "check"),
    [("770999803993", 3), ("629104150021", 3), ("400638133393", 1), ("000000000000", 0)],
)
def test_gs1_check_digit(first12, check):
    assert barcode.gs1_check_digit(first12) == check


def test_gln_is_validated():
    assert barcode.validate_gln(GLN) == GLN
    with pytest.raises(BarcodeError, match="wrong check digit 4, expected 3"):
        barcode.validate_gln("7709998039934")
    with pytest.raises(BarcodeError, match="13 digits"):
        barcode.validate_gln("770999803993")
    with pytest.raises(BarcodeError, match="13 digits"):
        barcode.validate_gln("77099980399A3")


def test_element_string_and_fnc1_rules():
    human, encoded = barcode.gs1_element_string(GLN, "4000200126100", 164217, date(2026, 11, 26))
    assert human == "(415)7709998039933(8020)4000200126100(3900)0000164217(96)20261126"
    # FNC1 first (GS1-128), none after the fixed-length 415, one after 8020 and 3900,
    # none after the last field
    assert encoded == (
        FNC1
        + "4157709998039933"
        + "80204000200126100"
        + FNC1
        + "39000000164217"
        + FNC1
        + "9620261126"
    )
    assert encoded.count(FNC1) == 3
    assert not encoded.endswith(FNC1)
    assert barcode.transmitted(encoded) == (
        "]C1" + "4157709998039933" + "80204000200126100" + GS + "39000000164217" + GS + "9620261126"
    )


def test_amount_width_is_configurable_and_bounded():
    human, _ = barcode.gs1_element_string(GLN, "1", 45600, date(2026, 1, 5), amount_width=14)
    assert "(3900)00000000045600(96)" in human
    with pytest.raises(BarcodeError, match="more than 4 digits"):
        barcode.gs1_element_string(GLN, "1", 45600, date(2026, 1, 5), amount_width=4)
    with pytest.raises(BarcodeError, match="negative"):
        barcode.format_amount(-1)
    with pytest.raises(BarcodeError, match="between 1 and 15"):
        barcode.format_amount(1, 16)
    with pytest.raises(BarcodeError, match="whole pesos"):
        barcode.format_amount(12.5)  # type: ignore[arg-type]


def test_reference_rules():
    with pytest.raises(BarcodeError, match="at most 25"):
        barcode.validate_reference("1" * 26)
    with pytest.raises(BarcodeError, match="empty"):
        barcode.validate_reference("")
    with pytest.raises(BarcodeError, match="not allowed"):
        barcode.validate_reference("12 34")  # space is not in the GS1 set 82
    assert barcode.validate_reference("AB-12/3") == "AB-12/3"


def test_generic_element_strings_follow_predefined_lengths():
    human, encoded = barcode.element_strings(
        [
            barcode.Element("01", "09501101530003"),
            barcode.Element("10", "AB1"),
            barcode.Element("17", "261231"),
        ]
    )
    assert human == "(01)09501101530003(10)AB1(17)261231"
    assert encoded == FNC1 + "0109501101530003" + "10AB1" + FNC1 + "17261231"
    with pytest.raises(BarcodeError, match="wrong length"):
        barcode.element_strings([barcode.Element("01", "123")])


def test_parse_human_readable():
    elements = barcode.parse_human_readable("(415)7709998039933(8020)12(96)20260105")
    assert [(e.ai, e.value) for e in elements] == [
        ("415", GLN),
        ("8020", "12"),
        ("96", "20260105"),
    ]
    with pytest.raises(BarcodeError):
        barcode.parse_human_readable("415)77")


# ------------------------------------------------------------------------------ Code 128


def test_pattern_table():
    assert len(barcode.PATTERNS) == 107
    assert len(set(barcode.PATTERNS)) == 107
    assert all(sum(map(int, p)) == 11 for p in barcode.PATTERNS[:106])
    assert sum(map(int, barcode.PATTERNS[106])) == 13


def test_values_start_c_fnc1_and_checksum():
    values = barcode.code128_values(FNC1 + "4157709998039933")
    assert values[:2] == [105, 102]  # start C, FNC1: a GS1-128 symbol
    assert values[2:10] == [41, 57, 70, 99, 98, 3, 99, 33]
    assert values[-1] == 106
    body = values[1:-2]
    assert values[-2] == (105 + sum(v * k for k, v in enumerate(body, start=1))) % 103


def test_odd_digit_run_switches_to_b_once():
    values = barcode.code128_values("12345")  # C for 1234, then one character in B
    assert values[0] == 105
    assert values[1:3] == [12, 34]
    assert values[3] == 100  # code B
    assert values[4] == ord("5") - 32


def test_control_characters_use_code_set_a():
    values = barcode.code128_values("A\t\tB")
    assert values[0] == 103  # start A: tab is only in set A
    assert values[2] == values[3] == ord("\t") + 64


def test_single_character_of_the_other_set_is_shifted():
    values = barcode.code128_values("ab\tcd")
    assert values[0] == 104  # start B
    assert values[3:5] == [barcode.SHIFT, ord("\t") + 64]


def test_unencodable_character():
    with pytest.raises(BarcodeError, match="cannot encode"):
        barcode.code128_values("año")  # ñ is not ASCII
    with pytest.raises(BarcodeError, match="nothing"):
        barcode.code128_values("")


def test_quiet_zones():
    runs = barcode.code128_modules("ABC")
    assert runs[0] == runs[-1] == 10
    with pytest.raises(BarcodeError, match="at least 10"):
        barcode.code128_modules("ABC", quiet=5)


def test_svg_size_and_text():
    drawn = barcode.code128_svg(FNC1 + "9620261126", module_mm=0.25, height_mm=12, text="(96)x")
    assert drawn.width_mm == pytest.approx(drawn.modules * 0.25)
    assert 'width="' in drawn.svg and "(96)x" in drawn.svg
    assert drawn.height_mm > 12


def test_rendered_gs1_barcode_decodes_with_zxing():
    human, encoded = barcode.gs1_element_string(GLN, "4000200126100", 164217, date(2026, 11, 26))
    image = svg_to_image(barcode.code128_svg(encoded, text=human).svg)
    result = decode(image)
    assert result.symbology_identifier == "]C1"
    assert result.content_type == zxingcpp.ContentType.GS1
    assert result.text == human  # zxing's HRI: the bracketed form
    plain = decode(image, zxingcpp.TextMode.Plain)
    assert "]C1" + plain.text == barcode.transmitted(encoded)
    assert plain.bytes == barcode.transmitted(encoded)[3:].encode()


# ------------------------------------------------------------------------------ properties

digits = st.text(alphabet=string.digits, min_size=1, max_size=25)
gs1_chars = st.text(alphabet=sorted(barcode.GS1_CHARSET_82), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(
    reference=st.one_of(digits, gs1_chars),
    amount=st.integers(min_value=0, max_value=9_999_999_999),
    due=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    width=st.integers(min_value=10, max_value=15),
)
def test_roundtrip_through_zxing(reference, amount, due, width):
    human, encoded = barcode.gs1_element_string(GLN, reference, amount, due, amount_width=width)
    image = svg_to_image(barcode.code128_svg(encoded).svg)
    result = decode(image)
    assert result.symbology_identifier == "]C1"
    assert result.text == human
    plain = decode(image, zxingcpp.TextMode.Plain).bytes
    assert plain == barcode.transmitted(encoded)[3:].encode()
    assert plain.split(GS.encode()) == [
        f"415{GLN}8020{reference}".encode(),
        b"3900" + str(amount).zfill(width).encode(),
        b"96" + due.strftime("%Y%m%d").encode(),
    ]


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), min_size=1, max_size=40))
def test_any_ascii_roundtrips_and_is_never_longer_than_zxing(data):
    image = svg_to_image(barcode.code128_svg(data).svg)
    assert decode(image, zxingcpp.TextMode.Plain).bytes == data.encode("ascii")
    ours = sum(barcode.code128_modules(data)) - 2 * barcode.QUIET_MODULES
    theirs = np.array(
        zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.Code128).to_image(
            scale=1, add_quiet_zones=False
        )
    ).shape[1]
    assert ours <= theirs
