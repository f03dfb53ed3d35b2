"""``caudal import-cadastre FILE.csv [--dry-run] [--partial] [--json] [--country PE|CO]``.

Exit status: 0 imported (or would import) without errors; 1 errors and nothing written;
2 imported with ``--partial`` but some rows were rejected (listed); with ``--dry-run`` the
same codes say what the import would do.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.core.management import call_command, get_commands
from django.core.management.base import CommandParser

from caudal.cadastre.importcli import FileImportCommand
from caudal.cadastre.imports import import_cadastre
from caudal.kernel.errors import ImportResult


class Command(FileImportCommand):
    help = (
        "Importa el catastro comercial desde un CSV (una fila por suministro). "
        "Todo o nada salvo con --partial. Formato: docs/formats.md."
    )
    default_actor = "import-cadastre"

    def add_import_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--country",
            choices=["PE", "CO"],
            help="perfil de país (por defecto, el de la configuración de la empresa)",
        )

    def run_import(self, path: Path, opts: dict[str, Any]) -> ImportResult:
        result = import_cadastre(
            path,
            actor=opts["actor"],
            dry_run=opts["dry_run"],
            partial=opts["partial"],
            country=opts["country"],
        )
        if result.committed and "update_search_index" in get_commands():
            # Index the new names and addresses now, so the first search after a large
            # import does not pay for it (the web app owns the index; called by name).
            call_command("update_search_index", stdout=io.StringIO())
        return result
