"""Small helpers the engine tests share: a plan from inline text, a ledger from inline CSV."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dsl.loader import load_plan_text
from interpreter.engines.duckdb.engine import rate


def compile_plan(text: str, path: str = "plan.yaml"):
    """The compiled plan of `text`; fails the test with every problem (and the text) if it has errors."""
    loaded = load_plan_text(path, textwrap.dedent(text))
    assert loaded.plan is not None, [f"{d.span.line}: {d.message}" for d in loaded.diagnostics] + [text]
    return loaded.plan


def rate_csv(plan, tmp_path: Path, ledger: str, **options):
    """Rate `ledger` (CSV text, dedented) under `plan`."""
    file = tmp_path / "ledger.csv"
    file.write_text(textwrap.dedent(ledger).lstrip(), encoding="utf-8")
    return rate(plan, str(file), **options)
