"""Stage 2 over many documents: each customer's periods in order, balances carried, failures kept apart.

A credit or a `carry: true` discount leaves a balance that the customer's
next document starts from, so one customer's documents are built one after
the other in period order, across plan versions. A document whose plan
expression fails (a division by zero, numbers beyond 40 digits, a date past
year 9999) becomes a `Failure` naming the customer, period and plan line;
the other customers are still rated. A later period of a failed customer
whose plan carries balances is not rated either: what it would start from
depends on the document that failed.

Both engines call `rate_in_order`: DuckDB over the whole ledger, Spark's
executors over the customers of one partition.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl import tree
from dsl.errors import Span
from interpreter.ledger.aggregate import Facts
from interpreter.pricing.balances import Balance
from interpreter.pricing.customers import attributes
from interpreter.pricing.documents import Document, build, carries, closing
from interpreter.pricing.evaluate import EvaluationError
from interpreter.pricing.timelines import Timeline, share, timeline_of


@dataclass(frozen=True)
class Failure:
    """A document that could not be built: whose, which period, where in the plan, and why."""

    customer: str
    plan: str
    period_start: datetime.date
    period_end: datetime.date
    span: Span
    reason: str


Work = tuple[tree.Plan, Facts, "Facts | None"]  # a plan version, the period's facts, the period before (for previous.*)


def rate_in_order(
    work: Iterable[Work],
    customers: Mapping[str, dict[str, Any]],
    opening: Mapping[str, Mapping[str, Decimal]],
    estimate: bool,
    trace: bool = False,
    carried: dict[tuple[str, str], Balance] | None = None,
    variants: Mapping[tuple, tuple[tree.Plan, tuple[str, ...]]] | None = None,
) -> Iterator[Document | Failure]:
    """The document (or failure) of each item of `work`, which comes sorted by customer, then period.

    `customers` are the raw attributes; `opening` the balances each customer
    starts with, by credit or discount id (from a balances file). What each
    customer's last document left is put in `carried`, keyed by (customer, id).
    """
    current: str | None = None
    balances: dict[str, Decimal] = {}
    failed: Failure | None = None
    carrying: dict[int, bool] = {}
    timeline: Timeline | None = None
    for plan, facts, previous in work:
        customer = facts.customer
        overridden: tuple[str, ...] = ()
        if variants and (customer, plan.id, plan.effective) in variants:
            plan, overridden = variants[(customer, plan.id, plan.effective)]
        if customer != current:
            current, failed = customer, None
            balances = dict(opening[customer]) if customer in opening else {}
            timeline = timeline_of(customer, customers[customer]) if customer in customers else None
        carry = carrying.get(id(plan))
        if carry is None:
            carry = carrying[id(plan)] = carries(plan)
        if carry and failed is not None:
            yield Failure(
                customer,
                plan.id,
                facts.period.start,
                facts.period.end,
                failed.span,
                f"not rated: the document of {failed.period_start}..{failed.period_end} failed, "
                "and the balances this one starts from carry over from it",
            )
            continue
        try:
            doc = build(
                plan,
                facts,
                attributes(plan, customer, customers),
                estimate=estimate,
                previous=previous,
                trace=trace,
                carried_in=balances,
                share=share(timeline, facts.period) if timeline is not None else None,
                overrides=overridden,
            )
        except EvaluationError as exc:
            failed = Failure(customer, plan.id, facts.period.start, facts.period.end, exc.span, exc.message)
            yield failed
            continue
        if carry:
            left = closing(doc)
            balances.update(left)
            if carried is not None:
                for key, amount in left.items():
                    carried[(customer, key)] = Balance(customer, key, plan.currency, amount)
        yield doc


def work_order(item: Work) -> tuple:
    """How `rate_in_order` wants its work sorted: by customer, then period."""
    return item[1].customer, item[1].period.start
