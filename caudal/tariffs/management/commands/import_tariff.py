"""``caudal import-tariff FILE.yaml [--dry-run] [--json] [--actor NAME]``.

Validates a tariff file (format: docs/tariffs.md) and stores it as a new version of its
code. The same file again changes nothing. Exit status: 0 imported, unchanged or (with
``--dry-run``) valid; 1 the file has errors (each one printed with its key) or cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from caudal.tariffs.actions import do_import_tariff, is_imported
from caudal.tariffs.schema import TariffFileError


class Command(BaseCommand):
    help = (
        "Importa un archivo de tarifa (YAML) como nueva versión de su código. "
        "Valida todo el archivo y lista cada error con su clave. Formato: docs/tariffs.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="archivo de tarifa YAML (UTF-8)")
        parser.add_argument("--dry-run", action="store_true", help="validar sin guardar nada")
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument("--actor", default="import-tariff", help="quién importa")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(_("No existe el archivo %(path)s") % {"path": path})
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(
                _("%(path)s no es texto UTF-8: %(error)s") % {"path": path, "error": exc}
            ) from exc
        known = is_imported(text)
        try:
            version = do_import_tariff(
                text, source_name=path.name, actor=opts["actor"], dry_run=opts["dry_run"]
            )
        except TariffFileError as exc:
            self._fail(path, exc, as_json=opts["json"])
            raise SystemExit(1) from exc
        status = "unchanged" if known else ("dry_run" if opts["dry_run"] else "created")
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": True,
                        "status": status,
                        "id": version.pk,
                        "code": version.code,
                        "version": version.version,
                        "country": version.country,
                        "valid_from": version.valid_from.isoformat(),
                        "valid_to": version.valid_to.isoformat() if version.valid_to else None,
                        "sha256": version.sha256,
                        "errors": [],
                    },
                    ensure_ascii=False,
                )
            )
            return
        texts = {
            "dry_run": _(
                "Simulación (no se guardó nada): el archivo es válido; se importaría como "
                "%(code)s versión %(version)s, vigente desde %(start)s"
            ),
            "created": _("Importada: %(code)s versión %(version)s, vigente desde %(start)s"),
            "unchanged": _(
                "Sin cambios: ese mismo archivo ya es %(code)s versión %(version)s, "
                "vigente desde %(start)s"
            ),
        }
        self.stdout.write(
            texts[status]
            % {
                "code": version.code,
                "version": version.version,
                "start": version.valid_from.isoformat(),
            }
        )

    def _fail(self, path: Path, exc: TariffFileError, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": False,
                        "status": "invalid",
                        "errors": [{"key": e.path, "reason": e.reason} for e in exc.errors],
                    },
                    ensure_ascii=False,
                )
            )
            return
        for error in exc.errors:
            self.stderr.write(str(error))
        self.stderr.write(
            _("No se importó nada: %(path)s tiene %(n)s errores.")
            % {"path": path.name, "n": len(exc.errors)}
        )
