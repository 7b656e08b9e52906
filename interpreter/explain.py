"""`ratecard explain`: how every line of one document was computed, for support staff.

For each line: where it is written in the plan, the metric values it used,
the tiers and the portion in each, the formula with its intermediate values,
and the rounding applied. Expressions are quoted from the plan file itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dsl import tree
from interpreter.documents import Document, Line, Trace
from interpreter.evaluate import EvaluationError, evaluate
from interpreter.rounding import money_text, text

_DESCRIBE_AGGREGATION = {
    "count": "count of rows", "sum": "sum of {}", "max": "largest {}", "min": "smallest {}",
    "unique": "distinct values of {}", "last": "latest {}", "time_weighted": "time-weighted level of {}",
    "opening": "level of {} when the period starts", "prorated": "changes of {} weighted by the share of the period left",
}


def source_text(plan_text: str, span) -> str:
    """The text a span covers in the plan file (one line at most)."""
    lines = plan_text.splitlines()
    if not 1 <= span.line <= len(lines):
        return "?"
    line = lines[span.line - 1]
    if span.end_line == span.line and span.end_column:
        return line[span.column - 1:span.end_column - 1]
    return line[span.column - 1:].strip()


def show(value: Any, plan: tree.Plan | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _where(plan: tree.Plan, span) -> str:
    return f"{plan.source}:{span.line}"


def _intermediates(expr: tree.Expr, env: dict, plan_text: str) -> list[str]:
    """`source = value` for the expression and each compound part of it, outermost first."""
    out, seen = [], set()
    for node in tree.walk(expr):
        if isinstance(node, (tree.Binary, tree.Call, tree.Cond, tree.Ref)) and node.span not in seen:
            seen.add(node.span)
            try:
                value = show(evaluate(node, env))
            except EvaluationError as exc:
                value = f"(error: {exc.message})"
            out.append(f"{source_text(plan_text, node.span)} = {value}")
    return out


def _line(doc: Document, line: Line | Any, plan_text: str, out: list[str]) -> None:
    plan = doc.plan
    trace: Trace = line.trace
    digits = plan.minor_digits
    out.append(f"{line.id}  {line.description!r}  ->  {money_text(line.amount, digits)} {plan.currency}")
    if trace is None:
        return
    out.append(f"  from {_where(plan, trace.span)} ({trace.model})")
    for role, expr in trace.expressions:
        if expr is None:
            continue
        out.append(f"  {role}: {source_text(plan_text, expr.span)}")
        for item in _intermediates(expr, doc.env, plan_text):
            out.append(f"    {item}")
    for step in trace.steps:
        parts = [f"    {step.text}:"]
        if step.quantity is not None:
            parts.append(text(step.quantity))
        if step.price is not None:
            parts.append(f"x {text(step.price)}")
        parts.append(f"= {text(step.amount)}")
        out.append(" ".join(parts))
    unit = Decimal(1).scaleb(-digits)
    out.append(f"  before rounding {text(trace.unrounded)}; rounded {trace.rounding} to {text(unit)} {plan.currency}: {money_text(line.amount, digits)}")


def explain(doc: Document, plan_text: str) -> str:
    plan = doc.plan
    out = [
        f"{'Settlement statement' if plan.kind == 'settlement' else 'Invoice'} for {doc.customer}",
        f"plan {plan.id} ({plan.source}), period {doc.period_start}..{doc.period_end}, {plan.currency}"
        + (" — estimate so far" if doc.estimate else ""),
        "",
        f"Metrics (from {doc.rows} accepted ledger rows in the period):",
    ]
    for m in plan.metrics:
        value = show(doc.env.get(("metric", m.name)))
        if m.aggregation:
            what = source_text(plan_text, m.value.span) if m.value is not None else ""
            how = _DESCRIBE_AGGREGATION[m.aggregation].format(what)
            if m.where is not None:
                how += f" where {source_text(plan_text, m.where.span)}"
        else:
            how = source_text(plan_text, m.expression.span)
        out.append(f"  {m.name} = {value}    ({how}; {_where(plan, m.span)})")
    customer = [(k[1], v) for k, v in doc.env.items() if k[0] == "customer"]
    if customer:
        out.append("Customer:")
        out += [f"  customer.{name} = {show(value)}" for name, value in customer]
    out.append("")
    out.append("Lines:")
    for line in doc.lines:
        _line(doc, line, plan_text, out)
    digits = plan.minor_digits
    if plan.kind == "invoice":
        out.append(f"subtotal = {money_text(doc.subtotal, digits)} (sum of the rounded lines)")
        for tax in doc.taxes:
            _line(doc, tax, plan_text, out)
        out.append(f"total = {money_text(doc.total, digits)} (subtotal + taxes)")
    else:
        out.append(f"total = {money_text(doc.total, digits)} (line {plan.total})")
    for nid, message in doc.notices:
        out.append(f"notice {nid}: {message}")
    return "\n".join(out) + "\n"
