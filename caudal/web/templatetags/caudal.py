"""Template filters for money, statuses and query strings."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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


# --- hot tables ------------------------------------------------------------------------
# The open items and statement tables of the 360 page can hold a hundred rows; building
# their rows here (escaped with ``escape``) costs a fraction of the template engine's
# per-variable lookups. The column headers stay in the templates.


def _num(
    minor: int, currency: str, *, negative: bool = False, strong: bool = False, cls: str = "num"
) -> str:
    if not minor:
        return f'<td class="{cls}"></td>'
    text = format_money(minor, currency, symbol=False)
    if negative:
        text = "−" + text
    if strong:
        text = f"<strong>{text}</strong>"
    return f'<td class="{cls}">{text}</td>'


@register.simple_tag
def item_rows(rows: Any, kind_labels: dict[str, str], currency: Any) -> SafeString:
    """``<tr>`` rows of the open items table (see ``_items_table.html`` for the columns)."""
    from django.utils.translation import gettext

    from caudal.ledger.models import Concept

    cur = str(currency)
    concepts = {k: str(v) for k, v in Concept.choices}
    in_favour = escape(gettext("In favour"))
    blocked = escape(gettext("Blocked"))
    overdue = escape(gettext("Overdue"))
    current = escape(gettext("Current"))
    out = []
    for r in rows:
        item = r.item
        if r.is_credit:
            status = f'<span class="badge badge-ok">{in_favour}</span>'
        elif item.blocked:
            status = f'<span class="badge badge-warn">{blocked}</span>'
            if item.block_reason:
                status += f' <span class="muted reason">{escape(item.block_reason)}</span>'
        elif r.days_past_due > 0:
            status = f'<span class="badge badge-danger">{overdue}</span>'
        else:
            status = f'<span class="badge badge-info">{current}</span>'
        days = str(r.days_past_due) if r.days_past_due else '<span class="muted">—</span>'
        row_class = ' class="is-blocked"' if item.blocked else ""
        kind = escape(kind_labels.get(r.doc_kind, r.doc_kind))
        out.append(
            f"<tr{row_class}>"
            f'<td class="nowrap"><span class="muted">{kind}</span> {escape(r.doc_reference)}</td>'
            f"<td>{escape(concepts.get(item.concept, item.concept))}</td>"
            f'<td class="nowrap">{item.issue_date:%d/%m/%Y}</td>'
            f'<td class="nowrap">{item.due_date:%d/%m/%Y}</td>'
            f'<td class="num">{days}</td>'
            f"{_num(item.amount, cur, negative=r.is_credit)}"
            f"{_num(r.open_amount, cur, negative=r.is_credit, strong=True)}"
            f"<td>{status}</td></tr>"
        )
    return mark_safe("\n".join(out))  # noqa: S308  (every value above is escaped)


@register.simple_tag
def statement_rows(rows: Any, kind_labels: dict[str, str], currency: Any) -> SafeString:
    """``<tr>`` rows of a statement table (see ``_statement_table.html`` for the columns)."""
    cur = str(currency)
    out = []
    for r in rows:
        opening = ' class="is-opening"' if r.document_id is None else ""
        out.append(
            f"<tr{opening}>"
            f'<td class="nowrap">{r.date:%d/%m/%Y}</td>'
            f'<td class="nowrap">{escape(kind_labels.get(r.kind, r.kind))}</td>'
            f'<td class="nowrap mono">{escape(r.reference or "")}</td>'
            f"<td>{escape(r.description)}</td>"
            f"{_num(r.debit, cur)}"
            f"{_num(r.credit, cur, cls='num neg')}"
            f'<td class="num"><strong>{escape(format_money(r.running_balance, cur))}</strong></td>'
            "</tr>"
        )
    return mark_safe("\n".join(out))  # noqa: S308  (every value above is escaped)
