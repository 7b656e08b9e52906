"""`ratecard run` with documents that fail and balances that carry, as `rate` has them.

A document whose plan expression fails is listed among its plan's failures
(in the plan's JSON file, the manifest's counts and on stderr), the other
documents are still written, and the exit status is 1. Each run writes the
closing balances of its customers' credits and carried discounts into the
folder (`balances.csv`, the format of `rate --balances-out`), and `--balances
FILE` starts the next run from them; an estimate or a failed document closes
nothing, and stderr says why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from test_run import billing, output, stored, workspace

SHARES = """\
plan: shares
currency: KRW
timezone: Asia/Seoul
usage:
  kind: text
  amount: {type: money, default: 0}
customer:
  divisor: {type: number, default: 1}
metrics: {sales: {sum: amount}}
charges:
  share: {name: Share, model: formula, amount: sales / customer.divisor}
credits:
  goodwill: {name: Goodwill credit, balance: 5000}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict:
    return workspace(tmp_path)


# --- failed documents ----------------------------------------------------------------------


@pytest.fixture
def failing(files):
    """The mixed month, with the walk-in customer under a plan that divides by their divisor of 0."""
    (files["plans"] / "shares.yaml").write_text(SHARES, encoding="utf-8")
    header, *rows = files["customers"].read_text(encoding="utf-8").splitlines()
    customers = files["root"] / "with_shares.csv"
    customers.write_text(
        "\n".join([header + ",divisor", *(row + "," for row in rows), "walk-in,shares,,0", "quiet,shares,,2"]) + "\n", encoding="utf-8"
    )
    return files | {"customers": customers}


def test_a_failed_document_is_listed_the_others_are_written_and_the_run_exits_1(ratecard, failing):
    result = billing(ratecard, failing, customers=failing["customers"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    plan = failing["plans"] / "shares.yaml"
    shares = output(failing, "shares.json")
    assert [d["customer"] for d in shares["documents"]] == ["quiet"]
    assert shares["failures"] == [
        {
            "customer": "walk-in",
            "plan": "shares",
            "period": {"start": "2024-11-01", "end": "2024-11-30"},
            "file": str(plan),
            "line": 11,
            "column": 48,
            "reason": "division by zero",
        },
    ]
    assert f"{plan}:11:48: error: customer 'walk-in', period 2024-11-01..2024-11-30: division by zero" in result.stderr
    assert "1 document(s) not rated; the other documents are written" in result.stderr
    assert "shares: 2 customer(s), 1 document(s), 0 rejected row(s), 1 document(s) not rated" in result.stdout
    # the other plans are untouched by it
    assert output(failing, "portone-opi.json")["documents"] == stored("portone_one_payment_infra-sample_month")["documents"]
    assert "failures" not in output(failing, "portone-opi.json")
    counts = {f["name"]: f.get("failures") for f in output(failing, "manifest.json")["files"]}
    assert counts == {"onehour-business-partner.json": 0, "portone-opi.json": 0, "shares.json": 1, "rejected.csv": None}
    # the goodwill the walk-in customer would have left is unknown: no closing balances
    assert not (failing["out"] / "balances.csv").exists()
    assert "balances not written to balances.csv: 1 document(s) were not rated" in result.stderr


def test_a_failed_document_outranks_rejected_rows_in_the_exit_status(ratecard, failing):
    usage = failing["root"] / "with_bad_row.csv"
    usage.write_text(
        failing["usage"].read_text(encoding="utf-8") + "late,megamart,2024-11-20T10:00:00+09:00,approval,-5,,\n", encoding="utf-8"
    )
    result = billing(ratecard, failing, customers=failing["customers"], usage=usage)
    assert result.exit_code == 1, result.output
    assert output(failing, "portone-opi.json")["rejected"][0]["event_id"] == "late"


# --- balances from one run to the next ---------------------------------------------------------

STORAGE = """\
plan: storage
currency: USD
usage: {gb: {type: number, default: 0}}
customer: {deposit: {type: money, default: 0}}
metrics: {gb: {sum: gb}}
charges:
  storage: {name: Storage, model: per_unit, on: gb, unit_price: 1.00}
discounts:
  welcome: {name: Welcome coupon, amount: 50.00, applies_to: [storage], when: period.start < 2024-12-01, carry: true}
taxes:
  vat: {rate: 10%}
credits:
  deposit: {name: Prepaid deposit, balance: customer.deposit}
"""

POINTS = """\
plan: points
currency: KRW
usage: {won: {type: money, default: 0}}
metrics: {won: {sum: won}}
charges:
  fee: {name: Fee, model: formula, amount: won}
credits:
  deposit: {name: Points, balance: 1000}
"""

LEDGER = """\
event_id,customer,timestamp,gb,won
1,acme,2024-11-10T10:00:00,70,
2,bolt,2024-11-11T10:00:00,10,
3,kim,2024-11-12T10:00:00,,700
4,acme,2024-12-10T10:00:00,30,
5,bolt,2024-12-11T10:00:00,20,
6,kim,2024-12-12T10:00:00,,700
"""


@pytest.fixture
def carrying(tmp_path: Path) -> dict:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "storage.yaml").write_text(STORAGE, encoding="utf-8")
    (plans / "points.yaml").write_text(POINTS, encoding="utf-8")
    (tmp_path / "usage.csv").write_text(LEDGER, encoding="utf-8")
    (tmp_path / "customers.csv").write_text("customer,plan,deposit\nacme,storage,40\nbolt,storage,\nkim,points,\n", encoding="utf-8")
    return {"plans": plans, "usage": tmp_path / "usage.csv", "customers": tmp_path / "customers.csv", "root": tmp_path}


def month(ratecard, carrying, period: str, out: str, *extra):
    return ratecard(
        "run",
        "--customers",
        carrying["customers"],
        "--plans",
        carrying["plans"],
        "--usage",
        carrying["usage"],
        "--period",
        period,
        "--out",
        carrying["root"] / out,
        *extra,
    )


def documents(folder: Path) -> list[dict]:
    return [d for name in ("points.json", "storage.json") for d in json.loads((folder / name).read_text(encoding="utf-8"))["documents"]]


def test_run_writes_the_closing_balances_of_every_plans_customers(ratecard, carrying):
    result = month(ratecard, carrying, "2024-11", "november")
    assert result.exit_code == 0, result.output
    folder = carrying["root"] / "november"
    # acme: 70 GB - 50.00 coupon = 20.00 + 2.00 VAT, paid from the deposit of 40.00 -> 18.00 left; coupon used up.
    # bolt: 10 GB - 10.00 of the coupon -> 40.00 carried on; no deposit.  kim: 700 of 1000 points -> 300 left.
    assert (folder / "balances.csv").read_text(encoding="utf-8") == (
        "customer,id,currency,balance\n"
        "acme,deposit,USD,18.00\n"
        "acme,welcome,USD,0.00\n"
        "bolt,deposit,USD,0.00\n"
        "bolt,welcome,USD,40.00\n"
        "kim,deposit,KRW,300\n"
    )
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entry = next(f for f in manifest["files"] if f["name"] == "balances.csv")
    assert entry == {"name": "balances.csv", "rows": 5, "sha256": hashlib.sha256((folder / "balances.csv").read_bytes()).hexdigest()}
    assert f"wrote {folder / 'balances.csv'}" in result.stdout


def test_the_next_run_starts_from_the_closing_balances_as_one_run_over_both_months(ratecard, carrying):
    assert month(ratecard, carrying, "2024-11", "november").exit_code == 0
    november = carrying["root"] / "november"
    december = month(ratecard, carrying, "2024-12", "december", "--balances", november / "balances.csv")
    assert december.exit_code == 0, december.output
    both = month(ratecard, carrying, "2024-11-01..2024-12-31", "both")
    assert both.exit_code == 0, both.output
    key = lambda d: (d["customer"], d["period"]["start"])  # noqa: E731
    together = sorted(documents(carrying["root"] / "both"), key=key)
    assert sorted(documents(november) + documents(carrying["root"] / "december"), key=key) == together
    assert (carrying["root"] / "december" / "balances.csv").read_bytes() == (carrying["root"] / "both" / "balances.csv").read_bytes()
    inputs = json.loads((carrying["root"] / "december" / "manifest.json").read_text(encoding="utf-8"))["inputs"]
    assert inputs["balances"] == {
        "path": str(november / "balances.csv"),
        "sha256": hashlib.sha256((november / "balances.csv").read_bytes()).hexdigest(),
    }


def test_balances_of_customers_the_run_does_not_rate_are_kept(ratecard, carrying):
    given = carrying["root"] / "given.csv"
    given.write_text("customer,id,currency,balance\nzed,deposit,EUR,5.00\nkim,deposit,KRW,200\n", encoding="utf-8")
    assert month(ratecard, carrying, "2024-11", "out", "--balances", given).exit_code == 0
    # kim starts from 200 points (not the plan's 1000) and spends them; zed is nobody's here: kept as written
    assert (carrying["root"] / "out" / "balances.csv").read_text(encoding="utf-8").splitlines()[-2:] == [
        "kim,deposit,KRW,0",
        "zed,deposit,EUR,5.00",
    ]


def test_each_plan_checks_only_its_own_customers_balances(ratecard, carrying):
    """Both plans have a credit `deposit`, in USD and in KRW: each customer's balance is checked against their own plan."""
    given = carrying["root"] / "given.csv"
    given.write_text("customer,id,currency,balance\nacme,deposit,USD,1.00\nkim,deposit,KRW,200\n", encoding="utf-8")
    assert month(ratecard, carrying, "2024-11", "out", "--balances", given).exit_code == 0
    given.write_text("customer,id,currency,balance\nkim,deposit,USD,2.00\n", encoding="utf-8")
    wrong = month(ratecard, carrying, "2024-11", "wrong", "--balances", given)
    assert wrong.exit_code == 2, wrong.output
    assert f"{given}:2: balance 'deposit' of customer 'kim' is in USD; plan 'points' bills in KRW" in wrong.stderr
    assert not (carrying["root"] / "wrong").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ("customer,id,balance\nacme,deposit,5\n", "needs the columns customer, id, currency, balance"),
        ("customer,id,currency,balance\nacme,deposit,USD,5.001\n", "5.001 has more decimals than USD has (2)"),
    ],
)
def test_a_balances_file_that_cannot_be_used_is_a_usage_error(ratecard, carrying, content, message):
    given = carrying["root"] / "given.csv"
    given.write_text(content, encoding="utf-8")
    result = month(ratecard, carrying, "2024-11", "out", "--balances", given)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (carrying["root"] / "out").exists()


def test_an_estimate_closes_no_balances_and_leaves_none_of_an_earlier_run(ratecard, carrying):
    assert month(ratecard, carrying, "2024-11", "out").exit_code == 0
    assert (carrying["root"] / "out" / "balances.csv").exists()
    estimate = ratecard(
        "run",
        "--customers",
        carrying["customers"],
        "--plans",
        carrying["plans"],
        "--usage",
        carrying["usage"],
        "--as-of",
        "2024-12-15",
        "--out",
        carrying["root"] / "out",
        "--force",
    )
    assert estimate.exit_code == 0, estimate.output
    assert "balances not written to balances.csv: an estimate (--as-of) does not close balances" in estimate.stderr
    # the earlier run's closing balances are gone with its other files: they are not this folder's
    assert not (carrying["root"] / "out" / "balances.csv").exists()
    names = [f["name"] for f in json.loads((carrying["root"] / "out" / "manifest.json").read_text(encoding="utf-8"))["files"]]
    assert "balances.csv" not in names
