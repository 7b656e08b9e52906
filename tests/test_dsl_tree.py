"""Traversal of the evaluation tree: `walk`, and `expressions` finding every expression of a plan."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import get_args

import pytest

from dsl import tree
from dsl.errors import Span
from dsl.loader import load_plan
from dsl.types import BOOL, INTEGER
from interpreter.ledger.sql import to_sql
from interpreter.pricing.evaluate import evaluate
from plan_helpers import PLANS, load_text

EXPRESSIONS = get_args(tree.Expr)

INVOICE = """\
plan: every-place
currency: USD
usage:
  kind: {type: text, values: [call, sms]}
  units: integer
  amount: money
customer:
  vip: {type: bool, default: false}
  deposit: {type: money, default: 0}
require:
  - rule: units >= 0
    message: units are never negative
metrics:
  calls: {sum: units, where: kind == "call"}
  doubled: calls * 2
charges:
  calls:
    model: graduated
    on: calls
    when: not customer.vip
    multiplier: 2
    tiers:
      - {up_to: 10, unit_price: 1}
      - {unit_price: 0.5}
  fees: {model: percentage, on: amount, rate: 1%, where: kind == "sms"}
  base: {model: flat, amount: 10 USD}
discounts:
  vip: {percent: 10%, when: customer.vip}
  gift: {amount: 1 USD}
minimum: 5 USD
taxes:
  vat: {rate: 10%, when: doubled > 0}
credits:
  deposit: {balance: customer.deposit, when: customer.vip}
notices:
  many: {when: calls > 100, message: many calls}
"""

SETTLEMENT = """\
plan: lines
kind: settlement
currency: KRW
usage:
  amount: money
metrics:
  paid: {sum: amount}
formulas:
  refund:
    inputs: {paid: money}
    value: paid / 2
lines:
  payments: {name: Payments, value: paid}
  fee: {name: Fee, value: payments * 10%}
total: fee
"""


def compiled(text: str) -> tree.Plan:
    loaded = load_text(text)
    assert loaded.plan is not None, [d.message for d in loaded.diagnostics]
    return loaded.plan


def written(value, found: list, place: str = "") -> None:
    """Every expression held by a plan part (found by looking at every field), with where it sits."""
    if isinstance(value, EXPRESSIONS):
        found.append((place, value))
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            written(getattr(value, field.name), found, f"{type(value).__name__}.{field.name}")
    elif isinstance(value, tuple):
        for item in value:
            written(item, found, place)


def test_walk_visits_outermost_first_then_left_to_right():
    plan = compiled(
        INVOICE.replace("multiplier: 2", 'multiplier: if kind_of in ["a"] then -max(calls, 1) else 2')
        .replace("  vip: {type: bool, default: false}", "  vip: {type: bool, default: false}\n  kind_of: text")
        .replace("kind_of in", "customer.kind_of in")
    )
    multiplier = plan.charges[0].multiplier
    kinds = [type(node).__name__ for node in tree.walk(multiplier)]
    assert kinds == ["Cond", "In", "Ref", "Const", "Unary", "Call", "Ref", "Const", "Const"]
    assert list(tree.walk(None)) == []


@pytest.mark.parametrize("text", [INVOICE, SETTLEMENT], ids=["invoice", "settlement"])
def test_expressions_are_every_expression_the_plan_holds(text):
    plan = compiled(text)
    found: list = []
    written(plan, found)
    assert [id(e) for _, e in found] and sorted(id(e) for e in tree.expressions(plan)) == sorted(id(e) for _, e in found)


def test_the_plans_above_hold_an_expression_in_every_place_a_plan_can():
    """So that the test above covers each expression field of the evaluation tree."""
    places = set()
    for text in (INVOICE, SETTLEMENT):
        found: list = []
        written(compiled(text), found)
        places |= {place for place, _ in found}
    declared = {
        f"{kind.__name__}.{field.name}"
        for kind in vars(tree).values()
        if isinstance(kind, type) and dataclasses.is_dataclass(kind) and kind not in EXPRESSIONS
        for field in dataclasses.fields(kind)
        if "Expr" in str(field.type)
    }
    assert declared and declared == places


@pytest.mark.parametrize(
    "where",
    [
        "minimum: previous.calls * 1 USD",
        "notices:\n  less: {when: 'previous.calls in [1, 2]', message: same}",
        "credits:\n  back: {balance: if previous.calls > 0 then 1 USD else 0 USD}",
    ],
)
def test_a_plan_reading_the_previous_period_says_so(where):
    base = INVOICE.split("minimum:")[0]
    assert not compiled(base).uses_previous
    assert compiled(base + where + "\n").uses_previous


def test_shipped_plans_walk_to_their_leaves():
    for path in sorted(PLANS.glob("*.yaml")):
        plan = load_plan(path).plan
        for root in tree.expressions(plan):
            leaves = [node for node in tree.walk(root) if not tree.children(node)]
            assert leaves and all(isinstance(node, (tree.Const, tree.Ref)) for node in leaves), path


@pytest.mark.parametrize(
    "inclusive, quantity, held",
    [
        (True, Decimal(99), True),
        (True, Decimal(100), True),
        (True, Decimal("100.01"), False),
        (False, Decimal(99), True),
        (False, Decimal("99.99"), True),
        (False, Decimal(100), False),
    ],
)
def test_a_tier_holds_up_to_its_bound_or_below_it(inclusive, quantity, held):
    assert tree.Tier(Decimal(100), inclusive, Decimal(1), Decimal(0), None).holds(quantity) is held
    assert tree.Tier(None, False, Decimal(1), Decimal(0), None).holds(quantity)


def test_every_kind_of_expression_evaluates_and_has_a_sql_form():
    """Both back ends dispatch on the kind of node: a kind added to `tree.Expr` must reach both."""
    span = Span("t", 1, 1)
    units = tree.Ref("field", "units", INTEGER, span)
    one = tree.Const(Decimal(1), INTEGER, span)
    listed = tree.In(units, (one, tree.Const(Decimal(3), INTEGER, span)), False, BOOL, span)
    test = tree.Binary("and", listed, tree.Unary("not", tree.Const(False, BOOL, span), BOOL, span), BOOL, span)
    then = tree.Binary("+", tree.Call("abs", (tree.Unary("-", units, INTEGER, span),), INTEGER, span), one, INTEGER, span)
    expr = tree.Cond(test, then, tree.Const(Decimal(0), INTEGER, span), INTEGER, span)
    assert {type(node) for node in tree.walk(expr)} == set(EXPRESSIONS)
    assert evaluate(expr, {("field", "units"): Decimal(3)}) == 4
    assert evaluate(expr, {("field", "units"): Decimal(2)}) == 0
    assert to_sql(expr) == (
        "(CASE WHEN ((\"units\" IN (CAST('1' AS DECIMAL(2,0)), CAST('3' AS DECIMAL(2,0)))) AND (NOT FALSE)) "
        "THEN CAST((abs((-\"units\")) + CAST('1' AS DECIMAL(2,0))) AS DECIMAL(38,0)) "
        "ELSE CAST(CAST('0' AS DECIMAL(2,0)) AS DECIMAL(38,0)) END)"  # branches at one scale: see sql._one_scale
    )
