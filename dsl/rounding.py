"""The rounding modes a plan may name, the decimal context, and rounding to a step.

Shared by the `round()` built-in (`dsl.builtins`) and by the interpreter,
which rounds each document line to the currency's minor unit with these
same modes and this same context (`interpreter.rounding`).
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


def round_to_step(value: Decimal, step: Decimal, mode: str) -> Decimal:
    """`value` rounded to a multiple of `step` (e.g. 10 KRW, or 0.01)."""
    units = (value / step).quantize(Decimal(1), rounding=MODES[mode], context=CONTEXT)
    return plain_zero(CONTEXT.multiply(units, step))


def plain_zero(value: Decimal) -> Decimal:
    """Zero without a sign: -0 never reaches a document."""
    return value.copy_abs() if value.is_zero() else value


def text(value: Decimal) -> str:
    """A decimal as plain text: no exponent, no needless trailing zeros."""
    if value == value.to_integral_value():
        return format(plain_zero(value.quantize(Decimal(1), context=CONTEXT)), "f")
    return format(plain_zero(value.normalize(CONTEXT)), "f")
