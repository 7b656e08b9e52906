"""DuckDB's memory limit and spill folder: configurable, and a ledger past the limit is rated, not refused."""

from __future__ import annotations

import duckdb
import pytest

from interpreter.engines.duckdb.engine import connect, rate
from interpreter.output.render import document_lines
from plan_helpers import compile_plan

PLAN = """
    plan: memory
    currency: USD
    usage: {gb: number, region: text}
    metrics:
      gb: {sum: gb}
    charges:
      storage: {model: per_unit, on: gb, unit_price: 0.10}
"""


def test_the_memory_limit_and_spill_folder_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RATECARD_MEMORY_LIMIT", "64MB")
    monkeypatch.setenv("RATECARD_TEMP_DIRECTORY", str(tmp_path))
    limit, folder = (
        connect(compile_plan(PLAN)).execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    )
    assert limit == "61.0 MiB"  # 64,000,000 bytes
    assert folder.startswith(str(tmp_path / "ratecard-spill-"))


def test_by_default_duckdb_spills_outside_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RATECARD_TEMP_DIRECTORY", raising=False)
    (folder,) = connect(compile_plan(PLAN)).execute("SELECT current_setting('temp_directory')").fetchone()
    assert not folder.startswith((".tmp", str(tmp_path)))


def test_a_memory_limit_that_is_no_size_is_a_usage_problem(ratecard, tmp_path, monkeypatch):
    (tmp_path / "plan.yaml").write_text("plan: p\ncurrency: USD\ncharges: {base: {model: flat, amount: 1}}\n")
    (tmp_path / "l.csv").write_text("event_id,customer,timestamp\n1,a,2024-11-01T00:00:00Z\n")
    monkeypatch.setenv("RATECARD_MEMORY_LIMIT", "lots")
    result = ratecard("rate", tmp_path / "plan.yaml", "--usage", tmp_path / "l.csv", "--period", "2024-11")
    assert result.exit_code == 2
    assert "RATECARD_MEMORY_LIMIT='lots' is no memory size" in result.stderr


def test_a_ledger_past_the_memory_limit_spills_and_is_rated_alike(tmp_path, monkeypatch):
    # JSON lines are held in a table while read: some 100 MB of text here, past a 100 MB limit
    ledger = tmp_path / "l.jsonl"
    duckdb.connect().execute(f"""
        COPY (SELECT 'event-' || i || repeat('x', 200) AS event_id, 'c' || (i % 5000) AS customer,
                     strftime(TIMESTAMP '2024-11-01 00:00:00' + INTERVAL (i % 29) DAY, '%Y-%m-%dT%H:%M:%SZ') AS timestamp,
                     CAST(CAST(i % 1000 AS VARCHAR) || '.25' AS DECIMAL(9, 2)) AS gb, 'r' || (i % 7) AS region
              FROM range(300000) AS t(i)) TO '{ledger}' (FORMAT json)
    """)
    plan = compile_plan(PLAN)
    unlimited = document_lines(rate(plan, str(ledger), period="2024-11").documents)
    monkeypatch.setenv("RATECARD_MEMORY_LIMIT", "100MB")
    monkeypatch.setenv("RATECARD_TEMP_DIRECTORY", str(tmp_path))
    assert document_lines(rate(plan, str(ledger), period="2024-11").documents) == unlimited


@pytest.mark.parametrize("limit", ["2GB", "40%"])
def test_sizes_and_shares_of_memory_are_accepted(monkeypatch, limit):
    monkeypatch.setenv("RATECARD_MEMORY_LIMIT", limit)
    assert connect(compile_plan(PLAN)).execute("SELECT 1").fetchone() == (1,)
