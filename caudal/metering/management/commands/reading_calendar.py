"""``caudal reading-calendar --period P | --year Y [--cycle C] [--dry-run] [--json]``.

Generates (or refreshes) the reading calendar of every cycle from the rules in
``caudal.metering.calendar``; rows edited by hand and closed rows are kept. Prints the
resulting dates. Exit status 1 with a message on bad input.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.kernel.errors import DomainError
from caudal.metering.calendar_actions import do_generate_calendar


class Command(BaseCommand):
    help = (
        "Genera el calendario de lectura (ventana de lectura, de crítica, facturación, "
        "vencimiento y aviso de corte) de todos los ciclos para un periodo o un año. "
        "No toca las filas editadas a mano ni las cerradas."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--period", help="periodo AAAA-MM")
        which.add_argument("--year", type=int, help="año: todos sus periodos")
        parser.add_argument(
            "--cycle",
            help="solo este ciclo (bimestral: fija si el ciclo va en meses pares o impares)",
        )
        parser.add_argument("--dry-run", action="store_true", help="mostrar sin escribir")
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument("--actor", default="reading-calendar", help="quién genera")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            result = do_generate_calendar(
                period=opts["period"],
                year=opts["year"],
                cycle=opts["cycle"],
                actor=opts["actor"],
                dry_run=opts["dry_run"],
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict() | {"dry_run": opts["dry_run"]}))
            return
        header = (
            f"{'ciclo':<8} {'periodo':<8} {'lectura':<23} {'crítica':<23} "
            f"{'factura':<10} {'vence':<10} {'aviso corte':<10}"
        )
        self.stdout.write(header)
        for r in result.rows:
            self.stdout.write(
                f"{r.cycle:<8} {r.period:<8} {r.read_from} – {r.read_to} "
                f"{r.critique_from} – {r.critique_to} {r.billing_date} {r.due_date} "
                f"{r.cut_warning_date}"
            )
        head = _("Simulación (no se escribió nada)") if opts["dry_run"] else _("Calendario")
        self.stdout.write(
            _(
                "%(head)s: %(created)s nuevas, %(updated)s actualizadas, %(unchanged)s sin "
                "cambios, %(edited)s editadas a mano y %(closed)s cerradas se conservan"
            )
            % {
                "head": head,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "edited": result.kept_edited,
                "closed": result.kept_closed,
            }
        )
