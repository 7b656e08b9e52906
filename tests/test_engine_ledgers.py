"""Ledgers: file formats, time zones, periods, and exact decimal quantities."""

from __future__ import annotations

import csv
import datetime
import json
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import document_data, output_data
from plan_helpers import compile_plan

PLAN = textwrap.dedent("""
    plan: formats
    currency: USD
    timezone: Asia/Seoul
    usage:
      kind: {type: text, values: [charge, refund]}
      amount: money
      units: {type: integer, default: 1}
      test: {type: bool, default: false}
    metrics:
      charged: {sum: amount, where: kind == "charge" and not test}
      refunded: {sum: amount, where: kind == "refund" and not test}
      net: charged - refunded
      units: {sum: units, where: not test}
      events: {count: true}
    charges:
      volume_fee: {model: per_unit, on: net, unit_price: 0.015}
      seats: {model: graduated, on: units, tiers: [{up_to: 2, unit_price: 3.50}, {unit_price: 1.25}]}
    taxes:
      tax: {rate: 7.25%}
""")

COLUMNS = ["event_id", "customer", "timestamp", "kind", "amount", "units", "test"]
ROWS = [
    ["e1", "acme", "2024-10-31T15:30:00Z", "charge", "100.10", "", ""],  # Nov 1 00:30 in Seoul
    ["e2", "acme", "2024-11-15T12:00:00+09:00", "charge", "0.20", "2", "false"],
    ["e3", "acme", "2024-11-16T12:00:00", "refund", "0.10", "", ""],
    ["e4", "acme", "2024-11-17T12:00:00", "charge", "999.99", "3", "true"],
    ["e5", "bolt", "2024-11-02T00:00:00+09:00", "charge", "12.5", "4", ""],
    ["e6", "bolt", "2024-11-30T15:00:00Z", "charge", "7000", "", ""],  # Dec 1 00:00 in Seoul
    ["e7", "bolt", "2024-11-20T08:00:00Z", "charge", "abc", "", ""],  # rejected: bad amount
    ["e2", "bolt", "2024-11-21T08:00:00Z", "charge", "1.00", "", ""],  # rejected: duplicate event_id
    ["e8", "cora", "2024-10-31T14:59:59Z", "charge", "5.00", "", ""],  # Oct 31 23:59:59 in Seoul
]


def write_csv(path: Path, columns, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, columns, rows, numbers: tuple[str, ...] = ()) -> Path:
    """One JSON object a line; empty cells become null (or are left out); `numbers` as JSON numbers."""
    with path.open("w", encoding="utf-8") as handle:
        for index, row in enumerate(rows):
            record = {}
            for column, value in zip(columns, row, strict=True):
                if value == "":
                    if index % 2:
                        record[column] = None
                    continue
                record[column] = json.loads(value) if column in numbers and _is_number(value) else value
            handle.write(json.dumps(record) + "\n")
    return path


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def parquet_from_csv(csv_path: Path, path: Path) -> Path:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv_path}', header = true, all_varchar = true)) TO '{path}' (FORMAT parquet)")
    return path


def everything(plan, path: Path, **options) -> dict:
    result = rate(plan, str(path), **options)
    return output_data(result.documents, result.rejected)


def test_csv_jsonl_and_parquet_ledgers_give_identical_output(tmp_path):
    plan = compile_plan(PLAN)
    as_csv = write_csv(tmp_path / "l.csv", COLUMNS, ROWS)
    expected = everything(plan, as_csv, period="2024-11")
    assert [d["customer"] for d in expected["documents"]] == ["acme", "bolt"]
    assert [(r["row"], r["event_id"]) for r in expected["rejected"]] == [(7, "e7"), (8, "e2")]
    acme = expected["documents"][0]
    # 100.10 + 0.20 - 0.10 = 100.20 x 0.015 = 1.503; units 1 + 2 + 1 = 4 -> 2 x 3.50 + 2 x 1.25
    assert [(line["quantity"], line["amount"]) for line in acme["lines"]] == [("100.2", "1.50"), ("4", "9.50")]
    assert (acme["subtotal"], acme["taxes"][0]["amount"], acme["total"]) == ("11.00", "0.80", "11.80")

    as_text_jsonl = write_jsonl(tmp_path / "l.jsonl", COLUMNS, ROWS)
    as_number_jsonl = write_jsonl(tmp_path / "n.jsonl", COLUMNS, ROWS, numbers=("amount", "units"))
    as_parquet = parquet_from_csv(as_csv, tmp_path / "l.parquet")
    for path in (as_text_jsonl, as_number_jsonl, as_parquet):
        assert everything(plan, path, period="2024-11") == expected, path.name


def test_typed_parquet_columns_read_exactly(tmp_path):
    """DECIMAL, TIMESTAMPTZ, naive TIMESTAMP, BIGINT and BOOLEAN columns as DuckDB writes them."""
    plan = compile_plan(PLAN)
    rows = [r for r in ROWS if r[0] not in ("e7",) and r[1:3] != ["bolt", "2024-11-21T08:00:00Z"]]
    expected = everything(plan, write_csv(tmp_path / "ok.csv", COLUMNS, rows), period="2024-11")
    assert expected["rejected"] == []
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Seoul'")
    values = ", ".join(
        f"('{e}', '{c}', TIMESTAMPTZ '{ts}', '{k}', CAST('{a}' AS DECIMAL(18,2)), "
        f"{u or 'NULL'}::BIGINT, {('NULL' if t == '' else t)}::BOOLEAN)"
        for e, c, ts, k, a, u, t in rows
    )
    typed = tmp_path / "typed.parquet"
    con.execute(f"COPY (SELECT * FROM (VALUES {values}) AS t({', '.join(COLUMNS)})) TO '{typed}' (FORMAT parquet)")
    assert everything(plan, typed, period="2024-11") == expected
    # a naive TIMESTAMP column is local time of the plan, like a timestamp without an offset
    naive = tmp_path / "naive.parquet"
    con.execute(f"""COPY (SELECT * REPLACE (CAST(timezone('Asia/Seoul', "timestamp") AS TIMESTAMP) AS "timestamp")
                   FROM read_parquet('{typed}')) TO '{naive}' (FORMAT parquet)""")
    assert everything(plan, naive, period="2024-11") == expected


@pytest.mark.parametrize("column_type", ["BIGINT", "INTEGER", "DECIMAL(38,0)", "DECIMAL(18,2)", "DECIMAL(9,4)"])
def test_money_columns_are_summed_in_their_own_type_to_the_same_documents(tmp_path, column_type):
    """Integer and DECIMAL money columns are aggregated as they are (no cast to DECIMAL(38,10));
    sums past 2**63, products in `where`, percentage fees and extremes match the text reading."""
    plan = compile_plan("""
        plan: native
        currency: KRW
        usage:
          amount: money
          units: {type: integer, default: 1}
        metrics:
          gross: {sum: amount}
          big: {sum: amount, where: amount * units >= 2_000}
          biggest: {max: amount}
          smallest: {min: amount}
        charges:
          volume: {model: per_unit, on: gross, unit_price: 0.001}
          fees: {model: percentage, on: amount, rate: 2.9%, fixed_fee: 30, min_fee: 100, max_fee: 5_000}
    """)
    huge = "4611686018427387904" if column_type in ("BIGINT", "DECIMAL(38,0)") else "1000"  # 2**62, twice over
    amounts = [huge, huge, "999", "1000", "50000", "3"]
    rows = [[f"e{i}", "acme", "2024-11-02T00:00:00", amount, str(i + 1)] for i, amount in enumerate(amounts)]
    columns = ["event_id", "customer", "timestamp", "amount", "units"]
    expected = everything(plan, write_csv(tmp_path / "l.csv", columns, rows), period="2024-11")
    assert expected["rejected"] == [] and len(expected["documents"]) == 1
    values = ", ".join(f"('{e}', '{c}', '{ts}', CAST('{a}' AS {column_type}), {u}::BIGINT)" for e, c, ts, a, u in rows)
    typed = tmp_path / "typed.parquet"
    duckdb.connect().execute(f"COPY (SELECT * FROM (VALUES {values}) AS t({', '.join(columns)})) TO '{typed}' (FORMAT parquet)")
    assert everything(plan, typed, period="2024-11") == expected


PERCENT_OF_LARGE_PAYMENTS = """
    plan: large-fees
    currency: USD
    usage: {amount: money}
    metrics: {payments: {count: true}}
    charges:
      fees: {model: percentage, on: amount, rate: 2.12345678%, fixed_fee: 0.30, min_fee: 0.50, max_fee: 5_000_000}
"""


@pytest.mark.parametrize("column_type", ["DECIMAL(18,2)", "BIGINT", "DECIMAL(9,2)"])
def test_percentage_fees_past_the_columns_width_are_computed_exactly(tmp_path, column_type):
    """The fee of a 50,000,000 payment at 2.12345678% is 1,061,728.69: more integer digits than
    DECIMAL(18,2) x DECIMAL(12,10) keeps; compared with the fee limits, it must not overflow."""
    plan = compile_plan(PERCENT_OF_LARGE_PAYMENTS)
    amounts = {
        "DECIMAL(18,2)": ["50000000", "300000000", "10", "1"],
        "BIGINT": ["50000000", "5000000000", "10", "1"],
        "DECIMAL(9,2)": ["5000000", "9999999", "10", "1"],
    }[column_type]
    rows = [[f"e{i}", "acme", "2024-11-02T00:00:00", amount] for i, amount in enumerate(amounts)]
    columns = ["event_id", "customer", "timestamp", "amount"]
    expected = everything(plan, write_csv(tmp_path / "l.csv", columns, rows), period="2024-11")
    values = ", ".join(f"('{e}', '{c}', '{ts}', CAST('{a}' AS {column_type}))" for e, c, ts, a in rows)
    typed = tmp_path / "typed.parquet"
    duckdb.connect().execute(f"COPY (SELECT * FROM (VALUES {values}) AS t({', '.join(columns)})) TO '{typed}' (FORMAT parquet)")
    assert everything(plan, typed, period="2024-11") == expected
    (line,) = expected["documents"][0]["lines"]
    # 50M: 1,061,728.39 + 0.30; 300M (5,000M): capped at 5,000,000; 10: 0.512345678; 1: raised to 0.50
    # (DECIMAL(9,2): 5M: 106,173.139; 9,999,999: 212,345.9567654322)
    fees = {"DECIMAL(9,2)": "318520.11", "BIGINT": "6061729.70", "DECIMAL(18,2)": "6061729.70"}
    assert line["amount"] == fees[column_type]


def test_decimal_columns_with_more_than_ten_places_of_trailing_zeros_are_read(tmp_path):
    """A parquet DECIMAL(18,12) column prints 1.5 as 1.500000000000: the same number, not a bad one."""
    plan = compile_plan(PLAN)
    typed = tmp_path / "wide.parquet"
    duckdb.connect().execute(f"""
        COPY (SELECT * FROM (VALUES ('e1', 'acme', '2024-11-02T00:00:00', 'charge', CAST('1.5' AS DECIMAL(18,12))),
                                    ('e2', 'acme', '2024-11-02T00:00:00', 'charge', CAST('0.000000000001' AS DECIMAL(18,12))))
              AS t(event_id, customer, "timestamp", kind, amount)) TO '{typed}' (FORMAT parquet)
    """)
    result = rate(plan, str(typed))
    assert [(r.row, r.event_id) for r in result.rejected] == [(2, "e2")]  # 12 places that matter: refused
    assert result.documents[0].env[("metric", "charged")] == Decimal("1.5")
    ledger = write_csv(tmp_path / "l.csv", COLUMNS, [["e1", "acme", "2024-11-02T00:00:00", "charge", "2.2500000000000000", "", ""]])
    result = rate(plan, str(ledger))
    assert result.rejected == [] and result.documents[0].env[("metric", "charged")] == Decimal("2.25")


def test_whole_numbers_written_with_decimal_zeros_are_integers(tmp_path):
    """An integer field read from a DECIMAL or DOUBLE column prints as 5.00 or 2.0; it is still whole."""
    plan = compile_plan(PLAN)
    ledger = write_csv(
        tmp_path / "l.csv",
        COLUMNS,
        [
            ["e1", "acme", "2024-11-02T00:00:00", "charge", "1", "5.00", ""],
            ["e2", "acme", "2024-11-02T00:00:00", "charge", "1", "2.0", ""],
            ["e3", "acme", "2024-11-02T00:00:00", "charge", "1", "2.5", ""],
        ],
    )
    result = rate(plan, str(ledger))
    assert [(r.row, r.event_id) for r in result.rejected] == [(3, "e3")]
    units = result.documents[0].env[("metric", "units")]
    assert units == 7 and type(units) is Decimal


def test_csv_lines_starting_with_a_hash_are_rows_not_comments(tmp_path):
    """`#` has no meaning in CSV: a row whose event id starts with it counts, a value holding it is kept whole.

    A line that is not a row of the header's columns (here a `# exported` note)
    makes the ledger unreadable as a whole; it must never make rows vanish.
    """
    plan = compile_plan(
        PLAN.replace(
            "test: {type: bool, default: false}", "test: {type: bool, default: false}\n  note: {type: text, default: none}"
        ).replace("events: {count: true}", "events: {count: true}\n  notes: {unique: note}")
    )
    rows = textwrap.dedent("""\
        e1,acme,2024-11-02T00:00:00,charge,1,order #12
        #2,acme,2024-11-02T00:00:00,charge,2,order #13
        e3,acme,2024-11-02T00:00:00,charge,4,order #12
    """)
    ledger = tmp_path / "l.csv"
    ledger.write_text("event_id,customer,timestamp,kind,amount,note\n" + rows, encoding="utf-8")
    result = rate(plan, str(ledger))
    assert result.rejected == []
    env = result.documents[0].env
    assert (env[("metric", "charged")], env[("metric", "notes")]) == (Decimal(7), Decimal(2))
    ledger.write_text("event_id,customer,timestamp,kind,amount,note\n# exported 2024-12-01\n" + rows, encoding="utf-8")
    with pytest.raises(RateProblem):
        rate(plan, str(ledger))


def test_quoted_values_far_into_a_csv_ledger_are_read(tmp_path):
    """The first value that needs quotes may come after any sample a CSV reader guesses its dialect from."""
    plan = compile_plan(PLAN)
    rows = [[f"e{i}", "acme", "2024-11-02T00:00:00", "charge", "1", "", ""] for i in range(30_000)]
    rows.append(["q1", "acme, inc", "2024-11-02T00:00:00", "charge", "5", "", ""])
    ledger = write_csv(tmp_path / "l.csv", COLUMNS, rows)
    result = rate(plan, str(ledger), period="2024-11")
    assert result.rejected == []
    assert [(d.customer, d.env[("metric", "charged")]) for d in result.documents] == [("acme", 30_000), ("acme, inc", 5)]


def test_jsonl_numbers_are_not_read_through_a_float(tmp_path):
    plan = compile_plan("""
        plan: exact
        currency: USD
        usage: {gb: number}
        metrics: {gb: {sum: gb}}
        charges:
          storage: {model: per_unit, on: gb, unit_price: 100_000_000}
    """)
    ledger = tmp_path / "l.jsonl"
    # 1234567.1234567891 has 17 significant digits: a double reads it as ...7892
    ledger.write_text('{"event_id": "1", "customer": "a", "timestamp": "2024-11-01T00:00:00Z", "gb": 1234567.1234567891}\n')
    (doc,) = rate(plan, str(ledger)).documents
    assert doc.env[("metric", "gb")] == Decimal("1234567.1234567891")
    assert document_data(doc)["lines"][0]["amount"] == "123456712345678.91"


def test_jsonl_scalars_of_every_kind(tmp_path):
    plan = compile_plan(PLAN)
    ledger = tmp_path / "l.jsonl"
    ledger.write_text(
        "\n".join(
            [
                '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-01T00:00:00", "kind": "charge", "amount": 10, "units": 2, "test": false}',
                '{"event_id": "b", "customer": "acme", "timestamp": "2024-11-01T00:00:00", "kind": "charge", "amount": "0.50", "units": null, "test": null, "extra": [1, 2]}',
                '{"event_id": "c", "customer": "acme", "timestamp": "2024-11-01T00:00:00", "kind": "charge", "amount": 1000, "test": true}',
                '{"event_id": "d", "customer": "acme", "timestamp": "2024-11-01T00:00:00", "kind": "charge", "amount": true}',
            ]
        )
        + "\n"
    )
    result = rate(plan, str(ledger))
    assert [(r.row, r.event_id) for r in result.rejected] == [(4, "d")]
    (doc,) = result.documents
    assert (doc.env[("metric", "charged")], doc.env[("metric", "units")]) == (Decimal("10.50"), Decimal(3))


def test_jsonl_exponent_numbers_are_read_exactly_and_nan_is_rejected(tmp_path):
    plan = compile_plan(PLAN)
    ledger = tmp_path / "l.jsonl"
    ledger.write_text(
        "\n".join(
            [
                '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-01T00:00:00", "kind": "charge", "amount": 1e-2}',
                "",
                '{"event_id": "b", "customer": "acme", "timestamp": "2024-11-01T00:00:00", "kind": "charge", "amount": 2.5E+3}',
                '{"event_id": "c", "customer": "acme", "timestamp": "2024-11-01T00:00:00", "kind": "charge", "amount": NaN}',
            ]
        )
        + "\n"
    )
    result = rate(plan, str(ledger))
    assert [(r.row, r.event_id) for r in result.rejected] == [(3, "c")]  # the third row: a blank line is none
    assert result.documents[0].env[("metric", "charged")] == Decimal("2500.01")


# -- time zones ----------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp, month",
    [
        ("2024-10-31T15:30:00Z", "2024-11"),  # 00:30 on Nov 1 in Seoul
        ("2024-10-31T15:00:00+00:00", "2024-11"),  # exactly local midnight
        ("2024-10-31T14:59:59Z", "2024-10"),
        ("2024-11-01T00:00:00", "2024-11"),  # no offset: Seoul time
        ("2024-10-31T23:59:59", "2024-10"),
        ("2024-11-01 00:00:00", "2024-11"),
        ("2024-11-30T23:59:59.999+09:00", "2024-11"),
        ("2024-11-30T15:00:00Z", "2024-12"),
        ("2024-11-30T09:59:59-05:00", "2024-11"),  # 23:59:59 in Seoul
        ("2024-11-30T10:00:00-05:00", "2024-12"),
    ],
)
def test_event_falls_in_the_local_month_of_the_plan(tmp_path, timestamp, month):
    plan = compile_plan(PLAN)
    ledger = write_csv(tmp_path / "l.csv", COLUMNS, [["e1", "acme", timestamp, "charge", "1", "", ""]])
    result = rate(plan, str(ledger), period="2024-Q4")
    assert [document_data(d)["period"]["start"][:7] for d in result.documents] == [month]


def test_without_a_time_zone_the_plan_is_in_utc(tmp_path):
    plan = compile_plan(PLAN.replace("timezone: Asia/Seoul\n", ""))
    ledger = write_csv(
        tmp_path / "l.csv",
        COLUMNS,
        [
            ["e1", "a", "2024-10-31T23:30:00", "charge", "1", "", ""],
            ["e2", "b", "2024-10-31T23:30:00-01:00", "charge", "1", "", ""],
        ],
    )
    months = {d.customer: d.period_start.month for d in rate(plan, str(ledger)).documents}
    assert months == {"a": 10, "b": 11}


# -- periods -------------------------------------------------------------------


def test_period_forms(tmp_path):
    plan = compile_plan(PLAN)
    ledger = write_csv(
        tmp_path / "l.csv",
        COLUMNS,
        [
            ["e1", "acme", "2024-10-05T00:00:00", "charge", "1", "", ""],
            ["e2", "acme", "2024-11-05T00:00:00", "charge", "2", "", ""],
            ["e3", "acme", "2024-11-25T00:00:00", "charge", "4", "", ""],
            ["e4", "acme", "2025-01-05T00:00:00", "charge", "8", "", ""],
            ["e5", "acme", "2024-03-05T00:00:00", "charge", "16", "", ""],
        ],
    )

    def periods(period):
        docs = rate(plan, str(ledger), period=period).documents
        return [(str(d.period_start), str(d.period_end), str(d.env[("metric", "charged")].normalize())) for d in docs]

    november = [("2024-11-01", "2024-11-30", "6")]
    assert periods("2024-11") == november
    assert periods("2024-11-01..2024-11-30") == november
    assert periods("2024-Q4") == [("2024-10-01", "2024-10-31", "1"), *november]
    assert periods("2024-q4") == periods("2024-Q4")
    assert periods("2024") == [("2024-03-01", "2024-03-31", "16"), ("2024-10-01", "2024-10-31", "1"), *november]
    assert periods("2024-11-10..2024-11-30") == [("2024-11-10", "2024-11-30", "4")]
    assert periods("2024-10-20..2024-11-10") == [("2024-11-01", "2024-11-10", "2")]
    assert periods("2024-12") == []
    assert periods(None) == [
        ("2024-03-01", "2024-03-31", "16"),
        ("2024-10-01", "2024-10-31", "1"),
        *november,
        ("2025-01-01", "2025-01-31", "8"),
    ]


def test_a_quarterly_plan_bills_the_quarter(tmp_path):
    plan = compile_plan(PLAN.replace("currency: USD\n", "currency: USD\nperiod: quarter\n"))
    ledger = write_csv(
        tmp_path / "l.csv",
        COLUMNS,
        [
            ["e1", "acme", "2024-10-05T00:00:00", "charge", "1", "", ""],
            ["e2", "acme", "2024-12-31T23:59:59", "charge", "2", "", ""],
            ["e3", "acme", "2024-09-30T23:59:59", "charge", "4", "", ""],
        ],
    )
    docs = rate(plan, str(ledger), period="2024-Q4").documents
    assert [(str(d.period_start), str(d.period_end), d.env[("metric", "charged")]) for d in docs] == [
        ("2024-10-01", "2024-12-31", Decimal(3)),
    ]


@pytest.mark.parametrize("period", ["2024-13", "2024-Q5", "24", "2024-11-31..2024-12-01", "2024-11-30..2024-11-01", "november"])
def test_bad_period_is_a_problem_of_the_command(tmp_path, period):
    plan = compile_plan(PLAN)
    ledger = write_csv(tmp_path / "l.csv", COLUMNS, ROWS[:1])
    with pytest.raises(RateProblem):
        rate(plan, str(ledger), period=period)


# -- exact quantities ----------------------------------------------------------


def test_sums_of_two_decimal_quantities_are_exact(tmp_path):
    plan = compile_plan(PLAN)
    rows = [[f"t{i}", "acme", "2024-11-02T00:00:00", "charge", "0.1", "", ""] for i in range(10)]
    rows += [["u1", "acme", "2024-11-02T00:00:00", "charge", "0.2", "", ""]]
    rows += [[f"c{i}", "cent", "2024-11-02T00:00:00", "charge", "0.01", "", ""] for i in range(1000)]
    ledger = write_csv(tmp_path / "l.csv", COLUMNS, rows)
    docs = {d.customer: d for d in rate(plan, str(ledger)).documents}
    acme = docs["acme"].env[("metric", "net")]
    assert type(acme) is Decimal and acme == Decimal("1.2")  # 10 x 0.1 + 0.2, not 1.2000000000000002
    assert docs["cent"].env[("metric", "net")] == Decimal("10")
    assert document_data(docs["cent"])["lines"][0] == {
        "id": "volume_fee",
        "description": "volume_fee",
        "quantity": "10",
        "amount": "0.15",
    }


def test_amounts_written_with_underscores_and_signs(tmp_path):
    plan = compile_plan(PLAN)
    ledger = write_csv(
        tmp_path / "l.csv",
        COLUMNS,
        [
            ["e1", "acme", "2024-11-02T00:00:00", "charge", "100_000.50", "", ""],
            ["e2", "acme", "2024-11-02T00:00:00", "charge", "+1", "", ""],
            ["e3", "acme", "2024-11-02T00:00:00", "refund", " 0.50 ", "", ""],
            ["e4", "acme", "2024-11-02T00:00:00", "charge", "0.000_000_000_1", "", ""],
        ],
    )
    result = rate(plan, str(ledger))
    assert result.rejected == []
    assert result.documents[0].env[("metric", "net")] == Decimal("100001.0000000001")


@pytest.mark.parametrize(
    "amount",
    ["1,000", "1e3", "0x10", "12.5.0", "1__0", "_1", "1_", "1._5", "1.", ".5", "NaN", "Infinity", "0.12345678901", "0.123_456_789_01"],
)
def test_malformed_amounts_are_rejected_not_guessed(tmp_path, amount):
    plan = compile_plan(PLAN)
    ledger = write_csv(tmp_path / "l.csv", COLUMNS, [["e1", "acme", "2024-11-02T00:00:00", "charge", amount, "", ""]])
    result = rate(plan, str(ledger))
    assert [(r.row, r.event_id) for r in result.rejected] == [(1, "e1")]
    assert "amount" in result.rejected[0].reason
    assert result.documents == []


def test_missing_column_without_a_default_is_a_problem_of_the_command(tmp_path):
    plan = compile_plan(PLAN)
    ledger = write_csv(tmp_path / "l.csv", ["event_id", "customer", "timestamp", "kind"], [["e1", "a", "2024-11-01", "charge"]])
    with pytest.raises(RateProblem, match="amount"):
        rate(plan, str(ledger))


def test_missing_columns_with_defaults_take_the_default(tmp_path):
    plan = compile_plan(PLAN)
    ledger = write_csv(
        tmp_path / "l.csv", ["event_id", "customer", "timestamp", "kind", "amount"], [["e1", "a", "2024-11-01", "charge", "3"]]
    )
    (doc,) = rate(plan, str(ledger)).documents
    assert (doc.env[("metric", "units")], doc.env[("metric", "charged")]) == (Decimal(1), Decimal(3))


@pytest.mark.parametrize(
    "name, content",
    [
        ("missing.csv", None),
        ("ledger.txt", "event_id,customer,timestamp\n"),
        ("broken.parquet", "not parquet"),
        ("broken.jsonl", '{"event_id": "1", "customer": \n'),
    ],
)
def test_unreadable_ledgers_are_problems_of_the_command(tmp_path, name, content):
    plan = compile_plan(PLAN)
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(RateProblem):
        rate(plan, str(tmp_path / name))


def test_no_float_on_the_path_from_file_to_document(tmp_path):
    """No float literal or float() in the engine's code, and no DOUBLE column in what stage 1 reads or returns."""
    import ast

    import interpreter
    from interpreter.engines.duckdb import ledger as duck_ledger
    from interpreter.engines.duckdb.engine import connect
    from interpreter.ledger.aggregate import aggregate_sql
    from interpreter.periods import split

    root = Path(interpreter.__file__).parent
    for module in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), f"{module.name}:{node.lineno}"
            assert not (isinstance(node, ast.Name) and node.id == "float"), f"{module.name}:{node.lineno}"
    plan = compile_plan(PLAN)
    con = connect(plan)
    duck_ledger.load(con, str(write_csv(tmp_path / "l.csv", COLUMNS, ROWS)), plan)
    types = {name: kind for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM events").fetchall()}
    assert types["amount"].startswith("DECIMAL") and types["units"].startswith("DECIMAL")
    periods = split("month", datetime.date(2024, 11, 1), datetime.date(2024, 11, 30))
    result = con.execute(f"DESCRIBE {aggregate_sql(plan, periods)}").fetchall()
    assert not [name for name, kind, *_ in result if kind in ("DOUBLE", "FLOAT", "REAL")]


# -- numbers past what DECIMAL(38) holds ----------------------------------------------

OVERFLOW_PLAN = """
    plan: big
    currency: USD
    usage: {amount: money, record: {type: integer, default: 0}, quota: {type: integer, default: 0},
            share: {type: percent, default: 0%}}
    metrics: {total: {sum: amount}, shares: {sum: share}}
    charges: {usage: {model: per_unit, on: total, unit_price: 1}}
"""
VERSIONED = (
    OVERFLOW_PLAN.replace("plan: big", "plan: big\n    effective: 2024-01-01")
    + "    ---"
    + (OVERFLOW_PLAN.replace("plan: big", "plan: big\n    effective: 2024-11-15"))
)
QUOTA = OVERFLOW_PLAN + "    quota: {usage: record, limit: quota}\n"


@pytest.mark.parametrize(
    "text, options",
    [
        (OVERFLOW_PLAN, {}),
        (OVERFLOW_PLAN, {"customer": "acme"}),
        (OVERFLOW_PLAN, {"as_of": "2024-11-20"}),
        (QUOTA, {}),
        (VERSIONED, {}),
    ],
    ids=["whole ledger", "one customer", "estimate", "quota", "versions"],
)
def test_a_sum_past_38_digits_is_a_problem_of_the_command_on_every_path(tmp_path, text, options):
    from dsl.loader import load_plan_text

    loaded = load_plan_text("plan.yaml", textwrap.dedent(text))
    assert loaded.plan is not None, [d.message for d in loaded.diagnostics]
    huge = "9" * 28
    ledger = write_csv(
        tmp_path / "l.csv",
        ["event_id", "customer", "timestamp", "amount"],
        [["e1", "acme", "2024-11-03", huge], ["e2", "acme", "2024-11-04", huge]],
    )
    with pytest.raises(RateProblem, match=r"l\.csv: a sum or product of the ledger's values has more than 38 digits"):
        rate(loaded.versions or loaded.plan, str(ledger), period="2024-11", **options)


def test_explain_on_an_overflowing_sum_exits_2_with_the_message(ratecard, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent(OVERFLOW_PLAN), encoding="utf-8")
    ledger = write_csv(
        tmp_path / "l.csv",
        ["event_id", "customer", "timestamp", "amount"],
        [["e1", "acme", "2024-11-03", "9" * 28], ["e2", "acme", "2024-11-04", "9" * 28]],
    )
    for command in (
        ["explain", str(plan), "--usage", str(ledger), "--customer", "acme", "--period", "2024-11"],
        ["rate", str(plan), "--usage", str(ledger), "--customer", "acme"],
    ):
        result = ratecard(*command)
        assert result.exit_code == 2, result.output
        assert "more than 38 digits" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "column, value, reason",
    [
        ("amount", "1" + "0" * 28, "amount: '1" + "0" * 28 + "' has more than 28 digits before the decimal point"),
        ("record", "1" + "0" * 38, "record: '1" + "0" * 38 + "' has more than 38 digits"),
        ("share", "1" + "0" * 28 + "%", "share: '1" + "0" * 28 + "%' has more than 28 digits before the decimal point"),
    ],
)
def test_a_value_too_large_to_hold_is_a_rejected_row_saying_so(tmp_path, column, value, reason):
    plan = compile_plan(OVERFLOW_PLAN)
    row = {"event_id": "e1", "customer": "acme", "timestamp": "2024-11-03", "amount": "1", "record": "0", "share": "1%", column: value}
    ledger = write_csv(tmp_path / "l.csv", list(row), [list(row.values())])
    assert [r.reason for r in rate(plan, str(ledger)).rejected] == [reason]


def test_the_quota_sums_whole_numbers_exactly_past_28_digits(tmp_path):
    """Python's default decimal context keeps 28 digits; the quota's running sums keep every digit."""
    plan = compile_plan(QUOTA)
    big = "1" + "0" * 30
    ledger = write_csv(
        tmp_path / "l.csv",
        ["event_id", "customer", "timestamp", "amount", "record", "quota"],
        [
            ["q", "acme", "2024-11-01", "0", "0", big],
            ["r1", "acme", "2024-11-02", "0", big, "0"],
            ["r2", "acme", "2024-11-03", "0", "1", "0"],  # one past the quota
        ],
    )
    assert [(r.event_id, r.reason.split(" (")[0]) for r in rate(plan, str(ledger)).rejected] == [("r2", "usage above the quota")]


def test_a_typed_parquet_value_too_large_for_the_plan_s_type_is_a_rejected_row(tmp_path):
    """A DECIMAL(38,0) percent past what DECIMAL(38,10) holds: rejected, not a failed cast of the whole ledger."""
    plan = compile_plan(OVERFLOW_PLAN)
    path = tmp_path / "typed.parquet"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * FROM (VALUES
        ('ok', 'acme', '2024-11-03', 5, CAST(1 AS DECIMAL(38,0))),
        ('share', 'acme', '2024-11-03', 5, CAST('1{"0" * 30}' AS DECIMAL(38,0)))
    ) AS t(event_id, customer, "timestamp", amount, share)) TO '{path}' (FORMAT parquet)""")
    result = rate(plan, str(path))
    assert [(r.event_id, r.reason) for r in result.rejected] == [("share", "share has more than 28 digits before the decimal point")]
    assert result.documents[0].env[("metric", "total")] == 5
