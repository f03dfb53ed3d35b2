from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "caudal.reports"
    label = "reports"
    verbose_name = "Informes de gestión"
