"""The raw engine floor of the write benchmarks.

A write benchmark (billing run, payment file import) is compared with the database doing
the same writes in the plainest way: every row the run added is read back and inserted
again with one-row ``executemany`` on the DB-API cursor, ids and unique keys shifted, in a
transaction that is rolled back. Only the ``executemany`` calls are timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connection, transaction

#: table → (text columns with unique values, {foreign key column: parent table}).
FloorTables = Mapping[str, tuple[tuple[str, ...], Mapping[str, str]]]
#: Adjusts one row (a list, in the table's column order) before it is inserted again:
#: ``fix(table, row, positions)``.
RowFix = Callable[[str, list[Any], dict[str, int]], None]

CHUNK = 100_000


def max_id(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    return int(cursor.fetchone()[0])


def reinsert(
    tables: FloorTables,
    since: Mapping[str, int],
    *,
    prefix: str,
    widths: Mapping[str, int] | None = None,
    fix: RowFix | None = None,
) -> tuple[int, float]:
    """Insert again every row of ``tables`` with an id above ``since[table]`` (see the
    module docstring). Unique text columns get ``prefix`` and are cut to their width (64
    unless ``widths`` says otherwise). Returns (rows, seconds of the ``executemany``)."""
    timed = 0.0
    total = 0
    width = dict(widths or {})
    mark = "?" if connection.vendor == "sqlite" else "%s"
    with transaction.atomic():
        raw = connection.connection.cursor()
        top = {t: max_id(connection.cursor(), t) for t in tables}
        shift = {t: top[t] - since[t] for t in tables}
        for table, (unique_text, foreign) in tables.items():
            raw.execute(f"SELECT * FROM {table} WHERE 1 = 0")
            columns = [d[0] for d in raw.description]
            pos = {c: i for i, c in enumerate(columns)}
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join([mark] * len(columns))})"
            )
            start, end = since[table], top[table]
            while start < end:
                stop = min(start + CHUNK, end)
                read = connection.connection.cursor()
                read.execute(
                    f"SELECT * FROM {table} WHERE id > {mark} AND id <= {mark} ORDER BY id",
                    [start, stop],
                )
                rows = [list(r) for r in read.fetchall()]
                read.close()
                for row in rows:
                    row[pos["id"]] += shift[table]
                    for col in unique_text:
                        row[pos[col]] = f"{prefix}{row[pos[col]]}"[: width.get(col, 64)]
                    for col, parent in foreign.items():
                        if row[pos[col]] is not None:
                            row[pos[col]] += shift[parent]
                    if fix is not None:
                        fix(table, row, pos)
                t0 = time.perf_counter()
                raw.executemany(sql, rows)
                timed += time.perf_counter() - t0
                total += len(rows)
                start = stop
        raw.close()
        transaction.set_rollback(True)
    return total, timed
