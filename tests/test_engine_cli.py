"""`ratecard rate` and `ratecard explain` through click's CliRunner: exit statuses, formats, customers."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

PLAN = textwrap.dedent("""\
    plan: cli-plan
    name: CLI plan
    currency: USD
    timezone: Asia/Seoul
    usage:
      kind: {type: text, values: [call, sms]}
      units: integer
    customer:
      segment: {type: text, values: [startup, enterprise], default: startup}
      annual: {type: bool, default: false}
      rebate: {type: percent, default: 0%}
    metrics:
      calls: {sum: units, where: kind == "call"}
      messages: {sum: units, where: kind == "sms"}
    charges:
      calls:
        name: Voice minutes
        model: graduated
        on: calls
        tiers:
          - {up_to: 100, unit_price: 0.05}
          - {unit_price: 0.025}
      messages:
        name: Messages
        model: volume
        on: messages
        tiers:
          - {below: 1000, unit_price: 0.0075}
          - {unit_price: 0.005}
      support:
        name: Enterprise support
        model: flat
        amount: 49.99
        when: customer.segment == "enterprise"
    discounts:
      annual:
        name: Annual billing rebate
        percent: customer.rebate
        when: customer.annual
    taxes:
      tax: {name: Sales tax, rate: 8.875%}
""")

LEDGER = textwrap.dedent("""\
    event_id,customer,timestamp,kind,units
    1,acme,2024-11-02T10:00:00,call,150
    2,acme,2024-11-03T10:00:00,sms,1000
    3,bolt,2024-11-04T10:00:00,call,20
    4,bolt,2024-10-31T15:30:00Z,sms,3
    5,cora,2024-12-01T00:00:00,call,5
""")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    (tmp_path / "bad_rows.csv").write_text(
        LEDGER + "6,acme,2024-11-05T10:00:00,fax,1\n7,acme,2024-11-05T10:00:00,call,x\n", encoding="utf-8"
    )
    (tmp_path / "customers.yaml").write_text(
        textwrap.dedent("""\
        acme: {segment: enterprise, annual: true, rebate: 10%}
        bolt: {segment: startup}
    """),
        encoding="utf-8",
    )
    (tmp_path / "customers.csv").write_text("customer,segment,annual,rebate\nacme,enterprise,true,10%\nbolt,startup,,\n", encoding="utf-8")
    return {name: str(tmp_path / name) for name in ("plan.yaml", "ledger.csv", "bad_rows.csv", "customers.yaml", "customers.csv")} | {
        "dir": str(tmp_path)
    }


def rate_json(ratecard, files, *extra: str, ledger: str = "ledger.csv") -> tuple[int, dict]:
    result = ratecard("rate", files["plan.yaml"], "--usage", files[ledger], "--period", "2024-11", "--format", "json", *extra)
    return result.exit_code, json.loads(result.stdout)


# -- exit statuses ---------------------------------------------------------------


def test_exit_0_when_every_row_is_accepted(ratecard, files):
    code, data = rate_json(ratecard, files)
    assert code == 0
    assert data["rejected"] == []
    acme, bolt = data["documents"]
    # calls: 100 x 0.05 + 50 x 0.025 = 6.25; messages: 1000 is not below 1000 -> 1000 x 0.005 = 5.00
    assert [(line["id"], line["quantity"], line["amount"]) for line in acme["lines"]] == [
        ("calls", "150", "6.25"),
        ("messages", "1000", "5.00"),
    ]
    assert (acme["subtotal"], acme["taxes"], acme["total"]) == (
        "11.25",
        [{"id": "tax", "rate": "0.08875", "base": "11.25", "amount": "1.00"}],
        "12.25",
    )
    assert acme["period"] == {"start": "2024-11-01", "end": "2024-11-30"}
    assert (acme["plan"], acme["kind"], acme["currency"], acme["notices"]) == ("cli-plan", "invoice", "USD", [])
    # bolt: the 2024-10-31T15:30Z message is November 1st in Seoul
    assert [(line["id"], line["amount"]) for line in bolt["lines"]] == [("calls", "1.00"), ("messages", "0.02")]


def test_exit_3_when_rows_are_rejected_and_documents_are_still_printed(ratecard, files):
    code, data = rate_json(ratecard, files, ledger="bad_rows.csv")
    assert code == 3
    assert [(r["row"], r["event_id"]) for r in data["rejected"]] == [(6, "6"), (7, "7")]
    assert "fax" in data["rejected"][0]["reason"] and "x" in data["rejected"][1]["reason"]
    assert [d["customer"] for d in data["documents"]] == ["acme", "bolt"]
    assert data["documents"][0]["total"] == "12.25"  # the rejected rows count nowhere


@pytest.mark.parametrize("fmt", ["table", "csv", "yaml"])
def test_exit_3_in_every_format(ratecard, files, fmt):
    result = ratecard("rate", files["plan.yaml"], "--usage", files["bad_rows.csv"], "--format", fmt)
    assert result.exit_code == 3
    assert "acme" in result.stdout


@pytest.mark.parametrize(
    "plan_text, where",
    [
        ("plan: broken\ncurrency: USD\ncharges:\n  fee: {model: per_unit, on: nothing, unit_price: 1}\n", ":4:"),
        ("plan: broken\ncurrency: USD\n  charges: [\n", ":3"),
        ("plan: broken\ncurrency: XYZ\n", ":2:"),
        ("plan: broken\ncurrency: USD\ncharges:\n  fee: {model: tiered, on: 1}\n", ":4:"),
    ],
)
def test_exit_1_on_a_broken_plan(ratecard, files, plan_text, where):
    broken = Path(files["dir"]) / "broken.yaml"
    broken.write_text(plan_text, encoding="utf-8")
    result = ratecard("rate", str(broken), "--usage", files["ledger.csv"])
    assert result.exit_code == 1
    assert f"broken.yaml{where}" in result.stderr
    assert result.stdout == ""


def test_exit_1_on_a_plan_that_fails_while_running(ratecard, files):
    failing = Path(files["dir"]) / "failing.yaml"
    failing.write_text(
        PLAN.replace(
            'messages: {sum: units, where: kind == "sms"}', 'messages: {sum: units, where: kind == "sms"}\n  per_call: messages / calls'
        ).replace("on: messages\n", "on: per_call\n"),
        encoding="utf-8",
    )
    result = ratecard("rate", str(failing), "--usage", files["ledger.csv"], "--period", "2024-11")
    assert result.exit_code == 0, result.output  # everyone made calls in November
    no_calls = Path(files["dir"]) / "no_calls.csv"
    no_calls.write_text("event_id,customer,timestamp,kind,units\n1,dora,2024-11-02T10:00:00,sms,5\n")
    result = ratecard("rate", str(failing), "--usage", str(no_calls))
    assert result.exit_code == 1
    assert f"failing.yaml:{PLAN.splitlines().index('metrics:') + 4}:" in result.stderr
    assert "division by zero" in result.stderr


def test_the_last_days_of_the_calendar_are_rated(ratecard, files):
    far = Path(files["dir"]) / "far.csv"
    far.write_text(LEDGER.splitlines()[0] + "\n8,acme,9999-12-31T10:00:00,call,1\n")
    for args in (["--period", "9999"], ["--period", "9999-12"], ["--as-of", "9999-12-31T23:59:59"], []):
        result = ratecard("rate", files["plan.yaml"], "--usage", str(far), "--format", "json", *args)
        assert result.exit_code == 0, (args, result.output)
        assert [d["period"] for d in json.loads(result.stdout)["documents"]] == [{"start": "9999-12-01", "end": "9999-12-31"}], args


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "9999-12-31T20:00:00+00:00"])
def test_an_as_of_past_the_calendar_in_the_plans_time_zone_is_a_problem_of_the_command(ratecard, files, moment):
    """Within the years 1 to 9999 in UTC, but 10000-01-01 in Seoul: no period holds it."""
    far = Path(files["dir"]) / "far.csv"
    far.write_text(LEDGER.splitlines()[0] + "\n8,acme,9999-12-31T10:00:00,call,1\n")
    result = ratecard("rate", files["plan.yaml"], "--usage", str(far), "--as-of", moment)
    assert result.exit_code == 2, result.output
    assert (
        f"--as-of {moment.replace('Z', '+00:00')} is outside the days ratecard can rate (0001-01-01 to 9999-12-31) "
        "in the plan's time zone Asia/Seoul" in result.stderr
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--usage", "missing.csv"], "missing.csv"),
        (["--usage", "{ledger}", "--period", "2024-13"], "2024-13"),
        (["--usage", "{ledger}", "--period", "last month"], "last month"),
        (["--usage", "{ledger}", "--period", "2024-11-30..2024-11-01"], "2024-11-30"),
        (["--usage", "{ledger}", "--customers", "missing.yaml"], "missing.yaml"),
        (["--usage", "{ledger}", "--customers", "{bad_customers}"], "bad_customers"),
        (["--usage", "{ledger}", "--customers", "{wrong_type}"], "annual"),
        (["--usage", "{ledger}", "--customers", "{latin1}"], "UTF-8"),
        (["--usage", "{ledger}", "--customers", "{no_id}"], "customer"),
        (["--usage", "{ledger}", "--as-of", "soon"], "soon"),
        (["--usage", "{ledger}", "--customers", "{twice}"], "twice.csv:3: customer 'acme' is listed twice (first on line 2)"),
        (["--usage", "{ledger}", "--as-of", "9999-12-31"], "9999-12-31"),
        (["--usage", "{ledger}", "--as-of", "0001-01-01T00:00:00+09:00"], "0001-01-01"),
        (["--usage", "{ledger}", "--rejects", "{no_folder}"], "no_folder"),
        (["--usage", "{ledger}", "--rejects", "/dev/full"], "/dev/full"),
        (["--usage", "{ledger}", "--rejects", "{dir}"], "rejects"),
        (["--usage", "{ledger}", "--period", "２０２４-１１"], "cannot read period"),
        (["--usage", "{ledger_txt}"], "ledger.txt"),
        (["--usage", "{ledger}", "--format", "xml"], "xml"),
        ([], "--usage"),
    ],
)
def test_exit_2_on_a_usage_error(ratecard, files, args, message):
    folder = Path(files["dir"])
    (folder / "bad_customers.yaml").write_text("acme: [1, 2\n")
    (folder / "wrong_type.csv").write_text("customer,annual\nacme,maybe\n")
    (folder / "ledger.txt").write_text(LEDGER)
    (folder / "latin1.csv").write_bytes("customer,segment\ncafé,startup\n".encode("latin-1"))
    (folder / "no_id.csv").write_text("id,segment\nacme,startup\n")
    (folder / "twice.csv").write_text("customer,segment\nacme,startup\nacme,enterprise\n")
    names = {
        "ledger": files["ledger.csv"],
        "bad_customers": str(folder / "bad_customers.yaml"),
        "twice": str(folder / "twice.csv"),
        "no_folder": str(folder / "no_folder" / "rejects.csv"),
        "dir": str(folder),
        "latin1": str(folder / "latin1.csv"),
        "no_id": str(folder / "no_id.csv"),
        "wrong_type": str(folder / "wrong_type.csv"),
        "ledger_txt": str(folder / "ledger.txt"),
    }
    args = [a.format(**names) if a.startswith("{") else (str(folder / a) if a.startswith("missing") else a) for a in args]
    result = ratecard("rate", files["plan.yaml"], *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


# -- formats -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "json", "yaml", "csv", "jsonl"])
def test_every_format_is_byte_identical_across_runs(ratecard, files, fmt):
    args = ("rate", files["plan.yaml"], "--usage", files["bad_rows.csv"], "--format", fmt, "--customers", files["customers.yaml"])
    first, second = ratecard(*args), ratecard(*args)
    assert first.exit_code == second.exit_code == 3
    assert first.stdout_bytes == second.stdout_bytes
    assert first.stdout_bytes


def test_yaml_format_holds_the_same_data_as_json(ratecard, files):
    _, data = rate_json(ratecard, files, ledger="bad_rows.csv")
    result = ratecard("rate", files["plan.yaml"], "--usage", files["bad_rows.csv"], "--period", "2024-11", "--format", "yaml")
    assert yaml.safe_load(result.stdout) == data


def test_jsonl_format_holds_the_same_data_as_json(ratecard, files):
    _, data = rate_json(ratecard, files, ledger="bad_rows.csv")
    result = ratecard("rate", files["plan.yaml"], "--usage", files["bad_rows.csv"], "--period", "2024-11", "--format", "jsonl")
    assert result.exit_code == 3
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records == data["documents"] + [{"rejected": row} for row in data["rejected"]]


def test_csv_format_has_a_row_per_line_tax_subtotal_and_total(ratecard, files):
    result = ratecard("rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--period", "2024-11", "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    acme = [(r["row_kind"], r["id"], r["quantity"], r["rate"], r["amount"]) for r in rows if r["customer"] == "acme"]
    assert acme == [
        ("line", "calls", "150", "", "6.25"),
        ("line", "messages", "1000", "", "5.00"),
        ("subtotal", "subtotal", "", "", "11.25"),
        ("tax", "tax", "", "0.08875", "1.00"),
        ("total", "total", "", "", "12.25"),
    ]
    assert {r["currency"] for r in rows} == {"USD"}
    assert {(r["period_start"], r["period_end"]) for r in rows} == {("2024-11-01", "2024-11-30")}


def test_table_format_shows_lines_totals_and_rejected_rows(ratecard, files):
    result = ratecard("rate", files["plan.yaml"], "--usage", files["bad_rows.csv"], "--period", "2024-11")
    assert result.exit_code == 3
    text = result.stdout
    for expected in ("acme", "cli-plan", "Voice minutes", "6.25", "Subtotal", "11.25", "Total", "12.25", "2 rejected row(s)", "row 6"):
        assert expected in text


def test_customer_option_limits_the_documents(ratecard, files):
    code, data = rate_json(ratecard, files, "--customer", "bolt")
    assert code == 0 and [d["customer"] for d in data["documents"]] == ["bolt"]
    code, data = rate_json(ratecard, files, "--customer", "nobody")
    assert code == 0 and data["documents"] == []


def test_without_a_period_every_period_of_the_ledger_is_rated(ratecard, files):
    result = ratecard("rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--format", "json")
    data = json.loads(result.stdout)
    assert [(d["customer"], d["period"]["start"]) for d in data["documents"]] == [
        ("acme", "2024-11-01"),
        ("bolt", "2024-11-01"),
        ("cora", "2024-12-01"),
    ]


# -- customers ------------------------------------------------------------------------


@pytest.mark.parametrize("customers", ["customers.yaml", "customers.csv"])
def test_customers_file_gives_attributes_to_when_and_discounts(ratecard, files, customers):
    code, data = rate_json(ratecard, files, "--customers", files[customers])
    assert code == 0
    acme, bolt = data["documents"]
    assert [(line["id"], line["amount"]) for line in acme["lines"]] == [
        ("calls", "6.25"),
        ("messages", "5.00"),
        ("support", "49.99"),
        ("annual", "-6.12"),
    ]
    # 61.24 - 6.124 rounded to 6.12 = 55.12; tax 4.89193 -> 4.89
    assert (acme["subtotal"], acme["total"]) == ("55.12", "60.01")
    assert [line["id"] for line in bolt["lines"]] == ["calls", "messages"]


def test_customers_csv_saved_by_a_spreadsheet_is_read(ratecard, files):
    excel = Path(files["dir"]) / "excel.csv"
    excel.write_bytes("\ufeffcustomer,segment,annual,rebate\r\nacme,enterprise,true,10%\r\n".encode("utf-8"))
    code, data = rate_json(ratecard, files, "--customers", str(excel))
    assert code == 0
    assert data["documents"][0]["total"] == "60.01"


def test_customers_missing_from_the_file_take_the_defaults(ratecard, files):
    only_bolt = Path(files["dir"]) / "only_bolt.csv"
    only_bolt.write_text("customer,segment\nbolt,enterprise\n")
    code, data = rate_json(ratecard, files, "--customers", str(only_bolt))
    assert code == 0
    assert [[line["id"] for line in d["lines"]] for d in data["documents"]] == [["calls", "messages"], ["calls", "messages", "support"]]


@pytest.mark.parametrize("kind", ["device", "symlink_to_device", "fifo"])
def test_a_customers_path_that_is_not_a_regular_file_is_refused_without_reading_it(ratecard, files, kind):
    path = Path("/dev/zero")
    if kind == "symlink_to_device":
        path = Path(files["dir"]) / "customers_link.csv"
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        path = Path(files["dir"]) / "customers_fifo.yaml"
        os.mkfifo(path)
    started = time.monotonic()
    result = ratecard("rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--customers", str(path))
    assert time.monotonic() - started < 5
    assert result.exit_code == 2, result.output
    assert f"error: {path}: not a regular file (a device, pipe or socket?): a customers file is text" in result.stderr


@pytest.mark.parametrize("name, limit", [("big.csv", "MAX_CSV_BYTES"), ("big.yaml", "MAX_FILE_BYTES")])
def test_a_customers_file_past_the_size_limit_is_refused(ratecard, files, monkeypatch, name, limit):
    from interpreter.pricing import customers

    big = Path(files["dir"]) / name
    big.write_text(
        "customer,segment\n" + "".join(f"c{n},startup\n" for n in range(20))
        if name.endswith(".csv")
        else "".join(f"c{n}: {{segment: startup}}\n" for n in range(20)),
        encoding="utf-8",
    )
    monkeypatch.setattr(customers, limit, 100, raising=False)
    result = ratecard("rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--customers", str(big))
    assert result.exit_code == 2, result.output
    assert f"error: {big}: customers file is larger than 100 bytes" in result.stderr


# -- explain -----------------------------------------------------------------------------


def charge_line(charge: str) -> int:
    """The line of the plan where `charge` is defined under `charges:`."""
    lines = PLAN.splitlines()
    charges_at = lines.index("charges:")
    return next(n for n, line in enumerate(lines, 1) if n > charges_at and line == f"  {charge}:")


def test_explain_cites_the_plan_line_the_tiers_and_the_rounding(ratecard, files):
    result = ratecard(
        "explain",
        files["plan.yaml"],
        "--usage",
        files["ledger.csv"],
        "--customer",
        "acme",
        "--period",
        "2024-11",
        "--customers",
        files["customers.yaml"],
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    calls = text[text.index("\ncalls  ") : text.index("\nmessages  ")]
    assert f"{files['plan.yaml']}:{charge_line('calls')}" in calls
    assert "── Tier 1 · up to 100: 100 × $0.05 = $5.00\n" in calls
    assert "── Tier 2 · above 100: 50 × $0.025 = $1.25\n" in calls
    assert "── rounded half up to $0.01: $6.25" in calls
    messages = text[text.index("\nmessages  ") : text.index("\nsupport  ")]
    assert f"{files['plan.yaml']}:{charge_line('messages')}" in messages
    assert "── Tier 2 · 1,000 and more: 1,000 × $0.005 = $5.00\n" in messages and "Tier 1" not in messages
    assert "customer.rebate" in text and "── calls = 150 " in text and '── customer.segment = "enterprise"\n' in text
    assert "total = $60.01" in text


def test_explain_points_at_each_charge_line_in_the_plan(ratecard, files):
    result = ratecard(
        "explain",
        files["plan.yaml"],
        "--usage",
        files["ledger.csv"],
        "--customer",
        "acme",
        "--period",
        "2024-11",
        "--customers",
        files["customers.csv"],
    )
    text = result.stdout
    for charge in ("calls", "messages", "support"):
        block = text[text.index(f"\n{charge}  ") :].splitlines()
        assert block[2].startswith(f"├── from {files['plan.yaml']}:{charge_line(charge)} ("), block[:3]


def test_explain_of_an_unknown_customer_is_a_usage_error(ratecard, files):
    result = ratecard("explain", files["plan.yaml"], "--usage", files["ledger.csv"], "--customer", "nobody", "--period", "2024-11")
    assert result.exit_code == 2
    assert "nobody" in result.stderr


BACOBILL = Path(__file__).resolve().parent.parent / "plans" / "bacobill_saas.yaml"
DEPOSIT = BACOBILL.parent / "bacobill_saas" / "scenarios" / "deposit_and_points.yaml"


def explain_scenario(ratecard, tmp_path: Path, scenario: Path, customer: str, plan: Path = BACOBILL, period: str | None = None) -> str:
    """`ratecard explain` of one customer of a shipped scenario (its ledger and customers written to files)."""
    from interpreter.review.scenarios import rate_inputs, read_spec

    spec = read_spec(scenario)
    ledger, options = rate_inputs(scenario, spec, tmp_path / "usage.jsonl")
    people = {cid: {k: str(v) for k, v in attributes.items()} for cid, attributes in options["customer_records"].items()}
    (tmp_path / "customers.yaml").write_text(yaml.safe_dump(people), encoding="utf-8")
    result = ratecard(
        "explain",
        str(plan),
        "--usage",
        ledger,
        "--customers",
        str(tmp_path / "customers.yaml"),
        "--customer",
        customer,
        "--period",
        period or options["period"],
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def total_parts(text: str) -> tuple[Decimal, Decimal]:
    """The total an explanation states, and what the parts its total line names add up to."""
    line = next(line for line in text.splitlines() if line.startswith("total = "))
    stated, parts = re.fullmatch(r"total = (\S+) \((.*)\)", line).groups()
    terms = re.findall(r"(^|[+-]) ?[a-z ]+ (-?[^\s\d-]*[0-9.,]+)", parts)
    return _amount(stated), sum((_amount(n) * (-1 if sign == "-" else 1) for sign, n in terms), Decimal(0))


def _amount(shown: str) -> Decimal:
    """`₩28,900`, `-$1.50` as a Decimal."""
    return Decimal(re.sub(r"[^0-9.-]", "", shown))


@pytest.mark.parametrize(
    "customer, total, credits",
    [
        (
            "dep-small",
            "28900",
            [
                "deposit  'Prepaid deposit'  balance ₩20,000, applied ₩20,000, left ₩0",
                "points  'Points'  balance ₩5,000, applied ₩5,000, left ₩0",
            ],
        ),
        (
            "dep-large",
            "0",
            [
                "deposit  'Prepaid deposit'  balance ₩100,000, applied ₩53,900, left ₩46,100",
                "points  'Points'  balance ₩3,000, applied ₩0, left ₩3,000",
            ],
        ),
        (
            "dep-foreigner",
            "19000",
            ["deposit  'Prepaid deposit'  balance ₩30,000, applied ₩30,000, left ₩0", "points  'Points'  balance ₩0, applied ₩0, left ₩0"],
        ),
    ],
)
def test_explain_accounts_for_the_credits_applied_in_its_total(ratecard, tmp_path, customer, total, credits):
    text = explain_scenario(ratecard, tmp_path, DEPOSIT, customer)
    stated, added = total_parts(text)
    assert (str(stated), added) == (total, stated)
    for credit in credits:
        assert any(line.endswith(f"── {credit}") for line in text.splitlines()), credit
    assert "credits applied" in next(line for line in text.splitlines() if line.startswith("total = "))


def test_explain_shows_what_a_carried_discount_brought_took_and_left(ratecard, tmp_path):
    (tmp_path / "plan.yaml").write_text(
        textwrap.dedent("""\
        plan: coupon
        currency: USD
        usage: {gb: number}
        metrics: {gb: {sum: gb}}
        charges:
          storage: {name: Storage, model: per_unit, on: gb, unit_price: 1.00}
          support: {name: Support, model: flat, amount: 5.00}
        discounts:
          welcome: {name: Welcome coupon, amount: 50.00, applies_to: [storage], carry: true}
        taxes:
          vat: {rate: 10%}
        credits:
          goodwill: {name: Goodwill, balance: 2.00}
    """),
        encoding="utf-8",
    )
    (tmp_path / "ledger.csv").write_text(
        "event_id,customer,timestamp,gb\n1,acme,2024-11-10T10:00:00,20\n2,acme,2024-12-10T10:00:00,30\n", encoding="utf-8"
    )
    result = ratecard(
        "explain",
        str(tmp_path / "plan.yaml"),
        "--usage",
        str(tmp_path / "ledger.csv"),
        "--customer",
        "acme",
        "--period",
        "2024-11-01..2024-12-31",
    )
    assert result.exit_code == 0, result.output
    december = result.stdout[result.stdout.index("period 2024-12-01") :]
    # December: 30.00 carried in + 50.00 granted, 30.00 taken off storage, 50.00 carried on;
    # subtotal 5.00 (support), VAT 0.50; the goodwill credit was spent in November
    assert (
        "── welcome  'Welcome coupon'  carried in $30.00 + granted $50.00, applied $30.00 (the line welcome), carried on $50.00\n"
        in december
    )
    stated, added = total_parts(december)
    assert stated == added == Decimal("5.50")
    november = result.stdout[: result.stdout.index("period 2024-12-01")]
    assert (
        "── welcome  'Welcome coupon'  carried in $0.00 + granted $50.00, applied $20.00 (the line welcome), carried on $30.00\n"
        in november
    )
    stated, added = total_parts(november)
    assert stated == added == Decimal("3.50")  # 5.50 due, 2.00 of goodwill


def test_readme_command_rates_the_shipped_plan(ratecard):
    root = Path(__file__).resolve().parent.parent
    result = ratecard(
        "rate",
        str(root / "plans/portone_one_payment_infra.yaml"),
        "--usage",
        str(root / "plans/portone_one_payment_infra/ledger_2024_11.csv"),
        "--period",
        "2024-11",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["documents"] and all(d["lines"][0]["id"] == "platform_fee" for d in data["documents"])
    assert all(d["taxes"][0]["id"] == "vat" for d in data["documents"])


def test_the_cycle_collector_paused_for_a_run_is_back_on_when_the_command_ends(ratecard, files):
    import gc

    assert gc.isenabled()
    assert rate_json(ratecard, files)[0] == 0
    assert gc.isenabled()
    assert ratecard("rate", files["plan.yaml"], "--usage", files["bad_rows.csv"], "--period", "2024-11").exit_code == 3
    assert gc.isenabled()


# -- nothing to rate ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, said",
    [
        (["--period", "2023-01"], "no documents: the ledger has no accepted rows in period 2023-01"),
        (["--period", "2023-01", "--format", "csv"], "in period 2023-01"),
        (
            ["--period", "2024-11", "--customer", "nobody"],
            "no documents: the ledger has no accepted rows for customer 'nobody' in period 2024-11",
        ),
        (["--usage-header-only"], "no documents: the ledger has no accepted rows"),
    ],
)
def test_a_period_without_usage_says_so(ratecard, files, args, said):
    usage = files["ledger.csv"]
    if args == ["--usage-header-only"]:
        usage, args = str(Path(files["dir"]) / "header.csv"), []
        Path(usage).write_text(LEDGER.splitlines()[0] + "\n", encoding="utf-8")
    result = ratecard("rate", files["plan.yaml"], "--usage", usage, *args)
    assert result.exit_code == 0, result.output
    assert said in result.stderr
    assert "acme" not in result.stdout


@pytest.mark.parametrize("args", [["--period", "0001-01"], ["--period", "0001"], ["--as-of", "0001-01-03"]])
def test_the_period_before_the_first_day_holds_no_usage(ratecard, files, args):
    previous = Path(files["dir"]) / "previous.yaml"
    previous.write_text(PLAN.replace("when: customer.segment", "when: previous.calls > 0 and customer.segment"), encoding="utf-8")
    result = ratecard("rate", str(previous), "--usage", files["ledger.csv"], *args)
    assert result.exit_code == 0, result.output  # no usage can lie before the year 1: previous.calls is 0
    assert "Traceback" not in result.output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
def test_output_that_cannot_be_written_is_a_usage_error(files, fmt):
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-c", "import cli; cli.main()", "rate", files["plan.yaml"], "--usage", files["ledger.csv"], "--format", fmt],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: cannot write the output: No space left on device\n"


def test_explain_shows_the_value_tested_by_in(ratecard, tmp_path):
    plan = PLAN.replace('when: customer.segment == "enterprise"', 'when: customer.segment in ["enterprise", "partner"]')
    (tmp_path / "plan.yaml").write_text(
        plan.replace("values: [startup, enterprise]", "values: [startup, enterprise, partner]"), encoding="utf-8"
    )
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    (tmp_path / "customers.yaml").write_text("acme: {segment: enterprise}\n", encoding="utf-8")
    result = ratecard(
        "explain",
        str(tmp_path / "plan.yaml"),
        "--usage",
        str(tmp_path / "ledger.csv"),
        "--customer",
        "acme",
        "--period",
        "2024-11",
        "--customers",
        str(tmp_path / "customers.yaml"),
    )
    assert result.exit_code == 0, result.output
    support = result.stdout[result.stdout.index("\nsupport  ") :]
    assert '├── when: customer.segment in ["enterprise", "partner"] = true\n│   └── customer.segment = "enterprise"\n' in support
