"""``caudal collection-report --month YYYY-MM [--centre CODE] --format pdf|xlsx --output FILE``.

The monthly commission report of a collection centre (or of every centre with payments
or settlements in the month: one report per centre, each on its own pages in the PDF and
its own sheet in the XLSX): per day payments, amount collected, reversals and commission,
the month's totals, the commission terms, and the lines for "Elaborado por" (the centre)
and "Aprobado por" (Departamento de Facturación y Cobranzas).

Exit status 0; 1 with a message for a bad month, an unknown centre or no centre with
payments in the month.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.collection import reports
from caudal.collection.models import Centre
from caudal.kernel.money import format_money
from caudal.kernel.periods import Period


class Command(BaseCommand):
    help = "Informe mensual de comisiones de un centro de recaudo (o de todos) en PDF o XLSX."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="mes AAAA-MM")
        parser.add_argument("--centre", help="código del centro (por defecto, todos los del mes)")
        parser.add_argument("--format", choices=["pdf", "xlsx"], help="por defecto, el de --output")
        parser.add_argument("--output", required=True, help="archivo de salida")
        parser.add_argument("--json", action="store_true", help="resumen en JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            month = Period.parse(opts["month"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        output = Path(opts["output"])
        fmt = opts["format"] or output.suffix.lower().lstrip(".")
        if fmt not in ("pdf", "xlsx"):
            raise CommandError(_("Indique --format pdf o xlsx (o un archivo .pdf / .xlsx)."))
        if opts["centre"]:
            centre = Centre.objects.filter(code=opts["centre"].strip().upper()).first()
            if centre is None:
                raise CommandError(_("No existe el centro %(c)s.") % {"c": opts["centre"]})
            centres = [centre]
        else:
            centres = reports.active_centres(month)
            if not centres:
                raise CommandError(_("Ningún centro registró pagos en %(m)s.") % {"m": month.code})
        items = [reports.commission_report(c, month) for c in centres]
        data = reports.commission_pdf(items) if fmt == "pdf" else reports.commission_xlsx(items)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        summary = {
            "month": month.code,
            "format": fmt,
            "output": str(output),
            "bytes": len(data),
            "centres": [
                {
                    "centre": r.centre.code,
                    "days": len(r.rows),
                    "payments": r.payments,
                    "collected": r.collected,
                    "commission": r.commission,
                    "provisional_days": r.provisional_days,
                }
                for r in items
            ],
        }
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        for r in items:
            self.stdout.write(
                f"{r.centre.code:<12} {len(r.rows):>3} "
                + _("días")
                + f" {r.payments:>8} "
                + _("pagos")
                + f" {format_money(r.collected, r.currency):>18}  "
                + _("comisión")
                + f" {format_money(r.commission, r.currency):>14}"
                + (
                    "  " + _("(%(n)s días provisionales)") % {"n": r.provisional_days}
                    if r.provisional_days
                    else ""
                )
            )
        self.stdout.write(
            _("Escrito %(path)s (%(kb).1f kB)") % {"path": output, "kb": len(data) / 1000}
        )
