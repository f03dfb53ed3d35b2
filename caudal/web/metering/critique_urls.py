"""Reading critique pages (``/lecturas/critica/``)."""

from django.urls import URLPattern, URLResolver, path

from . import critique_views as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("lecturas/critica/", v.critique_page, name="critique"),
    path("lecturas/critica/ejecutar/", v.run, name="critique-run"),
    path("lecturas/critica/aceptar-filtradas/", v.bulk_accept, name="critique-bulk-accept"),
    path("lecturas/critica/releer-filtradas/", v.bulk_reread, name="critique-bulk-reread"),
    path("lecturas/critica/<int:pk>/aceptar/", v.accept, name="critique-accept"),
    path("lecturas/critica/<int:pk>/corregir/", v.correct, name="critique-correct"),
    path("lecturas/critica/<int:pk>/estimar/", v.estimate, name="critique-estimate"),
    path("lecturas/critica/<int:pk>/releer/", v.reread, name="critique-reread"),
]
