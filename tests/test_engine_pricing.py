"""Pricing models against worked examples, and tier bound semantics.

The worked examples live in tests/fixtures/engine/examples/*.yaml: each holds a
plan, a CSV ledger and the documents worked out by hand (the arithmetic is in
the file's comments). One helper replays them all through `rate()`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from dsl import tree
from dsl.pricing_models import graduated, volume
from interpreter.output.render import document_data
from plan_helpers import compile_plan, load_text, rate_csv as shared_rate

EXAMPLES = Path(__file__).parent / "fixtures" / "engine" / "examples"


def rate_csv(plan, tmp_path: Path, ledger: str, period: str | None = "2024-11", **options):
    return shared_rate(plan, tmp_path, ledger, period=period, **options)


def summary(doc: dict) -> dict:
    """The parts of a document a worked example states."""
    return {
        "customer": doc["customer"],
        "lines": [[line["id"], line["quantity"], line["amount"]] for line in doc["lines"]],
        "subtotal": doc["subtotal"],
        "taxes": [[t["id"], t["rate"], t["base"], t["amount"]] for t in doc["taxes"]],
        "total": doc["total"],
    }


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_worked_example(name, tmp_path):
    example = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    plan = compile_plan(example["plan"], f"{name}.yaml")
    result = rate_csv(plan, tmp_path, example["ledger"], str(example["period"]))
    assert result.rejected == []
    expected = [{"taxes": [], **doc} for doc in example["expected"]]
    assert [summary(document_data(d)) for d in result.documents] == expected


def test_worked_examples_cover_every_quantity_model_in_both_currencies():
    models, currencies = set(), set()
    for file in EXAMPLES.glob("*.yaml"):
        plan = yaml.safe_load(yaml.safe_load(file.read_text(encoding="utf-8"))["plan"])
        currencies.add(plan["currency"])
        models.update(charge["model"] for charge in plan["charges"].values())
    assert {"flat", "per_unit", "graduated", "volume", "package", "percentage"} <= models
    assert {"USD", "KRW"} <= currencies


# -- tier bounds ---------------------------------------------------------------

BOUNDS_PLAN = """
    plan: bounds
    currency: USD
    usage:
      units: number
    metrics:
      units: {sum: units}
    charges:
      inclusive:
        model: %(model)s
        on: units
        tiers:
          - {up_to: 10, unit_price: 1.00, flat: 100.00}
          - {unit_price: 0.50, flat: 1000.00}
      exclusive:
        model: %(model)s
        on: units
        tiers:
          - {below: 10, unit_price: 1.00, flat: 100.00}
          - {unit_price: 0.50, flat: 1000.00}
"""


def amounts(plan, tmp_path, quantity: str) -> dict[str, str]:
    result = rate_csv(
        plan,
        tmp_path,
        f"""
        event_id,customer,timestamp,units
        e1,acme,2024-11-10T00:00:00Z,{quantity}
    """,
    )
    (doc,) = result.documents
    return {line["id"]: line["amount"] for line in document_data(doc)["lines"]}


@pytest.mark.parametrize(
    "quantity, inclusive, exclusive",
    [
        ("9.99", "109.99", "109.99"),  # below the bound: tier 1 either way
        ("10", "110.00", "1005.00"),  # at the bound: up_to keeps it, below moves it up
        ("10.01", "1005.01", "1005.01"),
    ],
)
def test_volume_bound_at_the_exact_boundary(tmp_path, quantity, inclusive, exclusive):
    plan = compile_plan(BOUNDS_PLAN % {"model": "volume"})
    assert amounts(plan, tmp_path, quantity) == {"inclusive": inclusive, "exclusive": exclusive}


@pytest.mark.parametrize(
    "quantity, inclusive, exclusive",
    [
        ("9.99", "109.99", "109.99"),
        # at the bound, `up_to: 10` keeps the quantity in tier 1; `below: 10` means
        # the quantity reached tier 2, whose flat is then added (no units in it).
        ("10", "110.00", "1110.00"),
        ("12", "1111.00", "1111.00"),  # 10 x 1 + 100 + 2 x 0.50 + 1000
    ],
)
def test_graduated_bound_at_the_exact_boundary(tmp_path, quantity, inclusive, exclusive):
    plan = compile_plan(BOUNDS_PLAN % {"model": "graduated"})
    assert amounts(plan, tmp_path, quantity) == {"inclusive": inclusive, "exclusive": exclusive}


@st.composite
def any_tier_table(draw) -> list[tuple[Decimal, bool]]:
    """Bounds (up_to when True, below when False) on a half-unit grid, mostly increasing; an open tier follows."""
    steps = draw(st.lists(st.sampled_from([-1, 0, 1, 1, 2]), min_size=1, max_size=3))
    bounds = [Decimal(draw(st.integers(0, 4))) / 2]
    for step in steps[1:]:
        bounds.append(bounds[-1] + Decimal(step) / 2)
    return [(bound, draw(st.booleans())) for bound in bounds]


@settings(max_examples=120, deadline=None)
@given(any_tier_table())
def test_compiler_lint_and_pricing_read_tier_bounds_alike(table):
    """A table compiles when each tier takes some quantity, lint warns when no whole number reaches a tier,
    and graduated pricing stops in the tier volume pricing picks: all for the same quantities."""
    rows = [
        f"{{{'up_to' if inclusive else 'below'}: {bound}, unit_price: 0, flat: {index + 1}}}"
        for index, (bound, inclusive) in enumerate(table)
    ]
    rows.append(f"{{unit_price: 0, flat: {len(table) + 1}}}")
    loaded = load_text(
        "plan: t\ncurrency: USD\nusage: {units: integer}\nmetrics: {units: {sum: units}}\n"
        f"charges: {{fee: {{model: volume, on: units, tiers: [{', '.join(rows)}]}}}}\n"
    )
    tiers = tuple(tree.Tier(bound, inclusive, Decimal(0), Decimal(index + 1), None) for index, (bound, inclusive) in enumerate(table)) + (
        tree.Tier(None, False, Decimal(0), Decimal(len(table) + 1), None),
    )
    fee = tree.Charge(id="fee", name="fee", model="volume", quantity=None, when=None, rounding="half_up", span=None, tiers=tiers)
    picked = {}  # quantity -> the tier (from 1) volume pricing charges it in
    for q in (Decimal(n) / 4 for n in range(-4, 28)):  # every region between bounds on a half-unit grid, and the bounds
        picked[q] = int(volume(q, fee).amount)
        assert len(graduated(q, fee, trace=True).steps) == picked[q], q
    every_tier_taken = set(picked.values()) == set(range(1, len(tiers) + 1))
    assert (loaded.plan is not None) == every_tier_taken, loaded.diagnostics
    if loaded.plan is not None:
        unreachable = {int(d.message.split()[1]) for d in loaded.diagnostics if d.code == "unreachable"}
        by_whole_numbers = {tier for q, tier in picked.items() if q == q.to_integral_value()}
        assert unreachable == set(range(1, len(tiers) + 1)) - by_whole_numbers


@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_first_tier_flat_is_charged_at_quantity_zero(tmp_path, model):
    plan = compile_plan(BOUNDS_PLAN % {"model": model})
    assert amounts(plan, tmp_path, "0") == {"inclusive": "100.00", "exclusive": "100.00"}


@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_negative_quantity_prices_zero_units_but_keeps_the_first_flat(tmp_path, model):
    plan = compile_plan(BOUNDS_PLAN % {"model": model})
    assert amounts(plan, tmp_path, "-5") == {"inclusive": "100.00", "exclusive": "100.00"}


def test_graduated_flat_of_each_reached_tier_is_added_once(tmp_path):
    plan = compile_plan("""
        plan: flats
        currency: KRW
        usage: {units: integer}
        metrics: {units: {sum: units}}
        charges:
          fee:
            model: graduated
            on: units
            tiers:
              - {up_to: 0, flat: 1_000}
              - {up_to: 100, unit_price: 10, flat: 500}
              - {below: 1000, unit_price: 5, flat: 200}
              - {unit_price: 1, flat: 100}
    """)
    cases = {
        "0": "1000",  # only tier 1 reached (0 <= 0)
        "1": str(1000 + 500 + 10),  # tier 2 reached by its first unit
        "100": str(1000 + 500 + 1000),  # 100 is still tier 2 (up_to inclusive)
        "101": str(1000 + 1500 + 200 + 5),
        "999": str(1000 + 1500 + 200 + 899 * 5),
        "1000": str(1000 + 1500 + 200 + 900 * 5 + 100),  # reaches the open tier: flat 100, 0 units in it
        "1500": str(1000 + 1500 + 200 + 900 * 5 + 100 + 500),
    }
    seen = {}
    for quantity in cases:
        result = rate_csv(
            plan,
            tmp_path,
            f"""
            event_id,customer,timestamp,units
            e1,acme,2024-11-10T00:00:00Z,{quantity}
        """,
        )
        seen[quantity] = document_data(result.documents[0])["lines"][0]["amount"]
    assert seen == cases


def test_percentage_fee_at_the_clamp_thresholds_is_exact(tmp_path):
    # 2% + 0.10: an amount of 20.00 gives exactly the minimum 0.50 and 245.00
    # exactly the maximum 5.00; neither is raised nor capped, and all agree.
    plan = compile_plan("""
        plan: clamps
        currency: USD
        usage: {amount: money}
        charges:
          fee:
            model: percentage
            on: amount
            rate: 2%
            fixed_fee: 0.10
            min_fee: 0.50
            max_fee: 5.00
    """)
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,amount
        1,a,2024-11-01T00:00:00Z,20.00
        2,a,2024-11-01T00:00:00Z,245.00
        3,a,2024-11-01T00:00:00Z,19.99
        4,a,2024-11-01T00:00:00Z,245.01
        5,a,2024-11-01T00:00:00Z,0
    """,
    )
    # 0.50 + 5.00 + 0.50 (0.4998 raised) + 5.00 (5.0002 capped) + 0.50 (0.10 raised)
    assert document_data(result.documents[0])["lines"][0]["amount"] == "11.50"


def test_percentage_without_events_in_the_period_is_zero(tmp_path):
    plan = compile_plan("""
        plan: pct
        currency: KRW
        usage:
          amount: money
          kind: {type: text, values: [pay, other]}
        metrics:
          n: {count: true}
        charges:
          fee:
            model: percentage
            on: amount
            where: kind == "pay"
            rate: 3.3%
            min_fee: 100
    """)
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,amount,kind
        1,a,2024-11-01T00:00:00Z,1000,other
        2,b,2024-11-01T00:00:00Z,10001,pay
    """,
    )
    lines = {d.customer: document_data(d)["lines"][0]["amount"] for d in result.documents}
    # b: 10,001 x 3.3% = 330.033 -> 330; a has no "pay" event: no fee, not the minimum
    assert lines == {"a": "0", "b": "330"}


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("half_up", ["0.13", "-0.13", "0.12"]),
        ("half_even", ["0.12", "-0.12", "0.12"]),
        ("down", ["0.12", "-0.12", "0.12"]),
        ("up", ["0.13", "-0.13", "0.13"]),
    ],
)
def test_line_rounding_modes(tmp_path, mode, expected):
    # 0.125 is a tie, -0.125 a negative tie, 0.1201 a plain value above 0.12
    plan = compile_plan(f"""
        plan: rounding
        currency: USD
        rounding: {mode}
        usage: {{amount: money}}
        metrics:
          total: {{sum: amount}}
        charges:
          tie: {{model: formula, amount: total * 0.125}}
          negative_tie: {{model: formula, amount: 0 - total * 0.125}}
          plain: {{model: formula, amount: total * 0.1201}}
    """)
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,amount
        1,a,2024-11-01T00:00:00Z,1
    """,
    )
    assert [line["amount"] for line in document_data(result.documents[0])["lines"]] == expected


def test_count_and_unique_metrics_price_as_decimal_quantities(tmp_path):
    plan = compile_plan("""
        plan: counted
        currency: USD
        usage: {user: text}
        metrics:
          requests: {count: true}
          users: {unique: user}
        charges:
          per_request: {model: per_unit, on: requests, unit_price: 0.25}
          per_user: {model: graduated, on: users, tiers: [{up_to: 1, unit_price: 10}, {unit_price: 5}]}
    """)
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,user
        1,a,2024-11-01T00:00:00Z,kim
        2,a,2024-11-02T00:00:00Z,lee
        3,a,2024-11-03T00:00:00Z,kim
    """,
    )
    (doc,) = result.documents
    assert [(line.quantity, line.amount) for line in doc.lines] == [(3, Decimal("0.75")), (2, Decimal("15.00"))]
    assert all(type(line.quantity) is Decimal for line in doc.lines)
    assert [(line["quantity"], line["amount"]) for line in document_data(doc)["lines"]] == [("3", "0.75"), ("2", "15.00")]


def test_amounts_are_decimal_everywhere(tmp_path):
    example = yaml.safe_load((EXAMPLES / "usd_minimum_commitment.yaml").read_text(encoding="utf-8"))
    result = rate_csv(compile_plan(example["plan"]), tmp_path, example["ledger"])
    assert len(result.documents) == 2
    for doc in result.documents:
        for line in doc.lines:
            assert type(line.amount) is Decimal
            assert line.quantity is None or type(line.quantity) is Decimal
        for value in (doc.subtotal, doc.total, *(t.amount for t in doc.taxes), *(t.base for t in doc.taxes)):
            assert type(value) is Decimal
        for key, value in doc.env.items():
            assert not isinstance(value, float), key
