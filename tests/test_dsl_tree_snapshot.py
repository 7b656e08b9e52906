"""Snapshot of the compiled evaluation tree of the shipped PortOne plan.

The tree is turned into plain JSON-like data: Decimals and dates as strings,
types as words (`money (KRW)`), spans as "line:col" in the plan file, each
expression node labelled with its kind. A change to the plan or the compiler
that alters what runs shows up as a diff of the snapshot file.
"""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from typing import Any, get_args

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from dsl import tree
from dsl.errors import Span
from dsl.loader import load_plan_text
from dsl.types import Type, describe
from plan_helpers import PORTONE, ROOT

EXPRESSIONS = get_args(tree.Expr)


def plain(value: Any) -> Any:
    """The tree as JSON-like data, deterministic and readable."""
    if isinstance(value, Span):
        return f"{value.line}:{value.column}"
    if isinstance(value, Type):
        return describe(value) + (" literal" if value.literal else "")
    if dataclasses.is_dataclass(value):
        out = {"node": type(value).__name__} if isinstance(value, EXPRESSIONS) else {}
        for field in dataclasses.fields(value):
            if field.compare:  # not part of the tree (the plan's source document)
                out["at" if field.name == "span" else field.name] = plain(getattr(value, field.name))
        return out
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    assert value is None or isinstance(value, (str, bool, int)), f"unexpected {type(value).__name__} in the tree"
    return value


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_compiled_tree_of_the_portone_plan(snapshot_json):
    relative = PORTONE.relative_to(ROOT).as_posix()
    loaded = load_plan_text(relative, PORTONE.read_text(encoding="utf-8"))
    assert loaded.diagnostics == ()
    assert plain(loaded.plan) == snapshot_json


def test_the_tree_holds_no_float():
    loaded = load_plan_text("plan.yaml", PORTONE.read_text(encoding="utf-8"))
    stack: list[Any] = [loaded.plan]
    while stack:
        value = stack.pop()
        assert not isinstance(value, float)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            stack += [getattr(value, f.name) for f in dataclasses.fields(value)]
        elif isinstance(value, (tuple, list)):
            stack += list(value)
