"""Values written as text (defaults, `--set NAME=VALUE`, ledger cells) read by type.

One place decides what `30%`, `2024-11-03`, `100_000` or `true` mean for a
declared type, so a plan default, a command-line input and a ledger cell are
read the same way. Numbers become `Decimal`, never float; money may carry the
plan's currency (`49 USD`), never another.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from dsl.currency import currency_problem, split_money
from dsl.types import Type, describe

_NUMBER = re.compile(r"^[-+]?\d(_?\d)*(\.\d(_?\d)*)?$")
_PERCENT = re.compile(r"^([-+]?\d(_?\d)*(\.\d(_?\d)*)?)%$")


class ValueProblem(Exception):
    """A value that does not fit its type; the message says why."""


def convert(value: Any, t: Type) -> Any:
    """`value` (text, Decimal, bool or date) as a value of type `t`, or ValueProblem."""
    kind = t.kind
    if kind == "money" and isinstance(value, str) and split_money(value) is not None:
        number, code = split_money(value)
        problem = currency_problem(value.strip(), code, t.currency)
        if problem:
            raise ValueProblem(problem)
        return number
    if kind in ("money", "number", "integer"):
        number = _decimal(value, t)
        if kind == "integer" and number != number.to_integral_value():
            raise ValueProblem(f"{value!r} is not a whole number")
        return number
    if kind == "percent":
        if isinstance(value, Decimal):
            return value
        text = str(value).strip()
        match = _PERCENT.match(text)
        if isinstance(value, str) and match:
            return Decimal(match.group(1).replace("_", "")) / 100
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
