"""Fixtures the tests share: the command line, and the browser of the workbench tests.

`ratecard(*args)` runs the command line in-process through click's CliRunner
and returns its result: `exit_code`, and `stdout` and `stderr` apart. Plain
helpers (the shipped plans' paths, `load_text`, `compile_plan`) are in
plan_helpers.py, imported by the tests that use them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main


@pytest.fixture(scope="session")
def ratecard():
    """Run `ratecard` with these arguments (paths may be Path objects); keyword options go to click's `invoke`."""
    runner = CliRunner()

    def invoke(*args, **options) -> Result:
        return runner.invoke(main, [str(a) for a in args], **options)

    return invoke


# Browser tests drive Debian's chromium package (never a downloaded browser build).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        import os

        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}
