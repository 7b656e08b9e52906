"""The `check`, `schema` and `eval` commands, through click's CliRunner, with exit codes.

Exit statuses: 0 success, 1 plan errors (or a formula that failed to run),
2 a usage error of the command itself.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import jsonschema
import pytest

from dsl.source import read_document, to_plain
from plan_helpers import PLANS, PORTONE

BROKEN = """\
plan: broken
currency: KRW
usage: {amount: money}
metrics:
  gross: {sum: amount}
charges:
  fee:
    model: per_unit
    on: gros
    unit_price: 10
notices:
  big: {when: gross, message: hi}
"""

DIVIDES = """\
plan: divides
currency: KRW
formulas:
  per_day:
    inputs: {fee: money, days: integer}
    value: fee / days
"""


def no_traceback(result) -> bool:
    return "Traceback" not in result.output and (result.exception is None or isinstance(result.exception, SystemExit))


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    return path


# --- check ---------------------------------------------------------------


def test_check_shipped_plan_is_clean(ratecard):
    result = ratecard("check", str(PORTONE))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 1 plan file(s), 0 error(s), 0 warning(s)"


def test_check_plans_folder_is_clean(ratecard):
    result = ratecard("check", str(PLANS))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def test_check_broken_plan_prints_every_error_with_a_caret(ratecard, broken):
    result = ratecard("check", str(broken))
    assert result.exit_code == 1
    assert no_traceback(result)
    lines = result.output.splitlines()
    assert lines == [
        f"{broken}:9:9: error: unknown name 'gros' in charge 'fee'; did you mean 'gross'?",
        "        on: gros",
        "            ^^^^",
        f"{broken}:12:15: error: `when` must be true or false, but this is money (KRW)",
        "      big: {when: gross, message: hi}",
        "                  ^^^^^",
        "failed: 1 plan file(s), 2 error(s), 0 warning(s)",
    ]


def test_check_json_output_for_machines(ratecard, broken):
    result = ratecard("check", "--format", "json", str(broken), str(PORTONE))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["errors"] == 2 and report["warnings"] == 0
    assert report["files"] == [
        {"path": str(broken), "plan": None, "ok": False},
        {"path": str(PORTONE), "plan": "portone-opi", "ok": True, "pricing": {"in_sql": False, "reason": "the plan has previous periods"}},
    ]
    assert [(d["file"], d["line"], d["column"], d["severity"], d["code"]) for d in report["diagnostics"]] == [
        (str(broken), 9, 9, "error", "name"),
        (str(broken), 12, 15, "error", "type"),
    ]
    assert report["diagnostics"][0]["message"] == "unknown name 'gros' in charge 'fee'; did you mean 'gross'?"


def test_check_json_output_when_clean(ratecard):
    result = ratecard("check", "--format", "json", str(PORTONE))
    assert result.exit_code == 0
    assert json.loads(result.output)["errors"] == 0


def test_check_json_says_whether_sql_prices_each_plan(ratecard, monkeypatch):
    # a billing job on the fast path can fail its CI when a plan change leaves it
    plans = PORTONE.parent
    report = json.loads(ratecard("check", "--format", "json", str(plans / "saas_pro.yaml"), str(plans / "bacobill_saas.yaml")).output)
    assert [f["pricing"] for f in report["files"]] == [
        {"in_sql": True, "reason": None},
        {"in_sql": False, "reason": "the plan has credits"},
    ]
    monkeypatch.setenv("RATECARD_PRICING", "python")
    report = json.loads(ratecard("check", "--format", "json", str(plans / "saas_pro.yaml")).output)
    assert report["files"][0]["pricing"] == {"in_sql": False, "reason": "RATECARD_PRICING=python"}


def test_check_a_folder_finds_plans_and_skips_scenarios(ratecard, tmp_path):
    folder = tmp_path / "plans"
    (folder / "nested" / "scenarios").mkdir(parents=True)
    (folder / "good.yaml").write_text(PORTONE.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "nested" / "bad.yml").write_text(BROKEN, encoding="utf-8")
    (folder / "nested" / "scenarios" / "expected.yaml").write_text("not: a plan\n", encoding="utf-8")
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    result = ratecard("check", str(folder))
    assert result.exit_code == 1
    assert f"{folder / 'nested' / 'bad.yml'}:9:9: error:" in result.output
    assert "expected.yaml" not in result.output
    assert result.output.splitlines()[-1] == "failed: 2 plan file(s), 2 error(s), 0 warning(s)"


def test_check_missing_file_is_a_clear_error(ratecard, tmp_path):
    missing = tmp_path / "nope.yaml"
    result = ratecard("check", str(missing))
    assert result.exit_code == 1
    assert no_traceback(result)
    assert f"{missing}:1:1: error: no such file" in result.output


def test_check_empty_folder_says_so(ratecard, tmp_path):
    result = ratecard("check", str(tmp_path))
    assert result.exit_code == 1
    assert "folder holds no plan files (*.yaml)" in result.output


def test_check_needs_a_path(ratecard):
    result = ratecard("check")
    assert result.exit_code == 2
    assert "Missing argument 'PATHS...'" in result.output


# --- schema --------------------------------------------------------------


def _schema(ratecard) -> dict:
    result = ratecard("schema")
    assert result.exit_code == 0
    return json.loads(result.output)


def _plan_data(path) -> dict:
    """A plan file as our loader reads it: numbers are Decimals, `on:` stays a word."""
    doc, problems = read_document(str(path), path.read_text(encoding="utf-8"))
    assert problems == []
    return to_plain(doc.root)


def _validator(schema: dict):
    """JSON Schema validation of our plain data, where every number is a Decimal."""
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine(
        "integer",
        lambda _, value: base.TYPE_CHECKER.is_type(value, "integer") or (isinstance(value, Decimal) and value == value.to_integral_value()),
    )
    return jsonschema.validators.extend(base, type_checker=checker)(schema)


def test_schema_is_valid_json_schema(ratecard):
    schema = _schema(ratecard)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "ratecard plan"
    assert schema["additionalProperties"] is False
    assert {"plan", "currency", "charges", "formulas"} <= set(schema["properties"])


def test_schema_accepts_the_shipped_plan(ratecard):
    errors = list(_validator(_schema(ratecard)).iter_errors(_plan_data(PORTONE)))
    assert errors == []


def test_schema_accepts_amounts_as_editors_read_them(ratecard):
    """YAML 1.2 editors read `100_000` and `10%` as text; the schema allows both spellings."""
    data = {
        "plan": "t",
        "currency": "KRW",
        "taxes": {"vat": {"rate": "10%"}},
        "charges": {"fee": {"model": "volume", "on": "n", "tiers": [{"below": "100_000", "flat": 5}, {"flat": "12.50"}]}},
    }
    assert list(_validator(_schema(ratecard)).iter_errors(data)) == []


def test_schema_rejects_a_misspelled_key(ratecard):
    data = _plan_data(PORTONE)
    data["charges"]["platform_fee"]["tiers"][0]["belwo"] = data["charges"]["platform_fee"]["tiers"][0].pop("below")
    errors = list(_validator(_schema(ratecard)).iter_errors(data))
    assert errors and any("belwo" in error.message for error in errors)


def test_every_property_has_a_description_for_hover_help(ratecard):
    schema = _schema(ratecard)
    missing = []
    for owner, definition in [("Plan", schema), *schema["$defs"].items()]:
        for name, prop in definition.get("properties", {}).items():
            if not prop.get("description"):
                missing.append(f"{owner}.{name}")
    assert missing == []


# --- eval ----------------------------------------------------------------

REFUNDS = [
    ("30%", "7", "420000"),
    ("10%", "11", "0"),
    ("30%", "4", "720000"),
]


@pytest.mark.parametrize(("discount", "months", "expected"), REFUNDS)
def test_eval_annual_refund_examples(ratecard, discount, months, expected):
    args = [
        "eval",
        str(PORTONE),
        "annual_refund",
        "--set",
        "monthly_fee=300000",
        "--set",
        f"discount={discount}",
        "--set",
        f"months_used={months}",
    ]
    text = ratecard(*args)
    assert text.exit_code == 0, text.output
    assert text.output == f"{expected}\n"
    machine = ratecard(*args, "--format", "json")
    assert machine.exit_code == 0
    assert json.loads(machine.output) == {"value": expected}
    assert machine.output.strip() == json.dumps({"value": expected})


def test_eval_unknown_formula_suggests_the_name(ratecard):
    result = ratecard("eval", str(PORTONE), "anual_refund", "--set", "monthly_fee=1")
    assert result.exit_code == 2
    assert "plan 'portone-opi' has no formula 'anual_refund'; did you mean 'annual_refund'?" in result.output


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["monthly_fee=300000", "discount=abc", "months_used=7"], "--set discount: 'abc' is not a percent (write it like 30% or 3.3%)"),
        (["monthly_fee=300000", "discount=0.3", "months_used=7"], "--set discount: '0.3' is not a percent"),
        (["monthly_fee=300000", "discount=30%", "months_used=7.5"], "--set months_used: '7.5' is not a whole number"),
        (["monthly_fee=lots", "discount=30%", "months_used=7"], "--set monthly_fee: 'lots' is not a number"),
        (["monthly_fee=300000", "discount=30%"], "formula 'annual_refund' needs --set months_used=VALUE (integer)"),
        (["monthly_fee=300000", "discount=30%", "months_used=7", "bonus=1"], "formula 'annual_refund' has no input 'bonus'"),
        (["monthly_fee"], "--set 'monthly_fee': write it as NAME=VALUE"),
        (["monthly_fee=1", "monthly_fee=2"], "--set monthly_fee is given twice"),
    ],
)
def test_eval_bad_inputs_are_usage_errors(ratecard, settings, message):
    args = ["eval", str(PORTONE), "annual_refund"]
    for setting in settings:
        args += ["--set", setting]
    result = ratecard(*args)
    assert result.exit_code == 2
    assert no_traceback(result)
    assert message in result.output


def test_eval_division_by_zero_is_located_in_the_plan(ratecard, tmp_path):
    path = tmp_path / "divides.yaml"
    path.write_text(DIVIDES, encoding="utf-8")
    result = ratecard("eval", str(path), "per_day", "--set", "fee=100", "--set", "days=0")
    assert result.exit_code == 1
    assert no_traceback(result)
    assert result.output.splitlines() == [
        f"{path}:6:12: error: division by zero",
        "        value: fee / days",
        "               ^^^^^^^^^^",
    ]
    ok = ratecard("eval", str(path), "per_day", "--set", "fee=100", "--set", "days=3")
    assert (ok.exit_code, ok.output) == (0, "33\n")


def test_eval_on_a_broken_plan_prints_its_errors(ratecard, broken):
    result = ratecard("eval", str(broken), "anything")
    assert result.exit_code == 1
    assert re.search(r":9:9: error: unknown name 'gros'", result.output)


def test_eval_on_a_missing_plan(ratecard, tmp_path):
    result = ratecard("eval", str(tmp_path / "nope.yaml"), "f")
    assert result.exit_code == 1
    assert no_traceback(result)
    assert "error: no such file" in result.output


KINDS = """\
plan: kinds
currency: USD
formulas:
  due:
    inputs: {start: date, days: integer}
    value: start + days
  late:
    inputs: {due: date, paid: date}
    value: paid > due
  capped:
    inputs: {rate: percent}
    value: min(rate, 3.3%)
  share:
    inputs: {part: money, whole: money}
    value: part / whole
  fee:
    inputs: {amount: money}
    value: amount * 2.9% + 0.30 USD
"""


@pytest.mark.parametrize(
    ("formula", "settings", "expected"),
    [
        ("due", ["start=2024-02-20", "days=10"], "2024-03-01"),
        ("late", ["due=2024-11-10", "paid=2024-11-11"], "true"),
        ("late", ["due=2024-11-10", "paid=2024-11-10"], "false"),
        ("capped", ["rate=5%"], "3.3%"),
        ("capped", ["rate=1.25%"], "1.25%"),
        ("share", ["part=1", "whole=8"], "0.125"),
        ("fee", ["amount=19.99"], "0.88"),
        ("fee", ["amount=1000"], "29.30"),
    ],
)
def test_eval_shows_each_type_of_result(ratecard, tmp_path, formula, settings, expected):
    path = tmp_path / "kinds.yaml"
    path.write_text(KINDS, encoding="utf-8")
    args = ["eval", str(path), formula, "--format", "json"]
    for setting in settings:
        args += ["--set", setting]
    result = ratecard(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"value": expected}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"plan: t\nname: \xea\xb0\x80\xff\n", ":2:8: error: the file is not UTF-8 text (byte 0xff); save it as UTF-8"),
        (b"\xef\xbb\xbfplan: t\ncurrency: KRW\nmetrics:\n  m: oops\n", ":4:6: error: unknown name 'oops' in metric 'm'"),
        (b"plan: t\r\ncurrency: KRW\r\nmetrics:\r\n  m: oops\r\n", ":4:6: error: unknown name 'oops' in metric 'm'"),
    ],
)
def test_check_reads_bytes_as_people_save_them(ratecard, tmp_path, content, expected):
    path = tmp_path / "plan.yaml"
    path.write_bytes(content)
    result = ratecard("check", str(path))
    assert result.exit_code == 1
    assert no_traceback(result)
    assert f"{path}{expected}" in result.output
