"""The collection office (office_views): home, centres and keys, days and settlements,
payment files, reconnections due and reports, under ``/recaudacion/``."""

from django.urls import URLPattern, URLResolver, path

from . import office_views as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("recaudacion/", views.home, name="collection-home"),
    path("recaudacion/centros/", views.centres, name="collection-centres"),
    path("recaudacion/centros/nuevo/", views.centre_new, name="collection-centre-new"),
    path("recaudacion/centros/<str:code>/", views.centre_detail, name="collection-centre"),
    path(
        "recaudacion/centros/<str:code>/editar/", views.centre_edit, name="collection-centre-edit"
    ),
    path(
        "recaudacion/centros/<str:code>/puntos/nuevo/",
        views.point_new,
        name="collection-point-new",
    ),
    path(
        "recaudacion/centros/<str:code>/puntos/<int:pk>/",
        views.point_edit,
        name="collection-point-edit",
    ),
    path(
        "recaudacion/centros/<str:code>/claves/nueva/",
        views.key_issue,
        name="collection-key-issue",
    ),
    path("recaudacion/claves/<int:pk>/rotar/", views.key_rotate, name="collection-key-rotate"),
    path("recaudacion/claves/<int:pk>/revocar/", views.key_revoke, name="collection-key-revoke"),
    path("recaudacion/dias/<str:code>/<str:day>/", views.day, name="collection-day"),
    path("recaudacion/liquidaciones/", views.settlements, name="collection-settlements"),
    path("recaudacion/liquidaciones/cerrar/", views.close_day, name="collection-close-day"),
    path(
        "recaudacion/liquidaciones/<int:pk>/deposito/",
        views.deposit,
        name="collection-deposit",
    ),
    path("recaudacion/archivos/", views.files, name="collection-files"),
    path("recaudacion/reconexiones/", views.reconnections, name="collection-reconnections"),
    path("recaudacion/reportes/", views.reports_index, name="collection-reports"),
    path("recaudacion/reportes/comisiones/", views.commission, name="collection-commission"),
    path(
        "recaudacion/reportes/comisiones.pdf",
        views.commission_pdf,
        name="collection-commission-pdf",
    ),
    path(
        "recaudacion/reportes/comisiones.xlsx",
        views.commission_xlsx,
        name="collection-commission-xlsx",
    ),
    path("recaudacion/reportes/recaudo/", views.recaudo, name="collection-recaudo"),
    path("recaudacion/reportes/recaudo.xlsx", views.recaudo_xlsx, name="collection-recaudo-xlsx"),
    path(
        "recaudacion/reportes/recaudo-mensual.pdf",
        views.recaudo_pdf,
        name="collection-recaudo-pdf",
    ),
]
