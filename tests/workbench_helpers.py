"""A served copy of the shipped plans for the workbench tests: plans, snapshots and a git revision."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEDGER = Path("portone_one_payment_infra") / "ledger_2024_11.csv"
PORTONE_FILE = "portone_one_payment_infra.yaml"


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout


def plans_repository(tmp_path: Path) -> Path:
    """tmp/plans and tmp/tests/__snapshots__/test_scenarios, committed in a fresh git repository; the plans folder."""
    shutil.copytree(ROOT / "plans", tmp_path / "plans")
    shutil.copytree(ROOT / "tests" / "__snapshots__" / "test_scenarios", tmp_path / "tests" / "__snapshots__" / "test_scenarios")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "plans")
    return tmp_path / "plans"


def snapshot_of(plans: Path, plan: str, scenario: str) -> Path:
    return plans.parent / "tests" / "__snapshots__" / "test_scenarios" / f"test_scenario[{plan}-{scenario}].json"
