"""Tax-included prices: `included: true` on a tax, `tax_included:` on a settlement line, and the HTML invoice."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal

from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import document_data
from plan_helpers import compile_plan

INVOICE = textwrap.dedent("""
    plan: consumer
    currency: KRW
    timezone: Asia/Seoul
    usage:
      plays: {type: integer, default: 0}
    metrics:
      plays: {sum: plays}
    charges:
      pass: {name: Monthly pass, model: flat, amount: 10_900}
      plays: {model: per_unit, on: plays, unit_price: 110}
    taxes:
      vat: {name: VAT, rate: 10%, included: true, rounding: down}
""")

SETTLEMENT = textwrap.dedent("""
    plan: partner
    kind: settlement
    currency: KRW
    timezone: Asia/Seoul
    usage:
      amount: money
    metrics:
      payments: {sum: amount}
    lines:
      payments: payments
      vat: {value: payments, tax_included: 10%, rounding: down}
      payout: payments - vat
    total: payout
""")


def ledger(tmp_path, header: str, rows: list[str]) -> str:
    file = tmp_path / "ledger.csv"
    file.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(file)


def test_an_included_tax_is_taken_out_of_the_subtotal_not_added(tmp_path):
    usage = ledger(tmp_path, "event_id,customer,timestamp,plays", ["a,kim,2024-11-03T10:00:00,7"])
    (doc,) = [document_data(d) for d in rate(compile_plan(INVOICE), usage, period="2024-11").documents]
    # 10,900 + 770 = 11,670 including VAT: 11,670 / 11 = 1,060.9 -> 1,060 (rounded down)
    assert (doc["subtotal"], doc["total"]) == ("11670", "11670")
    assert doc["taxes"] == [{"id": "vat", "rate": "0.10", "base": "11670", "amount": "1060", "included": True}]


def test_a_tax_that_is_not_included_is_added_as_before(tmp_path):
    usage = ledger(tmp_path, "event_id,customer,timestamp,plays", ["a,kim,2024-11-03T10:00:00,7"])
    plan = compile_plan(INVOICE.replace(", included: true", ""))
    (doc,) = [document_data(d) for d in rate(plan, usage, period="2024-11").documents]
    assert (doc["total"], doc["taxes"][0]["amount"]) == ("12837", "1167")
    assert "included" not in doc["taxes"][0]


def test_a_settlement_line_takes_the_tax_a_tax_included_amount_holds(tmp_path):
    usage = ledger(tmp_path, "event_id,customer,timestamp,amount", ["a,academy,2024-11-03T10:00:00,123457"])
    (doc,) = [document_data(d) for d in rate(compile_plan(SETTLEMENT), usage, period="2024-11").documents]
    # the OneHour rule: VAT is the amount / 11, rounded down to 1 KRW
    assert {line["id"]: line["amount"] for line in doc["lines"]} == {"payments": "123457", "vat": "11223", "payout": "112234"}
    assert Decimal(11223) == (Decimal(123457) / 11).to_integral_value(rounding="ROUND_DOWN")


def test_the_html_invoice_says_incl_vat_and_does_not_add_it(tmp_path, ratecard):
    plan = tmp_path / "consumer.yaml"
    plan.write_text(INVOICE, encoding="utf-8")
    usage = ledger(tmp_path, "event_id,customer,timestamp,plays", ["a,kim,2024-11-03T10:00:00,7"])
    result = ratecard("rate", plan, "--usage", usage, "--period", "2024-11", "--format", "html")
    assert result.exit_code == 0, result.output
    assert "incl. VAT 10%" in result.stdout
    assert "(₩1,060)" in result.stdout
    assert result.stdout.count("₩11,670") >= 2  # the subtotal is the total


def test_check_refuses_a_tax_included_rate_outside_0_to_100_percent(tmp_path, ratecard):
    plan = tmp_path / "partner.yaml"
    plan.write_text(SETTLEMENT.replace("tax_included: 10%", "tax_included: 110%"), encoding="utf-8")
    result = ratecard("check", plan, "--format", "json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["diagnostics"]
    assert "tax rate 1.1 is outside 0%..100%" in problem["message"] and problem["line"] == 12


def test_tax_included_gives_the_onehour_vat_rule_on_every_onehour_scenario():
    """OneHour's VAT is (payments - usage fee - commission) / 11, rounded down: written as the tax a
    tax-included amount holds at 10%, the shipped plan's statements come out the same, line for line."""
    from dsl.loader import load_plan_text
    from interpreter.review import scenarios
    from plan_helpers import PLANS

    shipped = (PLANS / "onehour_business_partner.yaml").read_text(encoding="utf-8")
    rule = "    value: (payments - usage_fee - commission) / 11\n"
    assert rule in shipped
    included = load_plan_text(
        "onehour.yaml", shipped.replace(rule, "    value: payments - usage_fee - commission\n    tax_included: 10%\n")
    )
    assert included.plan is not None, included.diagnostics
    compared = 0
    for path in sorted((PLANS / "onehour_business_partner" / "scenarios").glob("*.yaml")):
        spec = scenarios.read_spec(path)
        if not isinstance(spec, scenarios.UsageScenario):
            continue
        shipped_plan = scenarios.load_plan(scenarios.plan_path_for(path, spec)).plan
        ours = [document_data(d) for d in scenarios.rated(path, spec, included.plan).documents]
        theirs = [document_data(d) for d in scenarios.rated(path, spec, shipped_plan).documents]
        assert ours == theirs, path.name
        compared += len(theirs)
    assert compared >= 8


def test_an_included_tax_that_divides_evenly_is_exact_before_it_is_rounded_down(tmp_path):
    """10,800 including 8% holds exactly 800 of tax: rounded down, not a won less (on invoices and statements)."""
    usage = ledger(tmp_path, "event_id,customer,timestamp,plays", ["a,kim,2024-11-03T10:00:00,7"])
    plan = compile_plan(INVOICE.replace("amount: 10_900", "amount: 10_030").replace("rate: 10%", "rate: 8%"))
    (doc,) = [document_data(d) for d in rate(plan, usage, period="2024-11").documents]
    assert (doc["subtotal"], doc["taxes"][0]["amount"]) == ("10800", "800")
    settlement = compile_plan(SETTLEMENT.replace("tax_included: 10%", "tax_included: 8%"))
    usage = ledger(tmp_path, "event_id,customer,timestamp,amount", ["a,academy,2024-11-03T10:00:00,10800"])
    (doc,) = [document_data(d) for d in rate(settlement, usage, period="2024-11").documents]
    assert doc["lines"][1]["amount"] == "800"


def test_the_table_and_csv_say_the_tax_is_included(tmp_path, ratecard):
    plan = tmp_path / "consumer.yaml"
    plan.write_text(INVOICE, encoding="utf-8")
    usage = ledger(tmp_path, "event_id,customer,timestamp,plays", ["a,kim,2024-11-03T10:00:00,7"])
    table = ratecard("rate", plan, "--usage", usage, "--period", "2024-11")
    assert "│ incl. VAT 10% │          │  ₩1,060 │" in table.stdout  # part of the ₩11,670, not added to it
    rows = ratecard("rate", plan, "--usage", usage, "--period", "2024-11", "--format", "csv").stdout.splitlines()
    assert "kim,consumer,2024-11-01,2024-11-30,tax_included,vat,VAT,,0.10,1060,KRW," in rows
