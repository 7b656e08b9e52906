"""Compile the money side of a plan: charges, discounts, notices, formulas, lines.

Each part is checked against the names it may use: charges and discounts see
metrics, `customer.*` and `period.*`; settlement lines also see the lines
above them; formulas see only their declared inputs.
"""

from __future__ import annotations

import difflib

from dsl import schema, tree
from dsl.checker import ERROR, Scope, Symbol
from dsl.context import RESERVED_LINES, Compiler, name_problem
from dsl.rows import row_problems
from dsl.tiers import compile_tiers
from dsl.types import parse_type_name

QUANTITY = ("money", "number", "integer", "percent")


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


def charges(c: Compiler, names: dict, row_names: dict, usage_only: dict, fields) -> tuple[tree.Charge, ...]:
    out = []
    by_field = {f.name: f for f in fields}
    for cid, spec in c.model.charges.items():
        path = ("charges", cid)
        scope = Scope(names, f"charge {cid!r}", usage_only)
        when, _ = c.expression(spec.when, scope, (*path, "when"), ("bool",), "`when`")
        multiplier, _ = c.expression(spec.multiplier, scope, (*path, "multiplier"), ("number", "integer", "percent"), "a multiplier")
        common = dict(
            id=cid, name=spec.name or cid, model=spec.model, when=when,
            rounding=spec.rounding or c.model.rounding, span=c.key_span(*path),
            multiplier=multiplier, memo=spec.memo,
        )
        if isinstance(spec, (schema.FlatCharge, schema.FormulaCharge)):
            amount, _ = c.expression(spec.amount, scope, (*path, "amount"), ("money",), f"the amount of {cid!r}")
            out.append(tree.Charge(quantity=None, amount=amount, **common))
            continue
        if isinstance(spec, schema.PercentageCharge):
            out.append(_percentage(c, spec, path, common, row_names, by_field))
            continue
        quantity, _ = c.expression(spec.on, scope, (*path, "on"), QUANTITY, f"the quantity of {cid!r}")
        _bounds_in_money(c, spec, path, quantity)
        if isinstance(spec, schema.PerUnitCharge):
            out.append(tree.Charge(quantity=quantity, unit_price=spec.unit_price, free_units=spec.free_units, **common))
        elif isinstance(spec, schema.TieredCharge):
            tiers = compile_tiers(c, spec.tiers, (*path, "tiers"))
            out.append(tree.Charge(quantity=quantity, tiers=tiers, allow_decrease=spec.allow_decrease, **common))
        elif isinstance(spec, schema.PackageCharge):
            if spec.package_size <= 0:
                c.fail(c.span(*path, "package_size"), "package_size must be above zero")
            out.append(tree.Charge(
                quantity=quantity, package_size=spec.package_size, package_price=spec.package_price,
                free_units=spec.free_units, **common,
            ))
    return tuple(out)


def _bounds_in_money(c: Compiler, spec, path: tuple, quantity: tree.Expr | None) -> None:
    """A tier bound or free units written in money need a quantity that is money."""
    if quantity is None or quantity.type.kind in ("money", "error"):
        return
    places = [(*path, "free_units")]
    for index, _ in enumerate(getattr(spec, "tiers", ())):
        places += [(*path, "tiers", index, "up_to"), (*path, "tiers", index, "below")]
    for place in places:
        if c.in_currency(*place):
            what = "these free units" if place[-1] == "free_units" else "this bound"
            c.fail(c.span(*place), f"the quantity of {path[-1]!r} is {quantity.type.kind}, not money: write {what} without a currency")


def _percentage(c: Compiler, spec: schema.PercentageCharge, path: tuple, common: dict, row_names: dict, by_field: dict):
    field = by_field.get(spec.on)
    if field is None:
        close = difflib.get_close_matches(spec.on, list(by_field), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        c.fail(c.span(*path, "on"), f"{spec.on!r} is not a usage field{hint}", "name")
    elif field.type.kind not in ("money", "number", "integer"):
        c.fail(c.span(*path, "on"), f"a percentage applies to a money field; {spec.on!r} is {field.type.kind}", "type")
    where, _ = c.expression(spec.where, Scope(row_names, f"the where of charge {common['id']!r}"), (*path, "where"), ("bool",), "a where condition")
    c.diagnostics.extend(row_problems(where, "a where condition"))
    c.row_filter(where)
    if spec.min_fee is not None and spec.max_fee is not None and spec.min_fee > spec.max_fee:
        c.fail(c.span(*path, "max_fee"), f"max_fee {spec.max_fee} is below min_fee {spec.min_fee}")
    return tree.Charge(
        quantity=None, field=spec.on, where=where, rate=spec.rate, fixed_fee=spec.fixed_fee,
        min_fee=spec.min_fee, max_fee=spec.max_fee, **common,
    )


def discounts(c: Compiler, names: dict, usage_only: dict, charge_list) -> tuple[tree.Discount, ...]:
    out = []
    charge_ids = [ch.id for ch in charge_list] or list(c.model.charges)
    for did, spec in c.model.discounts.items():
        path = ("discounts", did)
        scope = Scope(names, f"discount {did!r}", usage_only)
        if (spec.percent is None) == (spec.amount is None):
            c.fail(c.key_span(*path), f"discount {did!r} needs exactly one of `percent` or `amount`")
        percent, _ = c.expression(spec.percent, scope, (*path, "percent"), ("percent", "number", "integer"), "a discount percent")
        amount, _ = c.expression(spec.amount, scope, (*path, "amount"), ("money",), "a discount amount")
        when, _ = c.expression(spec.when, scope, (*path, "when"), ("bool",), "`when`")
        if spec.carry and spec.percent is not None:
            c.fail(c.span(*path, "carry"), f"discount {did!r}: `carry` carries what is left of a fixed `amount`; a percent discount has nothing to carry")
        for index, target in enumerate(spec.applies_to or []):
            if target not in charge_ids:
                close = difflib.get_close_matches(target, charge_ids, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                c.fail(c.span(*path, "applies_to", index), f"discount {did!r} applies to unknown charge {target!r}{hint}", "name")
        out.append(tree.Discount(did, spec.name or did, percent, amount, tuple(spec.applies_to or ()), when, c.key_span(*path),
                                 spec.carry))
    return tuple(out)


def taxes(c: Compiler, names: dict, usage_only: dict) -> tuple[tree.Tax, ...]:
    out = []
    for tid, spec in c.model.taxes.items():
        scope = Scope(names, f"tax {tid!r}", usage_only)
        when, _ = c.expression(spec.when, scope, ("taxes", tid, "when"), ("bool",), "`when`")
        if not 0 <= spec.rate <= 1:
            c.fail(c.span("taxes", tid, "rate"), f"tax rate {spec.rate} is outside 0%..100%")
        out.append(tree.Tax(tid, spec.name or tid, spec.rate, spec.rounding or c.model.rounding, c.key_span("taxes", tid), when))
    return tuple(out)


def credits(c: Compiler, names: dict, usage_only: dict) -> tuple[tree.Credit, ...]:
    out = []
    for cid, spec in c.model.credits.items():
        scope = Scope(names, f"credit {cid!r}", usage_only)
        balance, _ = c.expression(spec.balance, scope, ("credits", cid, "balance"), ("money",), "a credit balance")
        when, _ = c.expression(spec.when, scope, ("credits", cid, "when"), ("bool",), "`when`")
        if balance is not None:
            out.append(tree.Credit(cid, spec.name or cid, balance, when, c.key_span("credits", cid)))
    return tuple(out)


def notices(c: Compiler, names: dict, usage_only: dict) -> tuple[tree.Notice, ...]:
    out = []
    for nid, spec in c.model.notices.items():
        scope = Scope(names, f"notice {nid!r}", usage_only)
        when, _ = c.expression(spec.when, scope, ("notices", nid, "when"), ("bool",), "`when`")
        if when is not None:
            out.append(tree.Notice(nid, when, spec.message, c.key_span("notices", nid)))
    return tuple(out)


def formulas(c: Compiler) -> tuple[tree.Formula, ...]:
    out = []
    for name, spec in c.model.formulas.items():
        inputs = tuple((iname, parse_type_name(tname, c.currency)) for iname, tname in spec.inputs.items())
        for iname, _ in inputs:
            problem = name_problem(iname, "input")
            if problem:
                c.fail(c.key_span("formulas", name, "inputs", iname), problem, "name")
        names = {iname: Symbol("input", iname, t) for iname, t in inputs}
        scope = Scope(names, f"formula {name!r} (it sees only its inputs)")
        value, _ = c.expression(spec.value, scope, ("formulas", name, "value"))
        if value is not None:
            out.append(tree.Formula(name, inputs, value, spec.rounding or c.model.rounding, c.key_span("formulas", name)))
    return tuple(out)


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
        if value is not None:
            out.append(tree.Line(lid, name, value, rounding, c.key_span("lines", lid)))
        # A line with its own error stays a known name, so later lines add no second message.
        visible[lid] = Symbol("line", lid, value.type if value is not None else ERROR)
    if model.total is None:
        c.fail(c.key_span("kind"), "a settlement plan must name its `total:` line")
    elif model.total not in model.lines:
        close = difflib.get_close_matches(model.total, list(model.lines), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        c.fail(c.span("total"), f"total {model.total!r} is not one of the lines{hint}", "name")
    return tuple(out)


def unique_ids(c: Compiler, charge_list, discount_list, tax_list, line_list, credit_list=()) -> None:
    """Charge, discount, tax and line ids all become document line ids: they must differ."""
    seen: dict[str, str] = {}
    for section, items in (("charges", charge_list), ("discounts", discount_list), ("taxes", tax_list), ("lines", line_list), ("credits", credit_list)):
        for item in items:
            if item.id in RESERVED_LINES:
                c.fail(item.span, f"{item.id!r} is a reserved document line id; choose another")
            elif item.id in seen and seen[item.id] != section:
                c.fail(item.span, f"id {item.id!r} is already used in {seen[item.id]}; document line ids must be unique")
            seen.setdefault(item.id, section)
