"""Rows on days their customer has no subscription: found in SQL, rejected with a reason.

A customer with subscriptions is billed for the days a subscription covers
(`pricing.timelines`); their accepted rows on the other days (before the
first subscription, after a cancellation) would count in no document.
`uncovered_sql` finds them among the checked rows, in DuckDB's dialect
(Spark runs it translated), so that each becomes a rejected row.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from interpreter.ledger.rows import Rejected
from interpreter.ledger.sql import literal

Days = tuple[str, datetime.date, datetime.date]  # a customer, and the first and last local day they have no subscription


def uncovered_sql(days: Iterable[Days], as_of: datetime.datetime | None = None, events: str = "events") -> str:
    """The accepted rows of `events` whose customer has no subscription on their local date (one of
    `days`), counted up to `as_of`: columns `__row, event_id, __customer, "date"`, in row order."""
    values = ", ".join(f"({literal(customer)}, {literal(first)}, {literal(last)})" for customer, first, last in days)
    before = f" AND e.__ts < TIMESTAMPTZ '{as_of.isoformat()}'" if as_of is not None else ""
    return f"""
        WITH g(__customer, __first, __last) AS (VALUES {values})
        SELECT DISTINCT e.__row, e.event_id, g.__customer, e."date"
        FROM {events} AS e JOIN g ON e.customer = g.__customer AND e."date" BETWEEN g.__first AND g.__last
        WHERE e.__reason IS NULL{before}
        ORDER BY e.__row
    """


def rejected(rows: Iterable[tuple]) -> list[tuple[Rejected, datetime.date]]:
    """The rows `uncovered_sql` found, as rejected rows with their local date."""
    return [
        (Rejected(int(row), event_id, f"customer {customer!r} has no subscription on {day.isoformat()}"), day)
        for row, event_id, customer, day in rows
    ]
