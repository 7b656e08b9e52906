"""Semantic checks on a compiled plan: things that parse and type-check but look wrong.

Run by `ratecard check` after compiling. Most are warnings (the plan still
runs); a discount above 100% is an error. Each points at the line concerned.
The checks particular to a pricing model (a volume table whose amount drops,
a tier no whole quantity reaches) are in its registration, `dsl.pricing_models`.
Tier tables cannot overlap or leave gaps: each tier starts where the previous
one ends, and bounds that do not increase are compile errors already.
"""

from __future__ import annotations

import datetime
import operator
from decimal import Decimal

from dsl import tree
from dsl.errors import Diagnostic, error, warning
from dsl.pricing_models import MODELS, percent_text

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


def lint(plan: tree.Plan) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for charge in plan.charges:
        if charge.default:  # a charge whose own keys price nothing has nothing of its own to check
            out += MODELS[charge.model].lint(charge)
        for entry in charge.prices:  # each price entry is checked as the charge it makes
            out += MODELS[entry.charge.model].lint(entry.charge)
        if charge.when is not None and constant(charge.when) is False:
            out.append(warning(charge.when.span, f"charge {charge.id!r} is never charged: its `when` is always false", "never"))
    for discount in plan.discounts:
        out += _discount(plan, discount)
    for notice in plan.notices:
        if constant(notice.when) is False:
            out.append(warning(notice.when.span, f"notice {notice.id!r} is never shown: its `when` is always false", "never"))
    for tax in plan.taxes:
        if tax.when is not None and constant(tax.when) is False:
            out.append(warning(tax.when.span, f"tax {tax.id!r} never applies: its `when` is always false", "never"))
    return out


def constant(expr: tree.Expr | None):
    """The value of an expression that reads no name (None when it reads one or cannot be folded)."""
    if isinstance(expr, tree.Const):
        return expr.value
    if isinstance(expr, tree.Unary):
        value = constant(expr.operand)
        if value is None:
            return None
        return (not value) if expr.op == "not" else -value
    if isinstance(expr, tree.Binary):
        left, right = constant(expr.left), constant(expr.right)
        if expr.op == "and" and (left is False or right is False):
            return False
        if expr.op == "or" and (left is True or right is True):
            return True
        if left is None or right is None:
            return None
        if expr.op in ("and", "or"):
            return (left and right) if expr.op == "and" else (left or right)
        if expr.op in _ORDER and type(left) is type(right) and _comparable(left, right):
            return _ORDER[expr.op](left, right)
    return None


def _comparable(a, b) -> bool:
    kinds = (Decimal, datetime.date, str, bool)
    return any(isinstance(a, k) and isinstance(b, k) for k in kinds)


def _fixed_amount(charge: tree.Charge) -> Decimal | None:
    """What a charge always adds to the bill (None when it varies); memo lines add nothing."""
    if charge.memo:
        return Decimal(0)
    if not MODELS[charge.model].fixed or charge.when is not None:
        return None
    amount = constant(charge.amount)
    factor = Decimal(1) if charge.multiplier is None else constant(charge.multiplier)
    if not isinstance(amount, Decimal) or not isinstance(factor, Decimal):
        return None
    return amount * factor


def _discount(plan: tree.Plan, discount: tree.Discount) -> list[Diagnostic]:
    out = []
    if discount.when is not None and constant(discount.when) is False:
        out.append(warning(discount.when.span, f"discount {discount.id!r} never applies: its `when` is always false", "never"))
    if discount.percent is not None:
        value = constant(discount.percent)
        if isinstance(value, Decimal) and value > 1:
            out.append(
                error(
                    discount.percent.span,
                    f"discount {discount.id!r} takes {percent_text(value)} off: more than the charge itself",
                    "percent",
                )
            )
        elif isinstance(value, Decimal) and value < 0:
            out.append(
                error(
                    discount.percent.span,
                    f"discount {discount.id!r} is negative ({percent_text(value)}): use a charge to add money",
                    "percent",
                )
            )
    if discount.amount is not None and not discount.carry:  # carried, the rest is not lost
        value = constant(discount.amount)
        targets = [c for c in plan.charges if not discount.applies_to or c.id in discount.applies_to]
        fixed = [amount for amount in map(_fixed_amount, targets) if amount is not None]
        if isinstance(value, Decimal) and targets and len(fixed) == len(targets) and value > sum(fixed, Decimal(0)):
            out.append(
                warning(
                    discount.amount.span,
                    f"discount {discount.id!r} ({value:f}) is more than the charges it applies to ({sum(fixed, Decimal(0)):f}); it is capped at zero",
                    "exceeds",
                )
            )
    return out
