"""Bulk posting of charge documents: many documents, lines and open items in a few statements.

The per-account actions of ``actions.py`` cost about ten queries each; a billing run posts
millions of documents. This module posts a whole batch (a route of bills) with the same
rules and without ORM objects:

- ids are numbered in advance (:func:`reserve_many`: from ``MAX(id)`` under SQLite's
  write lock, from the tables' sequences on PostgreSQL), so lines, open items and
  clearings can point at documents and items before they are written;
- every line becomes one open item, side ``D`` for a positive amount and ``C`` for a
  negative one, ``issue_date`` = the document's posting date, and the document's amount is
  the sum of its lines, computed here (a document always balances);
- open credits of the accounts are applied to their open unblocked debits, new ones
  included, with the same rules and dates as ``actions.apply_credits`` (``rules.settle``,
  oldest due first; a clearing is dated the posting date but never before the issue date
  of either item). New items are inserted with their final open amount, so only the old
  credit items that were used (and old debits they paid) are updated;
- rows are written with multi-row ``INSERT`` statements on the DB-API cursor (SQLite) or
  ``COPY`` (PostgreSQL): :func:`insert_columns` for column lists, ``bulk_insert`` for
  Polars frames.

The caller runs everything inside one transaction (``transaction.atomic``), locks the
batch's accounts first (:func:`lock_accounts`, PostgreSQL; what every ledger action does)
and writes its own audit record: a batch is one run chunk, not one action per account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from typing import Any

import polars as pl
from django.db import connection

from caudal.cadastre.imports import (
    bulk_insert,
    is_postgresql,
    keys_condition,
    keys_param,
    lock_tables,
    reserve_ids,
)

from . import rules

DOCUMENT = "ledger_document"
LINE = "ledger_documentline"
ITEM = "ledger_openitem"
CLEARING = "ledger_clearing"
POSTING_TABLES = (DOCUMENT, LINE, ITEM)

#: Columns of the ``docs`` frame given to :func:`post`.
DOC_COLUMNS = ("key", "account_id", "kind", "reference", "document_date", "posting_date")
#: Columns of the ``lines`` frame given to :func:`post`.
LINE_COLUMNS = ("key", "line_no", "concept", "amount", "description", "due_date")


def ids_condition(column: str) -> str:
    """SQL condition ``column IN <one parameter holding many integer ids>``; on
    PostgreSQL the array is cast to ``bigint[]`` so the column's index is used (a literal
    array of small numbers would otherwise be typed ``smallint[]``)."""
    if is_postgresql():
        return f"{column} = ANY(CAST(%s AS bigint[]))"
    return keys_condition(column)


def lock_for_posting(cursor: Any, extra_tables: Sequence[str] = ()) -> None:
    """PostgreSQL: ``LOCK TABLE`` the ledger tables (and ``extra_tables``) in SHARE ROW
    EXCLUSIVE mode until commit, for a writer that numbers rows from ``MAX(id)``
    (:func:`reserve` with ``contiguous=True``). Take the account row locks
    (:func:`lock_accounts`) first, as every ledger action does, so that no deadlock can
    form. SQLite: nothing to do, the IMMEDIATE transaction already holds the database's
    write lock. The billing run does not need it: it locks its accounts and numbers rows
    from the tables' sequences."""
    lock_tables(cursor, [*POSTING_TABLES, CLEARING, *extra_tables])


def lock_accounts(cursor: Any, account_ids: Sequence[int]) -> None:
    """PostgreSQL: lock the cadastre account rows, in id order (the first lock of every
    ledger writer), so that no ledger action changes their open items until commit.
    SQLite: nothing (``select_for_update`` is a no-op there too)."""
    if is_postgresql() and account_ids:
        cursor.execute(
            "SELECT id FROM cadastre_account WHERE "
            + ids_condition("id")
            + " ORDER BY id FOR UPDATE",
            [keys_param(sorted(account_ids))],
        )
        cursor.fetchall()


def reserve(cursor: Any, table: str, count: int, *, dry_run: bool = False) -> int:
    """First of ``count`` consecutive new ids of ``table``, under the caller's write lock
    (SQLite's IMMEDIATE transaction, or :func:`lock_for_posting` on PostgreSQL).
    ``dry_run``: the ids a write would get, reserving nothing (a simulation)."""
    return reserve_ids(cursor, table, count, dry_run=dry_run)


_SEQUENCES: dict[str, str] = {}


def reserve_many(cursor: Any, table: str, count: int, *, dry_run: bool = False) -> Sequence[int]:
    """``count`` new ids of ``table``, increasing, for rows inserted in this transaction.

    SQLite: a range from ``MAX(id) + 1`` (the IMMEDIATE transaction holds the write lock).
    PostgreSQL: values drawn from the table's identity sequence, which needs no table lock
    (concurrent writers keep inserting; the ids may have gaps). ``dry_run``: the ids a
    write would get, drawing nothing."""
    if count <= 0:
        return range(0)
    if not is_postgresql() or dry_run:
        start = reserve_ids(cursor, table, count, dry_run=dry_run)
        return range(start, start + count)
    seq = _SEQUENCES.get(table)
    if seq is None:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        seq = _SEQUENCES[table] = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [seq, count])
    return sorted(row[0] for row in cursor.fetchall())


# --- open items of the accounts of a batch ---------------------------------------------


@dataclass
class OpenBook:
    """The open items of some accounts, as ``rules.Item`` values, plus their amounts."""

    items: dict[int, list[rules.Item]] = field(default_factory=dict)
    amounts: dict[int, int] = field(default_factory=dict)  # item id → amount
    documents: dict[int, int] = field(default_factory=dict)  # item id → document id


def credit_accounts(cursor: Any, account_ids: Sequence[int]) -> list[int]:
    """The accounts among ``account_ids`` that have an open credit item."""
    if not account_ids:
        return []
    cursor.execute(
        "SELECT DISTINCT account_id FROM ledger_openitem WHERE open_amount > 0 AND side = 'C' "
        "AND " + ids_condition("account_id"),
        [keys_param(list(account_ids))],
    )
    return sorted(row[0] for row in cursor.fetchall())


def load_open_items(cursor: Any, account_ids: Sequence[int]) -> OpenBook:
    """Every open item of ``account_ids`` (one query)."""
    book = OpenBook()
    if not account_ids:
        return book
    cursor.execute(
        "SELECT id, account_id, side, open_amount, amount, due_date, issue_date, concept, "
        "blocked, document_id FROM ledger_openitem WHERE open_amount > 0 AND "
        + ids_condition("account_id")
        + " ORDER BY id",
        [keys_param(list(account_ids))],
    )
    for row in cursor.fetchall():
        item_id, account_id, side, open_amount, amount, due, issue, concept, blocked, doc = row
        book.items.setdefault(account_id, []).append(
            rules.Item(
                id=item_id,
                side=side,
                open_amount=open_amount,
                due_date=_as_date(due),
                issue_date=_as_date(issue),
                concept=concept,
                blocked=bool(blocked),
            )
        )
        book.amounts[item_id] = amount
        book.documents[item_id] = doc
    return book


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- settling credits ------------------------------------------------------------------


@dataclass
class Settlement:
    """What applying the credits of a batch does."""

    clearings: list[tuple[int, int, int, int, date, int | None]] = field(default_factory=list)
    # (account_id, debit_item_id, credit_item_id, amount, cleared_on, document_id)
    open_amounts: dict[int, tuple[int, date | None]] = field(default_factory=dict)
    # item id → (open amount, cleared_on) for every item whose open amount changed
    applied: dict[int, int] = field(default_factory=dict)  # account → amount applied


def settle(
    book: OpenBook,
    new_items: dict[int, list[rules.Item]],
    *,
    on: date,
    document_of: dict[int, int | None],
) -> Settlement:
    """Apply each account's open credits to its open unblocked debits, old and new.

    ``book`` has the open items already in the ledger; ``new_items`` the items about to be
    inserted (with their reserved ids); ``document_of`` the document that triggers the
    clearings of each account (the new bill). Same matching as ``actions._Book.settle``.
    """
    out = Settlement()
    for account_id in sorted(set(book.items) | set(new_items)):
        items = [*book.items.get(account_id, ()), *new_items.get(account_id, ())]
        if not any(i.side == rules.CREDIT and i.open_amount > 0 for i in items):
            continue
        by_id = {i.id: i for i in items}
        left = {i.id: i.open_amount for i in items}
        cleared: dict[int, date] = {}
        applied = 0
        for m in rules.settle(items):
            debit, credit = by_id[m.debit_id], by_id[m.credit_id]
            when = max(on, debit.issue_date, credit.issue_date)
            for item_id in (m.debit_id, m.credit_id):
                left[item_id] -= m.amount
                if left[item_id] == 0:
                    cleared[item_id] = when
            out.clearings.append(
                (account_id, m.debit_id, m.credit_id, m.amount, when, document_of.get(account_id))
            )
            applied += m.amount
        if applied:
            out.applied[account_id] = applied
            for item_id, amount in left.items():
                if amount != by_id[item_id].open_amount:
                    out.open_amounts[item_id] = (amount, cleared.get(item_id))
    return out


# --- writing ---------------------------------------------------------------------------


@dataclass
class Posted:
    """Ids given to a posted batch."""

    documents: pl.DataFrame  # key, document_id, account_id, amount
    lines: pl.DataFrame  # key, line_no, line_id, item_id, account_id, side, amount (abs)


def number(
    cursor: Any, docs: pl.DataFrame, lines: pl.DataFrame, *, dry_run: bool = False
) -> Posted:
    """Reserve ids for the documents (in ``docs`` order) and their lines (by key, line_no)
    and the lines' open items. Nothing is written yet (nor reserved, with ``dry_run``)."""
    doc_ids = reserve_many(cursor, DOCUMENT, docs.height, dry_run=dry_run)
    line_ids = reserve_many(cursor, LINE, lines.height, dry_run=dry_run)
    item_ids = reserve_many(cursor, ITEM, lines.height, dry_run=dry_run)
    documents = docs.select("key", "account_id").with_columns(
        pl.Series("document_id", list(doc_ids), dtype=pl.Int64)
    )
    numbered = (
        lines.join(documents, on="key", how="inner")
        .sort(["document_id", "line_no"])
        .with_columns(
            pl.Series("line_id", list(line_ids), dtype=pl.Int64),
            pl.Series("item_id", list(item_ids), dtype=pl.Int64),
            pl.when(pl.col("amount") > 0)
            .then(pl.lit(rules.DEBIT))
            .otherwise(pl.lit(rules.CREDIT))
            .alias("side"),
        )
    )
    if numbered.height != lines.height:
        raise ValueError("every line needs a document with the same key")
    totals = numbered.group_by("document_id").agg(pl.col("amount").sum().alias("amount"))
    documents = documents.join(totals, on="document_id", how="left")
    return Posted(documents=documents, lines=numbered)


def new_items(posted: Posted, docs: pl.DataFrame) -> dict[int, list[rules.Item]]:
    """The open items the batch creates, as ``rules.Item`` values by account."""
    frame = posted.lines.join(docs.select("key", "posting_date"), on="key", how="left").select(
        "item_id", "account_id", "side", "amount", "due_date", "posting_date", "concept"
    )
    out: dict[int, list[rules.Item]] = defaultdict(list)
    for item_id, account_id, side, amount, due, posting, concept in frame.iter_rows():
        out[account_id].append(
            rules.Item(
                id=item_id,
                side=side,
                open_amount=abs(amount),
                due_date=_as_date(due),
                issue_date=_as_date(posting),
                concept=concept,
            )
        )
    return out


def _iso(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String)


def write(
    cursor: Any,
    docs: pl.DataFrame,
    posted: Posted,
    *,
    settlement: Settlement | None = None,
    created_by_id: int | None,
    created_at: Any,
    reason: str = "",
    source: str = "",
) -> None:
    """Insert the numbered documents, lines and open items, then the clearings of
    ``settlement`` and the open amounts it changed on items already in the ledger."""
    settlement = settlement or Settlement()
    doc_rows = posted.documents.join(
        docs.select("key", "kind", "reference", "document_date", "posting_date"),
        on="key",
        how="left",
    ).sort("document_id")
    bulk_insert(
        cursor,
        DOCUMENT,
        doc_rows.select(
            pl.col("document_id").alias("id"),
            "account_id",
            "kind",
            "reference",
            _iso("document_date").alias("document_date"),
            _iso("posting_date").alias("posting_date"),
            "amount",
            pl.lit(reason[:250]).alias("reason"),
            pl.lit(source[:64]).alias("source"),
            pl.lit(created_by_id, dtype=pl.Int64).alias("created_by_id"),
            pl.lit(created_at).alias("created_at"),
        ),
    )
    lines = posted.lines
    bulk_insert(
        cursor,
        LINE,
        lines.select(
            pl.col("line_id").alias("id"),
            "document_id",
            "line_no",
            "concept",
            "amount",
            pl.col("description").fill_null("").str.slice(0, 200).alias("description"),
        ),
    )
    new_ids = set(lines["item_id"].to_list()) if settlement.open_amounts else set()
    changed_new = {k: v for k, v in settlement.open_amounts.items() if k in new_ids}
    items = lines.join(docs.select("key", "posting_date"), on="key", how="left").with_columns(
        pl.col("amount").abs().alias("abs_amount")
    )
    if changed_new:
        state = pl.DataFrame(
            {
                "item_id": list(changed_new),
                "__open": [v[0] for v in changed_new.values()],
                "__cleared": [v[1] for v in changed_new.values()],
            },
            schema={"item_id": pl.Int64, "__open": pl.Int64, "__cleared": pl.Date},
        )
        items = items.join(state, on="item_id", how="left")
    else:
        items = items.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("__open"),
            pl.lit(None, dtype=pl.Date).alias("__cleared"),
        )
    bulk_insert(
        cursor,
        ITEM,
        items.select(
            pl.col("item_id").alias("id"),
            "account_id",
            "document_id",
            "line_id",
            "concept",
            "side",
            _iso("posting_date").alias("issue_date"),
            _iso("due_date").alias("due_date"),
            pl.col("abs_amount").alias("amount"),
            pl.coalesce(pl.col("__open"), pl.col("abs_amount")).alias("open_amount"),
            pl.col("__cleared").cast(pl.String).alias("cleared_on"),
            pl.lit(False).alias("blocked"),
            pl.lit("").alias("block_reason"),
        ),
    )
    write_settlement(cursor, settlement, skip=new_ids, created_at=created_at)


#: Bound parameters per multi-row SQLite INSERT (SQLite 3.32+ allows 32,766).
SQLITE_PARAMS = 4000


def insert_columns(cursor: Any, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
    """Insert rows given column-wise as Python lists of equal length (ids included).

    SQLite: multi-row ``INSERT ... VALUES (...), (...)`` statements run by
    ``executemany``; the rows are cut from the columns with ``zip`` (in C), no Python loop
    per row. PostgreSQL: a Polars frame written with ``COPY`` (``bulk_insert``).
    """
    names = list(columns)
    values = [columns[name] for name in names]
    n = len(values[0]) if values else 0
    if n == 0:
        return
    if is_postgresql():
        bulk_insert(
            cursor, table, pl.DataFrame(dict(zip(names, values, strict=True)), strict=False)
        )
        return
    width = len(names)
    per = max(1, min(n, SQLITE_PARAMS // width))
    column_list = ", ".join(names)
    one = "(" + ", ".join(["?"] * width) + ")"
    full = n // per * per
    # The DB-API cursor of the same connection (same transaction): SQL with ``?`` marks,
    # without Django's per-statement rewriting of ``%s``.
    raw = connection.connection.cursor()
    try:
        if full:
            sql = f"INSERT INTO {table} ({column_list}) VALUES " + ", ".join([one] * per)
            heads = values if full == n else [v[:full] for v in values]
            flat = chain.from_iterable(zip(*heads, strict=True))
            raw.executemany(sql, zip(*[flat] * (per * width), strict=True))
        if full < n:
            rest = n - full
            sql = f"INSERT INTO {table} ({column_list}) VALUES " + ", ".join([one] * rest)
            raw.execute(
                sql, list(chain.from_iterable(zip(*(v[full:] for v in values), strict=True)))
            )
    finally:
        raw.close()


def write_settlement(
    cursor: Any, settlement: Settlement, *, skip: Iterable[int] = (), created_at: Any
) -> None:
    """Insert the clearings and update the open amounts of the items not in ``skip`` (the
    new items, inserted with their final open amount)."""
    if settlement.clearings:
        rows = settlement.clearings
        insert_columns(
            cursor,
            CLEARING,
            {
                "account_id": [r[0] for r in rows],
                "debit_item_id": [r[1] for r in rows],
                "credit_item_id": [r[2] for r in rows],
                "amount": [r[3] for r in rows],
                "cleared_on": [r[4].isoformat() for r in rows],
                "document_id": [r[5] for r in rows],
                "resets_id": [None] * len(rows),
                "created_at": [created_at] * len(rows),
            },
        )
    if not settlement.open_amounts:
        return
    skipped = skip if isinstance(skip, (range, set, frozenset)) else set(skip)
    updates = [
        (amount, cleared.isoformat() if cleared else None, item_id)
        for item_id, (amount, cleared) in sorted(settlement.open_amounts.items())
        if item_id not in skipped
    ]
    if updates:
        cursor.executemany(
            "UPDATE ledger_openitem SET open_amount = %s, cleared_on = %s WHERE id = %s",
            updates,
        )


def post(
    cursor: Any,
    docs: pl.DataFrame,
    lines: pl.DataFrame,
    *,
    apply_credits: bool = True,
    created_by_id: int | None,
    created_at: Any,
    reason: str = "",
    source: str = "",
) -> tuple[Posted, Settlement]:
    """Number, settle and write a batch of documents (see the module docstring).

    ``docs``: :data:`DOC_COLUMNS` (``key`` unique Int64; dates as ``pl.Date``);
    ``lines``: :data:`LINE_COLUMNS` (signed non-zero amounts). With ``apply_credits``, the
    open credits of the batch's accounts are applied (one query finds the accounts that
    have one, one more loads their open items).
    """
    posted = number(cursor, docs, lines)
    settlement = Settlement()
    if apply_credits and posted.documents.height:
        accounts = posted.documents["account_id"].unique().to_list()
        fresh = new_items(posted, docs)
        with_credit = set(credit_accounts(cursor, accounts))
        with_credit |= {a for a, items in fresh.items() if any(i.side == "C" for i in items)}
        if with_credit:
            book = load_open_items(cursor, sorted(with_credit))
            doc_of = dict(
                posted.documents.select("account_id", "document_id")
                .unique("account_id")
                .iter_rows()
            )
            settlement = settle(
                book,
                {a: fresh[a] for a in with_credit if a in fresh},
                on=_first_posting(docs),
                document_of=doc_of,
            )
    write(
        cursor,
        docs,
        posted,
        settlement=settlement,
        created_by_id=created_by_id,
        created_at=created_at,
        reason=reason,
        source=source,
    )
    return posted, settlement


def _first_posting(docs: pl.DataFrame) -> date:
    dates = docs["posting_date"].unique()
    if dates.len() != 1:
        raise ValueError("a batch posts on one posting date")
    return _as_date(dates[0])
