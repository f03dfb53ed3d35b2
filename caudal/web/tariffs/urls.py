"""Tariff pages: versions, one version with its simulator, the import of a tariff file."""

from django.urls import URLPattern, URLResolver, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("tarifas/", views.tariff_list, name="tariff-list"),
    path("tarifas/importar/", views.tariff_import, name="tariff-import"),
    path("tarifas/<int:pk>/", views.tariff_detail, name="tariff-detail"),
]
