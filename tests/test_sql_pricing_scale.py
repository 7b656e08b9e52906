"""Documents priced in SQL whose amounts are held at 20 decimal places: no overflow on the way to HUGEINT.

A plan whose prices have four places and whose multiplier is a customer's
rate holds unrounded amounts at 20 places; turning such an amount that is
not whole into a count of 10^-20 must not overflow DECIMAL(38), and the
document must be the interpreter's, byte for byte.
"""

from __future__ import annotations

import json

from interpreter.engines.duckdb import engine as duck_engine
from interpreter.ledger import priced
from plan_helpers import compile_plan

PLAN = """
plan: drawn
currency: KRW
period: month
timezone: Asia/Seoul
usage:
  q: {type: number}
metrics:
  m_sum: {sum: q}
  m_max: {max: q}
  m_count: {count: true}
  m_time_weighted: {time_weighted: q}
  m_prorated: {prorated: q}
  m_opening: {opening: q}
  m_min: {min: q}
  m_last: {last: q}
charges:
  c0:
    model: graduated
    rounding: half_up
    on: m_sum
    allow_decrease: true
    tiers:
      - {up_to: 1, block: 1, block_price: 0.00}
      - {block: 1, block_price: 0.00}
    minimum: 0.000
    maximum: 20
    memo: true
    when: m_sum > 50
    multiplier: -1
  c1:
    model: per_unit
    rounding: half_up
    on: m_sum
    unit_price: 0.0000
    free_units: 0
    minimum: 0.000
    maximum: 20
    multiplier: customer.rate
  c2:
    model: per_unit
    rounding: half_even
    on: m_sum
    unit_price: 0.0000
    free_units: 0
    minimum: 0.010
    maximum: 20
    memo: true
    when: m_sum > 50
    multiplier: customer.rate
customer:
  tier: {type: text, values: [basic, pro], default: basic}
  rate: {type: number, default: 1.5}
  vip: {type: bool, default: false}
"""


def test_a_minimum_below_the_currency_unit_times_a_customer_rate_is_priced_as_the_interpreter_prices_it(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.jsonl"
    rows = [
        {"event_id": "e0", "customer": "a", "timestamp": "2024-10-01T00:00:00+00:00", "q": "0"},
        {"event_id": "bad-number", "customer": "b", "timestamp": "2024-10-05T00:00:00Z", "q": "x"},
    ]
    ledger.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    plan = compile_plan(PLAN)
    assert priced.unsupported(plan) is None
    records = {"a": {"tier": "pro", "rate": "2.25"}, "b": {"vip": "true", "rate": "0.125"}}
    sql = duck_engine.rate(plan, str(ledger), period="2024-10", lines=True, customer_records=records).documents
    monkeypatch.setenv(priced.PRICING_ENV, "python")
    python = duck_engine.rate(plan, str(ledger), period="2024-10", lines=True, customer_records=records).documents
    assert sql == python and sql
