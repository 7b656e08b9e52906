"""Compile a plan's charges: what each one prices, its `when:` and its multiplier.

A charge prices an amount expression, a quantity, or the events of a usage
field, as its pricing model says (`dsl.pricing_models`, where each model's
own keys compile too). A charge sees metrics, `customer.*` and `period.*`;
a charge priced on events applies to a usage field of each row, filtered by
its own `where:` (a row expression, computed by the ledger engine). A charge
with `group_by:` is priced per group (`dsl.groups`).
"""

from __future__ import annotations

import difflib

from dsl import tree
from dsl.checker import Scope
from dsl.context import Compiler
from dsl.groups import compile_groups
from dsl.pricing_models import MODELS
from dsl.rows import row_problems
from dsl.schema_charges import PRICING_KEYS

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
            # a fixed amount is owed for the days of the period the customer subscribes, outside a trial
            prorate=spec.prorate or MODELS[spec.model].fixed,
            trial_free=spec.trial == "free" or (spec.trial is None and MODELS[spec.model].fixed),
            **_bounds(c, spec, path),
        )
        model = MODELS[spec.model]
        priced = all(getattr(spec, key, 0) is not None for key in PRICING_KEYS)  # else only its `prices:` do
        if priced:
            common.update(model.keys(c, spec, path))
        if model.priced_on == "amount":
            assert hasattr(spec, "amount")  # the schema class of a model priced on an amount has one
            amount, _ = c.expression(spec.amount, scope, (*path, "amount"), ("money",), f"the amount of {cid!r}")
            charge = tree.Charge(quantity=None, amount=amount, **common)
        elif model.priced_on == "events":
            charge = tree.Charge(quantity=None, **_events(c, spec, path, cid, row_names, by_field), **common)
        else:
            assert hasattr(spec, "on")  # and of one priced on a quantity, `on:`
            quantity, _ = c.expression(spec.on, scope, (*path, "on"), QUANTITY, f"the quantity of {cid!r}")
            _bounds_in_money(c, spec, path, quantity)
            charge = tree.Charge(quantity=quantity, **common)
        if spec.group_by is not None or spec.prices is not None:
            charge = compile_groups(c, spec, path, charge, by_field, scope, MODELS)
        out.append(charge)
    return tuple(out)


def _bounds(c: Compiler, spec, path: tuple) -> dict:
    """A charge's own `minimum:` and `maximum:`; a minimum above the maximum could never be billed."""
    if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
        c.fail(c.span(*path, "maximum"), f"maximum {spec.maximum} is below minimum {spec.minimum}")
    return {"minimum": spec.minimum, "maximum": spec.maximum}


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


def _events(c: Compiler, spec, path: tuple, cid: str, row_names: dict, by_field: dict) -> dict:
    """The usage field whose events a charge prices, and the rows it takes (its `where:`)."""
    field = by_field.get(spec.on)
    if field is None:
        close = difflib.get_close_matches(spec.on, list(by_field), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        c.fail(c.span(*path, "on"), f"{spec.on!r} is not a usage field{hint}", "name")
    elif field.type.kind not in ("money", "number", "integer"):
        c.fail(c.span(*path, "on"), f"a {spec.model} applies to a money field; {spec.on!r} is {field.type.kind}", "type")
    where, _ = c.expression(spec.where, Scope(row_names, f"the where of charge {cid!r}"), (*path, "where"), ("bool",), "a where condition")
    c.diagnostics.extend(row_problems(where, "a where condition"))
    c.row_filter(where)
    return {"field": spec.on, "where": where}
