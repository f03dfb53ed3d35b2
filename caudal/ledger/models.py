"""The receivables subledger (cuenta corriente): documents, lines, open items, clearings.

Sign convention: amounts are integer minor units. ``Document.amount`` and
``DocumentLine.amount`` are signed effects on what the customer owes: positive raises the
debt (bill, fee, interest, debit adjustment, reversal of a payment), negative lowers it
(payment, credit adjustment, write-off, reversal of a charge).

Every line creates exactly one open item. ``OpenItem.amount`` is always positive and
``side`` says whether the item is a debit (D, something owed) or a credit (C, money or a
credit not yet applied). Clearing (compensación) matches a debit item with a credit item
for an amount; reversing a clearing appends a negative clearing row, so the history is
append-only and the state on any past date can be recomputed.

Posted documents, lines and clearings are never updated or deleted; database triggers
enforce it (see migration ``0002_immutability``). Open items change only in their
``open_amount``, ``cleared_on`` and blocking columns.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from caudal.cadastre.models import Account


class DocumentKind(models.TextChoices):
    BILL = "bill", _("Factura / recibo")
    PAYMENT = "payment", _("Pago")
    ADJUSTMENT = "adjustment", _("Ajuste")
    REVERSAL = "reversal", _("Anulación / reversión")
    FEE = "fee", _("Cargo / tasa")
    INTEREST = "interest", _("Intereses")
    WRITE_OFF = "write_off", _("Castigo")
    AGREEMENT = "agreement", _("Convenio de pago")
    OPENING = "opening", _("Saldo inicial migrado")


class Concept(models.TextChoices):
    """Charge concepts. ``CONCEPT_CLASS`` groups them for allocation by concept."""

    WATER = "water", _("Agua potable")
    SEWER = "sewer", _("Alcantarillado")
    FIXED = "fixed", _("Cargo fijo")
    TAX = "tax", _("Impuesto (IGV / IVA)")
    METER = "meter", _("Medidor / mantenimiento")
    INTEREST = "interest", _("Intereses moratorios")
    CUT_FEE = "cut_fee", _("Corte")
    RECONNECTION_FEE = "reconnection_fee", _("Reconexión")
    COLLECTION_COST = "collection_cost", _("Gastos de cobranza")
    INSTALLMENT = "installment", _("Cuota de convenio")
    OTHER = "other", _("Otros cargos")
    PAYMENT = "payment", _("Pago")
    CREDIT = "credit", _("Nota de crédito")
    WRITE_OFF = "write_off", _("Castigo")


class Side(models.TextChoices):
    DEBIT = "D", _("Debe")
    CREDIT = "C", _("Haber")


class Document(models.Model):
    # No single-column index: document_account_date (account, posting_date) covers it.
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="documents",
        verbose_name=_("suministro"),
        db_index=False,
    )
    kind = models.CharField(_("tipo"), max_length=12, choices=DocumentKind.choices)
    reference = models.CharField(
        _("referencia"),
        max_length=64,
        blank=True,
        help_text=_("Número del documento en origen: factura, comprobante, línea de archivo."),
    )
    document_date = models.DateField(_("fecha del documento"))
    posting_date = models.DateField(_("fecha de contabilización"))
    amount = models.BigIntegerField(_("importe (céntimos, con signo)"))
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("revierte a"),
    )
    reason = models.CharField(_("motivo"), max_length=250, blank=True)
    source = models.CharField(_("origen"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrado por"),
    )
    created_at = models.DateTimeField(_("registrado"), auto_now_add=True)

    class Meta:
        verbose_name = _("documento")
        verbose_name_plural = _("documentos")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "reference"],
                condition=~models.Q(reference=""),
                name="document_unique_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "posting_date"], name="document_account_date"),
            models.Index(fields=["reference"], name="document_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference or self.pk}"


class DocumentLine(models.Model):
    # No single-column index: line_unique_no (document, line_no) covers it.
    document = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        related_name="lines",
        verbose_name=_("documento"),
        db_index=False,
    )
    line_no = models.PositiveSmallIntegerField(_("línea"))
    concept = models.CharField(_("concepto"), max_length=20, choices=Concept.choices)
    amount = models.BigIntegerField(_("importe (céntimos, con signo)"))
    description = models.CharField(_("descripción"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("línea de documento")
        verbose_name_plural = _("líneas de documento")
        constraints = [
            models.UniqueConstraint(fields=["document", "line_no"], name="line_unique_no"),
            models.CheckConstraint(condition=~models.Q(amount=0), name="line_amount_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}/{self.line_no} {self.concept} {self.amount}"


class OpenItem(models.Model):
    """An open item (partida abierta): one per document line."""

    # No single-column index: item_account_issue (account, issue_date) covers it.
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="open_items",
        verbose_name=_("suministro"),
        db_index=False,
    )
    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, related_name="items", verbose_name=_("documento")
    )
    line = models.OneToOneField(
        DocumentLine, on_delete=models.PROTECT, related_name="item", verbose_name=_("línea")
    )
    concept = models.CharField(_("concepto"), max_length=20, choices=Concept.choices)
    side = models.CharField(_("lado"), max_length=1, choices=Side.choices)
    issue_date = models.DateField(_("fecha de emisión"))
    due_date = models.DateField(_("fecha de vencimiento"))
    amount = models.BigIntegerField(_("importe"))
    open_amount = models.BigIntegerField(_("importe abierto"))
    cleared_on = models.DateField(_("compensada el"), null=True, blank=True)
    blocked = models.BooleanField(_("bloqueada"), default=False)
    block_reason = models.CharField(_("motivo del bloqueo"), max_length=250, blank=True)

    class Meta:
        verbose_name = _("partida abierta")
        verbose_name_plural = _("partidas abiertas")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="item_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(open_amount__gte=0), name="item_open_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(open_amount__lte=models.F("amount")),
                name="item_cleared_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "due_date"],
                condition=models.Q(open_amount__gt=0),
                name="item_open_by_account",
            ),
            models.Index(fields=["account", "issue_date"], name="item_account_issue"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.concept} {self.open_amount}/{self.amount} vence {self.due_date}"

    @property
    def signed_open(self) -> int:
        return self.open_amount if self.side == Side.DEBIT else -self.open_amount


class Clearing(models.Model):
    """A match between a debit item and a credit item (compensación). Append-only.

    ``amount`` is positive when it clears and negative when it resets an earlier clearing
    (``resets``). The cleared amount of an item on date D is the sum of its clearings with
    ``cleared_on <= D``.
    """

    # No single-column index: clearing_account_date (account, cleared_on) covers it.
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("suministro"),
        db_index=False,
    )
    debit_item = models.ForeignKey(
        OpenItem, on_delete=models.PROTECT, related_name="debit_clearings"
    )
    credit_item = models.ForeignKey(
        OpenItem, on_delete=models.PROTECT, related_name="credit_clearings"
    )
    amount = models.BigIntegerField(_("importe"))
    cleared_on = models.DateField(_("fecha"))
    document = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clearings",
        verbose_name=_("documento que compensa"),
    )
    resets = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reset_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("compensación")
        verbose_name_plural = _("compensaciones")
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="clearing_amount_nonzero"),
        ]
        indexes = [
            models.Index(fields=["account", "cleared_on"], name="clearing_account_date"),
        ]

    def __str__(self) -> str:
        return f"{self.debit_item_id}↔{self.credit_item_id} {self.amount} ({self.cleared_on})"


class BlockEvent(models.Model):
    """History of blocking and unblocking an open item (partida bloqueada). Append-only."""

    item = models.ForeignKey(OpenItem, on_delete=models.PROTECT, related_name="block_events")
    blocked = models.BooleanField(_("bloqueada"))
    effective_on = models.DateField(_("fecha"))
    reason = models.CharField(_("motivo"), max_length=250)
    case_ref = models.CharField(_("reclamo / expediente"), max_length=40, blank=True)
    responsible = models.CharField(_("responsable"), max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("bloqueo de partida")
        verbose_name_plural = _("bloqueos de partidas")

    def __str__(self) -> str:
        state = _("bloqueo") if self.blocked else _("desbloqueo")
        return f"{state} {self.item_id} ({self.effective_on})"
