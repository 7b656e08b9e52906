"""pydantic validation of a located document, with errors pointing at lines.

pydantic reports a path such as ('charges', 'fee', 'volume', 'tiers', 0); we
walk it through the located YAML, skipping the union labels pydantic adds, to
find the key or value the message is about.
"""

from __future__ import annotations

import difflib

from pydantic import BaseModel, ValidationError

from dsl import schema
from dsl.errors import Diagnostic, Span, error
from dsl.source import Document, Mapping, child, to_plain


def _all_keys() -> set[str]:
    keys: set[str] = set()
    for value in vars(schema).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
            keys.update(value.model_fields)
    return keys


def validate(doc: Document) -> tuple[schema.Plan | None, list[Diagnostic]]:
    """The plan model, or None and every schema problem with its position."""
    if not isinstance(doc.root, Mapping):
        where = doc.root.span if doc.root is not None else Span(doc.path, 1, 1)
        return None, [error(where, "a plan file must be a mapping of keys such as plan:, currency:, charges:", "schema")]
    try:
        return schema.Plan.model_validate(to_plain(doc.root)), []
    except ValidationError as exc:
        return None, [_diagnostic(doc, err) for err in exc.errors()]


def _diagnostic(doc: Document, err: dict) -> Diagnostic:
    kind = err["type"]
    steps = list(err["loc"])
    node, span, shown = doc.root, doc.root.span, []
    last_key = None
    for index, step in enumerate(steps):
        final = index == len(steps) - 1
        if final and kind == "missing":
            break
        key, value = child(node, step)
        if value is None:
            continue  # a union label added by pydantic, not a key in the file
        node, last_key = value, key
        shown.append(step)
        span = key.span if (final and kind == "extra_forbidden" and key is not None) else value.span
    path = _path(shown)
    if kind == "missing":
        name = steps[-1]
        where = last_key.span if last_key is not None else span
        return error(where, f"{path + ': ' if path else ''}missing required key {name!r}", "schema")
    if kind == "extra_forbidden":
        name = str(steps[-1])
        close = difflib.get_close_matches(name, sorted(_all_keys()), n=1, cutoff=0.7)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if " " in name:
            hint += " (a comma inside {...} starts a new key: put text that holds commas in quotes)"
        return error(span, f"unknown key {name!r} in {_path(shown[:-1]) or 'the plan'}{hint}", "schema")
    if kind == "union_tag_invalid":
        key, value = child(node, "model")
        tags = err.get("ctx", {}).get("expected_tags", "")
        found = err.get("ctx", {}).get("tag", "")
        names = [t.strip(" '") for t in str(tags).split(",")]
        close = difflib.get_close_matches(str(found), names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; use one of {tags}"
        return error(value.span if value is not None else span, f"{path}: unknown pricing model {found!r}{hint}", "schema")
    if kind == "union_tag_not_found":
        where = last_key.span if last_key is not None else span
        return error(where, f"{path}: a charge needs `model:` (flat, per_unit, graduated, volume, package, percentage or formula)", "schema")
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    message = message.replace("Input should be", "expected")
    return error(span, f"{path}: {message}" if path else message, "schema")


def _path(steps: list) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
