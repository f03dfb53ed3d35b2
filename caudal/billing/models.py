"""Bills: one row per (account, period, version), posted to the ledger as a bill document.

The bill row keeps what the printed bill shows and what the ledger does not: readings,
consumption and the rule that determined it, the tariff version, previous debt, the red-bill
flag, messages, and the explanation of every charge line (``lines``: a JSON list, one entry
per ledger line, see ``caudal.billing.rules.BillLine``). The money itself lives in the ledger
document (``document``), whose lines carry the same amounts.

A correction never edits a bill: it posts a credit for the old document and a new bill with
``version`` + 1 and ``replaces`` pointing at the old one (decision 0006).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from caudal.audit.models import Run
from caudal.cadastre.models import Account, Route
from caudal.ledger.models import Document
from caudal.tariffs.models import TariffVersion


class BillKind(models.TextChoices):
    REGULAR = "regular", _("Ordinaria")
    CORRECTION = "correction", _("Refacturación")


class Bill(models.Model):
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="bills",
        verbose_name=_("suministro"),
        db_index=False,  # bill_account_period covers it
    )
    period = models.CharField(_("periodo"), max_length=7)
    version = models.PositiveSmallIntegerField(_("versión"), default=1)
    kind = models.CharField(
        _("tipo"), max_length=10, choices=BillKind.choices, default=BillKind.REGULAR
    )
    number = models.CharField(_("número de recibo"), max_length=24, unique=True)
    payment_reference = models.CharField(
        _("referencia de pago"),
        max_length=25,
        db_index=True,
        help_text=_(
            "Código de pago (Perú) o referencia GS1 8020 (Colombia), con dígito de control."
        ),
    )
    run = models.ForeignKey(
        Run, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    route = models.ForeignKey(
        Route, on_delete=models.PROTECT, related_name="+", verbose_name=_("ruta"), db_index=False
    )
    document = models.OneToOneField(
        Document,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bill",
        verbose_name=_("documento contable"),
        help_text=_("Vacío cuando la factura no tiene importe (consumo cero sin cargo fijo)."),
    )
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("reemplaza a"),
    )
    issue_date = models.DateField(_("fecha de emisión"))
    due_date = models.DateField(_("fecha de vencimiento"))
    cut_warning_date = models.DateField(_("fecha de corte"), null=True, blank=True)
    category = models.CharField(_("categoría"), max_length=12)
    stratum = models.PositiveSmallIntegerField(_("estrato"), null=True, blank=True)
    units = models.PositiveSmallIntegerField(_("unidades de uso"), default=1)
    tariff = models.ForeignKey(
        TariffVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("tarifa")
    )
    meter_serial = models.CharField(_("medidor"), max_length=30, blank=True)
    previous_reading = models.BigIntegerField(_("lectura anterior"), null=True, blank=True)
    current_reading = models.BigIntegerField(_("lectura actual"), null=True, blank=True)
    consumption = models.BigIntegerField(_("consumo facturado (m³)"))
    consumption_rule = models.CharField(_("regla de consumo"), max_length=10)
    amount = models.BigIntegerField(_("importe del periodo"))
    previous_debt = models.BigIntegerField(_("deuda anterior"), default=0)
    credit_applied = models.BigIntegerField(_("saldo a favor aplicado"), default=0)
    total_due = models.BigIntegerField(_("total a pagar"))
    overdue_bills = models.PositiveSmallIntegerField(_("recibos vencidos"), default=0)
    red = models.BooleanField(_("recibo rojo"), default=False)
    lines = models.JSONField(_("detalle de cargos"), default=list)
    messages = models.JSONField(_("mensajes"), default=list)
    created_at = models.DateTimeField(_("registrada"), auto_now_add=True)

    class Meta:
        verbose_name = _("factura")
        verbose_name_plural = _("facturas")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period", "version"], name="bill_account_period"
            ),
        ]
        indexes = [models.Index(fields=["period", "route"], name="bill_period_route")]
        permissions = [
            ("run_billing", "Puede simular y ejecutar la facturación"),
            ("view_bills", "Puede ver y descargar recibos"),
            ("print_bills", "Puede generar lotes de impresión"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.period}"
