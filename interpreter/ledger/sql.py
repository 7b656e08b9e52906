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
            return f"(CASE WHEN {to_sql(expr.test)} THEN {to_sql(expr.then)} ELSE {to_sql(expr.otherwise)} END)"
        case tree.Call():
            sql = BUILTINS[expr.function].sql
            if sql is not None:
                return sql([to_sql(a) for a in expr.args])
    raise ValueError(f"no SQL form for {type(expr).__name__}")  # the compiler refuses these first
