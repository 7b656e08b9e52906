"""Customers over time: which plan a customer has from which day, their trial, their negotiated prices.

A customers file may give a customer `subscriptions` (plan and first day,
in date order; `plan: null` cancels), `trial_until` (the last day of a free
trial) and `overrides` (per plan id, key path -> value). Read from YAML,
each part keeps its line, so that a problem names the customer and the line.

Each subscription interval cut by the plan's periods is a **window**; a
customer gets one document per plan and window. `Share` says which part of
its period a window bills: `flat` charges and `prorate: true` charges are
multiplied by the window's days over the period's days; charges marked
`trial: free` leave the trial's days out as well.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl import tree
from dsl.errors import Diagnostic, Span
from dsl.overrides import Change, negotiate
from dsl.pricing_models import Priced, Step
from dsl.rounding import CONTEXT, divide
from dsl.source import Mapping as Node, Sequence, to_plain
from interpreter.periods import Period

# Where a customer's timeline sits among their attributes: a key no declared attribute can have.
TIMELINE = " timeline"
KEYS = ("subscriptions", "trial_until", "overrides")


class TimelineProblem(ValueError):
    """A timeline that cannot be used; the message names the customer and the line."""


@dataclass(frozen=True)
class Subscription:
    """From `start` on (a local date), the customer is on `plan` (None: cancelled)."""

    plan: str | None
    start: datetime.date
    line: int | None


@dataclass(frozen=True)
class Override:
    """A negotiated value: `path` of plan `plan` replaced by `value` (its YAML node keeps the file position)."""

    plan: str
    path: str
    value: Any
    node: Any  # dsl.source node of the value, or None when not read from a file
    key: Any  # dsl.source Scalar of the path, or None
    line: int | None


@dataclass(frozen=True)
class Timeline:
    customer: str
    file: str
    line: int | None
    subscriptions: tuple[Subscription, ...] = ()
    trial_until: datetime.date | None = None
    overrides: tuple[Override, ...] = ()
    text: str = ""  # the customers file's text, where override values are located

    def where(self, line: int | None = None) -> str:
        """`file:line: customer 'x'` for a message."""
        at = line if line is not None else self.line
        place = f"{self.file}:{at}: " if at is not None else (f"{self.file}: " if self.file else "")
        return f"{place}customer {self.customer!r}"


@dataclass(frozen=True)
class Share:
    """The part of its period a window bills: `days` of the window, `free` of them in the trial, of `period_days`."""

    days: int
    free: int
    period_days: int

    def part(self, trial_free: bool) -> tuple[int, int]:
        """(days billed, days of the whole) for a prorated charge: the window's days over the period's."""
        return self.days - (self.free if trial_free else 0), self.period_days

    def usage_part(self) -> tuple[int, int]:
        """(days billed, days of the whole) for a usage charge marked `trial: free`: the window's days outside the trial."""
        return self.days - self.free, self.days


def prorate(amount: Decimal, part: tuple[int, int]) -> Decimal:
    """`amount` x billed days / days, multiplied first: exact whenever the result has an end."""
    return divide(CONTEXT.multiply(amount, Decimal(part[0])), Decimal(part[1]))


def prorated(charge: tree.Charge, priced: Priced, share: Share, trace: bool) -> Priced:
    """The priced amount of `charge` for the days of its window (and outside the trial) that it bills;
    with `trace`, the step that says so."""
    if charge.prorate:
        part = share.part(charge.trial_free)
        what = "prorated: {} of {} days"
    elif charge.trial_free and share.free:
        part = share.usage_part()
        what = "outside the trial: {} of {} days"
    else:
        return priced
    if part[0] == part[1]:
        return priced
    scaled = prorate(priced.amount, part)
    if not trace:
        return Priced(scaled, ())
    return Priced(scaled, (*priced.steps, Step(what.format(*part), priced.amount, divide(Decimal(part[0]), Decimal(part[1])), scaled)))


def _date(value: Any, what: str, where: str) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise TimelineProblem(f"{where}: {what} {value!r} is not a date; write 2024-06-01") from None


def _line(node: Any) -> int | None:
    return node.span.line if node is not None else None


def _items(node: Any, plain: Any) -> list[tuple[Any, Any]]:
    """(node or None, plain value) of each item of a sequence."""
    if isinstance(node, Sequence):
        return [(item, to_plain(item)) for item in node.items]
    return [(None, item) for item in plain]


def _pairs(node: Any, plain: Mapping) -> list[tuple[Any, Any, Any]]:
    """(key node or None, value node or None, key) of each entry of a mapping."""
    if isinstance(node, Node):
        return [(key, value, key.text) for key, value in node.items]
    return [(None, None, key) for key in plain]


def read_timeline(customer: str, record: Mapping[str, Any], file: str = "", node: Any = None, text: str = "") -> Timeline | None:
    """The timeline of one customer record (None when it has none); `node` is its located YAML mapping."""
    if not any(key in record for key in KEYS):
        return None
    parts = {key.text: (key, value) for key, value in node.items} if isinstance(node, Node) else {}
    at = _line(node)
    t = Timeline(customer, file, at)
    subs: list[Subscription] = []
    given = record.get("subscriptions")
    if given is not None and record.get("plan") not in (None, ""):
        line = _line(parts.get("plan", (None, None))[0])
        raise TimelineProblem(f"{t.where(line)}: give either a plan or subscriptions, not both (which one would be billed?)")
    if given is not None:
        sub_node = parts.get("subscriptions", (None, None))[1]
        if not isinstance(given, list):
            raise TimelineProblem(f"{t.where(_line(sub_node))}: subscriptions must be a list of {{plan, from}}")
        for item_node, item in _items(sub_node, given):
            line = _line(item_node)
            if not isinstance(item, dict) or "from" not in item or "plan" not in item or set(item) - {"plan", "from"}:
                raise TimelineProblem(f"{t.where(line)}: each subscription is {{plan: ID, from: DATE}} (plan: null cancels)")
            plan = item["plan"]
            if plan is not None and (isinstance(plan, bool) or not str(plan).strip()):
                raise TimelineProblem(f"{t.where(line)}: a subscription's plan must be a plan id or null, not {plan!r}")
            subs.append(Subscription(None if plan is None else str(plan).strip(), _date(item["from"], "from", t.where(line)), line))
        for before, after in itertools.pairwise(subs):
            if after.start <= before.start:
                what = "starts on the same day as" if after.start == before.start else "starts before"
                raise TimelineProblem(
                    f"{t.where(after.line)}: the subscription from {after.start} {what} the one from {before.start}"
                    f"{f' (line {before.line})' if before.line else ''}; list subscriptions in date order, one per day"
                )
    trial = record.get("trial_until")
    trial_until = None if trial is None else _date(trial, "trial_until", t.where(_line(parts.get("trial_until", (None, None))[1])))
    overrides: list[Override] = []
    given = record.get("overrides")
    if given is not None:
        over_node = parts.get("overrides", (None, None))[1]
        if not isinstance(given, dict):
            raise TimelineProblem(f"{t.where(_line(over_node))}: overrides must map a plan id to {{key path: value}}")
        for plan_key, plan_node, plan_id in _pairs(over_node, given):
            paths = given[plan_id]
            if not isinstance(paths, dict):
                raise TimelineProblem(f"{t.where(_line(plan_key))}: overrides of plan {plan_id!r} must map key paths to values")
            for key, value_node, path in _pairs(plan_node, paths):
                overrides.append(Override(str(plan_id), str(path), paths[path], value_node, key, _line(key)))
    return Timeline(customer, file, at, tuple(subs), trial_until, tuple(overrides), text)


def timeline_of(customer: str, record: Mapping[str, Any]) -> Timeline | None:
    """The timeline kept with a customer's attributes (read from a file) or read from plain data now."""
    found = record.get(TIMELINE)
    if isinstance(found, Timeline):
        return found
    return read_timeline(customer, record)


def timelines(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, Timeline]:
    """Every customer's timeline, by customer id."""
    out = {}
    for customer, record in raw.items():
        found = timeline_of(customer, record)
        if found is not None:
            out[customer] = found
    return out


def intervals(t: Timeline, plan: str) -> list[tuple[datetime.date, datetime.date | None]]:
    """The days `t` is on `plan`: (first, last) local dates, last None while it lasts; without
    subscriptions, every day. Consecutive subscriptions to one plan are one interval."""
    if not t.subscriptions:
        return [(datetime.date.min, None)]
    out: list[tuple[datetime.date, datetime.date | None]] = []
    for index, sub in enumerate(t.subscriptions):
        if sub.plan != plan:
            continue
        later = t.subscriptions[index + 1 :]
        nxt = next((s for s in later if s.plan != plan), None)
        end = nxt.start - datetime.timedelta(days=1) if nxt is not None else None
        if out and (out[-1][1] is None or out[-1][1] >= sub.start):
            continue  # already inside the interval an earlier subscription to this plan opened
        out.append((sub.start, end))
    return out


def windows(t: Timeline, plan: str, periods: Iterable[Period]) -> list[Period]:
    """`t`'s windows on `plan` within `periods`: each interval cut by the periods."""
    spans = intervals(t, plan)
    out = []
    for p in periods:
        for first, last in spans:
            start = max(p.start, first)
            end = p.end if last is None else min(p.end, last)
            if start <= end:
                out.append(Period(start, end, p.days, p.full_start, p.full_end))
    return out


def uncovered(t: Timeline, periods: Iterable[Period]) -> list[tuple[datetime.date, datetime.date]]:
    """The days of `periods` on which `t` is on no plan (before the first subscription, after a
    cancellation), as (first, last) local dates; none without subscriptions."""
    if not t.subscriptions:
        return []
    first = t.subscriptions[0].start
    spans = [(datetime.date.min, first - datetime.timedelta(days=1))] if first > datetime.date.min else []
    for index, sub in enumerate(t.subscriptions):
        if sub.plan is None:
            later = t.subscriptions[index + 1 : index + 2]
            spans.append((sub.start, later[0].start - datetime.timedelta(days=1) if later else datetime.date.max))
    out = []
    for p in periods:
        for first, last in spans:
            start, end = max(p.start, first), min(p.end, last)
            if start <= end:
                out.append((start, end))
    return out


def share(t: Timeline, window: Period) -> Share:
    """The part of its period `window` bills, the trial's days left out for `trial: free` charges."""
    days = (window.end - window.start).days + 1
    free = 0
    if t.trial_until is not None and t.trial_until >= window.start:
        free = (min(t.trial_until, window.end) - window.start).days + 1
    return Share(days, free, window.days)


Variants = dict[tuple[str, str, "datetime.date | None"], tuple[tree.Plan, tuple[str, ...]]]


def overrides_of(t: Timeline, plan: tree.Plan) -> list[Change]:
    """`t`'s overrides of `plan`, as changes located in the customers file."""
    return [
        Change(o.path, o.key.span if o.key is not None else Span(t.file or "customers", o.line or 0, 0), o.node, o.value)
        for o in t.overrides
        if o.plan == plan.id
    ]


def negotiated_plan(t: Timeline, plan: tree.Plan) -> tuple[tree.Plan | None, list[Diagnostic]]:
    """`plan` with `t`'s negotiated values, or None and the problems (each located in the customers file)."""
    if plan.document is None:
        return None, [
            Diagnostic(
                Span(t.file, t.line or 0, 0), f"customer {t.customer!r}: plan {plan.id!r} cannot be overridden here", "error", "override"
            )
        ]
    variant, problems = negotiate(plan.document, plan, overrides_of(t, plan), t.text)
    return variant, [dataclasses.replace(d, message=f"customer {t.customer!r}: {d.message}") for d in problems]


def negotiated(versions: Iterable[tree.Plan], timelines: Mapping[str, Timeline]) -> Variants:
    """Each customer's own version of each plan version they have overrides for, with the paths replaced,
    keyed by (customer, plan id, effective date); a value that does not fit refuses the rating."""
    out: Variants = {}
    for plan in versions:
        for customer, t in timelines.items():
            if not any(o.plan == plan.id for o in t.overrides):
                continue
            variant, problems = negotiated_plan(t, plan)
            if problems or variant is None:
                first = problems[0]
                raise TimelineProblem(
                    f"{first.span.file}:{first.span.line}:{first.span.column}: {first.message}"
                    + (f" (and {len(problems) - 1} more problem(s); see ratecard check PLAN --customers FILE)" if len(problems) > 1 else "")
                )
            out[(customer, plan.id, plan.effective)] = (variant, tuple(dict.fromkeys(o.path for o in t.overrides if o.plan == plan.id)))
    return out


def check_overrides(versions: Iterable[tree.Plan], timelines: Mapping[str, Timeline]) -> list[Diagnostic]:
    """Every problem of every customer's overrides of these plan versions (`check PLAN --customers FILE`)."""
    out: list[Diagnostic] = []
    for plan in versions:
        for t in timelines.values():
            if any(o.plan == plan.id for o in t.overrides):
                out += negotiated_plan(t, plan)[1]
    return sorted(set(out), key=lambda d: (d.span.file, d.span.line, d.span.column, d.message))


def _node_at(root: Any, path: str) -> Any:
    node = root
    for step in path.split("."):
        if isinstance(node, Node):
            node = next((value for key, value in node.items if key.text == step), None)
        elif isinstance(node, Sequence) and step.isdigit() and int(step) < len(node.items):
            node = node.items[int(step)]
        else:
            return None
    return node


def value_at(document: Any, path: str) -> tuple[str, Span | None]:
    """The value at a key path of a plan's located YAML, as written (flow style), and where it is."""
    node = _node_at(document.root, path) if document is not None else None
    if node is None:
        return "", None
    return _written(to_plain(node)), node.span


def _written(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_written(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_written(v) for v in value) + "]"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def negotiated_texts(plan: tree.Plan, plan_text: str, paths: Iterable[str]) -> dict[str, str]:
    """The customers file's text by its name, for a plan compiled with negotiated values (whose
    document's text is the plan's followed by the customers file's)."""
    for path in paths:
        _, at = value_at(plan.document, path)
        if at is not None and at.file != plan.source:
            return {at.file: plan.document.text[len(plan_text) + 1 :]}
    return {}
