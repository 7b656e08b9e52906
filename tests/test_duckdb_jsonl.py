"""JSON lines read by DuckDB: the same cells, reasons and messages as the Python reading, without it per row."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from interpreter.engines.duckdb import jsonl as duck_jsonl, ledger as duck_ledger
from interpreter.engines.duckdb.engine import rate
from interpreter.ledger import jsonl as ledger_jsonl
from interpreter.ledger.files import LedgerProblem
from plan_helpers import compile_plan

COLUMNS = ("event_id", "customer", "timestamp", "gb", "note")

# Lines Python and DuckDB could read apart: numbers as written, escapes, nested values, keys twice, blanks.
LINES = [
    '{"event_id":"e1","customer":"c","timestamp":"2024-11-01T00:00:00Z","gb":12.30}',
    '{"event_id": 5, "customer": "c\\u00e9", "gb": -0.000, "note": true}',
    '  {"event_id":"e\\"3","note":null,"gb":1e-5}',
    '{"event_id":"e4","gb":1E+3,"x":{"a":1}}',
    '{"event_id":"e5","note":[1,2]}',
    '{"event_id":"e6","note":"a","note":"b"}',
    '{"event_id":"e7","a\\u0062":1,"ab":2}',
    '{"event_id":"e8","gb":123456789012345678901234567890.123456789}',
    '{"event_id":"e9","note":"tab\\there \\\\ \\/ \\ud83d\\ude00 \\"gb\\":7"}',
    '{"event_id":"e11","note":"\\u0000x"}',
    '{"event_id" : "e12", "gb" : 3}',
    '{"note":"gb","gb":"7","customer":"2.5e3 \\",\\"gb\\":1"}',
    '{"event_id":"e14","note":"é ü 中","gb":"  "}',
    '{"event_id":"e15","gb":NaN}',
    "{}",
    "",
    " \t ",
]


def _cells(read, path: Path):
    con = duckdb.connect()
    try:
        table = read(con, path, COLUMNS)
    except LedgerProblem as problem:
        return f"refused: {problem}"
    return [(int(row), *cells) for row, *cells in con.execute(f"SELECT * FROM {table} ORDER BY CAST(__data_row AS BIGINT)").fetchall()]


@pytest.mark.parametrize("start", range(len(LINES)))
def test_every_line_gives_the_cells_of_the_python_reading(tmp_path, start):
    path = tmp_path / "l.jsonl"
    lines = list(itertools.islice(itertools.cycle(LINES), start, start + 7))
    path.write_text("\ufeff" * (start % 2) + "\n".join(lines) + "\n" * (start % 3), encoding="utf-8")
    assert _cells(duck_jsonl.jsonl_table, path) == _cells(duck_jsonl.python_table, path)


@pytest.mark.parametrize(
    "line",
    ['{"event_id":"a",}', "[1, 2]", '"text"', '{"a":1} {"b":2}', '{"a":"x\ty"}', '{"a":007}'],
)
def test_a_line_that_is_no_json_object_stops_the_reading_as_in_python(tmp_path, line):
    path = tmp_path / "l.jsonl"
    path.write_text(f"{LINES[0]}\n\n{line}\n{LINES[1]}\n", encoding="utf-8")
    found = _cells(duck_jsonl.jsonl_table, path)
    assert found.startswith(f"refused: {path}:3: ")
    assert found == _cells(duck_jsonl.python_table, path)


@pytest.mark.parametrize("content", [b'{"event_id":"a"}\r\n{"event_id":"b"}\r\n', b'{"event_id":"a"}\n{"event_id":"\xff"}\n'])
def test_files_duckdb_would_split_or_refuse_are_read_by_python(tmp_path, content):
    path = tmp_path / "l.jsonl"
    path.write_bytes(content)
    assert _cells(duck_jsonl.jsonl_table, path) == _cells(duck_jsonl.python_table, path)


def test_flat_lines_are_read_without_python_per_row(tmp_path, monkeypatch):
    def refuse(*_args):
        raise AssertionError("a flat line was read by Python")

    for module in (duck_jsonl, duck_ledger, ledger_jsonl):
        monkeypatch.setattr(module, "json_cells", refuse, raising=False)
    plan = compile_plan("""
        plan: exact
        currency: USD
        usage: {gb: number}
        metrics: {gb: {sum: gb}}
        charges:
          storage: {model: per_unit, on: gb, unit_price: 0.10}
    """)
    ledger = tmp_path / "l.jsonl"
    rows = [
        f'{{"event_id": "{i}", "customer": "c{i % 3}", "timestamp": "2024-11-0{1 + i % 9}T00:00:00Z", "gb": {i}.10}}' for i in range(30)
    ]
    ledger.write_text("\n".join(rows) + "\n")
    result = rate(plan, str(ledger), period="2024-11")
    assert result.rejected == []
    assert [d.env[("metric", "gb")] for d in result.documents] == [Decimal("136.00"), Decimal("146.00"), Decimal("156.00")]


@pytest.mark.parametrize(
    "first",
    ['{"a b": 1, "é.x": "2", "(x)": null}', '{"event_id": "e0", "gb": 1.50}', '{"gb": 1, "gb": 2}', "[1]", "{}", '{"a\\u0062": 1}'],
)
def test_lines_after_the_first_read_alike_whatever_keys_they_give(tmp_path, first):
    # the first line's keys make the pattern of a line read without counting its keys; it must not let through
    # a line giving a key twice, other keys or the same keys in another order
    lines = [
        first,
        '{"a b": 1, "é.x": "2", "(x)": null}',
        '{"(x)": "y", "a b": 2.50, "é.x": true}',
        '{"a b": 1, "a b": 2, "é.x": "2"}',
        '{"event_id": "e1", "gb": 12.30}',
        '{"gb": 7, "event_id": "e2", "gb": 8}',
        '{"event_id": "e3", "gb": 1.0, "event_id": "e4"}',
        "{}",
    ]
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = _cells(duck_jsonl.jsonl_table, path)
    assert found == _cells(duck_jsonl.python_table, path)


def test_rows_keep_the_order_of_the_file_read_on_every_thread(tmp_path):
    path = tmp_path / "l.jsonl"
    count = 300_000  # several parts of the file, read by several threads
    path.write_text("".join(f'{{"event_id":"e{i}","gb":{i}.10}}\n' + ("\n" if i % 99_991 == 0 else "") for i in range(count)))
    con = duckdb.connect(config={"threads": 4})
    table = duck_jsonl.jsonl_table(con, path, COLUMNS)
    rows, wrong = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE event_id <> 'e' || (__data_row - 1) OR gb <> (__data_row - 1) || '.10') FROM {table}"
    ).fetchone()
    assert (rows, wrong) == (count, 0)
