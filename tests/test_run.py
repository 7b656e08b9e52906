"""`ratecard run` (interpreter/run/job.py): one ledger, every customer under their own plan.

The ledger mixes the PortOne sample month and the OneHour academy month (two
shipped plans with different ledger fields and kinds of document), plus rows
of a walk-in customer the customers file does not know, each at a known row.
Each plan's documents must be exactly what rating that plan alone gives: the
reviewed snapshots of the `sample_month` and `academy_month` scenarios.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from interpreter.output.render import parsed
from interpreter.run.job import billing_run
from plan_helpers import PLANS, ROOT

SNAPSHOTS = ROOT / "tests" / "__snapshots__" / "test_scenarios"
PORTONE_LEDGER = PLANS / "portone_one_payment_infra" / "ledger_2024_11.csv"
ONEHOUR_LEDGER = PLANS / "onehour_business_partner" / "scenarios" / "academy_month_2024_11.csv"
COLUMNS = ["event_id", "customer", "timestamp", "kind", "amount", "test", "student"]
WALK_IN = {"customer": "walk-in", "timestamp": "2024-11-12T09:00:00+09:00", "kind": "approval", "amount": "70000000"}

CUSTOMERS = """\
customer,plan,billing
cafe-haneul,portone-opi,monthly
bookstore,portone-opi,
studio-maru,portone_one_payment_infra,
megamart,portone-opi,
travelco,portone-opi,monthly
seoul-math,onehour-business-partner,
"""


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def mixed_ledger() -> tuple[str, dict[str, list[int]]]:
    """Both sample ledgers interleaved with walk-in rows; the row number (1 = first data row) of each event."""
    portone, onehour = read_rows(PORTONE_LEDGER), read_rows(ONEHOUR_LEDGER)
    rows: list[dict] = []
    while portone or onehour:
        for source in (portone, onehour):
            if source:
                rows.append(source.pop(0))
        if len(rows) in (6, 19):
            rows.append({**WALK_IN, "event_id": f"walk-{len(rows)}"})
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    numbers: dict[str, list[int]] = {}
    for number, row in enumerate(rows, 1):
        numbers.setdefault(row["event_id"], []).append(number)
    return out.getvalue(), numbers


def stored(scenario: str) -> dict:
    return json.loads((SNAPSHOTS / f"test_scenario[{scenario}].json").read_text(encoding="utf-8"))


@pytest.fixture
def files(tmp_path: Path) -> dict:
    return workspace(tmp_path)


def workspace(tmp_path: Path) -> dict:
    """The mixed ledger, the customers file and the two plans in `tmp_path`, and where documents go."""
    text, numbers = mixed_ledger()
    (tmp_path / "usage.csv").write_text(text, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    plans = tmp_path / "plans"  # the two shipped plans only: quicker to load than all of plans/
    plans.mkdir()
    for name in ("portone_one_payment_infra", "onehour_business_partner"):
        shutil.copy(PLANS / f"{name}.yaml", plans / f"{name}.yaml")
    return {
        "usage": tmp_path / "usage.csv",
        "customers": tmp_path / "customers.csv",
        "plans": plans,
        "out": tmp_path / "out",
        "numbers": numbers,
        "root": tmp_path,
    }


def billing(ratecard, files, *extra, plans=None, customers=None, usage=None, **invoke):
    return ratecard(
        "run",
        "--customers",
        customers or files["customers"],
        "--plans",
        plans or files["plans"],
        "--usage",
        usage or files["usage"],
        "--period",
        "2024-11",
        "--out",
        files["out"],
        *extra,
        **invoke,
    )


def output(files, name: str) -> dict:
    return json.loads((files["out"] / name).read_text(encoding="utf-8"))


# --- documents per plan -------------------------------------------------------------------


def test_each_plan_gets_exactly_its_own_documents(ratecard, files):
    result = billing(ratecard, files, plans=PLANS)  # the whole shipped plans folder
    assert result.exit_code == 3, result.output  # the walk-in rows are rejected
    assert sorted(p.name for p in files["out"].iterdir()) == [
        "balances.csv",
        "manifest.json",
        "onehour-business-partner.json",
        "portone-opi.json",
        "rejected.csv",
    ]
    assert output(files, "portone-opi.json")["documents"] == stored("portone_one_payment_infra-sample_month")["documents"]
    assert output(files, "onehour-business-partner.json")["documents"] == stored("onehour_business_partner-academy_month")["documents"]
    assert "portone-opi: 5 customer(s), 5 document(s), 0 rejected row(s)" in result.output
    assert "onehour-business-partner: 1 customer(s), 1 document(s), 0 rejected row(s)" in result.output
    assert "2 row(s) rejected before rating (no customer, no plan, or a repeated event_id)" in result.output


def test_totals_by_plan(ratecard, files):
    assert billing(ratecard, files).exit_code == 3
    portone = {d["customer"]: d["total"] for d in output(files, "portone-opi.json")["documents"]}
    assert portone == {"bookstore": "0", "cafe-haneul": "0", "megamart": "330000", "studio-maru": "110000", "travelco": "550000"}
    (academy,) = output(files, "onehour-business-partner.json")["documents"]
    assert (academy["customer"], academy["kind"], academy["total"]) == ("seoul-math", "settlement", "3186857")


def test_rows_of_customers_without_a_plan_keep_their_row_numbers(ratecard, files):
    assert billing(ratecard, files).exit_code == 3
    walk_ins = sorted(n for event, rows in files["numbers"].items() if event.startswith("walk-") for n in rows)
    assert walk_ins == [7, 20]  # after the 6th row, and after the 19th once the first walk-in counts
    assert (files["out"] / "rejected.csv").read_text(encoding="utf-8") == (
        "row,event_id,reason\n"
        "7,walk-6,customer 'walk-in' has no plan in customers.csv\n"
        "20,walk-19,customer 'walk-in' has no plan in customers.csv\n"
    )
    # no plan counted them: PortOne's totals are the sample month's
    assert output(files, "portone-opi.json")["rejected"] == []


def test_rows_a_plan_rejects_keep_their_original_row_numbers(ratecard, files, tmp_path):
    text = files["usage"].read_text(encoding="utf-8")
    text += "late-1,megamart,2024-11-20T10:00:00+09:00,approval,-5,,\n"  # PortOne: amount must be above zero
    text += "late-2,seoul-math,2024-11-20T10:00:00+09:00,payment,9000,,s01\n"  # OneHour: payments of 10,000 or more
    text += "tx-0009,travelco,2024-11-21T10:00:00+09:00,approval,1000,,\n"  # megamart's event id again
    usage = tmp_path / "more.csv"
    usage.write_text(text, encoding="utf-8")
    last = len(text.splitlines()) - 1  # data rows
    first_tx9 = files["numbers"]["tx-0009"][0]
    assert billing(ratecard, files, usage=usage).exit_code == 3
    assert output(files, "portone-opi.json")["rejected"] == [
        {"row": last - 2, "event_id": "late-1", "reason": "approvals, cancellations and refunds need an amount above zero"},
        {"row": last, "event_id": "tx-0009", "reason": f"duplicate event_id (first seen at row {first_tx9})"},
    ]
    assert output(files, "onehour-business-partner.json")["rejected"] == [
        {"row": last - 1, "event_id": "late-2", "reason": "a student payment must be at least 10,000 KRW"},
    ]
    rows = list(csv.DictReader(io.StringIO((files["out"] / "rejected.csv").read_text(encoding="utf-8"))))
    assert [int(r["row"]) for r in rows] == [7, 20, last - 2, last - 1, last]


def test_an_event_id_repeated_under_another_plan_is_a_duplicate(ratecard, files, tmp_path):
    """One ledger, one rule: a repeated event id is rejected, whichever plan each row's customer has."""
    first_onehour = files["numbers"]["e001"][0]
    usage = tmp_path / "dup.csv"
    usage.write_text(
        files["usage"].read_text(encoding="utf-8")
        + "e001,megamart,2024-11-20T10:00:00+09:00,approval,400000000,,\n"
        + "walk-6,seoul-math,2024-11-20T10:00:00+09:00,payment,50000,,s01\n",
        encoding="utf-8",
    )
    last = len(usage.read_text(encoding="utf-8").splitlines()) - 1
    assert billing(ratecard, files, usage=usage).exit_code == 3
    assert output(files, "portone-opi.json")["rejected"] == [
        {"row": last - 1, "event_id": "e001", "reason": f"duplicate event_id (first seen at row {first_onehour})"},
    ]
    assert output(files, "onehour-business-partner.json")["rejected"] == [
        {"row": last, "event_id": "walk-6", "reason": "duplicate event_id (first seen at row 7)"},
    ]
    # not counted: megamart stays in the 100M-500M bracket, the academy's payments unchanged
    assert output(files, "portone-opi.json")["documents"] == stored("portone_one_payment_infra-sample_month")["documents"]
    assert output(files, "onehour-business-partner.json")["documents"] == stored("onehour_business_partner-academy_month")["documents"]


def test_a_blank_event_id_is_missing_as_rate_says_not_a_duplicate(ratecard, files, tmp_path):
    """Blank ids are no id at all: every such row is rejected as `rate` rejects it, whoever its customer."""
    usage = tmp_path / "blank.csv"
    usage.write_text(
        files["usage"].read_text(encoding="utf-8")
        + ",megamart,2024-11-20T10:00:00+09:00,approval,1000,,\n"
        + "  ,megamart,2024-11-21T10:00:00+09:00,approval,1000,,\n"
        + ",walk-in,2024-11-22T10:00:00+09:00,approval,1000,,\n",
        encoding="utf-8",
    )
    last = len(usage.read_text(encoding="utf-8").splitlines()) - 1
    assert billing(ratecard, files, usage=usage).exit_code == 3
    alone = ratecard("rate", files["plans"] / "portone_one_payment_infra.yaml", "--usage", usage, "--period", "2024-11", "--format", "json")
    said_by_rate = {r["row"]: r["reason"] for r in json.loads(alone.stdout)["rejected"]}
    assert [said_by_rate[row] for row in (last - 2, last - 1, last)] == ["missing event_id"] * 3
    rows = {int(r["row"]): r["reason"] for r in csv.DictReader(io.StringIO((files["out"] / "rejected.csv").read_text(encoding="utf-8")))}
    assert [rows[row] for row in (last - 2, last - 1, last)] == ["missing event_id"] * 3
    assert [r["reason"] for r in output(files, "portone-opi.json")["rejected"]] == ["missing event_id"] * 2


def test_customer_attributes_reach_their_plan(ratecard, files):
    # travelco on an annual term paid in June: nothing to pay in November.
    customers = files["root"] / "annual.csv"
    customers.write_text(
        CUSTOMERS.replace("travelco,portone-opi,monthly", "travelco,portone-opi,annual")
        .replace("customer,plan,billing", "customer,plan,billing,annual_start")
        .replace(",annual\n", ",annual,2024-06-01\n"),
        encoding="utf-8",
    )
    assert billing(ratecard, files, customers=customers).exit_code == 3
    portone = {d["customer"]: d["total"] for d in output(files, "portone-opi.json")["documents"]}
    assert portone["travelco"] == "0" and portone["megamart"] == "330000"


def test_listed_customer_without_usage_gets_a_document(ratecard, files):
    customers = files["root"] / "more.csv"
    customers.write_text(CUSTOMERS + "quiet-shop,portone-opi,\n", encoding="utf-8")
    assert billing(ratecard, files, customers=customers).exit_code == 3
    quiet = [d for d in output(files, "portone-opi.json")["documents"] if d["customer"] == "quiet-shop"]
    assert [(d["period"]["start"], d["total"]) for d in quiet] == [("2024-11-01", "0")]


def test_every_row_accepted_exits_0(ratecard, files, tmp_path):
    usage = tmp_path / "clean.csv"
    usage.write_text(
        "".join(line for line in files["usage"].read_text(encoding="utf-8").splitlines(keepends=True) if ",walk-in," not in line),
        encoding="utf-8",
    )
    result = billing(ratecard, files, usage=usage)
    assert result.exit_code == 0, result.output
    assert (files["out"] / "rejected.csv").read_text(encoding="utf-8") == "row,event_id,reason\n"
    assert "without a plan" not in result.output


def test_a_run_without_any_period_to_rate_says_so(ratecard, files):
    empty = files["root"] / "empty.csv"
    empty.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    result = ratecard("run", "--customers", files["customers"], "--plans", files["plans"], "--usage", empty, "--out", files["out"])
    assert result.exit_code == 0, result.output
    assert f"no documents: the ledger has no accepted rows of the customers in {files['customers']}" in result.stderr


# --- mistakes in the command's inputs ---------------------------------------------------------


def test_customer_with_an_unknown_plan_is_a_usage_error(ratecard, files):
    customers = files["root"] / "unknown.csv"
    customers.write_text(CUSTOMERS + "newco,portone-pro,\n", encoding="utf-8")
    result = billing(ratecard, files, customers=customers)
    assert result.exit_code == 2
    assert f"{customers}: customer 'newco' has plan 'portone-pro', not one of: onehour-business-partner, portone-opi" in result.output
    assert not files["out"].exists()  # nothing half-written


def test_customer_without_a_plan_column_value_is_a_usage_error(ratecard, files):
    customers = files["root"] / "blank.csv"
    customers.write_text(CUSTOMERS + "newco,,\n", encoding="utf-8")
    result = billing(ratecard, files, customers=customers)
    assert result.exit_code == 2
    assert "customer 'newco' has plan ''" in result.output


def test_missing_files_are_usage_errors(ratecard, files):
    assert billing(ratecard, files, customers=files["root"] / "none.csv").exit_code == 2
    no_ledger = billing(ratecard, files, usage=files["root"] / "none.csv")
    assert no_ledger.exit_code == 2 and "no such ledger file" in no_ledger.output
    no_plans = billing(ratecard, files, plans=files["root"] / "nowhere")
    assert no_plans.exit_code == 2 and "no such folder of plans" in no_plans.output


def test_a_broken_plan_stops_the_run_with_its_line(ratecard, files):
    broken = files["plans"] / "broken.yaml"
    broken.write_text("plan: broken\ncurrency: KRW\ncharges:\n  fee: {model: flat, amount: nope}\n", encoding="utf-8")
    result = billing(ratecard, files)
    assert result.exit_code == 1
    assert f"{broken}:4:" in result.output
    assert not files["out"].exists()


def test_an_empty_plans_folder_says_so(ratecard, files):
    empty = files["root"] / "empty"
    empty.mkdir()
    result = billing(ratecard, files, plans=empty)
    assert result.exit_code == 1
    assert "folder holds no plan files" in result.output


def portone_as(files, relative: str, plan_id: str) -> Path:
    """A copy of the PortOne plan at `relative` in the plans folder, declaring `plan_id`."""
    path = files["plans"] / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PORTONE_TEXT.replace("plan: portone-opi", f"plan: {plan_id}"), encoding="utf-8")
    return path


PORTONE_TEXT = (PLANS / "portone_one_payment_infra.yaml").read_text(encoding="utf-8")


def test_a_plan_named_by_a_file_name_that_is_another_plans_id_is_refused(ratecard, files):
    # portone-opi.yaml declares another plan: "portone-opi" names two plans
    other = portone_as(files, "portone-opi.yaml", "portone-2025")
    result = billing(ratecard, files)
    assert result.exit_code == 1, result.output
    assert "'portone-opi' names two plans" in result.output
    assert str(files["plans"] / "portone_one_payment_infra.yaml") in result.output and str(other) in result.output
    assert not files["out"].exists()


def test_two_files_declaring_one_plan_id_are_refused(ratecard, files):
    first = portone_as(files, "a/pricing.yaml", "shared-id")
    second = portone_as(files, "b/pricing.yaml", "shared-id")
    result = billing(ratecard, files)
    assert result.exit_code == 1, result.output
    assert f"{first} and {second} both declare plan 'shared-id'" in result.output
    assert not files["out"].exists()


def test_a_plan_is_named_by_its_file_name_with_or_without_the_suffix(ratecard, files):
    customers = files["root"] / "by_file.csv"
    customers.write_text(CUSTOMERS.replace("megamart,portone-opi,", "megamart,portone_one_payment_infra.yaml,"), encoding="utf-8")
    assert billing(ratecard, files, customers=customers).exit_code == 3
    assert output(files, "portone-opi.json")["documents"] == stored("portone_one_payment_infra-sample_month")["documents"]


@pytest.mark.parametrize(
    "name, text, where",
    [
        (
            "twice.csv",
            CUSTOMERS + "megamart,onehour-business-partner,\n",
            "twice.csv:8: customer 'megamart' is listed twice (first on line 5)",
        ),
        (
            "twice.yaml",
            "- {customer: megamart, plan: portone-opi}\n- {customer: bookstore, plan: portone-opi}\n"
            "- {customer: megamart, plan: onehour-business-partner}\n",
            "twice.yaml:3: customer 'megamart' is listed twice (first on line 1)",
        ),
        (
            "numbers.yaml",
            "- {customer: 7, plan: portone-opi}\n- {customer: '7', plan: portone-opi}\n",
            "numbers.yaml:2: customer '7' is listed twice",
        ),
        ("column.csv", "customer,plan,customer\nmegamart,portone-opi,bookstore\n", "column.csv:1: column 'customer' appears twice"),
        (
            "null.yaml",
            "- {customer: megamart, plan: portone-opi}\n- {customer: null, plan: portone-opi}\n",
            "null.yaml:2: a customer id must be text or a number, not None",
        ),
        ("list.yaml", "- {customer: [1, 2], plan: portone-opi}\n", "list.yaml:1: a customer id must be text or a number"),
        ("huge.csv", "customer,plan,note\nmegamart,portone-opi," + "x" * 200_000 + "\n", "huge.csv:2: cannot read the CSV"),
        ("header.csv", "customer,plan," + "x" * 200_000 + "\nmegamart,portone-opi,\n", "header.csv:1: cannot read the CSV"),
    ],
)
def test_a_customer_listed_twice_or_without_an_id_is_refused(ratecard, files, name, text, where):
    customers = files["root"] / name
    customers.write_text(text, encoding="utf-8")
    result = billing(ratecard, files, customers=customers)
    assert result.exit_code == 2, result.output
    assert where in result.output
    assert not files["out"].exists()


@pytest.mark.parametrize("text", ["customer,plan\n", "customer,plan,billing\r\n", "[]\n", "{}\n", ""])
def test_a_customers_file_without_customers_is_a_usage_error(ratecard, files, text):
    customers = files["root"] / ("empty.csv" if text.startswith("customer") else "empty.yaml")
    customers.write_text(text, encoding="utf-8")
    result = billing(ratecard, files, customers=customers)
    assert result.exit_code == 2, result.output
    assert "lists no customers" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--as-of", "9999-12-31"], "9999-12-31"),
        (["--as-of", "0001-01-01T00:00:00+09:00"], "0001-01-01"),
    ],
)
def test_dates_past_the_calendar_are_usage_errors(ratecard, files, extra, message):
    result = ratecard(
        "run", "--customers", files["customers"], "--plans", files["plans"], "--usage", files["usage"], "--out", files["out"], *extra
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not files["out"].exists()


def test_a_missing_customer_attribute_points_at_the_customers_file(ratecard, files):
    strict = files["plans"] / "portone_one_payment_infra.yaml"
    strict.write_text(PORTONE_TEXT.replace("default: monthly, description", "description"), encoding="utf-8")
    result = billing(ratecard, files)
    assert result.exit_code == 2, result.output
    assert "customer 'bookstore' has no 'billing' attribute" in result.output and "--customers" in result.output


def test_a_folder_of_versions_inside_the_plans_folder(ratecard, files):
    """A plan kept as a folder of versions is one plan: each period under its version."""
    folder = files["plans"] / "metered"
    folder.mkdir()
    body = (
        "plan: metered\ncurrency: KRW\ntimezone: Asia/Seoul\neffective: {date}\n"
        "usage: {{amount: {{type: money, default: 0}}}}\nmetrics:\n  volume: {{sum: amount}}\n"
        "charges:\n  fee: {{model: flat, amount: {fee}}}\n"
    )
    (folder / "v1.yaml").write_text(body.format(date="2024-01-01", fee=1000), encoding="utf-8")
    (folder / "v2.yaml").write_text(body.format(date="2024-11-15", fee=2000), encoding="utf-8")
    customers = files["root"] / "metered.csv"
    customers.write_text(CUSTOMERS + "walk-in,metered,\n", encoding="utf-8")
    usage = files["root"] / "two_months.csv"
    usage.write_text(
        files["usage"].read_text(encoding="utf-8") + "walk-dec,walk-in,2024-12-03T10:00:00+09:00,approval,5,,\n", encoding="utf-8"
    )
    result = ratecard(
        "run",
        "--customers",
        customers,
        "--plans",
        files["plans"],
        "--usage",
        usage,
        "--period",
        "2024-11-01..2024-12-31",
        "--out",
        files["out"],
    )
    assert result.exit_code == 0, result.output
    metered = output(files, "metered.json")["documents"]
    assert [(d["period"]["start"], d["total"]) for d in metered] == [("2024-11-01", "1000"), ("2024-12-01", "2000")]


def test_billing_run_module_entry_point(files):
    result, broken = billing_run(str(files["plans"]), str(files["usage"]), str(files["customers"]), period="2024-11")
    assert broken == []
    assert [(r.plan.id, r.customers) for r in result.runs] == [
        ("onehour-business-partner", ("seoul-math",)),
        ("portone-opi", ("bookstore", "cafe-haneul", "megamart", "studio-maru", "travelco")),
    ]
    assert [(r.row, r.event_id) for r in result.rejected] == [(7, "walk-6"), (20, "walk-19")]


def test_a_parquet_column_is_typed_by_each_plan_whether_the_plans_agree_on_its_type_or_not(tmp_path):
    import duckdb

    plans = tmp_path / "plans"
    plans.mkdir()
    charge = "charges: {fee: {model: per_unit, on: total, unit_price: 0.5}}\n"
    (plans / "a.yaml").write_text("plan: a\ncurrency: USD\nusage: {amount: money, tier: text}\nmetrics: {total: {sum: amount}}\n" + charge)
    (plans / "b.yaml").write_text("plan: b\ncurrency: USD\nusage: {amount: money, tier: integer}\nmetrics: {total: {sum: tier}}\n" + charge)
    (tmp_path / "customers.csv").write_text("customer,plan\nx,a\ny,b\n")
    ledger = tmp_path / "l.parquet"
    duckdb.connect().execute(f"""
        COPY (SELECT * FROM (VALUES ('1', 'x', TIMESTAMPTZ '2024-11-02 00:00:00+00', 10.25::DECIMAL(18, 2), 3),
                                    ('2', 'y', TIMESTAMPTZ '2024-11-03 00:00:00+00', 0.25::DECIMAL(18, 2), 4),
                                    ('3', 'y', TIMESTAMPTZ '2024-11-04 00:00:00+00', 1.00::DECIMAL(18, 2), 5))
              AS t(event_id, customer, timestamp, amount, tier)) TO '{ledger}' (FORMAT parquet)
    """)
    result, broken = billing_run(str(plans), str(ledger), str(tmp_path / "customers.csv"), period="2024-11")
    assert broken == [] and result.rejected == []
    totals = {d["customer"]: d["total"] for run in result.runs for d in map(parsed, run.documents)}  # their JSON lines
    assert totals == {"x": "5.13", "y": "4.50"}  # 10.25 x 0.5 (half up); (4 + 5) x 0.5


def test_a_large_csv_ledger_read_in_several_threads_keeps_every_row_number(tmp_path):
    """A CSV ledger is parsed once for every plan, in parallel past DuckDB's first buffer: the rows each
    plan rejects, and those of customers without a plan, still carry their lines' numbers."""
    plans = tmp_path / "plans"
    plans.mkdir()
    metered = "currency: USD\nusage: {amount: money}\nmetrics: {total: {sum: amount}}\ncharges: {fee: {model: per_unit, on: total, unit_price: 1}}\n"
    (plans / "a.yaml").write_text("plan: a\n" + metered + "require: [{rule: amount > 0, message: a positive amount}]\n")
    (plans / "b.yaml").write_text("plan: b\n" + metered)
    (tmp_path / "customers.csv").write_text("customer,plan\nx,a\ny,b\n")
    refused, unplanned, lines, totals = [], [], ["event_id,customer,timestamp,amount,note"], {"x": 0, "y": 0}
    for row in range(1, 600_001):  # about 40 MB: several buffers of DuckDB's CSV reader
        customer, amount = ("x", "1") if row % 2 else ("y", "2")
        if row % 99_991 == 0:
            customer, amount = "x", "-1"
            refused.append(row)
        elif row % 77_773 == 0:
            customer = "z"
            unplanned.append(row)
        else:
            totals[customer] += int(amount)
        lines.append(f"e{row},{customer},2024-11-02T00:00:00Z,{amount},{'n' * 40}")
    ledger = tmp_path / "large.csv"
    ledger.write_text("\n".join(lines) + "\n")
    result, broken = billing_run(str(plans), str(ledger), str(tmp_path / "customers.csv"), period="2024-11")
    assert broken == []
    assert [(r.row, r.event_id, r.reason) for r in result.runs[0].rejected] == [(n, f"e{n}", "a positive amount") for n in refused]
    assert [(r.row, r.event_id) for r in result.unassigned] == [(n, f"e{n}") for n in unplanned]
    assert {d["customer"]: Decimal(d["total"]) for run in result.runs for d in map(parsed, run.documents)} == totals
