"""Hypothesis properties of the rating engine.

Pricing properties run on the pure pricing functions; document and ledger
properties run the whole engine (DuckDB included) on small generated inputs.
"""

from __future__ import annotations

import calendar
import csv
import datetime
import inspect
import itertools
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dsl import tree
from dsl.errors import Span
from dsl.pricing_models import graduated, volume
from interpreter.engines.duckdb.engine import rate
from interpreter.ledger.aggregate import Facts
from interpreter.output.render import document_data, output_data
from interpreter.periods import split
from interpreter.pricing.documents import build
from plan_helpers import compile_plan

SPAN = Span("generated.yaml", 1, 1)
FAST = settings(max_examples=150, deadline=None)
ENGINE = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

amounts = st.decimals(min_value=0, max_value=1000, places=2)
quantities = st.decimals(min_value=-10, max_value=20_000, places=3)


@st.composite
def tier_tables(draw, max_tiers: int = 5) -> tuple[tree.Tier, ...]:
    """Valid tier tables: bounds increase; `below: N` then `up_to: N` is a tier holding only N."""
    count = draw(st.integers(1, max_tiers))
    tiers, bound, previous_inclusive = [], Decimal(0), None
    for index in range(count):
        price, flat = draw(amounts), draw(st.one_of(st.just(Decimal(0)), amounts))
        if index == count - 1:
            tiers.append(tree.Tier(None, False, price, flat, SPAN))
            break
        inclusive = draw(st.booleans())
        gap = draw(st.decimals(min_value=0, max_value=5000, places=2))
        if index == 0:
            gap = max(gap, Decimal(0)) if inclusive else max(gap, Decimal("0.01"))
        elif gap == 0 and not (previous_inclusive is False and inclusive):
            gap = Decimal("0.01")
        bound += gap
        tiers.append(tree.Tier(bound, inclusive, price, flat, SPAN))
        previous_inclusive = inclusive
    return tuple(tiers)


def charge(model: str, tiers) -> tree.Charge:
    return tree.Charge(id="fee", name="fee", model=model, quantity=None, when=None, rounding="half_up", span=SPAN, tiers=tiers)


def with_steps(function, quantity, priced_charge):
    """A pricing function's result with the steps `explain` shows (asked for when the function takes `trace`)."""
    if "trace" in inspect.signature(function).parameters:
        return function(quantity, priced_charge, trace=True)
    return function(quantity, priced_charge)


@FAST
@given(tier_tables(), quantities, quantities)
def test_graduated_price_never_decreases_as_quantity_grows(tiers, a, b):
    low, high = sorted((a, b))
    assert graduated(low, charge("graduated", tiers)).amount <= graduated(high, charge("graduated", tiers)).amount


@FAST
@given(tier_tables(), quantities)
def test_graduated_portions_add_up_to_the_quantity(tiers, quantity):
    steps = with_steps(graduated, quantity, charge("graduated", tiers)).steps
    assert steps
    assert sum((s.quantity for s in steps), Decimal(0)) == max(quantity, Decimal(0))
    assert all(s.quantity >= 0 for s in steps)


@FAST
@given(amounts, amounts, quantities)
def test_one_tier_graduated_equals_volume(price, flat, quantity):
    tiers = (tree.Tier(None, False, price, flat, SPAN),)
    assert graduated(quantity, charge("graduated", tiers)).amount == volume(quantity, charge("volume", tiers)).amount


@FAST
@given(tier_tables(), quantities)
def test_volume_prices_the_whole_quantity_at_the_tier_it_falls_in(tiers, quantity):
    chosen = next(t for t in tiers if t.bound is None or (quantity <= t.bound if t.inclusive else quantity < t.bound))
    assert volume(quantity, charge("volume", tiers)).amount == max(quantity, Decimal(0)) * chosen.unit_price + chosen.flat


# -- documents -------------------------------------------------------------------

CURRENCIES = {"USD": 2, "KRW": 0, "JPY": 0, "BHD": 3}
MODES = ["half_up", "half_even", "down", "up"]


def tier_yaml(tiers) -> str:
    out = []
    for t in tiers:
        bound = "" if t.bound is None else f"{'up_to' if t.inclusive else 'below'}: {t.bound}, "
        out.append(f"{{{bound}unit_price: {t.unit_price}, flat: {t.flat}}}")
    return "[" + ", ".join(out) + "]"


@st.composite
def invoice_plans(draw) -> str:
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    rate_ = st.decimals(min_value=0, max_value=30, places=3).map(lambda d: f"{d}%")
    lines = [
        "plan: generated",
        f"currency: {currency}",
        f"rounding: {draw(st.sampled_from(MODES))}",
        "usage: {units: number, amount: money}",
        "metrics:",
        "  units: {sum: units}",
        "  amount: {sum: amount}",
        "charges:",
        f"  base: {{model: flat, amount: {draw(amounts)}}}",
        f"  grad: {{model: graduated, on: units, rounding: {draw(st.sampled_from(MODES))}, tiers: {tier_yaml(draw(tier_tables()))}}}",
        f"  vol: {{model: volume, on: units, tiers: {tier_yaml(draw(tier_tables()))}}}",
        f"  unit: {{model: per_unit, on: units, unit_price: {draw(st.decimals(min_value=0, max_value=5, places=4))}, free_units: {draw(st.integers(0, 100))}}}",
        f"  pack: {{model: package, on: units, package_size: {draw(st.integers(1, 500))}, package_price: {draw(amounts)}}}",
        f"  fees: {{model: percentage, on: amount, rate: {draw(rate_)}, fixed_fee: {draw(amounts)}}}",
    ]
    if draw(st.booleans()):
        lines += ["discounts:", f"  promo: {{percent: {draw(rate_)}, applies_to: [grad, unit]}}", f"  voucher: {{amount: {draw(amounts)}}}"]
    if draw(st.booleans()):
        lines.append(f"minimum: {draw(st.decimals(min_value=0, max_value=50_000, places=2))}")
    taxes = draw(st.lists(st.tuples(rate_, st.sampled_from(MODES)), max_size=2))
    if taxes:
        lines.append("taxes:")
        lines += [f"  tax{i}: {{rate: {r}, rounding: {m}}}" for i, (r, m) in enumerate(taxes)]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@given(
    invoice_plans(),
    st.decimals(min_value=-50, max_value=20_000, places=3),
    st.decimals(min_value=0, max_value=100_000, places=2),
    st.integers(0, 20),
)
def test_lines_sum_to_subtotal_and_subtotal_plus_taxes_to_total(plan_text, units, amount, events):
    plan = compile_plan(plan_text)
    (period,) = split("month", datetime.date(2024, 11, 1), datetime.date(2024, 11, 30))
    values = {
        "units": units,
        "amount": amount,
        "fees.__low": Decimal(0),
        "fees.__high": Decimal(0),
        "fees.__count": Decimal(events),
        "fees.__sum": amount,
    }
    doc = build(plan, Facts("acme", period, 1, values), {})
    unit = Decimal(1).scaleb(-plan.minor_digits)
    for part in (*(line.amount for line in doc.lines), *(t.amount for t in doc.taxes), doc.subtotal, doc.total):
        assert type(part) is Decimal and part == part.quantize(unit)
    assert sum((line.amount for line in doc.lines), Decimal(0)) == doc.subtotal
    assert doc.subtotal + sum((t.amount for t in doc.taxes), Decimal(0)) == doc.total
    data = document_data(doc)
    assert sum(Decimal(line["amount"]) for line in data["lines"]) == Decimal(data["subtotal"])
    assert Decimal(data["subtotal"]) + sum(Decimal(t["amount"]) for t in data["taxes"]) == Decimal(data["total"])
    assert all(len(line["amount"].partition(".")[2]) == plan.minor_digits for line in data["lines"])
    if plan.minimum is not None:
        assert doc.subtotal >= plan.minimum.value.quantize(unit, rounding="ROUND_DOWN")
    charges = [line.amount for line in doc.lines if line.id in ("base", "grad", "vol", "unit", "pack", "fees")]
    discounts = [line.amount for line in doc.lines if line.id in ("promo", "voucher")]
    assert all(a >= 0 for a in charges) and all(a <= 0 for a in discounts)
    assert sum(charges, Decimal(0)) + sum(discounts, Decimal(0)) >= 0  # discounts never go below zero


# -- time-weighted proration -------------------------------------------------------

SEAT_PLAN = textwrap.dedent("""
    plan: seats
    currency: KRW
    timezone: {tz}
    usage: {{seats: integer}}
    metrics: {{seats: {{time_weighted: seats}}}}
    charges: {{seats: {{model: per_unit, on: seats, unit_price: 10_000}}}}
""")
ZONES = ["Asia/Seoul", "UTC", "America/New_York", "Pacific/Chatham", "Europe/London"]


def write_ledger(path: Path, rows) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer", "timestamp", "seats"])
        writer.writerows(rows)
    return str(path)


@pytest.mark.slow
@ENGINE
@given(st.sampled_from(ZONES), st.integers(2023, 2025), st.integers(1, 12), st.data())
def test_one_seat_prorated_over_the_days_of_a_month_sums_to_the_whole_month(tmp_path, tz, year, month, data):
    days = calendar.monthrange(year, month)[1]
    cuts = sorted(data.draw(st.sets(st.integers(2, days), max_size=4)))
    day = data.draw(st.integers(1, days))
    plan = compile_plan(SEAT_PLAN.format(tz=tz))
    first = datetime.date(year, month, 1)
    before = (first - datetime.timedelta(days=3)).isoformat()
    on = datetime.date(year, month, day).isoformat()
    ledger = write_ledger(
        tmp_path / "seats.csv",
        [
            ["held", "held", f"{before}T12:00:00", 1],  # a seat all month
            ["added", "added", f"{on}T12:00:00", 1],  # added on `day`: counts its own day
            ["removed-0", "removed", f"{before}T12:00:00", 1],
            ["removed-1", "removed", f"{on}T12:00:00", -1],  # removed on `day`: that day not counted
        ],
    )
    month_text = f"{year}-{month:02d}"
    docs = {d.customer: d.env[("metric", "seats")] for d in rate(plan, ledger, period=month_text).documents}
    assert docs["held"] == 1
    assert docs["added"] + docs["removed"] == 1
    assert abs(docs["added"] * days - (days - day + 1)) < Decimal("1e-30")
    # cut the month into ranges: the seat-days of the pieces add up to the month
    edges = [1, *cuts, days + 1]
    seat_days = Decimal(0)
    for start, stop in itertools.pairwise(edges):
        period = f"{year}-{month:02d}-{start:02d}..{year}-{month:02d}-{stop - 1:02d}"
        (doc,) = [d for d in rate(plan, ledger, period=period, customer="held").documents]
        seat_days += (doc.env[("metric", "seats")] * days).quantize(Decimal(1))
    assert seat_days == days


# -- ledger order ------------------------------------------------------------------

ORDER_PLAN = textwrap.dedent("""
    plan: order
    currency: USD
    timezone: Asia/Seoul
    usage:
      kind: {type: text, values: [charge, refund]}
      amount: money
      record: {type: integer, default: 0}
      quota: {type: integer, default: 0}
    quota: {usage: record, limit: quota}
    metrics:
      charged: {sum: amount, where: kind == "charge"}
      refunded: {sum: amount, where: kind == "refund"}
      net: charged - refunded
      largest: {max: amount}
      latest: {last: amount}
      kinds: {unique: kind}
      seats: {time_weighted: record}
    charges:
      volume: {model: graduated, on: net, tiers: [{up_to: 100, unit_price: 0.05}, {unit_price: 0.02}]}
      last_amount: {model: per_unit, on: latest, unit_price: 0.01}
      seats: {model: per_unit, on: seats, unit_price: 9.99}
      cards: {model: percentage, on: amount, where: kind == "charge", rate: 2.9%, fixed_fee: 0.30, min_fee: 0.50, max_fee: 3}
    taxes: {tax: {rate: 10%}}
""")


@st.composite
def ledgers(draw):
    count = draw(st.integers(1, 25))
    rows, moments = [], draw(st.lists(st.integers(0, 60 * 24 * 75), min_size=count, max_size=count, unique=True))
    for index, minute in enumerate(moments):
        moment = datetime.datetime(2024, 9, 25, tzinfo=datetime.UTC) + datetime.timedelta(minutes=minute)
        stamp = moment.isoformat().replace("+00:00", draw(st.sampled_from(["Z", "+00:00"])))
        kind = draw(st.sampled_from(["charge", "charge", "refund", "bogus"]))
        amount = draw(st.one_of(st.decimals(min_value=0, max_value=500, places=2).map(str), st.just(""), st.just("1x")))
        record = draw(st.sampled_from(["", "1", "-1", "2"]))
        quota = draw(st.sampled_from(["", "", "", "1", "3"]))
        rows.append([f"e{index}", draw(st.sampled_from(["ann", "bob", "cy"])), stamp, kind, amount, record, quota])
    copies = draw(st.lists(st.integers(0, count - 1), max_size=3))
    rows += [list(rows[i]) for i in copies]  # identical duplicates: whichever comes later is rejected
    return rows


@pytest.mark.slow
@ENGINE
@given(ledgers(), st.randoms(use_true_random=False))
def test_shuffling_the_ledger_changes_no_document(tmp_path, rows, random):
    plan = compile_plan(ORDER_PLAN)
    header = ["event_id", "customer", "timestamp", "kind", "amount", "record", "quota"]

    def run(name, ordered):
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(ordered)
        result = rate(plan, str(path))
        data = output_data(result.documents, result.rejected)
        return data["documents"], sorted((r["event_id"], r["reason"].split(" (first seen")[0]) for r in data["rejected"])

    shuffled = list(rows)
    random.shuffle(shuffled)
    assert run("a.csv", rows) == run("b.csv", shuffled)


written_amounts = st.one_of(
    st.builds(lambda n, exponent: Decimal(n).scaleb(exponent), st.integers(-(10**7), 10**7), st.integers(-6, 3)),
    st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("0E+2"), Decimal("-0E-3"), Decimal("1E+2")]),
)


@FAST
@given(written_amounts, st.integers(0, 4))
def test_money_text_is_the_amount_quantized_to_the_currency_digits(value, digits):
    """`money_text` skips the quantize when an amount already has the currency's digits; whatever
    the amount's exponent or sign (-0.00 included), the text is the quantized amount's."""
    from dsl.rounding import ROUNDING, money_text

    quantized = value.quantize(Decimal(1).scaleb(-digits), context=ROUNDING)  # the context every rounding runs in
    assert money_text(value, digits) == format(quantized if quantized else quantized.copy_abs(), "f")
