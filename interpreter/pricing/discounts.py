"""The discount lines of an invoice, in plan order, and the discounts carried from period to period.

Each discount takes what earlier ones left of its charges and never more;
a fixed amount the charges cannot take is carried to the next document
(`carry: true`, opening at what the previous one left, `carried_in`) or
dropped with a notice saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl import tree
from dsl.pricing_models import Step
from dsl.rounding import CONTEXT, money_text, round_money
from interpreter.pricing.charge_lines import Line, Trace, arithmetic_failed
from interpreter.pricing.evaluate import evaluate

ZERO = Decimal(0)


@dataclass(frozen=True)
class CarriedLine:
    """A `carry: true` discount: what was carried in, granted this period, taken, and carried on."""

    id: str
    description: str
    opening: Decimal
    added: Decimal
    applied: Decimal
    closing: Decimal


def discount_lines(
    plan: tree.Plan, charges: list[Line], env: dict, trace: bool, carried_in: Mapping[str, Decimal]
) -> tuple[list[Line], list[CarriedLine], list[tuple[str, str]]]:
    """Discount lines in plan order, each on what earlier ones left of its charges.

    A fixed amount the charges cannot take is carried (`carry: true`: from
    `carried_in`, applied before this period's grant, even once `when` is
    false) or dropped with a notice saying so.
    """
    if not plan.discounts:
        return [], [], []
    remaining = {line.id: line.amount for line in charges if not line.memo}
    out, carried, notices = [], [], []
    for d in plan.discounts:
        try:
            granted = d.when is None or evaluate(d.when, env)
            opening = carried_in.get(d.id, ZERO) if d.carry else ZERO
            if not granted and not opening:
                continue
            targets = [line for cid in (d.applies_to or remaining) for line in remaining if line == cid or line.startswith(cid + "[")]
            if not targets:
                continue  # none of the charges it discounts is on this document
            base = sum((remaining[cid] for cid in targets), ZERO)
            roles: list[tuple[str, Any]] = [("when", d.when)] if d.when is not None else []
            if d.percent is not None:
                roles.append(("percent", d.percent))
                wanted = CONTEXT.multiply(base, evaluate(d.percent, env))
            else:
                assert d.amount is not None  # a discount has a percent or an amount (`dsl.discounts`)
                roles.append(("amount", d.amount))
                wanted = evaluate(d.amount, env) if granted else ZERO
            added = round_money(wanted, plan.minor_digits, plan.rounding)
            amount = max(min(opening + added, max(base, ZERO)), ZERO)
        except ArithmeticError as exc:
            raise arithmetic_failed(d.span, exc) from None
        left = amount
        for cid in targets:
            taken = min(left, max(remaining[cid], ZERO))
            remaining[cid] -= taken
            left -= taken
        if d.carry:
            carried.append(CarriedLine(d.id, d.name, opening, added, amount, opening + added - amount))
        elif added > amount:
            notices.append(unused_notice(plan, d, added, amount, base))
        how = None
        if trace:
            steps = (Step("discounted charges: " + ", ".join(targets), base, None, base),)
            how = Trace(d.span, "discount", tuple(roles), steps, wanted, plan.rounding)
        out.append(Line(d.id, d.name, None, -amount, how))
    return out, carried, notices


def unused_notice(plan: tree.Plan, d: tree.Discount, added: Decimal, amount: Decimal, base: Decimal) -> tuple[str, str]:
    """The notice of a discount larger than what it applies to, whose rest is not carried."""

    def money(value: Decimal) -> str:
        return money_text(value, plan.minor_digits)

    return (
        f"{d.id}.unused",
        f"{d.name}: {money(added - amount)} of the {money(added)} {plan.currency} discount is more than the charges "
        f"it applies to ({money(max(base, ZERO))} {plan.currency}) and is not carried to a later period.",
    )
