"""Management reports in the administration site: browse only.

Reports are created, edited, reviewed, approved and published through ``/informes/``, whose
actions check the role and the state and write audit events; the admin never changes them.
Users who may see published reports (``reports.view_reports``) and enter the admin may
browse them and their workflow steps.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from caudal.audit.admin import ReadOnlyAdmin

from .models import ManagementReport, ReportStep

VIEW = "reports.view_reports"


class ReportsAdmin(ReadOnlyAdmin):
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(VIEW) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(VIEW) or super().has_module_permission(request)


class ReportStepInline(admin.TabularInline):
    model = ReportStep
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor", "comment")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(VIEW) or super().has_view_permission(request, obj)


@admin.register(ManagementReport)
class ManagementReportAdmin(ReportsAdmin):
    list_display = (
        "title",
        "kind",
        "snapshot",
        "status",
        "revision",
        "created_by",
        "published_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("title",)
    list_select_related = ("snapshot", "created_by")
    raw_id_fields = ("snapshot", "created_by", "published_by")
    inlines = (ReportStepInline,)


@admin.register(ReportStep)
class ReportStepAdmin(ReportsAdmin):
    list_display = ("report", "from_status", "to_status", "actor", "at")
    list_filter = ("to_status",)
    list_select_related = ("report__snapshot", "actor")
    raw_id_fields = ("report", "actor")
