"""A plan's scenarios against their snapshots, and accepting a changed one.

The same comparison `ratecard test` makes, on the same snapshot files
(`tests/__snapshots__/test_scenarios/` beside the plans folder). Accepting
writes what `ratecard test --update` would write, and only under the same
rule: the totals written by hand in the scenario must hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from interpreter.engines.core import RateProblem
from interpreter.pricing.evaluate import EvaluationError
from interpreter.review import snapshots
from interpreter.review.scenarios import ScenarioProblem, run
from interpreter.workbench.panels import LOCK
from interpreter.workbench.workspace import Workspace


@dataclass(frozen=True)
class State:
    """One scenario: `same`, `changed` or `new` against its snapshot, `failing` its own expectations, or `error`."""

    stem: str
    description: str
    status: str
    failures: tuple[str, ...] = ()
    diff: str = ""

    @property
    def acceptable(self) -> bool:
        return self.status in ("changed", "new") and not self.failures


def snapshot_dir(workspace: Workspace) -> Path:
    return snapshots.default_dir(workspace.root)


def _outcome(path: Path):
    with LOCK:
        return run(path)


def state(workspace: Workspace, path: Path) -> tuple[State, dict | None]:
    description = ""
    try:
        from interpreter.review.scenarios import read_spec

        description = read_spec(path).description or ""
        outcome = _outcome(path)
    except (ScenarioProblem, RateProblem) as problem:
        return State(path.stem, description, "error", (str(problem),)), None
    except EvaluationError as exc:
        return State(path.stem, description, "error", (f"line {exc.span.line}: {exc.message}",)), None
    compared = snapshots.compare(path, snapshots.snapshot_file(snapshot_dir(workspace), path), outcome.data)
    status = "failing" if outcome.failures and compared.status == "same" else compared.status
    return State(path.stem, description, status, tuple(outcome.failures), compared.diff), outcome.data


def states(workspace: Workspace, name: str) -> list[State]:
    return [state(workspace, path)[0] for path in workspace.scenarios(name)]


_ATTENTION = {"error": 0, "failing": 1, "changed": 2, "new": 3, "same": 4}


def attention_first(found: list[State]) -> list[State]:
    """Scenarios that need a decision first, each group in file order."""
    return sorted(found, key=lambda item: _ATTENTION.get(item.status, 0))


def counts(found: list[State]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in found:
        key = "failing" if item.failures else item.status
        out[key] = out.get(key, 0) + 1
    return out


class NotAccepted(Exception):
    """The scenario cannot be accepted as it stands; the message says why."""


def accept(workspace: Workspace, name: str, stem: str) -> State:
    """Write the scenario's snapshot anew, as `ratecard test --update` does."""
    path = workspace.scenario(name, stem)
    found, data = state(workspace, path)
    if data is None:
        raise NotAccepted(f"{stem}: the scenario does not run ({'; '.join(found.failures)})")
    if found.failures:
        raise NotAccepted(f"{stem}: the totals written by hand in the scenario do not hold; fix the plan or the scenario")
    if found.status == "same":
        return found
    snapshots.write(snapshots.snapshot_file(snapshot_dir(workspace), path), data)
    return State(stem, found.description, "same")
