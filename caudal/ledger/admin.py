"""The ledger in the administration site: view-only for everyone, superusers included.

Documents, items, clearings and block events are written only by ``caudal.ledger.actions``
(atomic, audited, balanced); the admin never adds, changes or deletes them.
"""

from __future__ import annotations

from django.contrib import admin

from caudal.audit.admin import ReadOnlyAdmin

from .models import BlockEvent, Clearing, Document, DocumentLine, OpenItem


class DocumentLineInline(admin.TabularInline):
    model = DocumentLine
    extra = 0
    can_delete = False
    fields = ("line_no", "concept", "amount", "description")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "kind", "reference", "posting_date", "amount", "source")
    list_filter = ("kind",)
    list_select_related = ("account",)
    search_fields = ("=reference", "=account__number")
    raw_id_fields = ("account", "reverses", "created_by")
    inlines = (DocumentLineInline,)


@admin.register(OpenItem)
class OpenItemAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account",
        "concept",
        "side",
        "due_date",
        "amount",
        "open_amount",
        "blocked",
    )
    list_filter = ("side", "blocked")
    list_select_related = ("account",)
    search_fields = ("=account__number",)
    raw_id_fields = ("account", "document", "line")


@admin.register(Clearing)
class ClearingAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "debit_item", "credit_item", "amount", "cleared_on")
    list_select_related = ("account",)
    search_fields = ("=account__number",)
    raw_id_fields = ("account", "debit_item", "credit_item", "document", "resets")


@admin.register(BlockEvent)
class BlockEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "blocked", "effective_on", "reason", "case_ref", "responsible")
    list_filter = ("blocked",)
    raw_id_fields = ("item", "created_by")
