"""What every page's layout needs: the utility, the user's roles and what they may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from caudal.audit.roles import role_label
from caudal.cadastre.models import UtilitySettings

from . import permissions as p


def get_utility(request: HttpRequest) -> UtilitySettings:
    """The utility settings, read once per request."""
    utility = getattr(request, "_caudal_utility", None)
    if utility is None:
        utility = UtilitySettings.current()
        request._caudal_utility = utility  # type: ignore[attr-defined]
    return utility


def _roles(request: HttpRequest) -> list[str]:
    user = request.user
    if not user.is_authenticated:
        return []
    labels = [role_label(name) for name in user.groups.values_list("name", flat=True)]
    if user.is_superuser:
        labels.insert(0, "Superusuario")
    return labels


def _can(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "search": user.has_perm(p.SEARCH),
        "account": user.has_perm(p.ACCOUNT_360),
        "export": user.has_perm(p.EXPORT_STATEMENT),
        "audit_trail": user.has_perm(p.AUDIT_TRAIL),
        "admin": user.is_active and (user.is_staff or user.has_perm(p.ADMIN)),
        "reading_progress": user.has_perm("metering.supervise_reading"),
        "critique": user.has_perm("metering.critique_readings"),
        "calendar": user.has_perm("metering.supervise_reading")
        or user.has_perm("metering.manage_calendar"),
        "field": user.has_perm("metering.read_meters"),
        "billing": user.has_perm("billing.run_billing"),
        "tariffs": user.has_perm("tariffs.view_tariffversion"),
        "cash_desk": user.has_perm("collection.take_payments"),
        "cash_sessions": user.has_perm("collection.supervise_cash"),
        "collections": user.has_perm("collection.view_collections"),
        "cartera": user.has_perm("portfolio.view_cartera"),
        "reports": user.has_perm("reports.view_reports"),
    }


def chrome(request: HttpRequest) -> dict[str, Any]:
    utility = SimpleLazyObject(lambda: get_utility(request))
    return {
        "utility": utility,
        "currency": SimpleLazyObject(lambda: utility.currency),
        "user_roles": SimpleLazyObject(lambda: _roles(request)),
        "can": SimpleLazyObject(lambda: _can(request)),
    }
