"""Balances carried from document to document: credits consumed once, discounts carried, the balances file."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from dsl.loader import load_plan_text
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import document_data
from interpreter.pricing import balances
from plan_helpers import compile_plan, problems_of, rate_csv

STORAGE = """
    plan: storage
    currency: USD
    usage: {gb: number}
    customer: {deposit: {type: money, default: 0}}
    metrics: {gb: {sum: gb}}
    charges:
      storage: {name: Storage, model: per_unit, on: gb, unit_price: 1.00}
    taxes:
      vat: {rate: 10%}
    credits:
      deposit: {name: Prepaid deposit, balance: customer.deposit}
      goodwill: {name: Goodwill credit, balance: 50.00}
"""

THREE_MONTHS = """
    event_id,customer,timestamp,gb
    1,acme,2024-11-10T10:00:00,20
    2,acme,2024-12-10T10:00:00,30
    3,acme,2025-01-10T10:00:00,10
"""


def credits_of(doc) -> dict[str, tuple[str, str, str]]:
    return {c["id"]: (c["opening"], c["applied"], c["closing"]) for c in document_data(doc)["credits"]}


def test_a_balance_is_consumed_once_across_the_periods_of_one_run(tmp_path):
    result = rate_csv(
        compile_plan(STORAGE), tmp_path, THREE_MONTHS, period="2024-11-01..2025-01-31", customer_records={"acme": {"deposit": "30"}}
    )
    november, december, january = result.documents
    # November: due 22.00; the deposit takes it all (8.00 left), goodwill untouched
    assert credits_of(november) == {"deposit": ("30.00", "22.00", "8.00"), "goodwill": ("50.00", "0.00", "50.00")}
    assert november.total == 0
    # December: due 33.00; what November left of the deposit (8.00), then 25.00 of goodwill
    assert credits_of(december) == {"deposit": ("8.00", "8.00", "0.00"), "goodwill": ("50.00", "25.00", "25.00")}
    assert december.total == 0
    # January: due 11.00; the deposit is spent, goodwill has 25.00 of its 50.00 left, never re-granted
    assert credits_of(january) == {"deposit": ("0.00", "0.00", "0.00"), "goodwill": ("25.00", "11.00", "14.00")}
    assert january.total == 0


def test_consumption_follows_the_periods_for_a_customer_listed_without_usage(tmp_path):
    # `quiet` has usage in December only; November's document comes from the customers file.
    # The base fee is owed in November all the same, and it is paid from the deposit first.
    plan = compile_plan(STORAGE.replace("      storage:", "      base: {model: flat, amount: 10.00}\n      storage:"))
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,gb
        1,quiet,2024-12-10T10:00:00,10
    """,
        period="2024-11-01..2024-12-31",
        customer_records={"quiet": {"deposit": "15"}},
    )
    november, december = result.documents
    assert (november.period_start.month, november.rows, credits_of(november)["deposit"]) == (11, 0, ("15.00", "11.00", "4.00"))
    assert (december.period_start.month, credits_of(december)["deposit"]) == (12, ("4.00", "4.00", "0.00"))
    assert (credits_of(december)["goodwill"], december.total) == (("50.00", "18.00", "32.00"), 0)


def test_consumption_carries_across_plan_versions_in_period_order(tmp_path):
    first = textwrap.dedent(STORAGE).replace("plan: storage", "plan: storage\neffective: 2024-01-01")
    second = first.replace("2024-01-01", "2024-12-01").replace("unit_price: 1.00", "unit_price: 2.00")
    loaded = load_plan_text("storage.yaml", first + "---\n" + second)
    assert loaded.plan is not None, loaded.diagnostics
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(textwrap.dedent(THREE_MONTHS).lstrip(), encoding="utf-8")
    docs = rate(loaded.versions, str(ledger), period="2024-11-01..2025-01-31", customer_records={"acme": {"deposit": "30"}}).documents
    # November under the first version (due 22.00), December and January under the second (66.00, 22.00)
    assert [credits_of(d)["goodwill"] for d in docs] == [("50.00", "0.00", "50.00"), ("50.00", "50.00", "0.00"), ("0.00", "0.00", "0.00")]
    assert [credits_of(d)["deposit"] for d in docs] == [("30.00", "22.00", "8.00"), ("8.00", "8.00", "0.00"), ("0.00", "0.00", "0.00")]
    assert [str(d.total) for d in docs] == ["0.00", "8.00", "22.00"]


def test_a_credit_whose_when_is_false_keeps_its_balance_for_a_later_period(tmp_path):
    plan = compile_plan(STORAGE.replace("balance: 50.00}", "balance: 50.00, when: gb >= 25}"))
    docs = rate_csv(plan, tmp_path, THREE_MONTHS, period="2024-11-01..2025-01-31").documents
    assert ["goodwill" in credits_of(d) for d in docs] == [False, True, False]
    assert credits_of(docs[1])["goodwill"] == ("50.00", "33.00", "17.00")
    assert [str(d.total) for d in docs] == ["22.00", "0.00", "11.00"]


# --- the balances file: the next run starts where this one ended ---------------------------------


@pytest.fixture
def storage(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "plan.yaml").write_text(textwrap.dedent(STORAGE).lstrip(), encoding="utf-8")
    (tmp_path / "ledger.csv").write_text(textwrap.dedent(THREE_MONTHS).lstrip(), encoding="utf-8")
    (tmp_path / "customers.yaml").write_text("acme: {deposit: 30}\n", encoding="utf-8")
    return {name: str(tmp_path / name) for name in ("plan.yaml", "ledger.csv", "customers.yaml")} | {"dir": str(tmp_path)}


def rate_json(ratecard, files: dict, *args: str) -> dict:
    result = ratecard(
        "rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--customers", files["customers.yaml"], "--format", "json", *args
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_next_run_starts_from_the_closing_balances_of_the_last(ratecard, storage):
    out = Path(storage["dir"]) / "after_november.csv"
    november = rate_json(ratecard, storage, "--period", "2024-11", "--balances-out", str(out))
    assert out.read_text(encoding="utf-8") == ("customer,id,currency,balance\nacme,deposit,USD,8.00\nacme,goodwill,USD,50.00\n")
    december = rate_json(ratecard, storage, "--period", "2024-12", "--balances", str(out))
    together = rate_json(ratecard, storage, "--period", "2024-11-01..2024-12-31")
    assert november["documents"] + december["documents"] == together["documents"]
    assert december["documents"][0]["credits"][0] == {
        "id": "deposit",
        "description": "Prepaid deposit",
        "opening": "8.00",
        "applied": "8.00",
        "closing": "0.00",
    }


def test_balances_of_customers_not_rated_are_written_out_unchanged(ratecard, storage):
    given = Path(storage["dir"]) / "given.csv"
    given.write_text("customer,id,currency,balance\nzed,deposit,USD,5.00\nacme,goodwill,USD,12.50\n", encoding="utf-8")
    out = Path(storage["dir"]) / "out.csv"
    data = rate_json(ratecard, storage, "--period", "2024-11", "--customer", "acme", "--balances", str(given), "--balances-out", str(out))
    # acme's goodwill comes from the file (12.50), not from the plan (50.00); the deposit from the customer (30)
    assert {c["id"]: c["opening"] for c in data["documents"][0]["credits"]} == {"deposit": "30.00", "goodwill": "12.50"}
    assert out.read_text(encoding="utf-8").splitlines() == [
        "customer,id,currency,balance",
        "acme,deposit,USD,8.00",
        "acme,goodwill,USD,12.50",
        "zed,deposit,USD,5.00",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        ("customer,id,balance\nacme,deposit,5\n", "needs the columns customer, id, currency, balance"),
        (
            "customer,id,currency,balance\nacme,deposit,KRW,5000\n",
            "given.csv:2: balance 'deposit' of customer 'acme' is in KRW; plan 'storage' bills in USD",
        ),
        ("customer,id,currency,balance\nacme,deposit,USD,5.001\n", "given.csv:2: 5.001 has more decimals than USD has (2)"),
        ("customer,id,currency,balance\nacme,deposit,USD,five\n", "given.csv:2: 'five' is not a number"),
        (
            "customer,id,currency,balance\nacme,deposit,USD,5\nacme,deposit,USD,6\n",
            "given.csv:3: a second balance 'deposit' for customer 'acme' (first on line 2)",
        ),
        ("customer,id,currency,balance\n,deposit,USD,5\n", "given.csv:2: missing customer"),
    ],
)
def test_a_balances_file_that_cannot_be_used_is_an_input_problem(ratecard, storage, content, message):
    given = Path(storage["dir"]) / "given.csv"
    given.write_text(content, encoding="utf-8")
    result = ratecard("rate", storage["plan.yaml"], "--usage", storage["ledger.csv"], "--balances", str(given), "--format", "json")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_balances_path_that_is_not_a_regular_file_is_refused_without_reading_it(ratecard, storage, kind):
    path = Path("/dev/zero")
    if kind == "fifo":
        path = Path(storage["dir"]) / "balances.csv"
        os.mkfifo(path)
    result = ratecard("rate", storage["plan.yaml"], "--usage", storage["ledger.csv"], "--balances", str(path), "--format", "json")
    assert result.exit_code == 2, result.output
    assert f"error: {path}: not a regular file (a device, pipe or socket?): a balances file is text" in result.stderr


def test_an_estimate_writes_no_closing_balances(ratecard, storage):
    out = Path(storage["dir"]) / "out.csv"
    result = ratecard(
        "rate",
        storage["plan.yaml"],
        "--usage",
        storage["ledger.csv"],
        "--as-of",
        "2024-11-20",
        "--balances-out",
        str(out),
        "--format",
        "json",
    )
    assert result.exit_code == 2
    assert "an estimate (--as-of) does not close balances" in result.stderr
    assert not out.exists()


def test_closing_balances_merge_the_opening_file_with_what_the_documents_left(tmp_path):
    file = tmp_path / "b.csv"
    file.write_text("customer,id,currency,balance\nbolt,deposit,USD,1.00\nacme,deposit,USD,9.99\n", encoding="utf-8")
    opening = balances.read_balances(str(file))
    plan = compile_plan(STORAGE)
    result = rate_csv(plan, tmp_path, THREE_MONTHS, period="2024-11", balance_records=opening)
    closing = balances.closing_balances(opening, result.carried)
    assert [(b.customer, b.id, b.currency, str(b.amount)) for b in closing] == [
        ("acme", "deposit", "USD", "0.00"),
        ("acme", "goodwill", "USD", "37.99"),
        ("bolt", "deposit", "USD", "1.00"),
    ]
    with pytest.raises(RateProblem, match="no such balances file"):
        rate_csv(plan, tmp_path, THREE_MONTHS, balances=str(tmp_path / "missing.csv"))


# --- a fixed discount larger than the bill: dropped with a notice, or carried ---------------------

COUPON = """
    plan: coupon
    currency: USD
    usage: {gb: number}
    metrics: {gb: {sum: gb}}
    charges:
      storage: {name: Storage, model: per_unit, on: gb, unit_price: 1.00}
      support: {name: Support, model: flat, amount: 5.00}
    discounts:
      welcome: {name: Welcome coupon, amount: 50.00, applies_to: [storage], when: period.start < 2025-01-01, carry: true}
    taxes:
      vat: {rate: 10%}
"""


def test_a_carried_discount_takes_up_what_the_bill_could_not_in_later_periods(tmp_path):
    docs = rate_csv(
        compile_plan(COUPON), tmp_path, THREE_MONTHS + "    4,acme,2025-02-10T10:00:00,40\n", period="2024-11-01..2025-02-28"
    ).documents
    data = [document_data(d) for d in docs]
    # November: 50.00 against 20.00 of storage; 30.00 carried.  December: 30.00 carried + 50.00 granted
    # against 30.00 of storage; 50.00 carried.  January: no grant any more (the `when` is false),
    # but the 50.00 carried still takes the 10.00 of storage; 40.00 left.  February: 40.00 of 40.00.
    assert [next(line["amount"] for line in d["lines"] if line["id"] == "welcome") for d in data] == [
        "-20.00",
        "-30.00",
        "-10.00",
        "-40.00",
    ]
    assert [d["carried"] for d in data] == [
        [{"id": "welcome", "description": "Welcome coupon", "opening": "0.00", "added": "50.00", "applied": "20.00", "closing": "30.00"}],
        [{"id": "welcome", "description": "Welcome coupon", "opening": "30.00", "added": "50.00", "applied": "30.00", "closing": "50.00"}],
        [{"id": "welcome", "description": "Welcome coupon", "opening": "50.00", "added": "0.00", "applied": "10.00", "closing": "40.00"}],
        [{"id": "welcome", "description": "Welcome coupon", "opening": "40.00", "added": "0.00", "applied": "40.00", "closing": "0.00"}],
    ]
    assert [d["total"] for d in data] == ["5.50"] * 4  # support and its VAT are never discounted
    assert all(d["notices"] == [] for d in data)


def test_a_carried_discount_with_nothing_left_is_not_on_the_document(tmp_path):
    docs = rate_csv(
        compile_plan(COUPON),
        tmp_path,
        """
        event_id,customer,timestamp,gb
        1,acme,2025-01-10T10:00:00,10
    """,
        period="2025-01",
    ).documents
    data = document_data(docs[0])
    assert data["carried"] == [] and [line["id"] for line in data["lines"]] == ["storage", "support"]


def test_the_closing_balance_of_a_carried_discount_is_written_out(tmp_path):
    result = rate_csv(compile_plan(COUPON), tmp_path, THREE_MONTHS, period="2024-11")
    assert [(b.customer, b.id, b.currency, str(b.amount)) for b in balances.closing_balances({}, result.carried)] == [
        ("acme", "welcome", "USD", "30.00"),
    ]


def test_carry_is_for_a_fixed_amount():
    text = COUPON.replace("amount: 50.00, applies_to", "percent: 10%, applies_to")
    assert [message for _, _, message in problems_of(text)] == [
        "discount 'welcome': `carry` carries what is left of a fixed `amount`; a percent discount has nothing to carry"
    ]


def test_a_carried_discount_larger_than_its_charges_is_no_warning():
    flat = COUPON.replace("storage: {name: Storage, model: per_unit, on: gb, unit_price: 1.00}", "storage: {model: flat, amount: 20.00}")
    assert [message for _, _, message in problems_of(flat)] == []
    assert [message for _, _, message in problems_of(flat.replace(", carry: true", ""))] == [
        "discount 'welcome' (50.00) is more than the charges it applies to (20.00); it is capped at zero"
    ]
