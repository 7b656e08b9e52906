"""Compile what a ledger row must satisfy: the `require:` rules and the quota.

Rules are row expressions, run by the ledger engine; a row that fails one is
a rejected row with the rule's message. The quota names the usage field and
the limit field whose running sums it compares.
"""

from __future__ import annotations

import difflib

from dsl import tree
from dsl.checker import Scope
from dsl.context import Compiler
from dsl.rows import row_problems


def rules(c: Compiler, row_names: dict) -> tuple[tree.Rule, ...]:
    out = []
    for index, rule in enumerate(c.model.require):
        expr, _ = c.expression(rule.rule, Scope(row_names, "a require rule"), ("require", index, "rule"), ("bool",), "a rule")
        c.diagnostics.extend(row_problems(expr, "a require rule"))
        if expr is not None:
            out.append(tree.Rule(expr, rule.message, c.span("require", index)))
    return tuple(out)


def quota(c: Compiler, fields) -> tree.Quota | None:
    spec = c.model.quota
    if spec is None:
        return None
    by_field = {f.name: f for f in fields}
    for key in ("usage", "limit"):
        name = getattr(spec, key)
        field = by_field.get(name)
        if field is None:
            close = difflib.get_close_matches(name, list(by_field), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            c.fail(c.span("quota", key), f"quota {key}: {name!r} is not a usage field{hint}", "name")
        elif field.type.kind not in ("integer", "number"):
            c.fail(c.span("quota", key), f"quota {key}: {name!r} must be an integer or number field", "type")
    return tree.Quota(spec.usage, spec.limit, spec.message, c.key_span("quota"), spec.reset)
