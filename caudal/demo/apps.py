from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "caudal.demo"
    label = "demo"
