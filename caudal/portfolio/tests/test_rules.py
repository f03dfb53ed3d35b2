"""The pure cartera rules: buckets, age classes, stages, traffic lights and formulas.

No database. Property tests (hypothesis) check the invariants the snapshot and the
indicators rely on: every day count falls in exactly one bucket, in order; the first
matching stage rule wins; formulas evaluate exactly with Decimal and refuse anything that
is not arithmetic.
"""

from __future__ import annotations

import ast
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caudal.portfolio import rules
from caudal.portfolio.rules import RuleError, StageRuleSpec

# --- buckets --------------------------------------------------------------------------


def test_default_bucket_codes():
    assert rules.bucket_codes() == ["0", "1-30", "31-60", "61-90", "91-180", "181-360", ">360"]


@pytest.mark.parametrize(
    ("days", "code"),
    [
        (-5, "0"),
        (0, "0"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-180"),
        (180, "91-180"),
        (181, "181-360"),
        (360, "181-360"),
        (361, ">360"),
        (10_000, ">360"),
    ],
)
def test_bucket_of_default_edges(days, code):
    assert rules.bucket_of(days) == code


def test_custom_bounds():
    assert rules.bucket_codes([0, 60, 120]) == ["0", "1-60", "61-120", ">120"]
    assert rules.bucket_of(61, [0, 60, 120]) == "61-120"
    assert rules.bucket_of(121, [0, 60, 120]) == ">120"
    assert rules.bucket_codes([0]) == ["0", ">0"]


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ([], "first bucket bound must be 0"),
        ([1, 30], "first bucket bound must be 0"),
        ([0, 30, 30], "strictly increasing"),
        ([0, 60, 30], "strictly increasing"),
        ([0, 30.5], "whole numbers"),
        ([0, "30"], "whole numbers"),
        ([0, True], "whole numbers"),
    ],
)
def test_bad_bounds_are_refused(bounds, message):
    with pytest.raises(RuleError, match=message):
        rules.check_bounds(bounds)


bounds_strategy = st.lists(
    st.integers(min_value=1, max_value=3000), min_size=0, max_size=10, unique=True
).map(lambda xs: (0, *sorted(xs)))


@given(bounds=bounds_strategy, days=st.integers(min_value=-100, max_value=5000))
def test_every_day_count_falls_in_exactly_one_bucket(bounds, days):
    codes = rules.bucket_codes(bounds)
    assert len(codes) == len(bounds) + 1
    assert len(set(codes)) == len(codes)
    code = rules.bucket_of(days, bounds)
    index = codes.index(code)
    d = max(0, days)
    # The bucket's range holds the day count, and no earlier bucket's does.
    lower = 0 if index == 0 else bounds[index - 1] + 1
    upper = bounds[index] if index < len(bounds) else None
    assert lower <= d
    assert upper is None or d <= upper


@given(bounds=bounds_strategy, a=st.integers(0, 5000), b=st.integers(0, 5000))
def test_buckets_are_monotonic(bounds, a, b):
    codes = rules.bucket_codes(bounds)
    lo, hi = sorted((a, b))
    assert codes.index(rules.bucket_of(lo, bounds)) <= codes.index(rules.bucket_of(hi, bounds))


# --- age classes ----------------------------------------------------------------------

THRESHOLDS = {"light_from": 31, "heavy_from": 181, "ddr_from": 361}


@pytest.mark.parametrize(
    ("days", "klass"),
    [
        (-1, "current"),
        (0, "current"),
        (1, "early"),
        (30, "early"),
        (31, "light"),
        (180, "light"),
        (181, "heavy"),
        (360, "heavy"),
        (361, "ddr"),
        (4000, "ddr"),
    ],
)
def test_age_class_edges(days, klass):
    assert rules.age_class(days, **THRESHOLDS) == klass


@given(a=st.integers(-10, 2000), b=st.integers(-10, 2000))
def test_age_class_is_monotonic(a, b):
    lo, hi = sorted((a, b))
    order = rules.AGE_CLASSES
    assert order.index(rules.age_class(lo, **THRESHOLDS)) <= order.index(
        rules.age_class(hi, **THRESHOLDS)
    )


# --- stages ---------------------------------------------------------------------------

CO = [
    StageRuleSpec(1, "coactiva", "Cobro coactivo", 361, None, 0, "", "DJC"),
    StageRuleSpec(2, "persuasiva", "Cobro persuasivo", 91, 360, 0, "", "DJC"),
    StageRuleSpec(3, "prejuridica", "Cobro prejurídico", 31, 90, 0, "", "DJC"),
    StageRuleSpec(4, "current", "Cartera corriente", 0, None, 0, "", "Zona"),
]
PE = [
    StageRuleSpec(1, "judicial", "Cobranza judicial", 361, None, 50000, "", "Legal"),
    StageRuleSpec(2, "prejudicial", "Cobranza prejudicial", 91, None, 0, "", "Cobranza"),
    StageRuleSpec(3, "current", "Cobranza corriente", 0, None, 0, "", "Oficina"),
]


@pytest.mark.parametrize(
    ("days", "amount", "stage"),
    [
        (0, 0, "current"),
        (30, 10_000, "current"),
        (31, 1, "prejuridica"),
        (90, 1, "prejuridica"),
        (91, 1, "persuasiva"),
        (360, 1, "persuasiva"),
        (361, 1, "coactiva"),
    ],
)
def test_colombian_stages_by_days(days, amount, stage):
    assert rules.classify_stage(days, amount, "regular", CO).stage == stage


def test_amount_threshold_sends_small_debts_to_the_next_rule():
    # Peru: judicial needs 500.00 of collectible overdue debt; below it, prejudicial.
    assert rules.classify_stage(400, 49_999, "regular", PE).stage == "prejudicial"
    assert rules.classify_stage(400, 50_000, "regular", PE).stage == "judicial"


def test_segment_rule_applies_only_to_its_segment():
    vip_first = [StageRuleSpec(0, "vip", "Grandes clientes", 1, None, 0, "vip", "KAM"), *CO]
    assert rules.classify_stage(400, 1, "vip", vip_first).stage == "vip"
    assert rules.classify_stage(400, 1, "regular", vip_first).stage == "coactiva"
    assert rules.classify_stage(0, 0, "vip", vip_first).stage == "current"


def test_first_match_wins_by_order_not_by_list_position():
    shuffled = [CO[3], CO[1], CO[0], CO[2]]
    assert rules.classify_stage(500, 1, "regular", shuffled).stage == "coactiva"


@given(
    days=st.integers(0, 3000),
    amount=st.integers(0, 10**9),
    segment=st.sampled_from(["regular", "vip"]),
    policy=st.sampled_from([CO, PE]),
)
def test_classify_is_the_first_matching_rule(days, amount, segment, policy):
    chosen = rules.classify_stage(days, amount, segment, policy)
    ordered = rules.check_stage_rules(policy)
    assert chosen.matches(days, amount, segment)
    assert not any(r.matches(days, amount, segment) for r in ordered if r.order < chosen.order)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ([], "at least one rule"),
        ([StageRuleSpec(1, "x", "X", 10)], "last stage rule must have no conditions"),
        ([StageRuleSpec(1, "x", "X", segment="vip")], "last stage rule must have no conditions"),
        (
            [StageRuleSpec(1, "a", "A", 90, 30), StageRuleSpec(2, "b", "B")],
            "rule 1: 'hasta' is lower than 'desde'",
        ),
        ([StageRuleSpec(1, "a", "A", 30), StageRuleSpec(1, "b", "B")], "same order"),
        ([StageRuleSpec(1, " ", "A", 30), StageRuleSpec(2, "b", "B")], "rule 1: the stage code"),
        ([StageRuleSpec(1, "a", "A", -3), StageRuleSpec(2, "b", "B")], "rule 1: .* negative"),
    ],
)
def test_bad_stage_policies_are_refused(policy, message):
    with pytest.raises(RuleError, match=message):
        rules.check_stage_rules(policy)


def test_classify_without_a_catch_all_raises():
    with pytest.raises(RuleError, match="no stage rule matched"):
        rules.classify_stage(0, 0, "regular", [StageRuleSpec(1, "x", "X", 10)])


# --- traffic light --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "higher", "light"),
    [
        # target 90, tolerance 5
        ("95", True, "green"),
        ("90", True, "green"),
        ("85", True, "amber"),
        ("84.99", True, "red"),
        ("85", False, "green"),
        ("90", False, "green"),
        ("95", False, "amber"),
        ("95.01", False, "red"),
    ],
)
def test_traffic_light(value, higher, light):
    assert (
        rules.traffic_light(Decimal(value), Decimal(90), Decimal(5), higher_is_better=higher)
        == light
    )


def test_traffic_light_without_value():
    assert rules.traffic_light(None, Decimal(1), Decimal(0), higher_is_better=True) == "none"


def test_zero_tolerance_has_no_amber():
    assert (
        rules.traffic_light(Decimal("2.9"), Decimal(3), Decimal(0), higher_is_better=True) == "red"
    )


# --- formulas -------------------------------------------------------------------------


def test_formula_names_and_evaluation():
    expr = "(collected_current + collected_arrears) / billed_month * 100"
    assert rules.formula_names(expr) == {"collected_current", "collected_arrears", "billed_month"}
    value = rules.evaluate(
        expr, {"collected_current": 600, "collected_arrears": 150, "billed_month": 1000}
    )
    assert value == Decimal(75)


def test_evaluation_is_exact_decimal():
    assert rules.evaluate("a / b", {"a": 1, "b": 3}) == Decimal(1) / Decimal(3)
    assert rules.evaluate("0.1 + 0.2", {}) == Decimal("0.3")  # not 0.30000000000000004
    assert rules.evaluate("a - -b", {"a": 1, "b": 2}) == Decimal(3)
    assert rules.evaluate("+a", {"a": Decimal("2.5")}) == Decimal("2.5")
    assert rules.evaluate("  a * 2  ", {"a": 4}) == Decimal(8)  # surrounding blanks are fine


def test_division_by_zero_gives_no_value():
    assert rules.evaluate("a / b", {"a": 1, "b": 0}) is None
    assert rules.evaluate("a / (b - b)", {"a": 0, "b": 7}) is None


def test_unknown_input_is_named():
    with pytest.raises(RuleError, match="unknown inputs in formula: billed, zz"):
        rules.evaluate("zz + billed + a", {"a": 1})


@pytest.mark.parametrize(
    "expression",
    [
        "a ** 2",
        "a // 2",
        "a % 2",
        "a << 1",
        "a & 1",
        "~a",
        "not a",
        "a < b",
        "a and b",
        "a if b else 0",
        "f(a)",
        "__import__('os').system('true')",
        "a.real",
        "a[0]",
        "[a]",
        "{a}",
        "(a, b)",
        "lambda: 1",
        "'text'",
        "b'x'",
        "True",
        "None",
        "1j",
        "...",
        "a := 1",
        "a = 1",
        "a; b",
        "",
        "1e999",
        "-1e400 / 2",
        "a\x00",
        "(" * 300 + "a" + ")" * 300,
        "-" * 2000 + "a",
        "a + " * 200 + "a",
    ],
)
def test_anything_but_arithmetic_is_refused(expression):
    with pytest.raises(RuleError):
        rules.formula_names(expression)
    with pytest.raises(RuleError):
        rules.evaluate(expression, {"a": 1, "b": 2, "f": 3})


NAMES = ["a", "b", "c", "receivables", "billed_month"]


@st.composite
def expressions(draw, depth=0):
    """Random arithmetic over names and small numbers, as source text."""
    if depth > 3 or draw(st.booleans()):
        if draw(st.booleans()):
            return draw(st.sampled_from(NAMES))
        return str(draw(st.integers(0, 1000)))
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    left = draw(expressions(depth + 1))
    right = draw(expressions(depth + 1))
    if draw(st.booleans()):
        return f"-({left} {op} {right})"
    return f"({left} {op} {right})"


def _exact(node: ast.AST, env: dict[str, int]) -> Fraction:
    """Reference evaluation with exact fractions (ZeroDivisionError on /0)."""
    if isinstance(node, ast.Expression):
        return _exact(node.body, env)
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int)
        return Fraction(node.value)
    if isinstance(node, ast.Name):
        return Fraction(env[node.id])
    if isinstance(node, ast.UnaryOp):
        return -_exact(node.operand, env)
    assert isinstance(node, ast.BinOp)
    a, b = _exact(node.left, env), _exact(node.right, env)
    if isinstance(node.op, ast.Add):
        return a + b
    if isinstance(node.op, ast.Sub):
        return a - b
    if isinstance(node.op, ast.Mult):
        return a * b
    return a / b


@settings(max_examples=300)
@given(
    expression=expressions(),
    env=st.fixed_dictionaries({n: st.integers(-(10**12), 10**12) for n in NAMES}),
)
def test_evaluate_agrees_with_exact_arithmetic(expression, env):
    names = rules.formula_names(expression)
    assert names <= set(NAMES)
    assert names == {n.id for n in ast.walk(ast.parse(expression)) if isinstance(n, ast.Name)}
    value = rules.evaluate(expression, env)
    try:
        exact = _exact(ast.parse(expression, mode="eval"), env)
    except ZeroDivisionError:
        assert value is None
        return
    assert value is not None
    # Decimal keeps 28 significant digits: equal to the exact value to that precision.
    tolerance = abs(exact) * Fraction(1, 10**20) + Fraction(1, 10**20)
    assert abs(Fraction(value) - exact) <= tolerance


@given(text=st.text(max_size=60))
def test_formula_names_never_crashes(text):
    """Any text either is an arithmetic formula or is refused with RuleError."""
    try:
        names = rules.formula_names(text)
    except RuleError:
        return
    assert all(n.isidentifier() for n in names)
    value = rules.evaluate(text, dict.fromkeys(names, 7))
    assert value is None or value.is_finite()
