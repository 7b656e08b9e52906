"""Every plan scenario, rated and compared with its reviewed snapshot.

A plan edit that moves any invoice fails here until the snapshot is updated on
purpose (`pytest --snapshot-update`, then read the diff). The totals written
by hand in each scenario are checked too, so a wrong snapshot cannot be
blessed by accident.
"""

from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from interpreter.review.scenarios import run, scenario_files

PLANS = Path(__file__).resolve().parent.parent / "plans"
SCENARIOS = scenario_files(PLANS)


def scenario_id(path: Path) -> str:
    return f"{path.parent.parent.name}-{path.stem}"


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_every_shipped_plan_has_scenarios():
    plans = sorted(p.stem for p in PLANS.glob("*.yaml"))
    covered = {p.parent.parent.name for p in SCENARIOS}
    assert [p for p in plans if p not in covered] == []


def test_the_snapshot_folder_holds_regular_files_only():
    """syrupy would follow a symbolic link here (to read it, and with --snapshot-update to write
    through it); `ratecard test` refuses one, and so does the suite."""
    folder = PLANS.parent / "tests" / "__snapshots__" / "test_scenarios"
    assert not any(p.is_symlink() for p in (folder, *folder.parents[:2]))
    assert [p.name for p in folder.iterdir() if p.is_symlink() or not p.is_file()] == []


@pytest.mark.parametrize("path", SCENARIOS, ids=[scenario_id(p) for p in SCENARIOS])
def test_scenario(path, snapshot_json):
    outcome = run(path)
    assert outcome.failures == ()
    assert outcome.data == snapshot_json
