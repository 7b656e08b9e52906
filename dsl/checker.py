"""Name resolution and static types: AST -> typed evaluation-tree expression.

Every problem in an expression is reported, not just the first: after an error
the offending part gets the `error` type, which combines with anything, so one
mistake does not cascade into a dozen messages.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from dsl import ast, tree
from dsl.builtins import BUILTINS
from dsl.currency import currency_problem
from dsl.errors import Diagnostic, error
from dsl.types import BOOL, DATE, INTEGER, NUMBER, PERCENT, TEXT, Type, arithmetic, comparable, describe, money, unify
from dsl.values import digits_problem, percent_text

ERROR = Type("error")


@dataclass(frozen=True)
class Symbol:
    """A name visible to an expression, and where its value comes from."""

    scope: str
    name: str
    type: Type


@dataclass
class Scope:
    """The names an expression may use, and a word on what the expression is."""

    names: dict[str, Symbol]
    context: str
    elsewhere: dict[str, str] = field(default_factory=dict)  # name -> why it is not visible here


@dataclass
class Result:
    expr: tree.Expr
    diagnostics: list[Diagnostic]
    references: set[str]


def check(node: ast.Expr, scope: Scope, currency: str | None = None) -> Result:
    """Resolve names and compute types; collects every problem.

    With `currency` (the plan's), a money literal in any other currency is an error.
    """
    out = Result(tree.Const(None, ERROR, node.span), [], set())
    out.expr = _Checker(scope, out, currency).visit(node)
    return out


def expect(result: Result, wanted: tuple[str, ...], what: str) -> None:
    """Add an error when the expression's type is not one of `wanted` kinds."""
    t = result.expr.type
    if t.kind == "error" or t.kind in wanted:
        return
    if "money" in wanted and t.literal and t.kind in ("integer", "number"):
        return
    words = " or ".join(dict.fromkeys(_KIND_WORDS.get(kind, kind) for kind in wanted))
    hint = ""
    if "money" in wanted and t.kind in ("number", "integer"):
        hint = "; write money amounts with their currency, e.g. 5_000 KRW"
    result.diagnostics.append(error(result.expr.span, f"{what} must be {words}, but this is {describe(t)}{hint}", "type"))


_KIND_WORDS = {"bool": "true or false", "number": "a number", "integer": "a number", "percent": "a number", "date": "a date"}


class _Checker:
    def __init__(self, scope: Scope, out: Result, currency: str | None = None):
        self.scope = scope
        self.out = out
        self.currency = currency

    def fail(self, span, message: str, code: str = "type") -> None:
        self.out.diagnostics.append(error(span, message, code))

    def visit(self, node: ast.Expr) -> tree.Expr:
        method = getattr(self, "visit_" + type(node).__name__)
        return method(node)

    def exact(self, node, written: str, value=None) -> bool:
        """False (after an error) when a literal is beyond what rating computes exactly."""
        problem = digits_problem(node.value if value is None else value, written)
        if problem:
            self.fail(node.span, problem, "number")
        return problem is None

    def visit_Number(self, node: ast.Number) -> tree.Expr:
        if not self.exact(node, f"{node.value:f}"):
            return tree.Const(node.value, ERROR, node.span)
        integral = node.value == node.value.to_integral_value()
        kind = "integer" if integral and "." not in str(node.value) else "number"
        return tree.Const(node.value, Type(kind, literal=True), node.span)

    def visit_Money(self, node: ast.Money) -> tree.Expr:
        if re.fullmatch(r"[eE]\d+", node.currency):
            self.fail(node.span, "write numbers in full, such as 100_000: exponents (1e5) are not used in plans")
            return tree.Const(node.value, ERROR, node.span)
        problem = currency_problem(f"{node.value:f} {node.currency}", node.currency, self.currency)
        if problem:
            self.fail(node.span, problem)
            return tree.Const(node.value, ERROR, node.span)
        if not self.exact(node, f"{node.value:f} {node.currency}"):
            return tree.Const(node.value, ERROR, node.span)
        return tree.Const(node.value, money(node.currency), node.span)

    def visit_Percent(self, node: ast.Percent) -> tree.Expr:
        if not self.exact(node, percent_text(f"{(node.value * 100).normalize():f}%", node.value)):
            return tree.Const(node.value, ERROR, node.span)
        return tree.Const(node.value, Type("percent", literal=True), node.span)

    def visit_Text(self, node: ast.Text) -> tree.Expr:
        return tree.Const(node.value, TEXT, node.span)

    def visit_Date(self, node: ast.Date) -> tree.Expr:
        return tree.Const(node.value, DATE, node.span)

    def visit_Bool(self, node: ast.Bool) -> tree.Expr:
        return tree.Const(node.value, BOOL, node.span)

    def visit_Name(self, node: ast.Name) -> tree.Expr:
        dotted = ".".join(node.parts)
        symbol = self.scope.names.get(dotted)
        if symbol is None:
            self.fail(node.span, self.unknown(dotted), "name")
            return tree.Ref("unknown", dotted, ERROR, node.span)
        self.out.references.add(dotted)
        return tree.Ref(symbol.scope, symbol.name, symbol.type, node.span)

    def unknown(self, name: str) -> str:
        if name in self.scope.elsewhere:
            return f"{name!r} cannot be used in {self.scope.context}: {self.scope.elsewhere[name]}"
        if name in BUILTINS:
            return f"{name!r} is a function; call it as {name}(...)"
        message = f"unknown name {name!r} in {self.scope.context}"
        usable = [known for known in self.scope.names if _WRITABLE.match(known)]
        close = difflib.get_close_matches(name, usable, n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean {close[0]!r}?"
        section = name.split(".", 1)[0] if "." in name else None
        if section == "customer":
            return f"{message}; customer attributes are declared under `customer:` in the plan"
        if section == "period":
            facts = sorted(known for known in self.scope.names if known.startswith("period."))
            if facts:
                return f"{message}; the period facts are {', '.join(facts)}"
        if section == "previous":
            return f"{message}; `previous.` takes a metric name, e.g. previous.net_volume"
        return message

    def visit_Unary(self, node: ast.Unary) -> tree.Expr:
        operand = self.visit(node.operand)
        t = operand.type
        if node.op == "not":
            if t.kind not in ("bool", "error"):
                self.fail(node.span, f"'not' needs true/false, not {describe(t)}")
            return tree.Unary("not", operand, BOOL, node.span)
        if t.kind not in ("money", "number", "integer", "percent", "error"):
            self.fail(node.span, f"cannot negate {describe(t)}")
            return tree.Unary(node.op, operand, ERROR, node.span)
        if node.op == "+":
            return operand
        return tree.Unary("-", operand, t, node.span)

    def visit_Binary(self, node: ast.Binary) -> tree.Expr:
        left, right = self.visit(node.left), self.visit(node.right)
        a, b = left.type, right.type
        if node.op in ("and", "or"):
            for side in (left, right):
                if side.type.kind not in ("bool", "error"):
                    self.fail(side.span, f"'{node.op}' needs true/false on both sides, not {describe(side.type)}")
            return tree.Binary(node.op, left, right, BOOL, node.span)
        if a.kind == "error" or b.kind == "error":
            return tree.Binary(node.op, left, right, BOOL if node.op in _COMPARISONS else ERROR, node.span)
        if node.op in _COMPARISONS:
            problem = comparable(node.op, a, b)
            if problem:
                self.fail(node.span, problem)
            return tree.Binary(node.op, left, right, BOOL, node.span)
        result = arithmetic(node.op, a, b)
        if isinstance(result, str):
            self.fail(node.span, result)
            result = ERROR
        return tree.Binary(node.op, left, right, result, node.span)

    def visit_In(self, node: ast.In) -> tree.Expr:
        operand = self.visit(node.operand)
        options = tuple(self.visit(option) for option in node.options)
        for option in options:
            if not isinstance(option, tree.Const):
                self.fail(option.span, "the list after 'in' may hold only literal values", "type")
            elif operand.type.kind != "error" and unify(operand.type, option.type) is None:
                self.fail(option.span, f"cannot compare {describe(operand.type)} with {describe(option.type)}")
        return tree.In(operand, options, node.negated, BOOL, node.span)

    def visit_Conditional(self, node: ast.Conditional) -> tree.Expr:
        test = self.visit(node.test)
        then = self.visit(node.then)
        otherwise = self.visit(node.otherwise)
        if test.type.kind not in ("bool", "error"):
            self.fail(test.span, f"the condition after 'if' must be true/false, not {describe(test.type)}")
        if ERROR in (then.type, otherwise.type):
            return tree.Cond(test, then, otherwise, ERROR, node.span)
        common = unify(then.type, otherwise.type)
        if common is None:
            self.fail(node.span, f"'then' gives {describe(then.type)} but 'else' gives {describe(otherwise.type)}")
            common = ERROR
        return tree.Cond(test, then, otherwise, common, node.span)

    def visit_Call(self, node: ast.Call) -> tree.Expr:
        args = tuple(self.visit(arg) for arg in node.args)
        builtin = BUILTINS.get(node.function)
        if builtin is None:
            close = difflib.get_close_matches(node.function, list(BUILTINS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; functions are {', '.join(sorted(BUILTINS))}"
            self.fail(node.span, f"unknown function {node.function!r}{hint}", "name")
            return tree.Call(node.function, args, ERROR, node.span)
        if any(arg.type.kind == "error" for arg in args):
            return tree.Call(node.function, args, ERROR, node.span)
        result = builtin.signature([arg.type for arg in args], node.args)
        if isinstance(result, str):
            self.fail(node.span, result)
            result = ERROR
        return tree.Call(node.function, args, result, node.span)


_WRITABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")

__all__ = ["Scope", "Symbol", "Result", "check", "expect", "ERROR", "INTEGER", "NUMBER", "PERCENT"]
