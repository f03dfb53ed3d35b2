"""``caudal kpis --date D [--json] [--no-compute]``: the cartera indicators of a snapshot.

Computes the indicators of the DONE snapshot of D (:func:`caudal.portfolio.kpis.
compute_kpis`: the formula version in force on D of every indicator, over the inputs of
the snapshot and the cadastre as of D; values stored, audited) and prints them with the
target of D's month and its traffic light. ``--no-compute`` prints what is stored.

``--json`` prints a list, one object per indicator::

    {"code", "version", "name", "value", "unit", "direction", "target", "tolerance",
     "light", "confirmed", "expression", "computed", "inputs", "missing", "error",
     "previous", "previous_date"}

``value``, ``target``, ``tolerance`` and ``previous`` are decimal strings (or null);
``light`` is green, amber, red or none (no target or no value); ``inputs`` maps each input
name to its value (amounts in minor units; null when missing); ``missing`` says why.

Exit status 0; 1 with a message for a bad date or when D has no DONE snapshot.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.portfolio import kpis

LIGHTS = {"green": "verde", "amber": "ámbar", "red": "rojo", "none": "—"}


def _number(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}"


class Command(BaseCommand):
    help = "Calcula y muestra los indicadores de cartera de un corte (fecha)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, help="fecha del corte AAAA-MM-DD")
        parser.add_argument("--json", action="store_true", help="indicadores en JSON")
        parser.add_argument(
            "--no-compute",
            action="store_true",
            help="no calcular: mostrar los valores ya guardados",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            on = date.fromisoformat(opts["date"])
        except ValueError as exc:
            raise CommandError(
                _("--date %(d)s: use el formato AAAA-MM-DD.") % {"d": opts["date"]}
            ) from exc
        try:
            if not opts["no_compute"]:
                kpis.compute_kpis(on, actor="cli:kpis")
            rows = kpis.kpi_report(on)
        except kpis.KpiError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
            return
        self.stdout.write(_("Indicadores de cartera al %(d)s") % {"d": on.isoformat()})
        for r in rows:
            if r.value is not None:
                shown = f"{_number(r.value)} {r.unit_label}"
            elif not r.computed:
                shown = _("sin calcular")
            elif r.missing:
                shown = _("sin dato (falta %(n)s)") % {"n": ", ".join(r.missing)}
            else:
                shown = _("sin dato (%(e)s)") % {"e": r.error}
            target = (
                _("meta %(t)s ± %(b)s") % {"t": _number(r.target), "b": _number(r.tolerance)}
                if r.target is not None
                else _("sin meta")
            )
            flag = "" if r.confirmed else " *"
            self.stdout.write(
                f"{r.code:<28} v{r.version:<3} {shown:<34} {target:<26} {LIGHTS[r.light]}{flag}"
            )
        if any(not r.confirmed for r in rows):
            self.stdout.write(_("* definición provisional: el administrador puede reemplazarla."))
