from django.apps import AppConfig


class CadastreConfig(AppConfig):
    name = "caudal.cadastre"
    label = "cadastre"
    verbose_name = "Catastro comercial"
