"""The quota rule: running usage may never exceed the running limit.

Sequential by nature (a refused row does not count toward later ones), so the
refusals are decided in Python (`quota_refusals`) over only the rows that
change usage or limit; each engine selects those rows with `quota_rows_sql`
and hands them over in time order per customer. A customer is limited from
their first limit change on; before it (or without any) usage is
unlimited. With `reset: period`, both running sums start again at each
period.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable

from dsl import tree
from interpreter.ledger.sql import ident

# Whole numbers of up to 38 digits, summed over a customer's rows: exact (Python's default keeps 28 digits).
_EXACT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation])
_ZERO = decimal.Decimal(0)


def quota_rows_sql(quota: tree.Quota, relation: str) -> str:
    """The accepted rows that change usage or limit: `__row, customer, "date", usage, limit, __ts` (unordered)."""
    usage, limit = ident(quota.usage), ident(quota.limit)
    return f"""
        SELECT __row, customer, "date", {usage} AS __usage, {limit} AS __limit, __ts
        FROM {relation}
        WHERE __reason IS NULL AND ({usage} <> 0 OR {limit} <> 0)
    """


def quota_refusals(rows: Iterable[tuple], quota: tree.Quota, period_start=None) -> list[tuple[int, str]]:
    """(row, reason) of each row refused by the quota.

    `rows` are `(row, customer, date, usage change, limit change, ...)` in
    time order per customer, each customer's rows together (as
    `quota_rows_sql` ordered by customer, instant, row).
    """
    refused = []
    current, used, allowed, limited = None, _ZERO, _ZERO, False
    for row, customer, day, change, allowance, *_ in rows:
        key = (customer, period_start(day) if quota.reset == "period" and period_start else None)
        if key != current:
            if current is None or key[0] != current[0]:
                limited = False
            current, used, allowed = key, _ZERO, _ZERO
        allowed = _EXACT.add(allowed, allowance)
        limited = limited or allowance != 0
        after = _EXACT.add(used, change)
        if limited and change > 0 and after > allowed:
            refused.append((row, f"{quota.message} (running usage {after} > quota {allowed})"))
            continue
        used = after
    return refused
