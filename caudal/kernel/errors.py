"""Errors as values: batch work reports every bad row instead of dying on the first."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in one input row. ``line`` is the 1-based line in the file (header = 1)."""

    line: int
    column: str
    reason: str
    value: str = ""

    def __str__(self) -> str:
        shown = f" (value {self.value!r})" if self.value != "" else ""
        return f"line {self.line}, column {self.column}: {self.reason}{shown}"


@dataclass
class ImportResult:
    """What an import did, or would do with ``--dry-run``."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    committed: bool = False
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [
                {"line": e.line, "column": e.column, "reason": e.reason, "value": e.value}
                for e in self.errors
            ],
            "dry_run": self.dry_run,
            "committed": self.committed,
            "seconds": round(self.seconds, 3),
            **self.extra,
        }


class DomainError(Exception):
    """A business rule refused an action. The message is shown to the user."""


class InvariantViolation(AssertionError):
    """A ledger invariant does not hold: a bug or tampering, never a user error."""
