"""The built-in functions of the expression language: small pure functions.

Their signatures (argument counts and types) are checked at compile time by
`dsl.builtins`; here they only compute. Public holidays come from the
`holidays` package, never from a list kept in this project.
"""

from __future__ import annotations

import calendar
import datetime
from decimal import Decimal
from functools import lru_cache

from interpreter.rounding import MODES, round_to_step


class FunctionProblem(Exception):
    """A built-in refused its arguments at run time (e.g. a zero rounding step)."""


def _round(value: Decimal, step: Decimal, mode: str = "half_up") -> Decimal:
    if step <= 0:
        raise FunctionProblem(f"round() step must be above zero, got {step}")
    if mode not in MODES:
        raise FunctionProblem(f"unknown rounding mode {mode!r}; use one of {', '.join(MODES)}")
    return round_to_step(value, step, mode)


def days_between(start: datetime.date, end: datetime.date) -> Decimal:
    return Decimal((end - start).days)


MAX_HOLIDAY_YEARS = 200


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


@lru_cache(maxsize=64)
def _holidays(country: str, year: int):
    import holidays

    return holidays.country_holidays(country, years=year)


def is_business_day(day: datetime.date, country: str) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def business_days_between(start: datetime.date, end: datetime.date, country: str = "KR") -> Decimal:
    """Business days after `start` up to and including `end` (negative if `end` is earlier).

    Weekdays are counted by arithmetic; only the public holidays of the years
    in between are looked at one by one.
    """
    if country not in _countries():
        raise FunctionProblem(f"unknown country {country!r} for public holidays (use an ISO code such as \"KR\")")
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


FUNCTIONS = {
    "min": lambda *args: min(args),
    "max": lambda *args: max(args),
    "abs": abs,
    "round": _round,
    "days_between": days_between,
    "business_days_between": business_days_between,
    "days_in_month": days_in_month,
    "month_start": month_start,
    "month_end": month_end,
    "months_between": months_between,
    "add_months": add_months,
}
