"""Management report pages under ``/informes/`` (see :mod:`caudal.web.reports.views`)."""

from django.urls import URLPattern, URLResolver, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("informes/", views.report_list, name="reports-list"),
    path("informes/nuevo/", views.report_new, name="report-new"),
    path("informes/<int:pk>/", views.report_detail, name="report-detail"),
    path("informes/<int:pk>/editar/", views.report_edit, name="report-edit"),
    path("informes/<int:pk>/flujo/", views.report_step, name="report-step"),
    path("informes/<int:pk>/borrador.pdf", views.report_pdf_view, name="report-pdf"),
    path("informes/<int:pk>/anexo.xlsx", views.report_xlsx_view, name="report-xlsx"),
    path("informes/<int:pk>/publicado.pdf", views.report_archive, name="report-archive"),
]
