"""Management reports (informes de gestión) with review, approval and publication.

A report is generated from a cartera snapshot (figures, charts, XLSX annex); the analyst
writes conclusions and recommendations. Workflow (every step role-checked and audited, and
recorded as a :class:`ReportStep`):

    draft ──submit──▶ in_review ──forward (coordinator)──▶ reviewed ──approve (director)──▶
    approved ──publish──▶ published
    in_review / reviewed ──return (with comments)──▶ returned ──submit──▶ in_review

A published report is immutable: its PDF is archived under ``settings.CAUDAL_REPORT_DIR``
with its SHA-256, listed, and e-mailed through Django's mail backend.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from caudal.portfolio.models import Snapshot


class ReportKind(models.TextChoices):
    MONTHLY = "monthly", _("Informe mensual de seguimiento a la cartera")
    PRELEGAL = "prelegal", _("Informe de gestión prejurídico / persuasivo")
    COERCIVE = "coercive", _("Informe de gestión coactivo / judicial")
    AGENCIES = "agencies", _("Informe de gestión de agencias de cobro")


class ReportStatus(models.TextChoices):
    DRAFT = "draft", _("Borrador")
    IN_REVIEW = "in_review", _("En revisión (coordinación)")
    REVIEWED = "reviewed", _("Revisado, para aprobación (dirección)")
    RETURNED = "returned", _("Devuelto con observaciones")
    APPROVED = "approved", _("Aprobado")
    PUBLISHED = "published", _("Publicado")


class ManagementReport(models.Model):
    kind = models.CharField(_("tipo"), max_length=10, choices=ReportKind.choices)
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.PROTECT, related_name="reports", verbose_name=_("corte")
    )
    title = models.CharField(_("título"), max_length=200)
    conclusions = models.TextField(_("conclusiones"), blank=True)
    recommendations = models.TextField(_("recomendaciones"), blank=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    revision = models.PositiveIntegerField(_("revisión"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("elaborado por"),
    )
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)
    published_at = models.DateTimeField(_("publicado"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pdf_path = models.CharField(_("PDF archivado"), max_length=250, blank=True)
    pdf_sha256 = models.CharField(_("SHA-256 del PDF"), max_length=64, blank=True)
    xlsx_path = models.CharField(_("anexo XLSX archivado"), max_length=250, blank=True)
    recipients = models.TextField(_("destinatarios (correo)"), blank=True)

    class Meta:
        verbose_name = _("informe de gestión")
        verbose_name_plural = _("informes de gestión")
        ordering = ["-snapshot__date", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "snapshot"], name="report_once_per_snapshot"),
        ]
        permissions = [
            ("view_reports", _("Ver informes de gestión publicados")),
            ("draft_reports", _("Elaborar informes de gestión")),
            ("review_reports", _("Revisar informes de gestión (coordinación)")),
            ("approve_reports", _("Aprobar o devolver informes de gestión (dirección)")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.snapshot.date}"


class ReportStep(models.Model):
    """One step of a report's workflow. Append-only."""

    report = models.ForeignKey(ManagementReport, on_delete=models.PROTECT, related_name="steps")
    from_status = models.CharField(_("de"), max_length=10, choices=ReportStatus.choices)
    to_status = models.CharField(_("a"), max_length=10, choices=ReportStatus.choices)
    comment = models.TextField(_("observaciones"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("fecha"), auto_now_add=True)

    class Meta:
        verbose_name = _("paso del informe")
        verbose_name_plural = _("pasos del informe")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.from_status} → {self.to_status}"
