from django.apps import AppConfig


class CollectionConfig(AppConfig):
    name = "caudal.collection"
    label = "collection"
    verbose_name = "Recaudación"
