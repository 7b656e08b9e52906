"""The level of a time-weighted metric day by day, for `explain`.

Rating needs no per-day rows (`ledger.aggregate` sums `change x days held`),
so the days are found again here by the same aggregate over one-day
windows: a time-weighted metric over a single day is the level at the end of
that day. The ledger is read as rating reads it (`duckdb.ledger.load`). The
days are shown only when they add up to the metric's value exactly;
otherwise `explain` shows the value alone.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from dsl import tree
from dsl.rounding import divide
from interpreter.engines.duckdb.engine import connect
from interpreter.engines.duckdb.ledger import load
from interpreter.ledger.aggregate import aggregate
from interpreter.periods import Period

MOST_DAYS = 400  # a longer period is explained by its value alone


@dataclass(frozen=True)
class Stretch:
    """Days in a row at one level: `first` to `last`, both counted."""

    first: datetime.date
    last: datetime.date
    level: Decimal

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def daily(plan: tree.Plan, usage: str, customer: str, metric: str, start: datetime.date, end: datetime.date) -> list[Stretch] | None:
    """The customer's level of `metric` each day from `start` to `end`, days of one level together
    (None for a period longer than `MOST_DAYS`)."""
    count = (end - start).days + 1
    if count > MOST_DAYS:
        return None
    days = [start + datetime.timedelta(days=n) for n in range(count)]
    con = connect(plan)
    try:
        load(con, usage, plan)
        facts = aggregate(con, plan, [Period(day, day, 1, day, day) for day in days], customer=customer)
    finally:
        con.close()
    level = {f.period.start: f.values[metric] for f in facts}
    out: list[Stretch] = []
    for day in days:
        value = level.get(day, Decimal(0))  # a day without rows or a carried level
        if out and out[-1].level == value:
            out[-1] = Stretch(out[-1].first, day, value)
        else:
            out.append(Stretch(day, day, value))
    return out


def level_days(parts: list[Stretch]) -> Decimal:
    """The levels summed over the days (seat-days, say)."""
    return sum((s.level * s.days for s in parts), Decimal(0))


def matches(parts: list[Stretch], days: Decimal, value: Decimal) -> bool:
    """Whether the stretches give the metric's value: their level-days over the period's days."""
    return divide(level_days(parts), days) == value
