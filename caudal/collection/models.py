"""Collections (recaudación): who collects, what they collected, and how it is settled.

- :class:`Centre`: a collection centre (CAR), a bank or the utility's own office, with its
  commission terms, deposit account and deposit deadline; :class:`PaymentPoint` its
  counters / branches; :class:`ApiKey` the keys its systems use on ``/api/v1/``.
- :class:`Payment`: one payment received through any channel. It points at the ledger
  payment document that applied it (``document``) and, when reversed, at the reversal.
  The ledger is the book of record for what an account owes; this table is the book of
  record for *who* collected *what*, *when* and *how* (channel, point, method, file line,
  idempotency key, cashier session, settlement).
- :class:`PaymentFile`: an imported bank file (Asobancaria 2001, camt.054, CSV): one row
  per file, unique by SHA-256, so the same file never posts twice.
- :class:`CashierSession`: a cashier's shift at a point: opened, payments taken, closed
  with counted against expected amounts per method.
- :class:`DailySettlement`: a centre's closed day (liquidación): totals, commission,
  expected deposit, the deposit registered and the difference.
- :class:`ReconnectionDue`: recorded when a payment clears the debt of an account whose
  water connection is cut; the field-work issue turns it into a reconnection order.

Amounts are integer minor units (céntimos / centavos). Payments are never deleted: a
reversal sets ``status`` and ``reversal_document`` (the ledger reversal is a new document).
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from caudal.audit.models import Run
from caudal.cadastre.models import Account
from caudal.ledger.models import Document


class CentreKind(models.TextChoices):
    OFFICE = "office", _("Oficina de la empresa (caja propia)")
    CAR = "car", _("Centro autorizado de recaudación (CAR)")
    BANK = "bank", _("Banco / entidad financiera")


class AmountRule(models.TextChoices):
    """What amount a centre may accept for a payment (see ``rules.check_amount``)."""

    EXACT = "exact", _("Exacto: el valor del recibo o la deuda total")
    PARTIAL = "partial", _("Parcial: hasta la deuda total")
    ANY = "any", _("Libre: el exceso queda como saldo a favor")


class Centre(models.Model):
    code = models.CharField(_("código"), max_length=20, unique=True)
    name = models.CharField(_("nombre"), max_length=120)
    kind = models.CharField(_("tipo"), max_length=8, choices=CentreKind.choices)
    tax_id = models.CharField(_("RUC / NIT"), max_length=20, blank=True)
    amount_rule = models.CharField(
        _("regla de importe"), max_length=8, choices=AmountRule.choices, default=AmountRule.EXACT
    )
    # Commission per payment: max(minimum, fixed + amount × rate), in minor units.
    commission_fixed = models.BigIntegerField(_("comisión fija por pago"), default=0)
    commission_rate = models.DecimalField(
        _("comisión porcentual"),
        max_digits=7,
        decimal_places=5,
        default=0,
        help_text=_("Fracción del importe, p. ej. 0.01500 = 1,5 %."),
    )
    commission_minimum = models.BigIntegerField(_("comisión mínima por pago"), default=0)
    commission_deducted = models.BooleanField(
        _("descuenta la comisión del depósito"),
        default=False,
        help_text=_(
            "Si está marcado, el centro deposita lo recaudado menos la comisión; si no, "
            "deposita todo y la comisión se paga con el informe mensual."
        ),
    )
    deposit_account = models.CharField(_("cuenta de depósito"), max_length=40, blank=True)
    deposit_days = models.PositiveSmallIntegerField(_("días para depositar"), default=1)
    deposit_time = models.TimeField(_("hora límite de depósito"), default=time(10, 30))
    active = models.BooleanField(_("activo"), default=True)
    created_at = models.DateTimeField(_("registrado"), auto_now_add=True)

    class Meta:
        verbose_name = _("centro de recaudo")
        verbose_name_plural = _("centros de recaudo")
        permissions = [
            ("manage_centres", _("Gestionar centros de recaudo y sus claves")),
            ("take_payments", _("Cobrar en caja")),
            ("supervise_cash", _("Supervisar cajas y liquidaciones")),
            ("import_payments", _("Importar archivos de pagos")),
            ("view_collections", _("Ver recaudación y reportes")),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PaymentPoint(models.Model):
    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, related_name="points", verbose_name=_("centro")
    )
    code = models.CharField(_("código"), max_length=20)
    name = models.CharField(_("nombre"), max_length=120)
    address = models.CharField(_("dirección"), max_length=200, blank=True)
    active = models.BooleanField(_("activo"), default=True)

    class Meta:
        verbose_name = _("punto de pago")
        verbose_name_plural = _("puntos de pago")
        constraints = [models.UniqueConstraint(fields=["centre", "code"], name="point_unique_code")]

    def __str__(self) -> str:
        return f"{self.centre.code}/{self.code} {self.name}"


class ApiKey(models.Model):
    """A key for ``/api/v1/``: ``cau_<prefix>_<secret>``. Only the secret's SHA-256 is kept."""

    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, related_name="keys", verbose_name=_("centro")
    )
    prefix = models.CharField(_("prefijo"), max_length=12, unique=True)
    secret_hash = models.CharField(_("huella (SHA-256)"), max_length=64)
    label = models.CharField(_("etiqueta"), max_length=80, blank=True)
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("creada por"),
    )
    revoked_at = models.DateTimeField(_("revocada"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("último uso"), null=True, blank=True)

    class Meta:
        verbose_name = _("clave de API")
        verbose_name_plural = _("claves de API")

    def __str__(self) -> str:
        return f"cau_{self.prefix}_…"


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Efectivo")
    CARD = "card", _("Tarjeta")
    CHEQUE = "cheque", _("Cheque")
    TRANSFER = "transfer", _("Transferencia / débito")


class PaymentStatus(models.TextChoices):
    POSTED = "posted", _("Aplicado")
    REVERSED = "reversed", _("Reversado")


class FileFormat(models.TextChoices):
    ASOBANCARIA_2001 = "asobancaria2001", "Asobancaria 2001"
    CAMT054 = "camt054", "ISO 20022 camt.054"
    CSV = "csv", "CSV"


class PaymentFile(models.Model):
    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, related_name="files", verbose_name=_("centro / banco")
    )
    format = models.CharField(_("formato"), max_length=16, choices=FileFormat.choices)
    file_name = models.CharField(_("archivo"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    file_date = models.DateField(_("fecha del archivo"), null=True, blank=True)
    records = models.PositiveIntegerField(_("registros"), default=0)
    total = models.BigIntegerField(_("total"), default=0)
    run = models.ForeignKey(
        Run,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ejecución"),
    )
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
        verbose_name = _("archivo de pagos")
        verbose_name_plural = _("archivos de pagos")

    def __str__(self) -> str:
        return self.file_name


class SessionStatus(models.TextChoices):
    OPEN = "open", _("Abierta")
    CLOSED = "closed", _("Cerrada")


class CashierSession(models.Model):
    """A cashier's shift. ``expected`` and ``counted`` are ``{method: minor units}``."""

    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("cajero"),
    )
    point = models.ForeignKey(
        PaymentPoint,
        on_delete=models.PROTECT,
        related_name="sessions",
        verbose_name=_("punto de pago"),
    )
    status = models.CharField(
        _("estado"), max_length=8, choices=SessionStatus.choices, default=SessionStatus.OPEN
    )
    opened_at = models.DateTimeField(_("apertura"), auto_now_add=True)
    opening_float = models.BigIntegerField(_("fondo de caja"), default=0)
    closed_at = models.DateTimeField(_("cierre"), null=True, blank=True)
    expected = models.JSONField(_("esperado por medio de pago"), default=dict)
    counted = models.JSONField(_("contado por medio de pago"), default=dict)
    difference = models.BigIntegerField(_("diferencia (contado − esperado)"), default=0)
    note = models.CharField(_("observación"), max_length=250, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revisado por"),
    )
    reviewed_at = models.DateTimeField(_("revisado"), null=True, blank=True)
    review_note = models.CharField(_("nota del supervisor"), max_length=250, blank=True)

    class Meta:
        verbose_name = _("sesión de caja")
        verbose_name_plural = _("sesiones de caja")
        constraints = [
            models.UniqueConstraint(
                fields=["cashier"],
                condition=models.Q(status="open"),
                name="session_one_open_per_cashier",
            )
        ]

    def __str__(self) -> str:
        return f"{self.point} {self.opened_at:%Y-%m-%d %H:%M}"


class SettlementStatus(models.TextChoices):
    CLOSED = "closed", _("Cerrada, depósito pendiente")
    DEPOSITED = "deposited", _("Depositada")
    DIFFERENCE = "difference", _("Depósito con diferencia")
    LATE = "late", _("Depósito vencido")


class DailySettlement(models.Model):
    """A centre's closed day. Payments of that day point here once the day is closed."""

    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("centro")
    )
    day = models.DateField(_("día"))
    payments = models.PositiveIntegerField(_("pagos"), default=0)
    collected = models.BigIntegerField(_("recaudado"), default=0)
    reversals = models.PositiveIntegerField(_("reversiones"), default=0)
    reversed_amount = models.BigIntegerField(_("reversado"), default=0)
    commission = models.BigIntegerField(_("comisión"), default=0)
    expected_deposit = models.BigIntegerField(_("depósito esperado"), default=0)
    deposit_due_at = models.DateTimeField(_("depositar antes de"))
    deposited_amount = models.BigIntegerField(_("depositado"), null=True, blank=True)
    deposited_at = models.DateTimeField(_("fecha del depósito"), null=True, blank=True)
    deposit_reference = models.CharField(_("referencia del depósito"), max_length=60, blank=True)
    status = models.CharField(
        _("estado"),
        max_length=10,
        choices=SettlementStatus.choices,
        default=SettlementStatus.CLOSED,
    )
    closed_at = models.DateTimeField(_("cerrada"), auto_now_add=True)
    closed_by_label = models.CharField(_("cerrada por"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("liquidación diaria")
        verbose_name_plural = _("liquidaciones diarias")
        constraints = [
            models.UniqueConstraint(fields=["centre", "day"], name="settlement_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.centre.code} {self.day}"


class Payment(models.Model):
    centre = models.ForeignKey(
        Centre,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("centro"),
        db_index=False,  # covered by payment_centre_day
    )
    point = models.ForeignKey(
        PaymentPoint,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("punto de pago"),
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("suministro")
    )
    amount = models.BigIntegerField(_("importe"))
    payment_date = models.DateField(_("fecha de pago"))
    received_at = models.DateTimeField(_("recibido"))
    method = models.CharField(
        _("medio de pago"),
        max_length=8,
        choices=PaymentMethod.choices,
        default=PaymentMethod.CASH,
    )
    bill_reference = models.CharField(_("referencia del recibo"), max_length=40, blank=True)
    external_reference = models.CharField(
        _("referencia del centro"),
        max_length=64,
        blank=True,
        help_text=_("Número de operación del banco o del centro, número de cheque."),
    )
    idempotency_key = models.CharField(_("clave de idempotencia"), max_length=80, blank=True)
    request_hash = models.CharField(_("huella de la solicitud"), max_length=64, blank=True)
    document = models.OneToOneField(
        Document,
        on_delete=models.PROTECT,
        related_name="collection_payment",
        verbose_name=_("documento de pago"),
    )
    status = models.CharField(
        _("estado"), max_length=8, choices=PaymentStatus.choices, default=PaymentStatus.POSTED
    )
    reversal_document = models.OneToOneField(
        Document,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("documento de reversión"),
    )
    reversed_at = models.DateTimeField(_("reversado"), null=True, blank=True)
    settlement = models.ForeignKey(
        DailySettlement,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_rows",
        verbose_name=_("liquidación"),
    )
    payment_file = models.ForeignKey(
        PaymentFile,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("archivo"),
        db_index=False,  # covered by payment_unique_file_line
    )
    file_line = models.PositiveIntegerField(_("línea del archivo"), null=True, blank=True)
    session = models.ForeignKey(
        CashierSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("sesión de caja"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrado por"),
    )

    class Meta:
        verbose_name = _("pago recibido")
        verbose_name_plural = _("pagos recibidos")
        constraints = [
            models.UniqueConstraint(
                fields=["centre", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="payment_unique_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["payment_file", "file_line"],
                condition=models.Q(payment_file__isnull=False),
                name="payment_unique_file_line",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive"),
        ]
        indexes = [
            models.Index(fields=["centre", "payment_date"], name="payment_centre_day"),
            models.Index(fields=["payment_date"], name="payment_day"),
        ]

    def __str__(self) -> str:
        return f"{self.centre_id} {self.account_id} {self.amount}"


class ReconnectionDue(models.Model):
    """A cut account whose cut debt a payment cleared (for the field-work issue)."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("suministro")
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pago"),
    )
    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, related_name="+", verbose_name=_("documento de pago")
    )
    cleared_on = models.DateField(_("deuda de corte saldada el"))
    created_at = models.DateTimeField(_("registrado"), auto_now_add=True)
    handled_at = models.DateTimeField(_("atendido"), null=True, blank=True)

    class Meta:
        verbose_name = _("reconexión pendiente")
        verbose_name_plural = _("reconexiones pendientes")

    def __str__(self) -> str:
        return f"{self.account_id} {self.cleared_on}"
