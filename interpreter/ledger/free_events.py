"""Stage 1 of percentage charges with `free_events:` or `free_amount:`: which events are free, in SQL.

An event is free while fewer than N earlier events were free and the running
sum of amounts stays within X; the event that crosses X pays the rate on its
part above X (and the fixed fee, clamped like any paying event). Events are
taken in timestamp order, ties by ledger order (`__row`), per customer and
period (and per group of a grouped charge).

Window functions give each event its place: the count and the running sum
of the charge's events up to and including it (`__fn<k>`, `__fs<k>` for the
k-th charge of the plan), per window of the aggregate query (a row falls in
more than one when subscription windows cut a period), joined to the
aggregate's rows by row and window so that no row is counted twice. The aggregate then counts and sums only the
paying events, each on the part of its amount that is not free; nothing is
looped over in Python.
"""

from __future__ import annotations

from dsl import tree
from interpreter.ledger.groups import per_entry
from interpreter.ledger.rows import NUMBER_SQL
from interpreter.ledger.sql import decimal_literal, ident, to_sql


def _frees(charge: tree.Charge) -> bool:
    return charge.free_events is not None or charge.free_amount is not None


def windowed(plan: tree.Plan) -> list[tuple[int, tree.Charge]]:
    """(index in the plan, charge) of each charge some of whose events may be free."""
    return [(k, ch) for k, ch in enumerate(plan.charges) if _frees(ch) or any(_frees(e.charge) for e in ch.prices)]


def join_sql(plan: tree.Plan, events: str) -> str:
    """A join giving each row of `events` in a window of the aggregate query (`e` joined to `w`) each
    windowed charge's running count and sum in that window (as `f`); nothing when there is none."""
    charges = windowed(plan)
    if not charges:
        return ""
    columns = []
    for k, ch in charges:
        counted = "x.__reason IS NULL" + (f" AND {to_sql(ch.where)}" if ch.where is not None else "")
        keys = ", ".join(["x.customer", "wp.__pid", *(f"x.{ident(name)}" for name in ch.group_by)])
        over = f"OVER (PARTITION BY {keys} ORDER BY x.__ts, x.__row ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        amount = f"CAST(x.{ident(_field(ch))} AS {NUMBER_SQL})"
        columns.append(f"sum(CASE WHEN {counted} THEN 1 ELSE 0 END) {over} AS __fn{k}")
        columns.append(f"sum(CASE WHEN {counted} THEN {amount} ELSE CAST(0 AS {NUMBER_SQL}) END) {over} AS __fs{k}")
    return f"""LEFT JOIN (SELECT x.__row AS __frow, wp.__pid AS __fpid, {", ".join(columns)}
        FROM {events} AS x JOIN w AS wp ON x.__ts >= wp.__ts_start AND x.__ts < wp.__ts_end) AS f
        ON f.__frow = e.__row AND f.__fpid = w.__pid"""


def _field(charge: tree.Charge) -> str:
    assert charge.field is not None  # a percentage charge names its usage field
    return charge.field


def _amount(charge: tree.Charge) -> str:
    return f"CAST(e.{ident(_field(charge))} AS {NUMBER_SQL})"


def _within_count(priced: tree.Charge, k: int) -> str:
    return "TRUE" if priced.free_events is None else f"f.__fn{k} <= {decimal_literal(priced.free_events)}"


def free_sql(charge: tree.Charge, k: int) -> str:
    """True for an event of `charge` that is free (under the price entry of its group)."""

    def free(priced: tree.Charge) -> str:
        if not _frees(priced):
            return "FALSE"
        within_amount = "TRUE" if priced.free_amount is None else f"f.__fs{k} <= {decimal_literal(priced.free_amount)}"
        return f"({_within_count(priced, k)}) AND ({within_amount})"

    return per_entry(charge, free)


def paid_sql(charge: tree.Charge, k: int) -> str:
    """The part of an event's amount that pays the rate: all of it, or what goes past the free amount."""

    def paid(priced: tree.Charge) -> str:
        amount = _amount(charge)
        if priced.free_amount is None:
            return amount
        before = f"(f.__fs{k} - {amount})"
        left = f"GREATEST(LEAST({decimal_literal(priced.free_amount)} - {before}, {amount}), CAST(0 AS {NUMBER_SQL}))"
        return f"(CASE WHEN {_within_count(priced, k)} THEN {amount} - {left} ELSE {amount} END)"

    return per_entry(charge, paid)
