"""``caudal import-payments FILE --format asobancaria2001|camt054|csv --centre CODE``.

Options: ``--dry-run`` (validate and simulate, post nothing), ``--json`` (one JSON object on
stdout), ``--date AAAA-MM-DD`` (payment date of records whose file gives none),
``--actor NAME``. Rules and output: ``docs/payments-import.md``.

Exit status: 0 posted (or, with ``--dry-run``, would post), or the file was already
imported (nothing posted, said so); 1 the file has errors and nothing was posted (each
error names its line and field); 2 usage error (missing file, unknown or inactive centre,
bad option).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from caudal.collection import formats
from caudal.collection.imports import ImportRefused, PaymentImport, import_payments

#: Errors printed before "... and N more" (``--json`` lists up to 1,000).
SHOWN_ERRORS = 50


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            _("Fecha no válida %(d)s: use AAAA-MM-DD.") % {"d": text}, returncode=2
        ) from exc


def _money(minor: int) -> str:
    return formats.format_amount(minor)


class Command(BaseCommand):
    help = (
        "Importa un archivo de pagos del banco (Asobancaria 2001, camt.054 o CSV): valida la "
        "estructura y los totales de control, resuelve cada referencia y aplica los pagos a "
        "la cuenta corriente. Todo o nada; el mismo archivo dos veces no aplica nada. "
        "Ver docs/payments-import.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="archivo de pagos")
        parser.add_argument(
            "--format", required=True, choices=formats.FORMATS, help="formato del archivo"
        )
        parser.add_argument("--centre", required=True, help="código del banco / centro")
        parser.add_argument(
            "--dry-run", action="store_true", help="validar y simular sin aplicar nada"
        )
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument(
            "--date", help="fecha de pago (AAAA-MM-DD) de los registros que no la traen"
        )
        parser.add_argument("--actor", default="import-payments", help="quién importa")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(_("No existe el archivo %(path)s") % {"path": path}, returncode=2)
        default_date = _date(opts["date"]) if opts["date"] else None
        try:
            result = import_payments(
                path,
                fmt=opts["format"],
                centre=opts["centre"],
                actor=opts["actor"],
                dry_run=opts["dry_run"],
                default_date=default_date,
            )
        except ImportRefused as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            self._print(result)
        if not result.ok:
            raise SystemExit(1)

    def _print(self, result: PaymentImport) -> None:
        for error in result.errors[:SHOWN_ERRORS]:
            self.stderr.write(
                _("línea %(line)s, campo %(field)s: %(message)s")
                % {"line": error.line, "field": error.field or "-", "message": error.message}
            )
        if result.error_count > SHOWN_ERRORS:
            self.stderr.write(
                _("… y %(n)s errores más (use --json para ver hasta 1.000)")
                % {"n": result.error_count - SHOWN_ERRORS}
            )
        if result.already_imported:
            self.stdout.write(
                _(
                    "El archivo %(name)s ya se importó el %(when)s (archivo id %(id)s): "
                    "no se aplicó nada."
                )
                % {
                    "name": result.file_name,
                    "when": timezone.localtime(result.imported_at).strftime("%Y-%m-%d %H:%M")
                    if result.imported_at
                    else "?",
                    "id": result.file_id,
                }
            )
            return
        if not result.ok:
            self.stdout.write(
                _("No se aplicó nada: %(name)s tiene %(n)s errores.")
                % {"name": result.file_name, "n": result.error_count}
            )
            return
        head = _("Simulación (no se aplicó nada)") if result.dry_run else _("Importado")
        self.stdout.write(
            _(
                "%(head)s: %(name)s — %(records)s pagos por %(total)s en %(accounts)s "
                "suministros; saldo a favor %(credit)s; reconexiones pendientes %(rec)s; "
                "%(seconds).1f s"
            )
            % {
                "head": head,
                "name": result.file_name,
                "records": result.posted or result.records,
                "total": _money(result.total),
                "accounts": result.accounts,
                "credit": _money(result.credit_left),
                "rec": result.reconnections,
                "seconds": result.seconds,
            }
            + (f" ({_('archivo id')} {result.file_id})" if result.committed else "")
        )
