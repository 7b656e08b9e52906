"""pydantic validation of a located document, with errors pointing at lines.

pydantic reports a path such as ('charges', 'fee', 'volume', 'tiers', 0); we
walk it through the located YAML, skipping the union labels pydantic adds, to
find the key or value the message is about.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from dataclasses import replace

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dsl import schema, schema_charges
from dsl.errors import Diagnostic, Span, error
from dsl.pricing_models import MODELS
from dsl.source import Document, Mapping, Node, child, to_plain


def _all_keys() -> set[str]:
    keys: set[str] = set()
    for value in (*vars(schema).values(), *vars(schema_charges).values()):
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
            keys.update(value.model_fields)
    return keys


# The keys of each pricing model: the classes of the schema's charge union.
_CHARGES: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(schema.Charge)[0])


def _charge_words(keys: type[BaseModel]) -> str:
    """The models a charge class takes, in words: "a per_unit charge", "a graduated or volume charge"."""
    return f"a {' or '.join(typing.get_args(keys.model_fields['model'].annotation))} charge"


# Each part of a plan in a plan author's words, for "belongs to a charge, not to a discount".
_PARTS: dict[type[BaseModel], str] = {
    schema.Plan: "the top of the plan",
    schema.FieldSpec: "a usage field",
    schema.Rule: "a require rule",
    schema.Quota: "the quota",
    schema.MetricSpec: "a metric",
    schema_charges.Tier: "a tier",
    **{keys: _charge_words(keys) for keys in _CHARGES},
    schema.Discount: "a discount",
    schema.Tax: "a tax",
    schema.Credit: "a credit",
    schema.Notice: "a notice",
    schema.Formula: "a formula",
    schema.LineSpec: "a settlement line",
    schema.Schedule: "the schedule",
}
_SECTIONS = {
    "usage": "a usage field",
    "customer": "a customer attribute",
    "metrics": "a metric",
    "discounts": "a discount",
    "taxes": "a tax",
    "credits": "a credit",
    "notices": "a notice",
    "formulas": "a formula",
    "lines": "a settlement line",
    "require": "a require rule",
    "quota": "the quota",
    "schedule": "the schedule",
}


def _owners(name: str) -> str:
    """The parts of a plan that have key `name`: "a discount", "a per_unit charge or a tier"."""
    owners = [model for model in _PARTS if name in model.model_fields]
    charges = [model for model in owners if model in _CHARGES]
    words = ["a charge"] if len(charges) > 2 else [_PARTS[model] for model in charges]
    words += [_PARTS[model] for model in owners if model not in _CHARGES]
    return " or ".join(words)


def _part(loc: Sequence[str | int]) -> str:
    """The part of the plan an unknown key was written in, from pydantic's path to it."""
    if len(loc) == 1:
        return "the top of the plan"
    if "tiers" in loc:
        return "a tier"
    if loc[0] == "charges":
        return f"a {loc[2]} charge" if len(loc) > 3 and loc[2] in MODELS else "a charge"
    return _SECTIONS.get(str(loc[0]), "this part of the plan")


def validate(doc: Document) -> tuple[schema.Plan | None, list[Diagnostic], set[str]]:
    """The plan model, every schema problem with its position, and the entries left out.

    When entries fail (a charge, a metric, a key), the model of the rest is still
    returned so that it can be compiled and checked in the same run; the names
    of the entries left out come third. The model is None when nothing sensible
    remains.
    """
    if not isinstance(doc.root, Mapping):
        where = doc.root.span if doc.root is not None else Span(doc.path, 1, 1)
        return None, [error(where, "a plan file must be a mapping of keys such as plan:, currency:, charges:", "schema")], set()
    data = to_plain(doc.root)
    context = {"currency": data.get("currency")}  # money written in another currency fails at its value
    try:
        return schema.Plan.model_validate(data, context=context), [], set()
    except ValidationError as exc:
        problems = located(doc, exc, _all_keys(), "the plan")
        model, omitted = _without_broken_entries(data, exc, context)
        return model, problems, omitted


def _without_broken_entries(data: dict, exc: ValidationError, context: dict) -> tuple[schema.Plan | None, set[str]]:
    """The plan without the entries that failed, and their names; (None, ...) if that fails too."""
    omitted: set[str] = set()
    for _ in range(5):
        entries = {_entry(err["loc"]) for err in exc.errors()}
        broken = {entry for entry in entries if entry is not None}
        if len(broken) != len(entries):
            return None, omitted
        omitted |= {name for _, name in broken if name is not None}
        for section, name in broken:
            holder = data.get(section)
            if isinstance(holder, dict) and name is not None:
                holder.pop(name, None)
            else:
                data.pop(section, None)
        try:
            model = schema.Plan.model_validate(data, context=context)
        except ValidationError as again:
            exc = again
            continue
        return model, omitted
    return None, omitted


def _entry(loc: tuple) -> tuple[str, str | None] | None:
    """(section, entry) an error belongs to: ('charges', 'fee'), or (key, None) for a top-level key."""
    if not loc:
        return None
    section = loc[0]
    if section in ("plan", "currency"):
        return None  # nothing sensible can be checked without these
    if section in _KEYED_SECTIONS and len(loc) > 1 and isinstance(loc[1], str):
        return section, loc[1]
    return section, None


_KEYED_SECTIONS = ("usage", "customer", "metrics", "charges", "discounts", "taxes", "credits", "notices", "formulas", "lines")


def located(doc: Document, exc: ValidationError, keys: set[str], whole: str) -> list[Diagnostic]:
    """Every error of validating `doc`, at its place in the file: an unknown key is suggested
    the closest of `keys`, and `whole` names the file's top level ("the plan")."""
    return _merge_alternatives([_diagnostic(doc, err, keys, whole) for err in exc.errors()])


def _merge_alternatives(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One message for a value that fits none of several types ("expected a number or text")."""
    out: list[Diagnostic] = []
    for d in diagnostics:
        previous = out[-1] if out else None
        head, _, wanted = d.message.rpartition(": expected ")
        if previous is not None and previous.span == d.span and head and previous.message.startswith(head + ": expected "):
            alternatives = previous.message[len(head) + len(": expected ") :]
            out[-1] = replace(previous, message=f"{head}: expected {alternatives.replace(' or ', ', ')} or {wanted}")
        else:
            out.append(d)
    return out


def _diagnostic(doc: Document, err: ErrorDetails, keys: set[str], whole: str) -> Diagnostic:
    kind = err["type"]
    steps = list(err["loc"])
    node: Node | None = doc.root
    span = doc.root.span if doc.root is not None else Span(doc.path, 1, 1)
    shown: list[str | int] = []
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
        close = difflib.get_close_matches(name, sorted(keys - {name}), n=1, cutoff=0.7)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if whole == "the plan" and name in keys:  # a real key, written in the wrong part of the plan
            hint = f": `{name}` belongs to {_owners(name)}, not to {_part(steps)}"
        if " " in name:
            hint += " (a comma inside {...} starts a new key: put text that holds commas in quotes)"
        return error(span, f"unknown key {name!r} in {_path(shown[:-1]) or whole}{hint}", "schema")
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
        if not isinstance(err.get("input"), dict):
            return error(span, f"{path}: a charge is written as keys such as `model:` and `on:`, not a single value", "schema")
        *others, last = MODELS
        return error(where, f"{path}: a charge needs `model:` ({', '.join(others)} or {last})", "schema")
    message = _plain_message(kind, err)
    return error(span, f"{path}: {message}" if path else message, "schema")


_MESSAGES = {
    "dict_type": "expected keys and values (`name: value` lines, or {name: value})",
    "list_type": "expected a list (`- item` lines, or [a, b])",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number, not a fraction",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "decimal_type": "expected a number",
    "date_from_datetime_inexact": "expected a date such as 2024-11-01, without a time",
}


def _plain_message(kind: str, err: ErrorDetails) -> str:
    """pydantic's message in the words of a plan author."""
    ctx = err.get("ctx", {})
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == r"^\d{2}:\d{2}$":
        return "expected a time written HH:MM, such as 10:00"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind.startswith("date_") and "error" in ctx:
        return f"expected a date such as 2024-11-01 ({ctx['error']})"
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message.replace("Input should be", "expected")


def _path(steps: list) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
