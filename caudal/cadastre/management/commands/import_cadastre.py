"""``caudal import-cadastre FILE.csv [--dry-run] [--partial] [--json] [--country PE|CO]``.

Exit status: 0 imported (or would import) without errors; 1 errors and nothing written;
2 imported with ``--partial`` but some rows were rejected (listed); with ``--dry-run`` the
same codes say what the import would do.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.cadastre.imports import cli_lines, import_cadastre


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


class Command(BaseCommand):
    help = (
        "Importa el catastro comercial desde un CSV (una fila por suministro). "
        "Todo o nada salvo con --partial. Formato: docs/formats.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV UTF-8, separado por comas o punto y coma")
        parser.add_argument(
            "--dry-run", action="store_true", help="validar y contar sin escribir nada"
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help="importar las filas correctas y rechazar las erróneas",
        )
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument(
            "--country",
            choices=["PE", "CO"],
            help="perfil de país (por defecto, el de la configuración de la empresa)",
        )
        parser.add_argument("--actor", default="import-cadastre", help="quién importa")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(_("No existe el archivo %(path)s") % {"path": path})
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
        report(self, result, as_json=opts["json"], what=path.name, partial=opts["partial"])
