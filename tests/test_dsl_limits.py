"""Hostile input ends in one clear, located error (or a clean result): never a traceback or a hang.

Deeply nested expressions, huge files, YAML alias bombs and recursive aliases.
Each case also has a time budget far above what it needs, so a hang fails.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from dsl.checker import Scope, check
from dsl.loader import load_plan, load_plan_text
from dsl.parser import MAX_DEPTH, MAX_EXPRESSION_LENGTH, parse, text_locator
from interpreter.pricing.evaluate import evaluate

# Far above what these take (well under a second when the machine is idle) and far below what an
# unbounded expansion would take (hundreds of millions of nodes): a busy machine does not fail it.
BUDGET_SECONDS = 60

DEEP_EXPRESSIONS = [
    ("parentheses_5000", "(" * 5000 + "1" + ")" * 5000, "longer than"),
    ("minus_5000", "-" * 5000 + "1", "nested more than"),
    ("not_3000", "not " * 3000 + "true", "longer than"),
    ("not_2000", "not " * 2000 + "true", "nested more than"),
    ("sum_5000", "1" + "+1" * 5000, "longer than"),
    ("sum_4000", "1" + "+1" * 4000, "nested more than"),
    ("calls_1000", "abs(" * 1000 + "1" + ")" * 1000, "nested more than"),
    ("if_1000", "if true then " * 1000 + "1" + " else 2" * 1000, "longer than"),
    ("if_400", "if true then " * 400 + "1" + " else 2" * 400, "nested more than"),
    ("list_2000", "x in [" + ", ".join(["1"] * 2000) + "]", None),
    ("open_parentheses", "(" * 9000, "ends too early"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in DEEP_EXPRESSIONS], ids=[c[0] for c in DEEP_EXPRESSIONS])
def test_deep_expression_ends_in_one_located_error(text, message):
    started = time.monotonic()
    node, problems = parse(text, text_locator("plan.yaml", 3, 9))
    if message is None:
        assert problems == [] and node is not None
        result = check(node, Scope({}, "a test"))
        assert [d.message for d in result.diagnostics] == ["unknown name 'x' in a test"]
    else:
        assert node is None
        assert len(problems) == 1
        assert message in problems[0].message
        assert problems[0].span.line == 3 and problems[0].span.column >= 9
    assert time.monotonic() - started < BUDGET_SECONDS


def test_the_deepest_allowed_expression_checks_and_evaluates():
    """Just under the limit, the checker and evaluator (both recursive) still work."""
    depth = MAX_DEPTH - 1
    node, problems = parse("-" * (depth - 1) + "1", text_locator("x"))
    assert problems == []
    result = check(node, Scope({}, "a test"))
    assert result.diagnostics == []
    assert evaluate(result.expr, {}) == Decimal(-1) ** (depth - 1)
    node, problems = parse("abs(" * (depth - 1) + "-1" + ")" * (depth - 1), text_locator("x"))
    assert problems == [] and evaluate(check(node, Scope({}, "a test")).expr, {}) == 1


def test_flat_parentheses_do_not_count_as_depth():
    text = "(" * 4000 + "1" + ")" * 4000
    assert len(text) <= MAX_EXPRESSION_LENGTH
    node, problems = parse(text, text_locator("x"))
    assert problems == [] and node.value == 1


def test_deep_expression_inside_a_plan_is_located_in_the_file():
    text = "plan: t\ncurrency: KRW\nmetrics:\n  m: " + "-" * 3000 + "1\n"
    loaded = load_plan_text("plan.yaml", text)
    assert loaded.plan is None
    assert [(d.span.line, d.span.column) for d in loaded.diagnostics] == [(4, 6 + MAX_DEPTH)]
    assert "nested more than 150 levels deep" in loaded.diagnostics[0].message


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

HOSTILE_FILES = [
    ("billion_laughs", BILLION_LAUGHS, "plan has more than 200000 YAML nodes (alias expansion?)"),
    ("recursive_alias", "a: &a [*a]\n", "YAML nested more than 64 levels deep (recursive alias?)"),
    ("recursive_mapping_alias", "plan: &p {plan: *p}\n", "YAML nested more than 64 levels deep (recursive alias?)"),
    ("deep_flow_sequence", "a: " + "[" * 5000 + "]" * 5000 + "\n", "YAML nested too deeply"),
    ("deep_flow_mapping", "a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n", "YAML nested too deeply"),
    ("deep_block_nesting", "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n", "nested more than 64"),
    ("huge_file", "plan: t\ncurrency: KRW\ndescription: " + "x" * (4 * 1024 * 1024 + 10) + "\n", "plan file is larger than 4 MiB"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in HOSTILE_FILES], ids=[c[0] for c in HOSTILE_FILES])
def test_hostile_plan_text_ends_in_one_clear_error(text, message):
    started = time.monotonic()
    loaded = load_plan_text("plan.yaml", text)
    assert time.monotonic() - started < BUDGET_SECONDS
    assert loaded.plan is None
    assert len(loaded.diagnostics) == 1
    problem = loaded.diagnostics[0]
    assert message in problem.message
    assert problem.span.file == "plan.yaml" and problem.span.line >= 1 and problem.span.column >= 1


def test_huge_file_on_disk_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("plan: t\n# " + "x" * (5 * 1024 * 1024) + "\n", encoding="utf-8")
    loaded = load_plan(path)
    assert [(d.span.line, d.span.column, d.message) for d in loaded.diagnostics] == [(1, 1, "plan file is larger than 4 MiB")]


def test_a_large_but_legal_plan_loads():
    metrics = "".join(f"  m{i}: {{sum: amount}}\n" for i in range(2000))
    text = "plan: t\ncurrency: KRW\nusage: {amount: money}\nmetrics:\n" + metrics
    started = time.monotonic()
    loaded = load_plan_text("plan.yaml", text)
    assert time.monotonic() - started < BUDGET_SECONDS
    assert loaded.diagnostics == () and len(loaded.plan.metrics) == 2000


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bomb.yaml", BILLION_LAUGHS),
        ("loop.yaml", "a: &a [*a]\n"),
        ("deep.yaml", "plan: t\ncurrency: KRW\nmetrics:\n  m: " + "not " * 3000 + "true\n"),
    ],
)
def test_check_command_reports_hostile_files_without_a_traceback(ratecard, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = ratecard("check", str(path))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"{path}:" in result.output and ": error: " in result.output
