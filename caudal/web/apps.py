from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "caudal.web"
    label = "web"
