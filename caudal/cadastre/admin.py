"""Administration of the cadastre.

Configuration data (utility settings, municipalities, zones, sectors, cycles, routes) is
edited here by the commercial manager; the auditor views it. Customers, properties,
accounts, connections and meters are browse-only: they change through cadastre actions and
imports, which are audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from caudal.audit.admin import CappedCountPaginator, ReadOnlyAdmin

from .models import (
    Account,
    Connection,
    Customer,
    Cycle,
    Meter,
    Municipality,
    Property,
    Route,
    Sector,
    UtilitySettings,
    Zone,
)


@admin.register(UtilitySettings)
class UtilitySettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "short_name", "country", "currency", "periodicity", "tax_id")
    fieldsets = (
        (None, {"fields": ("name", "short_name", "country", "tax_id", "gln")}),
        (None, {"fields": ("currency", "periodicity", "time_zone", "grace_days")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not UtilitySettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: UtilitySettings, form: Any, change: bool
    ) -> None:
        obj.pk = 1
        super().save_model(request, obj, form, change)


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "department", "altitude_m")
    search_fields = ("code", "name", "department")


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "municipality")
    list_filter = ("municipality",)
    list_select_related = ("municipality",)
    search_fields = ("code", "name")


@admin.register(Sector)
class SectorAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "zone")
    list_filter = ("zone__municipality",)
    list_select_related = ("zone",)
    search_fields = ("code", "name")


@admin.register(Cycle)
class CycleAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "reading_day", "billing_day", "due_days")
    search_fields = ("code", "name")


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sector", "cycle")
    list_filter = ("cycle",)
    list_select_related = ("sector", "cycle")
    search_fields = ("code", "name")
    paginator = CappedCountPaginator


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("name", "doc_type", "doc_number", "email", "mobile")
    search_fields = ("=doc_number",)


@admin.register(Property)
class PropertyAdmin(ReadOnlyAdmin):
    list_display = ("cadastral_code", "address", "route", "sequence")
    list_select_related = ("route",)
    search_fields = ("=cadastral_code",)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("number", "customer", "category", "segment", "cycle", "opened_on")
    list_select_related = ("customer", "cycle")
    search_fields = ("=number",)


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ("account", "service", "status", "status_since")
    list_select_related = ("account",)
    search_fields = ("=account__number",)


@admin.register(Meter)
class MeterAdmin(ReadOnlyAdmin):
    list_display = ("serial", "account", "brand", "diameter", "installed_on", "status")
    list_select_related = ("account",)
    search_fields = ("=serial",)
