"""Helpers the tests share: where the shipped plans are, a plan from inline text, a ledger from inline CSV.

Plans in tests are small YAML texts; `problems_of(text)` gives every
diagnostic as `(line, column, message)` so a test states exactly where each
error is. Fixtures (the command line among them) are in conftest.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from dsl.loader import Loaded, load_plan_text
from interpreter.engines.duckdb.engine import rate

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "plans"
PORTONE = PLANS / "portone_one_payment_infra.yaml"


def load_text(text: str, path: str = "plan.yaml") -> Loaded:
    """Load a plan from text (dedented), as the command line would from a file."""
    return load_plan_text(path, textwrap.dedent(text))


def problems_of(text: str) -> list[tuple[int, int, str]]:
    """Every diagnostic of a plan text as (line, column, message), in file order."""
    loaded = load_text(text)
    return [(d.span.line, d.span.column, d.message) for d in loaded.diagnostics]


def codes_of(text: str) -> list[str]:
    """The code of every diagnostic of a plan text (name, type, syntax, schema, ...)."""
    return [d.code for d in load_text(text).diagnostics]


def compile_plan(text: str, path: str = "plan.yaml"):
    """The compiled plan of `text`; fails the test with every problem (and the text) if it has errors."""
    loaded = load_text(text, path)
    assert loaded.plan is not None, [f"{d.span.line}: {d.message}" for d in loaded.diagnostics] + [text]
    return loaded.plan


def rate_csv(plan, tmp_path: Path, ledger: str, **options):
    """Rate `ledger` (CSV text, dedented) under `plan`."""
    file = tmp_path / "ledger.csv"
    file.write_text(textwrap.dedent(ledger).lstrip(), encoding="utf-8")
    return rate(plan, str(file), **options)
