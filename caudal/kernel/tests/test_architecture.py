"""Architecture rules that import-linter cannot express for external packages."""

import ast
from pathlib import Path

import caudal

ROOT = Path(caudal.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_rules_modules_never_import_django_db():
    rules = sorted(ROOT.glob("*/rules.py"))
    assert rules, "no rules.py found"
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.startswith("django.db")
        )
        for path in rules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_kernel_is_pure_python():
    for path in (ROOT / "kernel").glob("*.py"):
        assert not any(m.startswith("django") for m in imported_modules(path)), path
