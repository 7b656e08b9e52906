"""Every rounding of money happens here, and the plain text of amounts.

Amounts are rounded once per document line, to the currency's minor unit
(ISO 4217 digits), in the mode the plan or the line declares. The modes, the
decimal context and the `round()` built-in's rounding to a step are in
`dsl.rounding`.
"""

from __future__ import annotations

from decimal import Decimal

from dsl.rounding import CONTEXT, MODES

_UNITS = {digits: Decimal(1).scaleb(-digits) for digits in range(0, 5)}


def _unit(digits: int) -> Decimal:
    return _UNITS.get(digits) or Decimal(1).scaleb(-digits)


def round_money(value: Decimal, digits: int, mode: str) -> Decimal:
    """`value` rounded to the currency's minor unit."""
    rounded = value.quantize(_unit(digits), rounding=MODES[mode], context=CONTEXT)
    return rounded if rounded else rounded.copy_abs()


def money_text(value: Decimal, digits: int) -> str:
    """A rounded amount with exactly the currency's digits (`100000`, `12.50`)."""
    shown = format(value, "f")
    point = shown.find(".")
    if (point > 0 and point == len(shown) - digits - 1 if digits else point < 0) and shown[0] != "-":
        return shown  # the usual case: already written with the currency's digits
    value = value.quantize(_unit(digits), context=CONTEXT)
    return format(value if value else value.copy_abs(), "f")
