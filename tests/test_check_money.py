"""Money written in a plan: the plan's own currency is accepted wherever money goes, any other
currency is an error at its position (amounts are never converted).

Each case writes one money value in a USD plan, once in USD (clean, and read as the number
written) and once in EUR (one error, at the EUR amount).
"""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest

from conftest import load_text
from dsl.types import money
from dsl.values import ValueProblem, convert

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
    ("tier_unit_price", "charges:\n  api: {model: graduated, on: units, tiers: [{unit_price: 49 {C}}]}\n", ("api", "tiers", 0, "unit_price")),
    ("tier_flat", "charges:\n  api: {model: volume, on: units, tiers: [{up_to: 10, flat: 49 {C}}, {flat: 50}]}\n", ("api", "tiers", 0, "flat")),
    ("package_price", "charges:\n  sms: {model: package, on: units, package_size: 100, package_price: 49 {C}}\n", ("sms", "package_price")),
    ("fixed_fee", "charges:\n  card: {model: percentage, on: amount, rate: 2.9%, fixed_fee: 49 {C}}\n", ("card", "fixed_fee")),
    ("min_fee", "charges:\n  card: {model: percentage, on: amount, rate: 2.9%, min_fee: 49 {C}}\n", ("card", "min_fee")),
    ("max_fee", "charges:\n  card: {model: percentage, on: amount, rate: 2.9%, max_fee: 49 {C}}\n", ("card", "max_fee")),
    ("tier_bound_of_money", "charges:\n  fee: {model: volume, on: volume, tiers: [{below: 49 {C}, flat: 0}, {flat: 5}]}\n", ("fee", "tiers", 0, "bound")),
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


@pytest.mark.parametrize(("body", "where"), [p[1:] for p in PLACES], ids=[p[0] for p in PLACES])
def test_another_currency_is_an_error_at_the_amount(body, where):
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
    import jsonschema

    from dsl.schema import json_schema

    validator = jsonschema.Draft202012Validator(json_schema())
    charges = {
        "api": {"model": "per_unit", "on": "units", "unit_price": "0.002 USD"},
        "card": {"model": "percentage", "on": "amount", "rate": "2.9%", "fixed_fee": "0.30 USD", "max_fee": 5},
        "fee": {"model": "graduated", "on": "volume", "tiers": [{"up_to": "1_000 USD", "unit_price": "2%", "flat": "1 USD"}, {"unit_price": "1%"}]},
    }
    assert list(validator.iter_errors({"plan": "t", "currency": "USD", "charges": charges})) == []
    charges["card"]["fixed_fee"] = "3%"
    assert [e.json_path for e in validator.iter_errors({"plan": "t", "currency": "USD", "charges": charges})] == ["$.charges.card"]
