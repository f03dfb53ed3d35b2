"""camt.054: parser and writer (caudal.collection.formats.camt054)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
import pytest

from caudal.collection.formats import RECORD_SCHEMA, FileFormatError, LineError, camt054, parse

DAY = date(2024, 7, 11)
NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"


def records() -> list[dict[str, object]]:
    return [
        {
            "reference": "1055909",
            "amount": 1_800_000,
            "paid_on": DAY,
            "method": "transfer",
            "external_reference": "E2E-0001",
        },
        {
            "reference": "A-77",
            "amount": 150,
            "paid_on": DAY,
            "method": "cash",
            "external_reference": "E2E-0002",
        },
        {
            "reference": "88",
            "amount": 12_345,
            "paid_on": date(2024, 7, 12),
            "method": "cheque",
            "external_reference": "E2E-0003",
        },
        {
            "reference": "99",
            "amount": 1,
            "paid_on": date(2024, 7, 12),
            "method": "card",
            "external_reference": "E2E&<0004>",
        },
    ]


def written(**options: object) -> bytes:
    return camt054.write(
        records(),
        account="CO12345678901234567",
        created_at=datetime(2024, 7, 12, 6, 30),
        **options,  # type: ignore[arg-type]
    )


def errors_of(data: bytes, **options: Any) -> list[LineError]:
    with pytest.raises(FileFormatError) as caught:
        parse(data, "camt054", **options)
    return caught.value.errors


def fields(errors: list[LineError]) -> list[str]:
    return [e.field for e in errors]


def document(entries: str, summary: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-07-12T06:00:00-05:00</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>N1</Id>
   <Acct><Id><Othr><Id>0400702127333</Id></Othr></Id></Acct>
   {summary}
   {entries}
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
""".encode()


def entry(
    amount: str = "100.00",
    txs: str | None = None,
    indicator: str = "CRDT",
    extra: str = "<BookgDt><Dt>2024-07-11</Dt></BookgDt>",
) -> str:
    if txs is None:
        txs = tx(amount)
    return (
        f'<Ntry><Amt Ccy="COP">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<Sts><Cd>BOOK</Cd></Sts>{extra}\n<NtryDtls>{txs}</NtryDtls></Ntry>\n"
    )


def tx(
    amount: str | None = "100.00",
    ref: str = "<RmtInf><Strd><CdtrRefInf><Ref>00123</Ref></CdtrRefInf></Strd></RmtInf>",
    refs: str = "<Refs><EndToEndId>E1</EndToEndId></Refs>",
    extra: str = "",
) -> str:
    amt = f'<Amt Ccy="COP">{amount}</Amt>' if amount is not None else ""
    return f"\n<TxDtls>{refs}{amt}{extra}{ref}</TxDtls>\n"


# --- round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("group_by_day", [False, True])
@pytest.mark.parametrize("version", ["02", "08"])
def test_round_trip(group_by_day: bool, version: str) -> None:
    data = written(group_by_day=group_by_day, version=version)
    parsed = parse(data, "camt054")
    assert parsed.format == "camt054"
    assert parsed.file_date == date(2024, 7, 12)
    assert parsed.collector == "CO12345678901234567"
    assert parsed.header["version"] == f"001.{version}"
    assert parsed.header["currency"] == "COP"
    assert parsed.records.schema == pl.Schema(RECORD_SCHEMA)
    got = parsed.records.drop("line").sort("external_reference").to_dicts()
    want = sorted(
        ({**r, "point": ""} for r in records()), key=lambda r: str(r["external_reference"])
    )
    assert got == want
    assert parsed.total == 1_800_000 + 150 + 12_345 + 1
    # lines point at the TxDtls element
    text = data.decode().splitlines()
    for line in parsed.records["line"]:
        assert text[line - 1].strip() == "<TxDtls>"


def test_other_account_identification_and_plain_document() -> None:
    parsed = parse(document(entry()), "camt054")
    assert parsed.collector == "0400702127333"
    assert parsed.records.to_dicts() == [
        {
            "line": 11,
            "reference": "123",
            "amount": 10_000,
            "paid_on": DAY,
            "method": "transfer",
            "external_reference": "E1",
            "point": "",
        }
    ]


# --- refusals -------------------------------------------------------------------------------


def test_debit_entries_are_errors() -> None:
    data = document(
        entry() + entry(indicator="DBIT", txs=tx(refs="<Refs><EndToEndId>E2</EndToEndId></Refs>"))
    )
    errors = errors_of(data)
    assert fields(errors) == ["Ntry/CdtDbtInd"]
    assert "DBIT" in errors[0].message
    assert errors[0].line == 13


def test_reversal_return_and_pending_are_errors() -> None:
    reversal = entry(extra="<RvslInd>true</RvslInd><BookgDt><Dt>2024-07-11</Dt></BookgDt>")
    assert fields(errors_of(document(reversal))) == ["Ntry/RvslInd"]
    rtr = tx(extra="<RtrInf><Rsn><Cd>MD06</Cd></Rsn></RtrInf>")
    errors = errors_of(document(entry(txs=rtr)))
    assert fields(errors) == ["TxDtls/RtrInf"]
    assert "MD06" in errors[0].message
    pending = document(entry().replace("<Cd>BOOK</Cd>", "<Cd>PDNG</Cd>"))
    assert fields(errors_of(pending)) == ["Ntry/Sts"]


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("100.005", "más de 2 decimales"),
        ("0.00", "mayor que cero"),
        ("-5.00", "no válido"),
        ("1,00", "no válido"),
        ("", "no válido"),
    ],
)
def test_bad_amounts(amount: str, words: str) -> None:
    errors = errors_of(document(entry(amount, txs=tx(amount))))
    assert "Ntry/Amt" in fields(errors)
    assert "TxDtls/Amt" in fields(errors)
    assert all(words in e.message for e in errors)


def test_trailing_zero_decimals_are_exact() -> None:
    parsed = parse(document(entry("100.500", txs=tx("100.50000"))), "camt054")
    assert parsed.total == 10_050


def test_currency() -> None:
    data = document(
        entry()
        + entry(txs=tx(refs="<Refs><EndToEndId>E2</EndToEndId></Refs>")).replace(
            'Ccy="COP"', 'Ccy="USD"'
        )
    )
    assert fields(errors_of(data)) == ["Ntry/Amt", "TxDtls/Amt"]
    assert fields(errors_of(document(entry()), currency="PEN")) == ["Ntry/Amt", "TxDtls/Amt"]
    assert parse(document(entry()), "camt054", currency="COP").total == 10_000
    no_ccy = document(entry().replace(' Ccy="COP"', ""))
    assert "Ccy" in errors_of(no_ccy)[0].message


def test_entry_amount_must_equal_its_transactions() -> None:
    txs = tx("60.00") + tx("30.00", refs="<Refs><EndToEndId>E2</EndToEndId></Refs>")
    errors = errors_of(document(entry("100.00", txs=txs)))
    assert errors == [
        LineError(
            9,
            "Ntry/Amt",
            "El importe del asiento (100,00) no coincide con la suma de sus transacciones (90,00).",
        )
    ]


def test_single_transaction_without_amount_takes_the_entry_amount() -> None:
    parsed = parse(document(entry("42.00", txs=tx(None))), "camt054")
    assert parsed.records["amount"].to_list() == [4_200]
    two = tx(None) + tx("1.00", refs="<Refs><EndToEndId>E2</EndToEndId></Refs>")
    assert "TxDtls/Amt" in fields(errors_of(document(entry("42.00", txs=two))))


def test_batch_and_summary_controls() -> None:
    batch = '<Btch><NbOfTxs>2</NbOfTxs><TtlAmt Ccy="COP">100.01</TtlAmt></Btch>'
    errors = errors_of(document(entry(txs=batch + tx())))
    assert fields(errors) == ["Btch/NbOfTxs", "Btch/TtlAmt"]
    summary = (
        "<TxsSummry><TtlNtries><NbOfNtries>2</NbOfNtries><Sum>100.00</Sum></TtlNtries>"
        "<TtlCdtNtries><NbOfNtries>1</NbOfNtries><Sum>99.00</Sum></TtlCdtNtries></TxsSummry>"
    )
    errors = errors_of(document(entry(), summary=summary))
    assert fields(errors) == ["TxsSummry/TtlCdtNtries/Sum", "TxsSummry/TtlNtries/NbOfNtries"]
    assert "(99,00)" in errors[0].message and "(100,00)" in errors[0].message


def test_references() -> None:
    ustrd = tx(ref="<RmtInf><Ustrd> 0042 </Ustrd></RmtInf>")
    assert parse(document(entry(txs=ustrd)), "camt054").records["reference"][0] == "42"
    missing = tx(ref="")
    assert fields(errors_of(document(entry(txs=missing)))) == ["TxDtls/RmtInf"]
    zeros = tx(ref="<RmtInf><Ustrd>000</Ustrd></RmtInf>")
    assert fields(errors_of(document(entry(txs=zeros)))) == ["TxDtls/RmtInf/Ustrd"]


def test_external_reference_fallbacks_and_duplicates() -> None:
    refs = "<Refs><AcctSvcrRef>BANK-9</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
    parsed = parse(document(entry(txs=tx(refs=refs))), "camt054")
    assert parsed.records["external_reference"][0] == "BANK-9"
    entry_ref = entry(
        txs=tx(refs=""),
        extra="<BookgDt><Dt>2024-07-11</Dt></BookgDt><AcctSvcrRef>NTRY-1</AcctSvcrRef>",
    )
    assert parse(document(entry_ref), "camt054").records["external_reference"][0] == "NTRY-1"
    assert fields(errors_of(document(entry(txs=tx(refs=""))))) == ["TxDtls/Refs"]
    errors = errors_of(document(entry() + entry()))
    assert errors == [
        LineError(
            15,
            "TxDtls/Refs/EndToEndId",
            "La referencia del banco E1 está repetida: ya aparece en la línea 11.",
        )
    ]


def test_dates() -> None:
    value_only = entry(extra="<ValDt><DtTm>2024-07-10T23:59:00</DtTm></ValDt>")
    assert parse(document(value_only), "camt054").records["paid_on"][0] == date(2024, 7, 10)
    no_date = entry(extra="")
    assert fields(errors_of(document(no_date))) == ["Ntry/BookgDt"]
    parsed = parse(document(no_date), "camt054", default_date=date(2024, 1, 2))
    assert parsed.records["paid_on"][0] == date(2024, 1, 2)
    bad = entry(extra="<BookgDt><Dt>2024-02-30</Dt></BookgDt>")
    assert fields(errors_of(document(bad))) == ["Ntry/BookgDt"]


def test_methods_from_bank_transaction_codes() -> None:
    def coded(family: str, ref: str) -> str:
        code = f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd></Fmly></Domn></BkTxCd>"
        return entry(
            txs=tx(refs=f"<Refs><EndToEndId>{ref}</EndToEndId></Refs>"),
            extra="<BookgDt><Dt>2024-07-11</Dt></BookgDt>" + code,
        )

    data = document(
        coded("RCHQ", "a") + coded("CCRD", "b") + coded("CNTR", "c") + coded("RDDT", "d")
    )
    assert parse(data, "camt054").records["method"].to_list() == [
        "cheque",
        "card",
        "cash",
        "transfer",
    ]


def test_entry_without_transaction_details_is_an_error() -> None:
    data = document(entry(txs=""))
    assert fields(errors_of(data)) == ["Ntry/NtryDtls/TxDtls"]


def test_accounts_must_agree() -> None:
    data = document(entry()).replace(
        b"</Ntfctn>",
        b"</Ntfctn><Ntfctn><Id>N2</Id><Acct><Id><Othr><Id>999</Id></Othr></Id></Acct></Ntfctn>",
    )
    assert fields(errors_of(data)) == ["Ntfctn/Acct/Id"]


# --- safety and shape -----------------------------------------------------------------------


def test_dtd_and_entities_are_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<Document>&lol2;</Document>"
    )
    assert fields(errors_of(laughs)) == ["XML"]
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Document>&x;</Document>"
    )
    errors = errors_of(xxe)
    assert errors[0].line == 2 and "DTD" in errors[0].message
    # Also when hidden from a byte search by another encoding.
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>'
    assert fields(errors_of(utf16.encode("utf-16"))) == ["XML"]


def test_parser_is_configured_safely() -> None:
    options = camt054._PARSER_OPTIONS
    assert options["resolve_entities"] is False
    assert options["no_network"] is True
    assert options["huge_tree"] is False
    assert options["load_dtd"] is False


def test_not_xml_and_other_messages() -> None:
    errors = errors_of(b"<Document><a></Document>")
    assert fields(errors) == ["XML"] and errors[0].line == 1
    assert fields(errors_of(b"")) == ["XML"]
    stmt = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>'
    errors = errors_of(stmt)
    assert fields(errors) == ["Document"] and "camt.053" in errors[0].message
    assert fields(errors_of(b"<Document/>")) == ["Document"]
    empty_body = f'<Document xmlns="{NS}"><Other/></Document>'.encode()
    assert fields(errors_of(empty_body)) == ["BkToCstmrDbtCdtNtfctn"]


def test_group_header_date_is_required() -> None:
    data = document(entry()).replace(b"<CreDtTm>2024-07-12T06:00:00-05:00</CreDtTm>", b"")
    assert fields(errors_of(data)) == ["GrpHdr/CreDtTm"]
    data = document(entry()).replace(b"2024-07-12T06:00:00-05:00", b"ayer")
    assert fields(errors_of(data)) == ["GrpHdr/CreDtTm"]


def test_every_error_is_reported() -> None:
    bad_tx = tx("1.001", refs="", ref="")
    data = document(entry("1.001", txs=bad_tx) + entry(indicator="DBIT"))
    assert fields(errors_of(data)) == [
        "Ntry/Amt",
        "TxDtls/Amt",
        "TxDtls/Refs",
        "TxDtls/RmtInf",
        "Ntry/CdtDbtInd",
    ]


def test_writer_refuses_what_it_cannot_write() -> None:
    base = records()[0]
    for bad in (
        {**base, "reference": "007"},
        {**base, "reference": ""},
        {**base, "amount": 0},
        {**base, "external_reference": "x" * 36},
        {**base, "method": "bitcoin"},
        {**base, "reference": "a\x01b"},
    ):
        with pytest.raises(ValueError):
            camt054.write([bad], account="1", created_at=DAY)
    with pytest.raises(ValueError, match="repeated"):
        camt054.write([base, base], account="1", created_at=DAY)


def test_writer_without_records() -> None:
    parsed = parse(camt054.write([], account="1", created_at=DAY), "camt054")
    assert parsed.count == 0
    assert parsed.file_date == DAY
