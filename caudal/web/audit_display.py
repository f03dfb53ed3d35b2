"""Turning audit events into something staff can read: action labels and before/after diffs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from caudal.audit.models import AuditEvent
from caudal.kernel.money import MoneyError, format_money

ACTION_LABELS: dict[str, Any] = {
    "ledger.post_charge": _("Charge posted"),
    "ledger.post_payment": _("Payment posted"),
    "ledger.reverse_document": _("Document reversed"),
    "ledger.adjust": _("Adjustment"),
    "ledger.block_item": _("Item blocked"),
    "ledger.unblock_item": _("Item unblocked"),
    "ledger.write_off": _("Write-off"),
    "ledger.apply_credits": _("Credits applied"),
    "cadastre.import": _("Cadastre import"),
    "cadastre.create_account": _("Account created"),
    "cadastre.update_account": _("Account updated"),
    "cadastre.update_customer": _("Customer updated"),
    "cadastre.change_connection_status": _("Connection status changed"),
    "cadastre.install_meter": _("Meter installed"),
    "cadastre.remove_meter": _("Meter removed"),
    "cadastre.change_holder": _("Holder changed"),
}

FIELD_LABELS: dict[str, Any] = {
    "amount": _("amount"),
    "blocked": _("blocked"),
    "case_ref": _("complaint / case"),
    "credit_applied": _("credit applied"),
    "document": _("document"),
    "effective_on": _("effective on"),
    "kind": _("type"),
    "posting_date": _("posting date"),
    "reference": _("reference"),
    "status": _("status"),
    "reason": _("reason"),
}

MONEY_FIELDS = frozenset({"amount", "open_amount", "credit_applied", "balance", "applied"})


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    if label is not None:
        return str(label)
    return action.split(".")[-1].replace("_", " ").capitalize()


def _show(key: str, value: Any, currency: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("yes")) if value else str(_("no"))
    if key in MONEY_FIELDS and isinstance(value, int):
        try:
            return format_money(value, currency)
        except MoneyError:
            return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str
    changed: bool


def diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None, currency: str
) -> list[Change]:
    """Field-by-field view of an event: every key of before or after, changed ones flagged."""
    before = before if isinstance(before, dict) else ({} if before is None else {"": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"": after})
    keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
    out: list[Change] = []
    for key in keys:
        b = _show(key, before.get(key), currency) if key in before else ""
        a = _show(key, after.get(key), currency) if key in after else ""
        label = str(FIELD_LABELS.get(key, key.replace("_", " ")))
        out.append(Change(label, b, a, key in before and key in after and b != a))
    return out


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    label: str
    changes: list[Change]


def rows(events: list[AuditEvent], currency: str) -> list[EventRow]:
    return [EventRow(e, action_label(e.action), diff(e.before, e.after, currency)) for e in events]


@dataclass
class Page:
    rows: list[EventRow]
    next_cursor: str | None


def keyset_page(qs: QuerySet[AuditEvent], cursor: str | None, size: int, currency: str) -> Page:
    """Newest first, ``size`` events after ``cursor`` ("<iso time>_<id>"); no COUNT query."""
    qs = qs.select_related("actor").order_by("-at", "-id")
    if cursor:
        try:
            at_text, id_text = cursor.rsplit("_", 1)
            at, pk = datetime.fromisoformat(at_text), int(id_text)
            qs = qs.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
        except ValueError:
            pass
    events = list(qs[: size + 1])
    more = len(events) > size
    events = events[:size]
    nxt = f"{events[-1].at.isoformat()}_{events[-1].pk}" if more and events else None
    return Page(rows(events, currency), nxt)
