from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "caudal.portfolio"
    label = "portfolio"
    verbose_name = "Cartera"
