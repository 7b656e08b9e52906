"""The expression grammar: every construct, precedence, and syntax errors with columns.

Each expression is parsed and its AST written as a compact s-expression, so a
case reads as `text -> shape`: `(+ 1 (* 2 3))`, `(or a (and b c))`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from dsl import ast
from dsl.parser import parse, text_locator


def parsed(text: str) -> ast.Expr:
    node, problems = parse(text, text_locator("expr"))
    assert problems == [], problems
    assert node is not None
    return node


def shape(node: ast.Expr) -> str:
    """A compact, unambiguous rendering of an AST."""
    if isinstance(node, ast.Number):
        return str(node.value)
    if isinstance(node, ast.Money):
        return f"{node.value}:{node.currency}"
    if isinstance(node, ast.Percent):
        return f"{node.value}%"
    if isinstance(node, ast.Text):
        return repr(node.value)
    if isinstance(node, ast.Date):
        return f"#{node.value.isoformat()}"
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    if isinstance(node, ast.Name):
        return ".".join(node.parts)
    if isinstance(node, ast.Unary):
        return f"({node.op} {shape(node.operand)})"
    if isinstance(node, ast.Binary):
        return f"({node.op} {shape(node.left)} {shape(node.right)})"
    if isinstance(node, ast.In):
        word = "not-in" if node.negated else "in"
        return f"({word} {shape(node.operand)} [{' '.join(shape(o) for o in node.options)}])"
    if isinstance(node, ast.Conditional):
        return f"(if {shape(node.test)} {shape(node.then)} {shape(node.otherwise)})"
    if isinstance(node, ast.Call):
        return f"{node.function}({' '.join(shape(a) for a in node.args)})"
    raise AssertionError(f"unknown node {node!r}")


CONSTRUCTS = [
    # numbers: underscores, decimals; percents are kept as fractions
    ("100_000", "100000"),
    ("12.50", "12.50"),
    ("1_000.000_5", "1000.0005"),
    ("0", "0"),
    ("10%", "0.1%"),
    ("3.3%", "0.033%"),
    ("1_00%", "1%"),
    # strings, both quotes, with escapes
    ('"approval"', "'approval'"),
    ("'cancel'", "'cancel'"),
    ('"say \\"hi\\""', "'say \"hi\"'"),
    ("'it\\'s'", '"it\'s"'),
    ('"a\\\\b"', "'a\\\\b'"),
    ('"tab\\there"', "'tab\\there'"),
    ('"line\\nbreak"', "'line\\nbreak'"),
    ('""', "''"),
    ("'x' ", "'x'"),
    # booleans and dates
    ("true", "true"),
    ("false", "false"),
    ("2024-11-01", "#2024-11-01"),
    ("2024-02-29", "#2024-02-29"),
    # names, dotted names, and words that merely start with a keyword
    ("net_volume", "net_volume"),
    ("customer.type", "customer.type"),
    ("previous.net_volume", "previous.net_volume"),
    ("a.b.c", "a.b.c"),
    ("_hidden", "_hidden"),
    ("truest", "truest"),
    ("notice", "notice"),
    ("iffy", "iffy"),
    ("index", "index"),
    ("order_2", "order_2"),
    # arithmetic and unary operators
    ("a + b", "(+ a b)"),
    ("a - b", "(- a b)"),
    ("a * b", "(* a b)"),
    ("a / b", "(/ a b)"),
    ("-a", "(- a)"),
    ("+a", "(+ a)"),
    ("- - 1", "(- (- 1))"),
    # comparisons
    ("a == b", "(== a b)"),
    ("a != b", "(!= a b)"),
    ("a < b", "(< a b)"),
    ("a <= b", "(<= a b)"),
    ("a > b", "(> a b)"),
    ("a >= b", "(>= a b)"),
    # logic
    ("a and b", "(and a b)"),
    ("a or b", "(or a b)"),
    ("not a", "(not a)"),
    # membership
    ('kind in ["cancel", "refund"]', "(in kind ['cancel' 'refund'])"),
    ("kind not in [1, 2, 3]", "(not-in kind [1 2 3])"),
    ("x in []", "(in x [])"),
    ("x in [2024-01-01]", "(in x [#2024-01-01])"),
    # conditionals and calls
    ("if a then 1 else 2", "(if a 1 2)"),
    ("f()", "f()"),
    ('round(x, 10, "down")', "round(x 10 'down')"),
    ("max(0, min(a, b))", "max(0 min(a b))"),
    ("days_between(2024-01-01, d)", "days_between(#2024-01-01 d)"),
    # money literals carry their currency
    ("5_000 KRW", "5000:KRW"),
    ("12.50 USD", "12.50:USD"),
    # whitespace and line breaks do not matter
    ("  a\n  +\tb  ", "(+ a b)"),
]


@pytest.mark.parametrize(("text", "expected"), CONSTRUCTS, ids=[c[0] for c in CONSTRUCTS])
def test_every_construct_parses_to_its_ast(text, expected):
    assert shape(parsed(text)) == expected


PRECEDENCE = [
    ("1 + 2 * 3", "(+ 1 (* 2 3))"),
    ("1 * 2 + 3", "(+ (* 1 2) 3)"),
    ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
    ("1 - 2 - 3", "(- (- 1 2) 3)"),
    ("8 / 4 / 2", "(/ (/ 8 4) 2)"),
    ("1 - 2 + 3", "(+ (- 1 2) 3)"),
    ("-2 * 3", "(* (- 2) 3)"),
    ("-a.b", "(- a.b)"),
    ("2 * -3", "(* 2 (- 3))"),
    ("1 - -2", "(- 1 (- 2))"),
    ("1 -2", "(- 1 2)"),
    ("1-2", "(- 1 2)"),
    ("a or b and c", "(or a (and b c))"),
    ("a and b or c", "(or (and a b) c)"),
    ("a or b or c", "(or (or a b) c)"),
    ("not a and b", "(and (not a) b)"),
    ("not not a", "(not (not a))"),
    ("not a == b", "(not (== a b))"),
    ("a + 1 > b * 2", "(> (+ a 1) (* b 2))"),
    ("a < b and b < c", "(and (< a b) (< b c))"),
    ("x + 1 in [2, 3]", "(in (+ x 1) [2 3])"),
    ("not x in [1]", "(not (in x [1]))"),
    ("if a then 1 else 2 + 3", "(if a 1 (+ 2 3))"),
    ("if a or b then x else y", "(if (or a b) x y)"),
    ("if a then if b then 1 else 2 else 3", "(if a (if b 1 2) 3)"),
    ("if a then 1 else if b then 2 else 3", "(if a 1 (if b 2 3))"),
    ("(if a then 1 else 2) + 3", "(+ (if a 1 2) 3)"),
    ("f(if a then 1 else 2, b or c)", "f((if a 1 2) (or b c))"),
    ("-f(x)", "(- f(x))"),
    ("max(a, b) * 2%", "(* max(a b) 0.02%)"),
    # a keyword after a number is the keyword, not a currency
    ("1 and true", "(and 1 true)"),
    ("5 or x", "(or 5 x)"),
    ("2 in [2]", "(in 2 [2])"),
    ("3 not in [1]", "(not-in 3 [1])"),
    ("if 1 then 2 else 3", "(if 1 2 3)"),
    ("5 KRW + 1 USD", "(+ 5:KRW 1:USD)"),
]


@pytest.mark.parametrize(("text", "expected"), PRECEDENCE, ids=[c[0] for c in PRECEDENCE])
def test_precedence_and_associativity(text, expected):
    assert shape(parsed(text)) == expected


def test_literal_values_are_exact():
    number = parsed("1_234.50")
    assert isinstance(number, ast.Number) and number.value == Decimal("1234.50")
    assert isinstance(number.value, Decimal)
    percent = parsed("3.3%")
    assert isinstance(percent, ast.Percent) and percent.value == Decimal("0.033")
    date = parsed("2024-11-01")
    assert isinstance(date, ast.Date) and date.value == datetime.date(2024, 11, 1)


def test_every_node_has_a_span_in_columns_of_the_text():
    node = parsed("max(0, fee * (1 - rate))")
    assert (node.span.line, node.span.column, node.span.end_column) == (1, 1, 25)
    product = node.args[1]
    assert (product.span.column, product.span.end_column) == (8, 24)
    assert shape(product) == "(* fee (- 1 rate))"
    rate = product.right.right
    assert (rate.span.column, rate.span.end_column) == (19, 23)


def test_locator_shifts_spans_to_where_the_expression_starts():
    node, problems = parse("a + b", text_locator("plan.yaml", 7, 12))
    assert problems == []
    assert (node.span.file, node.span.line, node.span.column) == ("plan.yaml", 7, 12)
    assert node.right.span.column == 16


SYNTAX_ERRORS = [
    ("a < b < c", 7, "comparisons cannot be chained"),
    ("a == b == c", 8, "comparisons cannot be chained"),
    ("a == b in [1]", 8, "comparisons cannot be chained"),
    ("1 +", 4, "expression ends too early; expected a value"),
    ("(1", 3, "expected ')'"),
    ("f(1", 4, "expected ')' or ','"),
    ("if a then 1", 12, "expected 'else'"),
    ("1 2", 3, "unexpected '2'; expected an operator"),
    ("max(1,)", 7, "unexpected ')'"),
    ("x in [1,]", 9, "unexpected ']'"),
    ("x not 1", 7, "expected 'in'"),
    ("a.", 3, "expected a name"),
    ('"open', 1, "this text is not closed"),
    ("a = b", 3, "compare with =="),
    ("1 % 2", 3, "unexpected character '%'"),
    ("2024-02-30", 1, "'2024-02-30' is not a valid date"),
    ("", 1, "expression is empty"),
    ("   ", 1, "expression is empty"),
    ("a ==", 5, "expression ends too early"),
]


@pytest.mark.parametrize(("text", "column", "message"), SYNTAX_ERRORS, ids=[c[0] or "empty" for c in SYNTAX_ERRORS])
def test_syntax_errors_are_located(text, column, message):
    node, problems = parse(text, text_locator("expr"))
    assert node is None
    assert len(problems) == 1
    problem = problems[0]
    assert problem.code == "syntax"
    assert message in problem.message
    assert (problem.span.line, problem.span.column) == (1, column)


def test_expected_tokens_are_named_for_people():
    _, problems = parse("net_volume >=", text_locator("expr"))
    message = problems[0].message
    assert "$END" not in message and "RPAR" not in message and "NAME" not in message
