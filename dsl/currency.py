"""The one rule for money written in a plan: in the plan's own currency, or an error.

A plan bills in one currency and never converts, so an amount written in another
currency (`49 EUR` in a USD plan) is a mistake wherever it is written: a price,
a tier, a discount, a default, an expression. The pricing keys, the expression
checker and values given outside the plan (`--set`, customers files) all ask here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

_MONEY = re.compile(r"^\s*([-+]?\d(_?\d)*(\.\d(_?\d)*)?)\s*([A-Za-z]+)\s*$")


@lru_cache(maxsize=1)
def known_codes() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def currency_problem(written: str, code: str, plan_currency: str | None) -> str | None:
    """Why `written` (money in `code`) cannot stand in a plan billed in `plan_currency` (None: it can).

    With the plan's currency unknown (missing or itself wrong, which is reported
    where it is written), any real currency code passes.
    """
    if code not in known_codes():
        hint = f"; did you mean {code.upper()!r}?" if code.upper() in known_codes() else ""
        return f"{code!r} is not a currency code (write amounts like 5_000 KRW or 12.50 USD){hint}"
    if plan_currency in known_codes() and code != plan_currency:
        return f"{written!r} is in {code}, but the plan's currency is {plan_currency} (amounts are never converted)"
    return None


def split_money(text: str) -> tuple[Decimal, str] | None:
    """`0.002 USD` -> (Decimal('0.002'), 'USD'); None when `text` is not a number and a word."""
    match = _MONEY.match(text)
    if match is None:
        return None
    return Decimal(match.group(1).replace("_", "")), match.group(5)
