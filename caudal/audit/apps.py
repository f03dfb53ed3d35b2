from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "caudal.audit"
    label = "audit"
    verbose_name = "Auditoría"
