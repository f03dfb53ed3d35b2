"""Small builders for tests and benchmarks: the example tariffs of docs/examples."""

from __future__ import annotations

from pathlib import Path

from .models import TariffVersion
from .schema import Tariff, parse_text

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SEDAPAL = EXAMPLES / "tariff-sedapal-2015.yaml"
COLOMBIA = EXAMPLES / "tariff-co-example.yaml"
BROKEN = EXAMPLES / "tariff-broken.yaml"


def example_tariff(path: Path = SEDAPAL) -> Tariff:
    """A parsed example tariff (no database)."""
    return parse_text(path.read_text(encoding="utf-8"))


def make_tariff(path: Path = SEDAPAL, *, actor: str = "test") -> TariffVersion:
    """Import an example tariff file (idempotent: the same file gives the same version)."""
    from .actions import do_import_tariff

    return do_import_tariff(path.read_text(encoding="utf-8"), source_name=path.name, actor=actor)
