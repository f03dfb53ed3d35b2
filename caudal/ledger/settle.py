"""Bulk settlement: pay whole documents in one set-based write.

``pay_documents_in_full`` posts, for each given charge document, a payment document for
exactly what is still open on its unblocked debit items, and clears those items in full. It
is the bulk equivalent of calling :func:`caudal.ledger.actions.do_post_payment` with the
open amount of one bill, for the case where the payment is known to belong to that bill
(the demo's history; a bank file whose lines reference a bill). Blocked items are never
paid (the same rule as the single action). One audit event for the whole batch.

The write runs in the caller's transaction (or one of its own) and is all-or-nothing. It
locks the accounts' rows first and numbers its rows as the billing run does
(``bulk.lock_accounts``, ``bulk.reserve_many``), so on PostgreSQL it takes no table lock.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.cadastre.imports import (
    bulk_insert,
    bulk_session,
    bulk_update,
    db_datetime,
    fetch_frame,
    keys_param,
)

from .bulk import ids_condition, lock_accounts, reserve_many

#: Documents looked up per query (bounded parameter size).
LOOKUP_CHUNK = 200_000


def _accounts_of(cursor: Any, document_ids: list[int]) -> list[int]:
    found: set[int] = set()
    for start in range(0, len(document_ids), LOOKUP_CHUNK):
        cursor.execute(
            "SELECT DISTINCT account_id FROM ledger_document WHERE " + ids_condition("id"),
            [keys_param(document_ids[start : start + LOOKUP_CHUNK])],
        )
        found.update(row[0] for row in cursor.fetchall())
    return sorted(found)


def _open_debits(cursor: Any, document_ids: list[int]) -> pl.DataFrame:
    parts = []
    for start in range(0, len(document_ids), LOOKUP_CHUNK):
        keys = document_ids[start : start + LOOKUP_CHUNK]
        parts.append(
            fetch_frame(
                cursor,
                "SELECT i.id, i.account_id, i.document_id, i.open_amount, d.reference "
                "FROM ledger_openitem i JOIN ledger_document d ON d.id = i.document_id "
                f"WHERE {ids_condition('i.document_id')} AND i.side = 'D' "
                "AND i.open_amount > 0 AND NOT i.blocked",
                [keys_param(keys)],
                {
                    "item_id": pl.Int64,
                    "account_id": pl.Int64,
                    "document_id": pl.Int64,
                    "open_amount": pl.Int64,
                    "reference": pl.String,
                },
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def pay_documents_in_full(
    payments: pl.DataFrame,
    *,
    actor: ActorLike,
    source: str,
    reference_prefix: str = "PAGO-",
    reason: str = "",
) -> dict[str, int]:
    """Pay each document of ``payments`` (columns ``document_id`` Int64, ``paid_on`` Date)
    for what is open on it. Returns counts: documents paid, items cleared, amount.

    Payment references are ``reference_prefix`` + the paid document's reference, so the
    same batch posted twice is refused by the ledger's unique reference (nothing is left
    half-done: the whole batch rolls back).
    """
    counts = {"documents": 0, "items": 0, "amount": 0}
    if payments.height == 0:
        return counts
    user, _label = actor_parts(actor)
    wanted = payments.select(pl.col("document_id").cast(pl.Int64), pl.col("paid_on").cast(pl.Date))
    driver_integrity_error = getattr(connection, "Database").IntegrityError  # noqa: B009
    try:
        return _pay(
            wanted,
            counts,
            actor=actor,
            user=user,
            source=source,
            reference_prefix=reference_prefix,
            reason=reason,
        )
    except driver_integrity_error as exc:
        # PostgreSQL's COPY runs on the raw psycopg cursor, outside Django's error
        # wrapping: raise the same exception type on both databases.
        raise IntegrityError(str(exc)) from exc


def _pay(
    wanted: pl.DataFrame,
    counts: dict[str, int],
    *,
    actor: ActorLike,
    user: Any,
    source: str,
    reference_prefix: str,
    reason: str,
) -> dict[str, int]:
    with transaction.atomic(), bulk_session(), connection.cursor() as cursor:
        document_ids = wanted["document_id"].unique().sort().to_list()
        # the first lock of every ledger writer: the accounts' rows, in id order
        lock_accounts(cursor, _accounts_of(cursor, document_ids))
        debits = _open_debits(cursor, document_ids)
        if debits.height == 0:
            return counts
        debits = debits.join(wanted, on="document_id", how="inner")
        docs = (
            debits.group_by("document_id", maintain_order=True)
            .agg(
                pl.col("account_id").first(),
                pl.col("reference").first(),
                pl.col("paid_on").first(),
                pl.col("open_amount").sum().alias("total"),
            )
            .sort("document_id")
        )
        n = docs.height
        pay_ids = reserve_many(cursor, "ledger_document", n)
        docs = docs.with_columns(
            pl.Series("pay_id", list(pay_ids), dtype=pl.Int64),
            pl.Series(
                "line_id", list(reserve_many(cursor, "ledger_documentline", n)), dtype=pl.Int64
            ),
            pl.Series(
                "credit_id", list(reserve_many(cursor, "ledger_openitem", n)), dtype=pl.Int64
            ),
            (pl.lit(reference_prefix) + pl.col("reference")).str.slice(0, 64).alias("pay_ref"),
        )
        now = db_datetime(timezone.now())
        text = (reason or "Pago aplicado al documento")[:250]
        bulk_insert(
            cursor,
            "ledger_document",
            docs.select(
                pl.col("pay_id").alias("id"),
                "account_id",
                pl.lit("payment").alias("kind"),
                pl.col("pay_ref").alias("reference"),
                pl.col("paid_on").alias("document_date"),
                pl.col("paid_on").alias("posting_date"),
                (-pl.col("total")).alias("amount"),
                pl.lit(text).alias("reason"),
                pl.lit(source[:64]).alias("source"),
                pl.lit(user.pk if user else None, dtype=pl.Int64).alias("created_by_id"),
                pl.lit(now).alias("created_at"),
            ),
        )
        bulk_insert(
            cursor,
            "ledger_documentline",
            docs.select(
                pl.col("line_id").alias("id"),
                pl.col("pay_id").alias("document_id"),
                pl.lit(1).alias("line_no"),
                pl.lit("payment").alias("concept"),
                (-pl.col("total")).alias("amount"),
                pl.col("pay_ref").str.slice(0, 200).alias("description"),
            ),
        )
        bulk_insert(
            cursor,
            "ledger_openitem",
            docs.select(
                pl.col("credit_id").alias("id"),
                "account_id",
                pl.col("pay_id").alias("document_id"),
                pl.col("line_id").alias("line_id"),
                pl.lit("payment").alias("concept"),
                pl.lit("C").alias("side"),
                pl.col("paid_on").alias("issue_date"),
                pl.col("paid_on").alias("due_date"),
                pl.col("total").alias("amount"),
                pl.lit(0).alias("open_amount"),
                pl.col("paid_on").alias("cleared_on"),
                pl.lit(False).alias("blocked"),
                pl.lit("").alias("block_reason"),
            ),
        )
        cleared = debits.join(
            docs.select("document_id", "pay_id", "credit_id"), on="document_id", how="inner"
        )
        bulk_insert(
            cursor,
            "ledger_clearing",
            cleared.select(
                "account_id",
                pl.col("item_id").alias("debit_item_id"),
                "credit_id",
                pl.col("open_amount").alias("amount"),
                pl.col("paid_on").alias("cleared_on"),
                pl.col("pay_id").alias("document_id"),
                pl.lit(now).alias("created_at"),
            ).rename({"credit_id": "credit_item_id"}),
        )
        bulk_update(
            cursor,
            "ledger_openitem",
            cleared.select(
                pl.lit(0).alias("open_amount"),
                pl.col("paid_on").alias("cleared_on"),
                pl.col("item_id").alias("id"),
            ),
        )
        counts = {
            "documents": n,
            "items": cleared.height,
            "amount": int(docs["total"].sum()),
        }
        record(
            actor=actor,
            action="ledger.pay_documents",
            object_type="ledger.document",
            after={**counts, "source": source, "first_payment": pay_ids[0]},
            reason=text,
        )
    return counts


__all__ = ["pay_documents_in_full"]
