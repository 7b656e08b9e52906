"""Customer attributes for documents priced in SQL: a table of each customer's typed values.

The interpreter types a customer's attributes when it builds their document
(`pricing.customers.attributes`: defaults filled in, a value outside its
`values:` or of the wrong type refused). The same function types them here,
once per customer of the customers file, into the temporary table
`__customer_attributes`, each value as exact text cast to its SQL type. A
customer it refuses is marked, and their documents are left to the
interpreter, which refuses them with the same message; a customer not in
the file takes the defaults, or is the interpreter's when a field has none.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl import tree
from interpreter.ledger.priced_expressions import Sql, constant, digits_of, scale_of
from interpreter.pricing.customers import CustomerProblem, attributes

TABLE = "__customer_attributes"
_GUESS = 4  # whole digits assumed of a number before the customers are known (`priced.unsupported`): a rate, a price


@dataclass(frozen=True)
class Attributes:
    """The attributes of `plan`'s customers: their table is joined to the rows by `__customer` (`join`)."""

    plan: tree.Plan
    values: Mapping[str, Mapping[str, Any]]  # customer -> typed values (those the interpreter accepts)
    known: bool = True  # False before the customers are read: their numbers' digits are guessed

    def ref(self, name: str) -> Sql:
        index, f = next((i, f) for i, f in enumerate(self.plan.customer) if f.name == name)
        column = f"__a{index}"
        given = [v[name] for v in self.values.values()] + ([f.default] if f.default is not None else [])
        kind = f.type.kind
        if kind in ("text", "bool", "date"):
            value = column if f.default is None else f"coalesce({column}, {_literal(f.default)})"
            return Sql(value, kind)
        scale = max((scale_of(v) for v in given), default=0)
        digits = max((digits_of(v) for v in given), default=0) if self.known else _GUESS
        # each cast before coalesce(): it types DECIMAL(38) values of several scales as one of them
        value = f"CAST({column} AS DECIMAL(38,{scale}))"
        if f.default is not None:
            value = f"coalesce({value}, CAST({constant(f.default).text} AS DECIMAL(38,{scale})))"
        return Sql(value, "number", scale, digits)

    def guard(self) -> str:
        """The SQL that a row's customer has the attributes the interpreter would give them."""
        absent = "TRUE" if all(f.default is not None for f in self.plan.customer) else "FALSE"
        return f"coalesce(__ok, {absent})"

    def join(self) -> str:
        return f"LEFT JOIN {TABLE} AS ca ON g.__customer = ca.__customer"


def _literal(value: Any) -> str:
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    return constant(value).text


def load(con, plan: tree.Plan, records: Mapping[str, dict[str, Any]]) -> Attributes:
    """The table of the customers' typed attributes on `con`, and how to read it."""
    typed: dict[str, dict[str, Any]] = {}
    refused: list[str] = []
    for customer in records:
        try:
            typed[customer] = attributes(plan, customer, records)
        except CustomerProblem:
            refused.append(customer)
    columns = {"customers": list(typed) + refused, "ok": [True] * len(typed) + [False] * len(refused)}
    selects = ["unnest($customers) AS __customer", "unnest($ok) AS __ok"]
    for index, f in enumerate(plan.customer):
        columns[f"a{index}"] = [_text(typed[c][f.name]) for c in typed] + [None] * len(refused)
        selects.append(f"CAST(unnest(CAST($a{index} AS VARCHAR[])) AS {_sql_type(f.type.kind)}) AS __a{index}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT {', '.join(selects)}", columns)
    return Attributes(plan, typed)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _sql_type(kind: str) -> str:
    return {"text": "VARCHAR", "bool": "BOOLEAN", "date": "DATE"}.get(kind, "DECIMAL(38,10)")
