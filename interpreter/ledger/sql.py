"""SQL text: names and values quoted, and row expressions (`where:`, `require:`) in DuckDB's dialect.

Every name from a plan or a ledger reaches SQL through `ident`, every value
through `literal`. Numbers go in as exact DECIMAL literals, never as floating point; the
compiler has already refused division and functions without an exact SQL
form (see `dsl.rows`); those forms are entries of `dsl.builtins`. Column names
are quoted identifiers.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from dsl import tree
from dsl.builtins import BUILTINS

_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "+": "+", "-": "-", "*": "*", "and": "AND", "or": "OR"}


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def trimmed(text: str) -> str:
    """`trim(text)`, called only where there is a space to remove: most cells have none,
    and a value left as it is keeps DuckDB's dictionary encoding from Parquet."""
    return f"(CASE WHEN {text} LIKE ' %' OR {text} LIKE '% ' THEN trim({text}) ELSE {text} END)"


def literal(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return decimal_literal(value)
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def decimal_literal(value: Decimal) -> str:
    text = format(value, "f")
    digits = value.as_tuple()
    scale = max(0, -digits.exponent) if isinstance(digits.exponent, int) else 0
    width = min(38, max(scale + 1, len(text.replace("-", "").replace(".", ""))) + 1)
    return f"CAST('{text}' AS DECIMAL({max(width, scale + 1)},{scale}))"


_NUMBERS = ("number", "integer", "percent", "money")


def _places(expr: tree.Expr) -> int:
    """The most decimal places a number of a row expression can have (a ledger's value has at most 10)."""
    match expr:
        case tree.Const():
            exponent = expr.value.as_tuple().exponent if isinstance(expr.value, Decimal) else 0
            return max(0, -exponent) if isinstance(exponent, int) else 0
        case tree.Ref():
            return 0 if expr.type.kind == "integer" else 10
        case tree.Unary():
            return _places(expr.operand)
        case tree.Binary():
            places = [_places(expr.left), _places(expr.right)]
            return sum(places) if expr.op == "*" else max(places)
        case tree.Cond():
            return max(_places(expr.then), _places(expr.otherwise))
        case tree.Call():
            return max((_places(a) for a in expr.args), default=0)
    return 10


def _one_scale(exprs: list[tree.Expr]) -> list[str]:
    """The SQL of values one CASE, least() or greatest() chooses among. DuckDB types those as one of
    their DECIMAL(38) types and drops the others' extra places (0.000000000105 became 0.0000000001):
    numbers are cast to the places the widest can have."""
    if not all(e.type.kind in _NUMBERS for e in exprs):
        return [to_sql(e) for e in exprs]
    places = min(max(_places(e) for e in exprs), 37)
    return [f"CAST({to_sql(e)} AS DECIMAL(38,{places}))" for e in exprs]


def to_sql(expr: tree.Expr) -> str:
    """A row expression in DuckDB's dialect (built once per query, so `match` costs nothing here)."""
    match expr:
        case tree.Const():
            return literal(expr.value)
        case tree.Ref():
            return ident(expr.name)
        case tree.Unary():
            inner = to_sql(expr.operand)
            return f"(NOT {inner})" if expr.op == "not" else f"(-{inner})"
        case tree.Binary():
            return f"({to_sql(expr.left)} {_OPS[expr.op]} {to_sql(expr.right)})"
        case tree.In():
            options = ", ".join(to_sql(o) for o in expr.options)
            return f"({to_sql(expr.operand)} {'NOT IN' if expr.negated else 'IN'} ({options}))"
        case tree.Cond():
            then, otherwise = _one_scale([expr.then, expr.otherwise])
            return f"(CASE WHEN {to_sql(expr.test)} THEN {then} ELSE {otherwise} END)"
        case tree.Call():
            sql = BUILTINS[expr.function].sql
            if sql is not None:
                return sql(_one_scale(list(expr.args)) if expr.function in ("min", "max") else [to_sql(a) for a in expr.args])
    raise ValueError(f"no SQL form for {type(expr).__name__}")  # the compiler refuses these first
