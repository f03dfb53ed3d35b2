"""Payments CSV: a simple documented file for collectors without a bank format.

Columns (header required, any order, case-insensitive)::

    reference;amount;paid_on;method;external_reference;point

- ``reference`` (required): the customer reference (account number or bill reference);
  spaces and leading zeros are removed.
- ``amount`` (required): decimal text, ``.`` or ``,`` as the decimal mark, at most 2 decimals,
  no thousands separator, more than zero: ``12345.60`` → 1234560 minor units.
- ``paid_on`` (required unless the import gives a default date): ``AAAA-MM-DD`` or
  ``DD/MM/AAAA``; not in the future.
- ``method`` (required): ``cash``/``efectivo``, ``card``/``tarjeta``, ``cheque``/``check``,
  ``transfer``/``transferencia``.
- ``external_reference`` (required): the collector's operation or receipt number, unique in
  the file, at most 64 characters.
- ``point`` (optional): branch or counter code, at most 20 characters.

UTF-8 with or without a byte-order mark; ``;`` or ``,`` separator, the one that occurs more in
the header line. The same rules as the other CSV imports (docs/formats.md, "Common rules").
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date, timedelta

import polars as pl

from caudal.collection.formats import (
    MAX_ERRORS,
    RECORD_SCHEMA,
    ErrorList,
    FileFormatError,
    LineError,
    ParsedFile,
    duplicate_errors,
    empty_records,
    exact_sum,
)

FORMAT = "csv"
COLUMNS = ("reference", "amount", "paid_on", "method", "external_reference", "point")
REQUIRED = ("reference", "amount", "paid_on", "method", "external_reference")
METHOD_ALIASES = {
    "cash": "cash",
    "efectivo": "cash",
    "card": "card",
    "tarjeta": "card",
    "cheque": "cheque",
    "check": "cheque",
    "transfer": "transfer",
    "transferencia": "transfer",
}
MAX_REFERENCE = 48
MAX_EXTERNAL = 64
MAX_POINT = 20
_BOM = b"\xef\xbb\xbf"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _read(
    data: bytes, default_date: date | None
) -> tuple[list[str], list[int], dict[str, list[str]], ErrorList]:
    """Decode and split; returns (columns present, line of each row, values by column, errors
    of row shape). Raises FileFormatError for errors of the whole file (encoding, header)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileFormatError(
            [
                LineError(
                    line,
                    "archivo",
                    "El archivo no está en UTF-8 (por ejemplo, Excel «CSV» en Windows-1252): "
                    "guárdelo otra vez como «CSV UTF-8».",
                )
            ]
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise FileFormatError(
            [LineError(line, "archivo", "El archivo tiene bytes nulos: no es un CSV de texto.")]
        )
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    separator = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FileFormatError([LineError(1, "", f"Encabezado ilegible: {exc}.")]) from None
    if not header or not any(cell.strip() for cell in header):
        raise FileFormatError(
            [LineError(1, "", "Falta el encabezado (reference, amount, paid_on, …).")]
        )
    names = [_fold(cell) for cell in header]
    problems: list[LineError] = []
    for name in sorted({n for n in names if n not in COLUMNS}):
        problems.append(
            LineError(
                1, name, f"Columna desconocida {name!r}; las columnas son {', '.join(COLUMNS)}."
            )
        )
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(LineError(1, name, f"La columna {name!r} está repetida."))
    for name in REQUIRED:
        if name not in names and not (name == "paid_on" and default_date is not None):
            problems.append(LineError(1, name, f"Falta la columna obligatoria {name!r}."))
    if problems:
        raise FileFormatError(problems)

    values: dict[str, list[str]] = {name: [] for name in names}
    lines: list[int] = []
    errors = ErrorList()
    width = len(names)
    previous = reader.line_num
    try:
        for row in reader:
            start = previous + 1
            previous = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) > width:
                errors.add(
                    start,
                    "",
                    f"La fila tiene {len(row)} campos y el encabezado {width}; ¿un separador "
                    "de más o un valor sin comillas?",
                )
                continue
            row = row + [""] * (width - len(row))
            lines.append(start)
            for name, cell in zip(names, row, strict=True):
                values[name].append(cell.strip())
    except csv.Error as exc:
        errors.add(reader.line_num or previous + 1, "", f"CSV mal formado: {exc}.")
    return names, lines, values, errors


def parse(
    data: bytes, *, default_date: date | None = None, today: date | None = None
) -> ParsedFile:
    """Parse a payments CSV; raise :class:`FileFormatError` listing every problem.

    ``default_date``: the payment date of rows whose ``paid_on`` is empty or absent.
    ``today``: the date after which ``paid_on`` is in the future (default: the system's date;
    one day of margin is allowed for time zones).
    """
    names, lines, values, errors = _read(data, default_date)
    if not lines:
        errors.raise_if_any()
        return ParsedFile(
            format=FORMAT, file_date=None, collector="", records=empty_records(), total=0
        )
    n = len(lines)
    frame = pl.DataFrame(
        {"line": pl.Series(lines, dtype=pl.Int64)}
        | {name: pl.Series(values.get(name, [""] * n), dtype=pl.String) for name in COLUMNS}
    )
    latest = (today or date.today()) + timedelta(days=1)

    amount_ok = pl.col("amount").str.contains(r"^[0-9]{1,15}([.,][0-9]{1,2})?$")
    normalized = pl.col("amount").str.replace(",", ".", literal=True)
    units = normalized.str.extract(r"^([0-9]+)", 1).str.to_integer(strict=False)
    cents = (
        normalized.str.extract(r"\.([0-9]{1,2})$", 1)
        .fill_null("")
        .str.pad_end(2, "0")
        .str.to_integer(strict=False)
    )
    iso = pl.col("paid_on").str.to_date("%Y-%m-%d", strict=False)
    dmy = (
        pl.col("paid_on")
        .str.replace(r"^([0-9])/", "0$1/")
        .str.replace(r"/([0-9])/", "/0$1/")
        .str.to_date("%d/%m/%Y", strict=False)
    )
    date_shape = pl.col("paid_on").str.contains(
        r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})$"
    )
    frame = frame.with_columns(
        pl.col("reference").str.strip_chars_start("0").alias("_reference"),
        amount_ok.alias("_amount_ok"),
        pl.when(amount_ok).then(units * 100 + cents).cast(pl.Int64).alias("_amount"),
        pl.when(pl.col("paid_on") == "")
        .then(pl.lit(default_date, dtype=pl.Date))
        .when(date_shape)
        .then(pl.coalesce(iso, dmy))
        .alias("_paid_on"),
        pl.col("method")
        .str.to_lowercase()
        .replace_strict(METHOD_ALIASES, default=None, return_dtype=pl.String)
        .alias("_method"),
    )

    checks: list[tuple[str, pl.Expr, str]] = [
        ("reference", pl.col("_reference") == "", "Falta la referencia (cuenta o recibo)."),
        (
            "reference",
            pl.col("_reference").str.len_chars() > MAX_REFERENCE,
            f"La referencia tiene más de {MAX_REFERENCE} caracteres.",
        ),
        ("amount", pl.col("amount") == "", "Falta el importe."),
        (
            "amount",
            (pl.col("amount") != "") & ~pl.col("_amount_ok"),
            "Importe no válido: use 12345.60 (punto o coma decimal, hasta 2 decimales, "
            "sin separador de miles).",
        ),
        ("amount", pl.col("_amount") == 0, "El importe debe ser mayor que cero."),
        (
            "paid_on",
            (pl.col("paid_on") == "") & pl.col("_paid_on").is_null(),
            "Falta la fecha de pago.",
        ),
        (
            "paid_on",
            (pl.col("paid_on") != "") & pl.col("_paid_on").is_null(),
            "Fecha no válida: use AAAA-MM-DD o DD/MM/AAAA (y una fecha que exista).",
        ),
        (
            "paid_on",
            pl.col("_paid_on") > pl.lit(latest),
            "La fecha de pago está en el futuro.",
        ),
        (
            "paid_on",
            pl.col("_paid_on") < pl.lit(date(1900, 1, 1)),
            "La fecha de pago es anterior a 1900.",
        ),
        ("method", pl.col("method") == "", "Falta el medio de pago."),
        (
            "method",
            (pl.col("method") != "") & pl.col("_method").is_null(),
            "Medio de pago desconocido: use cash/efectivo, card/tarjeta, cheque o "
            "transfer/transferencia.",
        ),
        (
            "external_reference",
            pl.col("external_reference") == "",
            "Falta la referencia externa (número de operación o de recibo del recaudador).",
        ),
        (
            "external_reference",
            pl.col("external_reference").str.len_chars() > MAX_EXTERNAL,
            f"La referencia externa tiene más de {MAX_EXTERNAL} caracteres.",
        ),
        (
            "point",
            pl.col("point").str.len_chars() > MAX_POINT,
            f"El código del punto de pago tiene más de {MAX_POINT} caracteres.",
        ),
    ]
    for column, bad, message in checks:
        rows = frame.filter(bad.fill_null(False))
        for line, value in rows.select("line", column).head(MAX_ERRORS).iter_rows():
            shown = f" (valor {value!r})" if value else ""
            errors.add(line, column, message + shown)
        errors.count_only(max(0, rows.height - MAX_ERRORS))
    with_ref = frame.filter(pl.col("external_reference") != "").select("line", "external_reference")
    duplicate_errors(
        errors, with_ref, "external_reference", "external_reference", "La referencia externa"
    )
    errors.raise_if_any()

    records = frame.select(
        "line",
        pl.col("_reference").alias("reference"),
        pl.col("_amount").alias("amount"),
        pl.col("_paid_on").alias("paid_on"),
        pl.col("_method").alias("method"),
        "external_reference",
        "point",
    ).cast(RECORD_SCHEMA)  # type: ignore[arg-type]
    return ParsedFile(
        format=FORMAT,
        file_date=None,
        collector="",
        records=records,
        total=exact_sum(records["amount"]),
        header={"columns": ",".join(names)},
    )


def write(records: pl.DataFrame, *, separator: str = ",") -> bytes:
    """Write records (the columns of :data:`COLUMNS`) as a payments CSV, amounts as
    ``12345.60`` and dates as ``AAAA-MM-DD``."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in records.iter_rows(named=True):
        units, cents = divmod(int(row["amount"]), 100)
        writer.writerow(
            [
                row["reference"],
                f"{units}.{cents:02d}",
                row["paid_on"].isoformat(),
                row.get("method") or "cash",
                row["external_reference"],
                row.get("point") or "",
            ]
        )
    return out.getvalue().encode("utf-8")
