"""Random and hostile ledgers through `ratecard rate`, in every file format: never a traceback, never a lost row.

Rows carry odd timestamps, hostile strings in every column, malformed
numbers and repeated event ids; some files name a column twice (a JSON line
repeats a key). Whatever the ledger, the command exits 0, 2 or 3 without a
traceback, and when it rates, every data row is either counted in a
document or listed as rejected: nothing is silently dropped.

Each test runs a few seconds; RATECARD_FUZZ_EXAMPLES raises the number of
ledgers for a longer search.
"""

from __future__ import annotations

import csv
import json
import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import hostile

PLAN = """\
plan: hostile-ledgers
currency: USD
timezone: Asia/Seoul
usage:
  kind: {type: text, values: [sale, refund, "McDonald's"]}
  amount: money
  flag: {type: bool, default: false}
require:
  - {rule: amount >= 0 or kind == "refund", message: "a negative sale -- or 'worse'"}
metrics:
  rows: {count: true}
  total: {sum: amount, where: not flag}
charges:
  per_row: {model: per_unit, on: rows, unit_price: 1}
  usage: {model: per_unit, on: total, unit_price: 0.01}
"""
COLUMNS = ["event_id", "customer", "timestamp", "kind", "amount", "flag"]

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=10)
HOSTILE = st.sampled_from(hostile.STRINGS)
CELLS = {
    "event_id": st.one_of(st.sampled_from(["e1", "e2", "e3", " e1 ", ""]), HOSTILE, TEXT),
    "customer": st.one_of(st.sampled_from(["acme", "bolt", " acme", ""]), HOSTILE, TEXT),
    "timestamp": st.one_of(
        st.sampled_from(["2024-11-03T10:00:00", "2024-11-30T15:00:00Z", "2024-12-01", "2024-11-03 01:30:00+09:00", ""]),
        st.sampled_from([stamp for stamp, _ in hostile.TIMESTAMPS]),
        HOSTILE,
        TEXT,
    ),
    "kind": st.one_of(st.sampled_from(["sale", "refund", "McDonald's", "Sale", ""]), HOSTILE, TEXT),
    "amount": st.one_of(st.sampled_from(["5", "1_000", "12.50", "-3", " 7 ", "1e3", "NaN", "9" * 29, "0.12345678901", ""]), HOSTILE, TEXT),
    "flag": st.one_of(st.sampled_from(["true", "false", "1", "yes", ""]), HOSTILE, TEXT),
}
ROWS = st.lists(st.fixed_dictionaries(CELLS), min_size=1, max_size=8)
FUZZ = settings(
    max_examples=int(os.environ.get("RATECARD_FUZZ_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def write(folder, form: str, rows: list[dict[str, str]], repeated: str | None, blank_lines: bool) -> str:
    """The rows as a ledger; `repeated` names a column given twice (for JSON lines: a key repeated in the last line)."""
    header = COLUMNS + ([repeated] if repeated else [])
    table = [[row[c] for c in COLUMNS] + ([row[repeated.lower()]] if repeated else []) for row in rows]
    if form == "csv":
        path = folder / "ledger.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([header, *table])
    elif form == "jsonl":
        path = folder / "ledger.jsonl"
        lines = []
        for index, row in enumerate(rows):
            pairs = [f"{json.dumps(c)}: {json.dumps(row[c], ensure_ascii=False)}" for c in COLUMNS if row[c] != ""]
            if repeated and index == len(rows) - 1:
                pairs.append(f"{json.dumps(repeated)}: {json.dumps('x')}")
            lines.append("{" + ", ".join(pairs) + "}\n" + ("\n" if blank_lines else ""))
        path.write_text("".join(lines), encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = folder / "ledger.parquet"
        arrays = [pa.array([line[i] or None for line in table], pa.string()) for i in range(len(header))]
        pq.write_table(pa.Table.from_arrays(arrays, names=header), path)
    return str(path)


def check(ratecard, folder, form: str, rows: list[dict[str, str]], repeated: str | None, blank_lines: bool) -> int:
    """Rate the ledger on the command line, check what it printed; its exit status."""
    plan = folder / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    ledger = write(folder, form, rows, repeated, blank_lines)
    result = ratecard("rate", str(plan), "--usage", ledger, "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2, 3), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and ledger in result.stderr
        assert repeated and form != "jsonl", result.stderr  # only a column named twice refuses these files
        return result.exit_code
    output = json.loads(result.stdout)
    counted = sum(Decimal(line["quantity"]) for d in output["documents"] for line in d["lines"] if line["id"] == "per_row")
    rejected = [r["row"] for r in output["rejected"]]
    assert len(set(rejected)) == len(rejected) and all(1 <= row <= len(rows) for row in rejected)
    assert counted + len(rejected) == len(rows)  # every row counted or rejected, none both, none lost
    assert (result.exit_code == 3) == bool(rejected)
    return result.exit_code


@pytest.mark.parametrize("form", ["csv", "jsonl", "parquet"])
@FUZZ
@given(rows=ROWS, repeated=st.one_of(st.none(), st.sampled_from(["amount", "Customer", "kind"])), blank_lines=st.booleans())
def test_no_ledger_makes_a_traceback_or_loses_a_row(ratecard, tmp_path_factory, form, rows, repeated, blank_lines):
    if form == "parquet":
        pytest.importorskip("pyarrow")
    event(f"exit status {check(ratecard, tmp_path_factory.mktemp(form), form, rows, repeated, blank_lines)}")


@pytest.mark.parametrize("form", ["csv", "jsonl", "parquet"])
def test_every_hostile_string_and_timestamp_at_once(ratecard, tmp_path, form):
    """The fixed hostile set: each string in every column of its own row, each odd timestamp in a row of its own."""
    if form == "parquet":
        pytest.importorskip("pyarrow")
    rows = [{c: s for c in COLUMNS} for s in hostile.STRINGS]
    rows += [
        {"event_id": f"t{i}", "customer": "acme", "timestamp": stamp, "kind": "sale", "amount": "1", "flag": ""}
        for i, (stamp, _) in enumerate(hostile.TIMESTAMPS)
    ]
    rows.append({"event_id": "ok", "customer": "acme", "timestamp": "2024-11-03", "kind": "sale", "amount": "1", "flag": ""})
    assert check(ratecard, tmp_path, form, rows, None, False) == 3


# any code point: lone surrogates and noncharacters drawn often (`text()` and `characters()` leave surrogates out)
ESCAPED = st.lists(
    st.one_of(st.characters(), st.characters(categories=["Cs"]), st.sampled_from(["\ufffe", "\uffff", "\ufdd0", "\U0010ffff", "\x00"])),
    max_size=6,
).map("".join)


@FUZZ
@given(values=st.lists(st.tuples(st.sampled_from(["event_id", "customer", "kind", "amount"]), ESCAPED), min_size=1, max_size=6))
def test_json_escapes_of_any_code_point_are_read_or_rejected_with_the_reason(ratecard, tmp_path_factory, values):
    """Each line written with every character as a \\u escape: a lone surrogate makes its row rejected, saying so."""
    rows = [
        {"event_id": f"e{i}", "customer": "acme", "timestamp": "2024-11-03", "kind": "sale", "amount": "1", "flag": ""}
        for i in range(len(values))
    ]
    for row, (column, value) in zip(rows, values, strict=True):
        row[column] = value
    folder = tmp_path_factory.mktemp("escapes")
    (folder / "plan.yaml").write_text(PLAN, encoding="utf-8")
    ledger = folder / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(row, ensure_ascii=True) + "\n" for row in rows), encoding="ascii")
    result = ratecard("rate", folder / "plan.yaml", "--usage", ledger, "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 3) and "Traceback" not in result.output, result.output
    reasons = {r["row"]: r["reason"] for r in json.loads(result.stdout)["rejected"]}
    for number, (column, value) in enumerate(values, 1):
        lone = [c for c in json.loads(json.dumps(value)) if 0xD800 <= ord(c) <= 0xDFFF]  # a high and a low escape make a pair
        if lone:
            event("a lone surrogate")
            assert reasons[number] == f"{column}: invalid text: a lone surrogate \\u{ord(lone[0]):04x}"


SURROGATE_PLAN = PLAN.replace("  per_row:", '  "per\\ud800row":')


@pytest.mark.parametrize(
    "plan, customers, status, where",
    [
        (SURROGATE_PLAN, None, 1, "plan.yaml:14:3: error: invalid text: a lone surrogate \\ud800"),
        (PLAN, 'acme: {segment: "x\\udc00"}\n', 2, "customers.yaml:1:17: invalid text: a lone surrogate \\udc00"),
        (PLAN, '"\\udbff": {segment: x}\n', 2, "customers.yaml:1:1: invalid text: a lone surrogate \\udbff"),
    ],
)
def test_a_lone_surrogate_escape_in_a_plan_or_customers_file_is_an_error_at_its_place(ratecard, tmp_path, plan, customers, status, where):
    (tmp_path / "plan.yaml").write_text(plan, encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(json.dumps({"event_id": "e1", "customer": "acme", "timestamp": "2024-11-03", "kind": "sale", "amount": "1"}) + "\n")
    args = ["--customers", tmp_path / "customers.yaml"] if customers else []
    if customers:
        (tmp_path / "customers.yaml").write_text(customers, encoding="utf-8")
    for command in (["rate", tmp_path / "plan.yaml", "--usage", ledger, *args], ["check", tmp_path / "plan.yaml"]):
        result = ratecard(*command)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        if command[0] == "check" and customers:
            assert result.exit_code == 0, result.output
            continue
        assert result.exit_code == status and where in result.output, result.output
