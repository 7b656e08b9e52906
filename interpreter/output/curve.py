"""Price curves: a charge's amount at each quantity from 0 to Q, as data or as a chart.

The points are those a reader checks first: every tier bound with the
quantities on either side of it (49,999,999, 50,000,000 and 50,000,001 for
`below: 50_000_000`), the free units and package sizes, and evenly spaced
quantities between them. Each amount is what the charge's line would be on a
document for that quantity: the pricing model, a constant multiplier, then
the rounding to the currency's minor unit. The `when:` of the charge is left
out: the curve shows the price when the charge applies.

The chart is a Vega-Lite specification built with altair; the workbench page
draws the same specification in the browser, and `svg`/`png` are rendered
from it by vl-convert. Quantities and amounts travel as decimal strings that
Vega parses for drawing; the tooltip shows the exact amount.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from dsl import tree
from dsl.pricing_models import MODELS, Priced, bounded
from dsl.rounding import CONTEXT, ROUNDED_DIGITS, ROUNDING, money_text, round_money, text
from interpreter.pricing.evaluate import EvaluationError, evaluate

SAMPLES = 200  # evenly spaced quantities besides the bounds
PACKAGE_STEPS = 400  # package boundaries listed one by one up to this many
ONE = Decimal(1)


class CurveProblem(Exception):
    """A curve that cannot be drawn for this charge; the message says why."""


@dataclass(frozen=True)
class Curve:
    charge: str
    name: str
    model: str
    currency: str
    digits: int
    points: tuple[tuple[Decimal, Decimal], ...]  # (quantity, rounded amount), increasing quantity
    bounds: tuple[tuple[Decimal, str], ...]  # where the price changes, with a label
    steps: bool = False  # the amount holds between points (flat tiers, packages) rather than growing
    note: str = ""


def find_charge(plan: tree.Plan, charge_id: str) -> tree.Charge:
    import difflib

    for charge in plan.charges:
        if charge.id == charge_id:
            return charge
    names = [c.id for c in plan.charges]
    close = difflib.get_close_matches(charge_id, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else (f"; it has {', '.join(names)}" if names else "; it has none")
    raise CurveProblem(f"plan {plan.id!r} has no charge {charge_id!r}{hint}")


def priced_by_quantity(charge: tree.Charge) -> bool:
    """Whether one quantity gives the charge's amount (a grouped charge: when its own keys price a group)."""
    return MODELS[charge.model].priced_on == "quantity" and charge.default


def bounds(charge: tree.Charge) -> list[tuple[Decimal, str]]:
    """The quantities where the price changes, each with a short label for the chart."""
    from interpreter.output.invoice_html import number

    out = []
    for tier in charge.tiers:
        if tier.bound is not None:
            out.append((tier.bound, f"{'≤' if tier.inclusive else '<'} {number(tier.bound)}"))
    if charge.free_units:
        out.append((charge.free_units, f"{number(charge.free_units)} free"))
    return out


def default_to(charge: tree.Charge) -> Decimal:
    """Twice the largest quantity where something happens (a tier bound, the free units, ten packages)."""
    marks = [b for b, _ in bounds(charge)]
    if charge.package_size:
        marks.append(charge.free_units + 10 * charge.package_size)
    largest = max(marks, default=Decimal(50))
    return (largest * 2).to_integral_value(rounding=ROUND_CEILING)


def quantities(charge: tree.Charge, to: Decimal) -> list[Decimal]:
    marks = {Decimal(0), to}
    for bound, _ in bounds(charge):
        marks |= {bound - ONE, bound, bound + ONE}
    if charge.package_size:
        start, size = charge.free_units, charge.package_size
        if (to - start) / size <= PACKAGE_STEPS:
            count = int(max(to - start, Decimal(0)) / size) + 1
            marks |= {start + k * size + d for k in range(count + 1) for d in (Decimal(0), ONE)}
    step = (to / SAMPLES).to_integral_value(rounding=ROUND_CEILING)  # whole units: every one when Q is small
    if step > 0:
        marks |= {step * k for k in range(int(to / step) + 1)}
    return sorted(q for q in marks if 0 <= q <= to)


def read_quantity(text: str | None) -> Decimal | None:
    """`--to`: a quantity as written in plans (`1_000_000`); None when not given."""
    from dsl.types import NUMBER
    from dsl.values import ValueProblem, convert

    if text is None:
        return None
    try:  # read as a plan's numbers are: no NaN or infinity, within the digits rated exactly
        return convert(text, NUMBER)
    except ValueProblem as problem:
        raise CurveProblem(f"--to {text!r}: {problem}; write a quantity such as 1_000_000") from None


def curve(plan: tree.Plan, charge_id: str, to: Decimal | None = None) -> Curve:
    charge = find_charge(plan, charge_id)
    if MODELS[charge.model].priced_on == "quantity" and not charge.default:
        raise CurveProblem(f"charge {charge_id!r} is priced per group by its `prices:` table only: it has no price of its own to draw")
    if not priced_by_quantity(charge):
        raise CurveProblem(
            f"charge {charge_id!r} is priced by the {charge.model!r} model: its amount does not follow "
            f"one quantity (curves are drawn for {', '.join(m.name for m in MODELS.values() if m.priced_on == 'quantity')} charges)"
        )
    to = default_to(charge) if to is None else to
    if to < 0:
        raise CurveProblem("--to must be 0 or more")
    factor, note = ONE, ""
    if charge.multiplier is not None:
        try:
            factor = evaluate(charge.multiplier, {})
        except EvaluationError:
            note = "the multiplier depends on the period's usage or the customer and is not applied"
    with decimal.localcontext(ROUNDING):  # the quantities drawn are sampled: their divisions may round
        drawn = quantities(charge, to)
    points = []
    with decimal.localcontext(CONTEXT):
        for q in drawn:
            try:
                points.append((q, amount_at(plan, charge, q, factor)))
            except ArithmeticError:  # as a document's line would fail: more digits than are computed exactly
                raise CurveProblem(
                    f"the amount at quantity {text(q)} has more than {ROUNDED_DIGITS} digits and cannot be "
                    "computed exactly; give a smaller --to"
                ) from None
    steps = MODELS[charge.model].stepped(charge)
    return Curve(charge.id, charge.name, charge.model, plan.currency, plan.minor_digits, tuple(points), tuple(bounds(charge)), steps, note)


def amount_at(plan: tree.Plan, charge: tree.Charge, quantity: Decimal, factor: Decimal = ONE) -> Decimal:
    """The rounded line amount of `charge` for `quantity`, as a document would show it."""
    amount = MODELS[charge.model].price(quantity, charge, False).amount
    if factor != ONE:
        amount = CONTEXT.multiply(amount, factor)
    amount = bounded(Priced(amount, ()), charge).amount  # the charge's own minimum and maximum
    return round_money(amount, plan.minor_digits, charge.rounding)


def to_csv(c: Curve) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("quantity", "amount"))
    for quantity, amount in c.points:
        writer.writerow((text(quantity), money_text(amount, c.digits)))
    return out.getvalue()


def to_data(c: Curve) -> dict:
    return {
        "charge": c.charge,
        "currency": c.currency,
        "points": [{"quantity": text(q), "amount": money_text(a, c.digits)} for q, a in c.points],
    }


def to_json(c: Curve) -> str:
    return json.dumps(to_data(c), indent=2, ensure_ascii=False)


# Axis labels of large quantities: 50M, 1.5B (the tooltip and the tier labels give exact numbers).
COMPACT = (
    "datum.value >= 1e9 ? format(datum.value / 1e9, ',~r') + 'B' : datum.value >= 1e6 ? format(datum.value / 1e6, ',~r') + 'M'"
    " : datum.value >= 1e4 ? format(datum.value / 1e3, ',~r') + 'K' : format(datum.value, ',~r')"
)


def chart(c: Curve, width: int | str = 560, height: int = 240) -> dict:
    """The Vega-Lite specification of the curve: the amount line, the tier bounds, exact amounts on hover."""
    import altair as alt

    from interpreter.output.invoice_html import money, number

    values = [
        {"quantity": text(q), "amount": money_text(a, c.digits), "quantity_text": number(q), "amount_text": money(a, c.currency)}
        for q, a in c.points
    ]
    parse = alt.DataFormat(parse={"quantity": "number", "amount": "number"})
    data = alt.Data(values=values, format=parse)
    x = alt.X("quantity:Q", title="Quantity", axis=alt.Axis(labelExpr=COMPACT, tickCount=6, labelFlush=True))
    y = alt.Y("amount:Q", title=f"Amount ({c.currency})", axis=alt.Axis(format=",~f"))
    line = alt.Chart(data).mark_line(interpolate="step-after" if c.steps else "linear", strokeWidth=2, color="#2f5bea").encode(x=x, y=y)
    hover = alt.selection_point(name="hover", nearest=True, on="pointerover", fields=["quantity"], empty=False, clear="pointerout")
    dots = (
        alt.Chart(data)
        .mark_point(filled=True, size=70, color="#2f5bea")
        .encode(
            x=x,
            y=y,
            opacity=alt.condition(hover, alt.value(1), alt.value(0)),
            tooltip=[alt.Tooltip("quantity_text:N", title="Quantity"), alt.Tooltip("amount_text:N", title="Amount")],
        )
        .add_params(hover)
    )
    layers = [line, dots]
    if c.bounds:
        # labels of nearby bounds would overlap: each goes one row lower than the one before, over three rows
        marks = alt.Data(
            values=[{"bound": text(b), "label": label, "row": str(2 + 13 * (i % 3))} for i, (b, label) in enumerate(c.bounds)],
            format=alt.DataFormat(parse={"bound": "number", "row": "number"}),
        )
        rules = alt.Chart(marks).mark_rule(strokeDash=[4, 4], color="#9aa3b5").encode(x="bound:Q")
        labels = (
            alt.Chart(marks)
            .mark_text(align="left", dx=4, dy=-4, baseline="top", fontSize=10, color="#6b7385")
            .encode(x="bound:Q", y=alt.Y("row:Q", scale=None), text="label:N")
        )
        layers += [rules, labels]
    title = alt.TitleParams(c.name, subtitle=f"{c.charge} · {c.model.replace('_', ' ')}", anchor="start")
    layered = alt.layer(*layers).properties(width=width, height=height, title=title)
    return layered.configure_view(strokeWidth=0).configure_axis(grid=True, gridColor="#eef0f5").to_dict()


def to_svg(c: Curve) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart(c))


def to_png(c: Curve) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(chart(c), scale=2)


def rendered(c: Curve, fmt: str) -> str | bytes:
    """The curve in a `ratecard curve --format`: csv, json, svg (text) or png (bytes)."""
    formats: dict[str, Callable[[Curve], str | bytes]] = {
        "csv": to_csv,
        "json": lambda curve: to_json(curve) + "\n",
        "svg": to_svg,
        "png": to_png,
    }
    return formats[fmt](c)


def write(body: str | bytes, path: str) -> None:
    """A rendered curve written to the file at `path` (text as UTF-8); an `OSError` when it cannot be."""
    with open(path, "wb") as handle:
        handle.write(body if isinstance(body, bytes) else body.encode("utf-8"))
