"""Re-apply the role permissions after the portfolio and reports apps arrived."""

from django.db import migrations


def apply_roles(apps, schema_editor):
    from caudal.audit.roles import ensure_roles

    ensure_roles()


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0006_roles_collection"),
        ("portfolio", "0002_default_policies"),
        ("reports", "0001_initial"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
