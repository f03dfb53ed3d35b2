"""Indicator and policy pages (see caudal/web/portfolio/urls.py and kpi_views.py)."""

from django.urls import URLPattern, URLResolver, path

from . import kpi_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("cartera/indicadores/", kpi_views.kpi_list, name="kpis"),
    path("cartera/indicadores/calcular/", kpi_views.kpi_compute, name="kpi-compute"),
    path("cartera/indicadores/metas/", kpi_views.kpi_targets, name="kpi-targets"),
    path(
        "cartera/indicadores/<str:code>/nueva-version/",
        kpi_views.kpi_formula_new,
        name="kpi-formula-new",
    ),
    path("cartera/politicas/", kpi_views.cartera_policies, name="cartera-policies"),
]
