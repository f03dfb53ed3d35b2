"""``caudal setup-roles``: create or refresh the role groups and their permissions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from caudal.audit.roles import ROLES, ensure_roles


class Command(BaseCommand):
    help = "Create or refresh the role groups (manager, cashier, auditor...) and their permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_roles()
        for name, (label, perms) in ROLES.items():
            self.stdout.write(f"{name:20} {label:28} permisos: {len(perms)}")
