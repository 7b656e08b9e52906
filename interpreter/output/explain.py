"""`ratecard explain`: how every line of one document was computed, for support staff, as a tree.

For each line: where it is written in the plan, the conditions and values it
used, the tiers and the portion in each, and the rounding applied. An
expression is a branch of the tree quoted from the plan file itself, each of
its parts shown once with its value. A chain of `or` (or of `and`) is one
branch with an alternative per line, and what the evaluation never looked at
(the alternatives after the one that decided, the branch of an `if` not
taken) is marked "not evaluated" (`expressions`). A time-weighted metric shows its level day
by day, a date left at a placeholder default (1900-01-01) reads "not set",
and amounts are formatted as in every human output (`human`).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from dsl import tree
from interpreter.output import human, levels
from interpreter.output.expressions import Expressions, Node, Texts, show, source_text
from interpreter.output.render import visible
from interpreter.pricing.charge_lines import Line, Trace
from interpreter.pricing.documents import Document
from interpreter.pricing.timelines import negotiated_texts, value_at

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


def _where(plan: tree.Plan, span) -> str:
    return f"{plan.source if span.file == plan.source else span.file}:{span.line}"


def _steps(doc: Document, line: Line | Any, trace: Trace) -> list[Node]:
    """What a line priced: its tiers, units or events, each `quantity × price = amount`."""
    plan, currency = doc.plan, doc.plan.currency
    rows = human.breakdown(line, human.charge_of(plan, line.id), currency)
    if rows:
        return [(_step_text(row), []) for row in rows]
    if trace.model == "tax":
        return [
            (
                f"{line.description} {human.percent(step.price or 0)} of the {step.text} {human.money(step.quantity or 0, currency)}"
                f" = {human.money(step.amount, currency, places=human.PLACES)}",
                [],
            )
            for step in trace.steps
        ]
    return [
        (f"{step.text}: {human.money(step.quantity, currency, places=human.PLACES)}" if step.quantity is not None else step.text, [])
        for step in trace.steps
    ]


def _step_text(row: dict) -> str:
    """A row of `human.breakdown` as one line: `Tier 1 · up to 100: 100 × $0.05 = $5.00`."""
    if row["quantity"] is None:
        return f"{row['label']}: {row['amount']}"
    if row["price"] is None and row["flat"]:
        return f"{row['label']}: {row['quantity']} falls here, {row['flat'].removeprefix('+ ')}"
    parts = [row["quantity"], row["price"], row["flat"]]
    return f"{row['label']}: {' '.join(part for part in parts if part)} = {row['amount']}"


def _line(doc: Document, line: Line | Any, expressions: Expressions) -> Node:
    plan = doc.plan
    trace: Trace | None = line.trace
    currency = plan.currency
    label = f"{line.id}  {line.description!r}  ->  {human.money(line.amount, currency)}"
    if trace is None:
        return label, []
    children: list[Node] = [(f"from {_where(plan, trace.span)} ({trace.model})", [])]
    for role, expr in trace.expressions:
        if expr is None:
            continue
        if role == "quantity" and "[" in line.id:  # a group's quantity is its own rows', not the document's
            group_quantity = human.number(line.quantity) if line.quantity is not None else "none"
            children.append((f"{role}: {expressions.text(expr)} = {group_quantity} (this group's rows)", []))
        else:
            children.append(expressions.role(role, expr))
    children += _steps(doc, line, trace)
    how = human.rounding(trace.rounding, plan.minor_digits, currency)
    unrounded = -trace.unrounded if line.amount < 0 < trace.unrounded else trace.unrounded  # a discount is taken off
    if unrounded == line.amount:
        children.append((f"rounded {how}: {human.money(line.amount, currency)}", []))
    else:
        before = human.money(unrounded, currency, places=human.PLACES)
        children.append((f"rounded {how}: {before} -> {human.money(line.amount, currency)}", []))
    return label, children


def _unbilled(doc: Document, expressions: Expressions) -> list[Node]:
    """The charges and discounts whose `when` was false, with the condition that left them out."""
    billed = {line.id.split("[", 1)[0] for line in doc.lines}
    out = []
    parts: list[tree.Charge | tree.Discount] = [*doc.plan.charges, *doc.plan.discounts]
    for part in parts:
        if part.id in billed or part.when is None or expressions.holds(part.when):
            continue
        where = f"from {_where(doc.plan, part.span)}"
        out.append((f"{part.id}  {part.name!r}  ->  not billed", [(where, []), expressions.role("when", part.when)]))
    return out


def _metric(doc: Document, m: tree.Metric, plan_text: Texts, usage: str | None) -> Node:
    plan = doc.plan
    value = doc.env.get(("metric", m.name))
    if m.aggregation:
        what = source_text(plan_text, m.value.span) if m.value is not None else ""
        how = _DESCRIBE_AGGREGATION[m.aggregation].format(what)
        if m.where is not None:
            how += f" where {source_text(plan_text, m.where.span)}"
    else:
        how = source_text(plan_text, m.expression.span) if m.expression is not None else ""
    about = f"({how}; {_where(plan, m.span)})"
    shown = show(value, m.type.kind, plan.currency)
    if m.aggregation != "time_weighted" or not isinstance(value, Decimal):
        return f"{m.name} = {shown}    {about}", []
    days = doc.env[("period", "days")]
    parts = _levels(doc, m, usage)
    if parts is None or not levels.matches(parts, days, value):
        return f"{m.name} = {shown}    {about}", []
    total = human.number(levels.level_days(parts))
    equals = f"≈ {shown[1:]}" if shown.startswith("≈") else f"= {shown}"
    label = f"{m.name} = {total} / {human.number(days)} days {equals}    {about}"
    return label, [(f"{s.first}..{s.last}: {human.number(s.level)} ({s.days} day{'s' if s.days != 1 else ''})", []) for s in parts]


def _levels(doc: Document, m: tree.Metric, usage: str | None) -> list[levels.Stretch] | None:
    """The metric's level day by day, when the ledger is at hand and the period is over (not an estimate)."""
    if usage is None or doc.estimate:
        return None
    return levels.daily(doc.plan, usage, doc.customer, m.name, doc.period_start, doc.period_end)


def _invoice_total(doc: Document, expressions: Expressions, out: list[Node]) -> None:
    """The subtotal, what carried discounts brought and took, the taxes, the credits applied, and
    the total as the sum of those parts."""

    def money(value: Decimal) -> str:
        return human.money(value, doc.plan.currency)

    carried: list[Node] = [
        (
            f"{c.id}  {c.description!r}  carried in {money(c.opening)} + granted {money(c.added)}, "
            f"applied {money(c.applied)} (the line {c.id}), carried on {money(c.closing)}",
            [],
        )
        for c in doc.carried
    ]
    out.append((f"subtotal = {money(doc.subtotal)} (sum of the rounded lines)", carried))
    for tax in doc.taxes:
        out.append(_line(doc, tax, expressions))
    taxes = sum((t.amount for t in doc.taxes), Decimal(0))
    parts = f"subtotal {money(doc.subtotal)} + taxes {money(taxes)}"
    if doc.credits:
        credits: list[Node] = [
            (f"{c.id}  {c.description!r}  balance {money(c.opening)}, applied {money(c.applied)}, left {money(c.closing)}", [])
            for c in doc.credits
        ]
        out.append((f"credits, applied to the {money(doc.subtotal + taxes)} due after taxes:", credits))
        parts += f" - credits applied {money(sum((c.applied for c in doc.credits), Decimal(0)))}"
    out.append((f"total = {money(doc.total)} ({parts})", []))


def _negotiated(doc: Document, base: tree.Plan | None) -> Node:
    """Each overridden key path: the customer's value beside the plan's, with where each is written."""
    out: list[Node] = []
    for path in doc.overrides:
        mine, mine_at = value_at(doc.plan.document, path)
        plans, plans_at = value_at(base.document if base is not None else None, path)
        theirs = f"{plans} ({doc.plan.source}:{plans_at.line})" if plans_at is not None else "not in the plan"
        at = f" ({mine_at.file}:{mine_at.line})" if mine_at is not None else ""
        out.append((f"{path} = {mine}{at}; plan: {theirs}", []))
    return "Negotiated prices (the customer's value, then the plan's):", out


def explain(doc: Document, plan_text: str, usage: str | None = None, base: tree.Plan | None = None) -> str:
    """The explanation of one document; with `usage` (the ledger), time-weighted metrics day by day;
    `base` is the plan before the customer's negotiated values."""
    plan = doc.plan
    texts: Texts = plan_text
    if doc.overrides and plan.document is not None:
        # negotiated values are written in the customers file, whose text follows the plan's
        texts = {plan.source: plan_text, **negotiated_texts(plan, plan_text, doc.overrides)}
    expressions = Expressions(doc, texts)
    metrics = [_metric(doc, m, texts, usage) for m in plan.metrics]
    customer: list[Node] = [
        (f"customer.{name} = {show(value, _kind(plan, name), plan.currency)}", [])
        for (scope, name), value in doc.env.items()
        if scope == "customer"
    ]
    lines = [_line(doc, line, expressions) for line in doc.lines] + _unbilled(doc, expressions)
    closing: list[Node] = []
    if plan.kind == "invoice":
        _invoice_total(doc, expressions, closing)
    else:
        closing.append((f"total = {human.money(doc.total, plan.currency)} (line {plan.total})", []))
    closing += [(f"notice {nid}: {message}", []) for nid, message in doc.notices]
    kind = "Settlement statement" if plan.kind == "settlement" else "Invoice"
    out = [
        visible(f"{kind} for {doc.customer}"),
        visible(
            f"plan {plan.id} ({plan.source}), period {doc.period_start}..{doc.period_end}, {plan.currency}"
            + (" — estimate so far" if doc.estimate else "")
        ),
        "",
        _render((f"Metrics (from {doc.rows} accepted ledger rows in the period):", metrics)),
    ]
    if customer:
        out.append(_render(("Customer:", customer)))
    if doc.overrides:
        out.append(_render(_negotiated(doc, base)))
    out += ["", "Lines:"]
    out += [_render(node) for node in lines]
    out += [_render(node) for node in closing]
    return "\n".join(out) + "\n"


def explained(documents: list[Document], versions: tuple[tree.Plan, ...], plan_text: str, usage: str | None = None) -> str:
    """`explain` of each document, each against the version of the plan it was rated under."""
    return "\n".join(
        explain(doc, plan_text, usage, next((v for v in versions if v.effective == doc.plan.effective), None)) for doc in documents
    )


def _kind(plan: tree.Plan, name: str) -> str | None:
    return next((f.type.kind for f in plan.customer if f.name == name), None)


def _render(node: Node) -> str:
    """A branch and all under it as indented text with guide lines (rich's tree). Customer ids, ledger
    values and plan text reach the terminal: their control characters (a newline of theirs included)
    are shown as escapes, as in `rate`'s table, and `[bold]` is text, not markup."""
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

    def grow(branch: Tree, children: list) -> None:
        for text, below in children:
            grow(branch.add(Text(visible(text))), below)

    root = Tree(Text(visible(node[0])))
    grow(root, node[1])
    buffer = io.StringIO()
    Console(file=buffer, width=100_000, color_system=None, legacy_windows=False).print(root)
    return buffer.getvalue().rstrip("\n")
