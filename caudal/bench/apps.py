from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "caudal.bench"
    label = "bench"
