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

from dsl.loader import load_plan
from dsl.source import read_document, to_plain
from dsl.tree import formula as find_formula


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
    return sorted(p for p in root.rglob("*.yaml") if p.parent.name == "scenarios")


def plan_path_for(path: Path, spec: dict) -> Path:
    if spec.get("plan"):
        return (path.parent / spec["plan"]).resolve()
    plan_dir = path.parent.parent
    return plan_dir.parent / f"{plan_dir.name}.yaml"


def read_spec(path: Path) -> dict:
    doc, problems = read_document(str(path), path.read_text(encoding="utf-8"))
    if doc is None or problems:
        first = problems[0]
        raise ScenarioProblem(f"{path}:{first.span.line}:{first.span.column}: {first.message}")
    spec = to_plain(doc.root)
    if not isinstance(spec, dict):
        raise ScenarioProblem(f"{path}: a scenario is a mapping (description, period, usage, expect ...)")
    return spec


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rated(path: Path, spec: dict, plan):
    """The `RateResult` of a usage scenario (its ledger written out when given inline)."""
    from interpreter.rate import rate

    with tempfile.TemporaryDirectory() as tmp:
        if "usage_file" in spec:
            ledger = str((path.parent / spec["usage_file"]).resolve())
        else:
            ledger = str(Path(tmp) / "usage.jsonl")
            with open(ledger, "w", encoding="utf-8") as handle:
                for row in spec.get("usage") or []:
                    handle.write(json.dumps({k: _cell(v) for k, v in row.items()}) + "\n")
        result = rate(plan, ledger, period=_text(spec.get("period")), as_of=_text(spec.get("as_of")),
                      customer_records=spec.get("customers") or {})
    return result


def run(path: str | Path) -> Outcome:
    """Rate one scenario; its data is what the snapshot stores."""
    from interpreter.formulas import InputProblem, run_formula
    from interpreter.render import output_data

    path = Path(path)
    spec = read_spec(path)
    plan_file = plan_path_for(path, spec)
    loaded = load_plan(plan_file)
    if loaded.plan is None:
        first = loaded.diagnostics[0] if loaded.diagnostics else None
        raise ScenarioProblem(f"{path}: plan {plan_file} has errors" + (f" ({first.message})" if first else ""))
    plan = loaded.plan
    if "formula" in spec:
        formula = find_formula(plan, spec["formula"])
        if formula is None:
            raise ScenarioProblem(f"{path}: plan {plan.id!r} has no formula {spec['formula']!r}")
        cases, failures = [], []
        for index, case in enumerate(spec.get("cases") or []):
            given = {k: _cell(v) for k, v in (case.get("set") or {}).items()}
            try:
                value = run_formula(plan, formula, given).text
            except InputProblem as problem:
                raise ScenarioProblem(f"{path}: case {index + 1}: {problem}") from None
            cases.append({"name": case.get("name", f"case {index + 1}"), "inputs": given, "value": value})
            if "expect" in case and not _same(case["expect"], value):
                failures.append(f"case {case.get('name', index + 1)!r}: expected {case['expect']}, got {value}")
        return Outcome(str(path), {"plan": plan.id, "formula": formula.name, "cases": cases}, tuple(failures))
    result = rated(path, spec, plan)
    data = output_data(result.documents, result.rejected)
    return Outcome(str(path), data, tuple(check(spec.get("expect") or {}, data)))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _same(expected: Any, actual: str | None) -> bool:
    if actual is None:
        return expected is None
    try:
        return Decimal(str(expected)) == Decimal(actual)
    except ArithmeticError:
        return str(expected) == actual


def check(expect: dict, data: dict) -> list[str]:
    """Differences between hand-written expectations and the rated data."""
    failures = []
    documents = data["documents"]
    for key, wanted in expect.items():
        if key == "rejected":
            failures += _check_rejected(wanted, data["rejected"])
            continue
        customer, _, start = str(key).partition(" ")
        found = [d for d in documents if d["customer"] == customer and (not start or d["period"]["start"].startswith(start))]
        if len(found) != 1:
            failures.append(f"{key}: expected one document, found {len(found)}")
            continue
        failures += _check_document(key, wanted or {}, found[0])
    return failures


def _check_document(key: str, wanted: dict, doc: dict) -> list[str]:
    out = []
    for field in ("total", "subtotal"):
        if field in wanted and not _same(wanted[field], doc[field]):
            out.append(f"{key}: {field} expected {wanted[field]}, got {doc[field]}")
    lines = {line["id"]: line for line in doc["lines"]}
    for line_id, amount in (wanted.get("lines") or {}).items():
        if amount is None:
            if line_id in lines:
                out.append(f"{key}: line {line_id} expected absent, got {lines[line_id]['amount']}")
        elif line_id not in lines:
            out.append(f"{key}: line {line_id} expected {amount}, but it is not on the document")
        elif not _same(amount, lines[line_id]["amount"]):
            out.append(f"{key}: line {line_id} expected {amount}, got {lines[line_id]['amount']}")
    for line_id, quantity in (wanted.get("quantities") or {}).items():
        got = lines.get(line_id, {}).get("quantity")
        if not _same(quantity, got):
            out.append(f"{key}: quantity of {line_id} expected {quantity}, got {got}")
    taxes = {t["id"]: t["amount"] for t in doc["taxes"]}
    for tax_id, amount in (wanted.get("taxes") or {}).items():
        if not _same(amount, taxes.get(tax_id)):
            out.append(f"{key}: tax {tax_id} expected {amount}, got {taxes.get(tax_id)}")
    if "notices" in wanted:
        got = sorted(n["id"] for n in doc["notices"])
        if got != sorted(wanted["notices"] or []):
            out.append(f"{key}: notices expected {sorted(wanted['notices'] or [])}, got {got}")
    credits = {c["id"]: c for c in doc.get("credits", [])}
    for credit_id, amounts in (wanted.get("credits") or {}).items():
        for field, amount in amounts.items():
            got = credits.get(credit_id, {}).get(field)
            if not _same(amount, got):
                out.append(f"{key}: credit {credit_id} {field} expected {amount}, got {got}")
    return out


def _check_rejected(wanted: Any, rejected: list[dict]) -> list[str]:
    if isinstance(wanted, (int, Decimal)) and not isinstance(wanted, bool):
        return [] if len(rejected) == int(wanted) else [f"rejected: expected {wanted} rows, got {len(rejected)}"]
    out = []
    by_row = {r["row"]: r for r in rejected}
    for item in wanted or []:
        row = int(item["row"])
        if row not in by_row:
            out.append(f"rejected: expected row {row} to be rejected")
        elif item.get("reason") and str(item["reason"]) not in by_row[row]["reason"]:
            out.append(f"rejected: row {row} reason expected to contain {item['reason']!r}, got {by_row[row]['reason']!r}")
    if len(rejected) != len(wanted or []):
        out.append(f"rejected: expected {len(wanted or [])} rows, got {len(rejected)}")
    return out
