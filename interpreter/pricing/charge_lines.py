"""The lines of charges: the environment a document's expressions read, and each charge priced.

A charge is priced by its model on its quantity, amount or events, then
multiplied, bounded by its per-period minimum and maximum, prorated by a
subscription window's share, and rounded once in its own rounding mode. A
grouped charge gives one line per group, priced by the first price entry
matching it. Arithmetic that fails is an `EvaluationError` at the charge.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from dsl import tree
from dsl.groups import line_id, value_text
from dsl.pricing_models import MODELS, Priced, Step, bounded
from dsl.rounding import CONTEXT, EXACT_DIGITS, ROUNDED_DIGITS, round_money
from interpreter.ledger.aggregate import Facts
from interpreter.pricing.evaluate import NO_VALUE, EvaluationError, evaluate
from interpreter.pricing.timelines import Share, prorated

ZERO = Decimal(0)


@dataclass(frozen=True)
class Trace:
    """How a line came to be: where it is written, what it used, before rounding."""

    span: Any  # dsl.errors.Span of the charge, discount, tax or line
    model: str
    expressions: tuple[tuple[str, Any], ...]  # (role, tree expression) shown with their values
    steps: tuple[Step, ...]
    unrounded: Decimal
    rounding: str


@dataclass(frozen=True)
class Line:
    id: str
    description: str
    quantity: Decimal | None
    amount: Decimal
    trace: Trace | None = field(default=None, compare=False)
    memo: bool = False


def environment(plan: tree.Plan, facts: Facts, customer: dict[str, Any], previous: Facts | None = None) -> dict:
    """Metric values, customer attributes and period facts, keyed as the tree refers to them.

    With `previous` (the period before, for plans that read `previous.<metric>`),
    the previous period's metric values are added under the scope "previous".
    """
    env: dict = {
        ("period", "start"): facts.period.start,
        ("period", "end"): facts.period.end,
        ("period", "days"): Decimal(facts.period.days),
    }
    for name, value in customer.items():
        env[("customer", name)] = value
    metric_values(plan, facts, env)
    if previous is not None:
        before = environment(plan, previous, customer)
        env.update({("previous", k[1]): v for k, v in before.items() if k[0] == "metric"})
    return env


def metric_values(plan: tree.Plan, facts: Facts, env: dict) -> None:
    """Put the metrics of `facts` (a document's, or one group's) into `env`, derived metrics computed from them."""
    for metric in plan.metrics:
        if metric.expression is not None:  # a derived metric
            env[("metric", metric.name)] = evaluate(metric.expression, env)
        else:
            value = facts.values.get(metric.name)
            env[("metric", metric.name)] = _empty(metric) if value is None else value


def _empty(metric: tree.Metric) -> Any:
    """The value of an aggregate over no rows (max/min/last of nothing).

    Numbers are 0; a date has no value: comparing it is false, computing
    with it is a located error (see `NoValue`).
    """
    kind = metric.type.kind
    if kind == "date":
        return NO_VALUE
    return "" if kind == "text" else (False if kind == "bool" else ZERO)


def price_charge(
    plan: tree.Plan, charge: tree.Charge, env: dict, facts: Facts, trace: bool = False, share: Share | None = None
) -> Line | None:
    """The rounded line of one charge, or None when its `when:` is false (with its trace if asked).

    `share` is the part of its period a subscription window bills: flat and
    `prorate: true` charges are multiplied by it, and `trial: free` charges
    leave the trial's days out.
    """
    if charge.when is not None and not evaluate(charge.when, env):
        return None
    model = MODELS[charge.model]
    quantity = None
    if model.priced_on == "amount":
        assert charge.amount is not None  # compiled for every model priced on an amount (`dsl.charges`)
        priced = model.price(evaluate(charge.amount, env), charge, trace)
    elif model.priced_on == "events":
        priced = model.price(facts.values, charge, trace)
    else:
        assert charge.quantity is not None  # and the quantity for one priced on a quantity
        quantity = evaluate(charge.quantity, env)
        priced = model.price(quantity, charge, trace)
    if charge.multiplier is not None:
        factor = evaluate(charge.multiplier, env)
        scaled = CONTEXT.multiply(priced.amount, factor)
        steps = (*priced.steps, Step("multiplied", priced.amount, factor, scaled)) if trace else ()
        priced = Priced(scaled, steps)
    # the line's minimum and maximum are per period: a window's share prorates them with the charge
    priced = bounded(priced, charge, trace)
    if share is not None:
        priced = prorated(charge, priced, share, trace)
    amount = round_money(priced.amount, plan.minor_digits, charge.rounding)
    how = Trace(charge.span, charge.model, _roles(charge), priced.steps, priced.amount, charge.rounding) if trace else None
    return Line(charge.id, charge.name, quantity, amount, how, charge.memo)


def grouped_lines(
    plan: tree.Plan, charge: tree.Charge, env: dict, facts: Facts, trace: bool = False, share: Share | None = None
) -> list[Line]:
    """A grouped charge's lines, one per group in the period, sorted by the group's values.

    Each group is priced by the first price entry that matches it (else by
    the charge's own keys) on its own metrics; its trace names the entry.
    """
    out = []
    fields = set(charge.group_by)
    found = [g for g in facts.groups if g.group is not None and {name for name, _ in g.group} == fields]
    for values, group in sorted((tuple(dict(g.group or ())[name] for name in charge.group_by), g) for g in found):
        named = dict(zip(charge.group_by, values, strict=True))
        entry = next((e for e in charge.prices if e.matches(named)), None)
        if entry is None and not charge.default:
            continue  # pragma: no cover - stage 1 rejected its rows
        priced = charge if entry is None else entry.charge
        scoped = dict(env)
        metric_values(plan, group, scoped)
        try:
            line = price_charge(plan, priced, scoped, group, trace, share)
        except ArithmeticError as exc:
            raise arithmetic_failed(priced.span, exc) from None
        if line is None:
            continue
        described = ", ".join(f"{name}={value_text(value)}" for name, value in named.items())
        how = line.trace
        if how is not None:
            chosen = f"price entry matching {described}" if entry is not None else "the charge's own price"
            how = replace(how, model=f"{how.model}, {chosen}")
        out.append(replace(line, id=line_id(charge.id, values), description=f"{charge.name} ({described})", trace=how))
    return out


def _roles(charge: tree.Charge) -> tuple[tuple[str, Any], ...]:
    """The expressions a charge's trace shows, by their role."""
    roles: list[tuple[str, Any]] = [("when", charge.when)] if charge.when is not None else []
    priced_on = MODELS[charge.model].priced_on
    if priced_on == "amount":
        roles.append(("amount", charge.amount))
    elif priced_on == "quantity":
        roles.append(("quantity", charge.quantity))
    if charge.multiplier is not None:
        roles.append(("multiplier", charge.multiplier))
    return tuple(roles)


def arithmetic_failed(span: Any, exc: ArithmeticError) -> EvaluationError:
    """A located error for arithmetic that failed outside an expression (pricing, rounding, sums)."""
    if isinstance(exc, (decimal.DivisionByZero, ZeroDivisionError)):
        return EvaluationError(span, "division by zero")
    digits = EXACT_DIGITS if isinstance(exc, decimal.Inexact) else ROUNDED_DIGITS
    return EvaluationError(span, f"the amount cannot be computed exactly: it has more than {digits} digits")
