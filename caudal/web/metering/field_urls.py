"""Meter-reading pages of the field side: the readers' mobile page and its JSON API, the
supervisors' progress page and route sheets, the reading calendar."""

from django.urls import URLPattern, URLResolver, path

from . import field_calendar, field_progress, field_views

urlpatterns: list[URLPattern | URLResolver] = [
    # the readers' mobile page (offline-capable) and its JSON API
    path("lecturas/campo/", field_views.field_home, name="field-home"),
    path("lecturas/campo/sw.js", field_views.service_worker, name="field-sw"),
    path("lecturas/campo/manifest.webmanifest", field_views.manifest, name="field-manifest"),
    path("lecturas/campo/rutas.json", field_views.routes_json, name="field-routes"),
    path(
        "lecturas/campo/rutas/<str:period>/<str:route>.json",
        field_views.route_json,
        name="field-route",
    ),
    path("lecturas/campo/sincronizar/", field_views.sync, name="field-sync"),
    # supervision
    path("lecturas/avance/", field_progress.progress_page, name="reading-progress"),
    path("lecturas/avance/asignar/", field_progress.assign, name="route-assign"),
    path(
        "lecturas/hojas/<str:period>/<str:route>.<str:fmt>",
        field_progress.route_sheet_file,
        name="route-sheet",
    ),
    path("lecturas/fotos/<int:reading_id>/", field_progress.photo, name="reading-photo"),
    # the reading calendar
    path("lecturas/calendario/", field_calendar.calendar_page, name="reading-calendar"),
    path("lecturas/calendario/generar/", field_calendar.generate, name="reading-calendar-generate"),
    path("lecturas/calendario/<int:pk>/", field_calendar.row, name="reading-calendar-row"),
    path(
        "lecturas/calendario/<int:pk>/editar/",
        field_calendar.edit_row,
        name="reading-calendar-edit",
    ),
    path("lecturas/calendario/feriados/", field_calendar.add_holiday, name="holiday-add"),
    path(
        "lecturas/calendario/feriados/<int:pk>/borrar/",
        field_calendar.delete_holiday,
        name="holiday-delete",
    ),
]
