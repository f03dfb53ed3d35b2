"""The readers' mobile page (``/lecturas/campo/``) and its JSON API.

The page is a shell (HTML, ``static/metering/field.js`` and ``field.css``) that a service
worker caches, so it opens without a connection; the routes and each route's accounts
come as JSON (cached by the service worker and in IndexedDB); readings are queued in
IndexedDB and sent to :func:`sync` in batches (``caudal.metering.capture``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from caudal.cadastre.models import Route
from caudal.kernel.periods import Period
from caudal.metering import capture, sheets

from ..permissions import require_perms

READ_METERS = "metering.read_meters"
#: Bumped when the shell changes in a way the asset URLs do not show.
SHELL_VERSION = "3"
ASSETS = ("metering/field.js", "metering/field.css", "caudal/favicon.svg")


def _json_error(message: str, field: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message, "field": field}, status=status)


def _config(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "user": user.get_full_name() or user.get_username(),  # type: ignore[union-attr]
        "username": user.get_username(),
        "routes_url": reverse("field-routes"),
        "route_url": reverse("field-route", args=["PERIOD", "ROUTE"]),
        "sync_url": reverse("field-sync"),
        "sw_url": reverse("field-sw"),
        "login_url": reverse("login") + "?next=" + reverse("field-home"),
        "csrf": get_token(request),
        "observations": sheets.observation_legend(),
    }


@require_GET
@never_cache
@require_perms(READ_METERS)
def field_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/metering/field.html",
        {"config": _config(request), "manifest_url": reverse("field-manifest")},
    )


@login_not_required
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served under ``/lecturas/campo/`` so that its scope covers
    the page. Holds nothing private; caches what the signed-in page fetches."""
    assets = [static(a) for a in ASSETS]
    version = SHELL_VERSION + "-" + hashlib.sha256("|".join(assets).encode()).hexdigest()[:10]
    response = render(
        request,
        "web/metering/field_sw.js",
        {
            "version": version,
            "shell": reverse("field-home"),
            "api_prefix": reverse("field-home"),
            "assets": json.dumps(assets),
        },
        content_type="application/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response


@login_not_required
@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """Web app manifest: the page can be added to the phone's home screen."""
    response = JsonResponse(
        {
            "name": _("Caudal · Lecturas"),
            "short_name": _("Lecturas"),
            "start_url": reverse("field-home"),
            "scope": reverse("field-home"),
            "display": "standalone",
            "background_color": "#f3f5f8",
            "theme_color": "#0b4a6f",
            "icons": [
                {"src": static("caudal/favicon.svg"), "sizes": "any", "type": "image/svg+xml"}
            ],
        },
        content_type="application/manifest+json",
    )
    return response


@require_GET
@never_cache
@require_perms(READ_METERS)
def routes_json(request: HttpRequest) -> JsonResponse:
    """The reader's routes today, with a fresh CSRF token for the sync."""
    entries = capture.reader_routes(request.user)  # type: ignore[arg-type]
    return JsonResponse(
        {
            "user": request.user.get_full_name() or request.user.get_username(),  # type: ignore[union-attr]
            "csrf": get_token(request),
            "today": timezone.localdate().isoformat(),
            "server_time": timezone.now().isoformat(timespec="seconds"),
            "routes": [e.as_dict() for e in entries],
            "observations": sheets.observation_legend(),
        }
    )


@require_GET
@never_cache
@require_perms(READ_METERS)
def route_json(request: HttpRequest, period: str, route: str) -> JsonResponse:
    """One route's accounts in sequence; only the re-read orders once the window closed."""
    try:
        Period.parse(period)
    except ValueError:
        return _json_error(_("periodo no válido: use AAAA-MM"), "period", 400)
    found = Route.objects.select_related("cycle").filter(code=route).first()
    if found is None:
        return _json_error(_("la ruta %(route)s no existe") % {"route": route}, "route", 404)
    try:
        calendar = capture.check_route_access(request.user, period, found)  # type: ignore[arg-type]
    except capture.RouteAccess as exc:
        return _json_error(str(exc), exc.field, exc.status)
    today = timezone.localdate()
    mode = "reading" if calendar.read_from <= today <= calendar.read_to else "reread"
    sheet = sheets.route_sheet(period, found, only_reread=mode == "reread")
    return JsonResponse({**sheet.as_dict(), "mode": mode})


@require_POST
@never_cache
@require_perms(READ_METERS)
def sync(request: HttpRequest) -> JsonResponse:
    """Store a batch of queued readings: ``{"readings": [...]}`` (see ``capture``).

    200 when every item was stored or already was; 422 when some were rejected (the
    others are stored; each rejected item names its field); 400 for a malformed body.
    """
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return _json_error(_("el cuerpo no es JSON válido"), "body", 400)
    if not isinstance(body, dict) or "readings" not in body:
        return _json_error(_("falta la lista de lecturas"), "readings", 400)
    try:
        result = capture.do_sync_readings(body["readings"], actor=request.user)  # type: ignore[arg-type]
    except capture.BatchError as exc:
        return _json_error(str(exc), exc.field, 400)
    return JsonResponse(result.as_dict(), status=422 if result.rejected else 200)
