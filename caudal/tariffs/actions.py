"""Writes of tariffs: importing a tariff file as a new version (audited, idempotent)."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import Max

from caudal.audit.actions import ActorLike, actor_parts, record

from .models import TariffVersion
from .schema import parse_data, read_yaml, to_document


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_imported(text: str) -> bool:
    """Whether a version with exactly this content is stored."""
    return TariffVersion.objects.filter(sha256=sha256_of(text)).exists()


def do_import_tariff(
    text: str, *, source_name: str, actor: ActorLike, dry_run: bool = False
) -> TariffVersion:
    """Validate a tariff file and store it as a version of its code.

    The same content again (same SHA-256 for that code) returns the stored version and
    writes nothing; changed content for a known code becomes version + 1; a new code starts
    at version 1. Raises ``TariffFileError`` listing every problem of the file. With
    ``dry_run`` nothing is written and the returned version is unsaved (``pk`` None, with
    the version number it would get). ``is_imported(text)`` tells beforehand whether the
    same file is already stored.
    """
    data = read_yaml(text)
    tariff = parse_data(data)
    digest = sha256_of(text)
    user, _label = actor_parts(actor)
    with transaction.atomic():
        existing = TariffVersion.objects.filter(code=tariff.code, sha256=digest).first()
        if existing is not None:
            return existing
        # Lock the code's versions so two imports of the same code cannot take one number.
        list(TariffVersion.objects.select_for_update().filter(code=tariff.code).values("pk"))
        top = TariffVersion.objects.filter(code=tariff.code).aggregate(m=Max("version"))["m"]
        version = TariffVersion(
            code=tariff.code,
            version=(top or 0) + 1,
            name=tariff.name,
            country=tariff.country,
            valid_from=tariff.valid_from,
            valid_to=tariff.valid_to,
            resolution=tariff.resolution,
            document=to_document(data),
            source_text=text,
            sha256=digest,
            imported_by=user,
        )
        if dry_run:
            return version
        version.save()
        record(
            actor=actor,
            action="tariffs.import",
            object_type="tariffs.tariffversion",
            object_id=version.pk,
            after={
                "code": version.code,
                "version": version.version,
                "valid_from": version.valid_from.isoformat(),
                "valid_to": version.valid_to.isoformat() if version.valid_to else None,
                "sha256": digest,
                "source": source_name[:200],
            },
            reason=f"import-tariff {source_name}",
        )
    return version


__all__ = ["do_import_tariff", "is_imported", "sha256_of"]
