"""Pricing models: a quantity (or event aggregates) in, an unrounded amount out.

Pure Decimal functions, one per model, each returning the steps it took so
that `explain` can show which tiers were used and how much fell in each.
Negative quantities (refunds above sales) are priced as zero units; a first
tier's flat amount is still charged, since quantity 0 reaches the first tier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import partial

from dsl import tree
from interpreter.rounding import CONTEXT, text

ZERO = Decimal(0)


@dataclass(frozen=True)
class Step:
    """One part of a computed amount, for the audit trail.

    `label` may be a function giving the text, so that pricing a million
    documents does not format labels nobody reads; `explain` calls it.
    """

    label: str | Callable[[], str]
    quantity: Decimal | None
    price: Decimal | None
    amount: Decimal

    @property
    def text(self) -> str:
        return self.label() if callable(self.label) else self.label


@dataclass(frozen=True)
class Priced:
    amount: Decimal
    steps: tuple[Step, ...]


def _tier_label(index: int, tier: tree.Tier) -> str:
    if tier.bound is None:
        bound = "and above"
    else:
        bound = f"up to {text(tier.bound)}" if tier.inclusive else f"below {text(tier.bound)}"
    flat = f", flat {text(tier.flat)}" if tier.flat else ""
    return f"tier {index} ({bound}{flat})"


def _free_label(free: Decimal) -> str:
    return f"{text(free)} free units"


def _package_label(charge: tree.Charge) -> str:
    free = f" after {text(charge.free_units)} free units" if charge.free_units else ""
    return f"packages of {text(charge.package_size)}{free}"


def _percentage_label(count: Decimal, charge: tree.Charge) -> str:
    return f"{text(count)} events at {text(charge.rate * 100)}% + {text(charge.fixed_fee)}"


def per_unit(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    billable = max(quantity - charge.free_units, ZERO)
    amount = CONTEXT.multiply(billable, charge.unit_price)
    if not trace:
        return Priced(amount, ())
    steps = []
    if charge.free_units:
        steps.append(Step(partial(_free_label, charge.free_units), min(max(quantity, ZERO), charge.free_units), ZERO, ZERO))
    steps.append(Step("units", billable, charge.unit_price, amount))
    return Priced(amount, tuple(steps))


def graduated(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    steps, total = [], ZERO
    lower, previous = ZERO, None
    for index, tier in enumerate(charge.tiers, 1):
        if previous is not None and previous.holds(quantity):
            break
        upper = quantity if tier.bound is None else min(quantity, tier.bound)
        portion = max(upper - lower, ZERO)
        amount = CONTEXT.multiply(portion, tier.unit_price) + tier.flat
        total += amount
        if trace:
            steps.append(Step(partial(_tier_label, index, tier), portion, tier.unit_price, amount))
        if tier.bound is None:
            break
        lower, previous = max(lower, tier.bound), tier
    return Priced(total, tuple(steps))


def volume(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    for index, tier in enumerate(charge.tiers, 1):
        if tier.holds(quantity):
            billable = max(quantity, ZERO)
            amount = CONTEXT.multiply(billable, tier.unit_price) + tier.flat
            steps = (Step(partial(_tier_label, index, tier), billable, tier.unit_price, amount),) if trace else ()
            return Priced(amount, steps)
    return Priced(ZERO, ())  # pragma: no cover - the compiler makes the last tier open


def package(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    billable = max(quantity - charge.free_units, ZERO)
    packages = CONTEXT.divide(billable, charge.package_size).to_integral_value(rounding=ROUND_CEILING)
    amount = CONTEXT.multiply(packages, charge.package_price)
    steps = (Step(partial(_package_label, charge), packages, charge.package_price, amount),) if trace else ()
    return Priced(amount, steps)


def percentage(values: dict, charge: tree.Charge, trace: bool = False) -> Priced:
    """Sum of per-event fees from the counts and sums stage 1 computed."""
    low = Decimal(values.get(f"{charge.id}.__low", 0))
    high = Decimal(values.get(f"{charge.id}.__high", 0))
    count = Decimal(values.get(f"{charge.id}.__count", 0))
    summed = values.get(f"{charge.id}.__sum", ZERO)
    steps = []
    middle = CONTEXT.multiply(summed, charge.rate) + CONTEXT.multiply(count, charge.fixed_fee)
    if trace:
        steps.append(Step(partial(_percentage_label, count, charge), summed, charge.rate, middle))
    total = middle
    if charge.min_fee is not None and low:
        amount = CONTEXT.multiply(low, charge.min_fee)
        if trace:
            steps.append(Step("events raised to the minimum fee", low, charge.min_fee, amount))
        total += amount
    if charge.max_fee is not None and high:
        amount = CONTEXT.multiply(high, charge.max_fee)
        if trace:
            steps.append(Step("events capped at the maximum fee", high, charge.max_fee, amount))
        total += amount
    return Priced(total, tuple(steps))


QUANTITY_MODELS = {"per_unit": per_unit, "graduated": graduated, "volume": volume, "package": package}
