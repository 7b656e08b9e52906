"""A document's expressions (conditions, multipliers, amounts, minimum, discounts) in exact SQL, or why not.

`sql(expr, refs)` gives an expression of the evaluation tree as DuckDB SQL
with, for a number, how many decimal places and whole digits it can have
(`Sql`), so that no product or sum ever exceeds DECIMAL(38): every number
is held at an explicit scale, since DuckDB types a CASE over DECIMAL(38)
values of several scales as one of them and drops decimal places.
`whole` and `rounded` round a DECIMAL exactly, by integer division on
HUGEINT; `exact_types` says whether stage 1's values can be priced so.
A quotient (rounded to 40 digits by the interpreter), a function, a date
computed with, or numbers too wide raise `NoSql`: the plan's documents
are then built by the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from dsl import tree
from dsl.pricing_sql import number
from interpreter.ledger.sql import literal

_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
MAX_SCALE = 20  # decimal places an expression may need; beyond, its value is left to the interpreter
MAX_WIDTH = 36  # places and whole digits together, kept under DECIMAL(38) with room for a sum


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


def exact_types(columns: dict[str, str]) -> bool:
    """Whether every value stage 1 hands over (its columns: name -> DuckDB type) is exact with at most
    10 decimal places: the pricing casts numbers to DECIMAL(38,10)."""
    for name, duck in columns.items():
        if name.startswith("__") or duck in _INTEGER_TYPES or duck in ("VARCHAR", "BOOLEAN"):
            continue
        if not duck.startswith("DECIMAL(") or int(duck[:-1].split(",")[1]) > 10:
            return False
    return True


class NoSql(Exception):
    """The expression has no exact SQL form here; the message says why."""


@dataclass(frozen=True)
class Sql:
    """SQL of one value; for a number, at most `scale` decimal places and `digits` whole digits."""

    text: str
    kind: str  # number, bool, text or date
    scale: int = 0
    digits: int = 0

    def at(self, scale: int) -> str:
        """The number as DECIMAL(38, scale) (`scale` at least its own: nothing is rounded)."""
        return f"CAST({self.text} AS DECIMAL(38,{scale}))"


def scale_of(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def digits_of(value: Decimal) -> int:
    return len(str(int(abs(value)))) if abs(value) >= 1 else 0


def constant(value: object) -> Sql:
    if isinstance(value, bool):
        return Sql("TRUE" if value else "FALSE", "bool")
    if isinstance(value, Decimal):
        return Sql(number(value), "number", scale_of(value), digits_of(value))
    if isinstance(value, str):
        return Sql(literal(value), "text")
    raise NoSql(f"a constant {value!r}")


def number_sql(text: str, scale: int, digits: int) -> Sql:
    if scale > MAX_SCALE or scale + digits > MAX_WIDTH:
        raise NoSql("numbers too wide for DECIMAL(38)")
    return Sql(text, "number", scale, digits)


def sql(expr: tree.Expr, refs: Callable[[tree.Ref], Sql]) -> Sql:
    """`expr` in SQL; `refs` gives the SQL of a name (and raises `NoSql` for one it cannot)."""
    match expr:
        case tree.Const():
            return constant(expr.value)
        case tree.Ref():
            return refs(expr)
        case tree.Unary():
            inner = sql(expr.operand, refs)
            if expr.op == "not":
                return Sql(f"(NOT {inner.text})", "bool")
            _number(inner)
            return Sql(f"(-{inner.text})", "number", inner.scale, inner.digits)
        case tree.Binary():
            return _binary(expr, refs)
        case tree.In():
            operand = sql(expr.operand, refs)
            options = [sql(o, refs) for o in expr.options]
            if operand.kind == "number" or any(o.kind == "number" for o in options):
                return Sql(_equals_any(operand, options, expr.negated), "bool")
            listed = ", ".join(o.text for o in options)
            return Sql(f"({operand.text} {'NOT IN' if expr.negated else 'IN'} ({listed}))", "bool")
        case tree.Cond():
            test, then, otherwise = sql(expr.test, refs), sql(expr.then, refs), sql(expr.otherwise, refs)
            if then.kind != "number":
                return Sql(f"(CASE WHEN {test.text} THEN {then.text} ELSE {otherwise.text} END)", then.kind)
            scale, digits = max(then.scale, otherwise.scale), max(then.digits, otherwise.digits)
            return number_sql(f"(CASE WHEN {test.text} THEN {then.at(scale)} ELSE {otherwise.at(scale)} END)", scale, digits)
    raise NoSql(f"the function {getattr(expr, 'function', '?')}()")


def _number(value: Sql) -> None:
    if value.kind != "number":
        raise NoSql(f"arithmetic on a {value.kind}")


def _equals_any(operand: Sql, options: list[Sql], negated: bool) -> str:
    found = " OR ".join(f"{operand.text} = {o.text}" for o in options) or "FALSE"
    return f"(NOT ({found}))" if negated else f"({found})"


def _binary(expr: tree.Binary, refs: Callable[[tree.Ref], Sql]) -> Sql:
    left, right = sql(expr.left, refs), sql(expr.right, refs)
    if expr.op in ("and", "or"):
        return Sql(f"({left.text} {expr.op.upper()} {right.text})", "bool")
    if expr.op in _COMPARE:
        return Sql(f"({left.text} {_COMPARE[expr.op]} {right.text})", "bool")
    _number(left)
    _number(right)
    if expr.op in ("+", "-"):
        scale = max(left.scale, right.scale)
        return number_sql(f"({left.at(scale)} {expr.op} {right.at(scale)})", scale, max(left.digits, right.digits) + 1)
    if expr.op == "*":
        scale = left.scale + right.scale
        return number_sql(f"({left.text} * {right.text})", scale, left.digits + right.digits)
    raise NoSql("a quotient (the interpreter rounds it to 40 digits)")


def whole(value: str, scale: int) -> str:
    """A DECIMAL with at most `scale` decimal places as a HUGEINT count of 10^-scale (whole part and
    fraction apart: the fraction times 10^scale stays within DECIMAL(38) where the whole value may not).

    Past 19 places that product would not (its digits are counted at `scale` places twice over): the
    fraction's count is then read from its text, the digits after the point."""
    power = 10**scale
    whole = f"trunc(CAST({value} AS DECIMAL(38,{scale})))"
    if 2 * scale <= 38:
        fraction = f"((CAST({value} AS DECIMAL(38,{scale})) - {whole}) * CAST('{power}' AS DECIMAL(38,0)))"
    else:
        fraction = f"replace(CAST(CAST({value} AS DECIMAL(38,{scale})) - {whole} AS VARCHAR), '.', '')"
    return f"(CAST({whole} AS HUGEINT) * CAST('{power}' AS HUGEINT) + CAST({fraction} AS HUGEINT))"


def rounded(whole: str, divisor: str, digits: int, mode: str) -> tuple[str, str]:
    """`whole / divisor` (HUGEINTs, divisor > 0) rounded to a whole number in `mode`, read as a count of
    10^-digits: a DECIMAL(38, digits); and the condition that the exact quotient lies on the mode's edge."""
    q, r = f"(abs({whole}) // {divisor})", f"(abs({whole}) % {divisor})"
    up = {
        "half_up": f"2 * {r} >= {divisor}",
        "half_even": f"2 * {r} > {divisor} OR (2 * {r} = {divisor} AND {q} % 2 = 1)",
        "up": f"{r} > 0",
        "down": "FALSE",
    }[mode]
    edge = f"(2 * {r} = {divisor})" if mode.startswith("half") else f"({r} = 0)"
    units = f"(sign({whole}) * ({q} + CASE WHEN {up} THEN 1 ELSE 0 END))"
    return f"(CAST({units} AS DECIMAL(38,0)) * {number(Decimal(1).scaleb(-digits))})", edge


def power(places: int) -> str:
    return f"CAST('{10**places}' AS HUGEINT)"
