"""``caudal close-days [--date D] [--json] [--actor NAME]``.

The end-of-day job: closes (liquida) every centre's past days that have payments and no
settlement yet (a centre that did not close its day over the API is closed for it), then
marks the closed days whose deposit deadline passed without a deposit as late. With
``--date`` only that day is closed (today included). Days already closed are never
touched; payments posted for them after the close are listed. Run it after midnight
(cron / systemd timer); running it twice closes nothing twice.

Exit status 0; 1 with a message for a bad or future date.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.collection.settlement import close_due_days
from caudal.kernel.money import format_money


class Command(BaseCommand):
    help = (
        "Liquida los días pasados de todos los centros que tienen pagos sin liquidar y marca "
        "como vencidos los depósitos no registrados a tiempo."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="solo este día (AAAA-MM-DD), hoy incluido")
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument("--actor", default="close-days", help="quién liquida")

    def handle(self, *args: Any, **opts: Any) -> None:
        day = None
        if opts["date"]:
            try:
                day = date.fromisoformat(opts["date"])
            except ValueError as exc:
                raise CommandError(
                    _("Fecha %(d)s: use el formato AAAA-MM-DD.") % {"d": opts["date"]}
                ) from exc
            if day > timezone.localdate():
                raise CommandError(_("No se puede liquidar un día futuro (%(d)s).") % {"d": day})
        result = close_due_days(day=day, actor=opts["actor"])
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        from caudal.cadastre.models import UtilitySettings

        currency = UtilitySettings.current().currency
        for s in result.closed:
            self.stdout.write(
                f"{s.centre.code:<12} {s.day.isoformat()}  {s.payments:>7} "
                + _("pagos")
                + f"  {format_money(s.collected, currency):>16}  "
                + _("comisión")
                + f" {format_money(s.commission, currency):>12}  "
                + _("depositar")
                + f" {format_money(s.expected_deposit, currency):>16} "
                + _("antes de")
                + f" {timezone.localtime(s.deposit_due_at):%d/%m/%Y %H:%M}"
            )
        for code, d, n in result.outside:
            self.stderr.write(
                _("%(c)s %(d)s: %(n)s pagos registrados después de liquidar el día")
                % {"c": code, "d": d.isoformat(), "n": n}
            )
        for code, d, reason in result.refused:
            self.stderr.write(f"{code} {d.isoformat()}: {reason}")
        self.stdout.write(
            _("%(n)s días liquidados; %(late)s depósitos marcados como vencidos")
            % {"n": len(result.closed), "late": result.marked_late}
        )
