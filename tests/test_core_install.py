"""The core install (no Spark extra) must rate every kind of plan; the README's quick start and CI install it alike.

DuckDB hands TIMESTAMPTZ values to Python only through pytz, which comes
with the Spark extra (via pandas) but not with ratecard itself; CI installs
that extra, so this test hides pytz to keep the core path honest.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WITHOUT_PYTZ = "import sys; sys.modules['pytz'] = None; import cli; cli.main()"


@pytest.mark.parametrize(
    "scenario",
    [
        "plans/steppay_seats/scenarios/quota_rejections.yaml",  # quota: the sequential pass
        "plans/steppay_seats_prepaid/scenarios/quota_changes.yaml",  # opening / prorated levels
        "plans/portone_one_payment_infra/scenarios/annual_eligible.yaml",  # previous-period metrics
    ],
)
def test_scenarios_rate_without_pytz(scenario):
    done = subprocess.run([sys.executable, "-c", WITHOUT_PYTZ, "test", scenario], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 ok, 0 failing" in done.stdout


def quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^## Quick start\n+```sh\n(.*?)\n```", readme, re.S | re.M)
    assert block, "README.md opens with a '## Quick start' code block"
    return block.group(1).splitlines()


def test_each_quick_start_command_makes_its_own_virtual_environment():
    """On a fresh clone, and on a Python that refuses system-wide installs, each line works on its own."""
    rate, test = quick_start()
    for command in (rate, test):
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -e "), command
        assert " pip install" not in command.replace(".venv/bin/pip install", ""), command
    assert rate.split(" && ")[2].startswith(".venv/bin/ratecard rate plans/portone_one_payment_infra.yaml ")
    assert test.endswith(" && .venv/bin/pytest")


def test_ci_runs_the_readme_test_command_as_written():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quick_start()[1] in ci
