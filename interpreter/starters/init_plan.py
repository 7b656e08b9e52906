"""`ratecard init`: a starter plan and a scenario to begin from.

The starters live beside this module, in `interpreter/starters/`, as `<example>.yaml` (the plan)
and `<example>.scenario.yaml` (its first scenario, with totals worked out by
hand). They are written to `<folder>/<example>.yaml` and
`<folder>/<example>/scenarios/first_month.yaml`, the layout `ratecard test`
and the workbench look for. Nothing is ever overwritten.
"""

from __future__ import annotations

from pathlib import Path

STARTERS = Path(__file__).resolve().parent
DEFAULT = "api_usage"


class InitProblem(Exception):
    """The starter cannot be written; the message says why."""


def examples() -> list[str]:
    return sorted(p.stem for p in STARTERS.glob("*.yaml") if not p.name.endswith(".scenario.yaml"))


def targets(folder: Path, example: str) -> list[tuple[Path, Path]]:
    """(starter file, where it goes) for the plan and its scenario."""
    return [
        (STARTERS / f"{example}.yaml", folder / f"{example}.yaml"),
        (STARTERS / f"{example}.scenario.yaml", folder / example / "scenarios" / "first_month.yaml"),
    ]


def next_steps(written: list[Path], folder: str | Path) -> str:
    """What `ratecard init` says it wrote, and what to run next."""
    return "".join(f"wrote {path}\n" for path in written) + (
        f"next: ratecard check {written[0]}; ratecard test {folder} --update (read the result first); ratecard serve {folder}"
    )


def write(folder: str | Path, example: str = DEFAULT) -> list[Path]:
    """Write the starter plan and scenario into `folder`; refuse if either file exists."""
    if example not in examples():
        raise InitProblem(f"no example {example!r}; choose one of {', '.join(examples())}")
    pairs = targets(Path(folder), example)
    existing = [str(target) for _, target in pairs if target.exists()]
    if existing:
        raise InitProblem(f"{', '.join(existing)} already exists; nothing was written (remove it or choose another --dir)")
    for source, target in pairs:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as handle:  # "x": never replace a file made meanwhile
            handle.write(source.read_text(encoding="utf-8"))
    return [target for _, target in pairs]
