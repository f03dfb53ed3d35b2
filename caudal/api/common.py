"""What every router of the API shares: key authentication, the actor, the error schema."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Schema
from ninja.security import APIKeyHeader, HttpBearer

from caudal.collection.actions import authenticate
from caudal.collection.models import ApiKey

UNAUTHORIZED = "unauthorized"  # 401: no key, malformed, unknown, revoked, centre inactive
BAD_REQUEST = "bad_request"  # 400: the body is not JSON
BUSY = "busy"  # 503: the database is busy; retry with the same idempotency key


class FieldError(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    """An error. ``code`` is stable; branch on it, not on the message."""

    code: str
    message: str
    errors: list[FieldError] = []


def actor_of(request: HttpRequest) -> str:
    """The audit actor of an API request: ``api:<centre code>:<key prefix>``."""
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    return f"api:{key.centre.code}:{key.prefix}"


class BearerKey(HttpBearer):
    """``Authorization: Bearer cau_<prefix>_<secret>``."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return authenticate(token)


class HeaderKey(APIKeyHeader):
    """``X-Api-Key: cau_<prefix>_<secret>`` (for clients that cannot set Authorization)."""

    param_name = "X-Api-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        return authenticate(key or "")
