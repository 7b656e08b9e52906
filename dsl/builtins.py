"""The built-in functions of the expression language: one table, one entry per function.

Each entry says how a call is typed (its signature), what it computes (a
small pure function on Decimals, dates and text) and how SQL computes it
exactly, if SQL can: only those functions may be called in row expressions,
which run inside the ledger engine. A new built-in is one entry here.

A signature gets the argument types and the argument nodes (for checks on
literal arguments such as a rounding mode) and returns a type or a message.
Public holidays come from the `holidays` package, never from a list kept in
this project.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from dsl import ast
from dsl.rounding import MODES, round_to_step
from dsl.types import DATE, INTEGER, Type, describe, is_quantity, unify

ROUNDING_MODES = tuple(MODES)

Signature = Callable[[list[Type], tuple[ast.Expr, ...]], "Type | str"]


class FunctionProblem(Exception):
    """A built-in refused its arguments at run time (e.g. a zero rounding step)."""


# -- signatures ---------------------------------------------------------------------------


def _extreme(name: str) -> Signature:
    def check(types: list[Type], _args) -> Type | str:
        if len(types) < 2:
            return f"{name}() takes at least 2 arguments, got {len(types)}"
        result = types[0]
        for t in types:
            if not is_quantity(t):
                return f"{name}() takes numbers or money, not {describe(t)}"
        for t in types[1:]:
            common = unify(result, t)
            if common is None:
                return f"{name}() cannot mix {describe(result)} and {describe(t)}"
            result = common
        return result

    return check


def _arity(name: str, count: int, types: list[Type]) -> str | None:
    if len(types) != count:
        plural = "argument" if count == 1 else "arguments"
        return f"{name}() takes {count} {plural}, got {len(types)}"
    return None


def _abs(types, _args):
    problem = _arity("abs", 1, types)
    if problem:
        return problem
    return types[0] if is_quantity(types[0]) else f"abs() takes a number or money, not {describe(types[0])}"


def _round(types, args):
    if len(types) not in (2, 3):
        return f"round() takes 2 or 3 arguments (value, step, mode), got {len(types)}"
    value, step = types[0], types[1]
    if not is_quantity(value):
        return f"round() rounds a number or money, not {describe(value)}"
    if not is_quantity(step) or (step.kind == "money" and value.kind != "money"):
        return f"round() step must be a number, not {describe(step)}"
    if len(types) == 3:
        if types[2].kind != "text":
            return f"round() mode must be text, one of {', '.join(ROUNDING_MODES)}"
        mode = args[2]
        if isinstance(mode, ast.Text) and mode.value not in ROUNDING_MODES:
            return f"unknown rounding mode {mode.value!r}; use one of {', '.join(ROUNDING_MODES)}"
    return Type(value.kind, value.currency)


def _dates(name: str, count: int, result: Type) -> Signature:
    def check(types, _args):
        problem = _arity(name, count, types)
        if problem:
            return problem
        for t in types:
            if t.kind != "date":
                return f"{name}() takes dates, not {describe(t)}"
        return result

    return check


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


def _business_days(types, args):
    if len(types) not in (2, 3):
        return f"business_days_between() takes 2 or 3 arguments (from, to, country), got {len(types)}"
    for t in types[:2]:
        if t.kind != "date":
            return f"business_days_between() takes dates, not {describe(t)}"
    if len(types) == 3:
        if types[2].kind != "text":
            return 'business_days_between() country must be text such as "KR"'
        country = args[2]
        if isinstance(country, ast.Text) and country.value not in supported_countries():
            return f'unknown country {country.value!r} for public holidays (use an ISO code such as "KR")'
    return INTEGER


def _add_months(types, _args):
    problem = _arity("add_months", 2, types)
    if problem:
        return problem
    if types[0].kind != "date" or types[1].kind != "integer":
        return f"add_months() takes a date and a whole number of months, not {describe(types[0])} and {describe(types[1])}"
    return DATE


# -- implementations ----------------------------------------------------------------------


def least(*values):
    return min(values)


def greatest(*values):
    return max(values)


def round_value(value: Decimal, step: Decimal, mode: str = "half_up") -> Decimal:
    if step <= 0:
        raise FunctionProblem(f"round() step must be above zero, got {step}")
    if mode not in MODES:
        raise FunctionProblem(f"unknown rounding mode {mode!r}; use one of {', '.join(MODES)}")
    return round_to_step(value, step, mode)


def days_between(start: datetime.date, end: datetime.date) -> Decimal:
    return Decimal((end - start).days)


MAX_HOLIDAY_YEARS = 200


@lru_cache(maxsize=64)
def _holidays(country: str, year: int):
    import holidays

    return holidays.country_holidays(country, years=year)


def business_days_between(start: datetime.date, end: datetime.date, country: str = "KR") -> Decimal:
    """Business days after `start` up to and including `end` (negative if `end` is earlier).

    Weekdays are counted by arithmetic; only the public holidays of the years
    in between are looked at one by one.
    """
    if country not in supported_countries():
        raise FunctionProblem(f'unknown country {country!r} for public holidays (use an ISO code such as "KR")')
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    if end.year - start.year > MAX_HOLIDAY_YEARS:
        raise FunctionProblem(f"business_days_between() spans more than {MAX_HOLIDAY_YEARS} years ({start} to {end})")
    count = _weekdays_through(end) - _weekdays_through(start)
    for year in range(start.year, end.year + 1):
        count -= sum(1 for day in _holidays(country, year) if start < day <= end and day.weekday() < 5)
    return Decimal(sign * count)


def _weekdays_through(day: datetime.date) -> int:
    """Monday-to-Friday days from 0001-01-01 up to and including `day`."""
    ordinal = day.toordinal()  # 0001-01-01, a Monday, is 1
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


def days_in_month(day: datetime.date) -> Decimal:
    return Decimal(calendar.monthrange(day.year, day.month)[1])


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_end(day: datetime.date) -> datetime.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_between(start: datetime.date, end: datetime.date) -> Decimal:
    """Whole months from `start` to `end`; a month end counts as the anniversary (2024-01-31 -> 2024-02-29 is 1)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and end.day < start.day and end != month_end(end):
        months -= 1
    elif months < 0 and end.day > start.day:
        months += 1
    return Decimal(months)


def add_months(day: datetime.date, months: Decimal) -> datetime.date:
    """The same day `months` later, kept inside shorter months (Jan 31 + 1 -> Feb 29)."""
    index = day.year * 12 + day.month - 1 + int(months)
    year, month = divmod(index, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# -- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Builtin:
    """One built-in function.

    `sql` turns the SQL of the arguments into the SQL of the call; it is None
    when SQL cannot compute the function exactly (row expressions may then
    not call it).
    """

    name: str
    signature: Signature
    implementation: Callable[..., Any]
    sql: Callable[[list[str]], str] | None


def _sql(template: str) -> Callable[[list[str]], str]:
    return lambda args: template.format(*args)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("min", _extreme("min"), least, lambda args: f"least({', '.join(args)})"),
        Builtin("max", _extreme("max"), greatest, lambda args: f"greatest({', '.join(args)})"),
        Builtin("abs", _abs, abs, _sql("abs({})")),
        Builtin("round", _round, round_value, None),
        Builtin("days_between", _dates("days_between", 2, INTEGER), days_between, _sql("CAST(date_diff('day', {}, {}) AS DECIMAL(38,0))")),
        Builtin("business_days_between", _business_days, business_days_between, None),
        Builtin("days_in_month", _dates("days_in_month", 1, INTEGER), days_in_month, _sql("CAST(day(last_day({})) AS DECIMAL(38,0))")),
        Builtin("month_start", _dates("month_start", 1, DATE), month_start, _sql("CAST(date_trunc('month', {}) AS DATE)")),
        Builtin("month_end", _dates("month_end", 1, DATE), month_end, _sql("last_day({})")),
        Builtin("months_between", _dates("months_between", 2, INTEGER), months_between, None),
        Builtin("add_months", _add_months, add_months, None),
    )
}
