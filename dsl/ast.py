"""The expression syntax tree: plain frozen data, every node with its span.

Spans point into the plan file (already shifted by where the YAML value
starts). Behaviour lives in free functions elsewhere (`checker`, `parser`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from dsl.errors import Span


@dataclass(frozen=True)
class Number:
    """A decimal literal such as `100_000` or `12.50`."""

    value: Decimal
    span: Span


@dataclass(frozen=True)
class Money:
    """A money literal with its currency, such as `5_000 KRW`."""

    value: Decimal
    currency: str
    span: Span


@dataclass(frozen=True)
class Percent:
    """A percent literal such as `3.3%`, kept as its fraction (0.033)."""

    value: Decimal
    span: Span


@dataclass(frozen=True)
class Text:
    """A string literal."""

    value: str
    span: Span


@dataclass(frozen=True)
class Date:
    """A date literal such as `2024-11-01`."""

    value: datetime.date
    span: Span


@dataclass(frozen=True)
class Bool:
    """`true` or `false`."""

    value: bool
    span: Span


@dataclass(frozen=True)
class Name:
    """A name or dotted name: `net_volume`, `customer.type`, `period.days`."""

    parts: tuple[str, ...]
    span: Span


@dataclass(frozen=True)
class Unary:
    """`-x`, `+x` or `not x`."""

    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Binary:
    """Arithmetic, comparison or logic between two operands."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class In:
    """`x in [a, b]` or `x not in [a, b]`."""

    operand: Expr
    options: tuple[Expr, ...]
    negated: bool
    span: Span


@dataclass(frozen=True)
class Conditional:
    """`if test then a else b`."""

    test: Expr
    then: Expr
    otherwise: Expr
    span: Span


@dataclass(frozen=True)
class Call:
    """A call of a built-in function."""

    function: str
    args: tuple[Expr, ...]
    span: Span


Expr = Number | Money | Percent | Text | Date | Bool | Name | Unary | Binary | In | Conditional | Call


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node."""
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.options)
    if isinstance(node, Conditional):
        return (node.test, node.then, node.otherwise)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Expr):
    """Every node of a tree, parents before children (iterative)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
