"""Scenario snapshots on disk, shared by `ratecard test` and the pytest suite.

One JSON file per scenario in `tests/__snapshots__/test_scenarios/`, named and
written byte for byte as syrupy's JSON extension writes them for
`tests/test_scenarios.py::test_scenario[<plan>-<scenario>]`, so there is one
source of truth whether a reviewer runs `ratecard test` or `pytest`.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

SNAPSHOT_DIR = Path("tests") / "__snapshots__" / "test_scenarios"


def scenario_id(path: Path) -> str:
    return f"{path.parent.parent.name}-{path.stem}"


def snapshot_file(snapshot_dir: Path, scenario: Path) -> Path:
    return snapshot_dir / f"test_scenario[{scenario_id(scenario)}].json"


def serialize(data: dict) -> str:
    """The exact text syrupy's JSON extension stores (keys sorted, 2-space indent)."""
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def default_dir(scenarios_root: Path) -> Path:
    """`tests/__snapshots__/test_scenarios` beside the plans folder that holds the scenarios."""
    root = scenarios_root.resolve()
    if root.is_file():
        root = root.parent
    for folder in (root, *root.parents):
        if folder.name == "plans":
            return folder.parent / SNAPSHOT_DIR
    return root / SNAPSHOT_DIR


@dataclass(frozen=True)
class Comparison:
    """A scenario's result against its stored snapshot."""

    scenario: Path
    snapshot: Path
    status: str  # "same", "changed" or "new"
    diff: str


def compare(scenario: Path, snapshot: Path, data: dict) -> Comparison:
    text = serialize(data)
    if not snapshot.exists():
        return Comparison(scenario, snapshot, "new", "")
    stored = snapshot.read_text(encoding="utf-8")
    if stored == text:
        return Comparison(scenario, snapshot, "same", "")
    lines = difflib.unified_diff(
        stored.splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile=f"{snapshot} (stored)", tofile=f"{scenario} (now)", n=3,
    )
    return Comparison(scenario, snapshot, "changed", "".join(lines))


def write(snapshot: Path, data: dict) -> None:
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.write_text(serialize(data), encoding="utf-8")
