"""``caudal route-sheet --period P --route R [--format pdf|csv|json] [--output FILE]``.

Writes the route sheet (hoja de ruta) of one route: accounts in route sequence with meter,
previous reading, last consumptions and expected range. Without ``--output`` the CSV and
JSON go to standard output and the PDF to ``hoja-de-ruta_<route>_<period>.pdf``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.cadastre.models import Route, UtilitySettings
from caudal.kernel.errors import DomainError
from caudal.metering.calendar_actions import parse_period
from caudal.metering.sheets import route_sheet, sheet_csv, sheet_json, sheet_pdf


class Command(BaseCommand):
    help = "Hoja de ruta de lectura de una ruta y periodo, en PDF (A4), CSV o JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="periodo AAAA-MM")
        parser.add_argument("--route", required=True, help="código de la ruta")
        parser.add_argument("--format", choices=["pdf", "csv", "json"], default="pdf")
        parser.add_argument("--output", help="archivo de salida")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            period = parse_period(opts["period"])
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        route = Route.objects.select_related("cycle").filter(code=opts["route"]).first()
        if route is None:
            raise CommandError(_("No existe la ruta %(route)s") % {"route": opts["route"]})
        sheet = route_sheet(period, route)
        fmt = opts["format"]
        output = opts["output"]
        if fmt == "pdf":
            path = Path(output or f"hoja-de-ruta_{route.code}_{period.code}.pdf")
            path.write_bytes(sheet_pdf(sheet, utility_name=UtilitySettings.current().name))
            self.stdout.write(
                _("%(path)s: %(n)s suministros") % {"path": path, "n": len(sheet.rows)}
            )
            return
        text = sheet_csv(sheet) if fmt == "csv" else sheet_json(sheet)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stdout.write(
                _("%(path)s: %(n)s suministros") % {"path": output, "n": len(sheet.rows)}
            )
        else:
            self.stdout.write(text, ending="" if text.endswith("\n") else "\n")
