"""Static types of expressions and the rules for combining them.

money carries its currency; a bare number literal may stand for money (so
`max(0, fee)` and `net_volume >= 30_000_000` read naturally), a number held in
a name may not. Every rule returns either a type or a message for the user.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPE_NAMES = ("money", "number", "integer", "percent", "bool", "text", "date")


@dataclass(frozen=True)
class Type:
    """One static type; `currency` is set for money, `literal` for number literals."""

    kind: str
    currency: str | None = None
    literal: bool = False


INTEGER = Type("integer")
NUMBER = Type("number")
PERCENT = Type("percent")
BOOL = Type("bool")
TEXT = Type("text")
DATE = Type("date")


def money(currency: str) -> Type:
    return Type("money", currency)


def describe(t: Type) -> str:
    if t.kind == "money":
        return f"money ({t.currency})"
    return t.kind


def plain(t: Type) -> Type:
    """The type without the literal mark (what a name holding it would have)."""
    return Type(t.kind, t.currency) if t.literal else t


def is_numeric(t: Type) -> bool:
    return t.kind in ("number", "integer", "percent")


def is_quantity(t: Type) -> bool:
    return is_numeric(t) or t.kind == "money"


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values that meet (in min/max, if/else, comparisons)."""
    if a == b:
        return a
    if a.kind == "money" or b.kind == "money":
        if a.kind == b.kind:
            return None  # different currencies
        if a.kind == "money" and b.literal and b.kind in ("integer", "number"):
            return a
        if b.kind == "money" and a.literal and a.kind in ("integer", "number"):
            return b
        return None
    if is_numeric(a) and is_numeric(b):
        literal = a.literal and b.literal
        if a.kind == b.kind:
            return Type(a.kind, literal=literal)
        return Type("number", literal=literal)
    if a.kind == b.kind:
        return Type(a.kind)
    return None


def arithmetic(op: str, a: Type, b: Type) -> Type | str:
    """The result type of `a op b` for + - * /, or why it is not allowed."""
    what = f"{describe(a)} {op} {describe(b)}"
    if a.kind == "money" and b.kind == "money" and a.currency != b.currency:
        return f"cannot combine {describe(a)} with {describe(b)}: currencies differ"
    if op in ("+", "-"):
        if a.kind == "date" and b.kind == "integer":
            return DATE
        if op == "-" and a.kind == "date" and b.kind == "date":
            return INTEGER
        if a.kind == "money" or b.kind == "money":
            common = unify(a, b)
            if common is not None and common.kind == "money":
                return common
            return f"cannot compute {what}: add or subtract money only with money or a number written in the plan"
        if is_numeric(a) and is_numeric(b):
            if a.kind == b.kind:
                return Type(a.kind, literal=a.literal and b.literal)
            return NUMBER
        return f"cannot compute {what}"
    if op == "*":
        if a.kind == "money" and b.kind == "money":
            return f"cannot multiply money by money ({what})"
        if a.kind == "money" and is_numeric(b):
            return a
        if b.kind == "money" and is_numeric(a):
            return b
        if is_numeric(a) and is_numeric(b):
            if a.kind == b.kind == "integer":
                return Type("integer", literal=a.literal and b.literal)
            return Type("number", literal=a.literal and b.literal)
        return f"cannot compute {what}"
    # division
    if a.kind == "money" and b.kind == "money":
        return NUMBER
    if a.kind == "money" and is_numeric(b):
        return a
    if is_numeric(a) and b.kind == "money":
        return f"cannot divide a number by money ({what})"
    if is_numeric(a) and is_numeric(b):
        return Type("number", literal=a.literal and b.literal)
    return f"cannot compute {what}"


def comparable(op: str, a: Type, b: Type) -> str | None:
    """None when `a op b` is a valid comparison, else the reason it is not."""
    if a.kind == "money" and b.kind == "money" and a.currency != b.currency:
        return f"cannot compare {describe(a)} with {describe(b)}: currencies differ"
    if unify(a, b) is None:
        return f"cannot compare {describe(a)} with {describe(b)}"
    if op not in ("==", "!=") and a.kind == "bool":
        return f"cannot order bool values with {op!r}"
    return None


def parse_type_name(name: str, currency: str) -> Type:
    """A type written in a plan (`money`, `integer`, ...); the plan's schema has already refused other names."""
    if name == "money":
        return money(currency)
    if name in TYPE_NAMES:
        return Type(name)
    raise ValueError(f"unknown type name {name!r}")
