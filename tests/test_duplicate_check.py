"""The duplicate check of a ledger rated before it is checked: no repeated event slips through it.

When one plan rates a whole ledger, the ledger is rated first and its event
ids checked beside (`duckdb.engine`); only when an id may repeat is it rated
again the exact way. Whatever shortcut that check takes, an id repeated
under another customer, in another period, or padded with spaces must still
send the ledger the exact way, on CSV and Parquet alike, priced in SQL or by
the interpreter; a blank id is no duplicate.
"""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from interpreter.engines.duckdb import engine as duck_engine
from plan_helpers import compile_plan

PLAN = textwrap.dedent("""
    plan: dupes
    currency: USD
    period: month
    usage:
      amount: money
    metrics:
      gross: {sum: amount}
    charges:
      fee: {model: per_unit, on: gross, unit_price: 1}
""")

# (event_id, customer, timestamp, amount): the later row of each pair repeats the earlier one's event
LEDGERS = {
    "another customer": [
        ("d1", "acme", "2024-11-02T00:00:00", "1"),
        ("d2", "acme", "2024-11-03T00:00:00", "2"),
        ("d1", "bolt", "2024-11-04T00:00:00", "4"),
    ],
    "another period": [
        ("d1", "acme", "2024-10-02T00:00:00", "1"),
        ("d2", "acme", "2024-11-03T00:00:00", "2"),
        ("d1", "acme", "2024-11-04T00:00:00", "4"),
    ],
    "padded before": [
        ("d1", "acme", "2024-11-02T00:00:00", "1"),
        ("d2", "acme", "2024-11-03T00:00:00", "2"),
        ("  d1", "bolt", "2024-11-04T00:00:00", "4"),
    ],
    "padded after": [
        ("d1 ", "acme", "2024-11-02T00:00:00", "1"),
        ("d2", "acme", "2024-11-03T00:00:00", "2"),
        ("d1", "acme", "2024-11-04T00:00:00", "4"),
    ],
}


def write(rows: list[tuple[str, ...]], path: Path) -> Path:
    """The ledger as CSV or Parquet (text columns), ids kept with their spaces."""
    con = duckdb.connect()
    values = ", ".join("(" + ", ".join("'" + cell + "'" for cell in row) + ")" for row in rows)
    relation = f'(SELECT * FROM (VALUES {values}) AS t(event_id, customer, "timestamp", amount))'
    options = "FORMAT parquet" if path.suffix == ".parquet" else "HEADER, DELIMITER ',', FORCE_QUOTE *"
    con.execute(f"COPY {relation} TO '{path}' ({options})")
    return path


@pytest.mark.parametrize("lines", [False, True], ids=["interpreter", "sql"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("case", list(LEDGERS))
def test_a_repeated_event_id_is_found_by_the_check_beside_the_rating(tmp_path, case, suffix, lines):
    usage = write(LEDGERS[case], tmp_path / f"ledger{suffix}")
    result = duck_engine.rate(compile_plan(PLAN), str(usage), lines=lines)
    assert [(r.row, r.reason) for r in result.rejected] == [(3, "duplicate event_id (first seen at row 1)")]
    totals = [Decimal(json.loads(line)["total"]) for line in result.documents] if lines else [d.total for d in result.documents]
    assert totals == ([Decimal(1), Decimal(2)] if case == "another period" else [Decimal(3)])  # the repeated row counts nowhere


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_blank_ids_are_missing_not_duplicates_of_each_other(tmp_path, suffix):
    rows = [
        ("", "acme", "2024-11-02T00:00:00", "1"),
        ("   ", "acme", "2024-11-03T00:00:00", "2"),
        ("d1", "acme", "2024-11-04T00:00:00", "4"),
    ]
    result = duck_engine.rate(compile_plan(PLAN), str(write(rows, tmp_path / f"ledger{suffix}")), lines=True)
    assert [(r.row, r.reason) for r in result.rejected] == [(1, "missing event_id"), (2, "missing event_id")]
