"""The shape every ``caudal import-*`` command shares.

``FILE [--dry-run] [--partial] [--json] [--actor NAME]``, a clear error for a missing file,
the result printed the same way, and one exit status: 0 imported (or would import) without
errors; 1 errors and nothing written; 2 ``--partial`` imported the good rows and rejected the
others (with ``--dry-run`` the same codes say what the import would do).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.kernel.errors import ImportResult

from .imports import cli_lines


def report(command: BaseCommand, result: Any, *, as_json: bool, what: str, partial: bool) -> None:
    """Print an ``ImportResult`` and exit with the documented status: 0 no errors; 1
    errors and nothing imported; 2 ``--partial`` imported (or, with ``--dry-run``, would
    import) the good rows and rejected the others."""
    if as_json:
        command.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        for line in cli_lines(result):
            command.stderr.write(line)
        if result.dry_run:
            head = _("Simulación (no se escribió nada)")
        elif result.committed:
            head = _("Importado")
        else:
            head = _("No se importó nada")
        extra = ", ".join(f"{k} {v}" for k, v in sorted(result.extra.items()) if k != "run_id")
        command.stdout.write(
            _(
                "%(head)s: %(what)s — %(rows)s filas, %(created)s nuevos, %(updated)s "
                "actualizados, %(unchanged)s sin cambios, %(errors)s errores, %(seconds).1f s"
            )
            % {
                "head": head,
                "what": what,
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "errors": len(result.errors),
                "seconds": result.seconds,
            }
            + (f" ({extra})" if extra else "")
        )
    if result.errors:
        raise SystemExit(2 if partial and (result.committed or result.dry_run) else 1)


class FileImportCommand(BaseCommand):
    """Base for file-import commands: subclasses set the texts and implement ``run_import``."""

    default_actor = "import"
    partial_help = "importar las filas correctas y rechazar las erróneas"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV UTF-8, separado por comas o punto y coma")
        parser.add_argument(
            "--dry-run", action="store_true", help="validar y contar sin escribir nada"
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help=self.partial_help,
        )
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument("--actor", default=self.default_actor, help="quién importa")
        self.add_import_arguments(parser)

    def add_import_arguments(self, parser: CommandParser) -> None:
        """Options of one import only."""

    def run_import(self, path: Path, opts: dict[str, Any]) -> ImportResult:
        raise NotImplementedError

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(_("No existe el archivo %(path)s") % {"path": path})
        result = self.run_import(path, opts)
        report(self, result, as_json=opts["json"], what=path.name, partial=opts["partial"])
