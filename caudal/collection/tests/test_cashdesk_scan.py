"""What a barcode scanner types at the cash desk, read back (no database)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caudal.billing import barcode, qr
from caudal.collection import scan

GLN = "7709998000018"
HUMAN = "(415)7709998000018(8020)12345678(3900)0000045600(96)20261220"


def _encode(reference: str, amount: int, due: date, width: int = 10) -> tuple[str, str]:
    return barcode.gs1_element_string(GLN, reference, amount, due, amount_width=width)


def test_the_three_forms_of_the_printed_barcode():
    human, encoded = _encode("12345678", 45600, date(2026, 12, 20))
    assert human == HUMAN
    sent = barcode.transmitted(encoded)  # ]C1 + data, inner FNC1 as GS
    no_separators = sent.replace(barcode.GS, "")[3:]
    for text in (sent, sent[3:], human, no_separators, "\x1d" + sent[3:], encoded):
        got = scan.read(text + "\r\n")
        assert got == scan.Scan(
            reference="12345678", gs1=True, gln=GLN, amount=45600, due=date(2026, 12, 20)
        ), text
    assert scan.read(human).amount_minor(2) == 4_560_000


def test_human_readable_with_spaces_as_printed_under_the_bars():
    got = scan.read("(415) 7709998000018 (8020) 12345678 (3900) 0000045600 (96) 20261220")
    assert got.reference == "12345678" and got.amount == 45600


@pytest.mark.parametrize("text", ["40012345", "  40012345 ", "R202610-40012345", "0040012345"])
def test_account_numbers_and_payment_codes_pass_through(text):
    got = scan.read(text)
    assert got == scan.Scan(reference=text.strip())


def test_a_long_number_that_is_not_a_bill_barcode_passes_through():
    text = "4157709998000011802012345678390000000456009620261220"  # wrong GLN check digit
    assert scan.read(text).reference == text and not scan.read(text).gs1


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("(415)7709998000018(3900)0000045600(96)20261220", "8020"),
        ("(415)7709998000011(8020)123(3900)0000045600", "415"),
        ("(415)7709998000018(8020)123(96)20261340", "96"),
        ("(415)7709998000018(8020)123(3900)12AB", "3900"),
        ("(415)7709998000018(8020)123(10)LOT7", "AI"),
        ("(415)7709998000018(8020)12(3", "mal formado"),
        ("]C14157709998000018\x1d99ABC", "AI"),
        ("]C1ABC", "no reconocido"),
    ],
)
def test_broken_gs1_says_which_part(text, part):
    with pytest.raises(scan.ScanError) as exc:
        scan.read(text)
    assert part in str(exc.value)


def test_amount_with_decimals_and_other_width():
    got = scan.read("(415)7709998000018(8020)55(3902)0000045650(96)20270105")
    assert (got.amount, got.decimals, got.amount_minor(2)) == (45650, 2, 45650)
    _human, encoded = _encode("98765", 1200, date(2027, 1, 5), width=14)
    compact = barcode.transmitted(encoded).replace(barcode.GS, "")[3:]
    assert scan.read(compact, amount_width=14).amount == 1200
    assert scan.read(compact).amount == 1200  # another width is found from the fixed parts


REFERENCES = st.text(
    alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-./",
    min_size=1,
    max_size=barcode.MAX_REFERENCE,
)


@settings(max_examples=300, deadline=None)
@given(
    gln12=st.text(alphabet="0123456789", min_size=12, max_size=12),
    reference=REFERENCES,
    amount=st.integers(min_value=0, max_value=10**10 - 1),
    due=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    width=st.integers(min_value=10, max_value=15),
)
def test_encode_then_scan_gives_the_same_fields(gln12, reference, amount, due, width):
    gln = gln12 + str(barcode.gs1_check_digit(gln12))
    human, encoded = barcode.gs1_element_string(gln, reference, amount, due, amount_width=width)
    sent = barcode.transmitted(encoded)
    expected = scan.Scan(reference=reference, gs1=True, gln=gln, amount=amount, due=due)
    assert scan.read(sent, amount_width=width) == expected
    assert scan.read(sent[3:], amount_width=width) == expected
    assert scan.read(human, amount_width=width) == expected
    compact = sent.replace(barcode.GS, "")
    assert scan.read(compact, amount_width=width) == expected
    assert scan.read(compact[3:], amount_width=width) == expected


def _qr_data(code: str = "400123457", amount: int = 4_560) -> qr.PaymentData:
    return qr.PaymentData(
        ruc="20130098488",
        account="40012345",
        payment_code=code,
        bill="R202610-40012345",
        period="2026-10",
        amount_minor=amount,
        currency="PEN",
        due=date(2026, 11, 26),
    )


def test_peruvian_qr_payload_gives_the_payment_code_amount_and_due():
    payload = qr.payment_payload(_qr_data())
    got = scan.read(payload + "\n")
    assert got == scan.Scan(
        reference="400123457", qr=True, amount=4_560, decimals=2, due=date(2026, 11, 26)
    )
    assert got.amount_minor(2) == 4_560


def test_qr_with_another_layout_setting():
    template = "{account};{amount_minor};{due_compact}"
    payload = qr.payment_payload(_qr_data(), template)
    got = scan.read(payload, qr_format=template)
    assert (got.reference, got.amount_minor(2), got.due) == ("40012345", 4_560, date(2026, 11, 26))
    assert scan.read(payload) == scan.Scan(reference=payload)  # not the configured layout
    assert scan.read("40012345", qr_format="{account}") == scan.Scan(reference="40012345")


@settings(max_examples=100, deadline=None)
@given(
    code=st.text(alphabet="0123456789", min_size=1, max_size=20),
    amount=st.integers(min_value=1, max_value=10**9),
)
def test_qr_payload_then_scan_gives_the_same_fields(code, amount):
    payload = qr.payment_payload(_qr_data(code, amount))
    got = scan.read(payload)
    assert (got.reference, got.amount_minor(2), got.due) == (code, amount, date(2026, 11, 26))
