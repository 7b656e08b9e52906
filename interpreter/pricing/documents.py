"""Stage 2: one customer's period facts -> an invoice or settlement statement.

Each line is rounded exactly once, to the currency's minor unit, in its own
rounding mode; later lines (discounts, minimum, taxes, settlement lines) use
the rounded values of earlier ones, so `total` is exactly the sum of the
rounded parts. Asked for (by `explain`), each line keeps a trace of how it was computed.
Credits and `carry: true` discounts open at what the customer's previous
document left of them (`carried_in`), so a balance is spent only once.
Arithmetic that fails (numbers beyond the context's digits) is an
`EvaluationError` at the charge, discount, tax or credit it happened in.
"""

from __future__ import annotations

import calendar
import datetime
import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from dsl import tree
from dsl.pricing_models import Step
from dsl.rounding import CONTEXT, divide, round_money, text
from interpreter.ledger.aggregate import Facts
from interpreter.pricing.charge_lines import Line, Trace, arithmetic_failed, environment, grouped_lines, price_charge
from interpreter.pricing.discounts import CarriedLine, discount_lines
from interpreter.pricing.evaluate import evaluate
from interpreter.pricing.timelines import Share

ZERO = Decimal(0)
EMPTY: Mapping[str, Decimal] = MappingProxyType({})


def _round(plan: tree.Plan, amount: Decimal, mode: str) -> Decimal:
    return round_money(amount, plan.minor_digits, mode)


@dataclass(frozen=True)
class CreditLine:
    """A balance applied to the amount due; `closing` is what the next document starts from."""

    id: str
    description: str
    opening: Decimal
    applied: Decimal
    closing: Decimal


@dataclass(frozen=True)
class TaxLine:
    id: str
    description: str
    rate: Decimal
    base: Decimal
    amount: Decimal
    trace: Trace | None = field(default=None, compare=False)
    included: bool = False  # part of the subtotal already (prices include the tax), not added to the total


@dataclass(frozen=True)
class Document:
    customer: str
    plan: tree.Plan
    period_start: datetime.date
    period_end: datetime.date
    lines: tuple[Line, ...]
    subtotal: Decimal
    taxes: tuple[TaxLine, ...]
    total: Decimal
    notices: tuple[tuple[str, str], ...]
    schedule: dict | None
    credits: tuple[CreditLine, ...] = ()
    carried: tuple[CarriedLine, ...] = ()
    env: dict = field(compare=False, default_factory=dict)
    estimate: bool = False
    rows: int = 0
    overrides: tuple[str, ...] = ()  # the plan's key paths this customer's negotiated values replace


def schedule(plan: tree.Plan, end: datetime.date) -> dict | None:
    s = plan.schedule
    if s is None:
        return None
    following = datetime.date(end.year + (end.month == 12), end.month % 12 + 1, 1)

    def day(n: int) -> datetime.date:
        return following.replace(day=min(n, calendar.monthrange(following.year, following.month)[1]))

    out = {}
    if s.issue_day:
        out["issue_date"] = day(s.issue_day).isoformat()
    if s.dispute_until_day:
        out["dispute_until"] = day(s.dispute_until_day).isoformat()
    if s.charge_day:
        hour, minute = (int(x) for x in (s.charge_time or "00:00").split(":"))
        moment = datetime.datetime.combine(day(s.charge_day), datetime.time(hour, minute), ZoneInfo(plan.timezone))
        out["charge_at"] = moment.isoformat()
    return out


def invoice(
    plan: tree.Plan,
    facts: Facts,
    env: dict,
    trace: bool = False,
    carried_in: Mapping[str, Decimal] = EMPTY,
    share: Share | None = None,
) -> tuple[list[Line], Decimal, list[TaxLine], Decimal, list[CarriedLine], list]:
    """Charges, discounts and minimum, the subtotal, taxes and total; and the carried discounts and their notices."""
    charges = []
    for ch in plan.charges:
        if ch.group_by:
            charges += grouped_lines(plan, ch, env, facts, trace, share)
            continue
        try:
            line = price_charge(plan, ch, env, facts, trace, share)
        except ArithmeticError as exc:
            raise arithmetic_failed(ch.span, exc) from None
        if line is not None:
            charges.append(line)
    discounts, carried, notices = discount_lines(plan, charges, env, trace, carried_in)
    lines = charges + discounts
    subtotal = sum((line.amount for line in lines if not line.memo), ZERO)
    if plan.minimum is not None:
        try:
            minimum = _round(plan, evaluate(plan.minimum, env), plan.rounding)
        except ArithmeticError as exc:
            raise arithmetic_failed(plan.minimum.span, exc) from None
        if subtotal < minimum:
            how = (
                Trace(plan.minimum.span, "minimum", (("minimum", plan.minimum),), (), minimum - subtotal, plan.rounding) if trace else None
            )
            lines.append(Line("minimum", "Minimum commitment true-up", None, minimum - subtotal, how))
            subtotal = minimum
    taxes = []
    for tax in plan.taxes:
        if tax.when is not None and not evaluate(tax.when, env):
            continue
        try:
            # an included tax is the part of the subtotal it is in: subtotal x rate / (1 + rate)
            # (multiplied first: exact whenever the part has an end; a quotient is rounded to 40 digits)
            factor = divide(tax.rate, 1 + tax.rate) if tax.included else tax.rate
            unrounded = divide(CONTEXT.multiply(subtotal, tax.rate), 1 + tax.rate) if tax.included else CONTEXT.multiply(subtotal, factor)
            amount = _round(plan, unrounded, tax.rounding)
        except ArithmeticError as exc:
            raise arithmetic_failed(tax.span, exc) from None
        how = (
            Trace(
                tax.span,
                "tax",
                (),
                (Step("rounded subtotal, tax included" if tax.included else "rounded subtotal", subtotal, factor, unrounded),),
                unrounded,
                tax.rounding,
            )
            if trace
            else None
        )
        taxes.append(TaxLine(tax.id, tax.name, tax.rate, subtotal, amount, how, tax.included))
    total = subtotal + sum((t.amount for t in taxes if not t.included), ZERO)
    return lines, subtotal, taxes, total, carried, notices


def apply_credits(plan: tree.Plan, due: Decimal, env: dict, carried_in: Mapping[str, Decimal] = EMPTY) -> tuple[list[CreditLine], Decimal]:
    """Balances applied in order to the amount due; never below zero, the rest carried.

    A credit opens at what an earlier document left of it (`carried_in`),
    and at its `balance:` only the first time: a balance is consumed, never granted again.
    """
    out = []
    for credit in plan.credits:
        if credit.when is not None and not evaluate(credit.when, env):
            continue
        try:
            opening = carried_in.get(credit.id)
            if opening is None:
                opening = _round(plan, evaluate(credit.balance, env), plan.rounding)
            applied = min(max(opening, ZERO), max(due, ZERO))
        except ArithmeticError as exc:
            raise arithmetic_failed(credit.span, exc) from None
        due -= applied
        out.append(CreditLine(credit.id, credit.name, opening, applied, opening - applied))
    return out, due


def settlement(plan: tree.Plan, env: dict, trace: bool = False) -> tuple[list[Line], Decimal]:
    lines = []
    for spec in plan.lines:
        unrounded = evaluate(spec.value, env)
        steps: tuple[Step, ...] = ()
        try:
            if spec.tax_included is not None:  # the tax a tax-included amount holds
                factor = divide(spec.tax_included, 1 + spec.tax_included)
                held = divide(CONTEXT.multiply(unrounded, spec.tax_included), 1 + spec.tax_included)
                steps = (Step(f"tax included at {text(spec.tax_included * 100)}%", unrounded, factor, held),)
                unrounded = steps[0].amount
            amount = _round(plan, unrounded, spec.rounding)
        except ArithmeticError as exc:
            raise arithmetic_failed(spec.span, exc) from None
        env[("line", spec.id)] = amount
        how = Trace(spec.span, "line", (("value", spec.value),), steps if trace else (), unrounded, spec.rounding) if trace else None
        lines.append(Line(spec.id, spec.name, None, amount, how))
    return lines, env[("line", plan.total)]


def carries(plan: tree.Plan) -> bool:
    """Whether documents of `plan` hand balances on to the next (credits, carried discounts)."""
    return bool(plan.credits) or any(d.carry for d in plan.discounts)


def closing(doc: Document) -> dict[str, Decimal]:
    """The balances this document leaves, by credit or discount id (those it does not list are unchanged)."""
    return {**{c.id: c.closing for c in doc.credits}, **{c.id: c.closing for c in doc.carried}}


def build(
    plan: tree.Plan,
    facts: Facts,
    customer: dict[str, Any],
    estimate: bool = False,
    previous: Facts | None = None,
    trace: bool = False,
    carried_in: Mapping[str, Decimal] = EMPTY,
    share: Share | None = None,
    overrides: tuple[str, ...] = (),
) -> Document:
    """The document of one customer and period; `trace` keeps how each line was computed (for explain).

    `carried_in` holds the balances earlier documents of the customer left
    (by credit or discount id); see `interpreter.pricing.stage2` for the order they are built in.
    `share` is the part of the period a subscription window bills (see `price_charge`);
    `overrides` the key paths of `plan` replaced by the customer's negotiated values.
    """
    with decimal.localcontext(CONTEXT):
        return _build(plan, facts, customer, estimate, previous, trace, carried_in, share, overrides)


def _build(
    plan: tree.Plan,
    facts: Facts,
    customer: dict[str, Any],
    estimate: bool,
    previous: Facts | None,
    trace: bool,
    carried_in: Mapping[str, Decimal],
    share: Share | None = None,
    overrides: tuple[str, ...] = (),
) -> Document:
    env = environment(plan, facts, customer, previous)
    credits: list[CreditLine] = []
    carried: list[CarriedLine] = []
    unused: list[tuple[str, str]] = []
    taxes: list[TaxLine] = []
    if plan.kind == "settlement":
        lines, total = settlement(plan, env, trace)
        subtotal = total
    else:
        lines, subtotal, taxes, total, carried, unused = invoice(plan, facts, env, trace, carried_in, share)
        credits, total = apply_credits(plan, total, env, carried_in)
    notices = tuple((n.id, n.message) for n in plan.notices if evaluate(n.when, env))
    return Document(
        customer=facts.customer,
        plan=plan,
        period_start=facts.period.start,
        period_end=facts.period.end,
        lines=tuple(lines),
        subtotal=subtotal,
        taxes=tuple(taxes),
        total=total,
        notices=notices + tuple(unused),
        schedule=schedule(plan, facts.period.full_end),
        credits=tuple(credits),
        carried=tuple(carried),
        env=env,
        estimate=estimate,
        rows=facts.rows,
        overrides=overrides,
    )
