"""``caudal snapshot --date AAAA-MM-DD [--kind daily|monthly|adhoc] [--json]`` and
``caudal snapshot --scheduled [--today AAAA-MM-DD]``.

Takes the cartera snapshot (corte de cartera) of the end of a date: every item open that
day, as of that day, with its account's attributes, written to Parquet under
``CAUDAL_SNAPSHOT_DIR/AAAA-MM-DD/`` (docs/snapshots.md). Taking a date again replaces its
folder with the same result.

``--scheduled`` is the daily task (cron / systemd timer): yesterday's daily snapshot and
the last month end's monthly one, each only when missing.

Exit status: 0 taken (or nothing due); 1 the snapshot failed (the previous folder of the
date, if any, is left as it was); 2 usage error (bad or future date, no utility
configured, unknown kind).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from caudal.cadastre.models import UtilitySettings
from caudal.kernel.money import format_money
from caudal.portfolio.models import Snapshot, SnapshotKind
from caudal.portfolio.snapshot import (
    SnapshotError,
    default_kind,
    due_dates,
    folder_for,
    take_snapshot,
)

STEPS = {
    "read": gettext_noop("Leyendo partidas abiertas y suministros"),
    "build": gettext_noop("Calculando etapas, edades y cubo"),
    "flows": gettext_noop("Recaudo, convenios y meses"),
    "write": gettext_noop("Escribiendo archivos Parquet"),
    "done": gettext_noop("Terminado"),
}


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            _("Fecha no válida en %(opt)s: %(d)s (use AAAA-MM-DD).") % {"opt": option, "d": text},
            returncode=2,
        ) from exc


def as_dict(snap: Snapshot) -> dict[str, Any]:
    return {
        "date": snap.date.isoformat(),
        "kind": snap.kind,
        "status": snap.status,
        "folder": str(folder_for(snap.date)),
        "engine": snap.engine,
        "items": snap.items,
        "accounts": snap.accounts,
        "debit_open": snap.debit_open,
        "credit_open": snap.credit_open,
        "balance": snap.balance,
        "overdue": snap.overdue,
        "blocked": snap.blocked,
        "seconds": round(snap.duration_ms / 1000, 3),
        "run": snap.run_id,
    }


class Command(BaseCommand):
    help = (
        "Toma el corte de cartera de una fecha: las partidas abiertas a esa fecha con los "
        "atributos del suministro, en Parquet (docs/snapshots.md). Con --scheduled toma el "
        "corte diario de ayer y el de cierre del mes anterior si faltan."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="fecha de corte AAAA-MM-DD (al cierre del día)")
        parser.add_argument(
            "--kind",
            choices=list(SnapshotKind.values),
            help="tipo de corte (por omisión: monthly el último día del mes, si no daily)",
        )
        parser.add_argument(
            "--scheduled",
            action="store_true",
            help="tarea programada: corte de ayer y de cierre del mes anterior si faltan",
        )
        parser.add_argument("--today", help="con --scheduled: el día de hoy (AAAA-MM-DD)")
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument("--actor", default="snapshot", help="quién toma el corte")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not UtilitySettings.objects.filter(pk=1).exists():
            raise CommandError(
                _("No hay empresa configurada: cargue el catastro o ejecute 'caudal demo'."),
                returncode=2,
            )
        today = timezone.localdate()
        if opts["scheduled"]:
            if opts["date"]:
                raise CommandError(_("Use --date o --scheduled, no ambos."), returncode=2)
            today = _date(opts["today"], "--today") if opts["today"] else today
            dates = due_dates(today)
            kinds = {on: default_kind(on) for on in dates}
        else:
            if not opts["date"]:
                raise CommandError(_("Falta --date AAAA-MM-DD (o --scheduled)."), returncode=2)
            on = _date(opts["date"], "--date")
            if on > today:
                raise CommandError(
                    _("La fecha de corte %(d)s es futura (hoy es %(t)s).")
                    % {"d": on.isoformat(), "t": today.isoformat()},
                    returncode=2,
                )
            dates = [on]
            kinds = {on: opts["kind"] or default_kind(on)}
        taken: list[Snapshot] = []
        failed: list[dict[str, str]] = []
        for on in dates:
            try:
                taken.append(self._take(on, kinds[on], opts))
            except SnapshotError as exc:
                failed.append({"date": on.isoformat(), "error": str(exc)})
                if not opts["json"]:
                    self.stderr.write(_("Corte %(d)s: %(e)s") % {"d": on.isoformat(), "e": exc})
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {"snapshots": [as_dict(s) for s in taken], "failed": failed},
                    ensure_ascii=False,
                )
            )
        else:
            if not dates:
                self.stdout.write(_("No hay cortes pendientes."))
            for snap in taken:
                self._print(snap)
        if failed:
            raise SystemExit(1)

    def _take(self, on: date, kind: str, opts: dict[str, Any]) -> Snapshot:
        if opts["json"] or not self.stdout.isatty():
            return take_snapshot(on, actor=opts["actor"], kind=kind)
        from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(),
            "[progress.description]{task.description}",
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(_("Corte %(d)s") % {"d": on.isoformat()}, total=None)

            def progress(step: str) -> None:
                label = _(STEPS.get(step, step))
                bar.update(task, description=f"{on.isoformat()}: {label}")

            return take_snapshot(on, actor=opts["actor"], kind=kind, progress=progress)

    def _print(self, snap: Snapshot) -> None:
        currency = UtilitySettings.current().currency
        self.stdout.write(
            _(
                "Corte %(date)s (%(kind)s): %(items)s partidas abiertas de %(accounts)s "
                "suministros; saldo %(balance)s, vencido %(overdue)s, bloqueado "
                "%(blocked)s; %(seconds).1f s; carpeta %(folder)s"
            )
            % {
                "date": snap.date.isoformat(),
                "kind": snap.get_kind_display(),
                "items": f"{snap.items:,}",
                "accounts": f"{snap.accounts:,}",
                "balance": format_money(snap.balance, currency),
                "overdue": format_money(snap.overdue, currency),
                "blocked": format_money(snap.blocked, currency),
                "seconds": snap.duration_ms / 1000,
                "folder": folder_for(snap.date),
            }
        )
