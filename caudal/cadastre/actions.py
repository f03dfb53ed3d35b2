"""Single-record writes to the cadastre. Each ``do_*`` function is atomic and audited.

The bulk import (``imports.py``) applies the same rules to whole files; these actions are
for the counter, the field results and the administration pages:

- ``do_change_connection_status``: cut, reconnection, removal… appends a dated
  ``ConnectionStatusChange`` (never edits the history);
- ``do_replace_meter``: closes the current meter and installs a new one;
- ``do_update_contact``: e-mail, phones and notification consents of a customer.

Conventions as in the ledger: ``actor`` is keyword-only; the row changed is locked first
(``select_for_update``; a no-op on SQLite, whose transactions are IMMEDIATE); a refused
change raises ``DomainError`` with a message for the user; one audit event per action.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, record
from caudal.kernel.errors import DomainError

from . import rules
from .models import Account, Connection, ConnectionStatusChange, Customer, Meter, MeterStatus

__all__ = ["do_change_connection_status", "do_replace_meter", "do_update_contact"]


def _pk(obj: Any) -> int:
    return obj if isinstance(obj, int) else obj.pk


def do_change_connection_status(
    connection: Connection | int,
    *,
    status: str,
    on: date,
    reason: str,
    actor: ActorLike,
) -> ConnectionStatusChange:
    """Move a connection to ``status`` from ``on``, recording the change.

    Refused: an unknown status, the status it already has, a date before the current
    status began or in the future, an empty reason.
    """
    checked = rules.validate_status(status)
    if not checked.ok or checked.value is None:
        raise DomainError(rules.status_reason())
    new_status = checked.value
    why = (reason or "").strip()
    if not why:
        raise DomainError(_("Indique el motivo."))
    if on > timezone.localdate():
        raise DomainError(rules.date_future_reason())
    with transaction.atomic():
        conn = Connection.objects.select_for_update().get(pk=_pk(connection))
        if conn.status == new_status:
            raise DomainError(
                _("La conexión ya está en estado %(status)s.")
                % {"status": conn.get_status_display()}
            )
        if on < conn.status_since:
            raise DomainError(
                _("La fecha es anterior al estado vigente (%(status)s desde %(since)s).")
                % {"status": conn.get_status_display(), "since": conn.status_since.isoformat()}
            )
        before = {"status": conn.status, "status_since": conn.status_since.isoformat()}
        change = ConnectionStatusChange.objects.create(
            connection=conn,
            status=new_status,
            previous_status=conn.status,
            effective_on=on,
            reason=why[:250],
        )
        conn.status = new_status
        conn.status_since = on
        conn.save(update_fields=["status", "status_since"])
        record(
            actor=actor,
            action="cadastre.change_connection_status",
            object_type="cadastre.connection",
            object_id=conn.pk,
            account_id=conn.account_id,
            before=before,
            after={"status": new_status, "status_since": on.isoformat()},
            reason=why,
        )
        return change


def do_replace_meter(
    account: Account | int,
    *,
    serial: str,
    installed_on: date,
    brand: str = "",
    diameter: str = "1/2",
    digits: int = 5,
    actor: ActorLike,
    reason: str = "",
) -> Meter:
    """Install meter ``serial`` on the account from ``installed_on``; the current meter,
    if any, is closed that day (``removed_on``, status removed)."""
    serial = (serial or "").strip()
    if not serial or len(serial) > 30:
        raise DomainError(_("Indique el número de serie del medidor (hasta 30 caracteres)."))
    if not rules.METER_DIGITS_MIN <= digits <= rules.METER_DIGITS_MAX:
        raise DomainError(rules.meter_digits_reason())
    if installed_on > timezone.localdate():
        raise DomainError(rules.date_future_reason())
    account_id = _pk(account)
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account_id)
        current = (
            Meter.objects.select_for_update()
            .filter(account_id=account_id, removed_on__isnull=True)
            .first()
        )
        before = None
        if current is not None:
            if current.serial == serial:
                raise DomainError(_("Ese medidor ya está instalado en el suministro."))
            if installed_on < current.installed_on:
                raise DomainError(
                    _(
                        "El medidor nuevo se instala antes que el actual (%(serial)s, instalado el %(date)s)."
                    )
                    % {"serial": current.serial, "date": current.installed_on.isoformat()}
                )
            before = {"serial": current.serial, "installed_on": current.installed_on.isoformat()}
            current.removed_on = installed_on
            current.status = MeterStatus.REMOVED
            current.save(update_fields=["removed_on", "status"])
        meter = Meter.objects.create(
            account_id=account_id,
            serial=serial,
            brand=brand.strip()[:40],
            diameter=diameter.strip()[:8] or "1/2",
            digits=digits,
            installed_on=installed_on,
        )
        record(
            actor=actor,
            action="cadastre.replace_meter",
            object_type="cadastre.meter",
            object_id=meter.pk,
            account_id=account_id,
            before=before,
            after={"serial": serial, "installed_on": installed_on.isoformat()},
            reason=reason,
        )
        return meter


_UNSET: Any = object()


def do_update_contact(
    customer: Customer | int,
    *,
    actor: ActorLike,
    email: str | None = _UNSET,
    phone: str | None = _UNSET,
    mobile: str | None = _UNSET,
    consent_email: bool | None = _UNSET,
    consent_sms: bool | None = _UNSET,
) -> Customer:
    """Change the contact data given (the others stay). A change of consent stamps
    ``consent_date`` with today."""
    changes: dict[str, Any] = {}
    for field, value, validator in (
        ("email", email, rules.validate_email),
        ("phone", phone, rules.validate_phone),
        ("mobile", mobile, rules.validate_phone),
    ):
        if value is _UNSET:
            continue
        checked = validator(value)
        if not checked.ok:
            raise DomainError(f"{field}: {checked.error}")
        changes[field] = checked.value or ""
    for field, flag in (("consent_email", consent_email), ("consent_sms", consent_sms)):
        if flag is not _UNSET:
            changes[field] = bool(flag)
    with transaction.atomic():
        obj = Customer.objects.select_for_update().get(pk=_pk(customer))
        before = {k: getattr(obj, k) for k in changes}
        changed = {k: v for k, v in changes.items() if before[k] != v}
        if not changed:
            return obj
        for key, value in changed.items():
            setattr(obj, key, value)
        fields = list(changed)
        if {"consent_email", "consent_sms"} & set(changed):
            obj.consent_date = timezone.localdate()
            fields.append("consent_date")
        obj.save(update_fields=fields)
        record(
            actor=actor,
            action="cadastre.update_contact",
            object_type="cadastre.customer",
            object_id=obj.pk,
            before={k: before[k] for k in changed},
            after=changed,
        )
        return obj
