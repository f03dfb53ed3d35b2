"""``caudal demo --accounts N --months M --profile pe|co --seed S [--fresh] [--quiet]``.

Builds a synthetic utility: writes ``var/demo/cadastre.csv`` and ``var/demo/balances.csv``
from a seeded generator and loads them through ``import-cadastre`` and ``import-balances``.
Same seed, size, profile and ``--as-of`` date: byte-identical files.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.utils import timezone

from caudal.demo.build import (
    ADMIN_USER,
    DEMO_PASSWORD,
    DEMO_USERS,
    URL,
    BuildReport,
    DemoError,
    build_demo,
    database_counts,
)
from caudal.demo.generator import DemoSpec
from caudal.kernel.money import format_money


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Construye una empresa de demostración: genera el catastro y la cartera inicial "
        "(CSV en var/demo/) y los carga con las mismas importaciones de una migración."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts", type=_positive, default=20_000, help="suministros (20000)"
        )
        parser.add_argument(
            "--months", type=_positive, default=12, help="meses de cartera inicial (12)"
        )
        parser.add_argument(
            "--billed-periods",
            type=int,
            default=3,
            help="últimos periodos leídos, criticados y facturados por el proceso real (3); "
            "0: solo migración de saldos",
        )
        parser.add_argument("--profile", choices=["pe", "co"], default="pe", help="país (pe)")
        parser.add_argument("--seed", type=int, default=1, help="semilla (1)")
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="fecha de corte AAAA-MM-DD (hoy); con la semilla fija los archivos",
        )
        parser.add_argument(
            "--fresh",
            action="store_true",
            help="borrar antes la base de demo (solo el SQLite de var/, o PostgreSQL "
            "si su nombre empieza por caudal_demo)",
        )
        parser.add_argument(
            "--csv-only", action="store_true", help="solo escribir los CSV, sin cargarlos"
        )
        parser.add_argument("--quiet", action="store_true", help="sin progreso ni tablas")
        parser.add_argument("--json", action="store_true", help="resumen en JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            spec = DemoSpec(
                accounts=opts["accounts"],
                months=opts["months"],
                profile=opts["profile"],
                seed=opts["seed"],
                as_of=opts["as_of"] or timezone.localdate(),
                billed_periods=opts["billed_periods"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        quiet = opts["quiet"] or opts["json"]
        if opts["csv_only"]:
            self._csv_only(spec, quiet=quiet)
            return
        if opts["fresh"]:
            self._drop_database()
        call_command("migrate", verbosity=0, interactive=False)
        existing = database_counts()["accounts"]
        if existing:
            raise CommandError(
                f"la base de datos ya tiene {existing:,} suministros; use --fresh para "
                "reconstruir la demo"
            )
        report = self._build(spec, quiet=quiet)
        counts = database_counts()
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "accounts": counts["accounts"],
                        "items": counts["items"],
                        "documents": counts["documents"],
                        "seconds": round(report.seconds, 3),
                        "stages": {n: round(s, 3) for n, s in report.stages},
                        "folder": str(report.folder),
                    }
                )
            )
        elif not opts["quiet"]:
            self._summary(report, counts)

    # ------------------------------------------------------------------------- stages

    def _build(self, spec: DemoSpec, *, quiet: bool) -> BuildReport:
        from rich.console import Console

        console = Console(file=cast(IO[str], self.stdout), highlight=False)
        status = None
        if not quiet:
            console.print(
                f"[bold]Caudal demo[/]: {spec.accounts:,} suministros, {spec.months} meses de "
                f"cartera, perfil {spec.profile.upper()}, semilla {spec.seed}, corte {spec.as_of}"
            )
            status = console.status("")
            status.start()

        def progress(stage: str) -> None:
            if status is not None:
                status.update(f"{stage}…")

        try:
            report = build_demo(spec, progress=progress)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if status is not None:
                status.stop()
        if not quiet:
            for name, seconds in report.stages:
                console.print(f"  [green]✓[/] {name:<24} {seconds:7.1f} s")
            console.print(f"  {'total':<26} {report.seconds:7.1f} s")
        return report

    def _csv_only(self, spec: DemoSpec, *, quiet: bool) -> None:
        from caudal.demo.build import demo_folder
        from caudal.demo.generator import generate, write_csvs

        paths = write_csvs(generate(spec), demo_folder())
        if not quiet:
            for path in paths.values():
                self.stdout.write(str(path))

    def _drop_database(self) -> None:
        """Drop the demo database: the SQLite file when it lives under var/, or the public
        schema of a PostgreSQL database whose name starts with ``caudal_demo``."""
        db = connection.settings_dict
        if connection.vendor == "sqlite":
            path = Path(str(db["NAME"])).resolve()
            var = Path(settings.VAR_DIR).resolve()
            if var not in path.parents:
                raise CommandError(
                    f"--fresh solo borra una base SQLite dentro de {var}; la actual es {path}"
                )
            connections.close_all()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        if connection.vendor == "postgresql":
            name = str(db["NAME"])
            if not name.startswith("caudal_demo"):
                raise CommandError(
                    f"--fresh no borra la base PostgreSQL {name!r}: solo las que empiezan "
                    "por caudal_demo"
                )
            with connection.cursor() as cursor:
                cursor.execute("DROP SCHEMA public CASCADE")
                cursor.execute("CREATE SCHEMA public")
            return
        raise CommandError(f"--fresh no sabe borrar una base {connection.vendor}")

    # ------------------------------------------------------------------------- output

    def _summary(self, report: BuildReport, counts: dict[str, int]) -> None:
        from rich.console import Console
        from rich.table import Table

        from caudal.audit.roles import ROLES
        from caudal.cadastre.models import UtilitySettings

        console = Console(file=cast(IO[str], self.stdout), highlight=False)
        utility = UtilitySettings.current()
        cartera = report.counts.get("cartera_minor", 0)
        console.print(
            f"\n[bold]{utility.name}[/] ({utility.country}, {utility.currency}): "
            f"{counts['accounts']:,} suministros, {counts['customers']:,} titulares, "
            f"{counts['documents']:,} documentos, {counts['open_items']:,} partidas abiertas, "
            f"cartera {format_money(cartera, utility.currency)}"
        )
        console.print(f"Archivos: {report.folder}/cadastre.csv, {report.folder}/balances.csv")
        table = Table(title=f"Usuarios de demostración — {URL}", title_justify="left")
        table.add_column("rol")
        table.add_column("usuario")
        table.add_column("contraseña")
        table.add_row("Administrador (superusuario)", ADMIN_USER, DEMO_PASSWORD)
        for username, group, _first, _last in DEMO_USERS:
            table.add_row(ROLES[group][0], username, DEMO_PASSWORD)
        console.print(table)
        console.print(
            f"[yellow]La contraseña «{DEMO_PASSWORD}» es solo para la demostración: "
            "no use estos usuarios con datos reales.[/]"
        )
        console.print(f"Sirva la aplicación con [bold]caudal serve[/] y abra {URL}")
