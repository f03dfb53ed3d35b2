"""The web app owns no tables: only the permissions its pages check.

``WebAccess`` is an unmanaged model with no table; it exists so that Django creates the
custom permissions below (``web.<codename>``) with a content type, and roles
(:mod:`caudal.audit.roles`) can grant them to groups.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WebAccess(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("acceso web")
        verbose_name_plural = _("accesos web")
        permissions = [
            ("search_accounts", "Puede buscar suministros y titulares"),
            ("view_account_360", "Puede ver la ficha 360 de un suministro"),
            ("export_statement", "Puede descargar el estado de cuenta en CSV"),
            ("access_admin", "Puede entrar a la administración de configuración"),
            ("field_work", "Trabaja en campo (lecturas, cortes, inspecciones)"),
        ]

    def __str__(self) -> str:
        return "web"
