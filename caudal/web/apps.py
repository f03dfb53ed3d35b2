from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "caudal.web"
    label = "web"
    verbose_name = "Web"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
