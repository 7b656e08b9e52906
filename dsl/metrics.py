"""Compile a plan's metrics: aggregates over the rows of a period, and metrics derived from them.

An aggregate (`count`, `sum: FIELD`, `time_weighted: FIELD`, ...) takes an
optional `where:` row expression; a derived metric is an expression over
other metrics. Derived metrics are ordered so that each follows the metrics
it uses; a cycle is reported once, at the metric where it closes.
"""

from __future__ import annotations

import difflib

from dsl import ast, schema, tree
from dsl.checker import ERROR, Scope, Symbol, check, expect
from dsl.choices import never_values
from dsl.context import METRIC_KINDS, Compiler, name_problem
from dsl.rows import row_problems
from dsl.types import INTEGER, Type, plain


def metrics(c: Compiler, fields, row_names: dict, facts: dict) -> tuple[tree.Metric, ...]:
    by_field = {f.name: f for f in fields}
    aggregates: list[tree.Metric] = []
    derived: dict[str, ast.Expr] = {}  # those that parse
    for name, spec in c.model.metrics.items():
        problem = name_problem(name, "metric")
        if problem:
            c.fail(c.key_span("metrics", name), problem, "name")
        if isinstance(spec, schema.MetricSpec):
            metric = _aggregate(c, name, spec, by_field, row_names)
            if metric is not None:
                aggregates.append(metric)
            else:
                c.broken_metrics.add(name)
        else:
            parsed = c.parse(spec, "metrics", name)
            if parsed is None:
                c.broken_metrics.add(name)
            else:
                derived[name] = parsed
    types = {m.name: m.type for m in aggregates}
    order, cyclic = _dependency_order(c, derived)
    out = list(aggregates)
    c.broken_metrics.update(cyclic)
    # A metric with its own error is still a known name: using it adds no second message.
    types.update({name: ERROR for name in c.broken_metrics})
    for name in order:
        names = dict(facts)
        names.update({m: Symbol("metric", m, t) for m, t in types.items()})
        scope = Scope(names, f"metric {name!r}")
        scope.elsewhere.update({r: "it is a usage field; aggregate it in a metric first" for r in row_names})
        result = check(derived[name], scope, c.currency)
        expect(result, ("money", "number", "integer", "percent"), f"metric {name!r}")
        c.diagnostics.extend(result.diagnostics)
        c.diagnostics.extend(never_values(result.expr, c.choices))
        types[name] = result.expr.type
        out.append(tree.Metric(name, result.expr.type, None, None, None, result.expr, c.key_span("metrics", name)))
    return tuple(out)


def _aggregate(c: Compiler, name: str, spec: schema.MetricSpec, by_field: dict, row_names: dict) -> tree.Metric | None:
    chosen = [kind for kind in METRIC_KINDS if getattr(spec, kind) is not None]
    span = c.key_span("metrics", name)
    if len(chosen) != 1:
        c.fail(
            span, f"metric {name!r} needs exactly one of {', '.join(METRIC_KINDS)}" + (f" (found {', '.join(chosen)})" if chosen else "")
        )
        return None
    kind = chosen[0]
    where, _ = c.expression(
        spec.where, Scope(row_names, f"the where of metric {name!r}"), ("metrics", name, "where"), ("bool",), "a where condition"
    )
    c.diagnostics.extend(row_problems(where, "a where condition"))
    c.row_filter(where)
    if kind == "count":
        if spec.count is False:
            c.fail(c.span("metrics", name, "count"), "write `count: true` to count rows")
        return tree.Metric(name, INTEGER, "count", None, where, None, span)
    raw = getattr(spec, kind)
    if isinstance(raw, str) and raw.isidentifier() and raw not in by_field:
        close = difflib.get_close_matches(raw, list(by_field), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        c.fail(c.span("metrics", name, kind), f"metric {name!r}: {raw!r} is not a usage field{hint}", "name")
        return None
    scope = Scope(row_names, f"the {kind} of metric {name!r}")
    value, _ = c.expression(raw, scope, ("metrics", name, kind))
    if value is None:
        return None
    c.diagnostics.extend(row_problems(value, f"the {kind} of a metric"))
    c.row_filter(value)
    field_name = value.name if isinstance(value, tree.Ref) else None
    result = _aggregate_type(c, name, kind, value)
    return tree.Metric(name, result, kind, field_name, where, None, span, value)


_CHANGES = ("time_weighted", "opening", "prorated")


def _aggregate_type(c: Compiler, name: str, kind: str, value: tree.Expr) -> Type:
    t = plain(value.type)
    where = value.span
    if t.kind == "error":
        return ERROR
    if kind == "unique":
        return INTEGER
    if kind in _CHANGES:
        if t.kind not in ("integer", "number", "money"):
            c.fail(where, f"{kind} adds up signed changes: it needs numbers or money, not {t.kind}", "type")
            return ERROR
        if kind == "time_weighted" or (kind == "prorated" and t.kind == "integer"):
            return Type("number")
        return t
    if kind == "sum" and t.kind not in ("money", "number", "integer", "percent"):
        c.fail(where, f"cannot sum {t.kind} values (metric {name!r})", "type")
        return ERROR
    if kind in ("max", "min") and t.kind not in ("money", "number", "integer", "percent", "date"):
        c.fail(where, f"cannot take the {kind} of {t.kind} values (metric {name!r})", "type")
        return ERROR
    return t


def _dependency_order(c: Compiler, derived: dict[str, ast.Expr]) -> tuple[list[str], list[str]]:
    """Derived metrics in an order where each comes after what it uses; and those in cycles."""
    uses = {name: {".".join(n.parts) for n in ast.walk(expr) if isinstance(n, ast.Name)} & set(derived) for name, expr in derived.items()}
    order: list[str] = []
    state: dict[str, str] = {}
    cyclic: list[str] = []
    for start in derived:
        if start in state:
            continue
        stack = [(start, iter(sorted(uses[start])))]
        state[start] = "open"
        path = [start]
        while stack:
            name, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[name] = "done"
                order.append(name)
            elif state.get(nxt) == "open":
                loop = path[path.index(nxt) :] + [nxt]
                c.fail(c.key_span("metrics", nxt), "metrics form a cycle: " + " -> ".join(loop), "cycle")
                cyclic.extend(m for m in loop if m not in cyclic)
            elif nxt not in state:
                state[nxt] = "open"
                path.append(nxt)
                stack.append((nxt, iter(sorted(uses[nxt]))))
    order = [name for name in order if name not in cyclic]
    return order, cyclic
