"""Testigo pages (see caudal/web/portfolio/urls.py): ``/cartera/cortes/<date>/testigos/`` and
its downloads ``/cartera/cortes/<date>/testigos/<vigente|vencida>.<xlsx|csv|parquet>``."""

from django.urls import URLPattern, URLResolver, re_path

from . import testigo_views

DAY = r"(?P<day>\d{4}-\d{2}-\d{2})"

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(
        rf"^cartera/cortes/{DAY}/testigos/$",
        testigo_views.testigo_list,
        name="testigos",
    ),
    re_path(
        rf"^cartera/cortes/{DAY}/testigos/(?P<which>vigente|vencida)\.(?P<fmt>xlsx|csv|parquet)$",
        testigo_views.testigo_download,
        name="testigo-download",
    ),
]
