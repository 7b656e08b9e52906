"""Compile what an invoice adds to its charges (discounts, taxes, credits) and the notices of any document.

Each part sees metrics, `customer.*` and `period.*`, never a usage field.
Every charge, discount, tax, credit and settlement line becomes a document
line, so their ids must all differ (`unique_ids`).
"""

from __future__ import annotations

import difflib

from dsl import tree
from dsl.checker import Scope
from dsl.context import RESERVED_LINES, Compiler


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
            c.fail(
                c.span(*path, "carry"),
                f"discount {did!r}: `carry` carries what is left of a fixed `amount`; a percent discount has nothing to carry",
            )
        for index, target in enumerate(spec.applies_to or []):
            if target not in charge_ids:
                close = difflib.get_close_matches(target, charge_ids, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                c.fail(c.span(*path, "applies_to", index), f"discount {did!r} applies to unknown charge {target!r}{hint}", "name")
        out.append(tree.Discount(did, spec.name or did, percent, amount, tuple(spec.applies_to or ()), when, c.key_span(*path), spec.carry))
    return tuple(out)


def taxes(c: Compiler, names: dict, usage_only: dict) -> tuple[tree.Tax, ...]:
    out = []
    for tid, spec in c.model.taxes.items():
        scope = Scope(names, f"tax {tid!r}", usage_only)
        when, _ = c.expression(spec.when, scope, ("taxes", tid, "when"), ("bool",), "`when`")
        if not 0 <= spec.rate <= 1:
            c.fail(c.span("taxes", tid, "rate"), f"tax rate {spec.rate} is outside 0%..100%")
        out.append(
            tree.Tax(tid, spec.name or tid, spec.rate, spec.rounding or c.model.rounding, c.key_span("taxes", tid), when, spec.included)
        )
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


def unique_ids(c: Compiler, charge_list, discount_list, tax_list, line_list, credit_list=()) -> None:
    """Charge, discount, tax and line ids all become document line ids: they must differ."""
    seen: dict[str, str] = {}
    for section, items in (
        ("charges", charge_list),
        ("discounts", discount_list),
        ("taxes", tax_list),
        ("lines", line_list),
        ("credits", credit_list),
    ):
        for item in items:
            if item.id in RESERVED_LINES:
                c.fail(item.span, f"{item.id!r} is a reserved document line id; choose another")
            elif item.id in seen and seen[item.id] != section:
                c.fail(item.span, f"id {item.id!r} is already used in {seen[item.id]}; document line ids must be unique")
            seen.setdefault(item.id, section)
