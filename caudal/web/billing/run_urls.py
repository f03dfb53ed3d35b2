"""Billing runs: list and launch (``/facturacion/``), one run (``/facturacion/<id>/``)."""

from django.urls import URLPattern, URLResolver, path

from . import run_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("facturacion/", run_views.run_list, name="billing-runs"),
    path("facturacion/nueva/", run_views.run_start, name="billing-run-start"),
    path("facturacion/<int:pk>/", run_views.run_detail, name="billing-run"),
    path("facturacion/<int:pk>/reanudar/", run_views.run_resume, name="billing-run-resume"),
]
