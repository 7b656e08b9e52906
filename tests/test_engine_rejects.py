"""Rejected ledger rows: every reason, reported with row and event id, counted nowhere."""

from __future__ import annotations

import csv
import io
import textwrap
from decimal import Decimal

import pytest

from interpreter.output.render import document_data
from plan_helpers import compile_plan, rate_csv

PLAN = textwrap.dedent("""
    plan: rejects
    currency: KRW
    timezone: Asia/Seoul
    usage:
      kind: {type: text, values: [approval, cancel]}
      amount: money
      seats: {type: integer, default: 0}
      test: {type: bool, default: false}
      day: {type: date, default: 2024-11-01}
      rate: {type: percent, default: 0%}
    require:
      - {rule: amount >= 0, message: amount must not be negative}
      - {rule: kind != "cancel" or amount <= 1_000_000, message: "cancellations above 1,000,000 need approval"}
    metrics:
      rows: {count: true}
      gross: {sum: amount, where: kind == "approval"}
      kinds: {unique: kind}
      biggest: {max: amount}
      seat_level: {time_weighted: seats}
    charges:
      fee:
        model: percentage
        on: amount
        rate: 1%
        min_fee: 10
""")


def is_ratio(value, numerator: int, denominator: int) -> bool:
    """`value` is numerator/denominator, exact to the engine's 40 digits (1/3 cannot be exact)."""
    return type(value) is Decimal and abs(value * denominator - numerator) < Decimal("1e-30")


HEADER = "event_id,customer,timestamp,kind,amount,seats,test,day,rate"


@pytest.mark.parametrize(
    "row, words",
    [
        ("x1,acme,2024-11-03T00:00:00,approval,12x,,,,", ["amount", "12x"]),
        ("x1,acme,2024-11-03T00:00:00,approval,100,1.5,,,", ["seats", "1.5"]),
        ("x1,acme,2024-11-03T00:00:00,approval,100,,yes,,", ["test", "yes"]),
        ("x1,acme,2024-11-03T00:00:00,approval,100,,,2024-02-30,", ["day", "2024-02-30"]),
        ("x1,acme,2024-11-03T00:00:00,approval,100,,,11/03/2024,", ["day"]),
        ("x1,acme,2024-11-03T00:00:00,approval,100,,,,ten", ["rate", "ten"]),
        ("x1,acme,2024-11-03T00:00:00,approve,100,,,,", ["kind", "approve"]),
        ("x1,acme,2024-11-03T00:00:00,,100,,,,", ["missing", "kind"]),
        ("x1,acme,2024-11-03T00:00:00,approval,,,,,", ["missing", "amount"]),
        (",acme,2024-11-03T00:00:00,approval,100,,,,", ["missing", "event_id"]),
        ("x1,,2024-11-03T00:00:00,approval,100,,,,", ["missing", "customer"]),
        ("x1,acme,,approval,100,,,,", ["missing", "timestamp"]),
        ("x1,acme,2024-11-31T00:00:00,approval,100,,,,", ["timestamp", "2024-11-31"]),
        ("x1,acme,yesterday,approval,100,,,,", ["timestamp", "yesterday"]),
        ("x1,acme,2024-11-03T00:00:00,approval,-1,,,,", ["amount must not be negative"]),
        ("x1,acme,2024-11-03T00:00:00,cancel,1000001,,,,", ["cancellations above 1,000,000 need approval"]),
    ],
)
def test_each_reason_rejects_the_row_and_it_counts_nowhere(tmp_path, row, words):
    plan = compile_plan(PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        f"""
        {HEADER}
        ok1,acme,2024-11-02T00:00:00,approval,5000,1,,,
        {row}
        ok2,acme,2024-11-04T00:00:00,cancel,1000000,,,,
    """,
        period="2024-11",
    )
    (rejected,) = result.rejected
    event_id = row.split(",")[0] or None
    assert (rejected.row, rejected.event_id) == (2, event_id)
    for word in words:
        assert word in rejected.reason
    (doc,) = result.documents
    env = doc.env
    assert env[("metric", "rows")] == 2
    assert env[("metric", "gross")] == Decimal(5000)
    assert env[("metric", "kinds")] == 2
    assert env[("metric", "biggest")] == Decimal(1_000_000)
    assert is_ratio(env[("metric", "seat_level")], 29, 30)
    # fees: 5,000 x 1% = 50; 1,000,000 x 1% = 10,000
    assert document_data(doc)["lines"][0]["amount"] == "10050"


def test_empty_cells_take_the_default(tmp_path):
    plan = compile_plan(PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        f"""
        {HEADER}
        a,acme,2024-11-02T00:00:00,approval,100,,,,
        b,acme,2024-11-02T00:00:00,approval,100,  ,  ,  ,
        c,acme,2024-11-02T00:00:00,approval,100,2,true,2024-11-20,5%
    """,
    )
    assert result.rejected == []
    (doc,) = result.documents
    assert doc.env[("metric", "rows")] == 3
    assert is_ratio(doc.env[("metric", "seat_level")], 2 * 29, 30)


def test_duplicate_event_id_rejects_the_later_row_only(tmp_path):
    plan = compile_plan(PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        f"""
        {HEADER}
        d1,acme,2024-11-02T00:00:00,approval,100,,,,
        d2,acme,2024-11-02T00:00:00,approval,200,,,,
        d1,acme,2024-11-01T00:00:00,approval,400,,,,
        d1,bolt,2024-11-03T00:00:00,approval,800,,,,
        d3,acme,2024-11-03T00:00:00,approval,1600,,,,
    """,
    )
    assert [(r.row, r.event_id) for r in result.rejected] == [(3, "d1"), (4, "d1")]
    assert all("duplicate" in r.reason and "row 1" in r.reason for r in result.rejected)
    assert [(d.customer, d.env[("metric", "gross")]) for d in result.documents] == [("acme", Decimal(1900))]


def test_rejected_rows_are_reported_even_outside_the_period_and_in_row_order(tmp_path):
    plan = compile_plan(PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        f"""
        {HEADER}
        a,acme,2024-10-02T00:00:00,approval,x,,,,
        b,acme,2024-11-02T00:00:00,approval,100,,,,
        c,acme,2024-11-02T00:00:00,approval,-5,,,,
        a,acme,2024-12-02T00:00:00,approval,100,,,,
    """,
        period="2024-11",
    )
    assert [(r.row, r.event_id) for r in result.rejected] == [(1, "a"), (3, "c"), (4, "a")]


@pytest.mark.parametrize(
    "bad",
    [
        "x,acme,2024-09-02T00:00:00,approval,x,,,,",  # before every window: joins them all (levels are carried)
        "x,acme,2024-12-02T00:00:00,approval,x,,,,",  # in the last window only
        "x,acme,2025-01-02T00:00:00,approval,x,,,,",  # after every window: joins none
        "x,,2024-11-02T00:00:00,approval,100,,,,",  # no customer
        "x,acme,,approval,100,,,,",  # no date at all
    ],
)
def test_a_single_refused_row_is_found_wherever_it_falls_among_several_windows(tmp_path, bad):
    """The aggregate pass counts refused rows while it joins rows to windows; a count of zero would
    leave the row unreported, so each place a row can fall is tried alone."""
    plan = compile_plan(PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        f"""
        {HEADER}
        a,acme,2024-10-02T00:00:00,approval,100,1,,,
        {bad}
        c,acme,2024-11-02T00:00:00,approval,100,,,,
    """,
        period="2024-Q4",
    )
    assert [(r.row, r.event_id) for r in result.rejected] == [(2, "x")]
    assert [d.period_start.month for d in result.documents] == [10, 11, 12]


# -- quota ---------------------------------------------------------------------

QUOTA_PLAN = textwrap.dedent("""
    plan: quota
    currency: KRW
    timezone: Asia/Seoul
    usage:
      record: {type: integer, default: 0}
      quota: {type: integer, default: 0}
    quota: {usage: record, limit: quota}
    metrics:
      seats: {time_weighted: record}
      records: {count: true, where: record != 0}
    charges:
      seats: {model: per_unit, on: seats, unit_price: 10_000}
""")


def test_records_above_the_running_quota_are_rejected_and_later_rows_judged_without_them(tmp_path):
    plan = compile_plan(QUOTA_PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,record,quota
        q1,acme,2024-04-01T09:00:00,,3
        r1,acme,2024-04-02T09:00:00,2,
        r2,acme,2024-04-03T09:00:00,2,
        r3,acme,2024-04-04T09:00:00,1,
        r4,acme,2024-04-05T09:00:00,-1,
        q2,acme,2024-04-06T09:00:00,,-1
        r5,acme,2024-04-07T09:00:00,1,
        r6,acme,2024-04-08T09:00:00,1,1
        r7,free,2024-04-01T09:00:00,100,
    """,
        period="2024-04",
    )
    # r2: 2 + 2 = 4 > 3. r3: 2 + 1 = 3 <= 3 (r2 did not count). r4: 2. q2: limit 2.
    # r5: 2 + 1 = 3 > 2. r6 raises the limit to 3 in the same row: 3 <= 3.
    assert [(r.row, r.event_id) for r in result.rejected] == [(3, "r2"), (7, "r5")]
    assert all("quota" in r.reason for r in result.rejected)
    docs = {d.customer: d for d in result.documents}
    assert docs["acme"].env[("metric", "records")] == 4
    # levels: 2 from Apr 2, 3 from Apr 4, 2 from Apr 5, 3 from Apr 8 (to Apr 30)
    level_days = 2 * 2 + 3 * 1 + 2 * 3 + 3 * 23
    assert is_ratio(docs["acme"].env[("metric", "seats")], level_days, 30)
    assert docs["free"].env[("metric", "seats")] == 100  # no quota: no limit


def test_quota_is_judged_in_time_order_not_file_order(tmp_path):
    plan = compile_plan(QUOTA_PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,record,quota
        r1,acme,2024-04-10T09:00:00,2,
        q1,acme,2024-04-01T09:00:00,,2
        r2,acme,2024-04-09T09:00:00,1,
    """,
    )
    # in time: q1 (limit 2), r2 (1), r1 (1 + 2 = 3 > 2): r1 is the one above the quota
    assert [(r.row, r.event_id) for r in result.rejected] == [(1, "r1")]


def test_rows_rejected_for_other_reasons_do_not_use_quota(tmp_path):
    plan = compile_plan(
        QUOTA_PLAN.replace(
            "quota: {usage: record, limit: quota}",
            "quota: {usage: record, limit: quota}\nrequire:\n  - {rule: record <= 5, message: too many at once}",
        )
    )
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,record,quota
        q1,acme,2024-04-01T09:00:00,,6
        r1,acme,2024-04-02T09:00:00,6,
        r1,acme,2024-04-02T10:00:00,5,
        r2,acme,2024-04-03T09:00:00,5,
        r3,acme,2024-04-04T09:00:00,x,
        r4,acme,2024-04-05T09:00:00,1,
    """,
    )
    assert [(r.row, r.event_id) for r in result.rejected] == [(2, "r1"), (3, "r1"), (5, "r3")]
    assert result.documents[0].env[("metric", "records")] == 2


def test_rejects_file_lists_every_rejected_row(ratecard, tmp_path):
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "ledger.csv").write_text(
        textwrap.dedent(f"""\
        {HEADER}
        a,acme,2024-11-02T00:00:00,approval,100,,,,
        b,acme,2024-11-02T00:00:00,approval,"1,5",,,,
        a,acme,2024-11-02T00:00:00,approval,100,,,,
    """)
    )
    out = tmp_path / "rejects.csv"
    result = ratecard(
        "rate", str(tmp_path / "plan.yaml"), "--usage", str(tmp_path / "ledger.csv"), "--format", "json", "--rejects", str(out)
    )
    assert result.exit_code == 3, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["row"], r["event_id"]) for r in rows] == [("2", "b"), ("3", "a")]
    assert "1,5" in rows[0]["reason"] and "duplicate" in rows[1]["reason"]


def test_usage_before_the_first_limit_is_not_limited(tmp_path):
    plan = compile_plan(QUOTA_PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        """
        event_id,customer,timestamp,record,quota
        r1,acme,2024-04-01T09:00:00,4,
        q1,acme,2024-04-02T09:00:00,,5
        r2,acme,2024-04-03T09:00:00,1,
        r3,acme,2024-04-04T09:00:00,1,
        r4,acme,2024-04-05T09:00:00,-2,
        r5,acme,2024-04-06T09:00:00,1,
    """,
    )
    # r1 comes before any limit; from q1 on the limit is 5: r2 (5) fits, r3 (6) does not, r5 (4) does
    assert [(r.row, r.event_id) for r in result.rejected] == [(4, "r3")]


def test_a_plan_that_fails_while_pricing_stops_the_duplicate_check_running_beside_it(tmp_path):
    import threading

    from interpreter.pricing.evaluate import EvaluationError

    plan = compile_plan("""
        plan: broken
        currency: KRW
        usage:
          amount: money
        metrics:
          gross: {sum: amount}
          rows: {count: true}
        charges:
          share: {model: formula, amount: gross / (rows - rows)}
    """)
    with pytest.raises(EvaluationError, match="division by zero"):
        rate_csv(
            plan,
            tmp_path,
            """
            event_id,customer,timestamp,amount
            a,acme,2024-11-02T00:00:00,100
        """,
        )
    assert not [t for t in threading.enumerate() if t.name == "ratecard-alongside"]


def test_quota_refusals_are_marked_in_one_statement(tmp_path, monkeypatch):
    from interpreter.engines.duckdb import ledger as duck_ledger

    statements = []

    class Counting:
        """The connection, counting the statements that mark refused rows."""

        def __init__(self, con):
            self.con = con

        def execute(self, sql, *args):
            statements.extend(["update"] if sql.lstrip().startswith("UPDATE checked") else [])
            return self.con.execute(sql, *args)

        def executemany(self, sql, rows):
            statements.extend(["update"] * len(rows))
            return self.con.executemany(sql, rows)

    check_quota = duck_ledger._check_quota
    monkeypatch.setattr(duck_ledger, "_check_quota", lambda con, plan, quota: check_quota(Counting(con), plan, quota))
    rows = "\n".join(f"r{i},acme,2024-04-{2 + i:02d}T09:00:00,1," for i in range(20))
    result = rate_csv(
        compile_plan(QUOTA_PLAN), tmp_path, f"event_id,customer,timestamp,record,quota\nq1,acme,2024-04-01T09:00:00,,5\n{rows}"
    )
    assert [r.event_id for r in result.rejected] == [f"r{i}" for i in range(5, 20)]
    assert statements == ["update"]
