"""Compile a plan's named formulas (`ratecard eval`): typed inputs and one expression.

A formula sees only its declared inputs, never metrics or usage: it is
evaluated on values given on the command line or in a scenario.
"""

from __future__ import annotations

from dsl import tree
from dsl.checker import Scope, Symbol
from dsl.context import Compiler, name_problem
from dsl.types import parse_type_name


def formulas(c: Compiler) -> tuple[tree.Formula, ...]:
    out = []
    for name, spec in c.model.formulas.items():
        inputs = tuple((iname, parse_type_name(tname, c.currency)) for iname, tname in spec.inputs.items())
        for iname, _ in inputs:
            problem = name_problem(iname, "input")
            if problem:
                c.fail(c.key_span("formulas", name, "inputs", iname), problem, "name")
        names = {iname: Symbol("input", iname, t) for iname, t in inputs}
        scope = Scope(names, f"formula {name!r} (it sees only its inputs)")
        value, _ = c.expression(spec.value, scope, ("formulas", name, "value"))
        if value is not None:
            out.append(tree.Formula(name, inputs, value, spec.rounding or c.model.rounding, c.key_span("formulas", name)))
    return tuple(out)
