"""``caudal import-balances FILE.csv [--dry-run] [--partial] [--json] [--apply-credits]``.

Exit status: 0 imported (or would import) without errors; 1 errors and nothing written;
2 imported with ``--partial`` but some rows were rejected (listed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from caudal.cadastre.importcli import FileImportCommand
from caudal.kernel.errors import ImportResult
from caudal.ledger.imports import import_balances


class Command(FileImportCommand):
    help = (
        "Importa las partidas abiertas del sistema anterior (saldos migrados) desde un CSV. "
        "Todo o nada salvo con --partial; reimportar el mismo archivo no duplica nada. "
        "Formato: docs/formats.md."
    )
    default_actor = "import-balances"
    partial_help = "importar los documentos correctos y rechazar los erróneos"

    def add_import_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--apply-credits",
            action="store_true",
            help="después de importar, aplicar los saldos a favor a las deudas del suministro",
        )

    def run_import(self, path: Path, opts: dict[str, Any]) -> ImportResult:
        return import_balances(
            path,
            actor=opts["actor"],
            dry_run=opts["dry_run"],
            partial=opts["partial"],
            apply_credits=opts["apply_credits"],
        )
