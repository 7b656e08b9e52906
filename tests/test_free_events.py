"""Percentage charges with `free_events:` and `free_amount:`: hand-worked cases, order, groups, a property.

Peer: Lago's percentage charge (getlago/lago-api,
spec/services/charges/charge_models/percentage_service_spec.rb), whose
`free_units_per_events`, `free_units_per_total_aggregation`, `fixed_amount`
and per-transaction minimum and maximum are ratecard's `free_events`,
`free_amount`, `fixed_fee`, `min_fee` and `max_fee`; its cases are restated
below as ledgers, with the amounts its comments give.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from interpreter.output.render import document_data
from plan_helpers import compile_plan, problems_of, rate_csv

PLAN = """
    plan: card
    currency: USD
    usage:
      amount: money
    metrics:
      payments: {count: true}
    charges:
      fees:
        model: percentage
        on: amount
%s
"""


def plan_of(keys: str):
    return compile_plan(PLAN % "".join(f"        {line}\n" for line in keys.strip().splitlines()))


def ledger_of(*amounts: str, customer: str = "c") -> str:
    rows = "".join(f"{i},{customer},2024-11-{1 + i:02d}T10:00:00Z,{a}\n" for i, a in enumerate(amounts))
    return "event_id,customer,timestamp,amount\n" + rows


def fee(plan, tmp_path, ledger: str) -> str:
    result = rate_csv(plan, tmp_path, ledger, period="2024-11")
    assert result.rejected == []
    return document_data(result.documents[0])["lines"][0]["amount"]


def test_lago_free_events_and_free_amount_with_a_fixed_fee(tmp_path):
    # Lago: events 50, 100, 250, 400 (running total 50, 150, 400, 800); 3 free events, 250 free, 1.3% + 2.0.
    # 50 and 100 are free; 250 crosses 250 and pays on 150; 400 is the 4th event and pays in full:
    # (800 - 250) x 1.3% = 7.15, plus 2 paying events x 2.0 = 4.00: 11.15
    plan = plan_of("rate: 1.3%\nfixed_fee: 2.0\nfree_events: 3\nfree_amount: 250")
    assert fee(plan, tmp_path, ledger_of("50", "100", "250", "400")) == "11.15"


@pytest.mark.parametrize(
    ("keys", "amount"),
    [
        ("", "23.75"),  # 1.75 (min, 100 x 1% = 1) + 10 + 12 (max, 10000 x 1% = 100)
        ("fixed_fee: 1.0", "25.00"),  # 2 + 11 + 12
        ("free_events: 2", "12.00"),  # only 10000 pays: capped at 12; the free ones pay no minimum
        ("free_amount: 300", "20.00"),  # 100 free, 1000 pays on 800 = 8, 10000 capped at 12
        ("free_events: 3\nfree_amount: 10000", "11.00"),  # 10000 crosses 10000 after 1100: pays on 1100 = 11
    ],
)
def test_lago_minimum_and_maximum_apply_to_paying_events_only(tmp_path, keys, amount):
    # Lago: events 100, 1000, 10000 at 1%, per transaction minimum 1.75 and maximum 12
    plan = plan_of(f"rate: 1%\nmin_fee: 1.75\nmax_fee: 12\n{keys}")
    assert fee(plan, tmp_path, ledger_of("100", "1000", "10000")) == amount


def test_the_part_past_a_free_amount_keeps_every_decimal_place(tmp_path):
    # 0.005 past 0.0000000001 free pays on 0.0049999999, which rounds half up to 0.00, not 0.01
    plan = compile_plan(PLAN.replace("amount: money", "amount: number") % "        rate: 100%\n        free_amount: 0.0000000001\n")
    assert fee(plan, tmp_path, ledger_of("0.005")) == "0.00"
    assert fee(plan, tmp_path, ledger_of("0.0050000001")) == "0.01"


def test_events_are_taken_in_timestamp_order_ties_in_ledger_order(tmp_path):
    plan = plan_of("rate: 10%\nfree_events: 1")
    # the ledger lists 500 first, but 20 happened earlier: 20 is the free one, 500 pays 50.00
    ledger = "event_id,customer,timestamp,amount\n1,c,2024-11-09T00:00:00Z,500\n2,c,2024-11-02T00:00:00Z,20\n"
    assert fee(plan, tmp_path, ledger) == "50.00"
    # at the same instant the earlier row of the ledger is the free one
    ledger = "event_id,customer,timestamp,amount\n1,c,2024-11-02T00:00:00Z,500\n2,c,2024-11-02T00:00:00Z,20\n"
    assert fee(plan, tmp_path, ledger) == "2.00"


def test_free_events_start_again_each_period_and_follow_the_where(tmp_path):
    plan = compile_plan(
        """
        plan: card
        currency: USD
        usage:
          amount: money
          kind: {type: text, values: [sale, refund]}
        charges:
          fees:
            model: percentage
            on: amount
            where: kind == "sale"
            rate: 10%
            free_events: 1
        """
    )
    ledger = (
        "event_id,customer,timestamp,kind,amount\n"
        "1,c,2024-10-30T00:00:00Z,sale,100\n"  # October's free one
        "2,c,2024-11-01T00:00:00Z,refund,7\n"  # not an event of the charge: does not use the free one up
        "3,c,2024-11-02T00:00:00Z,sale,30\n"  # November's free one
        "4,c,2024-11-03T00:00:00Z,sale,40\n"  # pays 4.00
    )
    result = rate_csv(plan, tmp_path, ledger, period="2024-10-01..2024-11-30")
    assert [document_data(d)["lines"][0]["amount"] for d in result.documents] == ["0.00", "4.00"]


def test_free_events_count_per_group(tmp_path):
    plan = compile_plan(
        """
        plan: card
        currency: USD
        usage:
          amount: money
          brand: {type: text, values: [visa, amex]}
        charges:
          fees:
            model: percentage
            on: amount
            group_by: [brand]
            rate: 10%
            free_events: 1
            prices:
              - {match: {brand: amex}, rate: 20%, free_events: 0}
        """
    )
    ledger = (
        "event_id,customer,timestamp,brand,amount\n"
        "1,c,2024-11-01T00:00:00Z,visa,100\n"
        "2,c,2024-11-02T00:00:00Z,amex,10\n"
        "3,c,2024-11-03T00:00:00Z,visa,50\n"
    )
    result = rate_csv(plan, tmp_path, ledger, period="2024-11")
    lines = [(line["id"], line["amount"]) for line in document_data(result.documents[0])["lines"]]
    assert lines == [("fees[amex]", "2.00"), ("fees[visa]", "5.00")]


def test_explain_counts_the_free_events(tmp_path):
    plan = plan_of("rate: 1.3%\nfixed_fee: 2.0\nfree_events: 3\nfree_amount: 250")
    result = rate_csv(plan, tmp_path, ledger_of("50", "100", "250", "400"), period="2024-11", trace=True)
    steps = [(s.text, s.quantity, s.amount) for s in result.documents[0].lines[0].trace.steps]
    assert steps[0] == ("free events (the first 3, within 250 in all)", 2, 0)
    assert steps[1][0] == "2 events at 1.3% + 2" and steps[1][1] == 550


def test_check_refuses_a_negative_or_fractional_number_of_free_events():
    assert [m for _, _, m in problems_of(PLAN % "        rate: 1%\n        free_events: 1.5\n")] == [
        "free_events is a number of events: 1.5 is not a whole number of at least 0"
    ]
    assert [m for _, _, m in problems_of(PLAN % "        rate: 1%\n        free_amount: -1\n")] == ["free_amount -1 is below zero"]


AMOUNTS = st.lists(st.decimals(min_value=0, max_value=1000, places=2), min_size=1, max_size=8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=AMOUNTS,
    free_events=st.one_of(st.none(), st.integers(0, 5)),
    free_amount=st.one_of(st.none(), st.decimals(min_value=0, max_value=2000, places=2)),
)
def test_free_events_never_make_a_charge_larger(tmp_path, amounts, free_events, free_amount):
    keys = "rate: 2.9%\nfixed_fee: 0.30\nmin_fee: 0.50\nmax_fee: 20"
    plain = plan_of(keys)
    extra = (f"\nfree_events: {free_events}" if free_events is not None else "") + (
        f"\nfree_amount: {free_amount}" if free_amount is not None else ""
    )
    freed = plan_of(keys + extra)
    ledger = ledger_of(*(f"{a:f}" for a in amounts))
    assert Decimal(fee(freed, tmp_path, ledger)) <= Decimal(fee(plain, tmp_path, ledger))


def test_a_subscription_window_counts_each_event_once_beside_free_events(tmp_path):
    # A window (from October 2) and its period (October) both hold these rows: each row is counted
    # in the customer's window once, and the free events run over the window's rows.
    plan = compile_plan("""
        plan: windowed
        currency: USD
        usage:
          amount: money
        metrics:
          events: {count: true}
        charges:
          per_event: {model: per_unit, on: events, unit_price: 1}
          card: {model: percentage, on: amount, rate: 10%, free_events: 1}
    """)
    ledger = "event_id,customer,timestamp,amount\n" + "".join(f"e{i},acme,2024-10-30T00:00:00Z,10\n" for i in range(3))
    records = {"acme": {"subscriptions": [{"plan": "windowed", "from": "2024-10-02"}]}, "plain": {}}
    result = rate_csv(plan, tmp_path, ledger, period="2024-10", customer_records=records)
    (doc,) = [document_data(d) for d in result.documents if d.customer == "acme"]
    assert doc["period"] == {"start": "2024-10-02", "end": "2024-10-31"}
    assert {line["id"]: line["amount"] for line in doc["lines"]} == {"per_event": "3.00", "card": "2.00"}
