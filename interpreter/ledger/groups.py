"""Stage 1 of grouped charges: the facts of each group in the same pass, and rows no price matches.

The aggregate query groups by GROUPING SETS: one set for the customer and
period (the document's facts) and one per distinct set of `group_by` fields,
so every group's metrics come from the one scan of the ledger. Each row of
the result says which set it belongs to in `__set` (a mask of the group
fields it is not grouped by, from `GROUPING()`), and carries the group's
values as text in `__g0`, `__g1`, ... (text, so that rows of every set and
every plan version share one column type); `group_of` types them again.

A row of a grouped charge that no price entry matches, where the charge
prices no group by default, is a rejected row (`price_rules`), never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dsl import tree
from interpreter.ledger.sql import ident, literal

SET = "__set"


def group_fields(plan: tree.Plan) -> list[str]:
    """Every usage field some charge groups by, in plan order: `__g<i>` holds the i-th."""
    out: list[str] = []
    for charge in plan.charges:
        out += [name for name in charge.group_by if name not in out]
    return out


def group_sets(plan: tree.Plan) -> list[frozenset[str]]:
    """The distinct sets of group fields (charges grouped by the same fields in another order share one)."""
    out: list[frozenset[str]] = []
    for charge in plan.charges:
        fields = frozenset(charge.group_by)
        if fields and fields not in out:
            out.append(fields)
    return out


def _mask(fields: list[str], grouped: frozenset[str]) -> int:
    return sum(1 << index for index, name in enumerate(fields) if name not in grouped)


def base_mask(plan: tree.Plan) -> int:
    """`__set` of the rows of whole documents (grouped by none of the group fields)."""
    return _mask(group_fields(plan), frozenset())


def select_sql(plan: tree.Plan) -> str:
    """The group values and `__set`, as columns of the aggregate query ('' for a plan without groups)."""
    fields = group_fields(plan)
    if not fields:
        return ""
    values = [f"CAST(e.{ident(name)} AS VARCHAR) AS {ident(f'__g{i}')}" for i, name in enumerate(fields)]
    mask = " + ".join(f"GROUPING(e.{ident(name)}) * {1 << i}" for i, name in enumerate(fields))
    return ", " + ", ".join([*values, f"({mask}) AS {SET}"])


def group_by_sql(plan: tree.Plan, keys: str) -> str:
    """The GROUP BY clause: by `keys` alone, and by `keys` with each set of group fields."""
    sets = group_sets(plan)
    if not sets:
        return f"GROUP BY {keys}"
    fields = group_fields(plan)
    grouped = [f"({keys})"] + [f"({keys}, {', '.join(f'e.{ident(n)}' for n in fields if n in s)})" for s in sets]
    return f"GROUP BY GROUPING SETS ({', '.join(grouped)})"


def group_of(plan: tree.Plan, record: dict[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    """The (field, typed value) pairs of a group row of the aggregate query; None for a document's row."""
    mask = record.get(SET)
    if mask is None:
        return None
    fields = group_fields(plan)
    if int(mask) == _mask(fields, frozenset()):
        return None
    kinds = {f.name: f.type.kind for f in plan.fields}
    out = []
    for index, name in enumerate(fields):
        if not int(mask) & (1 << index):
            out.append((name, _typed(kinds[name], record[f"__g{index}"])))
    return tuple(out)


def _typed(kind: str, text: str) -> Any:
    if kind == "bool":
        return text.lower() == "true"
    if kind == "integer":
        return Decimal(text)
    return text


def per_entry(charge: tree.Charge, sql_of: Callable[[tree.Charge], str]) -> str:
    """SQL of a row's value under the price entry its group matches (`sql_of` each entry's charge);
    `sql_of(charge)` itself for a charge without entries. A row no entry prices gets NULL (it is rejected)."""
    if not charge.prices:
        return sql_of(charge)
    cases = []
    for entry in charge.prices:
        test = " AND ".join(f"(e.{ident(n)} = {literal(v)})" for n, v in entry.match) or "TRUE"
        cases.append(f"WHEN {test} THEN ({sql_of(entry.charge)})")
    otherwise = f"({sql_of(charge)})" if charge.default else "NULL"
    return f"(CASE {' '.join(cases)} ELSE {otherwise} END)"


def price_rules(plan: tree.Plan) -> list[str]:
    """SQL giving the reason of a row that a grouped charge cannot price (NULL when it can), per such charge."""
    out = []
    for charge in plan.charges:
        if not charge.group_by or charge.default:
            continue
        matches = [" AND ".join(f"({ident(n)} = {literal(v)})" for n, v in entry.match) or "TRUE" for entry in charge.prices]
        found = " OR ".join(f"({m})" for m in matches) or "FALSE"
        parts = [literal(f"no price for {charge.group_by[0]}=")]
        for index, name in enumerate(charge.group_by):
            if index:
                parts.append(literal(f", {name}="))
            parts.append(f"lower(CAST({ident(name)} AS VARCHAR))" if _is_bool(plan, name) else f"CAST({ident(name)} AS VARCHAR)")
        out.append(f"CASE WHEN NOT ({found}) THEN {' || '.join(parts)} END")
    return out


def _is_bool(plan: tree.Plan, name: str) -> bool:
    return any(f.name == name and f.type.kind == "bool" for f in plan.fields)
