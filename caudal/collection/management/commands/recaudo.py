"""``caudal recaudo --from D --to D --by channel|centre|zone|category [--centre CODE]
[--kind office|car|bank] [--monthly] [--json | --xlsx FILE | --pdf FILE]``.

Money applied (payments posted and not reversed, by payment date) per day, or per month
with ``--monthly``, and per group: channel (the centre's kind), centre, zone (of the
account's property) or category (use). Prints a table; ``--json`` gives the rows (amounts
in minor units); ``--xlsx FILE`` writes the workbook of the web page (summary, days ×
groups, months, detail); ``--pdf FILE`` writes the monthly report of the month of
``--from`` (``--to`` must be in the same month).

Exit status 0; 1 with a message for bad dates, an unknown grouping, centre or kind.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.cadastre.models import UtilitySettings
from caudal.collection import reports
from caudal.collection.models import Centre, CentreKind
from caudal.kernel.money import format_money
from caudal.kernel.periods import Period


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            _("%(opt)s %(d)s: use el formato AAAA-MM-DD.") % {"opt": name, "d": text}
        ) from exc


class Command(BaseCommand):
    help = "Recaudo diario o mensual por canal, centro, zona o categoría."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, help="desde AAAA-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, help="hasta AAAA-MM-DD")
        parser.add_argument(
            "--by", choices=sorted(reports.DIMENSIONS), default="channel", help="agrupación"
        )
        parser.add_argument("--centre", help="solo este centro (código)")
        parser.add_argument("--kind", choices=list(CentreKind.values), help="solo este canal")
        parser.add_argument("--monthly", action="store_true", help="por mes en vez de por día")
        out = parser.add_mutually_exclusive_group()
        out.add_argument("--json", action="store_true", help="filas en JSON")
        out.add_argument("--xlsx", help="escribir el libro XLSX en este archivo")
        out.add_argument("--pdf", help="escribir el informe mensual PDF en este archivo")

    def handle(self, *args: Any, **opts: Any) -> None:
        date_from = _date(opts["date_from"], "--from")
        date_to = _date(opts["date_to"], "--to")
        centre = None
        if opts["centre"]:
            centre = Centre.objects.filter(code=opts["centre"].strip().upper()).first()
            if centre is None:
                raise CommandError(_("No existe el centro %(c)s.") % {"c": opts["centre"]})
        kind = opts["kind"]
        if opts["pdf"]:
            month = Period.containing(date_from)
            if Period.containing(date_to) != month:
                raise CommandError(
                    _("El informe PDF es mensual: --from y --to deben ser del mismo mes.")
                )
            data = reports.recaudo_month_pdf(reports.recaudo_month(month, centre=centre, kind=kind))
            Path(opts["pdf"]).write_bytes(data)
            self.stdout.write(_("Escrito %(path)s") % {"path": opts["pdf"]})
            return
        try:
            daily = reports.recaudo(date_from, date_to, opts["by"], centre=centre, kind=kind)
        except reports.ReportError as exc:
            raise CommandError(str(exc)) from exc
        if opts["xlsx"]:
            data = reports.recaudo_xlsx(daily, by=opts["by"], date_from=date_from, date_to=date_to)
            Path(opts["xlsx"]).write_bytes(data)
            self.stdout.write(_("Escrito %(path)s") % {"path": opts["xlsx"]})
            return
        frame = reports.by_month(daily) if opts["monthly"] else daily
        when = "month" if opts["monthly"] else "day"
        rows = [
            {
                when: r[when] if opts["monthly"] else r[when].isoformat(),
                "key": r["key"],
                "label": r["label"],
                "payments": r["payments"],
                "amount": r["amount"],
            }
            for r in frame.iter_rows(named=True)
        ]
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "from": date_from.isoformat(),
                        "to": date_to.isoformat(),
                        "by": opts["by"],
                        "rows": rows,
                        "payments": int(daily["payments"].sum() or 0),
                        "amount": int(daily["amount"].sum() or 0),
                    },
                    ensure_ascii=False,
                )
            )
            return
        currency = UtilitySettings.current().currency
        for r in rows:
            self.stdout.write(
                f"{r[when]:<10}  {r['label'][:40]:<40} {r['payments']:>9}  "
                f"{format_money(r['amount'], currency):>18}"
            )
        self.stdout.write(
            _("Total: %(n)s pagos, %(a)s")
            % {
                "n": int(daily["payments"].sum() or 0),
                "a": format_money(int(daily["amount"].sum() or 0), currency),
            }
        )
