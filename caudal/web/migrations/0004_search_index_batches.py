"""Search index on SQLite: new rows indexed in batches (not by a per-row INSERT trigger)
and prefix indexes for 1-3 letters.

Re-runs ``caudal.web.search_index.install`` (idempotent), which drops the insert trigger
of 0002, adds the watermark table and re-creates the FTS5 tables. Nothing changes on
PostgreSQL (the statements there are IF NOT EXISTS).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from caudal.web.search_index import install

    install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("web", "0003_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
