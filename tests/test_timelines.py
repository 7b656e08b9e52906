"""Customers over time: subscription windows, proration by days, trials, cancellations, bad timelines."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import document_data
from plan_helpers import compile_plan


def plan_text(plan_id: str, monthly: str, extra: str = "") -> str:
    return textwrap.dedent(f"""
        plan: {plan_id}
        currency: USD
        usage:
          calls: {{type: integer, default: 0}}
          seats: {{type: integer, default: 0}}
        metrics:
          calls: {{sum: calls}}
          seats: {{time_weighted: seats}}
        charges:
          base:
            model: flat
            amount: {monthly}
    """) + textwrap.indent(textwrap.dedent(extra), "  ")


BASIC = plan_text("basic", "10")
PREMIUM = plan_text("premium", "20")


def write(tmp_path: Path, name: str, text: str) -> str:
    file = tmp_path / name
    file.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return str(file)


def ledger(tmp_path: Path, rows: list[str] = ()) -> str:
    return write(tmp_path, "ledger.csv", "event_id,customer,timestamp,calls,seats\n" + "".join(r + "\n" for r in rows))


def documents(result) -> list[dict]:
    return [document_data(d) for d in result.documents]


SWITCH = """
    acme:
      subscriptions:
        - {plan: basic, from: 2024-04-01}
        - {plan: premium, from: 2024-04-16}
"""


def test_stripe_proration_example_10_to_20_switched_halfway_is_5_plus_10(tmp_path):
    """Stripe's documented example: 10/month, switched to 20/month halfway through a 30-day month."""
    customers = write(tmp_path, "customers.yaml", SWITCH)
    usage = ledger(tmp_path)
    (old,) = documents(rate(compile_plan(BASIC), usage, period="2024-04", customers=customers))
    (new,) = documents(rate(compile_plan(PREMIUM), usage, period="2024-04", customers=customers))
    assert (old["period"], old["total"]) == ({"start": "2024-04-01", "end": "2024-04-15"}, "5.00")
    assert (new["period"], new["total"]) == ({"start": "2024-04-16", "end": "2024-04-30"}, "10.00")


def test_usage_counts_in_the_window_its_timestamp_falls_in(tmp_path):
    plan = plan_text("basic", "0", "calls: {model: per_unit, on: calls, unit_price: 1}\n")
    customers = write(tmp_path, "customers.yaml", SWITCH)
    usage = ledger(tmp_path, ["a,acme,2024-04-15T23:59:59,3,", "b,acme,2024-04-16T00:00:00,5,"])
    (doc,) = documents(rate(compile_plan(plan), usage, period="2024-04", customers=customers))
    assert doc["lines"][1] == {"id": "calls", "description": "calls", "quantity": "3", "amount": "3.00"}


def test_a_switch_on_the_first_day_of_a_period_prorates_nothing(tmp_path):
    customers = write(
        tmp_path,
        "customers.yaml",
        """
        acme:
          subscriptions:
            - {plan: basic, from: 2024-03-10}
            - {plan: premium, from: 2024-04-01}
        """,
    )
    usage = ledger(tmp_path)
    old = documents(rate(compile_plan(BASIC), usage, period="2024-03-01..2024-04-30", customers=customers))
    new = documents(rate(compile_plan(PREMIUM), usage, period="2024-03-01..2024-04-30", customers=customers))
    assert [(d["period"]["start"], d["period"]["end"], d["total"]) for d in old] == [("2024-03-10", "2024-03-31", "7.10")]
    assert [(d["period"]["start"], d["period"]["end"], d["total"]) for d in new] == [("2024-04-01", "2024-04-30", "20.00")]


def test_cancellation_ends_the_window_and_bills_nothing_after(tmp_path):
    customers = write(
        tmp_path,
        "customers.yaml",
        """
        acme:
          subscriptions:
            - {plan: basic, from: 2024-01-01}
            - {plan: null, from: 2024-04-11}
        """,
    )
    docs = documents(rate(compile_plan(BASIC), ledger(tmp_path), period="2024-03-01..2024-05-31", customers=customers))
    assert [(d["period"]["start"], d["period"]["end"], d["total"]) for d in docs] == [
        ("2024-03-01", "2024-03-31", "10.00"),
        ("2024-04-01", "2024-04-10", "3.33"),
    ]


def test_prorate_true_prorates_a_usage_priced_charge_and_others_bill_as_usual(tmp_path):
    plan = plan_text(
        "basic",
        "0",
        """
        support:
          model: per_unit
          on: 1
          unit_price: 30
          prorate: true
        calls:
          model: per_unit
          on: calls
          unit_price: 1
        """,
    )
    customers = write(tmp_path, "customers.yaml", SWITCH)
    usage = ledger(tmp_path, ["a,acme,2024-04-02T10:00:00,7,"])
    (doc,) = documents(rate(compile_plan(plan), usage, period="2024-04", customers=customers))
    assert {line["id"]: line["amount"] for line in doc["lines"]} == {"base": "0.00", "support": "15.00", "calls": "7.00"}


def test_time_weighted_metric_counts_the_window_days_over_the_period_days(tmp_path):
    plan = plan_text("premium", "0", "seats: {model: per_unit, on: seats, unit_price: 30}\n")
    customers = write(tmp_path, "customers.yaml", SWITCH)
    usage = ledger(tmp_path, ["a,acme,2024-03-05T09:00:00,,2"])  # two seats all along
    (doc,) = documents(rate(compile_plan(plan), usage, period="2024-04", customers=customers))
    # 2 seats for 15 of 30 days: one seat-month
    assert {line["id"]: (line["quantity"], line["amount"]) for line in doc["lines"]}["seats"] == ("1", "30.00")


def test_customers_without_subscriptions_are_rated_every_period_as_before(tmp_path):
    customers = write(tmp_path, "customers.yaml", SWITCH + "    other: {}\n")
    docs = documents(rate(compile_plan(BASIC), ledger(tmp_path), period="2024-04", customers=customers))
    assert [(d["customer"], d["period"]["start"], d["total"]) for d in docs] == [
        ("acme", "2024-04-01", "5.00"),
        ("other", "2024-04-01", "10.00"),
    ]


def test_run_bills_each_window_under_its_plan(tmp_path, ratecard):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "basic.yaml").write_text(BASIC, encoding="utf-8")
    (plans / "premium.yaml").write_text(PREMIUM, encoding="utf-8")
    customers = write(tmp_path, "customers.yaml", SWITCH + "    other: {plan: premium}\n")
    out = tmp_path / "out"
    result = ratecard("run", "--customers", customers, "--plans", plans, "--usage", ledger(tmp_path), "--period", "2024-04", "--out", out)
    assert result.exit_code == 0, result.output
    basic = json.loads((out / "basic.json").read_text())["documents"]
    premium = json.loads((out / "premium.json").read_text())["documents"]
    assert [(d["customer"], d["period"]["end"], d["total"]) for d in basic] == [("acme", "2024-04-15", "5.00")]
    assert [(d["customer"], d["period"]["start"], d["total"]) for d in premium] == [
        ("acme", "2024-04-16", "10.00"),
        ("other", "2024-04-01", "20.00"),
    ]


def test_rate_with_customers_rates_the_windows_of_that_plan(tmp_path, ratecard):
    plan = write(tmp_path, "premium.yaml", PREMIUM)
    customers = write(tmp_path, "customers.yaml", SWITCH)
    result = ratecard("rate", plan, "--usage", ledger(tmp_path), "--period", "2024-04", "--customers", customers, "--format", "json")
    assert result.exit_code == 0, result.output
    (doc,) = json.loads(result.stdout)["documents"]
    assert (doc["period"], doc["total"]) == ({"start": "2024-04-16", "end": "2024-04-30"}, "10.00")


def test_diff_compares_windows_like_periods(tmp_path, ratecard):
    old = write(tmp_path, "old.yaml", PREMIUM)
    new = write(tmp_path, "new.yaml", plan_text("premium", "40"))
    customers = write(tmp_path, "customers.yaml", SWITCH)
    result = ratecard("diff", old, new, "--usage", ledger(tmp_path), "--period", "2024-04", "--customers", customers, "--format", "json")
    assert result.exit_code == 0, result.output
    (change,) = json.loads(result.stdout)["changes"]
    assert (change["customer"], change["period"], change["old_total"], change["new_total"]) == (
        "acme",
        "2024-04-16..2024-04-30",
        "10",
        "20",
    )


TRIAL = """
    acme:
      subscriptions:
        - {plan: basic, from: 2024-04-01}
      trial_until: 2024-04-10
"""


def test_trial_days_are_free_for_flat_charges_by_default(tmp_path):
    customers = write(tmp_path, "customers.yaml", TRIAL)
    (doc,) = documents(rate(compile_plan(BASIC), ledger(tmp_path), period="2024-04", customers=customers))
    assert doc["total"] == "6.67"  # 20 of 30 days of 10


def test_trial_ends_inside_a_later_window_only_for_its_days(tmp_path):
    customers = write(tmp_path, "customers.yaml", TRIAL)
    docs = documents(rate(compile_plan(BASIC), ledger(tmp_path), period="2024-04-01..2024-05-31", customers=customers))
    assert [d["total"] for d in docs] == ["6.67", "10.00"]


def test_trial_free_on_a_usage_charge_leaves_out_the_trial_days_and_paid_usage_bills_as_usual(tmp_path):
    plan = plan_text(
        "basic",
        "10",
        """
        support: {model: flat, amount: 30, trial: paid}
        calls: {model: per_unit, on: calls, unit_price: 1}
        storage: {model: per_unit, on: calls, unit_price: 3, trial: free}
        """,
    )
    customers = write(tmp_path, "customers.yaml", TRIAL)
    usage = ledger(tmp_path, ["a,acme,2024-04-02T10:00:00,30,"])
    (doc,) = documents(rate(compile_plan(plan), usage, period="2024-04", customers=customers))
    # storage: 90 for the month, 20 of its 30 days outside the trial
    assert {line["id"]: line["amount"] for line in doc["lines"]} == {
        "base": "6.67",
        "support": "30.00",
        "calls": "30.00",
        "storage": "60.00",
    }


def test_trial_without_subscriptions_applies_to_every_plan_period(tmp_path):
    customers = write(tmp_path, "customers.yaml", "acme: {trial_until: 2024-04-15}\n")
    (doc,) = documents(rate(compile_plan(BASIC), ledger(tmp_path), period="2024-04", customers=customers))
    assert doc["total"] == "5.00"


@pytest.mark.parametrize(
    "subscriptions, line, message",
    [
        (
            "- {plan: basic, from: 2024-04-16}\n    - {plan: premium, from: 2024-04-01}",
            5,
            "the subscription from 2024-04-01 starts before the one from 2024-04-16 (line 4)",
        ),
        (
            "- {plan: basic, from: 2024-04-16}\n    - {plan: premium, from: 2024-04-16}",
            5,
            "starts on the same day as the one from 2024-04-16",
        ),
        ("- {plan: basic, from: 2024-04-31}", 4, "from '2024-04-31' is not a date"),
        ("- {plan: basic}", 4, "each subscription is {plan: ID, from: DATE}"),
    ],
)
def test_a_bad_timeline_names_the_customer_and_the_line_and_bills_nothing(tmp_path, ratecard, subscriptions, line, message):
    customers = write(tmp_path, "customers.yaml", f"other: {{}}\nacme:\n  subscriptions:\n    {subscriptions}\n")
    plan = write(tmp_path, "basic.yaml", BASIC)
    result = ratecard("rate", plan, "--usage", ledger(tmp_path), "--period", "2024-04", "--customers", customers, "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"customers.yaml:{line}: customer 'acme'" in result.stderr
    assert message in result.stderr


def test_a_subscription_before_the_plan_is_in_force_is_refused(tmp_path):
    customers = write(tmp_path, "customers.yaml", "acme:\n  subscriptions:\n    - {plan: basic, from: 2023-12-01}\n")
    plan = compile_plan("effective: 2024-01-01\n" + BASIC)
    with pytest.raises(
        RateProblem, match=r"customers.yaml:3: customer 'acme': the subscription to plan 'basic' from 2023-12-01 starts before"
    ):
        rate(plan, ledger(tmp_path), period="2024-04", customers=customers)


def test_run_refuses_a_subscription_to_a_plan_that_does_not_exist(tmp_path, ratecard):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "basic.yaml").write_text(BASIC, encoding="utf-8")
    (plans / "premium.yaml").write_text(PREMIUM, encoding="utf-8")
    customers = write(tmp_path, "customers.yaml", SWITCH.replace("plan: premium", "plan: premum"))
    out = tmp_path / "out"
    result = ratecard("run", "--customers", customers, "--plans", plans, "--usage", ledger(tmp_path), "--out", out)
    assert result.exit_code == 2
    assert (
        "customers.yaml:4: customer 'acme': subscription to plan 'premum', which is not in the plans folder; did you mean 'premium'?"
        in result.stderr
    )
    assert not (out / "basic.json").exists()


API = plan_text(
    "pro",
    "50",
    """
    api:
      model: graduated
      on: calls
      tiers:
        - {up_to: 1000, unit_price: 0}
        - {unit_price: 0.01}
    """,
)


def negotiated(tmp_path: Path, overrides: str, rows: list[str] = ("a,acme,2024-04-02T10:00:00,3000,",)) -> list[dict]:
    plan = write(tmp_path, "pro.yaml", API)
    customers = write(tmp_path, "customers.yaml", "acme:\n  overrides:\n    pro:\n" + textwrap.indent(textwrap.dedent(overrides), "      "))
    from dsl.loader import load_plan

    return documents(rate(load_plan(plan).plan, ledger(tmp_path, list(rows)), period="2024-04", customers=customers))


def test_an_override_replaces_a_price_and_the_document_lists_its_path(tmp_path):
    (doc,) = negotiated(tmp_path, "charges.api.tiers.1.unit_price: 0.005\n")
    assert [line["amount"] for line in doc["lines"]] == ["50.00", "10.00"]
    assert doc["overrides"] == ["charges.api.tiers.1.unit_price"]


def test_overrides_replace_a_tier_table_add_a_discount_and_a_minimum(tmp_path):
    (doc,) = negotiated(
        tmp_path,
        """
        charges.api.tiers: [{up_to: 2000, unit_price: 0}, {unit_price: 0.02}]
        discounts.enterprise: {percent: 10%}
        minimum: 100
        """,
    )
    assert {line["id"]: line["amount"] for line in doc["lines"]} == {
        "base": "50.00",
        "api": "20.00",
        "enterprise": "-7.00",
        "minimum": "37.00",
    }
    assert doc["overrides"] == ["charges.api.tiers", "discounts.enterprise", "minimum"]


def test_customers_without_overrides_keep_the_plan_prices(tmp_path):
    docs = negotiated(tmp_path, "charges.base.amount: 40\n", rows=["a,acme,2024-04-02T10:00:00,0,", "b,zed,2024-04-02T10:00:00,0,"])
    assert [(d["customer"], d["total"], d.get("overrides")) for d in docs] == [
        ("acme", "40.00", ["charges.base.amount"]),
        ("zed", "50.00", None),
    ]


@pytest.mark.parametrize(
    "override, message",
    [
        ("charges.apii.unit_price: 1", "customers.yaml:4:7: customer 'acme': charges has no charge 'apii'; did you mean 'api'?"),
        ("charges.api.tiers.1.unit_price: lots", "customers.yaml:4:39: customer 'acme':"),
        ("charges.api.tiers.1.unit_price: 0.5 EUR", "customers.yaml:4:39: customer 'acme': "),
        ("metrics.calls: {count: true}", "customers.yaml:4:7: customer 'acme': cannot override 'metrics.calls'"),
    ],
)
def test_a_bad_override_names_the_customer_and_the_line_and_bills_nothing(tmp_path, ratecard, override, message):
    plan = write(tmp_path, "pro.yaml", API)
    customers = write(tmp_path, "customers.yaml", f"acme:\n  overrides:\n    pro:\n      {override}\n")
    result = ratecard("rate", plan, "--usage", ledger(tmp_path), "--period", "2024-04", "--customers", customers, "--format", "json")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in result.stderr
    if "EUR" in override:
        assert "EUR" in result.stderr and "USD" in result.stderr


def test_check_validates_overrides_against_the_plan(tmp_path, ratecard):
    plan = write(tmp_path, "pro.yaml", API)
    customers = write(
        tmp_path,
        "customers.yaml",
        """
        acme:
          overrides:
            pro:
              charges.api.tiers.1.unit_pric: 0.005
              discounts.enterprise: {percent: lots}
        zed:
          overrides:
            pro: {charges.base.amount: 40}
        """,
    )
    result = ratecard("check", plan, "--customers", customers)
    assert result.exit_code == 1
    assert "customers.yaml:4:7: error: customer 'acme': " in result.stdout
    assert "unit_pric" in result.stdout and "did you mean 'unit_price'?" in result.stdout
    assert "customers.yaml:5:" in result.stdout
    assert "zed" not in result.stdout
    clean = write(tmp_path, "clean.yaml", "zed:\n  overrides:\n    pro: {charges.base.amount: 40}\n")
    assert ratecard("check", plan, "--customers", clean).exit_code == 0


def test_explain_shows_the_overridden_value_next_to_the_plans(tmp_path, ratecard):
    plan = write(tmp_path, "pro.yaml", API)
    customers = write(
        tmp_path,
        "customers.yaml",
        "acme:\n  overrides:\n    pro:\n      charges.api.tiers.1.unit_price: 0.005\n      discounts.vip: {percent: 10%}\n",
    )
    usage = ledger(tmp_path, ["a,acme,2024-04-02T10:00:00,3000,"])
    result = ratecard("explain", plan, "--usage", usage, "--customer", "acme", "--period", "2024-04", "--customers", customers)
    assert result.exit_code == 0, result.output
    assert "charges.api.tiers.1.unit_price = 0.005 (" in result.stdout
    assert "customers.yaml:4); plan: 0.01 (" in result.stdout and "pro.yaml:19)" in result.stdout
    assert "discounts.vip = {percent: 10%} (" in result.stdout and "plan: not in the plan" in result.stdout
    assert "Tier 2 · above 1,000: 2,000 × $0.005 = $10.00" in result.stdout
    assert "customers.yaml:5 (discount)\n├── percent: 10%\n" in result.stdout


def test_proration_is_exact_before_it_is_rounded(tmp_path):
    """0.03 for 5 of 30 days is exactly 0.005: half-even rounds it to 0.00 (a factor of 1/6 cut to 40 digits would not)."""
    plan = compile_plan(plan_text("basic", "0.03").replace("amount: 0.03", "amount: 0.03\n    rounding: half_even"))
    customers = write(tmp_path, "customers.yaml", "acme:\n  subscriptions:\n    - {plan: basic, from: 2024-04-26}\n")
    (doc,) = documents(rate(plan, ledger(tmp_path), period="2024-04", customers=customers))
    assert (doc["period"]["start"], doc["total"]) == ("2024-04-26", "0.00")


def test_the_saas_example_run_gives_the_documents_of_the_plans_scenarios(tmp_path, ratecard):
    """docs/examples: the customers file and ledger of the SaaS pair, run over the shipped plans, give each
    plan the documents its reviewed scenario snapshot holds (the scenarios carry the same customers inline)."""
    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "out"
    examples = root / "docs" / "examples"
    result = ratecard(
        "run", "--customers", examples / "saas_customers.yaml", "--plans", root / "plans", "--usage", examples / "saas_usage_2024_06.csv",
        "--period", "2024-06", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for plan_id, folder in (("saas-starter", "saas_starter"), ("saas-pro", "saas_pro")):
        snapshot = root / "tests" / "__snapshots__" / "test_scenarios" / f"test_scenario[{folder}-june_switches].json"
        assert json.loads((out / f"{plan_id}.json").read_text())["documents"] == json.loads(snapshot.read_text())["documents"]


def test_run_lists_a_rejected_row_of_a_customer_on_two_plans_once(tmp_path, ratecard):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "basic.yaml").write_text(BASIC, encoding="utf-8")
    (plans / "premium.yaml").write_text(PREMIUM, encoding="utf-8")
    customers = write(tmp_path, "customers.yaml", SWITCH)
    out = tmp_path / "out"
    usage = ledger(tmp_path, ["a,acme,2024-04-02T10:00:00,lots,"])
    result = ratecard("run", "--customers", customers, "--plans", plans, "--usage", usage, "--period", "2024-04", "--out", out)
    assert result.exit_code == 3, result.output
    rows = (out / "rejected.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("1,a,")
    files = {f["name"]: f for f in json.loads((out / "manifest.json").read_text())["files"]}
    assert files["rejected.csv"]["rows"] == 1


def test_an_estimate_rates_no_window_that_starts_after_it(tmp_path):
    customers = write(tmp_path, "customers.yaml", SWITCH)
    usage = ledger(tmp_path)
    assert documents(rate(compile_plan(PREMIUM), usage, as_of="2024-04-10", customers=customers)) == []
    (doc,) = documents(rate(compile_plan(BASIC), usage, as_of="2024-04-10", customers=customers))
    assert (doc["period"], doc.get("estimate")) == ({"start": "2024-04-01", "end": "2024-04-15"}, True)


def test_a_plan_beside_subscriptions_is_refused_rather_than_one_picked(tmp_path, ratecard):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "basic.yaml").write_text(BASIC, encoding="utf-8")
    (plans / "premium.yaml").write_text(PREMIUM, encoding="utf-8")
    customers = write(tmp_path, "customers.yaml", "acme:\n  plan: basic\n  subscriptions:\n    - {plan: premium, from: 2024-04-01}\n")
    result = ratecard("run", "--customers", customers, "--plans", plans, "--usage", ledger(tmp_path), "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "customers.yaml:2: customer 'acme': give either a plan or subscriptions, not both" in result.stderr


CANCELLED = """
    acme:
      subscriptions:
        - {plan: basic, from: 2024-01-01}
        - {plan: null, from: 2024-04-11}
"""

LATE_START = """
    acme:
      subscriptions:
        - {plan: basic, from: 2024-04-16}
"""

USAGE_PLAN = plan_text("basic", "10", "calls: {model: per_unit, on: calls, unit_price: 1}\n")


def rejected(result) -> list[tuple[int, str | None, str]]:
    return [(r.row, r.event_id, r.reason) for r in result.rejected]


def test_usage_after_a_mid_month_cancellation_is_a_rejected_row(tmp_path):
    customers = write(tmp_path, "customers.yaml", CANCELLED)
    usage = ledger(tmp_path, ["a,acme,2024-04-05T10:00:00,3,", "b,acme,2024-04-20T10:00:00,5,", "c,acme,2024-04-10T23:59:59,1,"])
    result = rate(compile_plan(USAGE_PLAN), usage, period="2024-04", customers=customers)
    (doc,) = documents(result)
    assert (doc["period"]["end"], doc["lines"][1]["quantity"]) == ("2024-04-10", "4")
    assert rejected(result) == [(2, "b", "customer 'acme' has no subscription on 2024-04-20")]


def test_usage_before_the_first_subscription_starts_mid_period_is_a_rejected_row(tmp_path):
    customers = write(tmp_path, "customers.yaml", LATE_START)
    usage = ledger(tmp_path, ["a,acme,2024-04-03T10:00:00,3,", "b,acme,2024-04-16T00:00:00,5,"])
    result = rate(compile_plan(USAGE_PLAN), usage, period="2024-04", customers=customers)
    (doc,) = documents(result)
    assert (doc["period"]["start"], doc["lines"][1]["quantity"]) == ("2024-04-16", "5")
    assert rejected(result) == [(1, "a", "customer 'acme' has no subscription on 2024-04-03")]


def test_usage_on_another_plans_window_is_left_to_that_plan_and_not_rejected(tmp_path):
    customers = write(tmp_path, "customers.yaml", SWITCH)
    usage = ledger(tmp_path, ["a,acme,2024-04-20T10:00:00,5,"])
    basic = rate(compile_plan(USAGE_PLAN), usage, period="2024-04", customers=customers)
    assert rejected(basic) == []
    premium = plan_text("premium", "20", "calls: {model: per_unit, on: calls, unit_price: 1}\n")
    (doc,) = documents(rate(compile_plan(premium), usage, period="2024-04", customers=customers))
    assert doc["lines"][1]["quantity"] == "5"


def test_usage_outside_the_rated_periods_or_of_other_customers_is_not_judged_by_the_subscriptions(tmp_path):
    customers = write(tmp_path, "customers.yaml", CANCELLED + "    other: {}\n")
    usage = ledger(tmp_path, ["a,acme,2024-05-20T10:00:00,3,", "b,other,2024-04-20T10:00:00,5,", "c,acme,2024-04-20T10:00:00,1,"])
    plan = compile_plan(USAGE_PLAN)
    assert rejected(rate(plan, usage, period="2024-04", customers=customers)) == [
        (3, "c", "customer 'acme' has no subscription on 2024-04-20")
    ]
    assert rejected(rate(plan, usage, period="2024-04", customers=customers, customer="other")) == []


def test_an_estimate_rejects_no_row_after_its_moment(tmp_path):
    customers = write(tmp_path, "customers.yaml", CANCELLED)
    usage = ledger(tmp_path, ["a,acme,2024-04-12T10:00:00,3,", "b,acme,2024-04-20T10:00:00,5,"])
    result = rate(compile_plan(USAGE_PLAN), usage, as_of="2024-04-15", customers=customers)
    assert rejected(result) == [(1, "a", "customer 'acme' has no subscription on 2024-04-12")]


def test_rate_exits_3_and_lists_usage_without_a_subscription_in_rejects(tmp_path, ratecard):
    plan = write(tmp_path, "basic.yaml", USAGE_PLAN)
    customers = write(tmp_path, "customers.yaml", CANCELLED)
    usage = ledger(tmp_path, ["a,acme,2024-04-05T10:00:00,3,", "b,acme,2024-04-20T10:00:00,5,"])
    rejects = tmp_path / "rejects.csv"
    result = ratecard(
        "rate", plan, "--usage", usage, "--period", "2024-04", "--customers", customers, "--rejects", rejects, "--format", "json"
    )
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["rejected"] == [
        {"row": 2, "event_id": "b", "reason": "customer 'acme' has no subscription on 2024-04-20"}
    ]
    assert rejects.read_text().splitlines()[1:] == ["2,b,customer 'acme' has no subscription on 2024-04-20"]


def test_run_rejects_usage_no_subscription_covers_once_and_bills_the_rest(tmp_path, ratecard):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "basic.yaml").write_text(USAGE_PLAN, encoding="utf-8")
    (plans / "premium.yaml").write_text(
        plan_text("premium", "20", "calls: {model: per_unit, on: calls, unit_price: 1}\n"), encoding="utf-8"
    )
    customers = write(
        tmp_path,
        "customers.yaml",
        """
        acme:
          subscriptions:
            - {plan: basic, from: 2024-04-05}
            - {plan: premium, from: 2024-04-16}
            - {plan: null, from: 2024-04-25}
        """,
    )
    rows = [
        "a,acme,2024-04-02T10:00:00,1,",
        "b,acme,2024-04-10T10:00:00,2,",
        "c,acme,2024-04-20T10:00:00,4,",
        "d,acme,2024-04-27T10:00:00,8,",
    ]
    out = tmp_path / "out"
    result = ratecard(
        "run", "--customers", customers, "--plans", plans, "--usage", ledger(tmp_path, rows), "--period", "2024-04", "--out", out
    )
    assert result.exit_code == 3, result.output
    assert (out / "rejected.csv").read_text().splitlines()[1:] == [
        "1,a,customer 'acme' has no subscription on 2024-04-02",
        "4,d,customer 'acme' has no subscription on 2024-04-27",
    ]
    files = {f["name"]: f for f in json.loads((out / "manifest.json").read_text())["files"]}
    assert files["rejected.csv"]["rows"] == 2
    basic = json.loads((out / "basic.json").read_text())["documents"]
    premium = json.loads((out / "premium.json").read_text())["documents"]
    assert [d["lines"][1]["quantity"] for d in basic + premium] == ["2", "4"]


def test_run_rejects_usage_of_a_customer_whose_subscriptions_name_no_plan(tmp_path, ratecard):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "basic.yaml").write_text(USAGE_PLAN, encoding="utf-8")
    customers = write(tmp_path, "customers.yaml", "gone:\n  subscriptions:\n    - {plan: null, from: 2024-01-01}\nother: {plan: basic}\n")
    usage = ledger(tmp_path, ["a,gone,2024-04-02T10:00:00,1,", "b,other,2024-04-03T10:00:00,2,"])
    out = tmp_path / "out"
    result = ratecard("run", "--customers", customers, "--plans", plans, "--usage", usage, "--period", "2024-04", "--out", out)
    assert result.exit_code == 3, result.output
    assert (out / "rejected.csv").read_text().splitlines()[1:] == ["1,a,customer 'gone' has no plan in customers.yaml"]
