"""Roles: Django groups with the permissions each kind of utility staff needs.

``ROLES`` is the source of truth: :func:`ensure_roles` creates every group and sets its
permissions to exactly the listed ones (permissions added by hand to a role group are
removed; give extra permissions to users, not to role groups). It runs from a data
migration of ``caudal.web`` and from ``caudal setup-roles``.

What each role can do today (the pages that check these permissions live in ``caudal.web``):

- every office role: global search, the account 360 page with its statement (HTML and
  CSV) and the audit trail of the account;
- ``manager`` and ``auditor``: the audit trail of any user and the administration site
  (configuration data: utility settings, municipalities, zones, sectors, cycles, routes).
  The manager edits configuration; the auditor only views it. Both can browse cadastre,
  ledger and audit records there, read-only for everyone (the ledger and the cadastre are
  changed only through actions);
- ``billing_analyst`` (and ``manager``): the reading calendar, critique, billing runs,
  print batches and tariff imports; ``field_supervisor``: reading progress, route sheets
  and print batches; every office role: bills on the 360 page and the tariff versions;
- ``field_worker``: the mobile reading page of their routes (``metering.read_meters``);
- ``cashier``: the cash desk (``collection.take_payments``); ``cash_supervisor`` and
  ``manager``: cash sessions, centres and their API keys, daily settlements, deposits, bank
  file imports; collection reports for them and for the cartera, collections and audit roles;
- ``cartera_analyst``: snapshots and testigos, follow-ups, indicators, the dashboard, and
  drafts the management reports; ``cartera_coordinator`` also reviews them (forward or
  return); ``manager`` (the director) approves or returns them and sets the stage, aging and
  indicator policies and targets; ``collections_officer`` and ``auditor`` view the cartera
  pages and the published reports.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

Role = tuple[str, frozenset[str]]

CONFIG_MODELS = ("utilitysettings", "municipality", "zone", "sector", "cycle", "route")
CADASTRE_RECORDS = ("customer", "property", "account", "connection", "meter")
LEDGER_MODELS = ("document", "documentline", "openitem", "clearing", "blockevent")
AUDIT_MODELS = ("auditevent", "run")


def _perms(app_label: str, actions: Iterable[str], models: Iterable[str]) -> frozenset[str]:
    return frozenset(f"{app_label}.{a}_{m}" for a in actions for m in models)


OFFICE = frozenset({"web.search_accounts", "web.view_account_360", "web.export_statement"})
VIEW_RECORDS = (
    _perms("cadastre", ["view"], CADASTRE_RECORDS)
    | _perms("ledger", ["view"], LEDGER_MODELS)
    | _perms("audit", ["view"], AUDIT_MODELS)
)
OVERSIGHT = frozenset({"audit.view_audit_trail", "web.access_admin"})
# Bills on the 360 page and tariff versions: every office role can see them.
BILLS = frozenset({"billing.view_bills", "tariffs.view_tariffversion"})
READING_SUPERVISION = frozenset({"metering.supervise_reading", "metering.assign_routes"})
BILLING_WORK = frozenset(
    {
        "metering.supervise_reading",
        "metering.assign_routes",
        "metering.critique_readings",
        "metering.manage_calendar",
        "billing.run_billing",
        "billing.print_bills",
        "tariffs.manage_tariffs",
    }
)

# Collections: the cashier takes payments; the supervisor (and the manager) reviews cash
# sessions, closes and settles the centres' days, manages centres and keys, imports files.
CASH_DESK = frozenset({"collection.take_payments", "collection.view_collections"})
COLLECTION_WORK = frozenset(
    {
        "collection.take_payments",
        "collection.supervise_cash",
        "collection.manage_centres",
        "collection.import_payments",
        "collection.view_collections",
    }
)

# Cartera control: the analyst takes snapshots, follows the cartera and drafts the reports;
# the coordinator reviews them; the manager (director) approves them and sets policies.
CARTERA_VIEW = frozenset({"portfolio.view_cartera", "reports.view_reports"})
CARTERA_WORK = CARTERA_VIEW | {"portfolio.take_snapshots", "reports.draft_reports"}

ROLES: dict[str, Role] = {
    "manager": (
        "Gerencia comercial",
        OFFICE
        | OVERSIGHT
        | VIEW_RECORDS
        | BILLS
        | BILLING_WORK
        | COLLECTION_WORK
        | CARTERA_WORK
        | {"portfolio.manage_policies", "reports.approve_reports"}
        | _perms("cadastre", ["view", "add", "change", "delete"], CONFIG_MODELS),
    ),
    "cartera_analyst": (
        "Analista de cartera",
        OFFICE | BILLS | CARTERA_WORK | {"collection.view_collections"},
    ),
    "cartera_coordinator": (
        "Coordinador de cartera",
        OFFICE | BILLS | CARTERA_WORK | {"collection.view_collections", "reports.review_reports"},
    ),
    "billing_analyst": ("Analista de facturación", OFFICE | BILLS | BILLING_WORK),
    "cashier": ("Cajero / centro de recaudo", OFFICE | BILLS | CASH_DESK),
    "cash_supervisor": ("Supervisor de recaudación", OFFICE | BILLS | COLLECTION_WORK),
    "collections_officer": (
        "Gestor de cobranza",
        OFFICE | BILLS | CARTERA_VIEW | {"collection.view_collections"},
    ),
    "field_supervisor": (
        "Supervisor de campo",
        OFFICE | BILLS | READING_SUPERVISION | {"billing.print_bills"},
    ),
    "field_worker": ("Operario de campo", frozenset({"web.field_work", "metering.read_meters"})),
    "customer_service": ("Atención al cliente", OFFICE | BILLS),
    "auditor": (
        "Auditor",
        OFFICE
        | OVERSIGHT
        | VIEW_RECORDS
        | BILLS
        | CARTERA_VIEW
        | {"metering.supervise_reading", "collection.view_collections"}
        | _perms("cadastre", ["view"], CONFIG_MODELS),
    ),
}


def role_label(group_name: str) -> str:
    role = ROLES.get(group_name)
    return role[0] if role else group_name


def _create_missing_permissions() -> None:
    """Create content types and permissions of every installed app (what post_migrate does).

    Needed when ``ensure_roles`` runs inside a migration on a fresh database: Django creates
    permissions only after the last migration.
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)


@transaction.atomic
def ensure_roles() -> None:
    """Create the role groups and set their permissions. Idempotent."""
    from django.contrib.auth.models import Group, Permission

    _create_missing_permissions()
    wanted = set().union(*(perms for _label, perms in ROLES.values()))
    found: dict[str, Permission] = {}
    for perm in Permission.objects.select_related("content_type"):
        key = f"{perm.content_type.app_label}.{perm.codename}"
        if key in wanted:
            found[key] = perm
    missing = sorted(wanted - found.keys())
    if missing:
        raise ValueError(f"unknown permissions in ROLES: {', '.join(missing)}")
    for name, (_label, perms) in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set([found[p] for p in sorted(perms)])


__all__ = ["ROLES", "ensure_roles", "role_label"]
