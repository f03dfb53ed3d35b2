"""Follow-up pages (seguimientos) under ``/cartera/seguimiento/`` (see
caudal/web/portfolio/urls.py); each takes ``?fecha=`` and ``?formato=xlsx``."""

from django.urls import URLPattern, URLResolver, path

from . import followup_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("cartera/seguimiento/etapas/", followup_views.stage, name="followup-stage"),
    path("cartera/seguimiento/dimensiones/", followup_views.dimension, name="followup-dimension"),
    path("cartera/seguimiento/bloqueadas/", followup_views.blocked, name="followup-blocked"),
    path("cartera/seguimiento/recaudo/", followup_views.recaudo, name="followup-recaudo"),
    path(
        "cartera/seguimiento/financiaciones/",
        followup_views.financing,
        name="followup-financing",
    ),
]
