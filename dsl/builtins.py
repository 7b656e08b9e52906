"""Signatures of the built-in functions: how many arguments, of which types.

Implementations live in `interpreter.pricing.functions`; this module only types calls.
Each signature gets the argument types and the argument nodes (for checks on
literal arguments such as a rounding mode) and returns a type or a message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from dsl import ast
from dsl.types import DATE, INTEGER, Type, describe, is_quantity, unify

ROUNDING_MODES = ("half_up", "half_even", "down", "up")

Signature = Callable[[list[Type], tuple[ast.Expr, ...]], "Type | str"]


def _extreme(name: str) -> Signature:
    def check(types: list[Type], args) -> Type | str:
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


def _abs(types, args):
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
    def check(types, args):
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
            return "business_days_between() country must be text such as \"KR\""
        country = args[2]
        if isinstance(country, ast.Text) and country.value not in supported_countries():
            return f"unknown country {country.value!r} for public holidays (use an ISO code such as \"KR\")"
    return INTEGER


def _add_months(types, args):
    problem = _arity("add_months", 2, types)
    if problem:
        return problem
    if types[0].kind != "date" or types[1].kind != "integer":
        return f"add_months() takes a date and a whole number of months, not {describe(types[0])} and {describe(types[1])}"
    return DATE


SIGNATURES: dict[str, Signature] = {
    "min": _extreme("min"),
    "max": _extreme("max"),
    "abs": _abs,
    "round": _round,
    "days_between": _dates("days_between", 2, INTEGER),
    "business_days_between": _business_days,
    "days_in_month": _dates("days_in_month", 1, INTEGER),
    "month_start": _dates("month_start", 1, DATE),
    "month_end": _dates("month_end", 1, DATE),
    "months_between": _dates("months_between", 2, INTEGER),
    "add_months": _add_months,
}
