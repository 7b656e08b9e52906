"""Text fields with declared `values:`, and the comparisons made against them.

A comparison with a value the list does not hold is decided before any row is read:
`==` is never true, `!=` always is. It is a typo that silently drops a discount or a
metric's rows, so it is an error, with the nearest declared value. A `where:` that picks
rows by a text field without `values:` gets a warning instead: a ledger row with an
unforeseen value (a typo, another spelling) is accepted and counted nowhere, where a
declared list would have rejected it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TypeGuard

from dsl import tree
from dsl.errors import Diagnostic, error, warning

Declared = dict[tuple[str, str], tuple[str, ...]]  # (scope, name) -> its values


def declared(fields, customer) -> Declared:
    out = {("field", f.name): f.values for f in fields if f.values is not None}
    out.update({("customer", f.name): f.values for f in customer if f.values is not None})
    return out


def nearest(value: str, values) -> str:
    """'; did you mean ...?' for the declared value closest to `value`, or ''."""
    same = [v for v in values if v.casefold() == value.casefold()]
    close = same or difflib.get_close_matches(value, list(values), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def never_values(expr: tree.Expr | None, known: Declared) -> list[Diagnostic]:
    """An error at each text compared with a field or attribute whose `values:` do not hold it."""
    out = []
    for ref, literal, outcome in _comparisons(expr):
        values = known.get((ref.scope, ref.name))
        if values is not None and literal.value not in values:
            name = f"customer.{ref.name}" if ref.scope == "customer" else ref.name
            out.append(
                error(
                    literal.span,
                    (
                        f"{literal.value!r} is not one of the values of {name} ({', '.join(values)}), "
                        f"so {outcome}{nearest(literal.value, values)}"
                    ),
                    "values",
                )
            )
    return out


def unlisted_filters(expr: tree.Expr | None, unlisted: set[str], warned: set[str]) -> list[Diagnostic]:
    """A warning at the first row filter that picks rows by a usage text field without `values:`.

    Only picking rows (`==`, `in`) loses them: a row with another value is counted nowhere.
    Leaving rows out (`!=`, `not in`) keeps the unforeseen ones, and `require:` rejects them.
    """
    out = []
    for node in tree.walk(expr):
        picked: tree.Expr | None = None
        if isinstance(node, tree.Binary) and node.op == "==":
            pair = _field_and_text(node.left, node.right) or _field_and_text(node.right, node.left)
            picked = pair[0] if pair else None
        elif isinstance(node, tree.In) and not node.negated and any(_is_text(o) for o in node.options):
            picked = node.operand
        if isinstance(picked, tree.Ref) and picked.scope == "field" and picked.name in unlisted and picked.name not in warned:
            warned.add(picked.name)
            name = picked.name
            out.append(
                warning(
                    node.span,
                    (
                        f"{name!r} is text without `values:`: a row whose {name} is none of the values compared here "
                        "(a typo, another spelling) is accepted and counted nowhere; declare its values "
                        f"(`{name}: {{type: text, values: [...]}}`) so such a row is rejected"
                    ),
                    "values",
                )
            )
    return out


def _comparisons(expr: tree.Expr | None) -> Iterator[tuple[tree.Ref, tree.Const, str]]:
    """(field or attribute, text it is compared with, what follows when that text cannot occur)."""
    for node in tree.walk(expr):
        if isinstance(node, tree.Binary) and node.op in ("==", "!="):
            pair = _field_and_text(node.left, node.right) or _field_and_text(node.right, node.left)
            if pair:
                yield (*pair, "this is never true" if node.op == "==" else "this is always true")
        elif isinstance(node, tree.In) and isinstance(node.operand, tree.Ref):
            outcome = "leaving it out changes nothing" if node.negated else "this option never matches"
            for option in node.options:
                if _is_text(option):
                    yield node.operand, option, outcome


def _field_and_text(a: tree.Expr, b: tree.Expr) -> tuple[tree.Ref, tree.Const] | None:
    if isinstance(a, tree.Ref) and a.scope in ("field", "customer") and _is_text(b):
        return a, b
    return None


def _is_text(expr: tree.Expr) -> TypeGuard[tree.Const]:
    return isinstance(expr, tree.Const) and isinstance(expr.value, str)
