"""Numbers for people: the one formatting of amounts, quantities and rates that every human output shares.

The terminal table of `rate`, `diff` (table and Markdown), `explain`, the
`run` summary, the HTML invoices and the workbench all show money as babel
formats it for the plan's currency and a locale (`₩330,000`, `$1,234.56`, `-₩5,000`,
`BHD1.234`), quantities with grouping (`12,300,000`), rates as percents
(`10%`, `8.875%`) and tier ranges in words. The machine formats (JSON, YAML,
CSV, JSON lines) keep plain decimal strings and never come here.

An amount with more digits than its currency (a unit price such as
`$0.0015`) keeps them. babel computes in the current decimal context, whose
28 digits would refuse a 38-digit amount, so every call runs under the
engines' context. A quotient with more than six decimal places (a
time-weighted average, an unrounded share) can be shown cut to six, marked `≈`.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

from babel.numbers import format_currency, format_decimal, format_percent

from dsl import tree
from dsl.groups import value_text
from dsl.pricing_models import MODELS
from dsl.rounding import ROUNDING

DEFAULT_LOCALE = "en"
PLACES = 6  # decimal places shown of a value cut with `≈`

_ROUNDING_WORDS = {"half_up": "half up", "half_even": "half to even", "down": "down", "up": "up"}


def _decimal(value: str | Decimal | int) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def cut(value: str | Decimal | int, places: int = PLACES) -> tuple[Decimal, bool]:
    """`value` with at most `places` decimal places (half up), and whether digits were dropped."""
    value = _decimal(value)
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -places:
        return value, False
    short = value.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP, context=ROUNDING).normalize(ROUNDING)
    return (short, True) if short != value else (value, False)


def money(amount: str | Decimal | int, currency: str, locale: str = DEFAULT_LOCALE, places: int | None = None) -> str:
    """An amount for people: `₩330,000`, `$1,234.56`, `-₩5,000`; prices keep digits past the minor unit.
    With `places`, digits beyond that many decimal places are cut and the amount marked `≈`."""
    value, approximate = cut(amount, places) if places is not None else (_decimal(amount), False)
    with decimal.localcontext(ROUNDING):
        shown = format_currency(value, currency, locale=locale, decimal_quantization=False)
    return "≈" + shown if approximate else shown


def signed_money(amount: str | Decimal | int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """A change of an amount: `+₩55,000`, `-₩55,000`, `₩0`."""
    value = _decimal(amount)
    return ("+" if value > 0 else "") + money(value, currency, locale)


def number(value: str | Decimal | int, locale: str = DEFAULT_LOCALE, places: int | None = None) -> str:
    """A quantity with grouping, every digit kept (`12,300,000`, `0.7`); with `places`, cut and marked `≈`."""
    value, approximate = cut(value, places) if places is not None else (_decimal(value), False)
    if not value:
        value = value.copy_abs()  # no `-0`
    with decimal.localcontext(ROUNDING):
        shown = format_decimal(value, locale=locale, decimal_quantization=False)
    return "≈" + shown if approximate else shown


def percent(rate: str | Decimal | int, locale: str = DEFAULT_LOCALE) -> str:
    """A rate as a percent: `0.10` -> `10%`, `0.033` -> `3.3%`."""
    with decimal.localcontext(ROUNDING):
        return format_percent(_decimal(rate), locale=locale, decimal_quantization=False)


def signed_percent(points: str | Decimal | int, locale: str = DEFAULT_LOCALE) -> str:
    """A change given in percentage points (`16.67`) as `+16.67%`; `-10.00` as `-10%`."""
    value = _decimal(points)
    return ("+" if value > 0 else "") + percent(value / 100, locale)


def rounding(mode: str, digits: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """How a line is rounded, in words: `half up to ₩1`, `down to $0.01`."""
    return f"{_ROUNDING_WORDS.get(mode, mode)} to {money(Decimal(1).scaleb(-digits), currency, locale)}"


def tier_range(tiers: tuple[tree.Tier, ...], index: int, locale: str = DEFAULT_LOCALE) -> str:
    """Which quantities a tier covers, in words: `50,000,000 to under 100,000,000`."""
    tier = tiers[index]
    previous = tiers[index - 1] if index else None
    if tier.bound is not None:
        upper = f"up to {number(tier.bound, locale)}" if tier.inclusive else f"under {number(tier.bound, locale)}"
    if previous is None:
        return upper if tier.bound is not None else "every quantity"
    below = previous.bound if previous.bound is not None else Decimal(0)  # only the last tier has no bound
    lower = f"above {number(below, locale)}" if previous.inclusive else f"{number(below, locale)}"
    if tier.bound is None:
        return f"{lower} and more" if not previous.inclusive else lower
    return f"{lower} to {upper}" if not previous.inclusive else f"{lower}, {upper}"


_TIER_STEP = re.compile(r"tier (\d+) ")


def charge_of(plan: tree.Plan, line_id: str) -> tree.Charge | None:
    """The charge that priced a line: a grouped line `charge[v1,v2]` is priced by the first price
    entry of its charge that matches its group, else by the charge's own keys."""
    base, _, group = line_id.partition("[")
    charge = next((c for c in plan.charges if c.id == base), None)
    if charge is None or not group or not charge.prices:
        return charge
    named = dict(zip(charge.group_by, group.removesuffix("]").split(","), strict=False))
    for entry in charge.prices:
        if all(named.get(name) == value_text(value) for name, value in entry.match):
            return entry.charge
    return charge


def _tier_of(label: str, charge: tree.Charge | None) -> int | None:
    """The index of the charge's tier a step label names, when the label is about that very tier."""
    found = _TIER_STEP.match(label)
    if not found or charge is None or not 0 < int(found.group(1)) <= len(charge.tiers):
        return None
    index = int(found.group(1)) - 1
    bound = charge.tiers[index].bound
    # a group's own prices may have other tiers than its charge: then the label is shown as written
    if bound is not None and format(bound.normalize(ROUNDING), "f") not in label.replace("_", ""):
        return None
    return index


def _priced_on_usage(model: str) -> bool:
    """Whether a line of this kind (a pricing model, or "tax", "discount"...) priced usage, step by step."""
    model = model.split(",", 1)[0]  # a grouped line's trace names its price entry after the model
    return model in MODELS and MODELS[model].priced_on != "amount"


def breakdown(line, charge: tree.Charge | None, currency: str, locale: str = DEFAULT_LOCALE) -> list[dict]:
    """The trace steps of a charge line as rows (`label`, `quantity`, `price`, `flat`, `amount`):
    what was counted, at what price, for how much. Empty for a line without such steps."""
    trace = getattr(line, "trace", None)
    if trace is None or not trace.steps or not _priced_on_usage(trace.model):
        return []
    rows = []
    for step in trace.steps:
        label = step.text
        index = _tier_of(label, charge)
        tier = None
        if index is not None and charge is not None:
            tier = charge.tiers[index]
            label = f"Tier {index + 1} · {tier_range(charge.tiers, index, locale)}"
        amount = money(step.amount, currency, locale, PLACES)
        row = {"label": label, "quantity": None, "price": None, "flat": None, "amount": amount}
        if label.startswith("multiplied"):
            row.update(label="Multiplied", quantity=money(step.quantity, currency, locale), price=f"× {number(step.price, locale)}")
        elif " events at " in label:
            row.update(quantity=money(step.quantity, currency, locale), price=f"× {percent(step.price, locale)}")
        else:
            if step.quantity is not None:
                row["quantity"] = number(step.quantity, locale, PLACES)
            if step.price:
                row["price"] = f"× {money(step.price, currency, locale)}"
            if tier is not None and tier.flat:
                row["flat"] = f"+ {money(tier.flat, currency, locale)} flat"
        rows.append(row)
    return rows
