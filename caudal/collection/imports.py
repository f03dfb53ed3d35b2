"""Bank payment files: ``caudal import-payments FILE --format F --centre CODE``.

A bank (or a collection centre) sends what it collected as a file: Asobancaria 2001,
ISO 20022 camt.054 or a plain CSV (``caudal.collection.formats``). This module posts such a
file to the ledger, all or nothing, exactly once (``docs/payments-import.md``):

1. **Once.** A file whose SHA-256 is already in :class:`PaymentFile` posts nothing and says
   when it was imported (not an error). Records colliding on (centre, external reference,
   payment date) with payments posted from *another* file are refused, per line.
2. **Parse** with :func:`caudal.collection.formats.parse`: structure and control-total
   errors come back as :class:`LineError` values (line, field, message).
3. **Resolve** every reference at once: an account number, or a bill's payment reference,
   with or without leading zeros (the same order as ``actions.resolve``: account, bill,
   account without zeros, bill without zeros). One query per table, joined in Polars.
   An unknown reference is an error on field ``reference``. Any error: nothing is posted.
4. **Amount rule.** A bank file reports money already collected: it is never refused for
   its amount. Payments are applied with the centre rule ``any`` whatever the centre's own
   rule: the ledger pays open unblocked debits oldest due first and the excess stays as a
   credit (saldo a favor). Blocked (disputed) items are never paid by a file.
5. **Post** set-based with :mod:`caudal.ledger.bulk`: one payment document per record (one
   negative line, concept ``payment``, reference ``F<file id>-L<line>``, source
   ``file:<sha8>``), one batch per posting date and per :data:`CHUNK` records, all inside
   ONE transaction for the whole file. Each batch is numbered with ``bulk.number``, settled
   against the accounts' open items with :func:`settle_frame` (``bulk.settle``'s matching,
   computed column-wise: a Python loop per account cost more than all the writes) and
   written with ``bulk.write`` plus the clearings and the old items' new open amounts.
   Then the :class:`Payment` rows (file, line, document,
   centre, point, method, external reference), the :class:`ReconnectionDue` notes for cut
   accounts that no longer owe overdue debt, one audit event and the ``Run`` counts
   (decision 0002: one audit event per import).

The file is one transaction: if anything fails (a crash, a constraint), nothing of it is
in the ledger and importing it again starts from zero. There is no resumable chunking: a
million records post in under a minute on two cores (``caudal bench payments-file``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, finish_run, record, start_run
from caudal.audit.models import Run, RunStatus
from caudal.cadastre.imports import (
    bulk_insert,
    bulk_session,
    db_datetime,
    fetch_frame,
    is_postgresql,
    keys_condition,
    keys_param,
    lock_tables,
    table_is_empty,
)
from caudal.ledger import bulk

from . import formats
from .formats import FileFormatError, LineError
from .models import Centre, FileFormat, PaymentFile, PaymentStatus

#: Records posted per batch (bounds memory and the size of each statement).
CHUNK = 50_000
#: Keys sent per look-up query (bounded parameter size).
LOOKUP_CHUNK = 200_000
#: Errors kept in a result (the count of all of them is ``error_count``).
MAX_ERRORS = formats.MAX_ERRORS
#: Longest bill payment reference (``Bill.payment_reference``).
BILL_REFERENCE_LENGTH = 25


class ImportRefused(Exception):
    """The import cannot start (unknown or inactive centre, unknown format, unreadable
    file): a usage error, not an error of the file's contents."""


@dataclass
class PaymentImport:
    """What an import did (or, with ``dry_run``, would do)."""

    file_name: str
    sha256: str
    format: str
    centre: str
    dry_run: bool = False
    committed: bool = False
    #: Set when the same file (same SHA-256) was imported before: nothing is posted.
    already_imported: bool = False
    file_id: int | None = None
    imported_at: datetime | None = None
    run_id: int | None = None
    file_date: date | None = None
    collector: str = ""
    records: int = 0
    total: int = 0
    posted: int = 0
    accounts: int = 0
    credit_left: int = 0
    reconnections: int = 0
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    #: The ``post`` stage by step (number, read, settle, documents, clearings, items,
    #: payments, reconnections), for profiling.
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_errors(self, errors: list[LineError], total: int | None = None) -> None:
        self.errors = sorted([*self.errors, *errors])[:MAX_ERRORS]
        self.error_count += total if total is not None else len(errors)

    def counts(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "total": self.total,
            "posted": self.posted,
            "accounts": self.accounts,
            "credit_left": self.credit_left,
            "reconnections": self.reconnections,
            "error_count": self.error_count,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file_name,
            "sha256": self.sha256,
            "format": self.format,
            "centre": self.centre,
            "file_date": self.file_date.isoformat() if self.file_date else None,
            "collector": self.collector,
            **self.counts(),
            "dry_run": self.dry_run,
            "committed": self.committed,
            "already_imported": self.already_imported,
            "file_id": self.file_id,
            "imported_at": self.imported_at.isoformat() if self.imported_at else None,
            "run_id": self.run_id,
            "errors": [
                {"line": e.line, "field": e.field, "message": e.message} for e in self.errors
            ],
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "post_steps": {k: round(v, 3) for k, v in self.steps.items()},
        }


class _Rollback(Exception):
    """Undo the import's transaction (dry run, or errors found inside it)."""


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


# --- resolving references --------------------------------------------------------------


def _table_size(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT MAX(id) FROM {table}")
    return int(cursor.fetchone()[0] or 0)


def _lookup(
    cursor: Any, sql: str, column: str, keys: list[str], schema: dict[str, Any], table: str
) -> pl.DataFrame:
    """Rows of ``sql`` whose ``column`` is one of ``keys``: the whole table in one query when
    the keys are many against its size, else by key chunks (an index look-up per key)."""
    if not keys or table_is_empty(cursor, table):
        return pl.DataFrame(schema=schema)
    if len(keys) * 2 > _table_size(cursor, table):
        return fetch_frame(cursor, sql, [], schema)
    where = " WHERE " + keys_condition(column)
    parts = [
        fetch_frame(cursor, sql + where, [keys_param(keys[i : i + LOOKUP_CHUNK])], schema)
        for i in range(0, len(keys), LOOKUP_CHUNK)
    ]
    return pl.concat(parts)


def resolve_references(cursor: Any, references: pl.Series) -> pl.DataFrame:
    """Map distinct references to accounts: ``reference, account_id, bill_reference``
    (``account_id`` null when unknown; ``bill_reference`` set when a bill's payment
    reference matched). Same precedence as :func:`caudal.collection.actions.resolve`: the
    account number as written, a bill's reference as written, then both without leading
    zeros (references of digits only)."""
    refs = (
        pl.DataFrame({"reference": references.cast(pl.String)})
        .unique()
        .with_columns(pl.col("reference").str.strip_chars().alias("raw"))
        .with_columns(
            pl.when(pl.col("raw").str.contains(r"^[0-9]+$"))
            .then(pl.col("raw").str.strip_chars_start("0"))
            .otherwise(None)
            .alias("stripped")
        )
    )
    keys = pl.concat([refs["raw"], refs["stripped"]]).drop_nulls().unique()
    keys = keys.filter(keys.str.len_chars() > 0)
    accounts = _lookup(
        cursor,
        "SELECT number, id FROM cadastre_account",
        "number",
        keys.to_list(),
        {"number": pl.String, "account_id": pl.Int64},
        "cadastre_account",
    )
    # Bills only for references that are not an account number as written.
    open_refs = refs.join(accounts, left_on="raw", right_on="number", how="anti")
    bill_keys = pl.concat([open_refs["raw"], open_refs["stripped"]]).drop_nulls().unique()
    bill_keys = bill_keys.filter(
        (bill_keys.str.len_chars() > 0) & (bill_keys.str.len_chars() <= BILL_REFERENCE_LENGTH)
    )
    bills = _lookup(
        cursor,
        "SELECT payment_reference, account_id, version, id FROM billing_bill",
        "payment_reference",
        bill_keys.to_list(),
        {
            "payment_reference": pl.String,
            "bill_account_id": pl.Int64,
            "version": pl.Int64,
            "bill_id": pl.Int64,
        },
        "billing_bill",
    )
    if bills.height:
        bills = bills.sort(["version", "bill_id"], descending=True).unique(
            "payment_reference", keep="first"
        )
    acc = accounts.select("number", "account_id")
    bil = bills.select("payment_reference", "bill_account_id")
    out = (
        refs.join(acc.rename({"account_id": "a_raw"}), left_on="raw", right_on="number", how="left")
        .join(
            bil.rename({"bill_account_id": "b_raw"}),
            left_on="raw",
            right_on="payment_reference",
            how="left",
        )
        .join(
            acc.rename({"account_id": "a_stripped", "number": "n2"}),
            left_on="stripped",
            right_on="n2",
            how="left",
        )
        .join(
            bil.rename({"bill_account_id": "b_stripped", "payment_reference": "p2"}),
            left_on="stripped",
            right_on="p2",
            how="left",
        )
    )
    return out.select(
        "reference",
        pl.coalesce("a_raw", "b_raw", "a_stripped", "b_stripped").alias("account_id"),
        pl.when(pl.col("a_raw").is_not_null())
        .then(pl.lit(""))
        .when(pl.col("b_raw").is_not_null())
        .then(pl.col("raw"))
        .when(pl.col("a_stripped").is_not_null())
        .then(pl.lit(""))
        .when(pl.col("b_stripped").is_not_null())
        .then(pl.col("stripped"))
        .otherwise(pl.lit(""))
        .alias("bill_reference"),
    )


def _frame_errors(frame: pl.DataFrame, field_name: str, message: pl.Expr) -> list[LineError]:
    rows = frame.sort("line").head(MAX_ERRORS).select("line", message.alias("m"))
    return [LineError(int(line), field_name, str(m)) for line, m in rows.iter_rows()]


def _unknown_reference_message() -> pl.Expr:
    template = _("No existe un suministro ni un recibo con la referencia %(ref)s.")
    head, _sep, tail = template.partition("%(ref)s")
    return pl.concat_str(pl.lit(head), pl.col("reference").fill_null(""), pl.lit(tail))


def _collisions(cursor: Any, centre: Centre, records: pl.DataFrame) -> pl.DataFrame:
    """Records whose (external reference, payment date) a payment posted from another
    file of the same centre already carries: ``line, external_reference, paid_on,
    other_file, other_line``."""
    empty = pl.DataFrame(
        schema={
            "line": pl.Int64,
            "external_reference": pl.String,
            "paid_on": pl.Date,
            "other_file": pl.Int64,
            "other_line": pl.Int64,
        }
    )
    keyed = records.filter(pl.col("external_reference").fill_null("") != "")
    if keyed.height == 0 or table_is_empty(cursor, "collection_payment"):
        return empty
    days = keyed["paid_on"].unique().sort().to_list()
    stored = fetch_frame(
        cursor,
        "SELECT external_reference, CAST(payment_date AS TEXT), payment_file_id, file_line "
        "FROM collection_payment WHERE centre_id = %s AND status = %s "
        "AND payment_file_id IS NOT NULL AND external_reference <> '' AND "
        + _dates_condition("payment_date"),
        [centre.pk, PaymentStatus.POSTED, keys_param([d.isoformat() for d in days])],
        {
            "external_reference": pl.String,
            "paid_on": pl.String,
            "other_file": pl.Int64,
            "other_line": pl.Int64,
        },
    )
    if stored.height == 0:
        return empty
    stored = stored.with_columns(pl.col("paid_on").str.slice(0, 10).str.to_date())
    return (
        keyed.select("line", "external_reference", "paid_on")
        .join(stored, on=["external_reference", "paid_on"], how="inner")
        .unique("line", keep="first")
        .sort("line")
    )


def _dates_condition(column: str) -> str:
    """``column IN <one parameter holding many ISO dates>``."""
    if is_postgresql():
        return f"{column} = ANY(CAST(%s AS date[]))"
    return keys_condition(column)


def _collision_errors(found: pl.DataFrame) -> list[LineError]:
    out = []
    for line, ext, day, other_file, other_line in found.head(MAX_ERRORS).iter_rows():
        out.append(
            LineError(
                int(line),
                "external_reference",
                _(
                    "El pago %(ext)s del %(day)s ya se aplicó desde el archivo %(file)s "
                    "(línea %(other)s): el archivo no se importa."
                )
                % {"ext": ext, "day": day.isoformat(), "file": other_file, "other": other_line},
            )
        )
    return out


def _points(centre: Centre, records: pl.DataFrame) -> pl.Expr:
    """``point_id`` of each record's point code among the centre's points (null when the
    code is empty or unknown; ``0012`` matches a point coded ``12``)."""
    codes = dict(centre.points.values_list("code", "pk"))
    if not codes:
        return pl.lit(None, dtype=pl.Int64)
    mapping: dict[str, int] = {}
    for code, pk in codes.items():
        mapping.setdefault(code.lstrip("0") or "0", pk)
    for code, pk in codes.items():
        mapping[code] = pk
    col = pl.col("point").fill_null("")
    return (
        pl.when(col.is_in(list(codes)))
        .then(col)
        .otherwise(col.str.strip_chars_start("0"))
        .replace_strict(mapping, default=None, return_dtype=pl.Int64)
    )


# --- posting ---------------------------------------------------------------------------


def _external_references(parsed: formats.ParsedFile) -> pl.Expr:
    """The external reference stored for each record. Asobancaria's batch-sequence starts
    again in every file, so it is prefixed with the header's file modifier (``A``, ``B``…
    for the bank's first, second… file of a day): ``A-0001-0000002``."""
    ext = pl.col("external_reference").fill_null("")
    modifier = (parsed.header or {}).get("modificador_archivo", "").strip()
    if parsed.format == FileFormat.ASOBANCARIA_2001 and modifier:
        ext = pl.when(ext != "").then(pl.lit(modifier + "-") + ext).otherwise(ext)
    return ext.str.slice(0, 64)


@dataclass
class _Posting:
    """Ids and figures gathered while posting the batches."""

    documents: list[pl.DataFrame] = field(default_factory=list)  # key, document_id
    new_items: list[pl.Series] = field(default_factory=list)  # the payments' credit items
    clearings: list[pl.DataFrame] = field(default_factory=list)  # credit_item_id, amount
    timings: dict[str, float] = field(default_factory=dict)  # seconds by step

    def credit_left(self, total: int) -> int:
        """What the payments left as credit: their total minus what cleared them."""
        if not self.clearings:
            return total
        new = pl.concat(self.new_items)
        used = pl.concat(self.clearings).filter(pl.col("credit_item_id").is_in(new.implode()))
        return total - int(used["amount"].sum())


# --- settling: the ledger's matching rule, column-wise ----------------------------------

ITEM_SCHEMA = {
    "id": pl.Int64,
    "account_id": pl.Int64,
    "side": pl.String,
    "open_amount": pl.Int64,
    "due_date": pl.Date,
    "issue_date": pl.Date,
}
CLEARING_SCHEMA = {
    "account_id": pl.Int64,
    "debit_item_id": pl.Int64,
    "credit_item_id": pl.Int64,
    "amount": pl.Int64,
    "cleared_on": pl.Date,
}
CHANGE_SCHEMA = {"id": pl.Int64, "open_amount": pl.Int64, "cleared_on": pl.Date}


def settle_frame(items: pl.DataFrame, *, on: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply each account's open credits to its open unblocked debits, oldest due first:
    the result of :func:`caudal.ledger.bulk.settle` (``rules.settle`` per account with the
    ``oldest_due`` policy), computed with Polars instead of a Python loop per account.

    ``items``: the open items (:data:`ITEM_SCHEMA`; blocked debits already left out).
    Credits are taken oldest first (issue date, id) and debits in (due date, issue date,
    id) order; laid end to end on one axis per account, credit *k* covers
    ``[C(k-1), C(k))`` and debit *j* ``[D(j-1), D(j))``, and the greedy matching of
    ``rules.match`` pairs them exactly where these intervals overlap, up to the smaller of
    the two totals. The cut points (every credit's and debit's end below that cap) split the
    axis into segments, each of one credit and one debit: one clearing each.

    Returns ``clearings`` (:data:`CLEARING_SCHEMA`, in the order ``bulk.settle`` lists
    them; dated ``on`` but never before either item's issue date) and ``changes``
    (:data:`CHANGE_SCHEMA`: the items whose open amount changed, ``cleared_on`` set when
    nothing is left open).
    """
    empty = pl.DataFrame(schema=CLEARING_SCHEMA), pl.DataFrame(schema=CHANGE_SCHEMA)
    items = items.filter(pl.col("open_amount") > 0)
    credits = items.filter(pl.col("side") == "C").sort("account_id", "issue_date", "id")
    debits = items.filter(pl.col("side") == "D").sort("account_id", "due_date", "issue_date", "id")
    if credits.height == 0 or debits.height == 0:
        return empty
    credits = _running_end(credits)
    debits = _running_end(debits)
    caps = (
        credits.group_by("account_id")
        .agg(pl.col("open_amount").sum().alias("c"))
        .join(
            debits.group_by("account_id").agg(pl.col("open_amount").sum().alias("d")),
            on="account_id",
        )
        .select("account_id", pl.min_horizontal("c", "d").alias("cap"))
        .sort("account_id")
        # Accounts one after the other on a single axis, so keys increase globally.
        .with_columns((pl.col("cap").cum_sum() - pl.col("cap")).alias("offset"))
    )
    if caps.height == 0:
        return empty

    def on_axis(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
        # Items that start at or beyond the cap get nothing; the one crossing it is cut.
        return (
            frame.join(caps, on="account_id")
            .filter(pl.col("end") - pl.col("open_amount") < pl.col("cap"))
            .select(
                (pl.col("offset") + pl.min_horizontal("end", "cap")).alias("key"),
                pl.col("id").alias(f"{prefix}_item_id"),
                pl.col("issue_date").alias(f"{prefix}_issue"),
            )
            .sort("key")
        )

    c_axis = on_axis(credits, "credit")
    d_axis = on_axis(debits, "debit")
    same_account = pl.col("account_id") == pl.col("account_id").shift(1)
    cuts = (
        pl.concat([c_axis.select("key"), d_axis.select("key")])
        .unique()
        .sort("key")
        .join_asof(
            caps.select(pl.col("offset").alias("key"), "account_id", "offset"),
            on="key",
            strategy="backward",
            allow_exact_matches=False,
        )
        .with_columns(
            (
                pl.col("key")
                - pl.when(same_account).then(pl.col("key").shift(1)).otherwise(pl.col("offset"))
            ).alias("amount")
        )
    )
    segments = cuts.join_asof(c_axis, on="key", strategy="forward").join_asof(
        d_axis, on="key", strategy="forward"
    )
    when = pl.max_horizontal(pl.lit(on), "debit_issue", "credit_issue")
    clearings = segments.select(
        "account_id",
        "debit_item_id",
        "credit_item_id",
        "amount",
        when.alias("cleared_on"),
    ).cast(CLEARING_SCHEMA)  # type: ignore[arg-type]
    taken = pl.concat(
        [
            clearings.select(pl.col("debit_item_id").alias("id"), "amount", "cleared_on"),
            clearings.select(pl.col("credit_item_id").alias("id"), "amount", "cleared_on"),
        ]
    )
    changes = (
        taken.group_by("id", maintain_order=True)
        .agg(pl.col("amount").sum().alias("taken"), pl.col("cleared_on").last())
        .join(items.select("id", "open_amount"), on="id")
        .select(
            "id",
            (pl.col("open_amount") - pl.col("taken")).alias("open_amount"),
            pl.when(pl.col("open_amount") == pl.col("taken"))
            .then(pl.col("cleared_on"))
            .otherwise(None)
            .alias("cleared_on"),
        )
        .sort("id")
        .cast(CHANGE_SCHEMA)  # type: ignore[arg-type]
    )
    return clearings, changes


def _running_end(frame: pl.DataFrame) -> pl.DataFrame:
    """``end``: the running total of ``open_amount`` within each account (``frame`` is
    sorted by account), without a window function: the global running total minus its
    value before the account's first row."""
    total = pl.col("open_amount").cum_sum()
    first = (pl.col("account_id") != pl.col("account_id").shift(1)).fill_null(True)
    base = pl.when(first).then(total - pl.col("open_amount")).otherwise(None).forward_fill()
    return frame.with_columns((total - base).alias("end"))


ITEM_COLUMNS = ("id", "account_id", "side", "open_amount", "due_date", "issue_date")
ITEM_WHERE = "open_amount > 0 AND (side = 'C' OR NOT blocked) AND "


def _open_items(cursor: Any, account_ids: list[int]) -> pl.DataFrame:
    """The open credits and open unblocked debits of ``account_ids`` (one query per
    :data:`LOOKUP_CHUNK` accounts).

    SQLite: the rows come back as one CSV text (``group_concat``) read by Polars: a Python
    tuple per row costs more than the query itself (every value is a number, a date or
    ``C``/``D``, so no value needs quoting). PostgreSQL: ``fetchall``, dates as text."""
    text_schema = {**ITEM_SCHEMA, "due_date": pl.String, "issue_date": pl.String}
    parts = []
    for i in range(0, len(account_ids), LOOKUP_CHUNK):
        keys = [keys_param(account_ids[i : i + LOOKUP_CHUNK])]
        where = " FROM ledger_openitem WHERE " + ITEM_WHERE + bulk.ids_condition("account_id")
        if is_postgresql():
            sql = (
                "SELECT id, account_id, side, open_amount, CAST(due_date AS TEXT), "
                "CAST(issue_date AS TEXT)" + where
            )
            parts.append(fetch_frame(cursor, sql, keys, text_schema))
            continue
        row = " || ',' || ".join(ITEM_COLUMNS)
        cursor.execute(f"SELECT CAST(group_concat({row}, char(10)) AS BLOB)" + where, keys)
        (blob,) = cursor.fetchone()
        if blob:
            parts.append(
                pl.read_csv(
                    bytes(blob),
                    has_header=False,
                    new_columns=list(ITEM_COLUMNS),
                    schema=text_schema,
                )
            )
    frame = pl.concat(parts) if parts else pl.DataFrame(schema=text_schema)
    return frame.with_columns(
        pl.col("due_date").str.slice(0, 10).str.to_date(),
        pl.col("issue_date").str.slice(0, 10).str.to_date(),
    )


#: Temporary table of the new open amounts of old items (SQLite).
UPDATE_STAGE = "caudal_payment_item_update"
#: Old items updated per ``UPDATE`` statement (SQLite).
UPDATE_SLICE = 10_000


def _update_items(cursor: Any, changes: pl.DataFrame) -> None:
    """Write the new open amounts (and ``cleared_on``) of items already in the ledger
    (``changes`` sorted by id) with ``UPDATE ... FROM``: from a staged temporary table on
    SQLite (faster than one ``UPDATE`` per item), from unnested arrays on PostgreSQL."""
    if changes.height == 0:
        return
    ids = changes["id"].to_list()
    amounts = changes["open_amount"].to_list()
    cleared = changes["cleared_on"].cast(pl.String).to_list()
    if is_postgresql():
        cursor.execute(
            "UPDATE ledger_openitem AS i SET open_amount = u.o, cleared_on = u.c FROM "
            "(SELECT unnest(CAST(%s AS bigint[])) AS id, unnest(CAST(%s AS bigint[])) AS o, "
            "unnest(CAST(%s AS date[])) AS c) AS u WHERE i.id = u.id",
            [ids, amounts, cleared],
        )
        return
    cursor.execute(f"DROP TABLE IF EXISTS temp.{UPDATE_STAGE}")
    cursor.execute(
        f"CREATE TEMP TABLE {UPDATE_STAGE} (id INTEGER PRIMARY KEY, open_amount, cleared_on)"
    )
    bulk.insert_columns(
        cursor, UPDATE_STAGE, {"id": ids, "open_amount": amounts, "cleared_on": cleared}
    )
    # Statements of UPDATE_SLICE rows: one statement over a whole chunk of a 1,000,000-record
    # file was measured about 20 % slower per row (probably SQLite's statement journal,
    # which keeps every page a statement changes in case it aborts).
    sql = (
        f"UPDATE ledger_openitem SET open_amount = u.open_amount, cleared_on = u.cleared_on "
        f"FROM {UPDATE_STAGE} AS u WHERE ledger_openitem.id = u.id AND u.id BETWEEN %s AND %s"
    )
    for start in range(0, len(ids), UPDATE_SLICE):
        cursor.execute(sql, [ids[start], ids[min(start + UPDATE_SLICE, len(ids)) - 1]])
    cursor.execute(f"DROP TABLE temp.{UPDATE_STAGE}")


def _insert_frame(cursor: Any, table: str, frame: pl.DataFrame) -> None:
    """Insert a frame with :func:`caudal.ledger.bulk.insert_columns` (multi-row statements
    of 4,000 parameters on the DB-API cursor on SQLite; ``COPY`` on PostgreSQL)."""
    bulk.insert_columns(cursor, table, {name: frame[name].to_list() for name in frame.columns})


def _post_batches(
    cursor: Any,
    rows: pl.DataFrame,
    *,
    file_id: int,
    file_name: str,
    source: str,
    user_id: int | None,
    now: Any,
) -> _Posting:
    """Post the records: per posting date (in date order, so a later date sees what the
    earlier ones paid) and per :data:`CHUNK` records, number the payment documents with
    ``bulk.number``, settle them against the accounts' open items with
    :func:`settle_frame`, write documents, lines and items (at their final open amounts)
    with ``bulk.write``, then the clearings and the open amounts of the old items."""
    out = _Posting()
    reason = (_("Pago del archivo %(file)s") % {"file": file_name})[:250]
    for (day,), group in rows.sort("paid_on", "line").group_by("paid_on", maintain_order=True):
        for offset in range(0, group.height, CHUNK):
            part = group.slice(offset, CHUNK)
            _post_chunk(
                cursor,
                part,
                day=day,
                out=out,
                file_id=file_id,
                file_name=file_name,
                reason=reason,
                source=source,
                user_id=user_id,
                now=now,
            )
    return out


def _post_chunk(
    cursor: Any,
    part: pl.DataFrame,
    *,
    day: date,
    out: _Posting,
    file_id: int,
    file_name: str,
    reason: str,
    source: str,
    user_id: int | None,
    now: Any,
) -> None:
    docs = part.select(
        pl.col("line").alias("key"),
        "account_id",
        pl.lit("payment").alias("kind"),
        pl.format("F{}-L{}", pl.lit(file_id), pl.col("line")).alias("reference"),
        pl.col("paid_on").alias("document_date"),
        pl.col("paid_on").alias("posting_date"),
    )
    lines = part.select(
        pl.col("line").alias("key"),
        pl.lit(1, dtype=pl.Int64).alias("line_no"),
        pl.lit("payment").alias("concept"),
        (-pl.col("amount")).alias("amount"),
        pl.format("{} L{}", pl.lit(file_name[:150]), pl.col("line")).alias("description"),
        pl.col("paid_on").alias("due_date"),
    )
    t = out.timings
    with _timed(t, "number"):
        posted = bulk.number(cursor, docs, lines)
        new_ids = posted.lines["item_id"]
        new = posted.lines.select(
            pl.col("item_id").alias("id"),
            "account_id",
            "side",
            (-pl.col("amount")).alias("open_amount"),
            pl.lit(day, dtype=pl.Date).alias("due_date"),
            pl.lit(day, dtype=pl.Date).alias("issue_date"),
        ).cast(ITEM_SCHEMA)  # type: ignore[arg-type]
    with _timed(t, "read"):
        old = _open_items(cursor, part["account_id"].unique().sort().to_list())
    with _timed(t, "settle"):
        clearings, changes = settle_frame(pl.concat([old, new]), on=day)
        is_new = pl.col("id").is_in(new_ids.implode())
        fresh = changes.filter(is_new)
        settlement = bulk.Settlement(
            open_amounts=dict(
                zip(
                    fresh["id"].to_list(),
                    zip(
                        fresh["open_amount"].to_list(),
                        fresh["cleared_on"].to_list(),
                        strict=True,
                    ),
                    strict=True,
                )
            )
        )
    with _timed(t, "documents"):
        # Documents, lines and the payments' items at their final open amounts.
        bulk.write(
            cursor,
            docs,
            posted,
            settlement=settlement,
            created_by_id=user_id,
            created_at=now,
            reason=reason,
            source=source,
        )
    with _timed(t, "clearings"):
        _insert_clearings(cursor, clearings, posted, now=now)
    with _timed(t, "items"):
        _update_items(cursor, changes.filter(~is_new))
    out.clearings.append(clearings.select("credit_item_id", "amount"))
    out.new_items.append(new_ids)
    out.documents.append(posted.documents.select("key", "document_id"))


def _insert_clearings(
    cursor: Any, clearings: pl.DataFrame, posted: bulk.Posted, *, now: Any
) -> None:
    """Insert the clearings of a batch. A clearing points at the payment whose credit it
    uses; an older credit used by the batch, at the account's first payment of it."""
    if clearings.height == 0:
        return
    item_doc = posted.lines.select(pl.col("item_id").alias("credit_item_id"), "document_id")
    first_doc = posted.documents.group_by("account_id").agg(
        pl.col("document_id").min().alias("first_doc")
    )
    _insert_frame(
        cursor,
        bulk.CLEARING,
        clearings.join(item_doc, on="credit_item_id", how="left", maintain_order="left")
        .join(first_doc, on="account_id", how="left", maintain_order="left")
        .select(
            "account_id",
            "debit_item_id",
            "credit_item_id",
            "amount",
            pl.col("cleared_on").cast(pl.String),
            pl.coalesce("document_id", "first_doc").alias("document_id"),
            pl.lit(now).alias("created_at"),
        ),
    )


def _reconnections(cursor: Any, payments: pl.DataFrame, *, now: Any, dry_run: bool) -> int:
    """Insert a :class:`ReconnectionDue` for each account of the file whose water
    connection is cut and that has no open unblocked debit due before its (last) payment
    date in the file, unless one is pending already (same rule as
    ``actions.note_reconnection``). ``payments``: id, account_id, document_id, paid_on,
    line."""
    last = (
        payments.sort("paid_on", "line")
        .group_by("account_id")
        .agg(pl.all().last())
        .select("account_id", "id", "document_id", "paid_on")
    )
    account_ids = last["account_id"].sort().to_list()
    cut = _cut_accounts(cursor, account_ids)
    if cut.height == 0:
        return 0
    candidates = last.join(cut, on="account_id", how="semi")
    ids = candidates["account_id"].to_list()
    overdue = fetch_frame(
        cursor,
        "SELECT account_id, CAST(MIN(due_date) AS TEXT) FROM ledger_openitem "
        "WHERE open_amount > 0 "
        "AND side = 'D' AND NOT blocked AND "
        + bulk.ids_condition("account_id")
        + " GROUP BY account_id",
        [keys_param(ids)],
        {"account_id": pl.Int64, "oldest_due": pl.String},
    ).with_columns(pl.col("oldest_due").str.slice(0, 10).str.to_date())
    pending = fetch_frame(
        cursor,
        "SELECT DISTINCT account_id FROM collection_reconnectiondue WHERE handled_at IS NULL "
        "AND " + bulk.ids_condition("account_id"),
        [keys_param(ids)],
        {"account_id": pl.Int64},
    )
    due = (
        candidates.join(overdue, on="account_id", how="left")
        .filter(pl.col("oldest_due").is_null() | (pl.col("oldest_due") >= pl.col("paid_on")))
        .join(pending, on="account_id", how="anti")
        .sort("account_id")
    )
    if due.height and not dry_run:
        bulk_insert(
            cursor,
            "collection_reconnectiondue",
            due.select(
                "account_id",
                pl.col("id").alias("payment_id"),
                "document_id",
                pl.col("paid_on").cast(pl.String).alias("cleared_on"),
                pl.lit(now).alias("created_at"),
                pl.lit(None, dtype=pl.String).alias("handled_at"),
            ),
        )
    return due.height


def _cut_accounts(cursor: Any, account_ids: list[int]) -> pl.DataFrame:
    schema = {"account_id": pl.Int64}
    sql = "SELECT account_id FROM cadastre_connection WHERE service = 'water' AND status = 'cut'"
    if not account_ids:
        return pl.DataFrame(schema=schema)
    if len(account_ids) * 4 > _table_size(cursor, "cadastre_connection"):
        found = fetch_frame(cursor, sql, [], schema)
        return found.join(pl.DataFrame({"account_id": account_ids}, schema=schema), on="account_id")
    parts = [
        fetch_frame(
            cursor,
            sql + " AND " + bulk.ids_condition("account_id"),
            [keys_param(account_ids[i : i + LOOKUP_CHUNK])],
            schema,
        )
        for i in range(0, len(account_ids), LOOKUP_CHUNK)
    ]
    return pl.concat(parts).unique()


# --- the import ------------------------------------------------------------------------


def _centre(code: str) -> Centre:
    centre = Centre.objects.filter(code=code).first()
    if centre is None:
        raise ImportRefused(_("No existe el centro de recaudo %(code)s.") % {"code": code})
    if not centre.active:
        raise ImportRefused(_("El centro %(code)s está inactivo.") % {"code": code})
    return centre


def _previous(sha: str) -> PaymentFile | None:
    return PaymentFile.objects.filter(sha256=sha).first()


def _mark_duplicate(result: PaymentImport, previous: PaymentFile) -> PaymentImport:
    result.already_imported = True
    result.file_id = previous.pk
    result.imported_at = previous.imported_at
    result.records = previous.records
    result.total = previous.total
    result.file_date = previous.file_date
    return result


def import_payments(
    data: bytes | str | Path,
    *,
    fmt: str,
    centre: str | Centre,
    actor: ActorLike,
    dry_run: bool = False,
    default_date: date | None = None,
    file_name: str | None = None,
    parse_options: dict[str, Any] | None = None,
) -> PaymentImport:
    """Import one payment file (see the module docstring). ``data`` is the file's bytes or
    its path. Raises :class:`ImportRefused` for a usage problem; every problem of the file
    itself is in the result's ``errors`` (and then nothing was posted)."""
    started = time.perf_counter()
    if fmt not in formats.FORMATS:
        raise ImportRefused(
            _("Formato desconocido %(fmt)s; use uno de: %(known)s.")
            % {"fmt": fmt, "known": ", ".join(formats.FORMATS)}
        )
    if isinstance(data, str | Path):
        path = Path(data)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ImportRefused(
                _("No se puede leer el archivo %(path)s: %(err)s") % {"path": path, "err": exc}
            ) from exc
        name = file_name or path.name
    else:
        raw = bytes(data)
        name = file_name or "archivo"
    the_centre = centre if isinstance(centre, Centre) else _centre(centre)
    sha = hashlib.sha256(raw).hexdigest()
    result = PaymentImport(
        file_name=name[:255], sha256=sha, format=fmt, centre=the_centre.code, dry_run=dry_run
    )
    timings = result.timings
    previous = _previous(sha)
    if previous is not None:
        result.seconds = time.perf_counter() - started
        return _mark_duplicate(result, previous)

    _user, label = actor_parts(actor)
    run = start_run(
        kind="import_payments",
        actor=actor,
        parameters={
            "file": result.file_name,
            "sha256": sha,
            "format": fmt,
            "centre": the_centre.code,
            "dry_run": dry_run,
            "date": default_date.isoformat() if default_date else None,
            "actor": label,
        },
    )
    result.run_id = run.pk
    try:
        with _timed(timings, "parse"):
            try:
                parsed = formats.parse(raw, fmt, default_date=default_date, **(parse_options or {}))
            except FileFormatError as exc:
                result.add_errors(list(exc.errors), exc.total)
                parsed = None
        if parsed is not None:
            _import_parsed(parsed, result, run=run, centre=the_centre, actor=actor)
    except Exception as exc:
        result.seconds = time.perf_counter() - started
        result.add_errors([LineError(0, "", f"{type(exc).__name__}: {exc}")])
        _close_run(run, result)
        raise
    result.seconds = time.perf_counter() - started
    if not result.committed:
        _close_run(run, result)
    return result


def _close_run(run: Run, result: PaymentImport) -> None:
    if result.dry_run and result.ok:
        status = RunStatus.DRY_RUN
    elif result.committed or result.already_imported:
        status = RunStatus.DONE
    else:
        status = RunStatus.FAILED
    finish_run(
        run,
        status=status,
        counts={**result.counts(), "timings": {k: round(v, 3) for k, v in result.timings.items()}},
        errors=[{"line": e.line, "field": e.field, "message": e.message} for e in result.errors],
    )


def _import_parsed(
    parsed: formats.ParsedFile,
    result: PaymentImport,
    *,
    run: Run,
    centre: Centre,
    actor: ActorLike,
) -> None:
    timings = result.timings
    records = parsed.records
    result.records = records.height
    result.total = int(parsed.total)
    result.file_date = parsed.file_date
    result.collector = parsed.collector or ""
    user, _label = actor_parts(actor)
    user_id = user.pk if user else None
    try:
        with bulk_session(), transaction.atomic(), connection.cursor() as cursor:
            if is_postgresql():
                # One file import at a time: the collision check below stays true until commit.
                lock_tables(cursor, ["collection_paymentfile"])
            previous = _previous(result.sha256)
            if previous is not None:
                _mark_duplicate(result, previous)
                raise _Rollback
            with _timed(timings, "resolve"):
                rows = _resolve(cursor, parsed, records, centre, result)
            if result.error_count:
                raise _Rollback
            with _timed(timings, "post"):
                _post(
                    cursor,
                    parsed,
                    rows,
                    result,
                    run=run,
                    centre=centre,
                    actor=actor,
                    user_id=user_id,
                )
            if result.dry_run:
                raise _Rollback
            result.committed = True
            _close_run(run, result)
            commit_start = time.perf_counter()
        timings["commit"] = time.perf_counter() - commit_start
        # The run was closed inside the transaction (committed with the payments); add
        # the commit's time to its counts.
        _close_run(run, result)
    except _Rollback:
        result.committed = False
        if result.dry_run and not result.already_imported:
            result.file_id = None
            result.imported_at = None
    except IntegrityError:
        # The same file committed by a concurrent import between our check and our insert.
        previous = _previous(result.sha256)
        if previous is None:
            raise
        result.committed = False
        _mark_duplicate(result, previous)


def _resolve(
    cursor: Any,
    parsed: formats.ParsedFile,
    records: pl.DataFrame,
    centre: Centre,
    result: PaymentImport,
) -> pl.DataFrame:
    """The records with ``account_id``, ``bill_reference``, ``point_id`` and the stored
    external reference; errors (unknown references, bad amounts, collisions) go to
    ``result``."""
    rows = records.with_columns(
        _external_references(parsed).alias("external_reference"),
        _points(centre, records).alias("point_id"),
    )
    bad_amount = rows.filter(pl.col("amount").is_null() | (pl.col("amount") <= 0))
    if bad_amount.height:
        result.add_errors(
            _frame_errors(bad_amount, "amount", pl.lit(_("El importe debe ser mayor que cero."))),
            bad_amount.height,
        )
    resolved = resolve_references(cursor, rows["reference"])
    rows = rows.join(resolved, on="reference", how="left")
    unknown = rows.filter(pl.col("account_id").is_null())
    if unknown.height:
        result.add_errors(
            _frame_errors(unknown, "reference", _unknown_reference_message()), unknown.height
        )
    found = _collisions(cursor, centre, rows)
    if found.height:
        result.add_errors(_collision_errors(found), found.height)
    return rows


def _post(
    cursor: Any,
    parsed: formats.ParsedFile,
    rows: pl.DataFrame,
    result: PaymentImport,
    *,
    run: Run,
    centre: Centre,
    actor: ActorLike,
    user_id: int | None,
) -> None:
    now_dt = timezone.now()
    now = db_datetime(now_dt)
    file = PaymentFile.objects.create(
        centre=centre,
        format=parsed.format,
        file_name=result.file_name,
        sha256=result.sha256,
        file_date=parsed.file_date,
        records=rows.height,
        total=result.total,
        run=run,
        imported_by_id=user_id,
    )
    result.file_id = file.pk
    result.imported_at = file.imported_at
    if rows.height == 0:
        _finish(result, run=run, file=file, centre=centre, actor=actor)
        return
    account_ids = rows["account_id"].unique().sort().to_list()
    # The first lock of every ledger writer: the accounts' rows, in id order (PostgreSQL).
    bulk.lock_accounts(cursor, account_ids)
    posting = _post_batches(
        cursor,
        rows,
        file_id=file.pk,
        file_name=result.file_name,
        source=f"file:{result.sha256[:8]}",
        user_id=user_id,
        now=now,
    )
    steps = result.steps
    steps.update(posting.timings)
    documents = pl.concat(posting.documents)
    payments_started = time.perf_counter()
    payment_ids = bulk.reserve_many(cursor, "collection_payment", rows.height)
    payments = (
        rows.join(documents, left_on="line", right_on="key", how="inner")
        .sort("line")
        .with_columns(pl.Series("id", list(payment_ids), dtype=pl.Int64))
    )
    if payments.height != rows.height:
        raise RuntimeError("every record needs its payment document")
    # Columns left out are NULL: reversal, settlement, cashier session.
    _insert_frame(
        cursor,
        "collection_payment",
        payments.select(
            "id",
            pl.lit(centre.pk, dtype=pl.Int64).alias("centre_id"),
            "point_id",
            "account_id",
            "amount",
            pl.col("paid_on").cast(pl.String).alias("payment_date"),
            pl.lit(now).alias("received_at"),
            pl.col("method").fill_null("transfer").alias("method"),
            pl.col("bill_reference").fill_null("").alias("bill_reference"),
            "external_reference",
            pl.lit("").alias("idempotency_key"),
            pl.lit("").alias("request_hash"),
            "document_id",
            pl.lit(PaymentStatus.POSTED).alias("status"),
            pl.lit(file.pk, dtype=pl.Int64).alias("payment_file_id"),
            pl.col("line").alias("file_line"),
            pl.lit(user_id, dtype=pl.Int64).alias("created_by_id"),
        ),
    )
    steps["payments"] = time.perf_counter() - payments_started
    result.posted = payments.height
    result.accounts = len(account_ids)
    result.credit_left = posting.credit_left(int(rows["amount"].sum()))
    with _timed(steps, "reconnections"):
        result.reconnections = _reconnections(
            cursor,
            payments.select("id", "account_id", "document_id", "paid_on", "line"),
            now=now,
            dry_run=result.dry_run,
        )
    _finish(result, run=run, file=file, centre=centre, actor=actor)


def _finish(
    result: PaymentImport, *, run: Run, file: PaymentFile, centre: Centre, actor: ActorLike
) -> None:
    if result.dry_run:
        return
    record(
        actor=actor,
        action="collection.import_payments",
        object_type="collection.paymentfile",
        object_id=file.pk,
        after={
            "file": result.file_name,
            "sha256": result.sha256,
            "format": result.format,
            "centre": centre.code,
            "run": run.pk,
            "counts": result.counts(),
        },
    )


__all__ = ["ImportRefused", "PaymentImport", "import_payments", "resolve_references"]
