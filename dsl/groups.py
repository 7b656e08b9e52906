"""Grouped charges: `group_by:` and the price table `prices:`, checked and compiled.

A grouped charge is priced once per distinct value (or combination) of its
`group_by` usage fields. Each entry of `prices:` is compiled into a charge of
its own: the grouped charge with the entry's keys in place of its own (an
entry may name another model, as long as it prices the same thing: a
quantity, the events of a field, or an amount). A `match:` names group_by
fields and values of their type (one of `values:` for text); an entry every
group of which an earlier entry matches first can never price anything, and
`check` warns about it.
"""

from __future__ import annotations

import dataclasses
import difflib
from decimal import Decimal
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from dsl import schema_charges, tree
from dsl.checker import Scope
from dsl.choices import nearest
from dsl.context import Compiler
from dsl.errors import warning

GROUP_TYPES = ("text", "integer", "bool")
_CHARGE: TypeAdapter[Any] = TypeAdapter(cast(Any, schema_charges.Charge))  # an Annotated union, which mypy types unsteadily
# Keys every model shares, kept when an entry names another model than the charge's.
_SHARED = ("on", "where", "minimum", "maximum")
_NOT_PRICING = ("name", "description", "when", "rounding", "multiplier", "memo", "group_by", "prices")


def compile_groups(c: Compiler, spec: Any, path: tuple, charge: tree.Charge, by_field: dict, scope: Scope, models) -> tree.Charge:
    """`charge` with its group fields, its price table and whether its own keys price the groups no entry matches."""
    group_by = _group_fields(c, spec, path, by_field)
    default = all(getattr(spec, key, 0) is not None for key in schema_charges.PRICING_KEYS)
    entries = []
    for index, entry in enumerate(spec.prices or ()):
        here = (*path, "prices", index)
        match = _match(c, entry, here, group_by, by_field)
        priced = _entry_charge(c, spec, entry, here, charge, scope, models)
        if match is not None and priced is not None:
            entries.append(tree.PriceEntry(match, priced, c.span(*here)))
    if group_by and not spec.prices and not default:  # an empty price table and no price of its own
        c.fail(c.key_span(*path), f"charge {path[-1]!r} prices no group: give it a price or `prices:`")
    if spec.prices is not None and not group_by:
        c.fail(c.key_span(*path, "prices"), f"charge {path[-1]!r} has `prices:` but no `group_by:` to tell its groups apart")
    c.diagnostics.extend(_shadowed(path, entries))
    return dataclasses.replace(charge, group_by=tuple(group_by), prices=tuple(entries), default=default)


def _group_fields(c: Compiler, spec: Any, path: tuple, by_field: dict) -> list[str]:
    out: list[str] = []
    for index, name in enumerate(spec.group_by or ()):
        where = c.span(*path, "group_by", index)
        field = by_field.get(name)
        if field is None:
            close = difflib.get_close_matches(name, list(by_field), n=1, cutoff=0.6)
            c.fail(where, f"{name!r} is not a usage field" + (f"; did you mean {close[0]!r}?" if close else ""), "name")
        elif field.type.kind not in GROUP_TYPES:
            c.fail(where, f"a charge is grouped by text, integer or bool fields; {name!r} is {field.type.kind}", "type")
        elif name in out:
            c.fail(where, f"{name!r} is named twice in group_by")
        else:
            out.append(name)
    return out


def _match(c: Compiler, entry: schema_charges.PriceEntry, here: tuple, group_by: list[str], by_field: dict):
    """The entry's (field, typed value) pairs, or None when one is wrong (each reported at its key or value)."""
    out, ok = [], True
    for name, value in entry.match.items():
        if name not in group_by:
            close = difflib.get_close_matches(name, group_by, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            c.fail(
                c.key_span(*here, "match", name), f"{name!r} is not one of the group_by fields of this charge ({', '.join(group_by)}){hint}"
            )
            ok = False
            continue
        field = by_field[name]
        typed = _typed(field, value)
        if typed is None:
            shown = f"{value:f}" if isinstance(value, Decimal) else repr(value)
            c.fail(c.span(*here, "match", name), f"{shown} is not a value of {name!r}, which is {field.type.kind}", "type")
            ok = False
        elif field.values is not None and typed not in field.values:
            c.fail(c.span(*here, "match", name), f"{typed!r} is not one of the values of {name!r}{nearest(typed, field.values)}")
            ok = False
        else:
            out.append((name, typed))
    return tuple(out) if ok else None


def _typed(field: tree.Field, value: Any) -> Any:
    kind = field.type.kind
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "integer":
        whole = isinstance(value, (int, Decimal)) and not isinstance(value, bool) and Decimal(value) == Decimal(value).to_integral_value()
        return Decimal(value).quantize(Decimal(1)) if whole else None
    return value if isinstance(value, str) else None


def _entry_charge(c: Compiler, spec: Any, entry: schema_charges.PriceEntry, here: tuple, charge: tree.Charge, scope: Scope, models):
    """The charge that prices the groups this entry matches: the charge's keys, then the entry's."""
    own = spec.model_dump(exclude=set(_NOT_PRICING))
    model = entry.model or spec.model
    if model != spec.model:
        own = {key: value for key, value in own.items() if key in _SHARED}
    merged = {**{k: v for k, v in own.items() if v is not None}, **entry.model_dump(exclude_none=True, exclude={"match"}), "model": model}
    if models[model].priced_on != models[spec.model].priced_on:
        c.fail(c.span(*here, "model"), f"a {model} entry cannot price the groups of a {spec.model} charge: they price different things")
        return None
    try:
        merged_spec = _CHARGE.validate_python(merged)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"][1:]) or "its keys"
        missing = problem["type"] == "missing"
        c.fail(c.span(*here), f"this entry needs `{where}`" if missing else f"{where}: {problem['msg']}", "schema")
        return None
    keys = models[model].keys(c, merged_spec, here)
    if merged_spec.minimum is not None and merged_spec.maximum is not None and merged_spec.minimum > merged_spec.maximum:
        c.fail(c.span(*here, "maximum"), f"maximum {merged_spec.maximum} is below minimum {merged_spec.minimum}")
    amount = charge.amount
    if models[model].priced_on == "amount" and entry.amount is not None:
        amount, _ = c.expression(entry.amount, scope, (*here, "amount"), ("money",), f"the amount of {charge.id!r}")
    return dataclasses.replace(
        charge, model=model, amount=amount, span=c.span(*here), minimum=merged_spec.minimum, maximum=merged_spec.maximum, **keys
    )


def _shadowed(path: tuple, entries: list[tree.PriceEntry]) -> list:
    """A warning at each entry an earlier one matches whenever it would (its match holds the earlier one's)."""
    out = []
    for later_index, later in enumerate(entries):
        for earlier in entries[:later_index]:
            if set(earlier.match) <= set(later.match):
                what = "every group" if not earlier.match else "every group it matches"
                message = (
                    f"this price entry of {path[-1]!r} can never match: {what} is matched first by the entry at line {earlier.span.line}"
                )
                out.append(warning(later.span, message, "unreachable"))
                break
    return out


def line_id(charge_id: str, values: tuple[Any, ...]) -> str:
    """`charge[value]`, `charge[v1,v2]`: a group's line id, values in `group_by` order."""
    return f"{charge_id}[{','.join(value_text(v) for v in values)}]"


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)
