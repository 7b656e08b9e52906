"""Every rounding of money: the modes a plan may name, the decimal contexts, and the plain text of amounts.

Amounts are rounded once per document line, to the currency's minor unit
(ISO 4217 digits), in the mode the plan or the line declares
(`round_money`); the `round()` built-in rounds to a step (`round_to_step`).
The pricing models, the built-ins and every stage of the interpreter round
here, with these modes and these contexts, and nowhere else.

Sums and products are exact (`CONTEXT`): nothing is rounded before the
rounding a plan declares, and arithmetic that would need to round stops with
`decimal.Inexact` instead. A quotient is the one value rounded on the way
(`divide`, to 40 significant digits), and a rounded amount holds at most 40.
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

# A plan writes at most 28 digits (18 whole, 10 decimal places: `dsl.values`), a
# ledger 38: a quantity times a price has at most 66, times a multiplier 94, and a
# 40-digit quotient times a price 68. Sums and products keep up to 100 digits and
# trap Inexact: past that a document fails at its place, never silently rounded.
EXACT_DIGITS = 100
CONTEXT = decimal.Context(
    prec=EXACT_DIGITS,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
# The digits of a quotient, and the most a rounded amount may have (InvalidOperation past them).
ROUNDED_DIGITS = 40
ROUNDING = decimal.Context(
    prec=ROUNDED_DIGITS,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

_UNITS = {digits: Decimal(1).scaleb(-digits) for digits in range(0, 5)}


def _unit(digits: int) -> Decimal:
    return _UNITS.get(digits) or Decimal(1).scaleb(-digits)


def divide(dividend: Decimal, divisor: Decimal) -> Decimal:
    """`dividend / divisor` to 40 significant digits: the one step that rounds before a declared rounding."""
    return ROUNDING.divide(dividend, divisor)


def round_money(value: Decimal, digits: int, mode: str) -> Decimal:
    """`value` rounded to the currency's minor unit."""
    return plain_zero(value.quantize(_unit(digits), rounding=MODES[mode], context=ROUNDING))


def round_to_step(value: Decimal, step: Decimal, mode: str) -> Decimal:
    """`value` rounded to a multiple of `step` (e.g. 10 KRW, or 0.01)."""
    units = ROUNDING.divide(value, step).quantize(Decimal(1), rounding=MODES[mode], context=ROUNDING)
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
    return format(plain_zero(value.quantize(_unit(digits), context=ROUNDING)), "f")


def text(value: Decimal) -> str:
    """A decimal as plain text: no exponent, no needless trailing zeros."""
    if value == value.to_integral_value():
        return format(plain_zero(value.quantize(Decimal(1), context=CONTEXT)), "f")
    return format(plain_zero(value.normalize(CONTEXT)), "f")
