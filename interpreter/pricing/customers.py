"""Customer attributes from `--customers` (YAML or CSV), typed by the plan.

A YAML file maps customer ids to attributes (or lists records with a
`customer` key); a CSV file has a `customer` column. Values are read with the
same rules as plan defaults and `--set` values. Attributes the plan does not
declare are ignored (one file may serve several plans).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from dsl import tree
from dsl.loader import read_input
from dsl.source import MAX_FILE_BYTES, Mapping as MappingNode, Sequence, read_document, to_plain
from dsl.values import ValueProblem, convert
from interpreter.pricing.timelines import TIMELINE, TimelineProblem, check_overrides, read_timeline, timelines

# A CSV of a billing run's customers may be much larger than a plan; YAML files are read
# whole into a tree, so they keep the plan files' limit.
MAX_CSV_BYTES = 256 * 1024 * 1024


class CustomerProblem(Exception):
    """The customers file cannot be read, or lacks an attribute a plan needs."""


def read_customers(path: str) -> dict[str, dict[str, Any]]:
    """Raw attributes per customer id."""
    file = Path(path)
    is_csv = file.suffix.lower() == ".csv"
    if file.is_dir():
        raise CustomerProblem(f"{path}: a folder, not a customers file")
    try:
        # a regular file only, read without waiting on a pipe, up to the limit
        content = read_input(file, "customers file", MAX_CSV_BYTES if is_csv else MAX_FILE_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise CustomerProblem(f"{path}: no such customers file") from None
    except UnicodeDecodeError as exc:
        raise CustomerProblem(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as problem:  # not a regular file, too large
        raise CustomerProblem(f"{path}: {problem}") from None
    except OSError as exc:
        raise CustomerProblem(f"{path}: cannot read the customers file: {exc.strerror or exc}") from None
    if is_csv:
        reader = csv.DictReader(io.StringIO(content, newline=""))
        try:
            header = reader.fieldnames
        except csv.Error as exc:
            raise CustomerProblem(f"{path}:1: cannot read the CSV: {exc}") from None
        if header is None or "customer" not in header:
            raise CustomerProblem(f"{path}: a customers CSV needs a 'customer' column")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise CustomerProblem(f"{path}:1: column {repeated[0]!r} appears twice in the header")
        out: dict[str, dict[str, Any]] = {}
        lines: dict[str, int] = {}
        line = reader.line_num  # the header's last line
        try:
            for record in reader:
                line, number = reader.line_num, line + 1  # a quoted cell may span lines: a record starts after the last
                cid = (record.pop("customer") or "").strip()
                if not cid:
                    raise CustomerProblem(f"{path}:{number}: missing customer id")
                _once(path, cid, number, lines)
                out[cid] = {k: v for k, v in record.items() if v not in (None, "")}
        except csv.Error as exc:
            raise CustomerProblem(f"{path}:{line + 1}: cannot read the CSV: {exc}") from None
        return out
    doc, problems = read_document(path, content)
    if doc is None or problems:
        first = problems[0] if problems else None
        where = f"{path}:{first.span.line}:{first.span.column}: {first.message}" if first else path
        raise CustomerProblem(f"cannot read customers file: {where}")
    if isinstance(doc.root, Sequence):
        records: dict[str, dict[str, Any]] = {}
        lines = {}
        for node in doc.root.items:
            item = to_plain(node)
            if not isinstance(item, dict) or "customer" not in item:
                raise CustomerProblem(f"{path}:{node.span.line}: each customer record needs a 'customer' key")
            cid = item.pop("customer")
            if isinstance(cid, bool) or not isinstance(cid, (str, Decimal)) or not str(cid).strip():
                raise CustomerProblem(f"{path}:{node.span.line}: a customer id must be text or a number, not {cid!r}")
            cid = str(cid)
            _once(path, cid, node.span.line, lines)
            records[cid] = _with_timeline(path, cid, item, node, content)
        return records
    data = to_plain(doc.root) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise CustomerProblem(f"{path}: expected a mapping of customer id -> attributes")
    nodes = {key.text: value for key, value in doc.root.items} if isinstance(doc.root, MappingNode) else {}
    # a repeated key is a YAML error already
    return {str(k): _with_timeline(path, str(k), v, nodes.get(str(k)), content) for k, v in data.items()}


def _with_timeline(path: str, customer: str, record: dict[str, Any], node: Any, text: str) -> dict[str, Any]:
    """The record with its timeline (subscriptions, trial, overrides) read where the file says it, lines kept."""
    try:
        found = read_timeline(customer, record, path, node, text)
    except TimelineProblem as problem:
        raise CustomerProblem(str(problem)) from None
    if found is not None:
        record[TIMELINE] = found
    return record


def _once(path: str, customer: str, line: int, seen: dict[str, int]) -> None:
    """A customer listed twice would take one of its records silently: refuse it."""
    if customer in seen:
        raise CustomerProblem(f"{path}:{line}: customer {customer!r} is listed twice (first on line {seen[customer]})")
    seen[customer] = line


def attributes(plan: tree.Plan, customer: str, raw: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The typed attributes one customer has under `plan` (defaults filled in)."""
    given = raw.get(customer, {})
    out = {}
    for f in plan.customer:
        if f.name in given and given[f.name] is not None:
            try:
                value = convert(given[f.name], f.type)
            except ValueProblem as problem:
                raise CustomerProblem(f"customer {customer!r}, attribute {f.name!r}: {problem}") from None
            if f.values and value not in f.values:
                raise CustomerProblem(f"customer {customer!r}, attribute {f.name!r}: {value!r} is not one of {', '.join(f.values)}")
            out[f.name] = value
        elif f.default is not None:
            out[f.name] = f.default
        else:
            raise CustomerProblem(
                f"customer {customer!r} has no {f.name!r} attribute and the plan gives no default; give it in the --customers file"
            )
    return out


def override_problems(loaded: list, customers: str) -> list:
    """The problems of every customer's overrides of the loaded plans (`check --customers`).

    A customers file that cannot be read raises `CustomerProblem` (or `ValueError`).
    """
    found = timelines(read_customers(customers))
    return [d for item in loaded if item.plan is not None for d in check_overrides(item.versions or (item.plan,), found)]
