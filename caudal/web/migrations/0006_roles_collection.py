"""Re-apply the role permissions after the collection app arrived."""

from django.db import migrations


def apply_roles(apps, schema_editor):
    from caudal.audit.roles import ensure_roles

    ensure_roles()


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0005_roles_billing"),
        ("collection", "0001_initial"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
