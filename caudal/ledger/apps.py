from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "caudal.ledger"
    label = "ledger"
    verbose_name = "Cuenta corriente"
