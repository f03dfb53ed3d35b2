from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "caudal.metering"
    label = "metering"
    verbose_name = "Lecturas"
