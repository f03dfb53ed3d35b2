"""Drop two foreign-key indexes that composite indexes already cover.

- ``cadastre_property.route_id``: the ``property_route_seq`` index (route, sequence) starts
  with it.
- ``cadastre_connection.account_id``: the unique ``connection_one_per_service`` (account,
  service) starts with it.

Each index cost a B-tree insert per row in the bulk imports and answered nothing the
composite one does not. Done with ``DROP INDEX`` rather than Django's ``AlterField`` so that
SQLite does not re-create the tables (which would drop the triggers other apps keep on
them, e.g. the web's search index on ``cadastre_property``).
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "cadastre_property_route_id_7c926a76": ("cadastre_property", "route_id"),
    "cadastre_connection_account_id_41257b8d": ("cadastre_connection", "account_id"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("cadastre", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="connection",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="connections",
                        to="cadastre.account",
                        verbose_name="suministro",
                    ),
                ),
                migrations.AlterField(
                    model_name="property",
                    name="route",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="properties",
                        to="cadastre.route",
                        verbose_name="ruta",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, (table, column) in INDEXES.items()
            ],
        ),
    ]
