"""The cartera configuration and its results in the administration site: browse only.

Stage and aging policies, indicator formulas and targets change through the cartera pages
(``/cartera/politicas/``, ``/cartera/indicadores/…``), whose actions version them and write
audit events; snapshots and indicator values are computed. So the admin never adds,
changes or deletes them. Anyone who may see the cartera (``portfolio.view_cartera``) and
enter the admin may browse them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from caudal.audit.admin import ReadOnlyAdmin

from .models import (
    AgingPolicy,
    KpiFormula,
    KpiTarget,
    KpiValue,
    Snapshot,
    StagePolicy,
    StageRule,
)

VIEW = "portfolio.view_cartera"


class CarteraAdmin(ReadOnlyAdmin):
    """Read-only; visible with the model's view permission or ``portfolio.view_cartera``."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(VIEW) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(VIEW) or super().has_module_permission(request)


class StageRuleInline(admin.TabularInline):
    model = StageRule
    extra = 0
    can_delete = False
    fields = (
        "order",
        "stage",
        "name",
        "min_days",
        "max_days",
        "min_amount",
        "segment",
        "responsible",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(VIEW) or super().has_view_permission(request, obj)


@admin.register(StagePolicy)
class StagePolicyAdmin(CarteraAdmin):
    list_display = ("country", "version", "valid_from", "name", "created_by", "created_at")
    list_filter = ("country",)
    inlines = (StageRuleInline,)


@admin.register(AgingPolicy)
class AgingPolicyAdmin(CarteraAdmin):
    list_display = (
        "version",
        "valid_from",
        "bounds",
        "light_from_days",
        "heavy_from_days",
        "ddr_from_days",
        "created_by",
    )


@admin.register(Snapshot)
class SnapshotAdmin(CarteraAdmin):
    list_display = (
        "date",
        "kind",
        "status",
        "accounts",
        "items",
        "balance",
        "overdue",
        "blocked",
        "duration_ms",
        "taken_by",
    )
    list_filter = ("kind", "status")
    date_hierarchy = "date"
    raw_id_fields = ("run", "stage_policy", "aging_policy", "taken_by")


@admin.register(KpiFormula)
class KpiFormulaAdmin(CarteraAdmin):
    list_display = ("code", "version", "name", "unit", "direction", "confirmed", "valid_from")
    list_filter = ("confirmed", "unit")
    search_fields = ("code", "name")
    ordering = ("code", "-version")


@admin.register(KpiTarget)
class KpiTargetAdmin(CarteraAdmin):
    list_display = ("code", "period", "target", "tolerance", "set_by", "set_at")
    list_filter = ("period",)
    search_fields = ("code",)
    ordering = ("-period", "code")


@admin.register(KpiValue)
class KpiValueAdmin(CarteraAdmin):
    list_display = ("snapshot", "formula", "value", "computed_at")
    list_select_related = ("snapshot", "formula")
    list_filter = ("formula__code",)
    raw_id_fields = ("snapshot", "formula")
