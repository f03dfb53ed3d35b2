from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "caudal.billing"
    label = "billing"
    verbose_name = "Facturación"
