"""Compile a validated plan into the evaluation tree, collecting every problem.

One function per part of the plan (fields, metrics, charges, ...), each adding
to the same diagnostics list. Expressions are parsed at their YAML positions
and checked against the names that part of the plan may use.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from dsl import schema, tree
from dsl.charges import charges as compile_charges
from dsl.checker import ERROR, Scope, Symbol
from dsl.choices import declared
from dsl.context import PERIOD, RESERVED_FIELDS, ROW_BUILTINS, Compiler
from dsl.document_parts import (
    credits as compile_credits,
    discounts as compile_discounts,
    notices as compile_notices,
    taxes as compile_taxes,
    unique_ids,
)
from dsl.errors import Diagnostic
from dsl.fields import fields as compile_fields
from dsl.formulas import formulas as compile_formulas
from dsl.metrics import metrics as compile_metrics
from dsl.row_rules import quota as compile_quota, rules as compile_rules
from dsl.settlement import keys_of_the_other_kind, lines as compile_lines
from dsl.source import Document


def compile_plan(doc: Document, model: schema.Plan) -> tuple[tree.Plan | None, list[Diagnostic]]:
    """The evaluation tree of a validated plan, and every problem found."""
    c = Compiler(doc, model)
    digits = _currency(c)
    if not re.fullmatch(schema.PLAN_ID, model.plan):
        c.fail(
            c.span("plan"),
            f"plan id {model.plan!r} may hold only letters, digits, '_', '-' and '.', start with a letter, "
            "digit or '_', and be at most 100 characters (it names output files)",
        )
    _timezone(c)
    fields = compile_fields(c, "usage", model.usage, reserved=RESERVED_FIELDS)
    customer = compile_fields(c, "customer", model.customer, reserved=())
    c.choices = declared(fields, customer)
    c.unlisted = {f.name for f in fields if f.type.kind == "text" and f.values is None}
    row_names = {name: Symbol("field", name, t) for name, t in ROW_BUILTINS.items()}
    row_names.update({f.name: Symbol("field", f.name, f.type) for f in fields})
    facts = {name: Symbol("period", name.split(".", 1)[1], t) for name, t in PERIOD.items()}
    facts.update({f"customer.{f.name}": Symbol("customer", f.name, f.type) for f in customer})
    rules = compile_rules(c, row_names)
    metrics = compile_metrics(c, fields, row_names, facts)
    period_names = dict(facts)
    period_names.update({m.name: Symbol("metric", m.name, m.type) for m in metrics})
    period_names.update({name: Symbol("metric", name, ERROR) for name in c.broken_metrics if name not in period_names})
    period_names.update({f"previous.{m.name}": Symbol("previous", m.name, m.type) for m in metrics})
    usage_only = {name: "it is a usage field; use it in a metric" for name in row_names}
    keys_of_the_other_kind(c)
    charges = compile_charges(c, period_names, row_names, usage_only, fields)
    discounts = compile_discounts(c, period_names, usage_only, charges)
    minimum, _ = c.expression(model.minimum, Scope(period_names, "the minimum", usage_only), ("minimum",), ("money",), "the minimum")
    taxes = compile_taxes(c, period_names, usage_only)
    credits = compile_credits(c, period_names, usage_only)
    notices = compile_notices(c, period_names, usage_only)
    formulas = compile_formulas(c)
    lines = compile_lines(c, period_names, usage_only)
    unique_ids(c, charges, discounts, taxes, lines, credits)
    schedule = None
    if model.schedule is not None:
        s = model.schedule
        schedule = tree.Schedule(s.issue_day, s.dispute_until_day, s.charge_day, s.charge_time)
    plan = tree.Plan(
        id=model.plan,
        name=model.name or model.plan,
        kind=model.kind,
        currency=model.currency,
        minor_digits=digits,
        period=model.period,
        timezone=model.timezone,
        rounding=model.rounding,
        effective=model.effective,
        fields=fields,
        customer=customer,
        rules=rules,
        metrics=metrics,
        charges=charges,
        discounts=discounts,
        minimum=minimum,
        taxes=taxes,
        notices=notices,
        formulas=formulas,
        lines=lines,
        total=model.total,
        schedule=schedule,
        source=doc.path,
        span=c.span("plan"),
        quota=compile_quota(c, fields),
        credits=credits,
        document=doc,
    )
    plan = dataclasses.replace(plan, uses_previous=_uses_previous(plan))
    return plan, c.diagnostics


def _uses_previous(plan: tree.Plan) -> bool:
    """Whether any expression reads `previous.<metric>` (stage 1 then rates the period before too)."""
    return any(isinstance(node, tree.Ref) and node.scope == "previous" for root in tree.expressions(plan) for node in tree.walk(root))


def _currency(c: Compiler) -> int:
    from babel.numbers import get_currency_precision, list_currencies

    code = c.model.currency
    if code not in list_currencies():
        close = difflib.get_close_matches(code.upper(), sorted(list_currencies()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        c.fail(c.span("currency"), f"unknown currency {code!r} (use an ISO 4217 code such as KRW or USD){hint}")
        return 2
    return get_currency_precision(code)


def _timezone(c: Compiler) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(c.model.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        c.fail(c.span("timezone"), f"unknown time zone {c.model.timezone!r} (use an IANA name such as Asia/Seoul)")
