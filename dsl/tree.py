"""The evaluation tree: what the compiler hands to the interpreter.

Plain frozen dataclasses. Names are resolved (each `Ref` says where its value
comes from), every expression carries its static type, and every part of a
plan keeps the span it was written at, so `explain` can cite the plan file.
The interpreter never looks at YAML again.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dsl.errors import Span
from dsl.types import Type


@dataclass(frozen=True)
class Const:
    """A literal value."""

    value: Any
    type: Type
    span: Span


@dataclass(frozen=True)
class Ref:
    """A resolved name. `scope` is one of: field, metric, customer, period, input, line."""

    scope: str
    name: str
    type: Type
    span: Span


@dataclass(frozen=True)
class Unary:
    """`-x` or `not x`."""

    op: str
    operand: Expr
    type: Type
    span: Span


@dataclass(frozen=True)
class Binary:
    """Arithmetic (+ - * /), comparison or logic (and, or)."""

    op: str
    left: Expr
    right: Expr
    type: Type
    span: Span


@dataclass(frozen=True)
class In:
    """Membership in a literal list."""

    operand: Expr
    options: tuple[Expr, ...]
    negated: bool
    type: Type
    span: Span


@dataclass(frozen=True)
class Cond:
    """`if test then a else b`."""

    test: Expr
    then: Expr
    otherwise: Expr
    type: Type
    span: Span


@dataclass(frozen=True)
class Call:
    """A built-in function call."""

    function: str
    args: tuple[Expr, ...]
    type: Type
    span: Span


Expr = Const | Ref | Unary | Binary | In | Cond | Call


def children(expr: Expr) -> tuple[Expr, ...]:
    """The expressions directly inside `expr`."""
    match expr:
        case Unary():
            return (expr.operand,)
        case Binary():
            return (expr.left, expr.right)
        case In():
            return (expr.operand, *expr.options)
        case Cond():
            return (expr.test, expr.then, expr.otherwise)
        case Call():
            return expr.args
    return ()


def walk(expr: Expr | None) -> Iterator[Expr]:
    """`expr` and every expression inside it, outermost first, left to right."""
    stack = [expr] if expr is not None else []
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


@dataclass(frozen=True)
class Field:
    """A typed ledger column (or customer attribute)."""

    name: str
    type: Type
    default: Any  # None means required
    values: tuple[str, ...] | None
    span: Span


@dataclass(frozen=True)
class Rule:
    """A `require:` rule over a usage row."""

    test: Expr
    message: str
    span: Span


@dataclass(frozen=True)
class Quota:
    """Running `usage` may not exceed running `limit` for customers that have a limit."""

    usage: str
    limit: str
    message: str
    span: Span
    reset: str = "never"


@dataclass(frozen=True)
class Metric:
    """An aggregate (`aggregation` set) or a derived metric (`expression` set)."""

    name: str
    type: Type
    aggregation: str | None
    field: str | None
    where: Expr | None
    expression: Expr | None
    span: Span
    value: Expr | None = None  # the aggregated row expression (None for count)


@dataclass(frozen=True)
class Tier:
    """One tier; `bound` is None for the open last tier.

    A tier takes the quantities the tier before it does not hold, up to its
    own bound: `holds` is the one place that says what `up_to` and `below` mean.
    """

    bound: Decimal | None
    inclusive: bool  # True for up_to, False for below
    unit_price: Decimal
    flat: Decimal
    span: Span
    block: Decimal | None = None  # a block tier: whole blocks of this many units, rounded up ...
    block_price: Decimal | None = None  # ... each at this price (instead of `unit_price`)

    def holds(self, quantity: Decimal) -> bool:
        """Whether `quantity` is within this tier's bound (at most `up_to`, under `below`; the open tier holds all)."""
        if self.bound is None:
            return True
        return quantity <= self.bound if self.inclusive else quantity < self.bound


@dataclass(frozen=True)
class Charge:
    """One charge of an invoice plan; fields unused by its model are None."""

    id: str
    name: str
    model: str
    quantity: Expr | None
    when: Expr | None
    rounding: str
    span: Span
    amount: Expr | None = None
    tiers: tuple[Tier, ...] = ()
    unit_price: Decimal | None = None
    free_units: Decimal = Decimal(0)
    package_size: Decimal | None = None
    package_price: Decimal | None = None
    field: str | None = None
    where: Expr | None = None
    rate: Decimal | None = None
    fixed_fee: Decimal = Decimal(0)
    min_fee: Decimal | None = None
    max_fee: Decimal | None = None
    multiplier: Expr | None = None
    memo: bool = False
    allow_decrease: bool = False
    prorate: bool = False  # multiplied by a subscription window's share of its period (flat charges always)
    trial_free: bool = False  # not billed for a customer's trial days (flat charges by default)
    minimum: Decimal | None = None  # the line's amount is raised to it (before rounding)
    maximum: Decimal | None = None  # the line's amount is capped at it (before rounding)
    group_by: tuple[str, ...] = ()  # usage fields: one line per distinct value (or combination)
    prices: tuple[PriceEntry, ...] = ()  # per group, the first entry that matches prices it
    default: bool = True  # the charge's own keys price a group no entry matches (else its rows are rejected)
    free_events: Decimal | None = None  # percentage: the first N events of the period are free ...
    free_amount: Decimal | None = None  # ... and so are events while their running sum stays within this


@dataclass(frozen=True)
class PriceEntry:
    """One entry of a grouped charge's `prices:`: the groups it matches and the charge that prices them.

    `match` holds (usage field, value) pairs, values typed as the field is;
    `charge` is the grouped charge with this entry's keys in place of its own.
    """

    match: tuple[tuple[str, Any], ...]
    charge: Charge
    span: Span

    def matches(self, group: dict[str, Any]) -> bool:
        return all(group.get(name) == value for name, value in self.match)


@dataclass(frozen=True)
class Discount:
    """A discount on some charges (all when `applies_to` is empty)."""

    id: str
    name: str
    percent: Expr | None
    amount: Expr | None
    applies_to: tuple[str, ...]
    when: Expr | None
    span: Span
    carry: bool = False  # what the charges cannot take is carried to the next period


@dataclass(frozen=True)
class Tax:
    """A tax on the rounded subtotal."""

    id: str
    name: str
    rate: Decimal
    rounding: str
    span: Span
    when: Expr | None = None
    included: bool = False  # prices include the tax: taken out of the subtotal, not added


@dataclass(frozen=True)
class Credit:
    """A customer balance applied to the amount due after tax."""

    id: str
    name: str
    balance: Expr
    when: Expr | None
    span: Span


@dataclass(frozen=True)
class Notice:
    """A conditional message on the document."""

    id: str
    when: Expr
    message: str
    span: Span


@dataclass(frozen=True)
class Formula:
    """A named formula with typed inputs."""

    name: str
    inputs: tuple[tuple[str, Type], ...]
    value: Expr
    rounding: str
    span: Span


@dataclass(frozen=True)
class Line:
    """A settlement line."""

    id: str
    name: str
    value: Expr
    rounding: str
    span: Span
    tax_included: Decimal | None = None  # the line is the tax at this rate that `value` includes


@dataclass(frozen=True)
class Schedule:
    """Billing schedule, as days of the month after the period."""

    issue_day: int | None
    dispute_until_day: int | None
    charge_day: int | None
    charge_time: str | None


@dataclass(frozen=True)
class Plan:
    """A compiled plan, ready to run."""

    id: str
    name: str
    kind: str
    currency: str
    minor_digits: int
    period: str
    timezone: str
    rounding: str
    effective: datetime.date | None
    fields: tuple[Field, ...]
    customer: tuple[Field, ...]
    rules: tuple[Rule, ...]
    metrics: tuple[Metric, ...]  # aggregates first, then derived metrics in dependency order
    charges: tuple[Charge, ...]
    discounts: tuple[Discount, ...]
    minimum: Expr | None
    taxes: tuple[Tax, ...]
    notices: tuple[Notice, ...]
    formulas: tuple[Formula, ...]
    lines: tuple[Line, ...]
    total: str | None
    schedule: Schedule | None
    source: str
    span: Span
    quota: Quota | None = None
    credits: tuple[Credit, ...] = ()
    uses_previous: bool = False
    # the located YAML it was compiled from (dsl.source.Document): negotiated values are compiled into it again
    document: Any = field(default=None, compare=False, repr=False)


def expressions(plan: Plan) -> Iterator[Expr]:
    """Every expression written in a plan (not those inside them: see `walk`)."""
    roots: list[Expr | None] = [rule.test for rule in plan.rules]
    for m in plan.metrics:
        roots += [m.where, m.value, m.expression]
    for ch in plan.charges:
        roots += [ch.quantity, ch.when, ch.amount, ch.where, ch.multiplier]
    for d in plan.discounts:
        roots += [d.percent, d.amount, d.when]
    roots.append(plan.minimum)
    roots += [t.when for t in plan.taxes]
    for credit in plan.credits:
        roots += [credit.balance, credit.when]
    roots += [n.when for n in plan.notices]
    roots += [f.value for f in plan.formulas]
    roots += [line.value for line in plan.lines]
    return (root for root in roots if root is not None)


def formula(plan: Plan, name: str) -> Formula | None:
    return next((f for f in plan.formulas if f.name == name), None)
