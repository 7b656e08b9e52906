"""Negotiated prices: a plan compiled again with some of its values replaced, for one customer.

An override names a key path of the plan (`charges.api.unit_price`,
`charges.api.tiers`, `discounts.enterprise`, `minimum`) and a value written
in the customers file. The value's YAML node replaces the plan's at that
path and the plan is checked and compiled again, so the replaced value is
held to every rule a plan value is (type, currency, tier order), and each
problem points at the customers file where the value is written.

Only prices may change: the keys under `charges`, `discounts` and
`minimum`. A charge priced on each event (`percentage`) is summed while the
ledger is read, so its keys cannot change per customer.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl import tree
from dsl.errors import Diagnostic, Span, error
from dsl.loader import compile_document
from dsl.pricing_models import MODELS
from dsl.source import Document, Mapping, Node, Scalar, Sequence

SECTIONS = ("charges", "discounts", "minimum")


@dataclass(frozen=True)
class Change:
    """One override: the key path, where it is written (`key`, `at`), and its value as a node or as plain data."""

    path: str
    at: Span
    node: Node | None = None
    value: Any = None


def _node(value: Any, at: Span) -> Node:
    """Plain data (from a scenario file) as YAML nodes placed at `at`."""
    if isinstance(value, dict):
        return Mapping(tuple((Scalar(str(k), None, at, 0, 0), _node(v, at)) for k, v in value.items()), at)
    if isinstance(value, list):
        return Sequence(tuple(_node(v, at) for v in value), at)
    if value is None:
        return Scalar("null", None, at, 0, 0)
    if isinstance(value, bool):
        return Scalar("true" if value else "false", None, at, 0, 0)
    if isinstance(value, (int, Decimal)):
        return Scalar(str(value), None, at, 0, 0)
    return Scalar(str(value), '"', at, 0, 0)


def _shifted(node: Node, by: int) -> Node:
    """A node of the customers file, its text offsets moved to where that file's text follows the plan's."""
    if isinstance(node, Scalar):
        return _shifted_scalar(node, by)
    if isinstance(node, Sequence):
        return dataclasses.replace(node, items=tuple(_shifted(item, by) for item in node.items))
    return dataclasses.replace(node, items=tuple((_shifted_scalar(k, by), _shifted(v, by)) for k, v in node.items))


def _shifted_scalar(node: Scalar, by: int) -> Scalar:
    return dataclasses.replace(node, start_index=node.start_index + by, end_index=node.end_index + by)


def _steps(path: str) -> list[str | int]:
    return [int(step) if step.isdigit() else step for step in path.split(".")]


def _hint(step: str | int, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(step), choices, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; it has {', '.join(choices)}" if choices else ""


def _replaced(node: Node, steps: list[str | int], value: Node, walked: list[str], change: Change) -> Node:
    """`node` with the value at `steps` replaced; a missing step is a `Diagnostic` raised as `_Missing`."""
    step, rest = steps[0], steps[1:]
    where = ".".join(walked) or "the plan"
    if isinstance(node, Sequence):
        if not isinstance(step, int) or not 0 <= step < len(node.items):
            raise _Missing(error(change.at, f"{where} has items 0 to {len(node.items) - 1}, not {step!r}", "override"))
        listed = list(node.items)
        listed[step] = value if not rest else _replaced(listed[step], rest, value, [*walked, str(step)], change)
        return dataclasses.replace(node, items=tuple(listed))
    if not isinstance(node, Mapping):
        raise _Missing(error(change.at, f"{where} is a single value; there is no {step!r} under it", "override"))
    keys = [k.text for k, _ in node.items]
    if not walked and step == "discounts" and rest and step not in keys:  # the plan's first discount
        node = dataclasses.replace(node, items=(*node.items, (Scalar("discounts", None, change.at, 0, 0), Mapping((), change.at))))
        keys.append("discounts")
    if str(step) not in keys:
        # a new entry: any key of a charge (the schema checks it), a new discount, a minimum
        if rest or (walked and walked[0] == "charges" and len(walked) < 2):
            what = {"charges": "charge", "discounts": "discount"}.get(walked[0], "key") if len(walked) == 1 else "key"
            raise _Missing(error(change.at, f"{where} has no {what} {str(step)!r}{_hint(step, keys)}", "override"))
        return dataclasses.replace(node, items=(*node.items, (Scalar(str(step), None, change.at, 0, 0), value)))
    items: list[tuple[Scalar, Node]] = []
    for key, child in node.items:
        if key.text == str(step):
            child = value if not rest else _replaced(child, rest, value, [*walked, str(step)], change)
        items.append((key, child))
    return dataclasses.replace(node, items=tuple(items))


class _Missing(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


def negotiate(doc: Document, plan: tree.Plan, changes: Seq[Change], text: str = "") -> tuple[tree.Plan | None, list[Diagnostic]]:
    """`plan` (compiled from `doc`) with `changes` made, or None and the problems, each at its change.

    `text` is the customers file's text: expressions in a value are located in it.
    """
    problems: list[Diagnostic] = []
    root = doc.root
    assert root is not None, "a plan that compiled has a document"
    by = len(doc.text) + 1
    for change in changes:
        steps = _steps(change.path)
        shapes = {"charges": len(steps) >= 3, "discounts": len(steps) >= 2, "minimum": len(steps) == 1}
        if not shapes.get(str(steps[0]), False):
            problems.append(
                error(
                    change.at,
                    f"cannot override {change.path!r}: give the path of a price under charges.<charge>, "
                    "a discount (discounts.<discount>) or the minimum",
                    "override",
                )
            )
            continue
        if steps[0] == "charges":
            charge = next((ch for ch in plan.charges if ch.id == steps[1]), None)
            if charge is not None and MODELS[charge.model].priced_on == "events":
                problems.append(
                    error(
                        change.at,
                        f"charge {charge.id!r} is priced on each event as the ledger is read; it cannot be overridden",
                        "override",
                    )
                )
                continue
        value = _shifted(change.node, by) if change.node is not None else _node(change.value, change.at)
        try:
            root = _replaced(root, steps, value, [], change)
        except _Missing as missing:
            problems.append(missing.diagnostic)
    # the changes that could be made are compiled even when others could not: every problem at once
    variant, found = compile_document(Document(doc.path, doc.text + "\n" + text, root))
    problems += [d for d in found if d.severity == "error"]
    return (None if problems else variant), problems
