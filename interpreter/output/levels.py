"""The level of a time-weighted metric day by day, for `explain`.

Rating needs no per-day rows (`ledger.aggregate` sums `change x days held`),
so the days are found again here: the customer's accepted changes summed
per day, on the ledger read as rating reads it (`duckdb.ledger.load`). A
level is shown only when the days add up to the metric's value exactly;
otherwise `explain` shows the value alone.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from dsl import tree
from interpreter.engines.duckdb.engine import connect
from interpreter.engines.duckdb.ledger import load
from interpreter.ledger.sql import to_sql
from interpreter.rounding import CONTEXT


@dataclass(frozen=True)
class Stretch:
    """Days in a row at one level: `first` to `last`, both counted."""

    first: datetime.date
    last: datetime.date
    level: Decimal

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def daily_changes(plan: tree.Plan, usage: str, customer: str, metric: tree.Metric, until: datetime.date) -> dict[datetime.date, Decimal]:
    """The customer's accepted changes of `metric`, summed per day (the plan's days), up to `until`."""
    where = " AND ".join(
        ["__reason IS NULL", "customer = $customer", '"date" <= $until', *([to_sql(metric.where)] if metric.where else [])]
    )
    con = connect(plan)
    try:
        load(con, usage, plan)
        rows = con.execute(
            f'SELECT "date", sum({to_sql(metric.value)}) FROM events WHERE {where} GROUP BY "date"',
            {"customer": customer, "until": until},
        ).fetchall()
    finally:
        con.close()
    return {day: Decimal(total) for day, total in rows if total is not None}


def stretches(changes: dict[datetime.date, Decimal], start: datetime.date, end: datetime.date) -> list[Stretch]:
    """The level held each day from `start` to `end`: what came before `start`, then each day's changes
    (a day's level is the one at its end, as the metric counts it)."""
    level = sum((v for day, v in changes.items() if day < start), Decimal(0))
    out: list[Stretch] = []
    first = start
    for day in sorted(d for d in changes if start <= d <= end):
        if day > first:
            out.append(Stretch(first, day - datetime.timedelta(days=1), level))
        level += changes[day]
        first = day
    out.append(Stretch(first, end, level))
    return _merged(out)


def _merged(parts: list[Stretch]) -> list[Stretch]:
    out: list[Stretch] = []
    for part in parts:
        if out and out[-1].level == part.level:
            out[-1] = Stretch(out[-1].first, part.last, part.level)
        else:
            out.append(part)
    return out


def level_days(parts: list[Stretch]) -> Decimal:
    """The levels summed over the days (seat-days, say)."""
    return sum((s.level * s.days for s in parts), Decimal(0))


def matches(parts: list[Stretch], days: Decimal, value: Decimal) -> bool:
    """Whether the stretches give the metric's value: their level-days over the period's days."""
    return CONTEXT.divide(level_days(parts), days) == value
