"""`ratecard test`: every plan scenario against its stored snapshot, reported scenario by scenario.

A scenario passes when its documents match the snapshot and the totals
written by hand in it hold. A changed snapshot is shown as a diff; with
`update` it is rewritten, unless the hand-written totals fail (the new
documents would then be accepted blind). A scenario whose file, plan or
snapshot cannot be used is an error of that scenario; the others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from interpreter.engines.core import RateProblem
from interpreter.pricing.evaluate import EvaluationError
from interpreter.review import snapshots
from interpreter.review.scenarios import ScenarioProblem, run, scenario_files


class RunnerProblem(Exception):
    """PATH or the snapshot folder cannot be used (a usage problem: exit 2)."""


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    updated: int = 0

    def summary(self) -> str:
        return f"scenarios: {self.passed} ok, {self.failed} failing" + (f", {self.updated} snapshot(s) updated" if self.updated else "")


def find(path: str, snapshot_dir: str | None) -> tuple[list[Path], Path]:
    """The scenario files under `path`, and the snapshot folder they are compared with (checked)."""
    root = Path(path)
    if not root.exists():
        raise RunnerProblem(f"{path}: no such file or folder")
    files = scenario_files(root)
    if not files:
        raise RunnerProblem(f"{path}: no scenarios found (plans/<plan>/scenarios/*.yaml)")
    folder = Path(snapshot_dir) if snapshot_dir else snapshots.default_dir(root)
    try:
        snapshots.check_folder(folder, levels=1 if snapshot_dir else len(snapshots.SNAPSHOT_DIR.parts))
    except snapshots.SnapshotProblem as problem:
        raise RunnerProblem(str(problem)) from None
    return files, folder


def run_all(files: list[Path], folder: Path, update: bool, write: Callable[[str], None]) -> Tally:
    """Run each scenario, `write` what became of it as it finishes (lines ending in a line break)."""
    tally = Tally()
    for file in files:
        name = snapshots.scenario_id(file)
        try:
            outcome = run(file)
            result = snapshots.compare(file, snapshots.snapshot_file(folder, file), outcome.data)
            problems = list(outcome.failures)
            if result.status != "same" and update and not problems:
                snapshots.write(result.snapshot, outcome.data)
        except (ScenarioProblem, RateProblem, EvaluationError, snapshots.SnapshotProblem) as problem:
            tally.failed += 1
            write(f"ERROR {name}: {getattr(problem, 'message', problem)}\n")
            continue
        if result.status != "same" and update and problems:
            problems.append("snapshot not updated: the totals written by hand in the scenario do not hold")
        elif result.status != "same" and update:
            tally.updated += 1
            write(f"UPDATED {name} ({result.status} snapshot written)\n")
            if result.diff:
                write(result.diff)
        elif result.status == "new":
            problems.append(f"no snapshot yet ({result.snapshot}); run with --update after reading the result")
        elif result.status == "changed":
            problems.append("documents differ from the snapshot:\n" + result.diff)
        if problems:
            tally.failed += 1
            write(f"FAIL {name}\n" + "".join(f"  {problem}\n" for problem in problems))
        else:
            tally.passed += 1
            if result.status == "same":
                write(f"ok   {name}\n")
    return tally
