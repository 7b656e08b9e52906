"""How `ratecard run` reads its ledger (interpreter/run/shares.py), in CSV and Parquet alike.

The same rows, written as CSV and as Parquet, must give the same documents and
the same rejected rows: a repeated event id is a duplicate whichever plan each
of its rows goes to (the first row counts), a blank id is missing rather than
repeated, and rows of a customer without a plan are rejected with their row
numbers. A problem with the customers file or the ledger is told as such, and a
CSV ledger is held as a table of its cells, nothing beside them.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import connect
from interpreter.output.render import parsed
from interpreter.run import shares
from interpreter.run.job import billing_run
from plan_helpers import compile_plan

METERED = (
    "currency: USD\nusage: {amount: money}\nmetrics: {total: {sum: amount}}\ncharges: {fee: {model: per_unit, on: total, unit_price: 1}}\n"
)
COLUMNS = ["event_id", "customer", "timestamp", "amount"]
ROWS = [
    ("e1", "x", "2024-11-02T00:00:00Z", "10"),  # 1
    ("e2", "y", "2024-11-02T00:00:00Z", "20"),  # 2
    ("e1", "y", "2024-11-03T00:00:00Z", "30"),  # 3: e1 again, under the other plan
    ("", "x", "2024-11-03T00:00:00Z", "40"),  # 4: no id
    ("  ", "y", "2024-11-03T00:00:00Z", "50"),  # 5: no id either, not a repeat of row 4
    ("w1", "walk-in", "2024-11-04T00:00:00Z", "60"),  # 6: a customer without a plan
    ("e2 ", "x", "2024-11-04T00:00:00Z", "70"),  # 7: e2 once trimmed, under the other plan
    ("w1", "x", "2024-11-05T00:00:00Z", "80"),  # 8: repeats row 6, which no plan rates
    ("e3", " y ", "2024-11-05T00:00:00Z", "5"),  # 9: y once trimmed
]


def workspace(tmp_path: Path, kind: str, rows=ROWS) -> dict:
    """Plans a (customer x) and b (customer y), and the ledger of `rows` as a `kind` file."""
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "a.yaml").write_text("plan: a\n" + METERED)
    (plans / "b.yaml").write_text("plan: b\n" + METERED)
    (tmp_path / "customers.csv").write_text("customer,plan\nx,a\ny,b\n")
    text = tmp_path / "usage.csv"
    with open(text, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([COLUMNS, *rows])
    ledger = tmp_path / f"usage.{kind}"
    if kind == "parquet":  # the cells as text, as the CSV file holds them
        duckdb.connect().execute(
            f"COPY (SELECT * FROM read_csv('{text}', header = true, all_varchar = true)) TO '{ledger}' (FORMAT parquet)"
        )
    return {"plans": str(plans), "usage": str(ledger), "customers": str(tmp_path / "customers.csv")}


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_duplicates_and_rows_outside_every_plan_are_judged_over_the_whole_ledger(tmp_path, kind):
    files = workspace(tmp_path, kind)
    result, broken = billing_run(files["plans"], files["usage"], files["customers"], period="2024-11")
    assert broken == []
    by_plan = {run.plan.id: [(r.row, r.event_id, r.reason) for r in run.rejected] for run in result.runs}
    assert by_plan == {
        "a": [
            (4, None, "missing event_id"),
            (7, "e2 ", "duplicate event_id (first seen at row 2)"),
            (8, "w1", "duplicate event_id (first seen at row 6)"),  # its first row is no plan's
        ],
        "b": [(3, "e1", "duplicate event_id (first seen at row 1)"), (5, "", "missing event_id")],
    }
    assert [(r.row, r.event_id, r.reason) for r in result.unassigned] == [(6, "w1", "customer 'walk-in' has no plan in customers.csv")]
    totals = {d["customer"]: Decimal(d["total"]) for run in result.runs for d in map(parsed, run.documents)}
    assert totals == {"x": 10, "y": 25}  # x: row 1; y: rows 2 and 9


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_ledger_without_repeats_or_strangers_is_rated_whole(tmp_path, kind):
    clean = [row for number, row in enumerate(ROWS, 1) if number in (1, 2, 9)]
    files = workspace(tmp_path, kind, clean)
    result, _ = billing_run(files["plans"], files["usage"], files["customers"], period="2024-11")
    assert result.rejected == []
    totals = {d["customer"]: Decimal(d["total"]) for run in result.runs for d in map(parsed, run.documents)}
    assert totals == {"x": 10, "y": 25}


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_broken_customers_file_is_told_whatever_the_ledger(tmp_path, kind):
    files = workspace(tmp_path, kind)
    Path(files["customers"]).write_text("customer,plan\nx,a\nx,b\n")
    with pytest.raises(RateProblem, match="customers.csv"):
        billing_run(files["plans"], files["usage"], files["customers"], period="2024-11")


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_ledger_without_a_timestamp_column_says_so(tmp_path, kind):
    files = workspace(tmp_path, kind)
    ledger = tmp_path / f"short.{kind}"
    duckdb.connect().execute(f"COPY (SELECT event_id, customer, amount FROM '{files['usage']}') TO '{ledger}'")
    with pytest.raises(RateProblem, match="ledger has no 'timestamp' column"):
        billing_run(files["plans"], str(ledger), files["customers"], period="2024-11")


def test_a_file_that_is_no_parquet_is_told_unreadable(tmp_path):
    files = workspace(tmp_path, "parquet")
    Path(files["usage"]).write_text("event_id,customer\n")
    with pytest.raises(RateProblem, match="usage.parquet"):
        billing_run(files["plans"], files["usage"], files["customers"], period="2024-11")


def test_a_csv_ledger_is_held_as_its_cells_only(tmp_path):
    """Row numbers come from the table's own row ids and only JSON lines have unreadable lines: no column of
    NULLs is stored beside the cells (a tenth of a large ledger's table)."""
    files = workspace(tmp_path, "csv")
    plan = compile_plan("plan: a\n" + METERED)
    con = connect(plan)
    read = shares.reading(con, files["usage"], [plan])
    assert [row[0] for row in con.execute("DESCRIBE run_cells").fetchall()] == COLUMNS
    assert con.execute(f"SELECT __row, customer, __problem FROM ({read.source}) AS r ORDER BY __row").fetchall() == [
        (n, customer, None) for n, (_id, customer, *_rest) in enumerate(ROWS, 1)
    ]
