"""The pricing models a charge may name: one registration per model, in `MODELS`.

A registration holds all that is particular to a model: what it prices (an
amount expression, a quantity, or each event of the ledger as summed by
stage 1), how its own keys compile into the evaluation tree, its pricing as
a pure Decimal function returning the steps it took (the trace `explain`
and invoices show), the checks `ratecard check` makes on its charges, and
its SQL form (`dsl.pricing_sql`: the same amount in exact DECIMAL, for the
documents DuckDB prices itself). Stage 2, `explain`, curves and lint read these entries, never a
model's name.

Negative quantities (refunds above sales) are priced as zero units; a first
tier's flat amount is still charged, since quantity 0 reaches the first tier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import partial
from typing import Any, Literal

from dsl import pricing_sql, schema_charges, tree
from dsl.context import Compiler
from dsl.errors import Diagnostic, warning
from dsl.rounding import CONTEXT, divide, text
from dsl.tiers import compile_tiers

ZERO = Decimal(0)

# What a model prices: the value of the charge's `amount:`, the value of its
# quantity (`on:`), or the events of a usage field, of which stage 1 hands
# over counts and sums (`<charge>.__count`, ...).
PricedOn = Literal["amount", "quantity", "events"]


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
    """An unrounded amount and, when traced, the steps that made it."""

    amount: Decimal
    steps: tuple[Step, ...]


def _no_keys(_c: Compiler, _spec: Any, _path: tuple) -> dict[str, Any]:
    return {}


def _no_checks(_charge: tree.Charge) -> list[Diagnostic]:
    return []


def _never(_charge: tree.Charge) -> bool:
    return False


@dataclass(frozen=True)
class PricingModel:
    """Everything particular to one pricing model."""

    name: str
    priced_on: PricedOn
    # input (the amount, the quantity or stage 1's values), charge, trace -> the unrounded amount
    price: Callable[[Any, tree.Charge, bool], Priced]
    # the model's own keys (beside `when`, `on`, `amount`...) as fields of `tree.Charge`
    keys: Callable[[Compiler, Any, tuple], dict[str, Any]] = _no_keys
    lint: Callable[[tree.Charge], list[Diagnostic]] = _no_checks
    # the amount stays the same between the quantities where the price changes: a curve draws steps
    stepped: Callable[[tree.Charge], bool] = _never
    # the amount never depends on usage, so lint can tell a discount larger than the charges
    fixed: bool = False
    # the unrounded amount in SQL from the input's (a `pricing_sql.Ratio`, or stage 1's columns by name);
    # None: priced by the Python interpreter only
    sql: Callable[[Any, tree.Charge], pricing_sql.Amount] | None = None


# -- trace labels --------------------------------------------------------------------------


def _bound_label(tier: tree.Tier) -> str:
    if tier.bound is None:
        return "and above"
    return f"up to {text(tier.bound)}" if tier.inclusive else f"below {text(tier.bound)}"


def _tier_label(index: int, tier: tree.Tier, units: Decimal | None = None) -> str:
    flat = f", flat {text(tier.flat)}" if tier.flat else ""
    blocks = f", {text(units)} units in blocks of {text(tier.block)}" if tier.block is not None and units is not None else ""
    return f"tier {index} ({_bound_label(tier)}{flat}{blocks})"


def _free_label(free: Decimal) -> str:
    return f"{text(free)} free units"


def _package_label(size: Decimal, charge: tree.Charge) -> str:
    free = f" after {text(charge.free_units)} free units" if charge.free_units else ""
    return f"packages of {text(size)}{free}"


def _percentage_label(count: Decimal, rate: Decimal, charge: tree.Charge) -> str:
    return f"{text(count)} events at {text(rate * 100)}% + {text(charge.fixed_fee)}"


def _free_events_label(charge: tree.Charge) -> str:
    limits = [f"the first {text(charge.free_events)}" if charge.free_events is not None else ""]
    if charge.free_amount is not None:
        limits.append(f"within {text(charge.free_amount)} in all")
    return "free events (" + ", ".join(part for part in limits if part) + ")"


def percent_text(value: Decimal) -> str:
    """0.25 -> "25%", 1.005 -> "100.5%": as a person would write it in the plan."""
    return f"{(value * 100).normalize():f}%"


# -- pricing -------------------------------------------------------------------------------


def tier_amount(tier: tree.Tier, units: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """What `units` cost in `tier`: (units or whole blocks counted, their price, the amount with the tier's flat).

    A block tier counts its units in whole blocks, a started block charged whole.
    """
    if tier.block is None:
        return units, tier.unit_price, CONTEXT.multiply(units, tier.unit_price) + tier.flat
    assert tier.block_price is not None  # a block tier has its block price (`dsl.tiers`)
    whole, part = CONTEXT.divmod(max(units, ZERO), tier.block)  # exact, where a quotient may never end
    blocks = CONTEXT.add(whole, 1) if part else whole
    return blocks, tier.block_price, CONTEXT.multiply(blocks, tier.block_price) + tier.flat


def amount(value: Decimal, _charge: tree.Charge, _trace: bool = False) -> Priced:
    """flat and formula: the amount is the value of the charge's expression."""
    return Priced(value, ())


def per_unit(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    price = charge.unit_price
    assert price is not None  # a per_unit charge always has one (`_per_unit_keys`)
    billable = max(quantity - charge.free_units, ZERO)
    amount = CONTEXT.multiply(billable, price)
    if not trace:
        return Priced(amount, ())
    steps = []
    if charge.free_units:
        steps.append(Step(partial(_free_label, charge.free_units), min(max(quantity, ZERO), charge.free_units), ZERO, ZERO))
    steps.append(Step("units", billable, price, amount))
    return Priced(amount, tuple(steps))


def graduated(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    steps, total = [], ZERO
    lower, previous = ZERO, None
    for index, tier in enumerate(charge.tiers, 1):
        if previous is not None and previous.holds(quantity):
            break
        upper = quantity if tier.bound is None else min(quantity, tier.bound)
        portion = max(upper - lower, ZERO)
        counted, price, amount = tier_amount(tier, portion)
        total += amount
        if trace:
            steps.append(Step(partial(_tier_label, index, tier, portion), counted, price, amount))
        if tier.bound is None:
            break
        lower, previous = max(lower, tier.bound), tier
    return Priced(total, tuple(steps))


def volume(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    for index, tier in enumerate(charge.tiers, 1):
        if tier.holds(quantity):
            billable = max(quantity, ZERO)
            counted, price, amount = tier_amount(tier, billable)
            steps = (Step(partial(_tier_label, index, tier, billable), counted, price, amount),) if trace else ()
            return Priced(amount, steps)
    return Priced(ZERO, ())  # pragma: no cover - the compiler makes the last tier open


def package(quantity: Decimal, charge: tree.Charge, trace: bool = False) -> Priced:
    size, price = charge.package_size, charge.package_price
    assert size is not None and price is not None  # a package charge always has both (`_package_keys`)
    billable = max(quantity - charge.free_units, ZERO)
    packages = divide(billable, size).to_integral_value(rounding=ROUND_CEILING)
    amount = CONTEXT.multiply(packages, price)
    steps = (Step(partial(_package_label, size, charge), packages, price, amount),) if trace else ()
    return Priced(amount, steps)


def percentage(values: Mapping[str, Any], charge: tree.Charge, trace: bool = False) -> Priced:
    """Sum of per-event fees from the counts and sums stage 1 computed."""
    low = Decimal(values.get(f"{charge.id}.__low", 0))
    high = Decimal(values.get(f"{charge.id}.__high", 0))
    count = Decimal(values.get(f"{charge.id}.__count", 0))
    summed = values.get(f"{charge.id}.__sum", ZERO)
    rate = charge.rate
    assert rate is not None  # a percentage charge always has one (`_percentage_keys`)
    steps = []
    free = values.get(f"{charge.id}.__free")
    if trace and free:
        steps.append(Step(partial(_free_events_label, charge), Decimal(free), None, ZERO))
    middle = CONTEXT.multiply(summed, rate) + CONTEXT.multiply(count, charge.fixed_fee)
    if trace:
        steps.append(Step(partial(_percentage_label, count, rate, charge), summed, rate, middle))
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


def bounded(priced: Priced, charge: tree.Charge, trace: bool = False) -> Priced:
    """The charge's own `minimum:` and `maximum:` applied to its unrounded amount (per period, per group).

    The step says which bound applied and by how much the amount moved.
    """
    amount = priced.amount
    if charge.minimum is not None and amount < charge.minimum:
        step = Step(f"raised to the minimum {text(charge.minimum)}", None, None, charge.minimum - amount)
        return Priced(charge.minimum, (*priced.steps, step) if trace else ())
    if charge.maximum is not None and amount > charge.maximum:
        step = Step(f"capped at the maximum {text(charge.maximum)}", None, None, charge.maximum - amount)
        return Priced(charge.maximum, (*priced.steps, step) if trace else ())
    return priced


# -- keys ----------------------------------------------------------------------------------


def _per_unit_keys(_c: Compiler, spec: schema_charges.PerUnitCharge, _path: tuple) -> dict[str, Any]:
    return {"unit_price": spec.unit_price, "free_units": spec.free_units}


def _tier_keys(c: Compiler, spec: schema_charges.TieredCharge, path: tuple) -> dict[str, Any]:
    return {"tiers": compile_tiers(c, spec.tiers, (*path, "tiers")), "allow_decrease": spec.allow_decrease}


def _package_keys(c: Compiler, spec: schema_charges.PackageCharge, path: tuple) -> dict[str, Any]:
    if spec.package_size is not None and spec.package_size <= 0:
        c.fail(c.span(*path, "package_size"), "package_size must be above zero")
    return {"package_size": spec.package_size, "package_price": spec.package_price, "free_units": spec.free_units}


def _percentage_keys(c: Compiler, spec: schema_charges.PercentageCharge, path: tuple) -> dict[str, Any]:
    if spec.min_fee is not None and spec.max_fee is not None and spec.min_fee > spec.max_fee:
        c.fail(c.span(*path, "max_fee"), f"max_fee {spec.max_fee} is below min_fee {spec.min_fee}")
    free_events = spec.free_events
    if free_events is not None and (free_events < 0 or free_events != free_events.to_integral_value()):
        c.fail(c.span(*path, "free_events"), f"free_events is a number of events: {free_events} is not a whole number of at least 0")
    if spec.free_amount is not None and spec.free_amount < 0:
        c.fail(c.span(*path, "free_amount"), f"free_amount {spec.free_amount} is below zero")
    return {
        "rate": spec.rate,
        "fixed_fee": spec.fixed_fee,
        "min_fee": spec.min_fee,
        "max_fee": spec.max_fee,
        "free_events": free_events,
        "free_amount": spec.free_amount,
    }


# -- checks (lint) -------------------------------------------------------------------------


def _negative_price(charge: tree.Charge) -> list[Diagnostic]:
    prices = [charge.unit_price, charge.package_price]
    if any(p is not None and p < 0 for p in prices):
        return [warning(charge.span, f"charge {charge.id!r} has a negative price: more usage lowers the charge", "decrease")]
    return []


def _tier_amount(tier: tree.Tier, quantity: Decimal) -> Decimal:
    return tier_amount(tier, quantity)[2]


def _holds_integer(previous: tree.Tier | None, tier: tree.Tier) -> bool:
    """Whether `tier` holds a whole number that goes past `previous`."""
    if tier.bound is None or previous is None or previous.bound is None:
        return True
    first = previous.bound.to_integral_value(rounding=ROUND_CEILING)
    if previous.holds(first):
        first += 1
    return tier.holds(first)


TierCheck = Callable[[tree.Charge, int, tree.Tier | None, tree.Tier], list[Diagnostic]]


def _tier_table(check: TierCheck) -> Callable[[tree.Charge], list[Diagnostic]]:
    """The checks of a tier table: tiers no whole quantity reaches, then the model's own `check` of each tier."""

    def checks(charge: tree.Charge) -> list[Diagnostic]:
        out = []
        integer = charge.quantity is not None and charge.quantity.type.kind == "integer"
        previous = None
        for index, tier in enumerate(charge.tiers):
            if integer and not _holds_integer(previous, tier):
                message = f"tier {index + 1} of {charge.id!r} can never be reached: the quantity is a whole number"
                out.append(warning(tier.span, message, "unreachable"))
            out += check(charge, index, previous, tier)
            previous = tier
        return out

    return checks


def _negative_tier(charge: tree.Charge, index: int, _previous: tree.Tier | None, tier: tree.Tier) -> list[Diagnostic]:
    if charge.allow_decrease or (tier.unit_price >= 0 and tier.flat >= 0 and (tier.block_price or 0) >= 0):
        return []
    return [warning(tier.span, f"tier {index + 1} of {charge.id!r} has a negative price: more usage lowers the charge", "decrease")]


def _cliff(charge: tree.Charge, _index: int, previous: tree.Tier | None, tier: tree.Tier) -> list[Diagnostic]:
    """A volume table whose amount drops where usage enters the next tier."""
    if previous is None or previous.bound is None or charge.allow_decrease:
        return []
    before, after = _tier_amount(previous, previous.bound), _tier_amount(tier, previous.bound)
    if after >= before:
        return []
    message = (
        f"at {previous.bound} the charge {charge.id!r} drops from {before.normalize():f} to {after.normalize():f} "
        "when usage enters this tier: more usage, smaller bill (add `allow_decrease: true` if intended)"
    )
    return [warning(tier.span, message, "decrease")]


def _rate_above_whole(charge: tree.Charge) -> list[Diagnostic]:
    if charge.rate is None or charge.rate <= 1:
        return []
    message = f"charge {charge.id!r} takes {percent_text(charge.rate)} of each event: more than the event itself"
    return [warning(charge.span, message, "percent")]


# -- the registry --------------------------------------------------------------------------

MODELS: dict[str, PricingModel] = {
    model.name: model
    for model in (
        PricingModel("flat", "amount", amount, fixed=True, sql=pricing_sql.amount),
        PricingModel("per_unit", "quantity", per_unit, keys=_per_unit_keys, lint=_negative_price, sql=pricing_sql.per_unit),
        PricingModel(
            "graduated",
            "quantity",
            graduated,
            keys=_tier_keys,
            lint=_tier_table(_negative_tier),
            # whole blocks and flat amounts only: the amount changes at block edges
            stepped=lambda charge: any(t.block for t in charge.tiers) and not any(t.unit_price for t in charge.tiers),
            sql=pricing_sql.graduated,
        ),
        PricingModel(
            "volume",
            "quantity",
            volume,
            keys=_tier_keys,
            lint=_tier_table(_cliff),
            stepped=lambda charge: not any(t.unit_price for t in charge.tiers),  # flat amounts only
            sql=pricing_sql.volume,
        ),
        PricingModel(
            "package", "quantity", package, keys=_package_keys, lint=_negative_price, stepped=lambda _charge: True, sql=pricing_sql.package
        ),
        PricingModel("percentage", "events", percentage, keys=_percentage_keys, lint=_rate_above_whole, sql=pricing_sql.percentage),
        PricingModel("formula", "amount", amount, sql=pricing_sql.amount),
    )
}
