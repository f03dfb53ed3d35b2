"""Pure rules of cartera analysis: age buckets, age classes, stages, targets, formulas.

No ORM, no I/O. The snapshot applies the same rules column-wise (Polars / DuckDB); tests
prove the vectorised version equal to these functions.
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation

DEFAULT_BOUNDS: tuple[int, ...] = (0, 30, 60, 90, 180, 360)
CREDIT_BUCKET = "credit"

#: Age classes by the account's oldest open debit: current (0 days), early (in arrears but
#: under the light threshold), light (cartera liviana), heavy (pesada), ddr (difícil recaudo).
AGE_CLASSES: tuple[str, ...] = ("current", "early", "light", "heavy", "ddr")


class RuleError(ValueError):
    """A policy or a formula that cannot be applied (the message says why)."""


def check_bounds(bounds: Sequence[int]) -> tuple[int, ...]:
    """Bounds must be non-negative integers, strictly increasing, starting at 0."""
    if any(isinstance(b, bool) for b in bounds):
        raise RuleError("bucket bounds must be whole numbers of days")
    try:  # whole numbers only: int(1.5) would silently make it 1
        out = tuple(operator.index(b) for b in bounds)
    except TypeError as exc:
        raise RuleError("bucket bounds must be whole numbers of days") from exc
    if not out or out[0] != 0:
        raise RuleError("the first bucket bound must be 0 (the current bucket)")
    if any(b2 <= b1 for b1, b2 in itertools.pairwise(out)):
        raise RuleError("bucket bounds must be strictly increasing")
    return out


def bucket_codes(bounds: Sequence[int] = DEFAULT_BOUNDS) -> list[str]:
    """Codes of the buckets: ``"0"``, ``"1-30"``, …, ``">360"``."""
    b = check_bounds(bounds)
    codes = ["0"]
    for low, high in itertools.pairwise(b):
        codes.append(f"{low + 1}-{high}")
    codes.append(f">{b[-1]}")
    return codes


def bucket_of(days_past_due: int, bounds: Sequence[int] = DEFAULT_BOUNDS) -> str:
    """The bucket code of a number of days past due (negative counts as 0)."""
    codes = bucket_codes(bounds)
    days = max(0, days_past_due)
    for code, bound in zip(codes, bounds, strict=False):
        if days <= bound:
            return code
    return codes[-1]


def age_class(days_past_due: int, *, light_from: int, heavy_from: int, ddr_from: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due >= ddr_from:
        return "ddr"
    if days_past_due >= heavy_from:
        return "heavy"
    if days_past_due >= light_from:
        return "light"
    return "early"


@dataclass(frozen=True)
class StageRuleSpec:
    order: int
    stage: str
    name: str
    min_days: int = 0
    max_days: int | None = None
    min_amount: int = 0
    segment: str = ""
    responsible: str = ""

    def matches(self, days: int, amount: int, segment: str) -> bool:
        if days < self.min_days:
            return False
        if self.max_days is not None and days > self.max_days:
            return False
        if amount < self.min_amount:
            return False
        return not self.segment or self.segment == segment


def check_stage_rules(rules: Sequence[StageRuleSpec]) -> list[StageRuleSpec]:
    """Rules in order; the last one must match everything (the fallback stage)."""
    ordered = sorted(rules, key=lambda r: r.order)
    if not ordered:
        raise RuleError("a stage policy needs at least one rule")
    for r1, r2 in itertools.pairwise(ordered):
        if r1.order == r2.order:
            raise RuleError(f"rule {r2.order}: two rules have the same order")
    for r in ordered:
        if not r.stage.strip():
            raise RuleError(f"rule {r.order}: the stage code is empty")
        if r.min_days < 0 or (r.max_days is not None and r.max_days < 0) or r.min_amount < 0:
            raise RuleError(f"rule {r.order}: days and amounts cannot be negative")
    last = ordered[-1]
    if last.min_days or last.max_days is not None or last.min_amount or last.segment:
        raise RuleError("the last stage rule must have no conditions (it catches the rest)")
    for r in ordered:
        if r.max_days is not None and r.max_days < r.min_days:
            raise RuleError(f"rule {r.order}: 'hasta' is lower than 'desde'")
    return ordered


def classify_stage(
    days: int, amount: int, segment: str, rules: Sequence[StageRuleSpec]
) -> StageRuleSpec:
    """The first rule (by order) that the account matches: its collectible days past due,
    its collectible overdue amount and its segment."""
    for rule in sorted(rules, key=lambda r: r.order):
        if rule.matches(days, amount, segment):
            return rule
    raise RuleError("no stage rule matched; the last rule must catch every account")


def traffic_light(
    value: Decimal | None, target: Decimal, tolerance: Decimal, *, higher_is_better: bool
) -> str:
    """``green`` when the value meets the target, ``amber`` when it misses it by at most
    ``tolerance``, ``red`` beyond; ``none`` without a value."""
    if value is None:
        return "none"
    gap = (target - value) if higher_is_better else (value - target)
    if gap <= 0:
        return "green"
    if gap <= tolerance:
        return "amber"
    return "red"


_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
#: Longest formula accepted (the model's column holds 500 characters); also bounds the
#: nesting depth, so parsing and evaluating never exhaust the stack.
MAX_FORMULA_LENGTH = 500


def _parse(expression: str) -> ast.Expression:
    text = expression.strip()
    if len(text) > MAX_FORMULA_LENGTH:
        raise RuleError(f"formula is longer than {MAX_FORMULA_LENGTH} characters")
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise RuleError(f"formula is not valid: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, deep nesting
        raise RuleError("formula is not valid: it cannot be read") from exc


def formula_names(expression: str) -> set[str]:
    """Input names an expression uses; raises :class:`RuleError` on anything but
    arithmetic (+ − × ÷, parentheses, finite numbers, names)."""
    tree = _parse(expression)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                raise RuleError("only + - * / are allowed in a formula")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise RuleError("only + - * / are allowed in a formula")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                raise RuleError("only numbers and input names are allowed in a formula")
            if not Decimal(str(node.value)).is_finite():  # 1e999 parses as infinity
                raise RuleError("numbers in a formula must be finite")
        elif not isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
            raise RuleError(f"'{type(node).__name__}' is not allowed in a formula")
    return names


def evaluate(expression: str, inputs: Mapping[str, int | Decimal]) -> Decimal | None:
    """Evaluate an arithmetic formula with Decimal. ``None`` on division by zero (the
    indicator has no value, e.g. nothing was billed). Raises :class:`RuleError` for an
    unknown input name or a disallowed construct."""
    names = formula_names(expression)
    missing = sorted(names - inputs.keys())
    if missing:
        raise RuleError(f"unknown inputs in formula: {', '.join(missing)}")
    tree = _parse(expression)

    def ev(node: ast.AST) -> Decimal:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return Decimal(str(node.value))
        if isinstance(node, ast.Name):
            return Decimal(inputs[node.id])
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if b == 0:
                raise DivisionByZero
            return a / b
        raise RuleError(f"'{type(node).__name__}' is not allowed in a formula")

    try:
        return ev(tree)
    except (DivisionByZero, InvalidOperation):
        return None
    except RecursionError as exc:
        raise RuleError("formula is nested too deeply") from exc
