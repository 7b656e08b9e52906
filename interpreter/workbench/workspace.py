"""The folder the workbench serves: its plans, their samples, their saved and committed versions.

A plan is named by its path relative to the served folder, and only names
of plan files found in that folder are ever resolved: a request cannot reach
a file outside it, whatever the URL says. Files are written only by `save`
(and snapshots by `accept`, in the scenarios module), each called from an
explicit POST.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dsl.loader import plan_files
from interpreter.review.scenario_schema import UsageScenario
from interpreter.review.scenarios import ScenarioProblem, read_spec, scenario_files


class NotFound(Exception):
    """No plan or scenario of that name in the served folder."""


class Conflict(Exception):
    """The file changed on disk since the page loaded it."""


@dataclass(frozen=True)
class Sample:
    """Usage to rate a plan on: the ledger given to `serve`, or a plan's scenario."""

    id: str  # "ledger" or "scenario:<file stem>"
    label: str
    ledger: Path | None = None
    scenario: Path | None = None


@dataclass(frozen=True)
class Workspace:
    root: Path
    usage: Path | None = None
    customers: Path | None = None

    @classmethod
    def open(cls, path: str | Path, usage: str | None = None, customers: str | None = None) -> Workspace:
        root = Path(path).resolve()
        return cls(root, Path(usage).resolve() if usage else None, Path(customers).resolve() if customers else None)

    def plans(self) -> list[str]:
        """The names of the plan files in the folder (versioned plans in folders are listed file by file)."""
        files, _ = plan_files([str(self.root)]) if self.root.is_dir() else ([str(self.root)], [])
        base = self.root if self.root.is_dir() else self.root.parent
        return [Path(f).resolve().relative_to(base).as_posix() for f in files]

    def plan_path(self, name: str) -> Path:
        """The file of plan `name`; only names `plans()` lists resolve."""
        if name not in self.plans():
            raise NotFound(f"no plan {name!r} in {self.root}")
        base = self.root if self.root.is_dir() else self.root.parent
        return base / name

    def read(self, name: str) -> str:
        return self.plan_path(name).read_text(encoding="utf-8")

    def save(self, name: str, text: str, base_version: str) -> str:
        """Write the plan's text, unless the file changed since `base_version`; the new version."""
        path = self.plan_path(name)
        if version_of(path.read_bytes()) != base_version:
            raise Conflict(f"{name} changed on disk since it was loaded; load it again before saving")
        data = text.encode("utf-8")
        # written beside the plan and renamed over it, so an editor or `git` never sees half a file
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return version_of(data)

    def version(self, name: str) -> str:
        return version_of(self.plan_path(name).read_bytes())

    def scenarios(self, name: str) -> list[Path]:
        """The scenario files of a plan: `<plan folder>/<plan>/scenarios/*.yaml`."""
        path = self.plan_path(name)
        folder = path.parent / path.stem / "scenarios"
        return scenario_files(folder) if folder.is_dir() else []

    def scenario(self, name: str, stem: str) -> Path:
        for path in self.scenarios(name):
            if path.stem == stem:
                return path
        raise NotFound(f"plan {name!r} has no scenario {stem!r}")

    def samples(self, name: str) -> list[Sample]:
        """The usage a plan can be shown on: the served ledger first when it belongs to this plan
        (it lies in the plan's own folder, or in no plan's folder), then each usage scenario."""
        out = []
        path = self.plan_path(name)
        if self.usage is not None and self._ledger_fits(self.usage, path):
            out.append(Sample("ledger", f"Ledger {self.usage.name}", ledger=self.usage))
        for scenario in self.scenarios(name):
            try:
                spec = read_spec(scenario)
            except ScenarioProblem:
                continue  # the scenarios panel reports it
            if isinstance(spec, UsageScenario):
                out.append(Sample(f"scenario:{scenario.stem}", f"Scenario {scenario.stem.replace('_', ' ')}", scenario=scenario))
        return out

    def _ledger_fits(self, usage: Path, plan: Path) -> bool:
        folders = {p.parent / p.stem for p in (self.plan_path(n) for n in self.plans())}
        owner = next((f for f in folders if usage.is_relative_to(f)), None)
        return owner is None or owner == plan.parent / plan.stem

    def sample(self, name: str, sample_id: str | None) -> Sample | None:
        samples = self.samples(name)
        return next((s for s in samples if s.id == sample_id), samples[0] if samples else None)


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
