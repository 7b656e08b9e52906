"""Ledger files that are broken or ambiguous: refused with a message naming the line, or rows rejected.

A ledger whose columns are ambiguous (a name given twice) or whose CSV
structure is broken (ragged rows, an unterminated quote, the wrong
delimiter, an empty file, bytes that are not UTF-8) is refused as a whole:
exit status 2 and a message with the line and what was expected. A JSON
line that is ambiguous on its own (a key given twice, an object where a
value belongs) is a rejected row, and the rest of the ledger is billed.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import parsed
from plan_helpers import compile_plan

PLAN = """
    plan: files
    currency: USD
    usage: {kind: {type: text, default: sale}, amount: money}
    metrics: {total: {sum: amount}}
    charges: {usage: {model: per_unit, on: total, unit_price: 1}}
"""
HEADER = "event_id,customer,timestamp,amount"


def rate_text(tmp_path, name: str, content: str | bytes, **options):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return rate(compile_plan(PLAN), str(path), **options)


# -- a column named twice --------------------------------------------------------


@pytest.mark.parametrize("header", [HEADER + ",amount", HEADER + ",Amount", "event_id,customer,timestamp,amount,kind,KIND"])
def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path, header):
    twice = header.rsplit(",", 1)[1]
    with pytest.raises(
        RateProblem,
        match=rf"ledger.csv:1: the header names the column '{twice.lower()}' twice "
        rf"\(columns \d and \d\); each column needs a name of its own",
    ):
        rate_text(tmp_path, "ledger.csv", f"{header}\ne1,acme,2024-11-03,5,7,x\n")


def test_a_parquet_file_naming_a_column_twice_is_refused(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    columns = [pyarrow.array(v) for v in (["e1"], ["acme"], ["2024-11-03"], ["5"], ["7"])]
    pq.write_table(
        pyarrow.Table.from_arrays(columns, names=["event_id", "customer", "timestamp", "amount", "amount"]), tmp_path / "ledger.parquet"
    )
    with pytest.raises(RateProblem, match="ledger.parquet: the file names the column 'amount' twice"):
        rate(compile_plan(PLAN), str(tmp_path / "ledger.parquet"))


def test_the_command_exits_2_on_a_column_named_twice(ratecard, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("\n    ", "\n"), encoding="utf-8")
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(f"{HEADER},amount\ne1,acme,2024-11-03,5,7\n", encoding="utf-8")
    result = ratecard("rate", str(plan), "--usage", str(ledger))
    assert result.exit_code == 2 and "names the column 'amount' twice" in result.output and "Traceback" not in result.output


# -- JSON lines: each line stands alone -------------------------------------------


def test_a_json_line_repeating_a_key_is_a_rejected_row_and_no_value_is_picked(tmp_path):
    lines = [
        '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}',
        '{"event_id": "b", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "amount": 500}',
        '{"event_id": "c", "event_id": "d", "customer": "acme", "timestamp": "2024-11-03", "amount": 7}',
        '{"event_id": "e", "customer": "acme", "timestamp": "2024-11-03", "amount": 9, "note": 1, "note": 2}',
    ]
    result = rate_text(tmp_path, "ledger.jsonl", "\n".join(lines) + "\n")
    assert [(r.row, r.event_id, r.reason) for r in result.rejected] == [
        (2, "b", "the key 'amount' appears twice in the row"),
        (3, None, "the key 'event_id' appears twice in the row"),
        (4, "e", "the key 'note' appears twice in the row"),
    ]
    assert result.documents[0].env[("metric", "total")] == 5


@pytest.mark.parametrize("value, what", [('{"v": 5}', "an object"), ("[5, 6]", "a list"), ("[]", "a list")])
def test_a_json_object_or_list_where_a_value_belongs_is_a_rejected_row(tmp_path, value, what):
    lines = [
        '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}',
        f'{{"event_id": "b", "customer": {value}, "timestamp": "2024-11-03", "amount": 5}}',
        f'{{"event_id": "c", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "kind": {value}}}',
    ]
    result = rate_text(tmp_path, "ledger.jsonl", "\n".join(lines) + "\n")
    assert [(r.row, r.reason) for r in result.rejected] == [
        (2, f"customer: {what} in JSON, where a single value belongs"),
        (3, f"kind: {what} in JSON, where a single value belongs"),
    ]
    assert [d.customer for d in result.documents] == ["acme"]


@pytest.mark.parametrize("flat", [True, False])  # a flat line is read by DuckDB, another by Python, until the escape is met
def test_a_json_string_holding_a_lone_surrogate_is_a_rejected_row(ratecard, tmp_path, flat):
    """UTF-8 cannot hold U+D800 to U+DFFF alone, so no engine can keep such a string as text."""
    tail = "" if flat else ', "note": [1]'
    lines = [
        '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}',
        '{"event_id": "b", "customer": "\\ud800", "timestamp": "2024-11-03", "amount": 5}',
        '{"event_id": "c", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "kind": "x\\udfffy"}',
        '{"event_id": "d\\udbff", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}',
        '{"event_id": "e", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "kind": "\\ud83d\\ude00 \\uffff"' + tail + "}",
    ]
    result = rate_text(tmp_path, "ledger.jsonl", "\n".join(lines) + "\n")
    assert [(r.row, r.event_id, r.reason) for r in result.rejected] == [
        (2, "b", "customer: invalid text: a lone surrogate \\ud800"),
        (3, "c", "kind: invalid text: a lone surrogate \\udfff"),
        (4, None, "event_id: invalid text: a lone surrogate \\udbff"),
    ]
    assert result.documents[0].env[("metric", "total")] == 10  # a surrogate pair and a noncharacter are text
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("\n    ", "\n"), encoding="utf-8")
    printed = ratecard("rate", plan, "--usage", tmp_path / "ledger.jsonl", "--format", "json")
    assert printed.exit_code == 3 and "Traceback" not in printed.output, printed.output
    assert [r["reason"] for r in json.loads(printed.stdout)["rejected"]][0] == "customer: invalid text: a lone surrogate \\ud800"


def test_deeply_nested_json_is_a_problem_of_the_line_not_a_traceback(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    content = (
        '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}\n'
        f'{{"event_id": "b", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "note": {deep}}}\n'
    )
    with pytest.raises(RateProblem, match=r"ledger.jsonl:2: line 2 is JSON nested too deeply to read"):
        rate_text(tmp_path, "ledger.jsonl", content)


def test_a_json_number_with_a_huge_exponent_is_rejected_at_once(tmp_path):
    """Written out, 1e999999999 would be a billion digits; it is refused as it stands."""
    content = (
        '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}\n'
        '{"event_id": "b", "customer": "acme", "timestamp": "2024-11-03", "amount": 1e999999999}\n'
        '{"event_id": "c", "customer": "acme", "timestamp": "2024-11-03", "amount": 1E-999999999}\n'
    )
    result = rate_text(tmp_path, "ledger.jsonl", content)
    assert [(r.row, r.reason) for r in result.rejected] == [
        (2, "amount: '1e999999999' is not a number (at most 10 decimal places)"),
        (3, "amount: '1E-999999999' is not a number (at most 10 decimal places)"),
    ]


# -- CSV structure -----------------------------------------------------------------

OK_ROW = "e1,acme,2024-11-03,5"


@pytest.mark.parametrize(
    "content, message",
    [
        (f"{HEADER}\n{OK_ROW}\ne2,acme,2024-11-03\n", "ledger.csv:3: line 3 has 3 fields where the header has 4"),
        (f"{HEADER}\n{OK_ROW}\ne2,acme,2024-11-03,5,9\n", "ledger.csv:3: line 3 has 5 fields where the header has 4"),
        (f"{HEADER}\n{OK_ROW}\n   \n{OK_ROW}\n", "ledger.csv:3: line 3 has 1 field where the header has 4"),
        (
            f'{HEADER}\n{OK_ROW}\ne2,"acme,2024-11-03,5\ne3,acme,2024-11-03,5\n',
            "ledger.csv:3: line 3 opens a quoted cell that is never closed",
        ),
        (f'{HEADER}\ne1,"ac"me,2024-11-03,5\n', "ledger.csv:2: line 2 has a quoted cell followed by more text"),
        (
            "event_id;customer;timestamp;amount\ne1;acme;2024-11-03;5\n",
            "ledger.csv:1: the header is one column 'event_id;customer;timestamp;amount'; "
            "a ledger's columns are separated by commas, not ';'",
        ),
        (
            "event_id\tcustomer\ttimestamp\tamount\ne1\tacme\t2024-11-03\t5\n",
            "ledger.csv:1: the header is one column 'event_id\\\\tcustomer\\\\ttimestamp\\\\tamount'; "
            "a ledger's columns are separated by commas, not tabs",
        ),
        ("", "ledger.csv: the file is empty; a CSV ledger starts with a header line naming its columns"),
        ("\n\n", "ledger.csv: the file is empty; a CSV ledger starts with a header line naming its columns"),
        (f"{HEADER}\n{OK_ROW}\n".encode() + b"e2,caf\xe9,2024-11-03,5\n", "ledger.csv:3: line 3 is not UTF-8 text"),
        (
            f"{HEADER}\n{OK_ROW}\n".encode() + b"\x00" * 40 + b"\n",
            "ledger.csv:3: line 3 has 1 field where the header has 4 "
            r"\(it holds NUL bytes: the file may be damaged\)",
        ),
        (f"event_id,cust\x00omer,timestamp,amount\n{OK_ROW}\n".encode(), "ledger.csv:1: line 1 holds a NUL byte"),
    ],
)
def test_csv_structure_problems_name_the_line_and_what_was_expected(tmp_path, content, message):
    with pytest.raises(RateProblem, match=message):
        rate_text(tmp_path, "ledger.csv", content)


def test_a_structure_problem_far_into_a_large_file_names_its_line(tmp_path):
    rows = "".join(f"e{i},c{i % 7},2024-11-03,{i}\n" for i in range(60_000))
    with pytest.raises(RateProblem, match="ledger.csv:60002: line 60002 has 5 fields where the header has 4"):
        rate_text(tmp_path, "ledger.csv", f"{HEADER}\n{rows}e,acme,2024-11-03,5,6\n")


@pytest.mark.parametrize("content", [f"{HEADER}\n", f"\ufeff{HEADER}\n{OK_ROW}\n", f"{HEADER}\r\n{OK_ROW}\r\n", f"{HEADER}\n{OK_ROW}"])
def test_well_formed_csv_variants_are_read(tmp_path, content):
    """A header alone is an empty ledger; a byte order mark, CRLF line ends and a missing last line end are fine."""
    result = rate_text(tmp_path, "ledger.csv", content)
    assert result.rejected == []
    assert [d.customer for d in result.documents] == ([] if content == f"{HEADER}\n" else ["acme"])


def test_the_command_prints_the_line_of_a_broken_csv_not_a_sniffing_error(ratecard, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("\n    ", "\n"), encoding="utf-8")
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(f"{HEADER}\n{OK_ROW}\ne2,acme\n", encoding="utf-8")
    for extra in ([], ["--customer", "acme"]):
        result = ratecard("rate", str(plan), "--usage", str(ledger), *extra)
        assert result.exit_code == 2, result.output
        assert "line 3 has 2 fields where the header has 4" in result.output and "sniffing" not in result.output


# -- what a row number is ------------------------------------------------------------


def test_a_row_is_a_data_row_in_csv_and_json_lines_alike(tmp_path):
    """Row N is the Nth row of data: the header and blank lines are not rows, a cell spanning lines is one row."""
    csv_text = f'{HEADER}\ne1,"ac\nme",2024-11-03,5\n\ne2,acme,2024-11-03,x\n'
    jsonl_text = (
        '{"event_id": "e1", "customer": "ac\\nme", "timestamp": "2024-11-03", "amount": 5}\n'
        "\n"
        '{"event_id": "e2", "customer": "acme", "timestamp": "2024-11-03", "amount": "x"}\n'
    )
    for name, content in (("ledger.csv", csv_text), ("ledger.jsonl", jsonl_text)):
        result = rate_text(tmp_path, name, content)
        assert [(r.row, r.event_id) for r in result.rejected] == [(2, "e2")], name
    con = duckdb.connect()
    parquet = tmp_path / "ledger.parquet"
    con.execute(
        f"COPY (SELECT * FROM read_json('{tmp_path / 'ledger.jsonl'}', format = 'newline_delimited', "
        "columns = {event_id: 'VARCHAR', customer: 'VARCHAR', timestamp: 'VARCHAR', amount: 'VARCHAR'})) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    assert [(r.row, r.event_id) for r in rate(compile_plan(PLAN), str(parquet)).rejected] == [(2, "e2")]


def test_the_rejects_file_and_json_output_use_the_same_row_numbers(ratecard, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("\n    ", "\n"), encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('\n{"event_id": "e1", "customer": "acme", "timestamp": "2024-11-03", "amount": "x"}\n', encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    result = ratecard("rate", str(plan), "--usage", str(ledger), "--format", "json", "--rejects", str(rejects))
    assert result.exit_code == 3
    assert json.loads(result.stdout)["rejected"][0]["row"] == 1
    assert rejects.read_text(encoding="utf-8").splitlines()[1].startswith("1,e1,")


@pytest.mark.parametrize("column, value", [("customer", "['acme', 'bolt']"), ("amount", "{'v': 5}"), ("kind", "MAP {'a': 1}")])
def test_a_parquet_column_of_lists_or_records_is_refused(tmp_path, column, value):
    """Read as text, `['acme', 'bolt']` would be one customer id; such a column is no ledger column."""
    values = {"event_id": "'e1'", "customer": "'acme'", "timestamp": "'2024-11-03'", "amount": "5", "kind": "'sale'", column: value}
    path = tmp_path / "ledger.parquet"
    duckdb.execute(f"COPY (SELECT {', '.join(f'{v} AS {k}' for k, v in values.items())}) TO '{path}' (FORMAT parquet)")
    with pytest.raises(
        RateProblem, match=f"ledger.parquet: the column '{column}' holds lists or records; a ledger column holds one value a row"
    ):
        rate(compile_plan(PLAN), str(path))


def test_a_billing_run_rejects_ambiguous_json_lines_as_rate_does(tmp_path):
    """`run` reads the ledger once for every plan: a JSON line's own problem is its rejected row there too."""
    from interpreter.run.job import billing_run

    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "files.yaml").write_text(PLAN.replace("\n    ", "\n"), encoding="utf-8")
    (tmp_path / "customers.csv").write_text("customer,plan\nacme,files\n", encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        "\n".join(
            [
                '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}',
                '{"event_id": "b", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "note": 1, "note": 2}',
                '{"event_id": "c", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "kind": {"v": 1}}',
                '{"event_id": "d", "customer": "nobody", "timestamp": "2024-11-03", "amount": 5, "kind": []}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    expected = [(r.row, r.event_id, r.reason) for r in rate_text(tmp_path, "ledger.jsonl", ledger.read_text()).rejected]
    result, broken = billing_run(str(plans), str(ledger), str(tmp_path / "customers.csv"))
    assert broken == []
    assert (
        [(r.row, r.event_id, r.reason) for r in result.rejected]
        == expected
        == [
            (2, "b", "the key 'note' appears twice in the row"),
            (3, "c", "kind: an object in JSON, where a single value belongs"),
            (4, "d", "kind: a list in JSON, where a single value belongs"),
        ]
    )
    assert [parsed(d)["lines"][0]["quantity"] for run in result.runs for d in run.documents] == ["5"]  # the metric total


def test_two_exports_joined_with_a_wider_header_are_refused_not_billed_from_the_second(tmp_path):
    """A guessed dialect took the wider second header for the header and dropped every row above it, exit 0."""
    content = f"{HEADER}\ne1,acme,2024-11-03,5\ne2,acme,2024-11-03,6\n{HEADER},region\ne3,acme,2024-11-04,7,eu\n"
    with pytest.raises(RateProblem, match="ledger.csv:4: line 4 has 5 fields where the header has 4"):
        rate_text(tmp_path, "ledger.csv", content)


def test_a_billing_run_names_the_line_of_a_broken_csv(tmp_path):
    from interpreter.run.job import billing_run

    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "files.yaml").write_text(PLAN.replace("\n    ", "\n"), encoding="utf-8")
    (tmp_path / "customers.csv").write_text("customer,plan\nacme,files\n", encoding="utf-8")
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(f"{HEADER}\n{OK_ROW}\ne2,acme,2024-11-03\n", encoding="utf-8")
    with pytest.raises(RateProblem, match="ledger.csv:3: line 3 has 3 fields where the header has 4"):
        billing_run(str(plans), str(ledger), str(tmp_path / "customers.csv"))
