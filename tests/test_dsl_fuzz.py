"""Hypothesis: no input makes the plan language raise; problems come back as located diagnostics.

Arbitrary text as an expression, arbitrary YAML-ish text as a plan, arbitrary
nested data written out by `yaml.safe_dump`, and plan skeletons with random
expressions in them. Example counts are kept moderate for CI time.
"""

from __future__ import annotations

import datetime
import os
import string

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings, strategies as st

from dsl.checker import Scope, Symbol, check
from dsl.errors import Diagnostic, format_diagnostic
from dsl.loader import load_plan_text
from dsl.parser import parse, text_locator
from dsl.types import BOOL, DATE, INTEGER, PERCENT, TEXT, money
from interpreter.pricing.evaluate import EvaluationError
from interpreter.pricing.formulas import InputProblem, run_formula

# RATECARD_FUZZ_EXAMPLES=5000 pytest tests/test_dsl_fuzz.py searches much harder (minutes).
FUZZ = settings(
    max_examples=int(os.environ.get("RATECARD_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TOKENS = [
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "+",
    "-",
    "*",
    "/",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "%",
    "and",
    "or",
    "not",
    "in",
    "if",
    "then",
    "else",
    "true",
    "false",
    "1",
    "0",
    "100_000",
    "3.3%",
    "12.50",
    "2024-11-01",
    "2024-02-30",
    "'a'",
    '"b"',
    '"\\"',
    "x",
    "y.z",
    "fee",
    "KRW",
    "USD",
    "min",
    "max",
    "abs",
    "round",
    "days_between",
    "business_days_between",
    "days_in_month",
    "month_start",
    "month_end",
    '"half_up"',
    '"down"',
    '"KR"',
    "\n",
    "\t",
    " ",
    "_",
    "é",
    "\x00",
]
SCOPE = {
    "x": Symbol("input", "x", INTEGER),
    "fee": Symbol("input", "fee", money("KRW")),
    "y.z": Symbol("customer", "z", TEXT),
    "d": Symbol("input", "d", DATE),
    "p": Symbol("input", "p", PERCENT),
    "ok": Symbol("input", "ok", BOOL),
}

expression_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
)


def assert_located(problems, file: str) -> None:
    for problem in problems:
        assert isinstance(problem, Diagnostic)
        assert problem.span.file == file
        assert problem.span.line >= 1 and problem.span.column >= 1
        assert problem.message and problem.severity in ("error", "warning")


@FUZZ
@given(text=expression_text)
def test_any_text_as_an_expression_gives_a_tree_or_located_problems(text):
    node, problems = parse(text, text_locator("expr", 2, 5))
    assert (node is None) == bool(problems)
    assert_located(problems, "expr")
    if node is not None:
        for scope in ({}, SCOPE):
            result = check(node, Scope(dict(scope), "a test"))
            assert_located(result.diagnostics, "expr")
            assert result.expr is not None


YAML_PIECES = [
    "plan",
    "currency",
    "KRW",
    "charges",
    "metrics",
    "usage",
    "model",
    "tiers",
    "formula",
    "volume",
    "up_to",
    "below",
    "flat",
    "amount",
    "on",
    "when",
    "inputs",
    "value",
    "formulas",
    "money",
    "text",
    ":",
    ": ",
    "-",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a",
    "*a",
    "!!str",
    "!!python/name:os.system",
    "'",
    '"',
    "|",
    ">",
    "#",
    "%",
    "@",
    "`",
    "?",
    "<<",
    "\n",
    "\n  ",
    "\n    ",
    "\t",
    " ",
    "1",
    "1_000",
    "3.3%",
    "2024-01-01",
    "~",
    "true",
    "x + 1",
    "---",
    "...",
    "\\",
    "\r\n",
    "\ufeff",
]

yaml_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(YAML_PIECES), max_size=60).map("".join),
)


@FUZZ
@given(text=yaml_text)
def test_any_yaml_ish_text_as_a_plan_gives_located_problems(text):
    loaded = load_plan_text("plan.yaml", text)
    assert_located(loaded.diagnostics, "plan.yaml")
    assert (loaded.plan is None) == any(d.severity == "error" for d in loaded.diagnostics)
    for problem in loaded.diagnostics:
        format_diagnostic(problem, text)  # the caret line can always be drawn


KEYS = [
    "plan",
    "name",
    "kind",
    "currency",
    "period",
    "timezone",
    "rounding",
    "usage",
    "customer",
    "metrics",
    "charges",
    "discounts",
    "minimum",
    "taxes",
    "notices",
    "formulas",
    "lines",
    "total",
    "schedule",
    "type",
    "default",
    "values",
    "sum",
    "count",
    "max",
    "where",
    "model",
    "on",
    "tiers",
    "up_to",
    "below",
    "unit_price",
    "flat",
    "amount",
    "when",
    "rate",
    "percent",
    "applies_to",
    "inputs",
    "value",
    "message",
    "fee",
    "gross",
    "x",
    "issue_day",
    "free_units",
    "package_size",
    "package_price",
    "require",
    "rule",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=datetime.date(1, 1, 1)),
    st.sampled_from(
        [
            "KRW",
            "money",
            "integer",
            "volume",
            "graduated",
            "formula",
            "per_unit",
            "invoice",
            "settlement",
            "x + 1",
            "gross * 2",
            "10%",
            "1_000",
            "max(1, 2)",
            "fee",
            "half_up",
        ]
    ),
    st.text(max_size=30),
)
nested = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=40,
)


@FUZZ
@given(data=nested)
def test_any_nested_data_dumped_as_yaml_gives_located_problems(data):
    text = yaml.safe_dump(data, allow_unicode=True)
    loaded = load_plan_text("plan.yaml", text)
    assert_located(loaded.diagnostics, "plan.yaml")


@pytest.mark.slow
@FUZZ
@given(
    data=st.fixed_dictionaries(
        {"plan": st.just("t"), "currency": st.sampled_from(["KRW", "USD", "XXX"])},
        optional={key: nested for key in ("usage", "metrics", "charges", "formulas", "taxes", "discounts", "notices", "lines", "kind")},
    )
)
def test_any_plan_shaped_data_gives_located_problems(data):
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    loaded = load_plan_text("plan.yaml", text)
    assert_located(loaded.diagnostics, "plan.yaml")


SKELETON = """\
plan: t
currency: KRW
usage: {{amount: money, kind: text, day: date}}
customer: {{segment: text}}
metrics:
  gross: {{sum: amount, where: {where}}}
  derived: {metric}
charges:
  fee:
    model: formula
    amount: {amount}
    when: {when}
formulas:
  f:
    inputs: {{fee: money, rate: percent, n: integer, d: date, label: text, flag: bool}}
    value: {formula}
"""
# Expressions drawn from tokens that make sense in a plan, quoted for YAML.
plan_expression = st.lists(
    st.sampled_from(
        TOKENS
        + [
            "gross",
            "derived",
            "amount",
            "kind",
            "day",
            "n",
            "rate",
            "d",
            "label",
            "flag",
            "customer.segment",
            "period.days",
            "period.start",
        ]
    ),
    min_size=1,
    max_size=15,
)


def quoted(tokens: list[str]) -> str:
    return '"' + " ".join(tokens).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\t", " ").replace("\x00", "") + '"'


@FUZZ
@given(where=plan_expression, metric=plan_expression, amount=plan_expression, when=plan_expression, formula=plan_expression)
def test_random_expressions_in_a_plan_compile_or_give_located_problems(where, metric, amount, when, formula):
    text = SKELETON.format(where=quoted(where), metric=quoted(metric), amount=quoted(amount), when=quoted(when), formula=quoted(formula))
    loaded = load_plan_text("plan.yaml", text)
    assert_located(loaded.diagnostics, "plan.yaml")
    assert all(d.span.line >= 6 for d in loaded.diagnostics)  # the header is fine: problems are in expressions


def _join(template: str, *parts):
    return st.tuples(*parts).map(lambda values: template.format(*values))


def typed(kind: str, depth: int = 3):
    """Well-typed expressions over the skeleton formula's inputs, so most compile and run."""
    atoms = {
        "money": ["fee", "5_000 KRW", "0", "1"],
        "number": ["n", "0", "1", "-1", "0.5", "100_000", "rate"],
        "date": ["d", "2024-02-29", "2024-09-16", "0001-01-01", "9999-12-31"],
        "bool": ["flag", "true", "false", '(label in ["a", "b"])', "(n not in [1, 2, 3])"],
    }[kind]
    if depth == 0:
        return st.sampled_from(atoms)
    money, number, date, boolean = (typed(k, depth - 1) for k in ("money", "number", "date", "bool"))
    combos = {
        "money": [
            _join("({} + {})", money, money),
            _join("({} - {})", money, money),
            _join("({} * {})", money, number),
            _join("({} / {})", money, number),
            _join("max({}, {})", money, money),
            _join("min({}, {}, 0)", money, money),
            _join("abs({})", money),
            _join(
                'round({}, {}, "{}")',
                money,
                st.sampled_from(["1", "10", "0.5", "0", "-10"]),
                st.sampled_from(["half_up", "half_even", "down", "up"]),
            ),
            _join("(if {} then {} else {})", boolean, money, money),
            _join("round({}, 1, label)", money),
        ],
        "number": [
            _join("({} + {})", number, number),
            _join("({} * {})", number, number),
            _join("({} / {})", number, number),
            _join("-{}", number),
            _join("abs({})", number),
            _join("(fee / {})", money),
            _join("days_between({}, {})", date, date),
            _join('business_days_between({}, {}, "KR")', date, date),
            _join("days_in_month({})", date),
            _join("months_between({}, {})", date, date),
            _join("business_days_between({}, {}, label)", date, date),
        ],
        "date": [
            _join("month_start({})", date),
            _join("month_end({})", date),
            _join("add_months({}, {})", date, st.sampled_from(["n", "1", "-13", "120000"])),
            _join("({} + {})", date, st.sampled_from(["n", "1", "-1", "3000000"])),
        ],
        "bool": [
            _join("({} < {})", number, number),
            _join("({} >= {})", money, money),
            _join("({} == {})", date, date),
            _join("not {}", boolean),
            _join("({} and {})", boolean, boolean),
            _join("({} or {})", boolean, boolean),
        ],
    }[kind]
    return st.one_of(st.sampled_from(atoms), *combos)


well_formed = st.one_of(*(typed(kind) for kind in ("money", "number", "date", "bool")), st.just("label")).map(lambda text: [text])


INPUTS = {
    "fee": st.sampled_from(["0", "1", "-1", "100_000", "12.50", "300000", "9" * 47]),
    "rate": st.sampled_from(["0%", "30%", "3.3%", "100%", "-5%"]),
    "n": st.sampled_from(["0", "1", "-1", "7", "12", "1000000"]),
    "d": st.sampled_from(["2024-02-29", "2024-09-13", "9999-12-31", "0001-01-01"]),
    "label": st.sampled_from(["a", "b", "", "é", "KR", "US", "XX", "down", "half_even"]),
    "flag": st.sampled_from(["true", "false"]),
}


@FUZZ
@given(
    formula=st.one_of(well_formed, plan_expression),
    given_inputs=st.fixed_dictionaries(INPUTS),
    garbled=st.one_of(st.none(), st.tuples(st.sampled_from(sorted(INPUTS)), st.text(alphabet=string.printable, max_size=12))),
)
def test_running_a_formula_fails_only_with_a_located_or_input_problem(formula, given_inputs, garbled):
    if garbled is not None:  # one input written badly
        given_inputs = {**given_inputs, garbled[0]: garbled[1]}
    text = SKELETON.format(where="true", metric="gross", amount="gross", when="true", formula=quoted(formula))
    loaded = load_plan_text("plan.yaml", text)
    if loaded.plan is None:
        return
    compiled = loaded.plan.formulas[0]
    try:
        result = run_formula(loaded.plan, compiled, given_inputs)
    except InputProblem as problem:
        event("input problem")
        assert str(problem)
    except EvaluationError as problem:
        event(f"evaluation error: {problem.message[:30]}")
        assert problem.span.file == "plan.yaml" and problem.span.line == 16
    else:
        event(f"value: {compiled.value.type.kind}")
        assert isinstance(result.text, str) and not isinstance(result.value, float)
        assert result.text or compiled.value.type.kind == "text"
