"""Database triggers that make the posted ledger append-only, on SQLite and PostgreSQL.

- ``ledger_document``, ``ledger_documentline``, ``ledger_clearing``, ``ledger_blockevent``:
  UPDATE and DELETE are refused.
- ``ledger_openitem``: DELETE is refused, and so is any UPDATE that changes
  ``account_id``, ``document_id``, ``line_id``, ``concept``, ``side``, ``issue_date``,
  ``due_date`` or ``amount``; only ``open_amount``, ``cleared_on``, ``blocked`` and
  ``block_reason`` may change.
- PostgreSQL only: a DEFERRABLE INITIALLY DEFERRED constraint trigger checks at commit
  that every inserted document's lines add up to its amount (also when a line is added
  to an old document).

Both engines raise an integrity error (Django ``IntegrityError``) whose message says what
was refused, e.g. ``ledger_document is append-only: UPDATE refused``.

Consequences to keep in mind:

- Tests of the ledger use pytest-django's ``db`` fixture (each test rolled back), never
  ``transactional_db``/``TransactionTestCase``: their flush runs ``DELETE FROM`` on SQLite,
  which these triggers refuse when ledger rows exist. On PostgreSQL the flush uses
  TRUNCATE, which row triggers do not see (no TRUNCATE trigger is installed on purpose).
- On SQLite, Django alters a table by re-creating it, which drops its triggers. A later
  migration that alters one of these tables on SQLite must re-create the triggers
  (``invariants.check_all()`` reports missing ones).
- Deferred triggers fire at COMMIT; a test inside a rolled-back transaction must run
  ``SET CONSTRAINTS ALL IMMEDIATE`` to see them.
"""

from django.db import migrations

APPEND_ONLY = ["ledger_document", "ledger_documentline", "ledger_clearing", "ledger_blockevent"]
FROZEN_ITEM_COLUMNS = [
    "account_id",
    "document_id",
    "line_id",
    "concept",
    "side",
    "issue_date",
    "due_date",
    "amount",
]
FROZEN_MESSAGE = (
    "ledger_openitem: UPDATE of account_id, document_id, line_id, concept, side, "
    "issue_date, due_date or amount refused (only open_amount, cleared_on, blocked and "
    "block_reason may change)"
)


def sqlite_forward() -> list[str]:
    sql = []
    for table in APPEND_ONLY:
        for op in ("update", "delete"):
            sql.append(
                f"CREATE TRIGGER {table}_no_{op} BEFORE {op.upper()} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op.upper()} refused'); END"
            )
    sql.append(
        "CREATE TRIGGER ledger_openitem_no_delete BEFORE DELETE ON ledger_openitem "
        "BEGIN SELECT RAISE(ABORT, "
        "'ledger_openitem rows are never deleted: DELETE refused'); END"
    )
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_ITEM_COLUMNS)
    sql.append(
        "CREATE TRIGGER ledger_openitem_frozen_columns BEFORE UPDATE ON ledger_openitem "
        f"WHEN {changed} BEGIN SELECT RAISE(ABORT, '{FROZEN_MESSAGE}'); END"
    )
    return sql


def sqlite_backward() -> list[str]:
    names = [f"{t}_no_{op}" for t in APPEND_ONLY for op in ("update", "delete")]
    names += ["ledger_openitem_no_delete", "ledger_openitem_frozen_columns"]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]


def postgresql_forward() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_ITEM_COLUMNS)
    sql = [
        """
        CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION ledger_openitem_guard() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'ledger_openitem rows are never deleted: DELETE refused'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF {changed} THEN
                RAISE EXCEPTION '{FROZEN_MESSAGE}'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END
        $$
        """,
        """
        CREATE OR REPLACE FUNCTION ledger_check_document_balance() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            doc_id bigint;
            doc_amount bigint;
            lines_total bigint;
        BEGIN
            IF TG_TABLE_NAME = 'ledger_document' THEN
                doc_id := NEW.id;
            ELSE
                doc_id := NEW.document_id;
            END IF;
            SELECT amount INTO doc_amount FROM ledger_document WHERE id = doc_id;
            SELECT COALESCE(SUM(amount), 0) INTO lines_total
                FROM ledger_documentline WHERE document_id = doc_id;
            IF lines_total IS DISTINCT FROM doc_amount THEN
                RAISE EXCEPTION
                    'ledger_document % does not balance: lines sum to %, document amount is %',
                    doc_id, lines_total, doc_amount
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END
        $$
        """,
    ]
    for table in APPEND_ONLY:
        sql.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    sql.append(
        "CREATE TRIGGER ledger_openitem_guard BEFORE UPDATE OR DELETE ON ledger_openitem "
        "FOR EACH ROW EXECUTE FUNCTION ledger_openitem_guard()"
    )
    for table in ("ledger_document", "ledger_documentline"):
        sql.append(
            f"CREATE CONSTRAINT TRIGGER {table}_balanced AFTER INSERT ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "EXECUTE FUNCTION ledger_check_document_balance()"
        )
    return sql


def postgresql_backward() -> list[str]:
    sql = [f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}" for t in APPEND_ONLY]
    sql.append("DROP TRIGGER IF EXISTS ledger_openitem_guard ON ledger_openitem")
    sql += [
        f"DROP TRIGGER IF EXISTS {t}_balanced ON {t}"
        for t in ("ledger_document", "ledger_documentline")
    ]
    sql += [
        "DROP FUNCTION IF EXISTS ledger_refuse_change()",
        "DROP FUNCTION IF EXISTS ledger_openitem_guard()",
        "DROP FUNCTION IF EXISTS ledger_check_document_balance()",
    ]
    return sql


FORWARD = {"sqlite": sqlite_forward, "postgresql": postgresql_forward}
BACKWARD = {"sqlite": sqlite_backward, "postgresql": postgresql_backward}


def _run(table: dict, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in table:
        raise RuntimeError(
            f"Caudal's ledger supports SQLite and PostgreSQL, not {vendor}: "
            "the immutability triggers cannot be installed."
        )
    for statement in table[vendor]():
        # params=None: the SQL holds literal % signs (plpgsql RAISE) that must not be
        # read as query parameters.
        schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor) -> None:
    _run(FORWARD, schema_editor)


def backwards(apps, schema_editor) -> None:
    _run(BACKWARD, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
