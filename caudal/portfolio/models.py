"""Cartera control: policies (stages, age buckets, indicators), snapshots and KPI values.

The cartera is analysed from snapshots (cortes de cartera): at a cut-off date every open
item *as of that date* with its account's attributes is written to Parquet, one folder per
date (``settings.CAUDAL_SNAPSHOT_DIR / YYYY-MM-DD``; columns in :mod:`caudal.portfolio.schema`).
This app only reads the operational tables (ledger, cadastre, billing, collection); it writes
its own tables below and the Parquet files.

- :class:`StagePolicy` / :class:`StageRule`: collection stages (etapas de cobro) per country
  profile, versioned and dated. The first rule that matches an account wins.
- :class:`AgingPolicy`: age buckets and the light / heavy / DDR thresholds, versioned.
- :class:`Snapshot`: one per cut-off date (idempotent per date), with its totals.
- :class:`KpiFormula` (versioned, named), :class:`KpiTarget` (per indicator and period,
  the "acuerdos de gestión" / APA), :class:`KpiValue` (a formula evaluated on a snapshot,
  with its inputs kept).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from caudal.audit.models import Run
from caudal.cadastre.models import Country


class StagePolicy(models.Model):
    """A dated version of the collection-stage rules of a country profile."""

    country = models.CharField(_("perfil de país"), max_length=2, choices=Country.choices)
    version = models.PositiveIntegerField(_("versión"))
    valid_from = models.DateField(_("vigente desde"))
    name = models.CharField(_("nombre"), max_length=120)
    notes = models.TextField(_("notas"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)

    class Meta:
        verbose_name = _("política de etapas de cobro")
        verbose_name_plural = _("políticas de etapas de cobro")
        constraints = [
            models.UniqueConstraint(fields=["country", "version"], name="stage_policy_version"),
        ]
        permissions = [
            ("view_cartera", _("Ver cartera, seguimientos, indicadores y tablero")),
            ("take_snapshots", _("Tomar cortes de cartera y descargar testigos")),
            ("manage_policies", _("Configurar etapas, edades, indicadores y metas")),
        ]

    def __str__(self) -> str:
        return f"{self.country} v{self.version} ({self.valid_from})"


class StageRule(models.Model):
    """One rule of a stage policy. Evaluated in ``order``; the first match wins.

    An account matches when its collectible days past due (oldest unblocked open debit) is
    within ``min_days``..``max_days`` (inclusive; no ``max_days`` = no upper bound), its
    collectible overdue amount is at least ``min_amount`` and, when ``segment`` is set, its
    segment is that one.
    """

    policy = models.ForeignKey(StagePolicy, on_delete=models.CASCADE, related_name="rules")
    order = models.PositiveSmallIntegerField(_("orden"))
    stage = models.CharField(_("etapa (código)"), max_length=20)
    name = models.CharField(_("etapa"), max_length=80)
    min_days = models.PositiveIntegerField(_("desde (días de mora)"), default=0)
    max_days = models.PositiveIntegerField(_("hasta (días de mora)"), null=True, blank=True)
    min_amount = models.BigIntegerField(_("deuda vencida mínima (céntimos)"), default=0)
    segment = models.CharField(_("segmento"), max_length=8, blank=True)
    responsible = models.CharField(_("responsable"), max_length=120)

    class Meta:
        verbose_name = _("regla de etapa")
        verbose_name_plural = _("reglas de etapa")
        ordering = ["policy", "order"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "order"], name="stage_rule_order"),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"


class AgingPolicy(models.Model):
    """Age buckets (tramos de edad) and the light / heavy / DDR thresholds, versioned.

    ``bounds`` are the inclusive upper bounds in days past due of every bucket but the
    last: ``[0, 30, 60, 90, 180, 360]`` gives 0, 1–30, 31–60, 61–90, 91–180, 181–360, > 360.
    """

    version = models.PositiveIntegerField(_("versión"), unique=True)
    valid_from = models.DateField(_("vigente desde"))
    bounds = models.JSONField(_("límites de los tramos (días)"))
    light_from_days = models.PositiveIntegerField(_("cartera liviana desde (días)"), default=31)
    heavy_from_days = models.PositiveIntegerField(_("cartera pesada desde (días)"), default=181)
    ddr_from_days = models.PositiveIntegerField(_("DDR desde (días)"), default=361)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)

    class Meta:
        verbose_name = _("política de edades")
        verbose_name_plural = _("políticas de edades")

    def __str__(self) -> str:
        return f"v{self.version} ({self.valid_from})"


class SnapshotKind(models.TextChoices):
    DAILY = "daily", _("Diario")
    MONTHLY = "monthly", _("Cierre de mes")
    ADHOC = "adhoc", _("A pedido")


class SnapshotStatus(models.TextChoices):
    RUNNING = "running", _("En curso")
    DONE = "done", _("Terminado")
    FAILED = "failed", _("Fallido")


class Snapshot(models.Model):
    """A cut-off of the cartera (corte de cartera) at the end of ``date``.

    The files live in ``settings.CAUDAL_SNAPSHOT_DIR / path``. Taking the snapshot of a date
    again replaces its folder atomically; the result is the same, because it is computed as
    of the date (clearings and blocks dated after it are left out).
    """

    date = models.DateField(_("fecha de corte"), unique=True)
    kind = models.CharField(_("tipo"), max_length=8, choices=SnapshotKind.choices)
    status = models.CharField(
        _("estado"), max_length=8, choices=SnapshotStatus.choices, default=SnapshotStatus.RUNNING
    )
    path = models.CharField(_("carpeta"), max_length=200)
    run = models.ForeignKey(Run, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    stage_policy = models.ForeignKey(
        StagePolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    aging_policy = models.ForeignKey(
        AgingPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    engine = models.CharField(_("motor"), max_length=12, blank=True)
    items = models.BigIntegerField(_("partidas abiertas"), default=0)
    accounts = models.BigIntegerField(_("cuentas"), default=0)
    debit_open = models.BigIntegerField(_("débitos abiertos"), default=0)
    credit_open = models.BigIntegerField(_("créditos abiertos"), default=0)
    balance = models.BigIntegerField(_("saldo neto"), default=0)
    overdue = models.BigIntegerField(_("vencido"), default=0)
    blocked = models.BigIntegerField(_("bloqueado"), default=0)
    duration_ms = models.PositiveIntegerField(_("duración (ms)"), default=0)
    taken_at = models.DateTimeField(_("tomado"), null=True, blank=True)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("corte de cartera")
        verbose_name_plural = _("cortes de cartera")
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date} ({self.get_kind_display()})"


class KpiUnit(models.TextChoices):
    PERCENT = "percent", _("%")
    MONTHS = "months", _("meses")
    RATIO = "ratio", _("razón")


class KpiDirection(models.TextChoices):
    HIGHER = "higher", _("Mayor es mejor")
    LOWER = "lower", _("Menor es mejor")


class KpiFormula(models.Model):
    """A named, versioned indicator formula over named inputs (see ``portfolio.kpis``).

    ``expression`` is arithmetic over input names (``receivables / avg_billing_12m``),
    evaluated with Decimal by :func:`caudal.portfolio.rules.evaluate`. ``confirmed`` is
    False for the usual definitions the reference marks UNCONFIRMED: the page says they are
    placeholders an administrator can replace with a new version.
    """

    code = models.CharField(_("código"), max_length=40)
    version = models.PositiveIntegerField(_("versión"))
    name = models.CharField(_("nombre"), max_length=120)
    description = models.TextField(_("definición"), blank=True)
    expression = models.CharField(_("fórmula"), max_length=500)
    unit = models.CharField(_("unidad"), max_length=8, choices=KpiUnit.choices)
    direction = models.CharField(_("sentido"), max_length=8, choices=KpiDirection.choices)
    confirmed = models.BooleanField(_("definición confirmada"), default=False)
    source = models.CharField(_("fuente"), max_length=250, blank=True)
    valid_from = models.DateField(_("vigente desde"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)

    class Meta:
        verbose_name = _("fórmula de indicador")
        verbose_name_plural = _("fórmulas de indicadores")
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="kpi_formula_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class KpiTarget(models.Model):
    """The target of an indicator for a period (acuerdo de gestión / APA), with a band.

    Green when the value meets the target; amber when it misses it by at most
    ``tolerance`` (in the indicator's unit); red otherwise. ``period`` is ``YYYY-MM``.
    """

    code = models.CharField(_("indicador"), max_length=40)
    period = models.CharField(_("periodo (AAAA-MM)"), max_length=7)
    target = models.DecimalField(_("meta"), max_digits=14, decimal_places=4)
    tolerance = models.DecimalField(_("tolerancia (ámbar)"), max_digits=14, decimal_places=4)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    set_at = models.DateTimeField(_("registrada"), auto_now=True)

    class Meta:
        verbose_name = _("meta de indicador")
        verbose_name_plural = _("metas de indicadores")
        constraints = [
            models.UniqueConstraint(fields=["code", "period"], name="kpi_target_period"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.period}: {self.target}"


class KpiValue(models.Model):
    """A formula evaluated on a snapshot, with the inputs it used (JSON, amounts as ints)."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="kpis")
    formula = models.ForeignKey(KpiFormula, on_delete=models.PROTECT, related_name="values")
    value = models.DecimalField(_("valor"), max_digits=20, decimal_places=6, null=True)
    inputs = models.JSONField(_("datos de entrada"), default=dict)
    computed_at = models.DateTimeField(_("calculado"), auto_now=True)

    class Meta:
        verbose_name = _("valor de indicador")
        verbose_name_plural = _("valores de indicadores")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "formula"], name="kpi_value_once"),
        ]

    def __str__(self) -> str:
        return f"{self.formula.code} {self.snapshot.date}: {self.value}"
