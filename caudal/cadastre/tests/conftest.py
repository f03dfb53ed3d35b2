"""Fixtures of the cadastre tests: the example files of ``docs/examples`` and CSV writers."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def read_example(name: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of an example file (BOM and delimiter handled)."""
    text = (EXAMPLES / name).read_text(encoding="utf-8-sig")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    return list(reader.fieldnames or []), list(reader)


def write_csv(
    path: Path,
    header: list[str],
    rows: list[dict[str, str]],
    *,
    delimiter: str = ",",
    bom: bool = False,
) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def peru(db):
    from caudal.cadastre.testing import make_utility

    return make_utility("PE")


@pytest.fixture
def colombia(db):
    from caudal.cadastre.testing import make_utility

    return make_utility("CO")


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[..., Path]:
    """``csv_file(header, rows, name=..., delimiter=..., bom=...)`` → path."""
    counter = iter(range(1, 1000))

    def make(
        header: list[str],
        rows: list[dict[str, str]],
        *,
        name: str | None = None,
        delimiter: str = ",",
        bom: bool = False,
    ) -> Path:
        path = tmp_path / (name or f"file{next(counter)}.csv")
        return write_csv(path, header, rows, delimiter=delimiter, bom=bom)

    return make
