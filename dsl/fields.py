"""Compile the typed fields of a plan: usage fields (ledger columns) and customer attributes.

A field has a type, an optional default (read by that type, so a percent
default must carry its `%`) and, for text, an optional list of `values:`.
"""

from __future__ import annotations

from decimal import Decimal

from dsl import tree
from dsl.choices import nearest
from dsl.context import Compiler, name_problem
from dsl.types import Type, parse_type_name


def fields(c: Compiler, section: str, specs: dict, reserved: tuple[str, ...]) -> tuple[tree.Field, ...]:
    out = []
    for name, spec in specs.items():
        if name in reserved:
            c.fail(c.key_span(section, name), f"{name!r} is a built-in ledger column; choose another field name")
            continue
        if name.startswith("__"):
            c.fail(c.key_span(section, name), f"field names starting with '__' are reserved; rename {name!r}")
            continue
        problem = name_problem(name, "field")
        if problem:
            c.fail(c.key_span(section, name), problem)
            continue
        type_name = spec if isinstance(spec, str) else spec.type
        field_type = parse_type_name(type_name, c.currency)
        default = None if isinstance(spec, str) else spec.default
        values = None if isinstance(spec, str) or spec.values is None else tuple(spec.values)
        if values is not None and field_type.kind != "text":
            c.fail(c.span(section, name, "values"), "`values:` is only for text fields")
        elif values == ():
            refused = "every row would be rejected" if section == "usage" else "no customer could have it"
            c.fail(c.span(section, name, "values"), f"`values: []` allows no value: {refused}")
        if default is not None:
            default = _default(c, field_type, default, (section, name, "default"))
        if default is not None and values and default not in values:
            c.fail(c.span(section, name, "default"), f"default {default!r} is not one of {', '.join(values)}{nearest(default, values)}")
        out.append(tree.Field(name, field_type, default, values, c.key_span(section, name)))
    return tuple(out)


def _default(c: Compiler, field_type: Type, value, path: tuple):
    from dsl.values import ValueProblem, convert

    if field_type.kind == "percent" and isinstance(value, Decimal):
        # `default: 10` could mean 10% or 1000%; only the written form is clear.
        literal, scaled = (format(Decimal(v).normalize(), "f") for v in (value, value * 100))
        c.fail(c.span(*path), f"a percent default needs the % sign: write {literal}% or {scaled}%, whichever you mean")
        return None
    try:
        return convert(value, field_type)
    except ValueProblem as problem:
        c.fail(c.span(*path), f"default {problem}")
        return None
