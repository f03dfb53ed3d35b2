"""The commercial cadastre: who is served, where, and with what.

Tables, choices and constraints only. Every write goes through ``actions.py`` (or a bulk
import in ``imports.py``); rules live in ``rules.py``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Country(models.TextChoices):
    PERU = "PE", _("Perú")
    COLOMBIA = "CO", _("Colombia")


class Periodicity(models.TextChoices):
    MONTHLY = "monthly", _("Mensual")
    BIMONTHLY = "bimonthly", _("Bimestral")


class UtilitySettings(models.Model):
    """The utility running this deployment. One row (pk=1)."""

    name = models.CharField(_("nombre"), max_length=200)
    short_name = models.CharField(_("sigla"), max_length=40, blank=True)
    country = models.CharField(_("perfil de país"), max_length=2, choices=Country.choices)
    currency = models.CharField(_("moneda"), max_length=3, default="PEN")
    periodicity = models.CharField(
        _("periodicidad de facturación"),
        max_length=10,
        choices=Periodicity.choices,
        default=Periodicity.MONTHLY,
    )
    tax_id = models.CharField(_("RUC / NIT"), max_length=20)
    gln = models.CharField(
        _("GLN para código de barras"),
        max_length=13,
        blank=True,
        help_text=_("Número de localización global (13 dígitos) asignado por GS1."),
    )
    time_zone = models.CharField(_("zona horaria"), max_length=50, default="America/Lima")
    grace_days = models.PositiveSmallIntegerField(
        _("días de gracia"),
        default=0,
        help_text=_("Días tras el vencimiento antes de considerar vencida una partida."),
    )

    class Meta:
        verbose_name = _("configuración de la empresa")
        verbose_name_plural = _("configuración de la empresa")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> UtilitySettings:
        obj: UtilitySettings | None = UtilitySettings.objects.filter(pk=1).first()
        if obj is None:
            obj = UtilitySettings(
                pk=1, name="Caudal", country=Country.PERU, currency="PEN", tax_id=""
            )
        return obj


class Municipality(models.Model):
    code = models.CharField(_("código"), max_length=12, unique=True)
    name = models.CharField(_("nombre"), max_length=120)
    department = models.CharField(_("departamento"), max_length=120, blank=True)
    altitude_m = models.PositiveIntegerField(_("altitud (m s. n. m.)"), null=True, blank=True)

    class Meta:
        verbose_name = _("municipio / distrito")
        verbose_name_plural = _("municipios / distritos")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Zone(models.Model):
    code = models.CharField(_("código"), max_length=12, unique=True)
    name = models.CharField(_("nombre"), max_length=120)
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="zones", verbose_name=_("municipio")
    )

    class Meta:
        verbose_name = _("zona")
        verbose_name_plural = _("zonas")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Sector(models.Model):
    code = models.CharField(_("código"), max_length=12, unique=True)
    name = models.CharField(_("nombre"), max_length=120)
    zone = models.ForeignKey(
        Zone, on_delete=models.PROTECT, related_name="sectors", verbose_name=_("zona")
    )

    class Meta:
        verbose_name = _("sector")
        verbose_name_plural = _("sectores")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Cycle(models.Model):
    """A billing cycle (ciclo): the accounts read and billed together."""

    code = models.CharField(_("código"), max_length=12, unique=True)
    name = models.CharField(_("nombre"), max_length=120)
    reading_day = models.PositiveSmallIntegerField(_("día de lectura"), default=18)
    billing_day = models.PositiveSmallIntegerField(_("día de facturación"), default=6)
    due_days = models.PositiveSmallIntegerField(_("días para vencimiento"), default=20)

    class Meta:
        verbose_name = _("ciclo")
        verbose_name_plural = _("ciclos")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Route(models.Model):
    """A reading and delivery route (ruta) within a sector and cycle."""

    code = models.CharField(_("código"), max_length=16, unique=True)
    name = models.CharField(_("nombre"), max_length=120, blank=True)
    sector = models.ForeignKey(
        Sector, on_delete=models.PROTECT, related_name="routes", verbose_name=_("sector")
    )
    cycle = models.ForeignKey(
        Cycle, on_delete=models.PROTECT, related_name="routes", verbose_name=_("ciclo")
    )

    class Meta:
        verbose_name = _("ruta")
        verbose_name_plural = _("rutas")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class DocumentType(models.TextChoices):
    DNI = "DNI", _("DNI (Perú)")
    RUC = "RUC", _("RUC (Perú)")
    CE = "CE", _("Carné / cédula de extranjería")
    CC = "CC", _("Cédula de ciudadanía (Colombia)")
    NIT = "NIT", _("NIT (Colombia)")
    PASSPORT = "PAS", _("Pasaporte")


class Customer(models.Model):
    """The holder of one or more accounts (titular)."""

    doc_type = models.CharField(_("tipo de documento"), max_length=3, choices=DocumentType.choices)
    doc_number = models.CharField(_("número de documento"), max_length=20)
    name = models.CharField(_("nombre o razón social"), max_length=200, db_index=True)
    email = models.EmailField(_("correo electrónico"), blank=True)
    phone = models.CharField(_("teléfono"), max_length=30, blank=True)
    mobile = models.CharField(_("celular"), max_length=30, blank=True)
    consent_email = models.BooleanField(_("acepta notificaciones por correo"), default=False)
    consent_sms = models.BooleanField(_("acepta notificaciones por SMS"), default=False)
    consent_date = models.DateField(_("fecha del consentimiento"), null=True, blank=True)
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)

    class Meta:
        verbose_name = _("titular")
        verbose_name_plural = _("titulares")
        constraints = [
            models.UniqueConstraint(
                fields=["doc_type", "doc_number"], name="customer_unique_document"
            )
        ]
        indexes = [models.Index(fields=["doc_number"], name="customer_doc_number")]

    def __str__(self) -> str:
        return f"{self.name} ({self.doc_type} {self.doc_number})"


class Property(models.Model):
    """A property (predio) where services are delivered."""

    cadastral_code = models.CharField(_("código catastral"), max_length=30, unique=True)
    address = models.CharField(_("dirección"), max_length=250, db_index=True)
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="+", verbose_name=_("municipio")
    )
    zone = models.ForeignKey(
        Zone, on_delete=models.PROTECT, related_name="+", verbose_name=_("zona")
    )
    sector = models.ForeignKey(
        Sector, on_delete=models.PROTECT, related_name="+", verbose_name=_("sector")
    )
    route = models.ForeignKey(
        Route,
        on_delete=models.PROTECT,
        related_name="properties",
        verbose_name=_("ruta"),
        db_index=False,  # covered by the (route, sequence) index below
    )
    sequence = models.PositiveIntegerField(_("secuencia en la ruta"))
    latitude = models.DecimalField(
        _("latitud"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitud"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    municipal_ref = models.CharField(_("referencia catastral municipal"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("predio")
        verbose_name_plural = _("predios")
        indexes = [models.Index(fields=["route", "sequence"], name="property_route_seq")]

    def __str__(self) -> str:
        return f"{self.cadastral_code} {self.address}"


class UseCategory(models.TextChoices):
    SOCIAL = "social", _("Social")
    DOMESTIC = "domestic", _("Doméstico")
    COMMERCIAL = "commercial", _("Comercial")
    INDUSTRIAL = "industrial", _("Industrial")
    STATE = "state", _("Estatal")


class Segment(models.TextChoices):
    REGULAR = "regular", _("Regular")
    VIP = "vip", _("VIP / gran consumidor")


class Account(models.Model):
    """The billing unit (suministro / cuenta contrato). Its number is the payment reference."""

    number = models.CharField(_("número de suministro"), max_length=20, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("titular")
    )
    property = models.ForeignKey(
        Property, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("predio")
    )
    category = models.CharField(_("categoría de uso"), max_length=12, choices=UseCategory.choices)
    units = models.PositiveSmallIntegerField(_("unidades de uso"), default=1)
    stratum = models.PositiveSmallIntegerField(_("estrato"), null=True, blank=True)
    segment = models.CharField(
        _("segmento"), max_length=8, choices=Segment.choices, default=Segment.REGULAR
    )
    cycle = models.ForeignKey(
        Cycle, on_delete=models.PROTECT, related_name="+", verbose_name=_("ciclo")
    )
    opened_on = models.DateField(_("fecha de alta"))
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        verbose_name = _("suministro")
        verbose_name_plural = _("suministros")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stratum__isnull=True) | models.Q(stratum__gte=1, stratum__lte=6),
                name="account_stratum_1_6",
            ),
            models.CheckConstraint(condition=models.Q(units__gte=1), name="account_units_positive"),
        ]

    def __str__(self) -> str:
        return self.number


class Service(models.TextChoices):
    WATER = "water", _("Agua potable")
    SEWER = "sewer", _("Alcantarillado")


class ConnectionStatus(models.TextChoices):
    FEASIBLE = "feasible", _("Factible")
    ACTIVE = "active", _("Activa")
    CUT = "cut", _("Cortada")
    REMOVED = "removed", _("Levantada")
    CLANDESTINE = "clandestine", _("Clandestina")


class Connection(models.Model):
    """One service of an account (water or sewer) and its current status."""

    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="connections",
        verbose_name=_("suministro"),
        db_index=False,  # covered by the unique (account, service) constraint below
    )
    service = models.CharField(_("servicio"), max_length=8, choices=Service.choices)
    status = models.CharField(_("estado"), max_length=12, choices=ConnectionStatus.choices)
    status_since = models.DateField(_("estado desde"))

    class Meta:
        verbose_name = _("conexión")
        verbose_name_plural = _("conexiones")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "service"], name="connection_one_per_service"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.service} {self.status}"


class ConnectionStatusChange(models.Model):
    """Dated history of a connection's status. Append-only."""

    connection = models.ForeignKey(
        Connection, on_delete=models.PROTECT, related_name="history", verbose_name=_("conexión")
    )
    status = models.CharField(_("estado"), max_length=12, choices=ConnectionStatus.choices)
    previous_status = models.CharField(
        _("estado anterior"), max_length=12, choices=ConnectionStatus.choices, blank=True
    )
    effective_on = models.DateField(_("fecha efectiva"))
    reason = models.CharField(_("motivo"), max_length=250, blank=True)
    recorded_at = models.DateTimeField(_("registrado"), auto_now_add=True)

    class Meta:
        verbose_name = _("cambio de estado de conexión")
        verbose_name_plural = _("historial de estados de conexión")
        ordering = ["connection", "effective_on", "id"]

    def __str__(self) -> str:
        return f"{self.connection_id} {self.previous_status or '-'} → {self.status} {self.effective_on}"


class MeterStatus(models.TextChoices):
    INSTALLED = "installed", _("Instalado")
    BROKEN = "broken", _("Averiado")
    STOLEN = "stolen", _("Robado")
    REMOVED = "removed", _("Retirado")


class Meter(models.Model):
    """A water meter (medidor). An account has at most one installed meter at a time."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="meters", verbose_name=_("suministro")
    )
    serial = models.CharField(_("número de serie"), max_length=30)
    brand = models.CharField(_("marca"), max_length=40, blank=True)
    diameter = models.CharField(_("diámetro"), max_length=8, default="1/2")
    digits = models.PositiveSmallIntegerField(_("dígitos"), default=5)
    installed_on = models.DateField(_("fecha de instalación"))
    removed_on = models.DateField(_("fecha de retiro"), null=True, blank=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=MeterStatus.choices, default=MeterStatus.INSTALLED
    )

    class Meta:
        verbose_name = _("medidor")
        verbose_name_plural = _("medidores")
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(removed_on__isnull=True),
                name="meter_one_current_per_account",
            ),
            models.CheckConstraint(
                condition=models.Q(digits__gte=3, digits__lte=9), name="meter_digits_3_9"
            ),
        ]
        indexes = [models.Index(fields=["serial"], name="meter_serial")]

    def __str__(self) -> str:
        return self.serial
