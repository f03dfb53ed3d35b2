from django.apps import AppConfig


class TariffsConfig(AppConfig):
    name = "caudal.tariffs"
    label = "tariffs"
    verbose_name = "Tarifas"
