"""dashboard pages (see caudal/web/portfolio/urls.py): the Cuadro de Mando Operativo."""

from django.urls import URLPattern, URLResolver, path

from . import dashboard_views as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("cartera/tablero/", views.dashboard, name="dashboard"),
    path("cartera/tablero/detalle/", views.drill, name="dashboard-drill"),
    path("cartera/tablero/exportar/", views.export, name="dashboard-export"),
]
