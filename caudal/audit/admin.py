"""Administration of audit records: read-only for everyone, as audit events are append-only.

Also home of :class:`ReadOnlyAdmin` and :class:`CappedCountPaginator`, shared by the admin
modules of the cadastre and the ledger (they may import ``audit``, not ``web``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import HttpRequest
from django.utils.functional import cached_property

from .models import AuditEvent, Run

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most ``COUNT_CAP`` + 1 rows: ledger tables hold hundreds of millions."""

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        qs = self.object_list
        if hasattr(qs, "order_by"):
            return qs.order_by().values("pk")[: COUNT_CAP + 1].count()  # type: ignore[union-attr]
        return len(qs)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse only: records are written by actions (audited), never through the admin."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "action", "object_type", "object_id", "account_id")
    list_filter = ("action",)
    search_fields = ("=actor_label", "=object_id", "=account_id")
    list_select_related = ("actor",)
    raw_id_fields = ("actor",)


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "kind", "status", "finished_at", "actor")
    list_filter = ("kind", "status")
    list_select_related = ("actor",)
    raw_id_fields = ("actor",)
