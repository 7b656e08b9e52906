"""Row expressions in SQL: every function the compiler allows on ledger rows has an exact SQL form."""

from dsl.rows import ROW_FUNCTIONS
from dsl.tree import Call, Const, Ref
from dsl.types import DATE, INTEGER
from dsl.errors import Span
from interpreter.sql import _CALLS, to_sql

import datetime

SPAN = Span("t", 1, 1)


def test_every_row_function_has_a_sql_form():
    assert set(ROW_FUNCTIONS) == set(_CALLS)


def test_calls_translate_to_exact_sql():
    day = Ref("field", "date", DATE, SPAN)
    assert to_sql(Call("month_start", (day,), DATE, SPAN)) == "CAST(date_trunc('month', \"date\") AS DATE)"
    first = Const(datetime.date(2024, 11, 1), DATE, SPAN)
    assert to_sql(Call("days_between", (first, day), INTEGER, SPAN)) == (
        "CAST(date_diff('day', DATE '2024-11-01', \"date\") AS DECIMAL(38,0))")
