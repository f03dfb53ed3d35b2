"""The administration site for configuration data, opened by role rather than ``is_staff``.

Django's admin admits only ``is_staff`` users; Caudal also admits users whose role grants
``web.access_admin`` (manager, auditor). What they can see and change inside is decided by
the ordinary model permissions of their role.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class CaudalAdminSite(admin.AdminSite):
    site_header = _("Caudal — administration")
    site_title = "Caudal"
    index_title = _("Configuration")

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_staff or user.has_perm("web.access_admin")))


class CaudalAdminConfig(AdminConfig):
    default_site = "caudal.web.admin_site.CaudalAdminSite"
