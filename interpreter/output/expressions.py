"""Expressions of a document as branches of `explain`'s tree, quoted from the plan with their values.

Each part of an expression is shown once with its value; a chain of `or`
(or of `and`) is one branch with an alternative per line, and what the
evaluation never looked at (the alternatives after the one that decided,
the branch of an `if` not taken) is marked "not evaluated". Values read as
in every human output (`human`); a date left at a placeholder default
(1900-01-01) reads "not set".
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from dsl import tree
from interpreter.output import human
from interpreter.pricing.documents import Document
from interpreter.pricing.evaluate import NO_VALUE, EvaluationError, evaluate

Node = tuple[str, list]  # a branch of the tree: its text and the branches under it
# The plan's text, or with negotiated values the text of each file by its name.
Texts = str | dict[str, str]


def source_text(plan_text: Texts, span) -> str:
    """The text a span covers in the plan file (one line at most); with a text per file (a plan and the
    customers file holding negotiated values), in the file the span is in."""
    if isinstance(plan_text, dict):
        plan_text = plan_text.get(span.file, "")
    lines = plan_text.splitlines()
    if not 1 <= span.line <= len(lines):
        return "?"
    line = lines[span.line - 1]
    if span.end_line == span.line and span.end_column:
        return line[span.column - 1 : span.end_column - 1]
    return line[span.column - 1 :].strip()


def placeholder(value: Any) -> bool:
    """A date no customer means: the far past or far future a plan gives as a default for "none"."""
    return isinstance(value, datetime.date) and (value.year <= 1900 or value.year >= 9999)


def show(value: Any, kind: str | None = None, currency: str = "", unset: bool = False) -> str:
    """A value for people, by its type (`kind`): `₩300,000`, `10%`, `"monthly"`, `not set (1900-01-01)`."""
    if value is NO_VALUE:
        return "no value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if kind == "money" and currency:
            return human.money(value, currency, places=human.PLACES)
        if kind == "percent":
            return human.percent(value)
        return human.number(value, places=human.PLACES)
    if isinstance(value, datetime.date):
        return f"not set ({value.isoformat()})" if unset or placeholder(value) else value.isoformat()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


class Expressions:
    """Expressions of one document as branches: each part once, short-circuits marked."""

    def __init__(self, doc: Document, plan_text: Texts):
        self.env = doc.env
        self.plan_text = plan_text
        self.currency = doc.plan.currency
        self.shown: set[str] = set()

    def text(self, expr: tree.Expr) -> str:
        return source_text(self.plan_text, expr.span)

    def value(self, expr: tree.Expr) -> str:
        try:
            return show(evaluate(expr, self.env), expr.type.kind, self.currency, self._unset(expr))
        except EvaluationError as exc:
            return f"(error: {exc.message})"

    def _unset(self, expr: tree.Expr) -> bool:
        """A date that is, or is computed from, a placeholder date."""
        if expr.type.kind != "date":
            return False
        if isinstance(expr, tree.Ref):
            return placeholder(self.env.get((expr.scope, expr.name)))
        return any(part.type.kind == "date" and self._unset(part) for part in tree.children(expr))

    def role(self, role: str, expr: tree.Expr) -> Node:
        """`when: true` with the alternatives under it, or `quantity: net_volume = 119,000,000`.
        Each part is shown once within a role (a later mention is its value alone)."""
        self.shown = set()
        chain = _chain(expr)
        if chain is not None:
            return f"{role}: {self.value(expr)} ({_CHAIN_WORDS[_op(expr)]})", self._alternatives(_op(expr), chain)
        text, children = self.branch(expr)
        return f"{role}: {text}", children

    def branch(self, expr: tree.Expr) -> Node:
        """An evaluated expression: `source = value`, and its parts."""
        chain = _chain(expr)
        if chain is not None:
            return f"{_CHAIN_WORDS[_op(expr)]}: {self.value(expr)}", self._alternatives(_op(expr), chain)
        if isinstance(expr, tree.Const):
            return self.value(expr), []
        key = self.text(expr)
        repeated = key in self.shown
        self.shown.add(key)
        label = f"{key} = {self.value(expr)}"
        if repeated or isinstance(expr, tree.Ref):
            return label, []
        return label, self._parts(expr)

    def _parts(self, expr: tree.Expr) -> list[Node]:
        if isinstance(expr, tree.Cond):
            taken = self.holds(expr.test)
            return [
                self.branch(expr.test) if not _plain(expr.test) else (f"{self.text(expr.test)} = {self.value(expr.test)}", []),
                self.branch(expr.then) if taken else self.skipped(expr.then),
                self.skipped(expr.otherwise) if taken else self.branch(expr.otherwise),
            ]
        return [self.branch(part) for part in tree.children(expr) if not isinstance(part, tree.Const) and not self._seen_leaf(part)]

    def _seen_leaf(self, expr: tree.Expr) -> bool:
        return isinstance(expr, tree.Ref) and self.text(expr) in self.shown

    def _alternatives(self, op: str, chain: list[tree.Expr]) -> list[Node]:
        """Each alternative of an `or` (each condition of an `and`) evaluated in order; those after
        the one that decided were not looked at."""
        out, decided = [], False
        for part in chain:
            if decided:
                out.append(self.skipped(part))
                continue
            out.append(self.branch(part))
            outcome = self.holds(part)
            decided = outcome if op == "or" else not outcome
        return out

    def holds(self, expr: tree.Expr) -> bool:
        try:
            return bool(evaluate(expr, self.env))
        except EvaluationError:
            return False

    def skipped(self, expr: tree.Expr) -> Node:
        """What was not looked at, quoted from the plan (a chain written over several lines by what it is)."""
        quoted = _chain(expr) is None or _one_line(self.plan_text, expr.span)
        return f"{self.text(expr) if quoted else _CHAIN_WORDS[_op(expr)]}: not evaluated", []


_CHAIN_WORDS = {"or": "any of these", "and": "all of these"}


def _op(expr: tree.Expr) -> str:
    return expr.op if isinstance(expr, tree.Binary) else ""


def _chain(expr: tree.Expr) -> list[tree.Expr] | None:
    """The operands of `a or b or c` (of `a and b and c`) in order, or None for another expression."""
    if not (isinstance(expr, tree.Binary) and expr.op in _CHAIN_WORDS):
        return None
    out: list[tree.Expr] = []
    for side in (expr.left, expr.right):
        out += (_chain(side) or [side]) if isinstance(side, tree.Binary) and side.op == expr.op else [side]
    return out


def _one_line(plan_text: Texts, span) -> bool:
    """Whether a span lies within one line of the plan (a folded YAML string's may not)."""
    if isinstance(plan_text, dict):
        plan_text = plan_text.get(span.file, "")
    lines = plan_text.splitlines()
    return span.end_line == span.line and 1 <= span.line <= len(lines) and (span.end_column or 0) - 1 <= len(lines[span.line - 1])


def _plain(expr: tree.Expr) -> bool:
    return isinstance(expr, (tree.Ref, tree.Const))
