"""A charge's own `minimum:` and `maximum:`: hand-worked cases, explain, check, and a property.

Peers: Lago's charge `min_amount_cents`, "the minimum that needs to be
charged for each billing period" (getlago/lago-sdk, php/docs/Model/ChargeObject.md),
and Orb's per-price maximum (`Orb::Models::Maximum`, maximum_amount,
https://www.rubydoc.info/gems/orb-billing/Orb/Models/Maximum).
"""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from dsl.pricing_models import MODELS, Priced, bounded
from interpreter.output.explain import explain
from interpreter.output.render import document_data
from plan_helpers import compile_plan, problems_of, rate_csv

PLAN = """
    plan: bounds
    currency: USD
    usage:
      calls: integer
    metrics:
      calls: {sum: calls}
    charges:
      api:
        model: per_unit
        on: calls
        unit_price: 0.01
        minimum: 5
        maximum: 20
"""


def lines(result) -> dict[str, dict[str, str]]:
    return {d["customer"]: {line["id"]: line["amount"] for line in d["lines"]} for d in map(document_data, result.documents)}


def test_minimum_raises_and_maximum_caps_each_period(tmp_path):
    # 100 calls x 0.01 = 1.00 -> raised to the minimum 5.00 (as Lago's min_amount_cents would);
    # 1,000 calls = 10.00 stays; 5,000 calls = 50.00 -> capped at the maximum 20.00.
    result = rate_csv(
        compile_plan(PLAN),
        tmp_path,
        """
        event_id,customer,timestamp,calls
        1,small,2024-11-02T00:00:00Z,100
        2,mid,2024-11-02T00:00:00Z,1000
        3,big,2024-11-02T00:00:00Z,5000
        """,
        period="2024-11",
    )
    assert lines(result) == {"big": {"api": "20.00"}, "mid": {"api": "10.00"}, "small": {"api": "5.00"}}


def test_minimum_is_charged_with_no_usage_unless_when_is_false(tmp_path):
    plan = compile_plan(PLAN.replace("minimum: 5", "minimum: 5\n        when: calls < 1_000_000"))
    result = rate_csv(plan, tmp_path, "event_id,customer,timestamp,calls\n1,idle,2024-11-02T00:00:00Z,0\n", period="2024-11")
    assert lines(result) == {"idle": {"api": "5.00"}}
    plan = compile_plan(PLAN.replace("minimum: 5", "minimum: 5\n        when: calls > 0"))
    result = rate_csv(plan, tmp_path, "event_id,customer,timestamp,calls\n1,idle,2024-11-02T00:00:00Z,0\n", period="2024-11")
    assert lines(result) == {"idle": {}}


def test_bounds_apply_after_the_multiplier_and_before_rounding(tmp_path):
    # 333 calls x 0.01 = 3.33, x 3 = 9.99: above the minimum 5, so left alone; the minimum
    # 5.005 is what the line is raised to before it is rounded half up to 5.01.
    plan = compile_plan(PLAN.replace("minimum: 5", "minimum: 5.005\n        multiplier: 3"))
    result = rate_csv(
        plan, tmp_path, "event_id,customer,timestamp,calls\n1,a,2024-11-02T00:00:00Z,333\n2,b,2024-11-02T00:00:00Z,100\n", period="2024-11"
    )
    assert lines(result) == {"a": {"api": "9.99"}, "b": {"api": "5.01"}}


def test_explain_says_which_bound_applied_and_by_how_much(tmp_path):
    plan = compile_plan(PLAN)
    ledger = "event_id,customer,timestamp,calls\n1,small,2024-11-02T00:00:00Z,100\n2,big,2024-11-02T00:00:00Z,5000\n"
    result = rate_csv(plan, tmp_path, ledger, period="2024-11", trace=True)
    small, big = (explain(d, PLAN) for d in sorted(result.documents, key=lambda d: d.customer, reverse=True))
    assert "raised to the minimum 5: $4.00" in small
    assert "capped at the maximum 20: -$30.00" in big


def test_check_refuses_a_minimum_above_the_maximum():
    problems = problems_of(PLAN.replace("maximum: 20", "maximum: 2"))
    assert problems == [(14, 14, "maximum 2 is below minimum 5")]


def test_minimum_in_another_currency_is_refused():
    problems = problems_of(PLAN.replace("minimum: 5", "minimum: 5 EUR"))
    assert len(problems) == 1 and "EUR" in problems[0][2]


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=-1000, max_value=1000, places=4),
    low=st.one_of(st.none(), st.decimals(min_value=-100, max_value=100, places=2)),
    span=st.decimals(min_value=0, max_value=500, places=2),
    has_high=st.booleans(),
)
def test_minimum_and_maximum_bound_every_amount(amount, low, span, has_high):
    from dsl import tree
    from dsl.errors import Span

    high = (low or Decimal(0)) + span if has_high else None
    charge = tree.Charge("c", "c", "per_unit", None, None, "half_up", Span("p", 1, 1), minimum=low, maximum=high)
    out = bounded(Priced(amount, ()), charge, True).amount
    if low is not None:
        assert out >= low
    if high is not None:
        assert out <= high
    if (low is None or amount >= low) and (high is None or amount <= high):
        assert out == amount
    assert "per_unit" in MODELS


def test_curve_shows_the_bounded_amounts(ratecard, tmp_path):
    plan = tmp_path / "bounds.yaml"
    plan.write_text(textwrap.dedent(PLAN), encoding="utf-8")
    out = ratecard("curve", plan, "api", "--to", "3000", "--format", "json")
    assert out.exit_code == 0, out.stderr
    points = {p["quantity"]: p["amount"] for p in json.loads(out.stdout)["points"]}
    assert points["0"] == "5.00" and points["3000"] == "20.00"
