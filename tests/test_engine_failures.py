"""A document whose plan expression fails is a failure of its own: named, listed, and the others still rated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interpreter.output.render import document_data
from interpreter.pricing.evaluate import EvaluationError
from plan_helpers import compile_plan, rate_csv

PLAN = """\
plan: shares
currency: USD
usage: {amount: money}
customer:
  divisor: {type: number, default: 1}
  months: {type: integer, default: 0}
metrics: {sales: {sum: amount}}
charges:
  share: {name: Share, model: formula, amount: sales / customer.divisor}
  renewal: {name: Renewal, model: formula, amount: "days_between(period.start, add_months(period.start, customer.months)) * 0.01 USD"}
credits:
  goodwill: {name: Goodwill credit, balance: 5.00}
"""

LEDGER = """\
event_id,customer,timestamp,amount
1,acme,2024-11-02T10:00:00,10.00
2,bolt,2024-11-02T10:00:00,20.00
3,cora,2024-11-02T10:00:00,30.00
4,bolt,2024-12-02T10:00:00,20.00
5,cora,2024-12-02T10:00:00,30.00
"""

CUSTOMERS = {"bolt": {"divisor": "0"}, "cora": {"months": "99999999"}}


def test_a_failing_document_is_listed_and_the_other_customers_are_still_rated(tmp_path):
    result = rate_csv(compile_plan(PLAN), tmp_path, LEDGER, period="2024-11-01..2024-12-31", customer_records=CUSTOMERS, keep_going=True)
    assert [(d.customer, d.period_start.month) for d in result.documents] == [("acme", 11)]
    assert document_data(result.documents[0])["total"] == "5.00"
    shown = [(f.customer, f.plan, str(f.period_start), str(f.period_end), f.span.line, f.reason) for f in result.failures]
    assert shown == [
        ("bolt", "shares", "2024-11-01", "2024-11-30", 9, "division by zero"),
        # bolt's December is not rated either: the credit it would start from depends on November
        (
            "bolt",
            "shares",
            "2024-12-01",
            "2024-12-31",
            9,
            "not rated: the document of 2024-11-01..2024-11-30 failed, and the balances this one starts from carry over from it",
        ),
        ("cora", "shares", "2024-11-01", "2024-11-30", 10, "add_months() gives a date outside the years 1 to 9999"),
        (
            "cora",
            "shares",
            "2024-12-01",
            "2024-12-31",
            10,
            "not rated: the document of 2024-11-01..2024-11-30 failed, and the balances this one starts from carry over from it",
        ),
    ]


def test_without_keep_going_the_first_failure_in_document_order_is_raised(tmp_path):
    with pytest.raises(EvaluationError, match="division by zero") as raised:
        rate_csv(compile_plan(PLAN), tmp_path, LEDGER, period="2024-11-01..2024-12-31", customer_records=CUSTOMERS)
    assert raised.value.span.line == 9


def test_numbers_too_large_to_round_are_a_failure_of_that_document(tmp_path):
    plan = compile_plan(
        PLAN.replace("amount: sales / customer.divisor", "amount: sales * customer.divisor * customer.divisor * customer.divisor")
    )
    # each factor is within what a customers file may hold (18 digits); their product is not
    result = rate_csv(plan, tmp_path, LEDGER, period="2024-11", customer_records={"bolt": {"divisor": "1" + "0" * 17}}, keep_going=True)
    assert [d.customer for d in result.documents] == ["acme", "cora"]
    (failure,) = result.failures
    assert (failure.customer, failure.span.line) == ("bolt", 9)
    assert "more than 40 digits" in failure.reason


def test_a_credit_balance_too_large_to_round_fails_at_the_credit(tmp_path):
    plan = compile_plan(PLAN.replace("balance: 5.00}", "balance: 5.00 USD * customer.divisor * customer.divisor * customer.divisor}"))
    result = rate_csv(plan, tmp_path, LEDGER, period="2024-11", customer_records={"bolt": {"divisor": "1" + "0" * 17}}, keep_going=True)
    (failure,) = [f for f in result.failures if f.customer == "bolt"]
    assert failure.span.line == 12
    assert "more than 40 digits" in failure.reason


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    (tmp_path / "customers.yaml").write_text("bolt: {divisor: 0}\ncora: {months: 99999999}\n", encoding="utf-8")
    return {name: str(tmp_path / name) for name in ("plan.yaml", "ledger.csv", "customers.yaml")}


def rate_cli(ratecard, files, *args):
    return ratecard(
        "rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--customers", files["customers.yaml"], "--period", "2024-11", *args
    )


def test_rate_prints_the_other_documents_lists_the_failures_and_exits_1(ratecard, files):
    result = rate_cli(ratecard, files, "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [d["customer"] for d in data["documents"]] == ["acme"]
    assert data["rejected"] == []
    assert data["failures"] == [
        {
            "customer": "bolt",
            "plan": "shares",
            "period": {"start": "2024-11-01", "end": "2024-11-30"},
            "file": files["plan.yaml"],
            "line": 9,
            "column": 48,
            "reason": "division by zero",
        },
        {
            "customer": "cora",
            "plan": "shares",
            "period": {"start": "2024-11-01", "end": "2024-11-30"},
            "file": files["plan.yaml"],
            "line": 10,
            "column": 80,
            "reason": "add_months() gives a date outside the years 1 to 9999",
        },
    ]
    assert f"{files['plan.yaml']}:9:48: error: customer 'bolt', period 2024-11-01..2024-11-30: division by zero" in result.stderr
    assert "2 document(s) not rated" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("fmt", ["jsonl", "yaml", "table", "csv"])
def test_every_format_says_which_documents_failed(ratecard, files, fmt):
    result = rate_cli(ratecard, files, "--format", fmt)
    assert result.exit_code == 1, result.output
    assert "customer 'bolt', period 2024-11-01..2024-11-30: division by zero" in result.stderr
    if fmt == "jsonl":
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line.get("customer") or line["failure"]["customer"] for line in lines] == ["acme", "bolt", "cora"]
    elif fmt == "yaml":
        assert "failures:" in result.stdout


def test_a_run_without_failures_prints_no_failures_key(ratecard, files):
    result = ratecard("rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--period", "2024-11", "--format", "json")
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)) == ["documents", "rejected"]


def test_no_closing_balances_are_written_when_a_document_failed(ratecard, files, tmp_path):
    out = tmp_path / "balances.csv"
    result = rate_cli(ratecard, files, "--format", "json", "--balances-out", str(out))
    assert result.exit_code == 1
    assert "balances not written" in result.stderr
    assert not out.exists()
