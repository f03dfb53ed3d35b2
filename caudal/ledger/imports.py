"""Import of legacy open items (saldos migrados): ``caudal import-balances FILE.csv``.

Each row is one open item of the system being replaced. Rows with the same
``account_number`` + ``document_kind`` + ``document_reference`` form one ledger document
(kind ``opening`` unless the file says otherwise) with one line per row (``line_no`` 1..n
in file order) and one open item per line: side ``D`` for a positive amount (owed by the
customer), ``C`` for a negative one (a credit in the customer's favour), ``amount`` and
``open_amount`` the absolute value. Columns and rules: ``docs/formats.md``.

Decisions:

- ``document_date = posting_date = issue date`` of the legacy document, not the day of
  the migration: as-of queries (``queries.balance_as_of``, snapshots) then see the debt
  on the dates it really existed. Every row of one document must carry the same issue
  date, so ``OpenItem.issue_date`` equals the document's posting date as the ledger's
  other writers guarantee.
- Re-importing is idempotent: a document whose (account, kind, reference) already exists
  is skipped and counted ``unchanged`` when its lines are the same, and reported as an
  error on each of its rows when they differ (posted documents are never changed; correct
  them with an adjustment).
- Credits are left open. The ledger applies credits eagerly in its own actions; a
  migration keeps the legacy picture as it was. ``apply_credits=True`` (CLI
  ``--apply-credits``) calls ``caudal.ledger.actions.apply_credits`` afterwards for every
  account of the file that has both open credits and open debits.

Speed (the target is 200,000 open items/s on two cores with SQLite): Polars parses,
validates and groups; account ids come from one query joined in Polars; document and line
ids are numbered in advance under the write lock; rows are staged once in temporary
tables and copied to ``ledger_document``, ``ledger_documentline`` and ``ledger_openitem``
with three ``INSERT ... SELECT`` statements in one transaction.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts
from caudal.audit.models import Run
from caudal.cadastre.imports import (
    IDX,
    LINE,
    Check,
    CsvInput,
    Errors,
    Rollback,
    audit_import,
    bulk_insert,
    bulk_session,
    by_distinct,
    close_run,
    date_reason,
    date_value,
    db_datetime,
    fetch_frame,
    first_reason,
    fmt,
    keys_condition,
    keys_param,
    lock_tables,
    missing,
    read_csv,
    reason_if,
    reserve_ids,
    run_file_import,
    table_is_empty,
    too_long,
)
from caudal.cadastre.models import UtilitySettings
from caudal.kernel.errors import ImportResult
from caudal.kernel.money import exponent

from .models import Concept, DocumentKind

COLUMNS: tuple[tuple[str, bool], ...] = (
    ("account_number", True),
    ("document_reference", True),
    ("concept", True),
    ("issue_date", True),
    ("due_date", True),
    ("amount", True),
    ("document_kind", False),
    ("description", False),
)
COLUMN_NAMES = tuple(name for name, _req in COLUMNS)
REQUIRED = tuple(name for name, req in COLUMNS if req)

#: Concept by accepted spelling (lower-case, accents removed, spaces as underscores).
_CONCEPT_SPELLINGS: dict[str, str] = {
    **{c.value: c.value for c in Concept},
    "agua": Concept.WATER,
    "agua_potable": Concept.WATER,
    "acueducto": Concept.WATER,
    "alcantarillado": Concept.SEWER,
    "desague": Concept.SEWER,
    "cargo_fijo": Concept.FIXED,
    "igv": Concept.TAX,
    "iva": Concept.TAX,
    "impuesto": Concept.TAX,
    "medidor": Concept.METER,
    "intereses": Concept.INTEREST,
    "interes": Concept.INTEREST,
    "corte": Concept.CUT_FEE,
    "reconexion": Concept.RECONNECTION_FEE,
    "reapertura": Concept.RECONNECTION_FEE,
    "gastos_de_cobranza": Concept.COLLECTION_COST,
    "gastos_cobranza": Concept.COLLECTION_COST,
    "cobranza": Concept.COLLECTION_COST,
    "cuota": Concept.INSTALLMENT,
    "cuota_convenio": Concept.INSTALLMENT,
    "otros": Concept.OTHER,
    "otro": Concept.OTHER,
    "pago": Concept.PAYMENT,
    "nota_de_credito": Concept.CREDIT,
    "nota_credito": Concept.CREDIT,
    "saldo_a_favor": Concept.CREDIT,
    "castigo": Concept.WRITE_OFF,
}
CONCEPT_ALIASES: dict[str, str] = {k: str(v) for k, v in _CONCEPT_SPELLINGS.items()}
#: Concepts that only exist on the credit side (the amount must be negative).
CREDIT_ONLY = frozenset({str(Concept.PAYMENT), str(Concept.CREDIT), str(Concept.WRITE_OFF)})

#: Document kinds a legacy open item may come from, by accepted spelling.
_KIND_SPELLINGS: dict[str, str] = {
    "opening": DocumentKind.OPENING,
    "saldo_inicial": DocumentKind.OPENING,
    "saldo": DocumentKind.OPENING,
    "bill": DocumentKind.BILL,
    "factura": DocumentKind.BILL,
    "recibo": DocumentKind.BILL,
    "fee": DocumentKind.FEE,
    "cargo": DocumentKind.FEE,
    "interest": DocumentKind.INTEREST,
    "intereses": DocumentKind.INTEREST,
    "adjustment": DocumentKind.ADJUSTMENT,
    "ajuste": DocumentKind.ADJUSTMENT,
    "agreement": DocumentKind.AGREEMENT,
    "convenio": DocumentKind.AGREEMENT,
    "payment": DocumentKind.PAYMENT,
    "pago": DocumentKind.PAYMENT,
}
KIND_ALIASES: dict[str, str] = {k: str(v) for k, v in _KIND_SPELLINGS.items()}
MAX_LINES = 32767
REFERENCE_MAX = 64
DESCRIPTION_MAX = 200
LEDGER_TABLES = ("ledger_document", "ledger_documentline", "ledger_openitem")
SOURCE = "import-balances"


def _folded(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.to_lowercase()
        .str.replace_many(["á", "é", "í", "ó", "ú"], ["a", "e", "i", "o", "u"])
        .str.replace_all(r"[\s\-]+", "_")
    )


AMOUNT = "__amount_parts"


def amount_pattern(places: int) -> str:
    """``45.80``, ``45,8``, ``-12`` or ``+3.5``: sign, units, up to ``places`` decimals."""
    return rf"^([+-]?)([0-9]{{1,13}})(?:[.,]([0-9]{{1,{places}}}))?$"


def amount_value(places: int) -> pl.Expr:
    """Signed minor units from the parts in ``__amount_parts`` (integer arithmetic only:
    never a float); null when the text did not match :func:`amount_pattern`."""
    parts = pl.col(AMOUNT)
    whole = parts.struct.field("2").cast(pl.Int64, strict=False)
    frac = parts.struct.field("3").fill_null("").str.pad_end(places, "0")
    frac_value = frac.cast(pl.Int64, strict=False).fill_null(0) if places else pl.lit(0)
    magnitude = whole * (10**places) + frac_value
    return pl.when(parts.struct.field("1") == "-").then(-magnitude).otherwise(magnitude)


def validate_rows(frame: pl.DataFrame, *, today: date, places: int, errors: Errors) -> pl.DataFrame:
    """Column-wise checks of every row (no database); adds the normalized columns
    ``concept__v``, ``kind__v``, ``issue__v``, ``due__v`` (ISO text), ``amount__v`` (signed
    minor units) and ``description__v``. Each value is computed once; the checks read it."""
    for name in COLUMN_NAMES:
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    c = pl.col
    concept = _folded("concept").replace_strict(
        CONCEPT_ALIASES, default=None, return_dtype=pl.String
    )
    kind = (
        pl.when(c("document_kind").is_null())
        .then(pl.lit(DocumentKind.OPENING.value))
        .otherwise(
            by_distinct(
                frame,
                "document_kind",
                _folded("document_kind").replace_strict(
                    KIND_ALIASES, default=None, return_dtype=pl.String
                ),
                pl.String,
            )
        )
    )
    frame = frame.with_columns(
        c("amount").str.extract_groups(amount_pattern(places)).alias(AMOUNT),
        by_distinct(frame, "concept", concept, pl.String).alias("concept__v"),
        kind.alias("kind__v"),
        by_distinct(frame, "issue_date", date_value("issue_date"), pl.String).alias("issue__v"),
        by_distinct(frame, "due_date", date_value("due_date"), pl.String).alias("due__v"),
        c("description").fill_null("").alias("description__v"),
    ).with_columns(amount_value(places).alias("amount__v"))
    v = pl.col
    amount_reason = first_reason(
        missing("amount"),
        reason_if(
            v("amount__v").is_null(),
            _(
                "importe no válido: use 45.80 o 45,80 (sin separador de miles, hasta %(n)s decimales)"
            )
            % {"n": places},
        ),
        reason_if(v("amount__v") == 0, _("el importe no puede ser cero")),
        reason_if(
            v("concept__v").is_in(sorted(CREDIT_ONLY)) & (v("amount__v") > 0),
            _("este concepto solo admite importes negativos (a favor del cliente)"),
        ),
        reason_if(
            (v("kind__v") == DocumentKind.PAYMENT.value) & (v("amount__v") > 0),
            _("un pago solo admite importes negativos"),
        ),
    )
    checks = [
        Check("account_number", missing("account_number")),
        Check(
            "document_reference",
            first_reason(
                missing("document_reference"), too_long("document_reference", REFERENCE_MAX)
            ),
        ),
        Check(
            "concept",
            first_reason(
                missing("concept"),
                reason_if(
                    v("concept__v").is_null(),
                    _("concepto desconocido; use %(list)s")
                    % {"list": ", ".join(c.value for c in Concept)},
                ),
            ),
        ),
        Check("issue_date", date_reason("issue_date", "issue__v", today=today, required=True)),
        Check(
            "due_date",
            first_reason(
                date_reason("due_date", "due__v", today=today, required=True, future_ok=True),
                reason_if(
                    v("due__v") < v("issue__v"), _("el vencimiento es anterior a la emisión")
                ),
            ),
        ),
        Check("amount", amount_reason),
        Check(
            "document_kind",
            reason_if(
                v("kind__v").is_null(),
                _("tipo de documento no válido; use %(list)s")
                % {"list": ", ".join(sorted(set(KIND_ALIASES.values())))},
            ),
        ),
        Check("description", too_long("description", DESCRIPTION_MAX)),
    ]
    errors.run(frame, checks)
    return frame.drop(AMOUNT)


DOC_KEY = ["account_number", "kind__v", "document_reference"]
DOC = "__doc"


def _document_checks(frame: pl.DataFrame, errors: Errors) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Group the rows into documents and check them: one issue date per document, at most
    ``MAX_LINES`` lines.

    Returns the rows that have a complete document key, sorted by document and file
    order, with ``__doc`` (an integer per document) and ``line_no`` (1..n in file order);
    and one row per document (``__doc``, the key, ``issue``, ``first_line``).
    """
    keyed = (
        frame.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in DOC_KEY]))
        .with_columns(pl.struct(DOC_KEY).rank("dense").cast(pl.Int64).alias(DOC))
        .sort([DOC, IDX])
    )
    position = pl.int_range(pl.len(), dtype=pl.Int64)
    starts = (pl.col(DOC) != pl.col(DOC).shift(1)).fill_null(True)
    keyed = keyed.with_columns(
        pl.when(starts).then(position).otherwise(None).forward_fill().alias("__first")
    ).with_columns(
        (position - pl.col("__first") + 1).alias("line_no"),
        pl.col("issue__v").gather(pl.col("__first")).alias("__doc_issue"),
        pl.col(LINE).gather(pl.col("__first")).alias("__doc_line"),
    )
    differs = keyed.filter(pl.col("issue__v") != pl.col("__doc_issue"))
    if differs.height:
        errors.add_frame(
            differs.select(
                IDX,
                LINE,
                pl.lit("issue_date").alias("column"),
                fmt(
                    _(
                        "la fecha de emisión difiere de la línea %(line)s del mismo documento (%(date)s)"
                    ),
                    line=pl.col("__doc_line"),
                    date=pl.col("__doc_issue"),
                ).alias("reason"),
                pl.col("issue_date").alias("value"),
            )
        )
    too_many = keyed.filter(pl.col("line_no") > MAX_LINES)
    if too_many.height:
        errors.add_frame(
            too_many.select(
                IDX,
                LINE,
                pl.lit("document_reference").alias("column"),
                pl.lit(_("el documento tiene más de %(n)s líneas") % {"n": MAX_LINES}).alias(
                    "reason"
                ),
                pl.col("document_reference").alias("value"),
            )
        )
    docs = keyed.filter(pl.col("line_no") == 1).select(
        DOC, *DOC_KEY, pl.col("issue__v").alias("issue"), pl.col(LINE).alias("first_line")
    )
    return keyed.drop("__first", "__doc_issue", "__doc_line"), docs


def _doc_errors(
    rows: pl.DataFrame, docs: pl.DataFrame, reason: pl.Expr, column: str
) -> pl.DataFrame:
    """One error for each row of the documents in ``docs`` (which has ``__doc``)."""
    return rows.join(docs, on=DOC, how="inner").select(
        IDX,
        LINE,
        pl.lit(column).alias("column"),
        reason.alias("reason"),
        pl.col(column).alias("value"),
    )


def _reject_whole_documents(rows: pl.DataFrame, errors: Errors) -> None:
    """``--partial``: a document is imported whole or not at all, so the rows of a
    document that has a bad row are reported too."""
    bad = errors.bad_rows()
    if bad.len() == 0:
        return
    marked = rows.with_columns(pl.col(IDX).is_in(bad.implode()).alias("__bad"))
    docs = marked.filter(pl.col("__bad")).group_by(DOC).agg(pl.col(LINE).min().alias("__bad_line"))
    reason = fmt(
        _("documento rechazado: la línea %(line)s del mismo documento tiene errores"),
        line=pl.col("__bad_line"),
    )
    errors.add_frame(
        _doc_errors(marked.filter(~pl.col("__bad")), docs, reason, "document_reference")
    )


def _signature(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """One text per document summarizing its lines in order, to compare file and ledger."""
    line_text = pl.concat_str(
        [
            pl.col("line_no").cast(pl.String),
            pl.col("concept"),
            pl.col("amount").cast(pl.String),
            pl.col("issue"),
            pl.col("due"),
            pl.col("description"),
        ],
        separator="|",
    )
    return (
        frame.sort([key, "line_no"])
        .group_by(key, maintain_order=True)
        .agg(line_text.str.join("\n").alias("signature"))
    )


class BalancesImport:
    """The database side: accounts, documents already in the ledger, writing."""

    def __init__(
        self, rows: pl.DataFrame, docs: pl.DataFrame, errors: Errors, *, cursor: Any
    ) -> None:
        self.rows = rows
        self.docs = docs
        self.errors = errors
        self.cursor = cursor

    def resolve_accounts(self) -> None:
        """Adds ``account_id`` to the documents (one query); unknown accounts are errors."""
        numbers = self.docs["account_number"].unique()
        schema = {"account_id": pl.Int64, "account_number": pl.String}
        cur = self.cursor
        cur.execute("SELECT MAX(id) FROM cadastre_account")
        size = cur.fetchone()[0] or 0
        if numbers.len() == 0 or size == 0:
            accounts = pl.DataFrame(schema=schema)
        elif numbers.len() * 2 > size:
            accounts = fetch_frame(cur, "SELECT id, number FROM cadastre_account", [], schema)
        else:
            accounts = fetch_frame(
                cur,
                "SELECT id, number FROM cadastre_account WHERE " + keys_condition("number"),
                [keys_param(numbers.to_list())],
                schema,
            )
        self.docs = self.docs.join(accounts, on="account_number", how="left")
        unknown = self.docs.filter(pl.col("account_id").is_null())
        if unknown.height:
            reason = fmt(
                _("el suministro %(number)s no existe en el catastro"),
                number=pl.col("account_number"),
            )
            self.errors.add_frame(
                _doc_errors(self.rows, unknown.select(DOC), reason, "account_number")
            )

    def existing_documents(self) -> pl.DataFrame:
        """``__doc``, ``document_id`` and ``same`` for the documents of the file already in
        the ledger; ``same`` tells whether their lines equal the file's."""
        empty = pl.DataFrame(schema={DOC: pl.Int64, "document_id": pl.Int64, "same": pl.Boolean})
        refs = self.docs["document_reference"].unique()
        if refs.len() == 0 or table_is_empty(self.cursor, "ledger_document"):
            return empty
        keys = ["account_id", "kind__v", "document_reference"]
        found = fetch_frame(
            self.cursor,
            "SELECT id, account_id, kind, reference FROM ledger_document WHERE "
            + keys_condition("reference"),
            [keys_param(refs.to_list())],
            {
                "document_id": pl.Int64,
                **{k: pl.Int64 if k == "account_id" else pl.String for k in keys},
            },
        ).join(self.docs.select(DOC, *keys), on=keys, how="inner")
        if found.height == 0:
            return empty
        stored = fetch_frame(
            self.cursor,
            "SELECT l.document_id, l.line_no, l.concept, l.amount, l.description, "
            "CAST(i.issue_date AS TEXT), CAST(i.due_date AS TEXT) "
            "FROM ledger_documentline l JOIN ledger_openitem i ON i.line_id = l.id WHERE "
            + keys_condition("l.document_id"),
            [keys_param(found["document_id"].to_list())],
            {
                "document_id": pl.Int64,
                "line_no": pl.Int64,
                "concept": pl.String,
                "amount": pl.Int64,
                "description": pl.String,
                "issue": pl.String,
                "due": pl.String,
            },
        )
        file_rows = self.rows.join(found.select(DOC), on=DOC, how="semi").select(
            DOC,
            "line_no",
            pl.col("concept__v").alias("concept"),
            pl.col("amount__v").alias("amount"),
            pl.col("issue__v").alias("issue"),
            pl.col("due__v").alias("due"),
            pl.col("description__v").alias("description"),
        )
        file_sig = _signature(file_rows, DOC).rename({"signature": "file_signature"})
        return (
            found.join(_signature(stored, "document_id"), on="document_id", how="left")
            .join(file_sig, on=DOC, how="left")
            .with_columns(
                (pl.col("signature") == pl.col("file_signature")).fill_null(False).alias("same")
            )
            .select(DOC, "document_id", "same")
        )

    def check_existing(self, existing: pl.DataFrame) -> None:
        differ = existing.filter(~pl.col("same")).select(DOC)
        if differ.height:
            reason = pl.lit(
                _(
                    "el documento ya existe en el suministro con otras líneas; "
                    "un documento contabilizado no se cambia (use un ajuste)"
                )
            )
            self.errors.add_frame(_doc_errors(self.rows, differ, reason, "document_reference"))


def import_balances(
    path: str | Path,
    *,
    actor: ActorLike,
    dry_run: bool = False,
    partial: bool = False,
    apply_credits: bool = False,
) -> ImportResult:
    """Import the legacy balances CSV at ``path`` (see the module docstring and
    ``docs/formats.md``). Returns what was done, or would be done with ``dry_run``."""
    started = time.perf_counter()
    source = read_csv(path, known=COLUMN_NAMES, required=REQUIRED)
    result, accounts = run_file_import(
        "import_balances",
        source,
        actor=actor,
        dry_run=dry_run,
        parameters={"partial": partial, "apply_credits": apply_credits},
        started=started,
        body=lambda run, result: _run_import(
            source,
            result,
            run=run,
            actor=actor,
            dry_run=dry_run,
            partial=partial,
            started=started,
        ),
    )
    if result.committed and apply_credits:
        result.extra["credits_applied_accounts"] = _apply_credits(accounts or [], actor=actor)
    return result


def _run_import(
    source: CsvInput,
    result: ImportResult,
    *,
    run: Run,
    actor: ActorLike,
    dry_run: bool,
    partial: bool,
    started: float,
) -> list[int]:
    """Validate, plan and (unless dry run) write; returns the accounts that got documents."""
    currency = UtilitySettings.current().currency
    errors = Errors(COLUMN_NAMES)
    frame = validate_rows(
        source.frame, today=timezone.localdate(), places=exponent(currency), errors=errors
    )
    result.rows = frame.height
    source.frame = pl.DataFrame()  # the raw text lives on in ``frame`` only
    # Keep the raw text only where errors found later show it.
    frame = frame.drop("concept", "due_date", "amount", "document_kind", "description")
    rows, docs = _document_checks(frame, errors)
    del frame
    user, _label = actor_parts(actor)
    try:
        with bulk_session(), transaction.atomic(), connection.cursor() as cursor:
            lock_tables(cursor, LEDGER_TABLES)
            job = BalancesImport(rows, docs, errors, cursor=cursor)
            job.resolve_accounts()
            existing = job.existing_documents()
            job.check_existing(existing)
            if partial:
                _reject_whole_documents(job.rows, errors)
            result.errors = errors.to_list()
            if errors and not partial:
                raise Rollback
            bad = errors.bad_rows()
            good = job.rows.filter(~pl.col(IDX).is_in(bad.implode())) if bad.len() else job.rows
            same = existing.filter(pl.col("same")).select(DOC)
            unchanged = good.join(same, on=DOC, how="semi")
            new = good.join(same, on=DOC, how="anti")
            totals = new.group_by(DOC).agg(pl.col("amount__v").sum().alias("amount"))
            new_docs = (
                job.docs.join(totals, on=DOC, how="inner")
                .sort(["account_id", DOC])
                .select(DOC, "account_id", "kind__v", "document_reference", "issue", "amount")
            )
            amounts = new["amount__v"]
            result.created = new_docs.height
            result.unchanged = unchanged[DOC].n_unique()
            result.extra = {
                "items_created": new.height,
                "debit_items": int((amounts > 0).sum()),
                "credit_items": int((amounts < 0).sum()),
                "debit_total": int(amounts.filter(amounts > 0).sum()),
                "credit_total": int(-amounts.filter(amounts < 0).sum()),
                "accounts": new_docs["account_id"].n_unique(),
                "unchanged_rows": unchanged.height,
                "rejected_rows": int(bad.len()),
                "run_id": run.pk,
            }
            if dry_run:
                raise Rollback
            _write(
                cursor,
                new_docs,
                new,
                user_id=user.pk if user else None,
                file_name=source.path.name,
            )
            result.committed = True
            result.seconds = time.perf_counter() - started
            audit_import(
                actor=actor, action="ledger.import_balances", run=run, source=source, result=result
            )
            close_run(run, result)
            return new_docs["account_id"].unique().sort().to_list()
    except Rollback:
        result.committed = False
    return []


STAGES = {
    "caudal_stage_docs": "doc_id bigint PRIMARY KEY, account_id bigint, kind varchar(12), "
    "reference varchar(64), doc_date date, amount bigint",
    "caudal_stage_lines": "line_id bigint, doc_id bigint, line_no integer, "
    "concept varchar(20), amount bigint, description varchar(200), due date",
}


def _write(
    cursor: Any,
    docs: pl.DataFrame,
    rows: pl.DataFrame,
    *,
    user_id: int | None,
    file_name: str,
) -> None:
    """Number the new documents (in account order) and lines, stage them in temporary
    tables, copy them to the ledger with ``INSERT ... SELECT``."""
    if docs.height == 0:
        return
    doc_start = reserve_ids(cursor, "ledger_document", docs.height)
    line_start = reserve_ids(cursor, "ledger_documentline", rows.height)
    docs = docs.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + doc_start).alias("doc_id"))
    lines = (
        rows.select(
            DOC,
            "line_no",
            pl.col("concept__v").alias("concept"),
            pl.col("amount__v").alias("amount"),
            pl.col("description__v").alias("description"),
            pl.col("due__v").alias("due"),
        )
        .join(docs.select(DOC, "doc_id"), on=DOC, how="inner")
        .sort(["doc_id", "line_no"])
        .with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + line_start).alias("line_id"))
    )
    now = db_datetime(timezone.now())
    reason = (_("Migración de saldos: %(file)s") % {"file": file_name})[:250]
    for name, columns in STAGES.items():
        # Dropped at the end; dropped first too in case an enclosing transaction (a test)
        # already imported once on this connection.
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMP TABLE {name} ({columns})")
    bulk_insert(
        cursor,
        "caudal_stage_docs",
        docs.select(
            "doc_id",
            "account_id",
            pl.col("kind__v").alias("kind"),
            pl.col("document_reference").alias("reference"),
            pl.col("issue").alias("doc_date"),
            "amount",
        ),
    )
    bulk_insert(
        cursor,
        "caudal_stage_lines",
        lines.select("line_id", "doc_id", "line_no", "concept", "amount", "description", "due"),
    )
    cursor.execute(
        "INSERT INTO ledger_document (id, account_id, kind, reference, document_date, "
        "posting_date, amount, reason, source, created_by_id, created_at) "
        "SELECT doc_id, account_id, kind, reference, doc_date, doc_date, amount, %s, %s, %s, %s "
        "FROM caudal_stage_docs",
        [reason, SOURCE, user_id, now],
    )
    cursor.execute(
        "INSERT INTO ledger_documentline (id, document_id, line_no, concept, amount, description) "
        "SELECT line_id, doc_id, line_no, concept, amount, description FROM caudal_stage_lines"
    )
    cursor.execute(
        "INSERT INTO ledger_openitem (account_id, document_id, line_id, concept, side, "
        "issue_date, due_date, amount, open_amount, blocked, block_reason) "
        "SELECT d.account_id, l.doc_id, l.line_id, l.concept, "
        "CASE WHEN l.amount > 0 THEN 'D' ELSE 'C' END, d.doc_date, l.due, ABS(l.amount), "
        "ABS(l.amount), %s, '' "
        "FROM caudal_stage_lines l JOIN caudal_stage_docs d ON d.doc_id = l.doc_id",
        [False],
    )
    for name in STAGES:
        cursor.execute(f"DROP TABLE {name}")


def _apply_credits(accounts: list[int], *, actor: ActorLike) -> int:
    """Apply open credits to open unblocked debits, for the accounts of the import that
    have both (one ledger action per account, after the import committed). Returns the
    number of accounts where something was applied."""
    from .actions import apply_credits
    from .models import OpenItem, Side

    open_items = OpenItem.objects.filter(open_amount__gt=0, account_id__in=accounts)
    with_credit = set(open_items.filter(side=Side.CREDIT).values_list("account_id", flat=True))
    with_debit = set(
        open_items.filter(side=Side.DEBIT, blocked=False).values_list("account_id", flat=True)
    )
    on = timezone.localdate()
    count = 0
    for account_id in sorted(with_credit & with_debit):
        if apply_credits(account_id, on=on, actor=actor):
            count += 1
    return count
