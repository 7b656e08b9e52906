"""time_weighted metrics: daily levels over the customer's whole history, averaged over the period."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import document_data
from plan_helpers import compile_plan

PLAN = textwrap.dedent("""
    plan: seats
    currency: KRW
    timezone: Asia/Seoul
    usage:
      seats: {type: integer, default: 0}
      product: {type: text, default: basic}
    metrics:
      seats: {time_weighted: seats}
      pro_seats: {time_weighted: seats, where: product == "pro"}
    charges:
      seats:
        name: Seats
        model: per_unit
        on: seats
        unit_price: 10_000
""")


def rate_rows(tmp_path: Path, rows: list[str], plan=None, **options):
    file = tmp_path / "ledger.csv"
    file.write_text("event_id,customer,timestamp,seats,product\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return rate(plan or compile_plan(PLAN), str(file), **options)


def is_ratio(value, numerator: int, denominator: int) -> bool:
    """`value` is numerator/denominator, exact to the engine's 40 digits (1/3 cannot be exact)."""
    return type(value) is Decimal and abs(value * denominator - numerator) < Decimal("1e-30")


def seats_of(doc) -> Decimal:
    return doc.env[("metric", "seats")]


def test_seat_added_on_april_10_counts_21_of_30_days(tmp_path):
    (doc,) = rate_rows(tmp_path, ["a,acme,2024-04-10T09:00:00,1,"], period="2024-04").documents
    assert seats_of(doc) == Decimal("0.7")
    assert document_data(doc)["lines"][0]["amount"] == "7000"


def test_seat_removed_on_april_16_is_not_charged_for_april_16(tmp_path):
    (doc,) = rate_rows(
        tmp_path,
        [
            "a,acme,2024-03-05T09:00:00,1,",
            "b,acme,2024-04-16T09:00:00,-1,",
        ],
        period="2024-04",
    ).documents
    assert seats_of(doc) == Decimal("0.5")  # April 1..15


def test_change_late_in_the_local_day_counts_for_that_day(tmp_path):
    # 2024-04-09T15:30Z is 00:30 on April 10 in Seoul; 2024-04-10T14:59Z is 23:59 on April 10
    (a, b) = rate_rows(
        tmp_path,
        [
            "a,early,2024-04-09T15:30:00Z,1,",
            "b,late,2024-04-10T14:59:59Z,1,",
        ],
        period="2024-04",
    ).documents
    assert seats_of(a) == seats_of(b) == Decimal("0.7")


def test_levels_carry_over_from_earlier_months(tmp_path):
    docs = rate_rows(
        tmp_path,
        [
            "a,acme,2023-12-20T09:00:00,3,",
            "b,acme,2024-02-10T09:00:00,-1,",
            "c,acme,2024-04-10T09:00:00,1,",
            "d,gone,2023-12-20T09:00:00,2,",
            "e,gone,2024-01-05T09:00:00,-2,",
        ],
        period="2024-04",
    ).documents
    assert [d.customer for d in docs] == ["acme"]  # "gone" holds 0 seats and has no rows
    assert seats_of(docs[0]) == Decimal("2.7")  # 2 all month + 1 for 21 of 30 days


def test_carried_level_without_rows_in_the_period_still_gets_a_document(tmp_path):
    docs = rate_rows(tmp_path, ["a,acme,2024-01-15T09:00:00,2,", "b,other,2024-05-02T09:00:00,1,"], period="2024-Q2").documents
    by_period = [(d.customer, str(d.period_start), seats_of(d)) for d in docs]
    assert ("acme", "2024-04-01", Decimal(2)) in by_period
    assert ("acme", "2024-05-01", Decimal(2)) in by_period
    assert ("acme", "2024-06-01", Decimal(2)) in by_period
    assert ("other", "2024-04-01", Decimal(0)) not in by_period
    assert [(c, p) for c, p, _ in by_period] == [
        ("acme", "2024-04-01"),
        ("acme", "2024-05-01"),
        ("acme", "2024-06-01"),
        ("other", "2024-05-01"),
        ("other", "2024-06-01"),
    ]
    assert document_data(docs[0])["lines"][0]["amount"] == "20000"
    assert docs[0].rows == 0


def test_add_and_remove_on_the_same_day_counts_nothing_for_that_day(tmp_path):
    (doc,) = rate_rows(
        tmp_path,
        [
            "a,acme,2024-04-10T09:00:00,1,",
            "b,acme,2024-04-10T18:00:00,-1,",
            "c,acme,2024-04-20T09:00:00,1,",
        ],
        period="2024-04",
    ).documents
    assert is_ratio(seats_of(doc), 11, 30)


def test_leap_february_and_31_day_months(tmp_path):
    docs = rate_rows(tmp_path, ["a,acme,2024-02-10T09:00:00,1,"], period="2024-02-01..2024-03-31").documents
    assert is_ratio(seats_of(docs[0]), 20, 29)
    assert seats_of(docs[1]) == 1


def test_where_filters_the_changes(tmp_path):
    (doc,) = rate_rows(
        tmp_path,
        [
            "a,acme,2024-03-01T09:00:00,2,pro",
            "b,acme,2024-04-10T09:00:00,1,basic",
            "c,acme,2024-04-16T09:00:00,-1,pro",
        ],
        period="2024-04",
    ).documents
    assert doc.env[("metric", "pro_seats")] == Decimal("1.5")  # 2 for 15 days + 1 for 15 days
    assert doc.env[("metric", "seats")] == Decimal("2.2")  # + the basic seat for 21 days


def test_partial_range_counts_days_in_the_range_over_the_whole_month(tmp_path):
    (doc,) = rate_rows(tmp_path, ["a,acme,2024-03-01T09:00:00,3,"], period="2024-04-11..2024-04-20").documents
    assert (str(doc.period_start), str(doc.period_end)) == ("2024-04-11", "2024-04-20")
    assert seats_of(doc) == 1  # 3 seats x 10 days / 30


def test_as_of_estimate_counts_days_up_to_that_moment(tmp_path):
    result = rate_rows(tmp_path, ["a,acme,2024-03-01T09:00:00,3,", "b,acme,2024-04-20T09:00:00,3,"], as_of="2024-04-15")
    (doc,) = result.documents
    assert doc.estimate and str(doc.period_start) == "2024-04-01"
    assert seats_of(doc) == Decimal("1.5")  # 3 seats x 15 days / 30; the April 20 change is after
    assert document_data(doc)["estimate"] is True


def test_daylight_saving_time_zone_counts_calendar_days(tmp_path):
    plan = compile_plan(PLAN.replace("Asia/Seoul", "America/New_York"))
    (doc,) = rate_rows(
        tmp_path,
        [
            "a,acme,2024-03-10T03:30:00-04:00,1,",  # just after the spring-forward gap
            "b,acme,2024-11-03T01:30:00-05:00,1,",  # the repeated hour in November
        ],
        plan=plan,
        period="2024-03",
    ).documents
    assert is_ratio(seats_of(doc), 22, 31)
    (nov,) = rate_rows(tmp_path, ["b,acme,2024-11-03T01:30:00-05:00,1,"], plan=plan, period="2024-11").documents
    assert is_ratio(seats_of(nov), 28, 30)


@pytest.mark.parametrize(
    "field_type, change, expected",
    [
        ("number", "0.5", Decimal("0.35")),
        ("integer", "-2", Decimal("-1.4")),
    ],
)
def test_fractional_and_negative_levels(tmp_path, field_type, change, expected):
    plan = compile_plan(PLAN.replace("seats: {type: integer, default: 0}", f"seats: {{type: {field_type}, default: 0}}"))
    (doc,) = rate_rows(tmp_path, [f"a,acme,2024-04-10T09:00:00,{change},"], plan=plan, period="2024-04").documents
    assert seats_of(doc) == expected


def test_date_metric_of_a_document_without_rows_can_be_compared(tmp_path):
    plan = compile_plan(
        textwrap.dedent("""
        plan: seats
        currency: KRW
        usage:
          seats: {type: integer, default: 0}
          changed: {type: date, default: 2024-01-01}
        metrics:
          seats: {time_weighted: seats}
          last_change: {max: changed}
        charges:
          seats: {model: per_unit, on: seats, unit_price: 10_000}
        notices:
          recent: {when: last_change >= 2024-04-01, message: seats changed this month}
    """)
    )
    file = tmp_path / "ledger.csv"
    file.write_text("event_id,customer,timestamp,seats,changed\na,acme,2024-03-10T00:00:00,1,2024-03-10\n")
    (doc,) = rate(plan, str(file), period="2024-04").documents
    assert document_data(doc)["lines"][0]["amount"] == "10000"
    assert doc.notices == ()


def test_the_names_of_universal_time_are_steady_at_no_offset():
    # answered without reading the zone's days: reading them must agree
    from interpreter.periods import _UNIVERSAL, scanned_offset, steady_offset

    assert [steady_offset(name) for name in sorted(_UNIVERSAL)] == [scanned_offset(name) for name in sorted(_UNIVERSAL)] == [0] * 8


@pytest.mark.parametrize(
    "zone, offset",
    [("UTC", 0), ("Asia/Seoul", 9 * 3600), ("Asia/Kathmandu", 5 * 3600 + 45 * 60), ("America/New_York", None), ("Europe/Berlin", None)],
)
def test_a_local_date_by_offset_arithmetic_is_the_date_duckdb_converts_to(zone, offset):
    """Where a zone's offset is steady the local date of a row is computed from the instant, not
    through DuckDB's time-zone tables; every 17 minutes across the ends of that span (and in the
    years before it, when Seoul still had summer time), and a microsecond either side of local
    midnights, both give the same day."""
    import duckdb

    from interpreter.ledger.instants import duckdb_dialect
    from interpreter.periods import steady_offset

    assert steady_offset(zone) == offset
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    local_date = duckdb_dialect(zone).local_date("t")
    differing = con.execute(f"""
        SELECT count(*) FILTER (WHERE {local_date} IS DISTINCT FROM CAST(t AS DATE)), count(*)
        FROM (SELECT * FROM range(TIMESTAMPTZ '1987-01-01 00:00:00+00', TIMESTAMPTZ '1989-01-01 00:00:00+00', INTERVAL 17 MINUTE)
              UNION ALL SELECT * FROM range(TIMESTAMPTZ '1999-12-01 00:00:00+00', TIMESTAMPTZ '2000-02-01 00:00:00+00', INTERVAL 17 MINUTE)
              UNION ALL SELECT * FROM range(TIMESTAMPTZ '2024-10-25 00:00:00+00', TIMESTAMPTZ '2024-11-05 00:00:00+00', INTERVAL 1 MINUTE)
              UNION ALL SELECT s - INTERVAL 1 MICROSECOND  -- a microsecond before every local midnight
                FROM range(TIMESTAMPTZ '2024-10-25 00:00:00+00', TIMESTAMPTZ '2024-11-05 00:00:00+00', INTERVAL 15 MINUTE) AS q(s)
              UNION ALL SELECT * FROM range(TIMESTAMPTZ '2099-12-01 00:00:00+00', TIMESTAMPTZ '2100-02-01 00:00:00+00', INTERVAL 17 MINUTE)) AS r(t)
    """).fetchone()
    assert differing == (0, differing[1]) and differing[1] > 70_000
