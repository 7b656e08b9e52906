"""Scenario files have a schema: a misspelled key is an error at its line, never a check switched off.

Each case writes one scenario into a plans/<plan>/scenarios/ layout and lists
every problem as (line, column, message), the way plan errors are tested.
"""

from __future__ import annotations

import json
import re
import textwrap
from decimal import Decimal
from pathlib import Path

import jsonschema
import pydantic
import pytest

from dsl.source import read_document, to_plain
from interpreter.review.scenario_schema import read_scenario
from interpreter.review.scenarios import ScenarioProblem, run as run_scenario, scenario_files
from plan_helpers import PLANS, ROOT


def write_scenario(tmp_path: Path, text: str, name: str = "x") -> Path:
    folder = tmp_path / "plans" / "p" / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[tuple[int, int, str]]:
    _, diagnostics = read_scenario(write_scenario(tmp_path, text))
    return [(d.span.line, d.span.column, d.message) for d in diagnostics]


MISTAKES = [
    (
        "expected_for_expect",
        """\
        period: 2024-11
        usage: []
        expected:
          acme: {total: 0}
     """,
        [(3, 1, "unknown key 'expected' in the scenario; did you mean 'expect'?")],
    ),
    (
        "totl_for_total",
        """\
        period: 2024-11
        usage: []
        expect:
          acme: {totl: 0}
     """,
        [(4, 10, "unknown key 'totl' in expect.acme; did you mean 'total'?")],
    ),
    (
        "line_for_lines",
        """\
        usage: []
        expect:
          acme 2024-11: {line: {fee: 5}}
     """,
        [(3, 18, "unknown key 'line' in expect.acme 2024-11; did you mean 'lines'?")],
    ),
    (
        "amount_in_words",
        """\
        usage: []
        expect:
          acme: {taxes: {vat: ten}}
     """,
        [(3, 23, "expect.acme.taxes.vat: 'ten' is not a number (write 100_000, 12.50 or 3.3%)")],
    ),
    (
        "total_null",
        """\
        usage: []
        expect:
          acme: {total: null}
     """,
        [(3, 17, "expect.acme.total: expected a number")],
    ),
    (
        "reason_misspelled",
        """\
        usage: []
        expect:
          rejected: [{row: 3, reson: must be}]
     """,
        [(3, 23, "unknown key 'reson' in expect.rejected[0]; did you mean 'reason'?")],
    ),
    (
        "rejected_count_in_words",
        """\
        usage: []
        expect:
          rejected: two
     """,
        [(3, 13, "expect.rejected: expected a whole number")],
    ),
    (
        "credit_field_misspelled",
        """\
        usage: []
        expect:
          acme: {credits: {deposit: {aplied: 5}}}
     """,
        [(3, 30, "unknown key 'aplied' in expect.acme.credits.deposit; did you mean 'applied'?")],
    ),
    (
        "case_expected",
        """\
        formula: refund
        cases:
          - {set: {paid: 1}, expected: 0}
     """,
        [(3, 22, "unknown key 'expected' in cases[0]; did you mean 'expect'?")],
    ),
    (
        "usage_key_in_a_formula_scenario",
        """\
        formula: refund
        cases: [{set: {paid: 1}, expect: 0}]
        expect: {acme: {total: 0}}
     """,
        [(3, 1, "unknown key 'expect' in the formula scenario")],
    ),
    (
        "row_not_a_mapping",
        """\
        usage: [1]
     """,
        [(1, 9, "usage[0]: expected keys and values (`name: value` lines, or {name: value})")],
    ),
    (
        "usage_and_usage_file",
        """\
        usage: []
        usage_file: ledger.csv
     """,
        [
            (2, 1, "give the usage rows inline (usage:) or in a file (usage_file:), not both"),
            (2, 13, "usage_file 'ledger.csv' is not a file"),
        ],
    ),
    (
        "no_usage",
        """\
        period: 2024-11
        expect: {rejected: 0}
     """,
        [(1, 1, "a usage scenario needs usage: (rows written inline, [] for none) or usage_file:")],
    ),
    (
        "bad_period",
        """\
        period: 2024-13
        usage: []
     """,
        [(1, 9, "period '2024-13' is not a valid date")],
    ),
    (
        "bad_as_of",
        """\
        as_of: soon
        usage: []
     """,
        [(1, 8, "cannot read --as-of 'soon'; write 2024-04-15 or 2024-04-15T12:00")],
    ),
    (
        "usage_file_with_a_nul",
        """\
        usage_file: "a\\0b"
     """,
        [(1, 13, "usage_file 'a\\x00b' is not a file")],
    ),
    (
        "not_a_mapping",
        """\
        - period: 2024-11
     """,
        [(1, 1, "a scenario file is a mapping of keys such as description:, period:, usage: and expect:")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_an_error_at_its_place(tmp_path, text, expected):
    assert problems(tmp_path, text) == expected


def test_every_problem_of_a_file_at_once(tmp_path):
    found = problems(
        tmp_path,
        """\
        period: 2024-11
        usage: []
        expect:
          acme: {totl: 0, lines: {fee: 5}, taxs: {vat: 1}}
          rejected: [{row: 1, reasn: x}]
     """,
    )
    assert [(line, column) for line, column, _ in found] == [(4, 10), (4, 36), (5, 23)]


def test_a_valid_scenario_is_read_into_plain_frozen_data(tmp_path):
    scenario, found = read_scenario(
        write_scenario(
            tmp_path,
            """\
        description: one merchant
        period: 2024
        usage:
          - {event_id: e1, customer: acme, timestamp: "2024-11-03T10:00:00+09:00", amount: 100_000, test: false}
        expect:
          acme 2024-11: {total: 110_000, lines: {fee: 100000, gone: null}, notices: []}
          rejected: [{row: 2}]
     """,
        )
    )
    assert found == []
    assert scenario.period == "2024"
    assert scenario.usage[0]["amount"] == Decimal(100000) and scenario.usage[0]["test"] is False
    document = scenario.expect.documents()["acme 2024-11"]
    assert document.total == Decimal(110000) and document.lines == {"fee": Decimal(100000), "gone": None}
    assert scenario.expect.rejected[0].row == 2 and scenario.expect.rejected[0].reason is None
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        scenario.period = "2024-11"


def test_run_refuses_an_invalid_scenario_with_every_problem_and_its_caret(tmp_path):
    path = write_scenario(tmp_path, "period: 2024-11\nusage: []\nexpected: {acme: {total: 0}}\n")
    with pytest.raises(ScenarioProblem) as raised:
        run_scenario(path)
    assert str(raised.value).startswith(f"{path}:3:1: error: unknown key 'expected' in the scenario; did you mean 'expect'?")
    assert "\n    expected: {acme: {total: 0}}\n    ^^^^^^^^" in str(raised.value)


# --- the shipped scenarios and the JSON Schema -------------------------------------------

SHIPPED = scenario_files(PLANS)


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.parent.name}-{p.stem}" for p in SHIPPED])
def test_every_shipped_scenario_follows_the_schema(path):
    scenario, found = read_scenario(path)
    assert found == [] and scenario is not None


def schema(ratecard) -> dict:
    result = ratecard("schema", "--scenario")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def validator(definition: dict):
    """JSON Schema validation of our plain data, where every number is a Decimal."""
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many(
        {
            "number": lambda _, value: isinstance(value, (int, float, Decimal)) and not isinstance(value, bool),
            "integer": lambda _, value: (
                (isinstance(value, int) and not isinstance(value, bool))
                or (isinstance(value, Decimal) and value == value.to_integral_value())
            ),
        }
    )
    return jsonschema.validators.extend(base, type_checker=checker)(definition)


def scenario_data(path: Path):
    doc, found = read_document(str(path), path.read_text(encoding="utf-8"))
    assert found == []
    return to_plain(doc.root)


def test_schema_of_scenarios_for_editors(ratecard):
    definition = schema(ratecard)
    jsonschema.Draft202012Validator.check_schema(definition)
    assert definition["title"] == "ratecard scenario"
    assert definition["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    check = validator(definition)
    for path in SHIPPED:
        assert list(check.iter_errors(scenario_data(path))) == [], path
    misspelled = scenario_data(PLANS / "portone_one_payment_infra" / "scenarios" / "net_volume.yaml")
    misspelled["expected"] = misspelled.pop("expect")
    assert list(check.iter_errors(misspelled))
    plan_schema = json.loads(ratecard("schema").output)
    assert plan_schema["title"] == "ratecard plan"


def schema_keys(definition: dict) -> dict[str, set[str]]:
    owners = {"Scenario": definition, **definition.get("$defs", {})}
    return {owner: set(d.get("properties", {})) for owner, d in owners.items()}


def test_every_key_of_the_schema_has_a_description(ratecard):
    definition = schema(ratecard)
    missing = [
        f"{owner}.{name}"
        for owner, d in {"Scenario": definition, **definition["$defs"]}.items()
        for name, prop in d.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert missing == []


def test_readme_documents_every_key_of_a_scenario(ratecard):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Scenarios\n(.*?)(?=^## )", readme, re.S | re.M)
    assert section, "README.md has a '## Scenarios' section"
    text = section.group(1)
    keys = set().union(*schema_keys(schema(ratecard)).values())
    assert sorted(k for k in keys if not re.search(rf"\b{re.escape(k)}:", text)) == []
    assert "ratecard schema --scenario" in text


def test_the_readme_examples_are_valid_scenarios(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Scenarios\n(.*?)(?=^## )", readme, re.S | re.M).group(1)
    examples = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(examples) == 2
    for index, example in enumerate(examples):
        assert problems(tmp_path, example) == [], index


def test_a_moment_before_the_calendar_is_a_message_and_its_last_year_is_rated(tmp_path):
    (tmp_path / "plans" / "p.yaml").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "plans" / "p.yaml").write_text("plan: p\ncurrency: KRW\n", encoding="utf-8")
    with pytest.raises(ScenarioProblem, match="outside the days ratecard can rate"):
        run_scenario(write_scenario(tmp_path, "as_of: 0001-01-01T00:00:00+14:00\nusage: []\n"))
    assert run_scenario(write_scenario(tmp_path, "period: 9999\nusage: []\n")).data["documents"] == []
    assert problems(tmp_path, "as_of: 9999-12-31\nusage: []\n") == [
        (1, 8, "--as-of '9999-12-31' is outside the days ratecard can rate (0001-01-01 to 9999-12-31)")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("usage: []\nexpect:\n", [(2, 8, "expect: write the totals to check under it, or leave expect: out")]),
        ("usage: []\nexpect:\n  acme: {notices: }\n", [(3, 18, "expect.acme.notices: expected a list (`- item` lines, or [a, b])")]),
        ("formula: f\ncases: [{set: }]\n", [(2, 14, "cases[0].set: expected keys and values (`name: value` lines, or {name: value})")]),
    ],
)
def test_an_empty_expectation_is_an_error_not_a_check_left_out(tmp_path, text, expected):
    """`notices:` with nothing after it once meant "not checked" rather than "no notices"."""
    assert problems(tmp_path, text) == expected


def test_a_scenario_ending_in_yml_is_not_skipped(tmp_path):
    path = write_scenario(tmp_path, "usage: []\n")
    yml = path.with_suffix(".yml")
    path.rename(yml)
    assert scenario_files(tmp_path / "plans") == [yml]
    _, found = read_scenario(yml)
    assert [(d.span.line, d.message) for d in found] == [(1, "scenario files end in .yaml: rename it x.yaml")]
