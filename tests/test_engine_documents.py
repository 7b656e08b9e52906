"""Documents: settlement statements, discounts, notices and the billing schedule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsl.loader import load_plan
from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import document_data, document_line
from interpreter.review.scenario_schema import UsageScenario
from interpreter.review.scenarios import plan_path_for, rated, read_spec, scenario_files
from plan_helpers import compile_plan, rate_csv

USAGE_SCENARIOS = [p for p in scenario_files(Path(__file__).resolve().parent.parent / "plans") if isinstance(read_spec(p), UsageScenario)]


@pytest.mark.parametrize("path", USAGE_SCENARIOS, ids=[f"{p.parent.parent.name}-{p.stem}" for p in USAGE_SCENARIOS])
def test_a_jsonl_line_is_the_bytes_json_dumps_gives(path):
    """`document_line` writes JSON by hand for speed; on every shipped scenario (credits, memo lines,
    notices, schedules, estimates, Korean text) it must be exactly the compact `json.dumps` text."""
    spec = read_spec(path)
    documents = rated(path, spec, load_plan(plan_path_for(path, spec)).plan).documents
    assert documents
    for doc in documents:
        assert document_line(doc) == json.dumps(document_data(doc), ensure_ascii=False, separators=(",", ":"))


SETTLEMENT = """
    plan: academy
    kind: settlement
    currency: KRW
    timezone: Asia/Seoul
    usage:
      kind: {type: text, values: [payment, join, leave]}
      amount: {type: money, default: 0}
    metrics:
      payments: {sum: amount, where: kind == "payment"}
    lines:
      payments: {name: Payments received, value: payments}
      commission: payments * 10%
      vat: {value: commission * 10%, rounding: down}
      revenue: payments - commission - vat
      withholding: round(revenue * 3.3%, 10, "down")
      payout: {name: Paid out, value: revenue - withholding}
    total: payout
"""


def test_settlement_lines_are_rounded_in_order_and_the_total_is_the_payout(tmp_path):
    # payments 945,695; commission 94,569.5 -> 94,570 (half up); VAT on the rounded
    # commission 9,457.0 -> 9,457 (on the unrounded one it would be 9,456.95 -> 9,456);
    # revenue 945,695 - 94,570 - 9,457 = 841,668; withholding 27,775.044 truncated to
    # 10 KRW = 27,770; payout 813,898
    result = rate_csv(
        compile_plan(SETTLEMENT),
        tmp_path,
        """
        event_id,customer,timestamp,kind,amount
        1,hagwon,2024-11-03T10:00:00,payment,900000
        2,hagwon,2024-11-04T10:00:00,payment,45695
        3,hagwon,2024-11-05T10:00:00,join,
    """,
    )
    (doc,) = result.documents
    data = document_data(doc)
    assert (data["kind"], data["currency"], data["taxes"], data["notices"]) == ("settlement", "KRW", [], [])
    assert [(line["id"], line["description"], line["quantity"], line["amount"]) for line in data["lines"]] == [
        ("payments", "Payments received", None, "945695"),
        ("commission", "commission", None, "94570"),
        ("vat", "vat", None, "9457"),
        ("revenue", "revenue", None, "841668"),
        ("withholding", "withholding", None, "27770"),
        ("payout", "Paid out", None, "813898"),
    ]
    assert data["total"] == "813898"


def test_settlement_of_a_customer_without_payments_pays_nothing(tmp_path):
    result = rate_csv(
        compile_plan(SETTLEMENT),
        tmp_path,
        """
        event_id,customer,timestamp,kind,amount
        1,quiet,2024-11-05T10:00:00,join,
    """,
    )
    assert [line["amount"] for line in document_data(result.documents[0])["lines"]] == ["0"] * 6


INVOICE = """
    plan: shop
    currency: USD
    timezone: Asia/Seoul
    usage: {amount: money, kind: {type: text, values: [order, return]}}
    metrics:
      orders: {sum: amount, where: kind == "order"}
      returns: {sum: amount, where: kind == "return"}
      net: orders - returns
    charges:
      platform: {name: Platform fee, model: flat, amount: 29.00}
      commission: {name: Commission, model: per_unit, on: net, unit_price: 0.05}
      premium: {name: Premium support, model: flat, amount: 99.00, when: net >= 10_000}
    discounts:
      welcome: {name: Welcome credit, amount: 50.00}
      loyal: {name: Loyalty, percent: 10%, applies_to: [commission], when: orders >= 1_000}
    notices:
      big_month: {when: net >= 10_000, message: "Premium support was added this month."}
      returns_high: {when: returns > orders, message: "More returned than ordered."}
    schedule: {issue_day: 1, dispute_until_day: 5, charge_day: 10, charge_time: "10:00"}
"""


def test_discounts_never_take_the_document_below_zero_and_when_conditions_hold(tmp_path):
    result = rate_csv(
        compile_plan(INVOICE),
        tmp_path,
        """
        event_id,customer,timestamp,amount,kind
        1,small,2024-11-03T10:00:00,100.00,order
        2,large,2024-11-03T10:00:00,12000.00,order
        3,large,2024-11-04T10:00:00,1000.00,return
        4,refunds,2024-11-04T10:00:00,10.00,order
        5,refunds,2024-11-05T10:00:00,30.00,return
    """,
    )
    docs = {d.customer: document_data(d) for d in result.documents}
    # small: 29.00 + 5.00 = 34.00; the 50.00 credit takes only 34.00; no loyalty (orders < 1,000)
    assert [(line["id"], line["amount"]) for line in docs["small"]["lines"]] == [
        ("platform", "29.00"),
        ("commission", "5.00"),
        ("welcome", "-34.00"),
    ]
    assert docs["small"]["total"] == "0.00"
    assert docs["small"]["notices"] == [
        {
            "id": "welcome.unused",
            "message": (
                "Welcome credit: 16.00 of the 50.00 USD discount is more than the charges it applies to (34.00 USD) "
                "and is not carried to a later period."
            ),
        }
    ]
    # large: 29 + 550 + 99 = 678; welcome -50 (taken from platform first, then commission);
    # loyalty 10% of what is left of commission (550 - 21 = 529) = 52.90
    assert [(line["id"], line["amount"]) for line in docs["large"]["lines"]] == [
        ("platform", "29.00"),
        ("commission", "550.00"),
        ("premium", "99.00"),
        ("welcome", "-50.00"),
        ("loyal", "-52.90"),
    ]
    assert docs["large"]["total"] == "575.10"
    assert [n["id"] for n in docs["large"]["notices"]] == ["big_month"]
    # refunds: net -20 prices 0 units; 29.00 - 29.00 = 0
    assert [(line["id"], line["quantity"], line["amount"]) for line in docs["refunds"]["lines"]] == [
        ("platform", None, "29.00"),
        ("commission", "-20", "0.00"),
        ("welcome", None, "-29.00"),
    ]
    assert [n["id"] for n in docs["refunds"]["notices"]] == ["returns_high", "welcome.unused"]


def test_schedule_follows_the_period_in_the_plan_time_zone(tmp_path):
    result = rate_csv(
        compile_plan(INVOICE),
        tmp_path,
        """
        event_id,customer,timestamp,amount,kind
        1,a,2024-12-31T23:30:00,1.00,order
        2,a,2025-02-10T10:00:00,1.00,order
    """,
    )
    schedules = [document_data(d)["schedule"] for d in result.documents]
    assert schedules == [
        {"issue_date": "2025-01-01", "dispute_until": "2025-01-05", "charge_at": "2025-01-10T10:00:00+09:00"},
        {"issue_date": "2025-03-01", "dispute_until": "2025-03-05", "charge_at": "2025-03-10T10:00:00+09:00"},
    ]
    partial = rate(compile_plan(INVOICE), str(tmp_path / "ledger.csv"), period="2024-12-15..2024-12-31").documents
    assert document_data(partial[0])["schedule"]["issue_date"] == "2025-01-01"
