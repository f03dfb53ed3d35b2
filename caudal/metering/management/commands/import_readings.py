"""``caudal import-readings FILE.csv [--dry-run] [--partial] [--json] [--actor NAME]``.

Exit status: 0 imported (or would import) without errors; 1 errors and nothing written;
2 imported with ``--partial`` but some rows were rejected (listed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from caudal.cadastre.importcli import FileImportCommand
from caudal.kernel.errors import ImportResult
from caudal.metering.imports import import_readings


class Command(FileImportCommand):
    help = (
        "Importa lecturas tomadas con otros equipos desde un CSV (una fila por suministro y "
        "periodo). Todo o nada salvo con --partial; reimportar el mismo archivo no cambia "
        "nada; nunca sobrescribe una lectura ya decidida en la crítica. Formato: "
        "docs/reading.md."
    )
    default_actor = "import-readings"
    partial_help = "importar las lecturas correctas y rechazar las erróneas"

    def run_import(self, path: Path, opts: dict[str, Any]) -> ImportResult:
        return import_readings(
            path, actor=opts["actor"], dry_run=opts["dry_run"], partial=opts["partial"]
        )
