"""The values plan keys take, as pydantic types: amounts, money, prices, expressions.

Amounts are exact Decimals written as `100_000`, `12.50` or `3.3%`; money may
name the plan's currency (`0.002 USD`, checked against it); expressions are
kept as text for `dsl.compiler`. `Strict` is the base of every plan model.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, WithJsonSchema

from dsl.currency import currency_problem, split_money
from dsl.values import digits_problem, percent_text

TypeName = Literal["money", "number", "integer", "percent", "bool", "text", "date"]
Rounding = Literal["half_up", "half_even", "down", "up"]
_AMOUNT = re.compile(r"^\s*([-+]?\d(_?\d)*(\.\d(_?\d)*)?)\s*(%?)\s*$")


def parse_amount(value: Any) -> Any:
    """`100_000`, `12.50`, `10%` or `3.3%` as an exact Decimal (percent as a fraction)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    if isinstance(value, (Decimal, int)):
        return _exact(Decimal(value), f"{Decimal(value):f}")
    if isinstance(value, str):
        match = _AMOUNT.match(value)
        if match:
            try:
                number = Decimal(match.group(1).replace("_", ""))
            except InvalidOperation:  # pragma: no cover - the pattern admits only digits
                raise ValueError(f"{value!r} is not a number") from None
            if match.group(5):
                return _exact(number / 100, percent_text(value.strip(), number / 100))
            return _exact(number, f"{number:f}")
        raise ValueError(f"{value!r} is not a number (write 100_000, 12.50 or 3.3%)")
    raise ValueError("expected a number")


def _exact(number: Decimal, written: str) -> Decimal:
    problem = digits_problem(number, written)
    if problem:
        raise ValueError(problem)
    return number


_NUMBER_PATTERN = r"[-+]?\d(_?\d)*(\.\d(_?\d)*)?"


def _spelled(suffix: str) -> dict:
    return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": f"^{_NUMBER_PATTERN}{suffix}$"}]}


Amount = Annotated[Decimal, BeforeValidator(parse_amount), WithJsonSchema(_spelled("%?"))]


def _money(value: Any, info: ValidationInfo, percent: bool) -> Any:
    """A number, or a number in the plan's currency (`0.002 USD`); the currency comes from the
    validation context, so `49 EUR` in a USD plan fails here, at the value."""
    if isinstance(value, str):
        written = split_money(value)
        if written is not None:
            plan_currency = (info.context or {}).get("currency")
            problem = currency_problem(value.strip(), written[1], plan_currency if isinstance(plan_currency, str) else None)
            if problem:
                raise ValueError(problem)
            return _exact(written[0], value.strip())
        if not percent and value.strip().endswith("%") and _AMOUNT.match(value):
            raise ValueError(f"{value.strip()!r} is an amount of money, not a percent")
    return parse_amount(value)


# Money: a number or a number in the plan's currency. A price per unit may also be a
# percent, since the quantity may itself be money (2% of the volume in a tier).
Money = Annotated[
    Decimal,
    BeforeValidator(lambda value, info: _money(value, info, percent=False)),
    WithJsonSchema(_spelled(r"( ?[A-Z]{3})?")),
]
Price = Annotated[
    Decimal,
    BeforeValidator(lambda value, info: _money(value, info, percent=True)),
    WithJsonSchema(_spelled(r"(%| ?[A-Z]{3})?")),
]


def _expression(value: Any) -> Any:
    if isinstance(value, (bool, Decimal, str)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    raise ValueError("expected an expression (text, a number or true/false)")


Expression = Annotated[
    Any,
    BeforeValidator(_expression),
    WithJsonSchema({"type": ["string", "number", "boolean"], "description": "An expression in the ratecard expression language."}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
