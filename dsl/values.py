"""Values written as text (defaults, `--set NAME=VALUE`, ledger cells) read by type.

One place decides what `30%`, `2024-11-03`, `100_000` or `true` mean for a
declared type, so a plan default, a command-line input and a ledger cell are
read the same way. Numbers become `Decimal`, never float; money may carry the
plan's currency (`49 USD`), never another.
"""

from __future__ import annotations

import datetime
import decimal
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from dsl.currency import currency_problem, split_money
from dsl.types import Type, describe

_NUMBER = re.compile(r"^[-+]?\d(_?\d)*(\.\d(_?\d)*)?$")
_PERCENT = re.compile(r"^([-+]?\d(_?\d)*(\.\d(_?\d)*)?)%$")


# Rating computes with 40 significant digits (and percentage fees in SQL decimals of 38, 10
# of them for the ledger's decimal places): a plan number with at most 18 digits before the
# point and 10 after leaves room for any realistic quantity, and a fee's decimals beside the
# ledger amount's. Beyond that a line would overflow or be rounded where no one asked.
MAX_WHOLE_DIGITS = 18
MAX_DECIMALS = 10


class ValueProblem(Exception):
    """A value that does not fit its type; the message says why."""


def digits_problem(value: Decimal, written: str) -> str | None:
    """Why a number written in a plan (or given for one) is too large or too fine to rate exactly."""
    if not value.is_finite():
        return f"{written} is not a finite number"
    # normalized in as many digits as it has: the default 28 would round 29 nines up to a 30-digit number
    normal = value.normalize(decimal.Context(prec=max(1, len(value.as_tuple().digits))))
    exponent = normal.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number's exponent is a number, not 'n' or 'F'
    digits = len(normal.as_tuple().digits)
    whole = max(0, digits + exponent) if value else 0
    decimals = max(0, -exponent)
    if whole > MAX_WHOLE_DIGITS:
        return f"too many digits: {written} has {whole} before the decimal point, and amounts are computed exactly only up to {MAX_WHOLE_DIGITS}"
    if decimals > MAX_DECIMALS:
        return f"too many decimal places: {written} has {decimals}, and amounts are computed exactly only up to {MAX_DECIMALS}"
    return None


def percent_text(written: str, value: Decimal) -> str:
    """How a percent is named in a digits problem: as written and as the fraction that counts."""
    return f"{written} ({value:f})"


def convert(value: Any, t: Type) -> Any:
    """`value` (text, Decimal, bool or date) as a value of type `t`, or ValueProblem."""
    kind = t.kind
    if kind == "money" and isinstance(value, str) and (parts := split_money(value)) is not None:
        number, code = parts
        problem = currency_problem(value.strip(), code, t.currency) or digits_problem(number, value.strip())
        if problem:
            raise ValueProblem(problem)
        return number
    if kind in ("money", "number", "integer"):
        number = _decimal(value, t)
        if kind == "integer" and number != number.to_integral_value():
            raise ValueProblem(f"{value!r} is not a whole number")
        return _exact(number, str(value).strip() if isinstance(value, str) else f"{number:f}")
    if kind == "percent":
        if isinstance(value, Decimal):
            return _exact(value, f"{value:f}")
        text = str(value).strip()
        match = _PERCENT.match(text)
        if isinstance(value, str) and match:
            number = Decimal(match.group(1).replace("_", "")) / 100
            return _exact(number, percent_text(text, number))
        raise ValueProblem(f"{value!r} is not a percent (write it like 30% or 3.3%)")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise ValueProblem(f"{value!r} is not true or false")
    if kind == "date":
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        try:
            return datetime.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueProblem(f"{value!r} is not a date (write it like 2024-11-03)") from None
    if kind == "text":
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    raise ValueProblem(f"cannot read a value of type {describe(t)}")  # pragma: no cover


def _exact(number: Decimal, written: str) -> Decimal:
    problem = digits_problem(number, written)
    if problem:
        raise ValueProblem(problem)
    return number


def _decimal(value: Any, t: Type) -> Decimal:
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueProblem(f"{value!r} is not a finite number")
        return value
    if isinstance(value, int):
        return Decimal(value)
    text = str(value).strip()
    if _NUMBER.match(text):
        try:
            return Decimal(text.replace("_", ""))
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            pass
    raise ValueProblem(f"{value!r} is not a {'whole number' if t.kind == 'integer' else 'number'}")
