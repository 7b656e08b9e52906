"""Compile a plan's charges: each pricing model's keys, its quantity and its tiers.

A charge sees metrics, `customer.*` and `period.*`; a percentage charge
applies to a usage field of each row, filtered by its own `where:` (a row
expression, computed by the ledger engine).
"""

from __future__ import annotations

import difflib

from dsl import schema, tree
from dsl.checker import Scope
from dsl.context import Compiler
from dsl.rows import row_problems
from dsl.tiers import compile_tiers

QUANTITY = ("money", "number", "integer", "percent")


def charges(c: Compiler, names: dict, row_names: dict, usage_only: dict, fields) -> tuple[tree.Charge, ...]:
    out = []
    by_field = {f.name: f for f in fields}
    for cid, spec in c.model.charges.items():
        path = ("charges", cid)
        scope = Scope(names, f"charge {cid!r}", usage_only)
        when, _ = c.expression(spec.when, scope, (*path, "when"), ("bool",), "`when`")
        multiplier, _ = c.expression(spec.multiplier, scope, (*path, "multiplier"), ("number", "integer", "percent"), "a multiplier")
        common = dict(
            id=cid,
            name=spec.name or cid,
            model=spec.model,
            when=when,
            rounding=spec.rounding or c.model.rounding,
            span=c.key_span(*path),
            multiplier=multiplier,
            memo=spec.memo,
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
            out.append(
                tree.Charge(
                    quantity=quantity,
                    package_size=spec.package_size,
                    package_price=spec.package_price,
                    free_units=spec.free_units,
                    **common,
                )
            )
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
    where, _ = c.expression(
        spec.where, Scope(row_names, f"the where of charge {common['id']!r}"), (*path, "where"), ("bool",), "a where condition"
    )
    c.diagnostics.extend(row_problems(where, "a where condition"))
    c.row_filter(where)
    if spec.min_fee is not None and spec.max_fee is not None and spec.min_fee > spec.max_fee:
        c.fail(c.span(*path, "max_fee"), f"max_fee {spec.max_fee} is below min_fee {spec.min_fee}")
    return tree.Charge(
        quantity=None,
        field=spec.on,
        where=where,
        rate=spec.rate,
        fixed_fee=spec.fixed_fee,
        min_fee=spec.min_fee,
        max_fee=spec.max_fee,
        **common,
    )
