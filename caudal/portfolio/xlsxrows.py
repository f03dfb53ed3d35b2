"""Large XLSX sheets fast: DuckDB renders each row's XML, xlsxwriter writes the workbook.

xlsxwriter in ``constant_memory`` mode writes every row to a temporary row file as it goes.
Writing cell by cell costs microseconds of Python per cell (a million-row testigo took
150 s); here DuckDB renders each row's XML — exactly what xlsxwriter would have written:
inline strings, numbers with their style index — in native threads, and the rows are
appended to the worksheet's row file in batches. Used by the testigos
(:mod:`caudal.portfolio.testigos`) and the dashboard export
(:mod:`caudal.portfolio.dashboard`).

Relies on three xlsxwriter internals, pinned in ``uv.lock``: the row file
``row_data_fh``, ``_write_single_row`` (to flush the header row before the appended rows)
and ``_check_dimensions`` (to record the last row). The testigo tests compare this writer
with xlsxwriter's own cell by cell; the dashboard tests read the files back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def xml_text_sql(expr: str) -> str:
    """XML element text of a value: control characters dropped (XML 1.0 cannot carry
    them; tab and newlines stay), ``& < >`` escaped."""
    text = f"regexp_replace(CAST({expr} AS VARCHAR), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '', 'g')"
    return f"replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"


def money_text_sql(expr: str, decimals: int, sep: str = ".") -> str:
    """Exact major-unit text of an integer minor-unit expression (``-1234.05``): DuckDB
    renders the digits, never a float."""
    if decimals == 0:
        return f"CAST({expr} AS VARCHAR)"
    scale = 10**decimals
    return (
        f"(CASE WHEN {expr} < 0 THEN '-' ELSE '' END || CAST(abs({expr}) // {scale} AS VARCHAR)"
        f" || '{sep}' || lpad(CAST(abs({expr}) % {scale} AS VARCHAR), {decimals}, '0'))"
    )


def cell_xml_sql(expr: str, kind: str, letter: str, style: int, decimals: int) -> str:
    """DuckDB expression of one cell's XML in column ``letter`` of row ``d.r`` (``''`` for
    an empty cell). ``kind`` is ``text`` (inline string), ``money`` (minor units written as
    exact major units with ``decimals``) or a number kind written as is; ``style`` is the
    xlsxwriter format's xf index."""
    ref = f"'<c r=\"{letter}' || d.r || '\"'"
    if kind == "text":
        text = f"CAST({expr} AS VARCHAR)"
        preserve = (
            f"CASE WHEN regexp_matches({text}, '^\\s|\\s$') "
            "THEN ' xml:space=\"preserve\"' ELSE '' END"
        )
        return (
            f"CASE WHEN {expr} IS NULL OR {text} = '' THEN '' ELSE {ref} || ' t=\"inlineStr\">"
            f"<is><t' || {preserve} || '>' || {xml_text_sql(expr)} || '</t></is></c>' END"
        )
    value = money_text_sql(expr, decimals) if kind == "money" else f"CAST({expr} AS VARCHAR)"
    return (
        f"CASE WHEN {expr} IS NULL THEN '' ELSE {ref} || ' s=\"{style}\"><v>' || {value}"
        " || '</v></c>' END"
    )


def row_xml_sql(cells: Iterable[str]) -> str:
    """The row element around the cells (row number ``d.r``)."""
    return "'<row r=\"' || d.r || '\">' || " + " || ".join(cells) + " || '</row>'"


def append_rows(
    batches: Iterable[Any],
    *,
    sheet_rows: int,
    new_sheet: Callable[[], Any],
    close_sheet: Callable[[Any, int], None],
) -> int:
    """Append the row XML of each Arrow batch (first column) to the current worksheet's row
    file, opening a new sheet (``new_sheet()``, header already flushed) every
    ``sheet_rows`` rows and closing each (``close_sheet(sheet, rows)``). Returns the rows.

    The XML's row numbers must restart with each sheet: compute them in SQL as
    ``(i % sheet_rows) + first_data_row``.
    """
    ws = new_sheet()
    row = written = 0
    for batch in batches:
        xml = batch.column(0)
        start, n = 0, batch.num_rows
        while start < n:
            if row == sheet_rows:
                close_sheet(ws, row)
                ws = new_sheet()
                row = 0
            end = min(n, start + sheet_rows - row)
            ws.row_data_fh.write("".join(xml.slice(start, end - start).to_pylist()))
            row += end - start
            start = end
        written += n
    close_sheet(ws, row)
    return written
