"""The cash desk and the supervisor's cashier sessions (cashdesk_views)."""

from django.urls import URLPattern, URLResolver, path

from . import cashdesk_views as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("caja/", views.desk, name="cash-desk"),
    path("caja/abrir/", views.open_session, name="cash-desk-open"),
    path("caja/cobrar/", views.pay, name="cash-desk-pay"),
    path("caja/pagos/<int:pk>/anular/", views.reverse_payment, name="cash-desk-reverse"),
    path("caja/comprobantes/<int:pk>.pdf", views.receipt_pdf, name="cash-desk-receipt"),
    path("caja/cerrar/", views.close_session, name="cash-desk-close"),
    path("caja/sesiones/", views.sessions, name="cash-sessions"),
    path("caja/sesiones/<int:pk>/", views.session_detail, name="cash-sessions-detail"),
    path("caja/sesiones/<int:pk>/revisar/", views.review_session, name="cash-sessions-review"),
]
