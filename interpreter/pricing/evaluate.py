"""Evaluate evaluation-tree expressions with exact Decimal arithmetic.

`evaluate(expr, env)` where `env` maps (scope, name) to a value. A run-time
problem (division by zero, a value missing) raises `EvaluationError` carrying
the span of the expression that failed.
"""

from __future__ import annotations

import datetime
import decimal
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dsl import tree
from dsl.builtins import BUILTINS, FunctionProblem
from dsl.errors import Span
from dsl.rounding import CONTEXT, EXACT_DIGITS, ROUNDED_DIGITS, ROUNDING


class EvaluationError(Exception):
    """A plan expression failed while running; `span` says which one."""

    def __init__(self, span: Span, message: str):
        super().__init__(message)
        self.span = span
        self.message = message


Env = dict[tuple[str, str], Any]


class NoValue:
    """A metric with nothing to take its value from (the latest date of no rows).

    As in SQL, every comparison with it is false; arithmetic or a function on
    it stops with a located error instead of inventing a value.
    """

    def __eq__(self, other):
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __eq__

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0

    def __repr__(self):
        return "no value"


NO_VALUE = NoValue()

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def evaluate(expr: tree.Expr, env: Env) -> Any:
    """The value of `expr`; runs under the engine's decimal context (entered here if needed)."""
    if type(expr) is tree.Ref:  # the common case: a charge on a metric
        try:
            return env[(expr.scope, expr.name)]
        except KeyError:
            raise EvaluationError(expr.span, f"no value for {expr.name!r}") from None
    if decimal.getcontext().prec != CONTEXT.prec:
        with decimal.localcontext(CONTEXT):
            return _guarded(expr, env)
    return _guarded(expr, env)


def _guarded(expr: tree.Expr, env: Env) -> Any:
    try:
        return _eval(expr, env)
    except (TypeError, AttributeError):
        if not any(value is NO_VALUE for value in env.values()):
            raise  # a genuine bug, not a missing value: let it show
        raise EvaluationError(expr.span, "a value is missing: a metric has no rows in this period to take it from") from None
    except decimal.DivisionByZero:
        raise EvaluationError(expr.span, "division by zero") from None
    except decimal.Inexact:
        raise EvaluationError(expr.span, f"the result cannot be computed exactly: it has more than {EXACT_DIGITS} digits") from None
    except (decimal.InvalidOperation, decimal.Overflow) as exc:
        raise EvaluationError(expr.span, f"arithmetic failed: {type(exc).__name__}") from None


def _eval(expr: tree.Expr, env: Env) -> Any:
    return _EVALUATE[type(expr)](expr, env)


def _const(expr: tree.Const, _env: Env) -> Any:
    return expr.value


def _ref(expr: tree.Ref, env: Env) -> Any:
    try:
        return env[(expr.scope, expr.name)]
    except KeyError:
        raise EvaluationError(expr.span, f"no value for {expr.name!r}") from None


def _binary(expr: tree.Binary, env: Env) -> Any:
    op = expr.op
    if op == "and":
        return _eval(expr.left, env) and _eval(expr.right, env)
    if op == "or":
        return _eval(expr.left, env) or _eval(expr.right, env)
    left, right = _eval(expr.left, env), _eval(expr.right, env)
    if op in _COMPARE:
        return _COMPARE[op](left, right)
    return _arithmetic(expr, op, left, right)


def _unary(expr: tree.Unary, env: Env) -> Any:
    value = _eval(expr.operand, env)
    return (not value) if expr.op == "not" else -value


def _cond(expr: tree.Cond, env: Env) -> Any:
    return _eval(expr.then, env) if _eval(expr.test, env) else _eval(expr.otherwise, env)


def _in(expr: tree.In, env: Env) -> Any:
    value = _eval(expr.operand, env)
    found = any(value == _eval(option, env) for option in expr.options)
    return found != expr.negated


def _call(expr: tree.Call, env: Env) -> Any:
    args = [_eval(arg, env) for arg in expr.args]
    try:
        return BUILTINS[expr.function].implementation(*args)
    except FunctionProblem as exc:
        raise EvaluationError(expr.span, str(exc)) from None
    except (decimal.InvalidOperation, decimal.Overflow, decimal.Inexact):
        raise EvaluationError(
            expr.span, f"{expr.function}() cannot work with numbers this large (more than {ROUNDED_DIGITS} digits)"
        ) from None
    except (OverflowError, ValueError):  # a date before year 1 or after 9999
        raise EvaluationError(expr.span, f"{expr.function}() gives a date outside the years 1 to 9999") from None


# One handler per node kind, found by the node's exact type: a single dict
# lookup per node on the hot path of rating, where a chain of isinstance tests
# (or `match`) would try the kinds one after another. Each handler is checked
# against its own node type; the table is complete (tests/test_dsl_tree.py).
_EVALUATE: dict[type, Callable[[Any, Env], Any]] = {
    tree.Const: _const,
    tree.Ref: _ref,
    tree.Binary: _binary,
    tree.Unary: _unary,
    tree.Cond: _cond,
    tree.In: _in,
    tree.Call: _call,
}


def _arithmetic(expr: tree.Binary, op: str, left: Any, right: Any) -> Any:
    if isinstance(left, datetime.date):
        if isinstance(right, datetime.date):
            return Decimal((left - right).days)
        try:
            days = datetime.timedelta(days=int(right))
            return left + days if op == "+" else left - days
        except OverflowError:
            raise EvaluationError(expr.span, "the date falls outside the years 1 to 9999") from None
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        raise EvaluationError(expr.span, "division by zero")
    return ROUNDING.divide(left, right)  # the one operation that rounds (`dsl.rounding`)
