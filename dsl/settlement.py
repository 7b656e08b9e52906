"""Compile a settlement plan's lines, and refuse the keys that belong to the other kind of plan.

Lines are computed in order: each sees the lines above it (never itself or a
later one) besides metrics, `customer.*` and `period.*`; the plan names the
line that is the document's `total`.
"""

from __future__ import annotations

import difflib

from dsl import schema, tree
from dsl.checker import ERROR, Scope, Symbol
from dsl.context import Compiler, name_problem

# Keys one kind of plan has and the other ignores: written in the wrong kind they are errors,
# never silently left out of the document.
_ONLY_IN = {
    "settlement": {
        "charges": "a settlement plan lists `lines:`, not `charges:`",
        "discounts": "a settlement plan has no `discounts:`; write the deduction as a line and take it off the total line",
        "minimum": "a settlement plan has no `minimum:`; write it into the line, e.g. max(50_000 KRW, ...)",
        "taxes": "a settlement plan has no `taxes:`; compute the tax as a line "
        "(e.g. `vat: {value: revenue * 10%, rounding: down}`) and take it off the total line",
        "credits": "credits apply to invoices, not settlement statements",
    },
    "invoice": {
        "lines": "`lines:` belong to settlement plans (kind: settlement); invoices use `charges:`",
        "total": "`total:` names the total line of a settlement plan; an invoice's total is its subtotal plus taxes",
    },
}


def keys_of_the_other_kind(c: Compiler) -> None:
    for key, message in _ONLY_IN[c.model.kind].items():
        if getattr(c.model, key) not in (None, {}):
            c.fail(c.key_span(key), message)


def lines(c: Compiler, names: dict, usage_only: dict) -> tuple[tree.Line, ...]:
    model = c.model
    if model.kind == "invoice":
        return ()
    if not model.lines:
        c.fail(c.key_span("kind"), "a settlement plan needs `lines:`")
    visible = dict(names)
    later = {lid: f"line {lid!r} comes later; lines are computed in order" for lid in model.lines}
    out = []
    for lid, spec in model.lines.items():
        later.pop(lid, None)
        value_source = spec.value if isinstance(spec, schema.LineSpec) else spec
        path = ("lines", lid, "value") if isinstance(spec, schema.LineSpec) else ("lines", lid)
        scope = Scope(dict(visible), f"line {lid!r}", {**usage_only, **later, lid: "a line cannot use itself"})
        value, _ = c.expression(value_source, scope, path, ("money",), f"line {lid!r}")
        name = spec.name if isinstance(spec, schema.LineSpec) and spec.name else lid
        rounding = (spec.rounding if isinstance(spec, schema.LineSpec) else None) or model.rounding
        problem = name_problem(lid, "line")
        if problem:
            c.fail(c.key_span("lines", lid), problem, "name")
        included = spec.tax_included if isinstance(spec, schema.LineSpec) else None
        if included is not None and not 0 <= included <= 1:
            c.fail(c.span("lines", lid, "tax_included"), f"tax rate {included} is outside 0%..100%")
        if value is not None:
            out.append(tree.Line(lid, name, value, rounding, c.key_span("lines", lid), included))
        # A line with its own error stays a known name, so later lines add no second message.
        visible[lid] = Symbol("line", lid, value.type if value is not None else ERROR)
    if model.total is None:
        c.fail(c.key_span("kind"), "a settlement plan must name its `total:` line")
    elif model.total not in model.lines:
        close = difflib.get_close_matches(model.total, list(model.lines), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        c.fail(c.span("total"), f"total {model.total!r} is not one of the lines{hint}", "name")
    return tuple(out)
