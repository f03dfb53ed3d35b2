"""Snapshot pages (see caudal/web/portfolio/urls.py and snapshot_views.py)."""

from django.urls import URLPattern, URLResolver, path

from . import snapshot_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("cartera/", snapshot_views.cartera_home, name="cartera-home"),
    path("cartera/cortes/<str:on>/", snapshot_views.snapshot_detail, name="snapshot-detail"),
    path(
        "cartera/cortes/<str:on>/archivos/<str:name>",
        snapshot_views.snapshot_file,
        name="snapshot-file",
    ),
]
