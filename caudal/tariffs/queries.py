"""Reads of tariff versions: which one applies on a day, and its parsed content (cached)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from caudal.kernel.errors import DomainError

from .models import TariffVersion
from .schema import Tariff, parse_document

_CACHE: dict[tuple[int, str], Tariff] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 64


def valid_on(day: date, *, country: str | None = None) -> QuerySet[TariffVersion]:
    """Every stored version whose validity covers ``day`` (of ``country`` if given)."""
    qs = TariffVersion.objects.filter(valid_from__lte=day).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=day)
    )
    if country:
        qs = qs.filter(country=country)
    return qs


def tariff_on(day: date, *, country: str | None = None) -> TariffVersion:
    """The tariff version that applies on ``day``.

    Among the versions valid that day, the latest version of each code wins; among codes,
    the one that took effect last (latest ``valid_from``) wins, a newer schedule replacing
    an older one left open. Two codes taking effect the same day are ambiguous.
    Raises DomainError when no version applies or the choice is ambiguous.
    """
    latest: dict[str, TariffVersion] = {}
    for version in valid_on(day, country=country).order_by("code", "-version"):
        latest.setdefault(version.code, version)
    if not latest:
        where = f" ({country})" if country else ""
        raise DomainError(
            _("No hay tarifa vigente el %(day)s%(where)s: importe una con caudal import-tariff.")
            % {"day": day.isoformat(), "where": where}
        )
    ranked = sorted(latest.values(), key=lambda v: v.valid_from, reverse=True)
    if len(ranked) > 1 and ranked[0].valid_from == ranked[1].valid_from:
        tied = sorted(v.code for v in ranked if v.valid_from == ranked[0].valid_from)
        raise DomainError(
            _("Tarifas ambiguas el %(day)s: %(codes)s entran en vigor el mismo día.")
            % {"day": day.isoformat(), "codes": ", ".join(tied)}
        )
    return ranked[0]


def load(version: TariffVersion) -> Tariff:
    """The parsed ``Tariff`` of a stored version (with its version number), cached."""
    if version.pk is None:
        return dataclasses.replace(parse_document(version.document), version=version.version)
    key = (version.pk, version.sha256)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    tariff = dataclasses.replace(parse_document(version.document), version=version.version)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = tariff
    return tariff


def versions() -> QuerySet[TariffVersion]:
    return TariffVersion.objects.select_related("imported_by").order_by(
        "-valid_from", "code", "-version"
    )


__all__ = ["load", "tariff_on", "valid_on", "versions"]
