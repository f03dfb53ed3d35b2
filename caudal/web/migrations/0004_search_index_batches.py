"""Search index on SQLite: index new rows in batches instead of a per-row INSERT trigger.

Re-runs ``caudal.web.search_index.install`` (idempotent), which drops the insert trigger
of 0002 and adds the watermark table. Nothing changes on PostgreSQL.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from caudal.web.search_index import install

    install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("web", "0003_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
