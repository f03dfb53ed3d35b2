"""Permission checks for views, keyed on the permissions that roles grant.

Anonymous users never reach a view: ``LoginRequiredMiddleware`` redirects them to the
login page. An authenticated user without the permission gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

SEARCH = "web.search_accounts"
ACCOUNT_360 = "web.view_account_360"
EXPORT_STATEMENT = "web.export_statement"
AUDIT_TRAIL = "audit.view_audit_trail"
ADMIN = "web.access_admin"
FIELD_WORK = "web.field_work"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def require_perms(*perms: str) -> Callable[[View], View]:
    """Decorate a view so that it answers 403 unless the user has every permission."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_perms = perms  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
