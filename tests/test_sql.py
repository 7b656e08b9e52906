"""Row expressions in SQL, and plan and ledger strings that reach SQL only as quoted literals or bound values.

Calls take their SQL form from the table of built-ins (which checks each
form against its implementation: tests/test_dsl_builtins.py). No
string of a plan (`values:`, defaults, string literals in `where:` and
`require:`, rule messages, the time zone) or of a ledger (customer and event
ids, cells) changes a query: hostile strings are matched, shown and counted
as the text they are.
"""

import datetime
import os

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import hostile
from dsl.errors import Span
from dsl.tree import Call, Const, Ref
from dsl.types import DATE, INTEGER
from hostile import expected_rejections, hostile_plan, hostile_rows, write_ledger
from interpreter.engines.duckdb.engine import rate
from interpreter.ledger.sql import to_sql
from plan_helpers import compile_plan, rate_csv

SPAN = Span("t", 1, 1)


def test_calls_translate_to_exact_sql():
    day = Ref("field", "date", DATE, SPAN)
    assert to_sql(Call("month_start", (day,), DATE, SPAN)) == "CAST(date_trunc('month', \"date\") AS DATE)"
    first = Const(datetime.date(2024, 11, 1), DATE, SPAN)
    assert to_sql(Call("days_between", (first, day), INTEGER, SPAN)) == (
        "CAST(date_diff('day', DATE '2024-11-01', \"date\") AS DECIMAL(38,0))"
    )


# -- plan and ledger strings never become SQL text -------------------------------


def check_hostile(folder, strings: list[str], form: str, one_by_one: bool = True) -> None:
    """Rate the hostile rows; with `one_by_one`, each customer alone as well (`--customer`)."""
    plan = compile_plan(hostile_plan(strings))
    result = rate(plan, write_ledger(folder, hostile_rows(strings), form), period="2024-11")
    assert [(r.row, r.event_id, r.reason) for r in result.rejected] == expected_rejections(strings)
    documents = {d.customer: d for d in result.documents}
    assert sorted(documents) == sorted({f"c{s}c" for s in strings})
    for i, s in enumerate(strings if one_by_one else []):
        one = rate(plan, write_ledger(folder, hostile_rows(strings), form), period="2024-11", customer=f"c{s}c").documents
        assert [d.customer for d in one] == [f"c{s}c"]
        env = one[0].env
        assert env[("metric", f"hits{i}")] == 1 and env[("metric", "listed")] == 1 and env[("metric", "total")] == 5


@pytest.mark.parametrize("form", ["csv", "jsonl"])
def test_hostile_strings_in_every_plan_field_and_ledger_column_are_only_data(tmp_path, form):
    """Quotes, comments, semicolons, backslashes, NUL, unicode and table functions: matched, shown and
    counted as the text they are, in values, defaults, `where:`, `require:`, customer ids and event ids."""
    check_hostile(tmp_path, hostile.STRINGS, form, one_by_one=form == "csv")


def test_a_crafted_value_cannot_read_a_local_file_into_a_reason(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE\n", encoding="utf-8")
    crafted = f"x' || (SELECT string_agg(column0, '') FROM read_csv('{secret}', header = false)) || '"
    plan = compile_plan(hostile_plan([crafted]))
    result = rate(plan, write_ledger(tmp_path, hostile_rows([crafted]), "csv"), period="2024-11")
    assert not any("TOP-SECRET" in r.reason for r in result.rejected)
    assert [r.reason for r in result.rejected] == [reason for _, _, reason in expected_rejections([crafted])]


# Any text a YAML file and a CSV cell can hold (no lone surrogates, no carriage return: a CSV line break).
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r"), min_size=1, max_size=12)


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("RATECARD_FUZZ_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXT)
@example(text="McDonald's")
def test_any_string_through_every_plan_field_and_ledger_column(tmp_path_factory, text):
    check_hostile(tmp_path_factory.mktemp("hostile"), [text], "csv")


def test_the_time_zone_is_a_quoted_literal_not_sql():
    """A zone name is checked when the plan is compiled; even so, it reaches DuckDB as one quoted literal."""
    import dataclasses

    import duckdb

    from interpreter.engines.duckdb.engine import connect

    plan = compile_plan("plan: z\ncurrency: USD\ntimezone: Asia/Seoul\nusage: {}\ncharges: {base: {model: flat, amount: 1}}\n")
    crafted = dataclasses.replace(plan, timezone="Asia/Seoul'; SET TimeZone = 'UTC'; --")
    with pytest.raises(duckdb.Error, match="Unknown TimeZone 'Asia/Seoul'; SET TimeZone = 'UTC'; --'"):
        connect(crafted)
    assert connect(plan).execute("SELECT current_setting('TimeZone')").fetchone()[0] == "Asia/Seoul"


@pytest.mark.parametrize("value", ["max(q * 1.05, q)", "min(q * 1.05, q * 2)", "if q > 0 then q * 1.05 else q"])
def test_a_choice_among_numbers_of_different_places_keeps_every_place(tmp_path, value):
    """DuckDB types a CASE, least() or greatest() over DECIMAL(38) values of several scales as one of them:
    0.0000000001 x 1.05 = 0.000000000105 came back as 0.0000000001, and a billion of them cost 0.10, not 0.11."""
    plan = compile_plan(
        f"""
        plan: places
        currency: USD
        usage: {{q: number}}
        metrics:
          m: {{sum: "{value}"}}
        charges:
          c: {{model: per_unit, on: m, unit_price: 1000000000}}
        """
    )
    result = rate_csv(plan, tmp_path, "event_id,customer,timestamp,q\ne1,a,2024-11-02T00:00:00Z,0.0000000001\n")
    assert [str(line.amount) for line in result.documents[0].lines] == ["0.11"]
