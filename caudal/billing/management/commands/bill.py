"""``caudal bill --period P [--cycle C] [--simulate] [--json]``: the billing run.

Bills every account of the cycle (or of every cycle) for the period, or simulates it.
Prints a summary: accounts billed, held and rejected with their reasons, totals. Exit
status: 0 the run finished (held and rejected accounts are normal and listed); 1 bad
parameters, no tariff or a run that failed (some chunk could not be written; run the same
command again to resume it).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.audit.models import Run, RunStatus
from caudal.billing import queries, rules, runs
from caudal.cadastre.models import UtilitySettings
from caudal.kernel.errors import DomainError
from caudal.kernel.money import format_money

SHOWN_PROBLEMS = 30


class Command(BaseCommand):
    help = (
        "Factura un periodo: calcula consumos y cargos de cada suministro del ciclo y "
        "contabiliza los recibos (o los simula con --simulate). Reanuda una corrida "
        "interrumpida con los mismos parámetros."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", help="periodo AAAA-MM (obligatorio salvo con --run)")
        parser.add_argument("--cycle", help="código del ciclo (por omisión, todos)")
        parser.add_argument(
            "--simulate", action="store_true", help="calcular y reportar sin contabilizar nada"
        )
        parser.add_argument(
            "--bill-unresolved",
            action="store_true",
            help=(
                "facturar por promedio (o asignación) los suministros cuya lectura sigue "
                "observada o falta, en lugar de retenerlos"
            ),
        )
        parser.add_argument(
            "--notice",
            action="append",
            default=[],
            help="aviso que se imprime en todos los recibos de la corrida (repetible)",
        )
        parser.add_argument("--run", type=int, help="continuar la corrida RUN (la crea la web)")
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument("--actor", default="billing-run", help="quién factura")
        parser.add_argument("--no-progress", action="store_true", help="sin barra de progreso")

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = opts["actor"]
        try:
            if opts["run"]:
                run = Run.objects.filter(pk=opts["run"], kind=queries.RUN_KIND).first()
                if run is None:
                    raise CommandError(
                        _("No existe la corrida de facturación %(id)s.") % {"id": opts["run"]}
                    )
                if run.status == RunStatus.DONE or run.status == RunStatus.DRY_RUN:
                    raise CommandError(_("La corrida %(id)s ya terminó.") % {"id": run.pk})
            else:
                if not opts["period"]:
                    raise CommandError(_("Indique --period AAAA-MM."))
                run = runs.start(
                    opts["period"],
                    cycle=opts["cycle"],
                    simulate=opts["simulate"],
                    hold_unresolved=not opts["bill_unresolved"],
                    notices=opts["notice"],
                    actor=actor,
                )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        show_progress = not opts["json"] and not opts["no_progress"]
        try:
            if show_progress:
                run = self._with_progress(run, actor)
            else:
                run = runs.execute(run, actor=actor)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(self._as_json(run), ensure_ascii=False, default=str))
        else:
            self._print(run)
        if run.status == RunStatus.FAILED:
            raise SystemExit(1)

    def _with_progress(self, run: Run, actor: str) -> Run:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            "{task.fields[billed]} facturados",
            transient=False,
        ) as bar:
            task = bar.add_task(_("Rutas"), total=None, billed=0)

            def progress(done: int, total: int, counts: dict[str, Any]) -> None:
                bar.update(task, completed=done, total=total, billed=counts.get("billed", 0))

            return runs.execute(run, actor=actor, progress=progress)

    @staticmethod
    def _as_json(run: Run) -> dict[str, Any]:
        problems, _next = queries.run_problems(run, limit=1000)
        return {
            "run": run.pk,
            "status": run.status,
            "parameters": run.parameters,
            "counts": run.counts,
            "errors": run.errors,
            "problems": [{k: v for k, v in p.items() if not k.startswith("_")} for p in problems],
        }

    def _print(self, run: Run) -> None:
        c = run.counts or {}
        currency = UtilitySettings.current().currency
        params = run.parameters
        head = _("Simulación") if params.get("simulate") else _("Facturación")
        self.stdout.write(
            _(
                "%(head)s %(period)s (corrida %(id)s, %(status)s): %(billed)s facturados, "
                "%(held)s retenidos, %(rejected)s rechazados, %(already)s ya facturados; "
                "importe %(amount)s, %(volume)s m³, saldo a favor aplicado %(credit)s; "
                "%(red)s recibos rojos; %(seconds)s s"
            )
            % {
                "head": head,
                "period": params.get("period"),
                "id": run.pk,
                "status": run.get_status_display(),
                "billed": c.get("billed", 0),
                "held": c.get("held", 0),
                "rejected": c.get("rejected", 0),
                "already": c.get("already_billed", 0),
                "amount": format_money(int(c.get("amount", 0)), currency),
                "volume": c.get("volume_m3", 0),
                "credit": format_money(int(c.get("credit_applied", 0)), currency),
                "red": c.get("red", 0),
                "seconds": c.get("seconds", "?"),
            }
        )
        labels = rules.reason_labels()
        for reason, n in sorted((c.get("reasons") or {}).items()):
            self.stdout.write(f"  {n:>8}  {labels.get(reason, reason)}")
        for row in c.get("by_category", []):
            self.stdout.write(
                f"  {row['category']:<12} {row.get('accounts', 0):>9} "
                f"{row.get('volume_m3', 0):>12} m³ {format_money(int(row.get('amount', 0)), currency):>18}"
            )
        problems, more = queries.run_problems(run, limit=SHOWN_PROBLEMS)
        for p in problems:
            self.stderr.write(
                f"{p['route']} {p['number']}: {p.get('detail') or labels.get(p['reason'], p['reason'])}"
            )
        if more is not None:
            self.stderr.write(
                _("… y más (use --json o la página /facturacion/%(id)s/)") % {"id": run.pk}
            )
        comparison = c.get("comparison")
        if comparison:
            diff = comparison["difference"]
            self.stdout.write(
                _("Contra %(prev)s: %(accounts)+d suministros, %(volume)+d m³, importe %(amount)s")
                % {
                    "prev": comparison.get("previous_period"),
                    "accounts": diff["accounts"],
                    "volume": diff["volume_m3"],
                    "amount": format_money(int(diff["amount"]), currency),
                }
            )
        for error in run.errors or []:
            self.stderr.write(
                f"{error.get('chunk', '')} {error.get('reason') or error.get('detail')}"
            )
