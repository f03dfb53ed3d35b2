"""Meter reading: the reading calendar per cycle and period, and the readings themselves.

One ``Reading`` row per (account, period) for every account of the cycle that is read or
should have been: a reader's visit that found no access is a row with ``value`` null and an
observation code. The critique run flags rows and decides the consumption to bill
(``consumption`` and ``consumption_rule``); the billing run reads only those two columns,
plus the readings for the bill. Volumes are whole cubic metres.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from caudal.cadastre.models import Account, Cycle, Meter, Route


class ReadingCalendar(models.Model):
    """The dates of one cycle's period: reading, critique, billing, due and cut warning."""

    cycle = models.ForeignKey(
        Cycle, on_delete=models.PROTECT, related_name="+", verbose_name=_("ciclo")
    )
    period = models.CharField(_("periodo"), max_length=7, help_text=_("AAAA-MM"))
    months = models.PositiveSmallIntegerField(_("meses del periodo"), default=1)
    read_from = models.DateField(_("lectura desde"))
    read_to = models.DateField(_("lectura hasta"))
    critique_from = models.DateField(_("crítica desde"))
    critique_to = models.DateField(_("crítica hasta"))
    billing_date = models.DateField(_("fecha de facturación"))
    due_date = models.DateField(_("fecha de vencimiento"))
    cut_warning_date = models.DateField(_("fecha de aviso de corte"))
    edited = models.BooleanField(
        _("editado a mano"), default=False, help_text=_("Las reglas no lo regeneran.")
    )
    closed = models.BooleanField(_("cerrado"), default=False)

    class Meta:
        verbose_name = _("calendario de lectura")
        verbose_name_plural = _("calendarios de lectura")
        constraints = [
            models.UniqueConstraint(fields=["cycle", "period"], name="calendar_cycle_period"),
        ]
        ordering = ["period", "cycle"]

    def __str__(self) -> str:
        return f"{self.cycle} {self.period}"


class Observation(models.TextChoices):
    """Reader's observation codes (claves de lectura)."""

    NONE = "", _("Sin observación")
    NO_ACCESS = "no_access", _("Sin acceso al medidor")
    HOUSE_CLOSED = "closed", _("Predio cerrado")
    METER_BROKEN = "broken", _("Medidor averiado")
    METER_MISSING = "missing", _("Medidor no existe / robado")
    ILLEGIBLE = "illegible", _("Lectura ilegible (visor empañado)")
    DOG = "dog", _("Perro bravo")
    SELF_RECONNECTED = "self_reconnected", _("Autorreconectado")
    METER_REVERSED = "reversed", _("Medidor invertido")
    METER_BURIED = "buried", _("Medidor enterrado / tapado")
    LEAK = "leak", _("Fuga visible")
    VACANT = "vacant", _("Predio deshabitado")
    DEMOLISHED = "demolished", _("Predio demolido")
    CLANDESTINE = "clandestine", _("Conexión clandestina observada")
    METER_CHANGED = "changed", _("Medidor cambiado (serie distinta)")
    REFUSED = "refused", _("Usuario impide la lectura")


class ReadingSource(models.TextChoices):
    HANDHELD = "handheld", _("Lector (página móvil)")
    IMPORT = "import", _("Archivo importado")
    OFFICE = "office", _("Digitada en oficina")
    REREAD = "reread", _("Relectura")
    SYSTEM = "system", _("Generada por el sistema")


class ReadingStatus(models.TextChoices):
    PENDING = "pending", _("Por criticar")
    OK = "ok", _("Sin observaciones")
    FLAGGED = "flagged", _("Observada")
    ACCEPTED = "accepted", _("Aceptada")
    CORRECTED = "corrected", _("Corregida")
    ESTIMATED = "estimated", _("Estimada")
    REREAD = "reread", _("Relectura ordenada")


class ConsumptionRule(models.TextChoices):
    """How the billed volume was determined (recorded on the bill line)."""

    ACTUAL = "actual", _("Diferencia de lecturas")
    AVERAGE = "average", _("Promedio histórico")
    ASSIGNED = "assigned", _("Asignación de consumo")
    ESTIMATED = "estimated", _("Estimado por el analista")
    CORRECTED = "corrected", _("Lectura corregida")
    MINIMUM = "minimum", _("Menor entre asignación y promedio")


# Statuses that the billing run bills from; FLAGGED and REREAD and PENDING hold the account.
BILLABLE_STATUSES = (
    ReadingStatus.OK,
    ReadingStatus.ACCEPTED,
    ReadingStatus.CORRECTED,
    ReadingStatus.ESTIMATED,
)


class Reading(models.Model):
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="readings",
        verbose_name=_("suministro"),
        db_index=False,  # reading_account_period covers it
    )
    period = models.CharField(_("periodo"), max_length=7)
    route = models.ForeignKey(
        Route, on_delete=models.PROTECT, related_name="+", verbose_name=_("ruta"), db_index=False
    )
    meter = models.ForeignKey(
        Meter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("medidor"),
        db_index=False,
    )
    previous_value = models.BigIntegerField(_("lectura anterior"), null=True, blank=True)
    value = models.BigIntegerField(_("lectura actual"), null=True, blank=True)
    read_at = models.DateTimeField(_("leída el"), null=True, blank=True)
    observation = models.CharField(
        _("observación"), max_length=20, choices=Observation.choices, blank=True, default=""
    )
    source = models.CharField(
        _("origen"), max_length=10, choices=ReadingSource.choices, default=ReadingSource.HANDHELD
    )
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lector"),
        db_index=False,
    )
    latitude = models.DecimalField(
        _("latitud"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitud"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    photo = models.CharField(_("foto"), max_length=200, blank=True)
    client_uuid = models.CharField(
        _("id del dispositivo"),
        max_length=40,
        blank=True,
        help_text=_("Identificador único enviado por el equipo; una re-sincronización no duplica."),
    )
    status = models.CharField(
        _("estado"), max_length=10, choices=ReadingStatus.choices, default=ReadingStatus.PENDING
    )
    flags = models.CharField(
        _("anomalías"), max_length=200, blank=True, help_text=_("Códigos separados por comas.")
    )
    consumption = models.BigIntegerField(_("consumo a facturar (m³)"), null=True, blank=True)
    consumption_rule = models.CharField(
        _("regla de consumo"), max_length=10, choices=ConsumptionRule.choices, blank=True
    )
    average = models.BigIntegerField(_("promedio histórico (m³)"), null=True, blank=True)
    control_sample = models.BooleanField(_("muestra de control"), default=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revisada por"),
        db_index=False,
    )
    reviewed_at = models.DateTimeField(_("revisada el"), null=True, blank=True)
    note = models.CharField(_("nota"), max_length=250, blank=True)
    updated_at = models.DateTimeField(_("actualizada"), auto_now=True)

    class Meta:
        verbose_name = _("lectura")
        verbose_name_plural = _("lecturas")
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="reading_account_period"),
        ]
        indexes = [
            models.Index(fields=["period", "route"], name="reading_period_route"),
            models.Index(fields=["period", "status"], name="reading_period_status"),
        ]
        permissions = [
            ("read_meters", "Puede registrar lecturas en campo"),
            ("supervise_reading", "Puede ver el avance de lectura y las hojas de ruta"),
            ("critique_readings", "Puede criticar y corregir lecturas"),
            ("manage_calendar", "Puede generar y editar el calendario de lectura"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period} {self.value}"


class Holiday(models.Model):
    """A public holiday: the reading calendar rules move windows and dates off it."""

    date = models.DateField(_("fecha"), unique=True)
    name = models.CharField(_("nombre"), max_length=120)

    class Meta:
        verbose_name = _("feriado")
        verbose_name_plural = _("feriados")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class RouteAssignment(models.Model):
    """Who reads a route in a period. A route without an assignment is open to every reader."""

    period = models.CharField(_("periodo"), max_length=7)
    route = models.ForeignKey(
        Route, on_delete=models.PROTECT, related_name="+", verbose_name=_("ruta")
    )
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("lector"),
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asignada por"),
        db_index=False,
    )
    assigned_at = models.DateTimeField(_("asignada el"), auto_now=True)

    class Meta:
        verbose_name = _("asignación de ruta")
        verbose_name_plural = _("asignaciones de ruta")
        constraints = [
            models.UniqueConstraint(fields=["period", "route"], name="assignment_period_route"),
        ]
        permissions = [("assign_routes", "Puede asignar rutas de lectura a los lectores")]

    def __str__(self) -> str:
        return f"{self.period} {self.route_id} → {self.reader_id}"
