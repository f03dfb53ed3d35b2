"""``caudal testigo --date D --which vigente|vencida [--format xlsx|csv|parquet] [--output PATH]``.

Writes the Testigo de Cartera Vigente (accounts with open items and 0 days past due) or
Vencida (1 or more days) of the snapshot of ``D`` (see :mod:`caudal.portfolio.testigos` and
``docs/testigos.md``). The format defaults to the output's extension, else ``xlsx``; the
output defaults to ``testigo-cartera-<which>-<D>.<format>`` in the current directory.
The file is personal data: the command records who wrote it in the audit trail.
``--prepare`` builds the file the web downloads serve (the snapshot's ``testigos/`` folder)
instead, so the first download of a large testigo does not wait for it.

Exit status 0; 1 with a message for a bad date, testigo or format, or when there is no
snapshot of ``D``.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.portfolio import testigos


class Command(BaseCommand):
    help = "Testigo de cartera vigente o vencida de un corte, en XLSX, CSV o Parquet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, help="fecha de corte AAAA-MM-DD")
        parser.add_argument("--which", required=True, choices=testigos.WHICH, help="testigo")
        parser.add_argument(
            "--format", choices=testigos.FORMATS, help="por defecto, el de --output o xlsx"
        )
        parser.add_argument("--output", help="archivo de salida")
        parser.add_argument(
            "--prepare",
            action="store_true",
            help="dejarlo listo para descargar en la web (carpeta testigos/ del corte)",
        )
        parser.add_argument(
            "--sheet-rows",
            type=int,
            default=testigos.SHEET_ROWS,
            help="filas de detalle por hoja XLSX (por defecto, el máximo de Excel)",
        )
        parser.add_argument("--actor", default="testigo", help="quién toma el testigo")
        parser.add_argument("--json", action="store_true", help="resumen en JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            on = date.fromisoformat(opts["date"].strip())
        except ValueError as exc:
            raise CommandError(
                _("Fecha no válida %(d)s: use AAAA-MM-DD.") % {"d": opts["date"]}
            ) from exc
        which = opts["which"]
        output = Path(opts["output"]) if opts["output"] else None
        fmt = opts["format"]
        if fmt is None:
            suffix = output.suffix.lower().lstrip(".") if output else ""
            fmt = suffix if suffix in testigos.FORMATS else "xlsx"
        if output is None:
            output = Path(testigos.filename(on, which, fmt))
        started = time.perf_counter()
        try:
            if opts["prepare"]:
                output = testigos.testigo_file(on, which, fmt)
                accounts = testigos.totals_by_testigo(on)[which].accounts
                result = testigos.Result(output, which, fmt, accounts)
            else:
                result = testigos.write_testigo_result(
                    on, which, fmt, output, sheet_rows=opts["sheet_rows"]
                )
        except testigos.TestigoError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        if not opts["prepare"]:  # a prepared file is audited when someone downloads it
            testigos.do_record_download(
                on, which, fmt, actor=opts["actor"], accounts=result.accounts
            )
        size = output.stat().st_size
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "date": on.isoformat(),
                        "which": which,
                        "format": fmt,
                        "output": str(output),
                        "accounts": result.accounts,
                        "sheets": result.sheets,
                        "bytes": size,
                        "seconds": round(seconds, 2),
                    },
                    ensure_ascii=False,
                )
            )
            return
        self.stdout.write(
            _("%(title)s al %(date)s: %(n)s cuentas → %(path)s (%(mb).1f MB, %(s).1f s)")
            % {
                "title": testigos.title(which),
                "date": on.strftime("%d/%m/%Y"),
                "n": f"{result.accounts:,}",
                "path": output,
                "mb": size / 1e6,
                "s": seconds,
            }
        )
