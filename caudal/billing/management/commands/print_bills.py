"""``caudal print-bills --period P [--route R | --cycle C] [--out PATH] [--json]``.

Print batches for delivery: the bills of a period as PDF, one A4 page per bill, in route
sequence order (the order the delivery person walks).

- ``--route R``: one file, ``--out FILE.pdf`` (default ``recibos_<period>_<route>.pdf``);
- ``--cycle C``: one file per route of the cycle into the folder ``--out DIR`` (default
  ``recibos_<period>_<cycle>/``), named ``recibos_<period>_<route>.pdf``;
- neither: one file per route of every route billed in the period, into ``--out DIR``.

Only the bills that stand are printed (a corrected bill prints its new version). Exit
status 1 with a message for a bad period, an unknown route or cycle, no bills, or a bill
that cannot be printed (for example a Colombian utility without a GLN).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.billing.document import BillDocumentError, current_bills, render_batch_result
from caudal.cadastre.models import Cycle, Route
from caudal.kernel.periods import Period


def _file_name(period: str, route: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in route)
    return f"recibos_{period}_{safe}.pdf"


class Command(BaseCommand):
    help = (
        "Lotes de impresión de recibos: PDF por ruta en orden de reparto "
        "(--route: un archivo; --cycle o nada: un archivo por ruta en una carpeta)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="periodo AAAA-MM")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--route", help="código de la ruta: un PDF")
        scope.add_argument("--cycle", help="código del ciclo: un PDF por ruta en --out")
        parser.add_argument(
            "--out",
            help="archivo PDF (con --route) o carpeta (con --cycle o sin ruta ni ciclo)",
        )
        parser.add_argument("--json", action="store_true", help="resultado en JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            period = Period.parse(opts["period"]).code
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        bills = current_bills(period)
        if opts["route"]:
            route = Route.objects.filter(code=opts["route"]).first()
            if route is None:
                raise CommandError(_("No existe la ruta %(route)s") % {"route": opts["route"]})
            targets = [(route, Path(opts["out"] or _file_name(period, route.code)))]
        else:
            routes = Route.objects.filter(
                pk__in=bills.values_list("route_id", flat=True).distinct()
            ).order_by("code")
            folder_name = f"recibos_{period}"
            if opts["cycle"]:
                cycle = Cycle.objects.filter(code=opts["cycle"]).first()
                if cycle is None:
                    raise CommandError(_("No existe el ciclo %(cycle)s") % {"cycle": opts["cycle"]})
                routes = routes.filter(cycle=cycle)
                folder_name += f"_{cycle.code}"
            folder = Path(opts["out"] or folder_name)
            if folder.exists() and not folder.is_dir():
                raise CommandError(
                    _(
                        "%(path)s no es una carpeta: con --cycle (o sin --route) --out es una carpeta"
                    )
                    % {"path": folder}
                )
            targets = [(route, folder / _file_name(period, route.code)) for route in routes]
        files = []
        started = time.perf_counter()
        for route, path in targets:
            route_bills = bills.filter(route=route)
            if not route_bills.exists():
                continue
            t0 = time.perf_counter()
            try:
                result = render_batch_result(route_bills)
            except BillDocumentError as exc:
                raise CommandError(str(exc)) from exc
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(result.pdf)
            files.append(
                {
                    "route": route.code,
                    "path": str(path),
                    "bills": result.bills,
                    "pages": result.pages,
                    "bytes": len(result.pdf),
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
            if not opts["json"]:
                self.stdout.write(
                    _("%(path)s: ruta %(route)s, %(bills)s recibos, %(pages)s páginas, %(mb).1f MB")
                    % {**files[-1], "mb": len(result.pdf) / 1_000_000}
                )
        if not files:
            raise CommandError(
                _("No hay recibos del periodo %(period)s para imprimir en esa selección")
                % {"period": period}
            )
        summary = {
            "period": period,
            "files": files,
            "bills": sum(f["bills"] for f in files),  # type: ignore[misc]
            "seconds": round(time.perf_counter() - started, 2),
        }
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
        else:
            self.stdout.write(
                _("%(n)s recibos en %(files)s archivos, %(seconds)s s")
                % {"n": summary["bills"], "files": len(files), "seconds": summary["seconds"]}
            )
