"""Turning audit events into something staff can read: action labels and before/after diffs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from caudal.audit.models import AuditEvent
from caudal.kernel.money import MoneyError, format_money
from caudal.ledger.models import DocumentKind

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
    "ledger.pay_documents": _("Pagos aplicados en lote"),
    "ledger.import_balances": _("Importación de saldos"),
    "metering.generate_calendar": _("Calendario de lectura generado"),
    "metering.edit_calendar": _("Calendario de lectura editado"),
    "metering.add_holiday": _("Feriado agregado"),
    "metering.delete_holiday": _("Feriado quitado"),
    "metering.assign_route": _("Ruta de lectura asignada"),
    "metering.sync_readings": _("Lecturas recibidas del equipo"),
    "metering.import_readings": _("Importación de lecturas"),
    "metering.critique": _("Crítica de lectura ejecutada"),
    "metering.accept_reading": _("Lectura aceptada"),
    "metering.correct_reading": _("Lectura corregida"),
    "metering.estimate_reading": _("Consumo estimado"),
    "metering.order_reread": _("Relectura ordenada"),
    "metering.bulk_accept": _("Lecturas aceptadas en lote"),
    "metering.bulk_order_reread": _("Relecturas ordenadas en lote"),
    "tariffs.import": _("Tarifa importada"),
    "billing.run": _("Facturación del periodo"),
    "billing.simulate": _("Simulación de facturación"),
    "billing.rebill": _("Refacturación"),
    "collection.create_centre": _("Centro de recaudo creado"),
    "collection.update_centre": _("Centro de recaudo modificado"),
    "collection.create_point": _("Punto de pago creado"),
    "collection.update_point": _("Punto de pago modificado"),
    "collection.issue_key": _("Clave de API emitida"),
    "collection.revoke_key": _("Clave de API revocada"),
    "collection.reverse_payment": _("Pago reversado"),
    "collection.close_day": _("Día liquidado"),
    "collection.register_deposit": _("Depósito registrado"),
    "collection.import_payments": _("Archivo de pagos importado"),
    "collection.open_session": _("Sesión de caja abierta"),
    "collection.take_payment": _("Pago cobrado en caja"),
    "collection.close_session": _("Sesión de caja cerrada"),
    "collection.review_session": _("Sesión de caja revisada"),
    "collection.print_receipt": _("Comprobante impreso"),
    "portfolio.take_snapshot": _("Corte de cartera tomado"),
    "portfolio.snapshot_failed": _("Corte de cartera fallido"),
    "portfolio.download_testigo": _("Testigo de cartera descargado"),
    "portfolio.export_dashboard": _("Listado del tablero exportado"),
    "portfolio.compute_kpis": _("Indicadores calculados"),
    "portfolio.set_kpi_target": _("Meta de indicador registrada"),
    "portfolio.delete_kpi_target": _("Meta de indicador eliminada"),
    "portfolio.new_kpi_formula": _("Nueva versión de fórmula de indicador"),
    "portfolio.new_stage_policy": _("Nueva versión de la política de etapas"),
    "portfolio.new_aging_policy": _("Nueva versión de la política de edades"),
    "reports.create": _("Informe de gestión creado"),
    "reports.edit": _("Informe de gestión editado"),
    "reports.submit": _("Informe enviado a revisión"),
    "reports.forward": _("Informe revisado y enviado a aprobación"),
    "reports.return": _("Informe devuelto con observaciones"),
    "reports.approve": _("Informe aprobado"),
    "reports.publish": _("Informe publicado"),
    "reports.emailed": _("Informe enviado por correo"),
    "reports.email_failed": _("Envío del informe por correo fallido"),
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
    "policy": _("allocation"),
    "applied": _("applied"),
    "unapplied": _("unapplied"),
    "open_amount": _("open amount"),
}

VALUE_LABELS: dict[str, dict[str, Any]] = {
    "kind": dict(DocumentKind.choices),
    "policy": {"oldest_due": _("oldest due first"), "by_concept": _("by concept")},
}

ACTOR_LABELS: dict[str, Any] = {"system": _("System"), "anonymous": _("Anonymous")}

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MONEY_FIELDS = frozenset(
    {"amount", "open_amount", "credit_applied", "balance", "applied", "unapplied"}
)


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
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    labels = VALUE_LABELS.get(key)
    if labels is not None and isinstance(value, str) and value in labels:
        return str(labels[value])
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str
    changed: bool


def field_label(key: str, object_type: str = "") -> str:
    """Label of a before/after key: our list, else the model field's verbose name."""
    label = FIELD_LABELS.get(key)
    if label is not None:
        return str(label)
    if "." in object_type:
        try:
            model = apps.get_model(object_type)
            return str(model._meta.get_field(key).verbose_name)
        except (LookupError, ValueError, FieldDoesNotExist):
            pass
    return key.replace("_", " ")


def diff(
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    currency: str,
    object_type: str = "",
) -> list[Change]:
    """Field-by-field view of an event: every key of before or after, changed ones flagged."""
    before = before if isinstance(before, dict) else ({} if before is None else {"": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"": after})
    keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
    out: list[Change] = []
    for key in keys:
        b = _show(key, before.get(key), currency) if key in before else ""
        a = _show(key, after.get(key), currency) if key in after else ""
        label = field_label(key, object_type)
        out.append(Change(label, b, a, key in before and key in after and b != a))
    return out


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    label: str
    changes: list[Change]

    @property
    def is_diff(self) -> bool:
        """True when the event records a before state (show before → after)."""
        return any(c.before for c in self.changes)

    @property
    def actor(self) -> str:
        label = self.event.actor_label
        return str(ACTOR_LABELS.get(label, label))


def rows(events: list[AuditEvent], currency: str) -> list[EventRow]:
    return [
        EventRow(e, action_label(e.action), diff(e.before, e.after, currency, e.object_type))
        for e in events
    ]


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
