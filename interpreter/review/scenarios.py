"""Plan scenarios: a ledger, a period and customers, rated and compared.

A scenario file lives in `plans/<plan>/scenarios/NAME.yaml` and rates the plan
`plans/<plan>.yaml` (or the one named by `plan:`). It holds:

    description: what the scenario shows
    period: 2024-11              # optional; also as_of: 2024-04-15
    customers: {acme: {type: public}}
    usage:                       # inline rows, or `usage_file: ledger.csv`
      - {event_id: e1, customer: acme, timestamp: 2024-11-03T10:00:00+09:00, amount: 100}
    expect:                      # totals asserted by hand, checked on every run
      acme: {total: 110000, lines: {platform_fee: 100000}, taxes: {vat: 10000}, notices: [paid_plan_soon]}
      rejected: [{row: 3, reason: "must be at least"}]

or, for a named formula, `formula: NAME` and `cases: [{set: {...}, expect: VALUE}]`.
The result of a scenario is plain data, the same every run: the snapshot.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from dsl.errors import format_diagnostic
from dsl.loader import load_plan
from dsl.tree import formula as find_formula
from interpreter.review.scenario_schema import Expectations, ExpectedDocument, ExpectedRow, FormulaScenario, UsageScenario, read_scenario


class ScenarioProblem(Exception):
    """A scenario file that cannot be run as written."""


@dataclass(frozen=True)
class Outcome:
    """What a scenario produced, and where it differs from the hand-written expectations."""

    path: str
    data: dict
    failures: tuple[str, ...]


def scenario_files(root: str | Path) -> list[Path]:
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.y*ml") if p.suffix in (".yaml", ".yml") and p.parent.name == "scenarios")


def plan_path_for(path: Path, scenario: UsageScenario | FormulaScenario) -> Path:
    if scenario.plan:
        return (path.parent / scenario.plan).resolve()
    plan_dir = path.parent.parent
    return plan_dir.parent / f"{plan_dir.name}.yaml"


def read_spec(path: Path) -> UsageScenario | FormulaScenario:
    """The scenario in `path`, checked against its schema; every problem raised at once."""
    scenario, problems = read_scenario(path)
    if scenario is None:
        text = _text_of(path) if path.is_file() else None
        raise ScenarioProblem("\n".join(format_diagnostic(d, text) for d in problems))
    return scenario


def _text_of(path: Path) -> str | None:
    """The scenario's text for the caret lines under its errors, when it can be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rate_inputs(path: Path, scenario: UsageScenario, inline: Path) -> tuple[str, dict]:
    """(ledger file, options of `rate`) of a usage scenario; rows written inline go to the file `inline`."""
    if scenario.usage_file is not None:
        ledger = str((path.parent / scenario.usage_file).resolve())
    else:
        ledger = str(inline)
        with open(ledger, "w", encoding="utf-8") as handle:
            for row in scenario.usage or []:
                handle.write(json.dumps({k: _cell(v) for k, v in row.items()}) + "\n")
    customers = {cid: dict(attributes or {}) for cid, attributes in scenario.customers.items()}
    return ledger, {"period": scenario.period, "as_of": scenario.as_of, "customer_records": customers}


def rated(path: Path, scenario: UsageScenario, plan):
    """The `RateResult` of a usage scenario."""
    from interpreter.engines.duckdb.engine import rate

    with tempfile.TemporaryDirectory() as tmp:
        ledger, options = rate_inputs(path, scenario, Path(tmp) / "usage.jsonl")
        return rate(plan, ledger, **options)


def run(path: str | Path) -> Outcome:
    """Rate one scenario; its data is what the snapshot stores."""
    from interpreter.output.render import output_data
    from interpreter.pricing.formulas import InputProblem, run_formula

    path = Path(path)
    scenario = read_spec(path)
    plan_file = plan_path_for(path, scenario)
    loaded = load_plan(plan_file)
    if loaded.plan is None:
        first = loaded.diagnostics[0] if loaded.diagnostics else None
        raise ScenarioProblem(f"{path}: plan {plan_file} has errors" + (f" ({first.message})" if first else ""))
    plan = loaded.plan
    if isinstance(scenario, FormulaScenario):
        formula = find_formula(plan, scenario.formula)
        if formula is None:
            raise ScenarioProblem(f"{path}: plan {plan.id!r} has no formula {scenario.formula!r}")
        cases, failures = [], []
        for index, case in enumerate(scenario.cases):
            given = {k: _cell(v) for k, v in case.set.items()}
            try:
                value = run_formula(plan, formula, given).text
            except InputProblem as problem:
                raise ScenarioProblem(f"{path}: case {index + 1}: {problem}") from None
            cases.append({"name": case.name or f"case {index + 1}", "inputs": given, "value": value})
            if case.expect is not None and not _same(case.expect, value):
                failures.append(f"case {case.name or index + 1!r}: expected {_cell(case.expect)}, got {value}")
        return Outcome(str(path), {"plan": plan.id, "formula": formula.name, "cases": cases}, tuple(failures))
    result = rated(path, scenario, plan)
    data = output_data(result.documents, result.rejected)
    return Outcome(str(path), data, tuple(check(scenario.expect or Expectations(), data)))


def _same(expected: Any, actual: str | None) -> bool:
    if actual is None:
        return expected is None
    if isinstance(expected, bool):
        return _cell(expected) == actual
    try:
        return Decimal(str(expected)) == Decimal(actual)
    except ArithmeticError:
        return str(expected) == actual


def check(expect: Expectations, data: dict) -> list[str]:
    """Differences between hand-written expectations and the rated data."""
    failures = []
    documents = data["documents"]
    for key, wanted in expect.documents().items():
        customer, _, start = str(key).partition(" ")
        found = [d for d in documents if d["customer"] == customer and (not start or d["period"]["start"].startswith(start))]
        if len(found) != 1:
            failures.append(f"{key}: expected one document, found {len(found)}")
            continue
        failures += _check_document(key, wanted or ExpectedDocument(), found[0])
    if expect.rejected is not None:
        failures += _check_rejected(expect.rejected, data["rejected"])
    return failures


def _check_document(key: str, wanted: ExpectedDocument, doc: dict) -> list[str]:
    out = []
    for field in ("total", "subtotal"):
        amount = getattr(wanted, field)
        if amount is not None and not _same(amount, doc[field]):
            out.append(f"{key}: {field} expected {amount}, got {doc[field]}")
    lines = {line["id"]: line for line in doc["lines"]}
    for line_id, amount in wanted.lines.items():
        if amount is None:
            if line_id in lines:
                out.append(f"{key}: line {line_id} expected absent, got {lines[line_id]['amount']}")
        elif line_id not in lines:
            out.append(f"{key}: line {line_id} expected {amount}, but it is not on the document")
        elif not _same(amount, lines[line_id]["amount"]):
            out.append(f"{key}: line {line_id} expected {amount}, got {lines[line_id]['amount']}")
    for line_id, quantity in wanted.quantities.items():
        got = lines.get(line_id, {}).get("quantity")
        if not _same(quantity, got):
            out.append(f"{key}: quantity of {line_id} expected {quantity}, got {got}")
    taxes = {t["id"]: t["amount"] for t in doc["taxes"]}
    for tax_id, amount in wanted.taxes.items():
        if not _same(amount, taxes.get(tax_id)):
            out.append(f"{key}: tax {tax_id} expected {amount}, got {taxes.get(tax_id)}")
    if wanted.notices is not None:
        got = sorted(n["id"] for n in doc["notices"])
        if got != sorted(wanted.notices):
            out.append(f"{key}: notices expected {sorted(wanted.notices)}, got {got}")
    credits = {c["id"]: c for c in doc.get("credits", [])}
    for credit_id, amounts in wanted.credits.items():
        for field in sorted(amounts.model_fields_set):
            amount, got = getattr(amounts, field), credits.get(credit_id, {}).get(field)
            if not _same(amount, got):
                out.append(f"{key}: credit {credit_id} {field} expected {amount}, got {got}")
    return out


def _check_rejected(wanted: int | list[ExpectedRow], rejected: list[dict]) -> list[str]:
    if isinstance(wanted, int):
        return [] if len(rejected) == wanted else [f"rejected: expected {wanted} rows, got {len(rejected)}"]
    out = []
    by_row = {r["row"]: r for r in rejected}
    for item in wanted:
        if item.row not in by_row:
            out.append(f"rejected: expected row {item.row} to be rejected")
        elif item.reason and item.reason not in by_row[item.row]["reason"]:
            out.append(f"rejected: row {item.row} reason expected to contain {item.reason!r}, got {by_row[item.row]['reason']!r}")
    if len(rejected) != len(wanted):
        out.append(f"rejected: expected {len(wanted)} rows, got {len(rejected)}")
    return out
