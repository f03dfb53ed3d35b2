"""Template filters for money, statuses and query strings."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

from caudal.kernel.money import MoneyError, format_money

register = template.Library()

STATUS_TONES = {
    # connection status
    "active": "ok",
    "feasible": "info",
    "cut": "danger",
    "removed": "muted",
    "clandestine": "danger",
    # meter status
    "installed": "ok",
    "broken": "warn",
    "stolen": "danger",
}


@register.filter
def money(minor: Any, currency: Any = "PEN") -> str:
    """``12345|money:currency`` → ``S/ 123.45``. Empty for None."""
    if minor is None or minor == "":
        return ""
    try:
        return format_money(int(minor), str(currency or "PEN"))
    except (MoneyError, TypeError, ValueError):
        return str(minor)


@register.filter
def amount(minor: Any, currency: Any = "PEN") -> str:
    """Like ``money`` without the symbol, for table columns; empty for 0 and None."""
    if minor in (None, "", 0):
        return ""
    try:
        return format_money(int(minor), str(currency or "PEN"), symbol=False)
    except (MoneyError, TypeError, ValueError):
        return str(minor)


@register.filter
def tone(status: str) -> str:
    """CSS tone of a status badge."""
    return STATUS_TONES.get(str(status), "muted")


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (None removes one)."""
    request = context.get("request")
    params = request.GET.copy() if request is not None else QueryDict(mutable=True)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return "?" + encoded if encoded else "?"


@register.filter
def minutes(delta: Any) -> int:
    """Whole minutes of a timedelta, rounded up."""
    try:
        return max(1, int(-(-delta.total_seconds() // 60)))
    except AttributeError:
        return 0


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """``mapping|get_item:key`` for dict lookups with a variable key."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
