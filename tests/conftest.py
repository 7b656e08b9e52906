"""Shared helpers for the tests: load a plan written inline, list its problems.

Plans in tests are small YAML texts; `problems(text)` gives every diagnostic
as `(line, column, message)` so a test states exactly where each error is.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dsl.loader import Loaded, load_plan_text

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


@pytest.fixture
def load():
    return load_text


@pytest.fixture
def problems():
    return problems_of


# Browser tests drive Debian's chromium package (never a downloaded browser build).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        import os

        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}
