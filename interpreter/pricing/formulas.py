"""Run a plan's named formula (`ratecard eval`) on inputs given as text.

Inputs are read by their declared types (`30%`, `2024-11-03`, `true`); a money
result is rounded once to the currency's minor unit in the formula's mode.
"""

from __future__ import annotations

import decimal
import difflib
from dataclasses import dataclass
from typing import Any

from dsl import tree
from dsl.rounding import ROUNDED_DIGITS, money_text, round_money, text
from dsl.values import ValueProblem, convert
from interpreter.pricing.evaluate import EvaluationError, evaluate


class InputProblem(Exception):
    """The inputs given for a formula are missing, unknown or malformed."""


@dataclass(frozen=True)
class FormulaResult:
    """A formula's value, exact, and as the text shown to people and machines."""

    value: Any
    text: str


def read_settings(values: tuple[str, ...]) -> dict[str, str]:
    """`--set NAME=VALUE` options as a mapping; a malformed or repeated one is an `InputProblem`."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputProblem(f"--set {item!r}: write it as NAME=VALUE")
        if name.strip() in out:
            raise InputProblem(f"--set {name.strip()} is given twice")
        out[name.strip()] = value.strip()
    return out


def find_formula(plan: tree.Plan, name: str) -> tree.Formula:
    """The plan's formula called `name`; an `InputProblem` naming the closest one (or the plan's) if none is."""
    formula = tree.formula(plan, name)
    if formula is None:
        names = [f.name for f in plan.formulas]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; it has {', '.join(names)}" if names else "; it has none")
        raise InputProblem(f"plan {plan.id!r} has no formula {name!r}{hint}")
    return formula


def read_inputs(formula: tree.Formula, given: dict[str, str]) -> dict[tuple[str, str], Any]:
    declared = dict(formula.inputs)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InputProblem(f"formula {formula.name!r} has no input {unknown[0]!r}; its inputs are {', '.join(declared) or 'none'}")
    missing = [name for name in declared if name not in given]
    if missing:
        raise InputProblem(f"formula {formula.name!r} needs --set {missing[0]}=VALUE ({declared[missing[0]].kind})")
    env = {}
    for name, raw in given.items():
        try:
            env[("input", name)] = convert(raw, declared[name])
        except ValueProblem as problem:
            raise InputProblem(f"--set {name}: {problem}") from None
    return env


def run_formula(plan: tree.Plan, formula: tree.Formula, given: dict[str, str]) -> FormulaResult:
    """Evaluate `formula` on text inputs; raises InputProblem or EvaluationError."""
    value = evaluate(formula.value, read_inputs(formula, given))
    try:
        shown = show(value, formula.value.type.kind, plan, formula.rounding)
    except decimal.InvalidOperation:  # more digits than exact arithmetic keeps
        raise EvaluationError(formula.value.span, f"the result has more than {ROUNDED_DIGITS} digits; check the inputs") from None
    return FormulaResult(value, shown)


def show(value: Any, kind: str, plan: tree.Plan, rounding: str) -> str:
    if kind == "money":
        return money_text(round_money(value, plan.minor_digits, rounding), plan.minor_digits)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "date":
        return value.isoformat()
    if kind == "percent":  # written the way inputs are given: 30%, 3.3%
        return text(value * 100) + "%"
    if kind in ("integer", "number"):
        return text(value)
    return str(value)
