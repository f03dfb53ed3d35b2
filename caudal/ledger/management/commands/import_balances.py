"""``caudal import-balances FILE.csv [--dry-run] [--partial] [--json] [--apply-credits]``.

Exit status: 0 imported (or would import) without errors; 1 errors and nothing written;
2 imported with ``--partial`` but some rows were rejected (listed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.cadastre.management.commands.import_cadastre import report
from caudal.ledger.imports import import_balances


class Command(BaseCommand):
    help = (
        "Importa las partidas abiertas del sistema anterior (saldos migrados) desde un CSV. "
        "Todo o nada salvo con --partial; reimportar el mismo archivo no duplica nada. "
        "Formato: docs/formats.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV UTF-8, separado por comas o punto y coma")
        parser.add_argument(
            "--dry-run", action="store_true", help="validar y contar sin escribir nada"
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help="importar los documentos correctos y rechazar los erróneos",
        )
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument(
            "--apply-credits",
            action="store_true",
            help="después de importar, aplicar los saldos a favor a las deudas del suministro",
        )
        parser.add_argument("--actor", default="import-balances", help="quién importa")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(_("No existe el archivo %(path)s") % {"path": path})
        result = import_balances(
            path,
            actor=opts["actor"],
            dry_run=opts["dry_run"],
            partial=opts["partial"],
            apply_credits=opts["apply_credits"],
        )
        report(self, result, as_json=opts["json"], what=path.name, partial=opts["partial"])
