"""Re-apply the role permissions after metering, tariffs and billing arrived."""

from django.db import migrations


def apply_roles(apps, schema_editor):
    from caudal.audit.roles import ensure_roles

    ensure_roles()


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0004_search_index_batches"),
        ("metering", "0002_field_capture"),
        ("tariffs", "0001_initial"),
        ("billing", "0001_initial"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
