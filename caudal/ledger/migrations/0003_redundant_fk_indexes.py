"""Drop four single-column foreign-key indexes that composite indexes already cover.

Every insert into the ledger paid for them (millions of rows in a billing run or a migration)
and no query needs them: document_account_date, line_unique_no, item_account_issue and clearing_account_date start
with the same column. Plain DROP INDEX instead of AlterField: on SQLite, Django alters a
column by rebuilding the table, which would drop the immutability triggers of 0002.
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [
    ("ledger_document_account_id_12702b78", "ledger_document", "account_id"),
    ("ledger_documentline_document_id_c11f7517", "ledger_documentline", "document_id"),
    ("ledger_openitem_account_id_13fa0fd7", "ledger_openitem", "account_id"),
    ("ledger_clearing_account_id_e4176c6f", "ledger_clearing", "account_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("cadastre", "0002_redundant_fk_indexes"),
        ("ledger", "0002_immutability"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in DROPPED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="document",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="documents",
                        to="cadastre.account",
                        verbose_name="suministro",
                    ),
                ),
                migrations.AlterField(
                    model_name="documentline",
                    name="document",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lines",
                        to="ledger.document",
                        verbose_name="documento",
                    ),
                ),
                migrations.AlterField(
                    model_name="openitem",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="open_items",
                        to="cadastre.account",
                        verbose_name="suministro",
                    ),
                ),
                migrations.AlterField(
                    model_name="clearing",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="cadastre.account",
                        verbose_name="suministro",
                    ),
                ),
            ],
        )
    ]
