"""``caudal critique --period P [--cycle C] [--config FILE] [--json]``: the reading critique.

Flags every reading of the period (of the cycle, or of every cycle), creates the readings
of metered accounts that have none, decides the consumption to bill and draws the control
sample. Readings a person already decided are kept. Running it again gives the same state.
Exit status 1 with a message on a bad period, cycle or configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from caudal.kernel.errors import DomainError
from caudal.metering import rules
from caudal.metering.runs import config_from_settings, run_critique


def load_config(path: str | None) -> rules.CritiqueConfig:
    if not path:
        return config_from_settings()
    p = Path(path)
    if not p.exists():
        raise CommandError(f"no existe el archivo de configuración {path}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CommandError(f"{path}: YAML/JSON no válido: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise CommandError(f"{path}: se esperaba un diccionario de opciones")
    try:
        return rules.CritiqueConfig.from_mapping(data)
    except rules.ConfigError as exc:
        raise CommandError(f"{path}: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Crítica de lectura de un periodo: marca anomalías, crea las lecturas faltantes de "
        "suministros medidos, decide el consumo a facturar (diferencia de lecturas o "
        "promedio) y sortea la muestra de control. No toca lecturas ya decididas. "
        "Ver docs/critique.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="periodo AAAA-MM")
        parser.add_argument("--cycle", help="código de ciclo (por defecto, todos)")
        parser.add_argument(
            "--config",
            help="archivo YAML o JSON con opciones de la crítica (por defecto, "
            "settings.CAUDAL_CRITIQUE o los valores de docs/critique.md)",
        )
        parser.add_argument("--json", action="store_true", help="resultado en JSON")
        parser.add_argument("--actor", default="critique", help="quién ejecuta")

    def handle(self, *args: Any, **opts: Any) -> None:
        config = load_config(opts["config"])
        try:
            run = run_critique(
                opts["period"], cycle=opts["cycle"], actor=opts["actor"], config=config
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        counts = dict(run.counts)
        if opts["json"]:
            self.stdout.write(json.dumps({"run": run.pk, **counts}))
            return
        statuses = counts.get("statuses", {})
        self.stdout.write(
            f"Crítica {counts['period']}"
            + (f" ciclo {counts['cycle']}" if counts.get("cycle") else "")
            + f" (proceso #{run.pk}): {counts['readings']:,} lecturas, "
            f"{counts['created']:,} creadas sin lectura, {counts['updated']:,} actualizadas, "
            f"{counts['unchanged']:,} sin cambios, {counts['decided']:,} ya decididas; "
            f"{counts['seconds']} s"
        )
        self.stdout.write(
            f"  sin observaciones {statuses.get('ok', 0):,} · observadas "
            f"{statuses.get('flagged', 0):,} · muestra de control {counts['control_sample']:,}"
        )
        for code, n in sorted(counts.get("flags", {}).items(), key=lambda kv: -kv[1]):
            flag = rules.FLAGS[code]
            kind = "retiene" if config.severity_of(code) == rules.HOLD else "informa"
            self.stdout.write(f"  {n:>10,}  {code:<24} {flag.label} ({kind})")
