"""Money written in a plan: the plan's own currency is accepted wherever money goes, any other
currency is an error at its position (amounts are never converted); and a number too large
or too fine to be rated exactly is refused at check time, with that reason.

Each place case writes one money value in a USD plan, once in USD (clean, and read as the
number written) and once in EUR (one error, at the EUR amount). A property then writes any
value in any pricing slot: `check` refuses it, or rating computes it exactly.
"""

from __future__ import annotations

import tempfile
import textwrap
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dsl.schema import json_schema
from dsl.types import money
from dsl.values import ValueProblem, convert
from plan_helpers import load_text, rate_csv

HEAD = """\
plan: t
currency: USD
usage: {units: integer, amount: money}
metrics:
  units: {sum: units}
  volume: {sum: amount}
"""

# (id, body with {M} where the money value goes, what in the compiled plan holds it)
PLACES = [
    ("flat_amount", "charges:\n  base: {model: flat, amount: 49 {C}}\n", None),
    ("formula_amount", "charges:\n  base: {model: formula, amount: volume + 49 {C}}\n", None),
    ("charge_when", "charges:\n  base: {model: flat, amount: 1 USD, when: volume > 49 {C}}\n", None),
    ("multiplied_amount", "charges:\n  base: {model: formula, amount: 49 {C} * 2}\n", None),
    ("minimum", "charges:\n  base: {model: flat, amount: 1 USD}\nminimum: 49 {C}\n", None),
    ("discount_amount", "charges:\n  base: {model: flat, amount: 100 USD}\ndiscounts:\n  d: {amount: 49 {C}}\n", None),
    ("credit_balance", "charges:\n  base: {model: flat, amount: 100 USD}\ncredits:\n  c: {balance: 49 {C}}\n", None),
    ("notice_when", "charges:\n  base: {model: flat, amount: 1 USD}\nnotices:\n  n: {when: 49 {C} > volume, message: hi}\n", None),
    ("tax_when", "charges:\n  base: {model: flat, amount: 1 USD}\ntaxes:\n  vat: {rate: 10%, when: volume >= 49 {C}}\n", None),
    ("formula_value", "formulas:\n  f: {inputs: {paid: money}, value: paid - 49 {C}}\n", None),
    ("row_where", "charges:\n  card: {model: percentage, on: amount, rate: 1%, where: amount > 49 {C}}\n", None),
    ("require_rule", "charges:\n  base: {model: flat, amount: 1 USD}\nrequire:\n  - {rule: amount < 49 {C}, message: too big}\n", None),
    ("unit_price", "charges:\n  api: {model: per_unit, on: units, unit_price: 49 {C}}\n", ("api", "unit_price")),
    (
        "tier_unit_price",
        "charges:\n  api: {model: graduated, on: units, tiers: [{unit_price: 49 {C}}]}\n",
        ("api", "tiers", 0, "unit_price"),
    ),
    (
        "tier_flat",
        "charges:\n  api: {model: volume, on: units, tiers: [{up_to: 10, flat: 49 {C}}, {flat: 50}]}\n",
        ("api", "tiers", 0, "flat"),
    ),
    ("package_price", "charges:\n  sms: {model: package, on: units, package_size: 100, package_price: 49 {C}}\n", ("sms", "package_price")),
    ("fixed_fee", "charges:\n  card: {model: percentage, on: amount, rate: 2.9%, fixed_fee: 49 {C}}\n", ("card", "fixed_fee")),
    ("min_fee", "charges:\n  card: {model: percentage, on: amount, rate: 2.9%, min_fee: 49 {C}}\n", ("card", "min_fee")),
    ("max_fee", "charges:\n  card: {model: percentage, on: amount, rate: 2.9%, max_fee: 49 {C}}\n", ("card", "max_fee")),
    (
        "tier_bound_of_money",
        "charges:\n  fee: {model: volume, on: volume, tiers: [{below: 49 {C}, flat: 0}, {flat: 5}]}\n",
        ("fee", "tiers", 0, "bound"),
    ),
    ("free_units_of_money", "charges:\n  fee: {model: per_unit, on: volume, unit_price: 1%, free_units: 49 {C}}\n", ("fee", "free_units")),
    ("usage_default", "usage: {units: integer, amount: {type: money, default: 49 {C}}}\n", None),
    ("customer_default", "customer:\n  deposit: {type: money, default: 49 {C}}\n", None),
]


def _text(body: str, code: str) -> str:
    text = HEAD + textwrap.dedent(body).replace("{C}", code)
    if body.startswith("usage:"):  # replaces the usage of HEAD
        text = text.replace("usage: {units: integer, amount: money}\n", "", 1)
    return text


def _value(plan, where):
    charge = next(ch for ch in plan.charges if ch.id == where[0])
    node = charge
    for step in where[1:]:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


@pytest.mark.parametrize(("body", "where"), [p[1:] for p in PLACES], ids=[p[0] for p in PLACES])
def test_the_plan_currency_is_accepted(body, where):
    loaded = load_text(_text(body, "USD"))
    assert loaded.diagnostics == (), loaded.diagnostics
    if where is not None:
        assert _value(loaded.plan, where) == Decimal(49)


@pytest.mark.parametrize("body", [p[1] for p in PLACES], ids=[p[0] for p in PLACES])
def test_another_currency_is_an_error_at_the_amount(body):
    text = _text(body, "EUR")
    loaded = load_text(text)
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert loaded.plan is None
    assert len(errors) == 1, errors
    line = next(number for number, row in enumerate(text.splitlines(), 1) if "49 EUR" in row)
    column = text.splitlines()[line - 1].index("49 EUR") + 1
    assert (errors[0].span.line, errors[0].span.column) == (line, column)
    assert "EUR" in errors[0].message and "the plan's currency is USD" in errors[0].message


def test_a_currency_that_does_not_exist_is_named():
    found = load_text(HEAD + "charges:\n  api: {model: per_unit, on: units, unit_price: 0.5 usd}\n").diagnostics
    assert [(d.span.line, d.message) for d in found] == [
        (8, "charges.api.unit_price: 'usd' is not a currency code (write amounts like 5_000 KRW or 12.50 USD); did you mean 'USD'?"),
    ]


def test_a_bound_in_money_on_a_count_is_an_error():
    text = HEAD + "charges:\n  api: {model: graduated, on: units, tiers: [{up_to: 10 USD, unit_price: 1}, {unit_price: 2}]}\n"
    found = [(d.span.line, d.span.column, d.message) for d in load_text(text).diagnostics]
    assert found == [(8, 54, "the quantity of 'api' is integer, not money: write this bound without a currency")]


@pytest.mark.parametrize("key", ["flat", "fixed_fee", "package_price"])
def test_an_amount_of_money_written_as_a_percent_is_an_error(key):
    bodies = {
        "flat": "charges:\n  fee: {model: volume, on: units, tiers: [{flat: 3%}]}\n",
        "fixed_fee": "charges:\n  fee: {model: percentage, on: amount, rate: 1%, fixed_fee: 3%}\n",
        "package_price": "charges:\n  fee: {model: package, on: units, package_size: 10, package_price: 3%}\n",
    }
    found = load_text(HEAD + bodies[key]).diagnostics
    assert len(found) == 1 and found[0].span.line == 8
    assert f"{key}: '3%' is an amount of money, not a percent" in found[0].message


def test_a_percent_unit_price_stays_allowed_for_a_money_quantity():
    """2% per unit of a money quantity is how a share of volume is priced by tier."""
    loaded = load_text(HEAD + "charges:\n  fee: {model: graduated, on: volume, tiers: [{up_to: 1000, unit_price: 2%}, {unit_price: 1%}]}\n")
    assert loaded.diagnostics == ()
    assert loaded.plan.charges[0].tiers[0].unit_price == Decimal("0.02")


@pytest.mark.parametrize(("text", "expected"), [("49 USD", Decimal(49)), ("49", Decimal(49)), ("0.5USD", Decimal("0.5"))])
def test_money_values_given_outside_the_plan_take_the_plan_currency(text, expected):
    """`--set fee=...` and customers-file attributes are read by the same rule."""
    assert convert(text, money("USD")) == expected


def test_money_values_given_outside_the_plan_in_another_currency_are_refused():
    with pytest.raises(ValueProblem, match="'49 EUR' is in EUR, but the plan's currency is USD"):
        convert("49 EUR", money("USD"))


def test_the_json_schema_takes_money_as_check_does():
    """Editors validate with `ratecard schema`: money in a currency passes there too, a percent fee does not."""
    validator = jsonschema.Draft202012Validator(json_schema())
    charges = {
        "api": {"model": "per_unit", "on": "units", "unit_price": "0.002 USD"},
        "card": {"model": "percentage", "on": "amount", "rate": "2.9%", "fixed_fee": "0.30 USD", "max_fee": 5},
        "fee": {
            "model": "graduated",
            "on": "volume",
            "tiers": [{"up_to": "1_000 USD", "unit_price": "2%", "flat": "1 USD"}, {"unit_price": "1%"}],
        },
    }
    assert list(validator.iter_errors({"plan": "t", "currency": "USD", "charges": charges})) == []
    charges["card"]["fixed_fee"] = "3%"
    assert [e.json_path for e in validator.iter_errors({"plan": "t", "currency": "USD", "charges": charges})] == ["$.charges.card"]


# --- numbers beyond what rating computes exactly ----------------------------------------

TOO_WHOLE = "too many digits: {t} has {n} before the decimal point, and amounts are computed exactly only up to 18"
TOO_FINE = "too many decimal places: {t} has {n}, and amounts are computed exactly only up to 10"
N41 = "1" + "0" * 40
N30 = "123456789012345678901234567890"


@pytest.mark.parametrize(
    ("body", "needle", "message"),
    [
        (f"charges:\n  api: {{model: per_unit, on: units, unit_price: {N41}}}\n", N41, TOO_WHOLE.format(t=N41, n=41)),
        (f"charges:\n  base: {{model: flat, amount: {N30} USD}}\n", N30, TOO_WHOLE.format(t=f"{N30} USD", n=30)),
        (
            "charges:\n  api: {model: per_unit, on: units, unit_price: 0.000_000_000_001}\n",
            "0.000",
            TOO_FINE.format(t="0.000000000001", n=12),
        ),
        (
            "charges:\n  card: {model: percentage, on: amount, rate: 0.000000001%}\n",
            "0.0",
            TOO_FINE.format(t="0.000000001% (0.00000000001)", n=11),
        ),
        (f"charges:\n  card: {{model: percentage, on: amount, rate: 1%, min_fee: {N30}}}\n", N30, TOO_WHOLE.format(t=N30, n=30)),
        (f"charges:\n  base: {{model: flat, amount: 1 USD, multiplier: {N30}}}\n", N30, TOO_WHOLE.format(t=N30, n=30)),
        (
            f"charges:\n  v: {{model: volume, on: units, tiers: [{{up_to: {N30}, flat: 1}}, {{flat: 2}}]}}\n",
            N30,
            TOO_WHOLE.format(t=N30, n=30),
        ),
        ("formulas:\n  f: {inputs: {paid: money}, value: paid * 0.000000000001}\n", "0.0", TOO_FINE.format(t="0.000000000001", n=12)),
        (
            "formulas:\n  f: {inputs: {paid: money}, value: paid * 0.000000001%}\n",
            "0.0",
            TOO_FINE.format(t="0.000000001% (0.00000000001)", n=11),
        ),
        (f"customer:\n  deposit: {{type: money, default: {N30}}}\n", N30, "default " + TOO_WHOLE.format(t=N30, n=30)),
    ],
)
def test_a_number_beyond_exact_rating_is_refused_with_the_reason(body, needle, message):
    text = HEAD + body
    found = [(d.span.line, d.span.column, d.message) for d in load_text(text).diagnostics]
    row = next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)
    column = text.splitlines()[row - 1].index(needle) + 1
    assert len(found) == 1, found
    assert found[0][:2] == (row, column)
    assert found[0][2].endswith(message), found[0][2]


def test_the_largest_and_finest_numbers_allowed_pass():
    body = (
        "charges:\n  api: {model: per_unit, on: units, unit_price: 999_999_999_999_999_999.999_999_999_9}\n"
        "  base: {model: flat, amount: 0.0000000001 USD + 999999999999999999 USD}\n"
    )
    assert load_text(HEAD + body).diagnostics == ()


def test_values_given_outside_the_plan_have_the_same_limits():
    with pytest.raises(ValueProblem, match="too many digits"):
        convert(N41, money("USD"))
    with pytest.raises(ValueProblem, match="too many decimal places"):
        convert("0.000000000001", money("USD"))


def test_the_digits_counted_are_those_written_even_past_28():
    """Nines past 28 digits would round up to one more digit in Python's default precision."""
    with pytest.raises(ValueProblem) as problem:
        convert("9" * 41, money("USD"))
    assert str(problem.value) == TOO_WHOLE.format(t="9" * 41, n=41)


def test_the_product_of_the_largest_values_is_exact_until_the_line_is_rounded(tmp_path):
    """18 whole digits of quantity times a price of 18 + 10 digits: 46 digits, every one kept until
    the line is rounded. Cut at fewer, ...0.0049999999 would become 0.0050 and round up a cent."""
    price, quantity = "123456789012345678.9950000001", "999999999999999999"
    plan = load_text(
        HEAD.replace("units: integer", "units: number") + f"charges:\n  fee: {{model: per_unit, on: units, unit_price: {price}}}\n"
    )
    assert plan.diagnostics == ()
    result = rate_csv(plan.plan, tmp_path, f"event_id,customer,timestamp,units,amount\ne1,acme,2024-11-03T10:00:00Z,{quantity},0\n")
    with localcontext() as ctx:
        ctx.prec = 200
        exact = Decimal(price) * Decimal(quantity)
        wanted = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert format(exact, "f").endswith(".0049999999")
    assert result.documents[0].lines[0].amount == wanted


def test_arithmetic_past_the_exact_digits_stops_at_its_place_instead_of_rounding(tmp_path):
    """A formula multiplying many 10-decimal rates has more digits than are kept exactly: the document
    fails at the charge, with the reason, rather than showing an amount rounded twice."""
    rates = " * ".join(["0.1234567891"] * 11)
    plan = load_text(HEAD + f"charges:\n  fee: {{model: formula, amount: volume * {rates}}}\n")
    assert [d for d in plan.diagnostics if d.severity == "error"] == []
    result = rate_csv(
        plan.plan, tmp_path, "event_id,customer,timestamp,units,amount\ne1,acme,2024-11-03T10:00:00Z,1,12.50\n", keep_going=True
    )
    (failure,) = result.failures
    assert failure.span.line == 8 and "cannot be computed exactly" in failure.reason


# --- any value, in any slot: refused at check time, or rated exactly ---------------------

LEDGER = """\
event_id,customer,timestamp,units,amount
e1,acme,2024-11-03T10:00:00Z,3,12.50
e2,acme,2024-11-04T10:00:00Z,1.5,1000000
e3,acme,2024-11-05T10:00:00Z,1234567.891,99999999.99
"""
UNITS = [Decimal(3), Decimal("1.5"), Decimal("1234567.891")]
AMOUNTS = [Decimal("12.50"), Decimal(1000000), Decimal("99999999.99")]
MONEY_ONLY = {"flat_amount", "tier_flat", "package_price", "fixed_fee", "min_fee", "max_fee"}
SLOTS = {  # the charge with {V} where the value goes
    "unit_price": "{model: per_unit, on: units, unit_price: {V}}",
    "tier_unit_price": "{model: graduated, on: units, tiers: [{up_to: 10, unit_price: 2}, {unit_price: {V}}]}",
    "tier_flat": "{model: graduated, on: units, tiers: [{up_to: 10, unit_price: 2, flat: {V}}, {unit_price: 1}]}",
    "flat_amount": "{model: flat, amount: {V}}",
    "package_price": "{model: package, on: units, package_size: 1000, package_price: {V}}",
    "rate": "{model: percentage, on: amount, rate: {V}}",
    "fixed_fee": "{model: percentage, on: amount, rate: 1%, fixed_fee: {V}}",
    "min_fee": "{model: percentage, on: amount, rate: 1%, min_fee: {V}}",
    "max_fee": "{model: percentage, on: amount, rate: 1%, max_fee: {V}}",
}


def _exact_amount(slot: str, v: Decimal) -> Decimal:
    """The charge computed with far more digits than any plan value has."""
    units = sum(UNITS)
    if slot == "unit_price":
        return units * v
    if slot == "tier_unit_price":
        return 10 * 2 + (units - 10) * v
    if slot == "tier_flat":
        return 10 * 2 + v + (units - 10)
    if slot == "flat_amount":
        return v
    if slot == "package_price":
        return (units / 1000).to_integral_value(rounding=ROUND_CEILING) * v
    rate = v if slot == "rate" else Decimal("0.01")
    fees = [a * rate + (v if slot == "fixed_fee" else 0) for a in AMOUNTS]
    if slot == "min_fee":
        fees = [max(fee, v) for fee in fees]
    if slot == "max_fee":
        fees = [min(fee, v) for fee in fees]
    return sum(fees)


def _beyond_limits(v: Decimal) -> bool:
    whole, _, fraction = format(v.normalize(), "f").partition(".")
    return len(whole.lstrip("-0")) > 18 or len(fraction) > 10


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    slot=st.sampled_from(sorted(SLOTS)),
    whole=st.one_of(st.integers(0, 10**3), st.integers(0, 10**25)),
    fraction=st.text("0123456789", max_size=14),
    suffix=st.sampled_from(["", " USD", " EUR", "%"]),
)
def test_any_plan_value_is_refused_at_check_or_rated_exactly(slot, whole, fraction, suffix):
    number = f"{whole}.{fraction}" if fraction else str(whole)
    value = Decimal(number) / (100 if suffix == "%" else 1)
    if slot == "flat_amount" and suffix == "":
        suffix = " USD"  # a bare number is no amount of money in an expression
    text = HEAD.replace("units: integer", "units: number") + "charges:\n  fee: " + SLOTS[slot].replace("{V}", number + suffix) + "\n"
    loaded = load_text(text)
    refused = _beyond_limits(value) or suffix == " EUR" or (suffix == "%" and slot in MONEY_ONLY) or (suffix == " USD" and slot == "rate")
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    assert bool(errors) == refused, (text, loaded.diagnostics)
    if errors:
        assert all(d.span.line == 8 for d in errors), errors
        return
    with tempfile.TemporaryDirectory() as folder:
        result = rate_csv(loaded.plan, Path(folder), LEDGER)
    assert result.rejected == []
    document = result.documents[0]
    with localcontext() as ctx:
        ctx.prec = 200
        wanted = _exact_amount(slot, value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert document.lines[0].amount == wanted
