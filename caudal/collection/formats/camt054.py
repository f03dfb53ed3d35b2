"""ISO 20022 camt.054 (Bank-to-Customer Debit/Credit Notification): parser and writer.

Only credits are payments. A payment is one ``TxDtls`` (transaction details) of a booked credit
entry (``Ntry`` with ``CdtDbtInd`` = ``CRDT``), read with the paths of reference/standards.md §3:

- reference: ``TxDtls/RmtInf/Strd/CdtrRefInf/Ref``, else the first ``RmtInf/Ustrd``;
- amount: ``TxDtls/Amt`` (or ``AmtDtls/TxAmt/Amt``; the entry's ``Amt`` when it has a single
  transaction without amount), with at most 2 decimals and more than zero;
- date: ``Ntry/BookgDt`` (``Dt`` or ``DtTm``), else ``ValDt``, else ``default_date``;
- external reference: ``Refs/EndToEndId`` (unless ``NOTPROVIDED``), else ``Refs/AcctSvcrRef``,
  ``TxId``, ``InstrId``, else the entry's ``AcctSvcrRef`` when it has a single transaction;
- method: from the bank transaction code family (``BkTxCd/Domn/Fmly/Cd``): ``RCHQ`` cheque,
  ``CCRD``/``MCRD`` card, ``CNTR`` cash, anything else (credit transfers, proprietary codes
  or none) transfer.

Debit entries (returns, reversals), reversal indicators, return information (``RtrInf``) and
entries that are not booked are errors, not skipped: a notification with a return in it needs
a person. Control totals checked: each entry's amount against the sum of its transactions,
``NtryDtls/Btch`` (``NbOfTxs``, ``TtlAmt``) and ``Ntfctn/TxsSummry`` when present.

XML is read with lxml without entity resolution, network access, DTD loading or huge-tree
mode; a document with a DTD (``<!DOCTYPE``) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import polars as pl
from lxml import etree

from caudal.collection.formats import (
    METHODS,
    RECORD_SCHEMA,
    ErrorList,
    FileFormatError,
    LineError,
    ParsedFile,
    duplicate_errors,
    empty_records,
    format_amount,
)

FORMAT = "camt054"
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054.001."
_NS_RE = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d{2})\}Document$")
_AMOUNT_RE = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,5})?$")
_DATE_RE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})")
_IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_MAX_AMOUNT = 10**16  # minor units; far above any payment, far below Int64

#: Bank transaction code family → method; any other family (RCDT, RDDT, proprietary) or none
#: is a transfer.
FAMILY_METHODS = {"RCHQ": "cheque", "CCRD": "card", "MCRD": "card", "CNTR": "cash"}
#: What the writer puts in ``BkTxCd`` (domain PMNT) for each method.
WRITE_FAMILIES = {
    "transfer": ("RCDT", "OTHR"),
    "cheque": ("RCHQ", "CCHQ"),
    "card": ("CCRD", "POSD"),
    "cash": ("CNTR", "CDPT"),
}

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "dtd_validation": False,
    "remove_blank_text": False,
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
}


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(**_PARSER_OPTIONS)


@dataclass
class _Tx:
    line: int
    reference: str
    amount: int
    paid_on: date | None
    method: str
    external_reference: str


class _Reader:
    """Walks one document, collecting payments and errors."""

    def __init__(self, ns: str, currency: str | None, default_date: date | None) -> None:
        self.ns = {"c": ns}
        self.currency = currency
        self.default_date = default_date
        self.errors = ErrorList()
        self.txs: list[_Tx] = []

    # -- helpers ---------------------------------------------------------------------------

    def find(self, el: Any, path: str) -> Any:
        return el.find("/".join(f"c:{p}" for p in path.split("/")), self.ns)

    def findall(self, el: Any, path: str) -> list[Any]:
        return el.findall("/".join(f"c:{p}" for p in path.split("/")), self.ns)

    def text(self, el: Any, path: str) -> str | None:
        found = self.find(el, path)
        if found is None or found.text is None:
            return None
        return str(found.text).strip()

    def error(self, el: Any, field_name: str, message: str) -> None:
        line = getattr(el, "sourceline", None) or 1
        self.errors.add(int(line), field_name, message)

    def amount(self, el: Any, field_name: str) -> int | None:
        """An ``Amt`` element → minor units, or None after adding an error."""
        raw = (el.text or "").strip()
        if not _AMOUNT_RE.match(raw):
            self.error(el, field_name, f"Importe {raw!r} no válido: se espera p. ej. 1234.50.")
            return None
        value = Decimal(raw) * 100
        if value != value.to_integral_value():
            self.error(el, field_name, f"El importe {raw} tiene más de 2 decimales.")
            return None
        minor = int(value)
        if minor <= 0:
            self.error(el, field_name, "El importe debe ser mayor que cero.")
            return None
        if minor >= _MAX_AMOUNT:
            self.error(el, field_name, f"El importe {raw} es demasiado grande.")
            return None
        currency = el.get("Ccy")
        if not currency:
            self.error(el, field_name, "Falta la moneda del importe (atributo Ccy).")
            return None
        if self.currency is None:
            self.currency = currency
        elif currency != self.currency:
            self.error(
                el,
                field_name,
                f"Moneda {currency!r} distinta de la del archivo ({self.currency}).",
            )
            return None
        return minor

    def date_of(self, el: Any) -> date | None:
        """``Dt`` or ``DtTm`` child → date; None when there is none or it is not valid."""
        raw = self.text(el, "Dt") or self.text(el, "DtTm")
        if raw is None:
            return None
        match = _DATE_RE.match(raw)
        if match:
            try:
                return date.fromisoformat(match.group(1))
            except ValueError:
                pass
        return None

    # -- document --------------------------------------------------------------------------

    def notification(self, ntfctn: Any) -> tuple[str, str]:
        """Check one ``Ntfctn``; returns (account, currency of Acct)."""
        account = self.text(ntfctn, "Acct/Id/IBAN") or self.text(ntfctn, "Acct/Id/Othr/Id") or ""
        acct_ccy = self.text(ntfctn, "Acct/Ccy")
        if acct_ccy and self.currency is None:
            self.currency = acct_ccy
        entries = self.findall(ntfctn, "Ntry")
        before = self.errors.total
        credit_sum = debit_sum = 0
        credits = debits = 0
        for ntry in entries:
            amount, kind = self.entry(ntry)
            if kind == "CRDT":
                credits += 1
                credit_sum += amount or 0
            elif kind == "DBIT":
                debits += 1
                debit_sum += amount or 0
        if self.errors.total == before:  # totals over entries with errors would repeat them
            self.summary(ntfctn, "TtlNtries", len(entries), credit_sum + debit_sum)
            self.summary(ntfctn, "TtlCdtNtries", credits, credit_sum)
            self.summary(ntfctn, "TtlDbtNtries", debits, debit_sum)
        return account, acct_ccy or ""

    def summary(self, ntfctn: Any, kind: str, count: int, total: int) -> None:
        node = self.find(ntfctn, f"TxsSummry/{kind}")
        if node is None:
            return
        declared = self.text(node, "NbOfNtries")
        if declared is not None and declared != str(count):
            self.error(
                self.find(node, "NbOfNtries"),
                f"TxsSummry/{kind}/NbOfNtries",
                f"El resumen declara {declared} asientos y la notificación tiene {count}.",
            )
        sum_el = self.find(node, "Sum")
        if sum_el is not None:
            raw = (sum_el.text or "").strip()
            try:
                value = Decimal(raw) * 100 if _AMOUNT_RE.match(raw) else None
            except InvalidOperation:
                value = None
            if value is None or value != total:
                shown = (
                    format_amount(int(value))
                    if value is not None and value == value.to_integral_value()
                    else repr(raw)
                )
                self.error(
                    sum_el,
                    f"TxsSummry/{kind}/Sum",
                    f"El total de control del resumen ({shown}) no coincide con la suma de "
                    f"los asientos ({format_amount(total)}).",
                )

    def entry(self, ntry: Any) -> tuple[int | None, str]:
        """Check one ``Ntry`` and read its transactions. Returns (amount, CRDT/DBIT/"")."""
        before = self.errors.total
        amt_el = self.find(ntry, "Amt")
        amount = None
        if amt_el is None:
            self.error(ntry, "Ntry/Amt", "El asiento no tiene importe (Amt).")
        else:
            amount = self.amount(amt_el, "Ntry/Amt")
        indicator = self.text(ntry, "CdtDbtInd") or ""
        ind_el = self.find(ntry, "CdtDbtInd")
        if indicator == "DBIT":
            self.error(
                ind_el,
                "Ntry/CdtDbtInd",
                "Asiento de débito (DBIT): las devoluciones y reversos no se importan como "
                "pagos; revíselos y cárguelos aparte.",
            )
        elif indicator != "CRDT":
            self.error(
                ind_el if ind_el is not None else ntry,
                "Ntry/CdtDbtInd",
                f"Indicador crédito/débito {indicator!r} no válido (CRDT o DBIT).",
            )
        if (self.text(ntry, "RvslInd") or "").lower() in ("true", "1"):
            self.error(
                self.find(ntry, "RvslInd"),
                "Ntry/RvslInd",
                "Asiento de reverso (RvslInd): no es un pago.",
            )
        status = self.text(ntry, "Sts/Cd") or self.text(ntry, "Sts")
        if status and status != "BOOK":
            self.error(
                self.find(ntry, "Sts"),
                "Ntry/Sts",
                f"Asiento en estado {status!r}: solo se importan asientos contabilizados (BOOK).",
            )
        paid_on = None
        booking = self.find(ntry, "BookgDt")
        value_date = self.find(ntry, "ValDt")
        for node in (booking, value_date):
            if node is not None:
                paid_on = self.date_of(node)
                if paid_on is None:
                    self.error(
                        node,
                        "Ntry/BookgDt" if node is booking else "Ntry/ValDt",
                        "Fecha no válida (AAAA-MM-DD).",
                    )
                break
        if paid_on is None and booking is None and value_date is None:
            paid_on = self.default_date
            if paid_on is None:
                self.error(ntry, "Ntry/BookgDt", "El asiento no tiene fecha contable ni valor.")
        family = self.text(ntry, "BkTxCd/Domn/Fmly/Cd") or ""
        method = FAMILY_METHODS.get(family, "transfer")
        entry_ref = self.text(ntry, "AcctSvcrRef") or ""

        txs = self.findall(ntry, "NtryDtls/TxDtls")
        if not txs:
            self.error(
                ntry,
                "Ntry/NtryDtls/TxDtls",
                "El asiento no trae detalle de transacción (TxDtls) con la referencia del pago.",
            )
        tx_sum = 0
        tx_ok = True
        for tx in txs:
            got = self.transaction(
                tx,
                single=len(txs) == 1,
                entry_amount=amount,
                paid_on=paid_on,
                method=method,
                entry_ref=entry_ref,
                credit=indicator == "CRDT",
            )
            if got is None:
                tx_ok = False
            else:
                tx_sum += got
        if txs and tx_ok and amount is not None and tx_sum != amount:
            self.error(
                amt_el,
                "Ntry/Amt",
                f"El importe del asiento ({format_amount(amount)}) no coincide con la suma de "
                f"sus transacciones ({format_amount(tx_sum)}).",
            )
        for details in self.findall(ntry, "NtryDtls"):
            self.batch(details, tx_ok)
        if self.errors.total > before:
            return None, indicator
        return amount, indicator

    def batch(self, details: Any, tx_ok: bool) -> None:
        btch = self.find(details, "Btch")
        if btch is None or not tx_ok:
            return
        txs = self.findall(details, "TxDtls")
        declared = self.text(btch, "NbOfTxs")
        if declared is not None and declared != str(len(txs)):
            self.error(
                self.find(btch, "NbOfTxs"),
                "Btch/NbOfTxs",
                f"El lote declara {declared} transacciones y trae {len(txs)}.",
            )
        total_el = self.find(btch, "TtlAmt")
        if total_el is not None:
            total = self.amount(total_el, "Btch/TtlAmt")
            amounts = [self.tx_amount_quiet(tx) for tx in txs]
            if total is not None and None not in amounts:
                actual = sum(a for a in amounts if a is not None)
                if total != actual:
                    self.error(
                        total_el,
                        "Btch/TtlAmt",
                        f"El total de control del lote ({format_amount(total)}) no coincide con "
                        f"la suma de sus transacciones ({format_amount(actual)}).",
                    )

    def tx_amount_quiet(self, tx: Any) -> int | None:
        el = self.find(tx, "Amt")
        if el is None:
            el = self.find(tx, "AmtDtls/TxAmt/Amt")
        if el is None:
            return None
        raw = (el.text or "").strip()
        if not _AMOUNT_RE.match(raw):
            return None
        value = Decimal(raw) * 100
        return int(value) if value == value.to_integral_value() else None

    def transaction(
        self,
        tx: Any,
        *,
        single: bool,
        entry_amount: int | None,
        paid_on: date | None,
        method: str,
        entry_ref: str,
        credit: bool,
    ) -> int | None:
        before = self.errors.total
        amt_el = self.find(tx, "Amt")
        if amt_el is None:
            amt_el = self.find(tx, "AmtDtls/TxAmt/Amt")
        amount: int | None
        if amt_el is not None:
            amount = self.amount(amt_el, "TxDtls/Amt")
        elif single:
            amount = entry_amount
        else:
            amount = None
            self.error(tx, "TxDtls/Amt", "La transacción no tiene importe (Amt).")
        indicator = self.text(tx, "CdtDbtInd")
        if indicator is not None and indicator != "CRDT" and credit:
            self.error(
                self.find(tx, "CdtDbtInd"),
                "TxDtls/CdtDbtInd",
                f"Transacción {indicator!r} dentro de un asiento de crédito: solo se importan "
                "créditos (CRDT).",
            )
        rtr = self.find(tx, "RtrInf")
        if rtr is not None:
            reason = self.text(rtr, "Rsn/Cd") or self.text(rtr, "Rsn/Prtry") or ""
            self.error(
                rtr,
                "TxDtls/RtrInf",
                f"La transacción es una devolución (motivo {reason or 'sin código'}): no se "
                "importa como pago.",
            )

        ref_el = self.find(tx, "RmtInf/Strd/CdtrRefInf/Ref")
        if ref_el is None:
            ref_el = self.find(tx, "RmtInf/Ustrd")
        reference = ""
        if ref_el is None:
            self.error(
                tx,
                "TxDtls/RmtInf",
                "La transacción no trae referencia de pago (RmtInf/Strd/CdtrRefInf/Ref "
                "ni RmtInf/Ustrd).",
            )
        else:
            reference = (ref_el.text or "").strip().lstrip("0")
            if not reference:
                field_name = "TxDtls/RmtInf/" + (
                    "Ustrd" if etree.QName(ref_el).localname == "Ustrd" else "Strd/CdtrRefInf/Ref"
                )
                self.error(ref_el, field_name, "La referencia de pago está vacía.")

        external = ""
        for path in ("Refs/EndToEndId", "Refs/AcctSvcrRef", "Refs/TxId", "Refs/InstrId"):
            value = self.text(tx, path)
            if value and value.upper() != "NOTPROVIDED":
                external = value
                break
        if not external and single:
            external = entry_ref
        if not external:
            self.error(
                tx,
                "TxDtls/Refs",
                "La transacción no trae referencia del banco (EndToEndId, AcctSvcrRef, TxId "
                "o InstrId).",
            )
        if self.errors.total > before or amount is None:
            return None
        self.txs.append(
            _Tx(
                line=int(tx.sourceline or 1),
                reference=reference,
                amount=amount,
                paid_on=paid_on,
                method=method,
                external_reference=external,
            )
        )
        return amount


def parse(
    data: bytes,
    *,
    default_date: date | None = None,
    currency: str | None = None,
) -> ParsedFile:
    """Parse a camt.054 notification; raise :class:`FileFormatError` listing every problem.

    ``currency``: when given, every amount must be in it (``COP``, ``PEN``); otherwise every
    amount must be in the same currency as the first one (or the account's ``Acct/Ccy``).
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FileFormatError(
            [
                LineError(
                    _line_of(data, b"<!"),
                    "XML",
                    "El archivo trae una DTD (<!DOCTYPE): "
                    "no se aceptan DTD ni entidades en camt.054.",
                )
            ]
        )
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        raise FileFormatError(
            [LineError(int(line), "XML", f"El archivo no es XML bien formado: {exc.msg}.")]
        ) from None
    except (ValueError, etree.LxmlError) as exc:
        raise FileFormatError(
            [LineError(1, "XML", f"El archivo no se puede leer como XML: {exc}.")]
        ) from None
    if root is None:
        raise FileFormatError([LineError(1, "XML", "El archivo está vacío.")])
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise FileFormatError(
            [LineError(1, "XML", "El archivo trae una DTD: no se aceptan DTD en camt.054.")]
        )
    match = _NS_RE.match(root.tag) if isinstance(root.tag, str) else None
    if match is None or match.group(1) != "camt.054":
        found = f" (es un {match.group(1)})" if match else ""
        raise FileFormatError(
            [
                LineError(
                    int(root.sourceline or 1),
                    "Document",
                    "No es una notificación camt.054: se espera el elemento Document del "
                    f"espacio de nombres {NAMESPACE_PREFIX}NN{found}.",
                )
            ]
        )
    ns = root.tag[1:].split("}")[0]
    reader = _Reader(ns, currency, default_date)
    body = reader.find(root, "BkToCstmrDbtCdtNtfctn")
    if body is None:
        raise FileFormatError(
            [
                LineError(
                    int(root.sourceline or 1),
                    "BkToCstmrDbtCdtNtfctn",
                    "Falta el elemento BkToCstmrDbtCdtNtfctn.",
                )
            ]
        )
    created = reader.find(body, "GrpHdr/CreDtTm")
    file_date = None
    if created is None:
        reader.error(body, "GrpHdr/CreDtTm", "Falta la fecha de creación del mensaje.")
    else:
        raw = (created.text or "").strip()
        found_date = _DATE_RE.match(raw)
        try:
            file_date = date.fromisoformat(found_date.group(1)) if found_date else None
        except ValueError:
            file_date = None
        if file_date is None:
            reader.error(created, "GrpHdr/CreDtTm", f"Fecha y hora {raw!r} no válidas.")
    notifications = reader.findall(body, "Ntfctn")
    if not notifications:
        reader.error(body, "Ntfctn", "El mensaje no trae ninguna notificación (Ntfctn).")
    collector = ""
    for index, ntfctn in enumerate(notifications):
        account, _ = reader.notification(ntfctn)
        if index == 0:
            collector = account
        elif account != collector:
            reader.error(
                reader.find(ntfctn, "Acct") if reader.find(ntfctn, "Acct") is not None else ntfctn,
                "Ntfctn/Acct/Id",
                f"Cuenta {account!r} distinta de la de la primera notificación ({collector!r}): "
                "importe un archivo por cuenta.",
            )
    records = (
        pl.DataFrame(
            {
                "line": [t.line for t in reader.txs],
                "reference": [t.reference for t in reader.txs],
                "amount": [t.amount for t in reader.txs],
                "paid_on": [t.paid_on for t in reader.txs],
                "method": [t.method for t in reader.txs],
                "external_reference": [t.external_reference for t in reader.txs],
                "point": [""] * len(reader.txs),
            },
            schema=RECORD_SCHEMA,
        )
        if reader.txs
        else empty_records()
    )
    if records.height:
        duplicate_errors(
            reader.errors,
            records.select("line", "external_reference"),
            "external_reference",
            "TxDtls/Refs/EndToEndId",
            "La referencia del banco",
        )
    reader.errors.raise_if_any()
    return ParsedFile(
        format=FORMAT,
        file_date=file_date,
        collector=collector,
        records=records,
        total=sum(t.amount for t in reader.txs),
        header={
            "message_id": reader.text(body, "GrpHdr/MsgId") or "",
            "created": (created.text or "").strip() if created is not None else "",
            "account": collector,
            "currency": reader.currency or "",
            "version": ns.rsplit(".", 2)[-2] + "." + ns.rsplit(".", 1)[-1],
        },
    )


def _line_of(data: bytes, needle: bytes) -> int:
    at = data.find(needle)
    return data.count(b"\n", 0, at) + 1 if at >= 0 else 1


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------

_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str, what: str, max_length: int = 35) -> str:
    if not value or _INVALID_XML_CHARS.search(value) or len(value) > max_length:
        raise ValueError(f"{what} must be 1-{max_length} characters valid in XML, got {value!r}")
    return escape(value)


def _amount_text(minor: int) -> str:
    units, cents = divmod(int(minor), 100)
    return f"{units}.{cents:02d}"


def write(
    records: pl.DataFrame | Sequence[Mapping[str, Any]],
    *,
    account: str,
    created_at: datetime | date,
    currency: str = "COP",
    message_id: str | None = None,
    version: str = "08",
    group_by_day: bool = False,
) -> bytes:
    """Write a camt.054 credit notification that :func:`parse` reads back to the same records.

    ``records``: ``reference`` (no leading zeros or spaces, ≤ 35 characters), ``amount`` (minor
    units > 0), ``paid_on`` (booking date), ``external_reference`` (unique, ≤ 35; written as
    ``EndToEndId``), optional ``method`` (default ``transfer``; written as the bank transaction
    code family). ``point`` is not carried by camt.054 and reads back as "".
    ``group_by_day``: one entry per booking date and method holding a batch of transactions
    (``NtryDtls/Btch``), as banks report a day's collection; otherwise one entry per payment.
    ``version``: the message version, ``"02"`` … ``"12"`` (``Sts`` as a code from ``"08"``).
    """
    if not re.fullmatch(r"[0-9]{2}", version):
        raise ValueError("version is two digits, e.g. '08'")
    frame = records if isinstance(records, pl.DataFrame) else pl.DataFrame(list(records))
    if frame.height and "method" not in frame.columns:
        frame = frame.with_columns(pl.lit("transfer").alias("method"))
    elif frame.height:
        frame = frame.with_columns(pl.col("method").fill_null("transfer"))
    rows = frame.to_dicts() if frame.height else []
    if isinstance(created_at, datetime):
        created = created_at.replace(microsecond=0).isoformat()
    else:
        created = f"{created_at.isoformat()}T00:00:00"
    msg_id = message_id or f"CAUDAL-{created[:10].replace('-', '')}"
    status = "<Sts><Cd>BOOK</Cd></Sts>" if int(version) >= 8 else "<Sts>BOOK</Sts>"
    ccy = quoteattr(_text(currency, "currency", 3))
    seen: set[str] = set()
    for row in rows:
        ref = str(row.get("reference") or "")
        if ref != ref.strip().lstrip("0"):
            raise ValueError(f"reference {ref!r} has leading zeros or spaces")
        _text(ref, "reference")
        ext = str(row.get("external_reference") or "")
        _text(ext, "external_reference")
        if ext in seen:
            raise ValueError(f"external_reference {ext!r} is repeated")
        seen.add(ext)
        amount = row.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < _MAX_AMOUNT:
            raise ValueError(f"amount must be a positive int of minor units, got {amount!r}")
        if row.get("method") not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {row.get('method')!r}")
        if not isinstance(row.get("paid_on"), date):
            raise ValueError("every record needs paid_on (a date)")

    groups: list[list[dict[str, Any]]]
    if group_by_day:
        keyed: dict[tuple[date, str], list[dict[str, Any]]] = {}
        for row in rows:
            keyed.setdefault((row["paid_on"], row["method"]), []).append(row)
        groups = list(keyed.values())  # in order of first appearance
    else:
        groups = [[row] for row in rows]

    def tx_xml(row: dict[str, Any]) -> list[str]:
        return [
            "<TxDtls>",
            f"  <Refs><EndToEndId>{escape(row['external_reference'])}</EndToEndId></Refs>",
            f"  <Amt Ccy={ccy}>{_amount_text(row['amount'])}</Amt>",
            "  <CdtDbtInd>CRDT</CdtDbtInd>",
            "  <RmtInf><Strd><CdtrRefInf>"
            f"<Ref>{escape(row['reference'])}</Ref>"
            "</CdtrRefInf></Strd></RmtInf>",
            "</TxDtls>",
        ]

    def indent(lines: list[str], depth: int) -> list[str]:
        return ["  " * depth + line for line in lines]

    total = sum(int(row["amount"]) for row in rows)
    acct = _text(account, "account", 34)
    id_xml = f"<IBAN>{acct}</IBAN>" if _IBAN_RE.match(account) else f"<Othr><Id>{acct}</Id></Othr>"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="{NAMESPACE_PREFIX}{version}">',
        "  <BkToCstmrDbtCdtNtfctn>",
        "    <GrpHdr>",
        f"      <MsgId>{_text(msg_id, 'message_id')}</MsgId>",
        f"      <CreDtTm>{created}</CreDtTm>",
        "    </GrpHdr>",
        "    <Ntfctn>",
        f"      <Id>{escape(msg_id)}-1</Id>",
        f"      <CreDtTm>{created}</CreDtTm>",
        f"      <Acct><Id>{id_xml}</Id><Ccy>{escape(currency)}</Ccy></Acct>",
        "      <TxsSummry>",
        f"        <TtlNtries><NbOfNtries>{len(groups)}</NbOfNtries>"
        f"<Sum>{_amount_text(total)}</Sum></TtlNtries>",
        f"        <TtlCdtNtries><NbOfNtries>{len(groups)}</NbOfNtries>"
        f"<Sum>{_amount_text(total)}</Sum></TtlCdtNtries>",
        "      </TxsSummry>",
    ]
    for number, group in enumerate(groups, start=1):
        amount = sum(int(row["amount"]) for row in group)
        family, sub_family = WRITE_FAMILIES[group[0]["method"]]
        day = group[0]["paid_on"].isoformat()
        entry = [
            "<Ntry>",
            f"  <NtryRef>{number}</NtryRef>",
            f"  <Amt Ccy={ccy}>{_amount_text(amount)}</Amt>",
            "  <CdtDbtInd>CRDT</CdtDbtInd>",
            f"  {status}",
            f"  <BookgDt><Dt>{day}</Dt></BookgDt>",
            f"  <ValDt><Dt>{day}</Dt></ValDt>",
            f"  <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd>"
            f"<SubFmlyCd>{sub_family}</SubFmlyCd></Fmly></Domn></BkTxCd>",
            "  <NtryDtls>",
        ]
        if group_by_day:
            entry.append(
                f"    <Btch><NbOfTxs>{len(group)}</NbOfTxs><TtlAmt Ccy={ccy}>"
                f"{_amount_text(amount)}</TtlAmt><CdtDbtInd>CRDT</CdtDbtInd></Btch>"
            )
        for row in group:
            entry.extend(indent(tx_xml(row), 2))
        entry.extend(["  </NtryDtls>", "</Ntry>"])
        out.extend(indent(entry, 3))
    out.extend(["    </Ntfctn>", "  </BkToCstmrDbtCdtNtfctn>", "</Document>", ""])
    return "\n".join(out).encode("utf-8")
