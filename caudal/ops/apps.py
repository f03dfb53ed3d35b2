from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operational commands: serving the web app in production mode."""

    name = "caudal.ops"
    label = "ops"
    verbose_name = "Operación"
