"""Dated tariff schedules, kept as data.

A tariff file (YAML, ``caudal import-tariff``) becomes one ``TariffVersion``: its validated
content as JSON in ``document`` (the shape is defined and checked in
``caudal.tariffs.schema``), the original text and its SHA-256. Versions are never edited:
importing a changed file for the same code adds a version. The schedule that applies to a
bill is the version of the utility's profile valid on the period's first day.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TariffVersion(models.Model):
    code = models.CharField(_("código"), max_length=40)
    version = models.PositiveIntegerField(_("versión"))
    name = models.CharField(_("nombre"), max_length=200)
    country = models.CharField(_("perfil de país"), max_length=2)
    valid_from = models.DateField(_("vigente desde"))
    valid_to = models.DateField(_("vigente hasta"), null=True, blank=True)
    resolution = models.CharField(_("resolución"), max_length=120, blank=True)
    document = models.JSONField(_("contenido validado"))
    source_text = models.TextField(_("archivo original"))
    sha256 = models.CharField(_("SHA-256 del archivo"), max_length=64)
    imported_at = models.DateTimeField(_("importado"), auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("importado por"),
    )

    class Meta:
        verbose_name = _("versión de tarifa")
        verbose_name_plural = _("versiones de tarifa")
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="tariff_code_version"),
        ]
        ordering = ["-valid_from", "code", "-version"]
        permissions = [("manage_tariffs", "Puede importar tarifas")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} ({self.valid_from})"
