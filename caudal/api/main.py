"""The HTTP API ``/api/v1/`` (django-ninja), its key authentication and its error format.

- Authentication: a collection centre's key, ``Authorization: Bearer cau_<prefix>_<secret>``
  or ``X-Api-Key: cau_<prefix>_<secret>`` (:func:`caudal.collection.actions.authenticate`).
  Keys, not cookies: no session, no CSRF, no login redirect.
- Every error is JSON ``{"code", "message", "errors"}``: ``code`` is stable (the codes of
  :mod:`caudal.collection.errors` plus ``unauthorized``, ``bad_request`` and ``busy``),
  ``message`` is Spanish, ``errors`` names the fields of a validation error.
- The interactive docs page is off: django-ninja's page loads Swagger UI from a CDN unless
  ``ninja`` is an installed app, and Caudal loads nothing from a CDN. The OpenAPI document
  is at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from caudal.api.collection import router as collection_router
from caudal.api.common import BAD_REQUEST, BUSY, UNAUTHORIZED, BearerKey, HeaderKey
from caudal.collection import errors
from caudal.kernel.errors import DomainError

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Caudal API",
    version="1",
    description=(
        "API de Caudal para centros autorizados de recaudación (CAR) y bancos: consulta de "
        "deuda, registro idempotente de pagos, reversión y liquidación diaria. Los importes "
        "son enteros en unidades menores (céntimos / centavos) de la moneda indicada en "
        "`currency` (ISO 4217). Guía: docs/api.md."
    ),
    auth=[BearerKey(), HeaderKey()],
    docs_url=None,
    urls_namespace="api-v1",
)


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message, "errors": fields or []}
    return api.create_response(request, body, status=status)


@api.exception_handler(errors.PaymentRefused)
def _refused(request: HttpRequest, exc: errors.PaymentRefused) -> HttpResponse:
    return error_response(request, exc.status, exc.code, str(exc))


@api.exception_handler(DomainError)
def _domain(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(request, 422, errors.INVALID, str(exc))


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request,
        401,
        UNAUTHORIZED,
        _("Clave de API ausente, inválida o revocada."),
    )
    response["WWW-Authenticate"] = 'Bearer realm="caudal"'
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        return error_response(
            request, 400, BAD_REQUEST, _("El cuerpo de la solicitud no es JSON válido.")
        )
    return error_response(request, exc.status_code, errors.INVALID, str(exc))


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "payload", "amount")`` → ``amount``; ``("header", "Idempotency-Key")`` →
    ``Idempotency-Key``; ``("query", "date")`` → ``date``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
        if parts and parts[0] == "payload":
            parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [
        {"field": _field_name(e.get("loc", ())), "message": str(e.get("msg", ""))}
        for e in exc.errors
    ]
    names = ", ".join(dict.fromkeys(f["field"] for f in fields))
    return error_response(
        request,
        422,
        errors.INVALID,
        _("Datos inválidos en: %(fields)s.") % {"fields": names},
        fields,
    )


@api.exception_handler(OperationalError)
def _busy(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    """SQLite's ``database is locked`` after the busy timeout, a lost PostgreSQL connection:
    nothing was posted (the transaction rolled back); the client retries with the same key."""
    log.warning("API request failed on the database: %s", exc)
    response = error_response(
        request, 503, BUSY, _("Base de datos ocupada: reintente con la misma clave.")
    )
    response["Retry-After"] = "1"
    return response


api.add_router("/", collection_router)


def _no_login(patterns: list[URLPattern | URLResolver]) -> None:
    """The API authenticates with keys: exempt its views from LoginRequiredMiddleware."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _no_login(pattern.url_patterns)
        else:
            pattern.callback.login_required = False  # type: ignore[attr-defined]


def urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    patterns, app_name, namespace = api.urls
    _no_login(patterns)
    return patterns, app_name, namespace
