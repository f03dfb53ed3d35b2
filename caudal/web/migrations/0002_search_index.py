"""Accent- and case-insensitive search indexes on customer names and property addresses.

See ``caudal.web.search_index`` for what is created on each engine.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from caudal.web.search_index import install

    install(schema_editor.connection)


def backwards(apps, schema_editor):
    from caudal.web.search_index import uninstall

    uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0001_initial"),
        ("cadastre", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
