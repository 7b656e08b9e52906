"""Every rounding of money: the modes a plan may name, the decimal context, and the plain text of amounts.

Amounts are rounded once per document line, to the currency's minor unit
(ISO 4217 digits), in the mode the plan or the line declares
(`round_money`); the `round()` built-in rounds to a step (`round_to_step`).
The pricing models, the built-ins and every stage of the interpreter round
here, with these modes and this context, and nowhere else.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

MODES = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
}

# Enough digits for any bill; inexact division is the only loss, and it is
# followed by an explicit rounding before anything is shown.
CONTEXT = decimal.Context(
    prec=40,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

_UNITS = {digits: Decimal(1).scaleb(-digits) for digits in range(0, 5)}


def _unit(digits: int) -> Decimal:
    return _UNITS.get(digits) or Decimal(1).scaleb(-digits)


def round_money(value: Decimal, digits: int, mode: str) -> Decimal:
    """`value` rounded to the currency's minor unit."""
    return plain_zero(value.quantize(_unit(digits), rounding=MODES[mode], context=CONTEXT))


def round_to_step(value: Decimal, step: Decimal, mode: str) -> Decimal:
    """`value` rounded to a multiple of `step` (e.g. 10 KRW, or 0.01)."""
    units = (value / step).quantize(Decimal(1), rounding=MODES[mode], context=CONTEXT)
    return plain_zero(CONTEXT.multiply(units, step))


def plain_zero(value: Decimal) -> Decimal:
    """Zero without a sign: -0 never reaches a document."""
    return value.copy_abs() if value.is_zero() else value


def money_text(value: Decimal, digits: int) -> str:
    """A rounded amount with exactly the currency's digits (`100000`, `12.50`)."""
    shown = format(value, "f")
    point = shown.find(".")
    if (point > 0 and point == len(shown) - digits - 1 if digits else point < 0) and shown[0] != "-":
        return shown  # the usual case: already written with the currency's digits
    return format(plain_zero(value.quantize(_unit(digits), context=CONTEXT)), "f")


def text(value: Decimal) -> str:
    """A decimal as plain text: no exponent, no needless trailing zeros."""
    if value == value.to_integral_value():
        return format(plain_zero(value.quantize(Decimal(1), context=CONTEXT)), "f")
    return format(plain_zero(value.normalize(CONTEXT)), "f")
