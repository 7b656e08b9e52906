"""What people read: the terminal table of `rate`, the `run` summary and `explain` (interpreter/output/human.py).

Amounts are shown as babel formats them for the plan's currency (`₩330,000`,
`$1,234.56`), tax rates as percents, and `explain` is a tree in which each
condition is shown once, the parts a condition never looked at are marked,
a time-weighted metric shows its level day by day and a date left at its
placeholder default reads "not set". JSON and CSV keep their plain decimal
strings (test_render_safety.py, test_engine_cli.py).
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from interpreter.output import human
from plan_helpers import PLANS

PORTONE = PLANS / "portone_one_payment_infra.yaml"
PORTONE_LEDGER = PLANS / "portone_one_payment_infra" / "ledger_2024_11.csv"
SEATS = PLANS / "steppay_seats.yaml"

USD_PLAN = textwrap.dedent("""\
    plan: consulting
    currency: USD
    timezone: UTC
    usage:
      hours: number
    metrics:
      billed: {sum: hours}
    charges:
      work: {name: Consulting, model: per_unit, on: billed, unit_price: 123.456}
    taxes:
      sales: {name: Sales tax, rate: 8.875%}
""")


# --- the formatting functions -------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, currency, shown",
    [
        ("330000", "KRW", "₩330,000"),
        ("1234.56", "USD", "$1,234.56"),
        ("-5000", "KRW", "-₩5,000"),
        ("0.0015", "USD", "$0.0015"),  # a unit price keeps its digits
        ("1.234", "BHD", "BHD1.234"),
        ("12345678901234567890123456789012345678", "KRW", "₩12,345,678,901,234,567,890,123,456,789,012,345,678"),
    ],
)
def test_money(amount, currency, shown):
    assert human.money(amount, currency) == shown


def test_rates_quantities_and_changes():
    assert human.percent("0.10") == "10%"
    assert human.percent(Decimal("0.08875")) == "8.875%"
    assert human.number("12300000") == "12,300,000"
    assert human.number(Decimal(77) / 31, places=6) == "≈2.483871"
    assert human.number("2.5", places=6) == "2.5"
    assert human.signed_money("55000", "KRW") == "+₩55,000"
    assert human.signed_money("-55000", "KRW") == "-₩55,000"
    assert human.signed_percent("16.67") == "+16.67%"


# --- rate's table -----------------------------------------------------------------------------


def test_the_table_shows_amounts_in_the_currency_and_taxes_as_percents(ratecard, tmp_path: Path):
    (tmp_path / "plan.yaml").write_text(USD_PLAN, encoding="utf-8")
    (tmp_path / "usage.csv").write_text("event_id,customer,timestamp,hours\ne1,acme,2024-11-02T10:00:00,10\n", encoding="utf-8")
    result = ratecard("rate", tmp_path / "plan.yaml", "--usage", tmp_path / "usage.csv", "--period", "2024-11")
    assert result.exit_code == 0, result.output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.stdout.splitlines() if line.startswith("│")]
    assert rows == [
        ["work", "Consulting", "10", "$1,234.56"],
        ["", "Subtotal", "", "$1,234.56"],
        ["sales", "Sales tax 8.875%", "", "$109.57"],
        ["", "Total", "", "$1,344.13"],
    ]


def test_the_table_of_a_shipped_plan_in_won(ratecard):
    result = ratecard("rate", PORTONE, "--usage", PORTONE_LEDGER, "--period", "2024-11", "--customer", "megamart")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "₩300,000" in text and "₩30,000" in text and "₩330,000" in text
    assert "VAT 10%" in text and "0.10 on" not in text
    assert "119,000,000" in text  # the net volume, grouped


def test_json_and_csv_keep_plain_decimal_strings(ratecard):
    args = ("rate", PORTONE, "--usage", PORTONE_LEDGER, "--period", "2024-11", "--customer", "megamart", "--format")
    assert '"total": "330000"' in ratecard(*args, "json").stdout
    assert ",total,total,Total,,,330000,KRW," in ratecard(*args, "csv").stdout


# --- run's summary --------------------------------------------------------------------------


def test_the_run_summary_shows_each_plans_total_in_its_currency(ratecard, tmp_path: Path):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "portone_one_payment_infra.yaml").write_text(PORTONE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "customers.csv").write_text("customer,plan\nmegamart,portone-opi\ntravelco,portone-opi\n", encoding="utf-8")
    result = ratecard(
        "run", "--customers", tmp_path / "customers.csv", "--plans", plans, "--usage", PORTONE_LEDGER, "--period", "2024-11",
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 3, result.output  # the other customers' rows have no plan
    assert "portone-opi: 2 customer(s), 2 document(s), 0 rejected row(s), invoiced ₩880,000" in result.stdout


# --- explain ----------------------------------------------------------------------------------


def explain(ratecard, *args) -> str:
    result = ratecard("explain", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_explain_shows_each_condition_once_and_what_it_never_looked_at(ratecard):
    text = explain(ratecard, PORTONE, "--usage", PORTONE_LEDGER, "--customer", "megamart", "--period", "2024-11")
    assert text.count('customer.billing == "monthly"') == 1
    # `or` stops at the first true alternative: the three after it are marked, not evaluated
    assert text.count("not evaluated") >= 3
    assert "── when: true" in text
    assert "₩300,000" in text and "VAT 10%" in text


def test_explain_shows_a_placeholder_date_as_not_set(ratecard):
    text = explain(ratecard, PORTONE, "--usage", PORTONE_LEDGER, "--customer", "megamart", "--period", "2024-11")
    assert "customer.annual_start = not set (1900-01-01)" in text


def test_explain_shows_a_time_weighted_metric_day_by_day(ratecard, tmp_path: Path):
    ledger = tmp_path / "seats.csv"
    ledger.write_text(
        "event_id,customer,timestamp,record,quota\n"
        "t1,team,2024-04-02T09:00:00+09:00,2,\n"
        "t2,team,2024-05-05T09:00:00+09:00,1,\n"
        "t3,team,2024-05-20T18:00:00+09:00,-1,\n",
        encoding="utf-8",
    )
    text = explain(ratecard, SEATS, "--usage", ledger, "--customer", "team", "--period", "2024-05")
    assert "2.483870967741935483870967741935483870968" not in text
    assert "seats = 77 / 31 days ≈ 2.483871" in text
    assert "2024-05-01..2024-05-04: 2 (4 days)" in text
    assert "2024-05-05..2024-05-19: 3 (15 days)" in text
    assert "2024-05-20..2024-05-31: 2 (12 days)" in text


SHORT_CIRCUIT = textwrap.dedent("""\
    plan: short
    currency: USD
    timezone: UTC
    usage:
      units: integer
    customer:
      tier: {type: text, values: [basic, gold], default: basic}
      renewal: {type: date, default: 1900-01-01}
    metrics:
      used: {sum: units}
    charges:
      use:
        name: Use
        model: flat
        amount: if customer.tier == "gold" then used * 2 USD else used * 3 USD
      gold:
        name: Gold support
        model: flat
        amount: 10
        when: customer.tier == "gold" and used > 5 and customer.renewal > period.start
""")


def test_explain_marks_the_branch_not_taken_and_the_conditions_not_evaluated(ratecard, tmp_path: Path):
    (tmp_path / "plan.yaml").write_text(SHORT_CIRCUIT, encoding="utf-8")
    (tmp_path / "usage.csv").write_text("event_id,customer,timestamp,units\ne1,acme,2024-11-02T10:00:00,7\n", encoding="utf-8")
    text = explain(ratecard, tmp_path / "plan.yaml", "--usage", tmp_path / "usage.csv", "--customer", "acme", "--period", "2024-11")
    use = text[text.index("\nuse  ") : text.index("\ngold  ")]
    assert '── amount: if customer.tier == "gold" then used * 2 USD else used * 3 USD = $21.00\n' in use
    assert '── customer.tier == "gold" = false\n' in use
    assert "── used * 2 USD: not evaluated\n" in use and "── used * 3 USD = $21.00\n" in use
    gold = text[text.index("\ngold  ") : text.index("\nsubtotal")]
    # `and` stops at the first false condition: the charge is not billed, and the rest was never looked at
    assert "gold  'Gold support'  ->  not billed" in gold
    assert "── when: false (all of these)\n" in gold
    assert '── customer.tier == "gold" = false\n' in gold
    assert "── used > 5: not evaluated\n" in gold and gold.endswith("── customer.renewal > period.start: not evaluated")


def test_the_readme_shows_the_table_rate_prints(ratecard):
    readme = (PLANS.parent / "README.md").read_text(encoding="utf-8")
    command = "$ ratecard rate plans/portone_one_payment_infra.yaml --usage plans/portone_one_payment_infra/ledger_2024_11.csv"
    shown = readme[readme.index(command) :].split("\n```", 1)[0].splitlines()
    result = ratecard("rate", PORTONE, "--usage", PORTONE_LEDGER, "--period", "2024-11", "--customer", "megamart")
    assert shown[1:] == [line.rstrip() for line in result.stdout.splitlines()][: len(shown) - 1]
