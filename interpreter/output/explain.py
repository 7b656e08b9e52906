"""`ratecard explain`: how every line of one document was computed, for support staff.

For each line: where it is written in the plan, the metric values it used,
the tiers and the portion in each, the formula with its intermediate values,
and the rounding applied. Expressions are quoted from the plan file itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dsl import tree
from dsl.rounding import text
from interpreter.output.render import visible
from interpreter.pricing.timelines import negotiated_texts, value_at
from interpreter.pricing.documents import Document, Line, Trace
from interpreter.pricing.evaluate import EvaluationError, evaluate
from interpreter.rounding import money_text

_DESCRIBE_AGGREGATION = {
    "count": "count of rows",
    "sum": "sum of {}",
    "max": "largest {}",
    "min": "smallest {}",
    "unique": "distinct values of {}",
    "last": "latest {}",
    "time_weighted": "time-weighted level of {}",
    "opening": "level of {} when the period starts",
    "prorated": "changes of {} weighted by the share of the period left",
}


def source_text(plan_text: str | dict[str, str], span) -> str:
    """The text a span covers in the plan file (one line at most); with a text per file (a plan and the
    customers file holding negotiated values), in the file the span is in."""
    if isinstance(plan_text, dict):
        plan_text = plan_text.get(span.file, "")
    lines = plan_text.splitlines()
    if not 1 <= span.line <= len(lines):
        return "?"
    line = lines[span.line - 1]
    if span.end_line == span.line and span.end_column:
        return line[span.column - 1 : span.end_column - 1]
    return line[span.column - 1 :].strip()


def show(value: Any, plan: tree.Plan | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _where(plan: tree.Plan, span) -> str:
    return f"{plan.source if span.file == plan.source else span.file}:{span.line}"


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
    out.append(
        f"  before rounding {text(trace.unrounded)}; rounded {trace.rounding} to {text(unit)} {plan.currency}: {money_text(line.amount, digits)}"
    )


def _invoice_total(doc: Document, plan_text: str, out: list[str]) -> None:
    """The subtotal, what carried discounts brought and took, the taxes, the credits applied, and
    the total as the sum of those parts."""

    def money(value: Decimal) -> str:
        return money_text(value, doc.plan.minor_digits)

    out.append(f"subtotal = {money(doc.subtotal)} (sum of the rounded lines)")
    for c in doc.carried:
        out.append(
            f"  {c.id}  {c.description!r}  carried in {money(c.opening)} + granted {money(c.added)}, "
            f"applied {money(c.applied)} (the line {c.id}), carried on {money(c.closing)}"
        )
    for tax in doc.taxes:
        _line(doc, tax, plan_text, out)
    taxes = sum((t.amount for t in doc.taxes), Decimal(0))
    parts = f"subtotal {money(doc.subtotal)} + taxes {money(taxes)}"
    if doc.credits:
        out.append(f"credits, applied to the {money(doc.subtotal + taxes)} due after taxes:")
        for c in doc.credits:
            out.append(f"  {c.id}  {c.description!r}  balance {money(c.opening)}, applied {money(c.applied)}, left {money(c.closing)}")
        parts += f" - credits applied {money(sum((c.applied for c in doc.credits), Decimal(0)))}"
    out.append(f"total = {money(doc.total)} ({parts})")


def _negotiated(doc: Document, base: tree.Plan | None, out: list[str]) -> None:
    """Each overridden key path: the customer's value beside the plan's, with where each is written."""
    out.append("Negotiated prices (the customer's value, then the plan's):")
    for path in doc.overrides:
        mine, mine_at = value_at(doc.plan.document, path)
        plans, plans_at = value_at(base.document if base is not None else None, path)
        theirs = f"{plans} ({doc.plan.source}:{plans_at.line})" if plans_at is not None else "not in the plan"
        out.append(f"  {path} = {mine} ({mine_at.file}:{mine_at.line}); plan: {theirs}")
    out.append("")


def explain(doc: Document, plan_text: str, base: tree.Plan | None = None) -> str:
    """How each line of `doc` was computed; `base` is the plan before the customer's negotiated values."""
    plan = doc.plan
    if doc.overrides and plan.document is not None:
        # negotiated values are written in the customers file, whose text follows the plan's
        plan_text = {plan.source: plan_text, **negotiated_texts(plan, plan_text, doc.overrides)}
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
    if doc.overrides:
        _negotiated(doc, base, out)
    out.append("Lines:")
    for line in doc.lines:
        _line(doc, line, plan_text, out)
    digits = plan.minor_digits
    if plan.kind == "invoice":
        _invoice_total(doc, plan_text, out)
    else:
        out.append(f"total = {money_text(doc.total, digits)} (line {plan.total})")
    for nid, message in doc.notices:
        out.append(f"notice {nid}: {message}")
    # Customer ids, ledger values and plan text reach the terminal: their control characters
    # (a newline of theirs included) are shown as escapes, as in `rate`'s table.
    return "\n".join(visible(line) for line in out) + "\n"
