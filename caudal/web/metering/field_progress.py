"""Supervision of the reading: progress per route (refreshed by htmx polling), route
assignment, route sheets (PDF, CSV, JSON) and reading photos."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from caudal.cadastre.models import Route
from caudal.kernel.periods import Period
from caudal.metering import capture, progress, sheets
from caudal.metering.models import Reading, ReadingCalendar

from ..context_processors import get_utility
from ..permissions import require_perms

SUPERVISE = "metering.supervise_reading"
ASSIGN = "metering.assign_routes"
READ_METERS = "metering.read_meters"
POLL_SECONDS = 5


def readers() -> list[tuple[str, str]]:
    """(username, name) of the active users who may read meters (role or own permission)."""
    perm = Permission.objects.get(codename="read_meters", content_type__app_label="metering")
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__permissions=perm) | Q(user_permissions=perm) | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    return [(u.get_username(), u.get_full_name() or u.get_username()) for u in users]


def _period(request: HttpRequest) -> str:
    code = request.GET.get("periodo", "")
    try:
        return Period.parse(code).code
    except ValueError:
        return progress.default_period()


@require_GET
@require_perms(SUPERVISE)
def progress_page(request: HttpRequest) -> HttpResponse:
    period = _period(request)
    data = progress.reading_progress(period, cycle=request.GET.get("ciclo", ""))
    partial = (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
    periods = (
        []
        if partial
        else list(
            ReadingCalendar.objects.order_by("-period")
            .values_list("period", flat=True)
            .distinct()[:24]
        )
    )
    context = {
        "p": data,
        "totals": data.totals(),
        "period": period,
        "periods": periods,
        "poll": POLL_SECONDS,
        "can_assign": request.user.has_perm(ASSIGN),
        "readers": readers() if request.user.has_perm(ASSIGN) and not partial else [],
        "nav": "reading-progress",
    }
    template = "web/metering/progress_table.html" if partial else "web/metering/progress.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@require_perms(SUPERVISE, ASSIGN)
def assign(request: HttpRequest) -> HttpResponse:
    period = request.POST.get("periodo", "")
    route = get_object_or_404(Route, code=request.POST.get("ruta", ""))
    username = request.POST.get("lector", "").strip()
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("reading-progress")
    try:
        Period.parse(period)
    except ValueError:
        messages.error(request, _("Periodo no válido."))
        return redirect(back)
    reader = None
    if username:
        reader = get_user_model().objects.filter(username=username, is_active=True).first()
        if reader is None or not reader.has_perm(READ_METERS):
            messages.error(request, _("%(u)s no es lector.") % {"u": username})
            return redirect(back)
    capture.do_assign_route(period=period, route=route, reader=reader, actor=request.user)
    if reader:
        messages.info(
            request,
            _("Ruta %(route)s asignada a %(name)s en %(period)s.")
            % {"route": route.code, "name": reader.get_full_name() or username, "period": period},
        )
    else:
        messages.info(
            request,
            _("Ruta %(route)s abierta a todos los lectores en %(period)s.")
            % {"route": route.code, "period": period},
        )
    return redirect(back)


@require_GET
@require_perms(SUPERVISE)
def route_sheet_file(request: HttpRequest, period: str, route: str, fmt: str) -> HttpResponse:
    if fmt not in ("pdf", "csv", "json"):
        raise Http404
    try:
        Period.parse(period)
    except ValueError as exc:
        raise Http404 from exc
    found = get_object_or_404(Route.objects.select_related("cycle"), code=route)
    sheet = sheets.route_sheet(period, found)
    name = f"hoja-de-ruta_{found.code}_{period}.{fmt}"
    if fmt == "pdf":
        body: bytes | str = sheets.sheet_pdf(sheet, utility_name=get_utility(request).name)
        content_type = "application/pdf"
    elif fmt == "csv":
        body, content_type = sheets.sheet_csv(sheet), "text/csv; charset=utf-8"
    else:
        body, content_type = sheets.sheet_json(sheet), "application/json"
    response = HttpResponse(body, content_type=content_type)
    disposition = "inline" if fmt == "pdf" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response


@require_GET
@require_perms(SUPERVISE)
def photo(request: HttpRequest, reading_id: int) -> FileResponse:
    reading = get_object_or_404(Reading.objects.only("photo"), pk=reading_id)
    if not reading.photo:
        raise Http404
    root = capture.photo_root().resolve()
    path = (root / reading.photo).resolve()
    if root not in path.parents or not Path(path).is_file():
        raise Http404
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path.open("rb"), content_type=content_type)
