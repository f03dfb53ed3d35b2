"""Audit events (who, when, what, before/after, reason) and mass-processing runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One action done in Caudal. Append-only."""

    at = models.DateTimeField(_("fecha y hora"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        verbose_name=_("usuario"),
    )
    actor_label = models.CharField(
        _("actor"), max_length=80, help_text=_("Usuario, proceso o sistema externo.")
    )
    action = models.CharField(_("acción"), max_length=60, db_index=True)
    object_type = models.CharField(_("tipo de objeto"), max_length=60)
    object_id = models.CharField(_("id del objeto"), max_length=64, blank=True)
    account_id = models.BigIntegerField(_("suministro"), null=True, blank=True)
    before = models.JSONField(_("antes"), null=True, blank=True)
    after = models.JSONField(_("después"), null=True, blank=True)
    reason = models.CharField(_("motivo"), max_length=250, blank=True)

    class Meta:
        verbose_name = _("evento de auditoría")
        verbose_name_plural = _("eventos de auditoría")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["account_id", "at"], name="audit_account_at"),
            models.Index(fields=["actor", "at"], name="audit_actor_at"),
        ]
        permissions = [("view_audit_trail", "Puede ver la auditoría de cualquier usuario")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class RunStatus(models.TextChoices):
    RUNNING = "running", _("En curso")
    DONE = "done", _("Terminado")
    FAILED = "failed", _("Con errores")
    DRY_RUN = "dry_run", _("Simulación")


class Run(models.Model):
    """A mass-processing run: an import, a billing run, a snapshot..."""

    kind = models.CharField(_("tipo"), max_length=40, db_index=True)
    parameters = models.JSONField(_("parámetros"), default=dict)
    status = models.CharField(
        _("estado"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    counts = models.JSONField(_("conteos"), default=dict)
    errors = models.JSONField(_("errores"), default=list)
    started_at = models.DateTimeField(_("inicio"), auto_now_add=True)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("proceso masivo")
        verbose_name_plural = _("procesos masivos")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"


class RunChunk(models.Model):
    """One chunk of a run (a route, an account range). A run restarted skips DONE chunks."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks")
    key = models.CharField(_("tramo"), max_length=60)
    status = models.CharField(
        _("estado"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    counts = models.JSONField(_("conteos"), default=dict)
    errors = models.JSONField(_("errores"), default=list)
    started_at = models.DateTimeField(_("inicio"), null=True, blank=True)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)

    class Meta:
        verbose_name = _("tramo de proceso")
        verbose_name_plural = _("tramos de proceso")
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="runchunk_run_key")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.key} ({self.status})"
