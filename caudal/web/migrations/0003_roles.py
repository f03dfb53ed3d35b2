"""Create the role groups (see ``caudal.audit.roles``). ``caudal setup-roles`` does the same."""

from django.db import migrations


def forwards(apps, schema_editor):
    from caudal.audit.roles import ensure_roles

    ensure_roles()


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0002_search_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0001_initial"),
        ("cadastre", "0001_initial"),
        ("ledger", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
