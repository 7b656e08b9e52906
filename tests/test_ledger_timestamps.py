"""Ledger timestamps: only ISO 8601 date-times of the years 1 to 9999 are times; anything else is a rejected row.

DuckDB reads more than ISO 8601 as a timestamp (`infinity`, `epoch`,
`2024/11/03`, offsets such as `+25:00`, years past 9999): each such row is
rejected with its reason, in CSV, JSON lines and Parquet alike, and no row
is left neither billed nor rejected.
"""

from __future__ import annotations

import datetime
import json

import duckdb
import pytest

import hostile
from interpreter.engines.duckdb.engine import rate
from plan_helpers import compile_plan

PLAN = """
    plan: stamps
    currency: USD
    timezone: Asia/Seoul
    usage: {amount: money, day: {type: date, default: 2024-11-01}}
    metrics: {total: {sum: amount}, last_day: {max: day}}
    charges: {usage: {model: per_unit, on: total, unit_price: 1}}
"""

NOT_ISO, OUT_OF_RANGE, HOSTILE = hostile.NOT_ISO, hostile.OUT_OF_RANGE, hostile.TIMESTAMPS


def write(tmp_path, form: str, rows: list[dict]) -> str:
    """The rows as a CSV, JSON lines or (text column) Parquet ledger."""
    columns = ["event_id", "customer", "timestamp", "amount"]
    if form == "jsonl":
        path = tmp_path / "ledger.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        return str(path)
    import csv

    path = tmp_path / "ledger.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    if form == "csv":
        return str(path)
    parquet = tmp_path / "ledger.parquet"
    duckdb.execute(
        "COPY (SELECT * FROM read_csv($1, header = true, all_varchar = true)) TO '" + str(parquet) + "' (FORMAT parquet)", [str(path)]
    )
    return str(parquet)


@pytest.mark.parametrize("form", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("stamp, reason", HOSTILE)
def test_a_timestamp_that_is_not_a_time_is_a_rejected_row(tmp_path, form, stamp, reason):
    plan = compile_plan(PLAN)
    rows = [
        {"event_id": "ok", "customer": "acme", "timestamp": "2024-11-03T10:00:00", "amount": "5"},
        {"event_id": "odd", "customer": "acme", "timestamp": stamp, "amount": "7"},
    ]
    result = rate(plan, write(tmp_path, form, rows))
    assert [(r.row, r.event_id, r.reason) for r in result.rejected] == [(2, "odd", f"timestamp {stamp!r} {reason}")]
    (document,) = result.documents
    assert document.customer == "acme" and document.env[("metric", "total")] == 5


@pytest.mark.parametrize("stamp", ["infinity", "10000-01-01", "9999-12-31T23:00:00-05:00"])
def test_the_command_exits_3_and_prints_the_rejected_row(ratecard, tmp_path, stamp):
    """Alone in the ledger, the row still is a rejected row (exit 3), never an empty success or a traceback."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("\n    ", "\n"), encoding="utf-8")
    ledger = write(tmp_path, "csv", [{"event_id": "odd", "customer": "acme", "timestamp": stamp, "amount": "7"}])
    result = ratecard("rate", str(plan), "--usage", ledger, "--format", "json")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["rejected"] == [
        {
            "row": 1,
            "event_id": "odd",
            "reason": f"timestamp {stamp!r} {'is not an ISO 8601 date-time' if stamp == 'infinity' else OUT_OF_RANGE}",
        }
    ]


@pytest.mark.parametrize("stamp, day", [("9999-12-15T10:00:00", "9999-12-01"), ("0001-01-01T10:00:00Z", "0001-01-01")])
def test_the_first_and_last_years_are_rated(tmp_path, stamp, day):
    plan = compile_plan(PLAN)
    ledger = write(tmp_path, "csv", [{"event_id": "e", "customer": "acme", "timestamp": stamp, "amount": "7"}])
    result = rate(plan, ledger)
    assert result.rejected == []
    assert [d.period_start.isoformat() for d in result.documents] == [day]


@pytest.mark.parametrize(
    "column, value",
    [
        ("timestamp", "'infinity'::TIMESTAMPTZ"),
        ("timestamp", "'-infinity'::TIMESTAMPTZ"),
        ("timestamp", "'10000-06-01'::TIMESTAMPTZ"),
        ("timestamp", "'infinity'::TIMESTAMP"),
        ("timestamp", "'0001-01-01 (BC)'::TIMESTAMP"),
        ("timestamp", "'infinity'::DATE"),
        ("day", "'infinity'::DATE"),
        ("day", "'10000-01-01'::DATE"),
        ("day", "'0001-01-01 (BC)'::DATE"),
    ],
)
def test_typed_parquet_values_outside_the_years_1_to_9999_are_rejected_rows(tmp_path, column, value):
    plan = compile_plan(PLAN)
    path = tmp_path / "typed.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    stamp = value if column == "timestamp" else "'2024-11-03 10:00:00+09'::TIMESTAMPTZ"
    day = value if column == "day" else "'2024-11-05'::DATE"
    odd = f"('odd', 'acme', {stamp}, CAST(7 AS DECIMAL(18,2)), {day})"
    ok = "('ok', 'acme', '2024-11-03 10:00:00+09'::TIMESTAMPTZ, CAST(5 AS DECIMAL(18,2)), '2024-11-04'::DATE)"
    con.execute(
        f"COPY (SELECT * FROM (VALUES {ok}, {odd}) AS t(event_id, customer, \"timestamp\", amount, day)) TO '{path}' (FORMAT parquet)"
    )
    result = rate(plan, str(path))
    assert [(r.row, r.event_id, r.reason) for r in result.rejected] == [(2, "odd", f"{column} {OUT_OF_RANGE}")]
    (document,) = result.documents
    assert document.env[("metric", "total")] == 5 and document.env[("metric", "last_day")] == datetime.date(2024, 11, 4)


@pytest.mark.parametrize("day", ["0000-01-01", "10000-01-01"])
def test_a_date_field_outside_the_years_1_to_9999_is_a_rejected_row(tmp_path, day):
    plan = compile_plan(PLAN)
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(f"event_id,customer,timestamp,amount,day\nodd,acme,2024-11-03,7,{day}\n", encoding="utf-8")
    result = rate(plan, str(ledger))
    assert [(r.row, r.reason) for r in result.rejected] == [(1, f"day: {day!r} is not a date (YYYY-MM-DD)")]


def test_the_period_before_the_year_1_is_empty_for_plans_reading_the_previous_period(tmp_path):
    plan = compile_plan(PLAN.replace("charges: {usage:", "charges: {growth: {model: formula, amount: total - previous.total}, usage:"))
    ledger = write(tmp_path, "csv", [{"event_id": "e", "customer": "acme", "timestamp": "0001-01-01T10:00:00Z", "amount": "7"}])
    (document,) = rate(plan, ledger).documents
    assert document.period_start == datetime.date(1, 1, 1) and document.env[("previous", "total")] == 0
