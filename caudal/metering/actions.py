"""Decisions on readings during the critique. Each ``do_*`` is atomic and audited.

A decision keeps who and when (``reviewed_by``, ``reviewed_at``) and why (``note``); the
audit event keeps the values before and after. The critique run never overwrites a
decided reading (accepted, corrected, estimated, re-read ordered). Permissions are checked
by the pages (``metering.critique_readings``).

- accept: bill the proposed consumption (reading difference or average);
- correct: a person's value replaces the reading; the consumption is recomputed with the
  same rules (rollover, catch-up) and billed with rule ``corrected``;
- estimate: a person sets the volume (rule ``estimated``);
- order a re-read: status ``reread`` holds billing; the readers' page lists these rows and
  a new reading puts the row back to ``pending`` for the next critique run;
- bulk accept / bulk re-read: one audited action over a filtered set (VIP readings are
  never accepted in bulk: each is validated on its own).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.audit.actions import ActorLike, actor_parts, record
from caudal.cadastre.models import Segment
from caudal.kernel.errors import DomainError

from . import queries, rules
from .models import ConsumptionRule, Reading, ReadingStatus
from .runs import config_from_settings

#: Bulk actions list the ids they touched in the audit event up to this many.
AUDIT_IDS = 5000
MAX_NOTE = 250


def _lock(reading: Reading | int) -> Reading:
    pk = reading.pk if isinstance(reading, Reading) else reading
    try:
        return Reading.objects.select_for_update().select_related("account").get(pk=pk)
    except Reading.DoesNotExist as exc:
        raise DomainError(_("la lectura no existe")) from exc


def _snapshot(r: Reading) -> dict[str, Any]:
    return {
        "period": r.period,
        "status": r.status,
        "value": r.value,
        "previous_value": r.previous_value,
        "consumption": r.consumption,
        "consumption_rule": r.consumption_rule,
        "flags": r.flags,
    }


def _reviewer(actor: ActorLike) -> AbstractBaseUser | None:
    user, _label = actor_parts(actor)
    return user


def _reason(text: str, *, required: bool) -> str:
    text = (text or "").strip()
    if required and not text:
        raise DomainError(_("indique el motivo"))
    return text[:MAX_NOTE]


def _decide(
    r: Reading,
    *,
    actor: ActorLike,
    action: str,
    note: str,
    before: dict[str, Any],
    fields: list[str],
) -> Reading:
    r.reviewed_by = _reviewer(actor)  # type: ignore[assignment]
    r.reviewed_at = timezone.now()
    r.note = note
    r.save(update_fields=[*fields, "reviewed_by", "reviewed_at", "note", "updated_at"])
    record(
        actor=actor,
        action=action,
        object_type="metering.reading",
        object_id=r.pk,
        account_id=r.account_id,
        before=before,
        after=_snapshot(r),
        reason=note,
    )
    return r


@transaction.atomic
def do_accept_reading(reading: Reading | int, *, actor: ActorLike, note: str = "") -> Reading:
    """Bill the proposed consumption of the reading as it stands."""
    r = _lock(reading)
    if r.status in (ReadingStatus.ACCEPTED, ReadingStatus.CORRECTED, ReadingStatus.ESTIMATED):
        raise DomainError(_("la lectura ya fue decidida (%(s)s)") % {"s": r.get_status_display()})
    if r.consumption is None:
        raise DomainError(_("no hay consumo que aceptar: corrija la lectura o estime el consumo"))
    before = _snapshot(r)
    r.status = ReadingStatus.ACCEPTED
    return _decide(
        r,
        actor=actor,
        action="metering.accept_reading",
        note=_reason(note, required=False),
        before=before,
        fields=["status"],
    )


@transaction.atomic
def do_correct_reading(
    reading: Reading | int, *, value: int, reason: str, actor: ActorLike
) -> Reading:
    """Replace the reading with ``value`` and bill the recomputed difference."""
    note = _reason(reason, required=True)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DomainError(_("la lectura corregida debe ser un entero no negativo"))
    r = _lock(reading)
    config = config_from_settings()
    facts = queries.reading_facts(r, config)
    verdict = rules.critique_reading(
        replace(facts, value=value),
        config,
        months=queries.parse_period(r.period).months,
    )
    if "too_many_digits" in verdict.flags:
        raise DomainError(
            _("la lectura %(v)s no cabe en el medidor de %(d)s dígitos")
            % {"v": value, "d": facts.digits or config.default_digits}
        )
    if verdict.actual is None:
        if "no_previous_reading" in verdict.flags:
            raise DomainError(
                _("no se conoce la lectura anterior: registre el consumo con «Estimar»")
            )
        if "meter_changed" in verdict.flags:
            raise DomainError(
                _("el medidor cambió desde la lectura anterior: registre el consumo con «Estimar»")
            )
        raise DomainError(
            _("la lectura %(v)s es menor que la anterior (%(p)s): corrija o use «Estimar»")
            % {"v": value, "p": verdict.previous_value}
        )
    before = _snapshot(r)
    r.value = value
    r.previous_value = verdict.previous_value
    r.consumption = verdict.actual
    r.consumption_rule = ConsumptionRule.CORRECTED
    r.average = verdict.average
    r.flags = ",".join(c for c in verdict.flags if c != "undetermined")
    r.status = ReadingStatus.CORRECTED
    return _decide(
        r,
        actor=actor,
        action="metering.correct_reading",
        note=note,
        before=before,
        fields=[
            "value",
            "previous_value",
            "consumption",
            "consumption_rule",
            "average",
            "flags",
            "status",
        ],
    )


@transaction.atomic
def do_estimate_reading(
    reading: Reading | int, *, volume: int, reason: str, actor: ActorLike
) -> Reading:
    """Bill ``volume`` m³ set by a person (rule ``estimated``); the reading stays."""
    note = _reason(reason, required=True)
    if isinstance(volume, bool) or not isinstance(volume, int) or volume < 0:
        raise DomainError(_("el volumen estimado debe ser un entero no negativo (m³)"))
    r = _lock(reading)
    before = _snapshot(r)
    r.consumption = volume
    r.consumption_rule = ConsumptionRule.ESTIMATED
    r.status = ReadingStatus.ESTIMATED
    return _decide(
        r,
        actor=actor,
        action="metering.estimate_reading",
        note=note,
        before=before,
        fields=["consumption", "consumption_rule", "status"],
    )


@transaction.atomic
def do_order_reread(reading: Reading | int, *, reason: str, actor: ActorLike) -> Reading:
    """Hold the reading until a reader reads the meter again."""
    note = _reason(reason, required=True)
    r = _lock(reading)
    if r.status == ReadingStatus.REREAD:
        raise DomainError(_("ya hay una relectura ordenada"))
    before = _snapshot(r)
    r.status = ReadingStatus.REREAD
    return _decide(
        r, actor=actor, action="metering.order_reread", note=note, before=before, fields=["status"]
    )


def _bulk(
    filters: queries.CritiqueFilter,
    *,
    actor: ActorLike,
    action: str,
    statuses: tuple[str, ...],
    new_status: str,
    note: str,
    require_consumption: bool,
    exclude_vip: bool,
) -> int:
    qs = filters.queryset().filter(status__in=statuses)
    if exclude_vip:
        qs = qs.exclude(account__segment=Segment.VIP)
    if require_consumption:
        qs = qs.exclude(consumption__isnull=True)
    ids = list(qs.order_by("id").values_list("id", flat=True))
    if not ids:
        return 0
    now = timezone.now()
    touched = 0
    for start in range(0, len(ids), 10_000):
        part = ids[start : start + 10_000]
        touched += Reading.objects.filter(pk__in=part, status__in=statuses).update(
            status=new_status,
            reviewed_by=_reviewer(actor),
            reviewed_at=now,
            note=note,
            updated_at=now,
        )
    record(
        actor=actor,
        action=action,
        object_type="metering.reading",
        after={
            "filter": filters.as_params(),
            "count": touched,
            "status": new_status,
            "ids": ids[:AUDIT_IDS],
            "ids_truncated": len(ids) > AUDIT_IDS,
        },
        reason=note,
    )
    return touched


@transaction.atomic
def do_bulk_accept(filters: queries.CritiqueFilter, *, actor: ActorLike, note: str = "") -> int:
    """Accept every reading of the filtered set that is ``ok`` or ``flagged`` and has a
    consumption, except VIP readings. Returns how many were accepted."""
    return _bulk(
        filters,
        actor=actor,
        action="metering.bulk_accept",
        statuses=(ReadingStatus.OK, ReadingStatus.FLAGGED),
        new_status=ReadingStatus.ACCEPTED,
        note=_reason(note, required=False),
        require_consumption=True,
        exclude_vip=True,
    )


@transaction.atomic
def do_bulk_order_reread(filters: queries.CritiqueFilter, *, actor: ActorLike, reason: str) -> int:
    """Order a re-read of every reading of the filtered set not yet decided (the
    control sample, a route...). Returns how many."""
    return _bulk(
        filters,
        actor=actor,
        action="metering.bulk_order_reread",
        statuses=(ReadingStatus.PENDING, ReadingStatus.OK, ReadingStatus.FLAGGED),
        new_status=ReadingStatus.REREAD,
        note=_reason(reason, required=True),
        require_consumption=False,
        exclude_vip=False,
    )


__all__ = [
    "do_accept_reading",
    "do_bulk_accept",
    "do_bulk_order_reread",
    "do_correct_reading",
    "do_estimate_reading",
    "do_order_reread",
]
