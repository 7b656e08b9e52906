"""Scenario snapshots on disk, shared by `ratecard test` and the pytest suite.

One JSON file per scenario in `tests/__snapshots__/test_scenarios/`, named and
written byte for byte as syrupy's JSON extension writes them for
`tests/test_scenarios.py::test_scenario[<plan>-<scenario>]`, so there is one
source of truth whether a reviewer runs `ratecard test` or `pytest`.

Snapshots come with the repository under review, so they are handled as
untrusted: only regular files directly in a folder that is no symbolic link
are read or written. The folder is opened once without following links and
each file is opened relative to it, also without following links, so a link
put in place at any moment is refused rather than followed (a diff would show
the link's target; `--update` would overwrite it).
"""

from __future__ import annotations

import difflib
import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from dsl.errors import format_diagnostic
from dsl.loader import not_utf8

SNAPSHOT_DIR = Path("tests") / "__snapshots__" / "test_scenarios"

_NO_LINK = getattr(os, "O_NOFOLLOW", 0)
_NO_WAIT = getattr(os, "O_NONBLOCK", 0)  # a FIFO in place of a snapshot must not block the run
_FOLDER = getattr(os, "O_DIRECTORY", 0)


class SnapshotProblem(Exception):
    """A snapshot or snapshot folder that `ratecard test` refuses to read or write."""


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


def check_folder(folder: Path, levels: int = 1) -> None:
    """Refuse a snapshot folder that is not a folder, or whose last `levels` parts (3 for the
    default tests/__snapshots__/test_scenarios) include a symbolic link."""
    for part in [folder, *folder.parents][:levels]:
        if part.is_symlink():
            raise SnapshotProblem(f"{part}: the snapshot folder is under a symbolic link; give the real folder")
    if folder.exists() and not folder.is_dir():
        raise SnapshotProblem(f"{folder}: the snapshot folder is not a folder")


@dataclass(frozen=True)
class Comparison:
    """A scenario's result against its stored snapshot."""

    scenario: Path
    snapshot: Path
    status: str  # "same", "changed" or "new"
    diff: str


def compare(scenario: Path, snapshot: Path, data: dict) -> Comparison:
    text = serialize(data)
    stored = read(snapshot)
    if stored is None:
        return Comparison(scenario, snapshot, "new", "")
    if stored == text:
        return Comparison(scenario, snapshot, "same", "")
    lines = difflib.unified_diff(
        stored.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=f"{snapshot} (stored)",
        tofile=f"{scenario} (now)",
        n=3,
    )
    return Comparison(scenario, snapshot, "changed", "".join(lines))


def read(snapshot: Path) -> str | None:
    """The stored snapshot's text; None when there is none yet."""
    try:
        handle = _open(snapshot, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with handle:
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = format_diagnostic(not_utf8(str(snapshot), data, exc))
        raise SnapshotProblem(f"{where}, or delete it and run ratecard test --update") from None


def write(snapshot: Path, data: dict) -> None:
    try:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SnapshotProblem(f"{snapshot.parent}: cannot make the snapshot folder ({exc.strerror})") from None
    with _open(snapshot, os.O_WRONLY | os.O_CREAT) as handle:
        handle.truncate(0)  # only now: a file that is refused is left as it was
        handle.write(serialize(data).encode("utf-8"))


def _open(snapshot: Path, flags: int):
    """The snapshot opened in binary mode, refused unless it is a regular file in a real folder."""
    try:
        folder = os.open(snapshot.parent, os.O_RDONLY | _FOLDER | _NO_LINK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SnapshotProblem(_refusal(snapshot.parent, exc, "snapshot folder")) from None
    try:
        descriptor = os.open(snapshot.name, flags | _NO_LINK | _NO_WAIT, 0o666, dir_fd=folder)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SnapshotProblem(_refusal(snapshot, exc, "snapshot")) from None
    finally:
        os.close(folder)
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        what = "is a folder where a snapshot file should be" if stat.S_ISDIR(mode) else "is not a regular file"
        raise SnapshotProblem(f"{snapshot}: the snapshot {what}")
    return open(descriptor, "wb" if flags & os.O_WRONLY else "rb", closefd=True)


def _refusal(path: Path, exc: OSError, what: str) -> str:
    if exc.errno in (errno.ELOOP, errno.EMLINK) or path.is_symlink():
        return f"{path}: the {what} is a symbolic link; it must be a regular {'file' if what == 'snapshot' else 'folder'}"
    if exc.errno == errno.EISDIR:
        return f"{path}: the {what} is a folder where a snapshot file should be"
    if exc.errno == errno.ENXIO:
        return f"{path}: the {what} is not a regular file"
    if exc.errno == errno.ENOTDIR:
        return f"{path}: the {what} is not a folder"
    return f"{path}: cannot open the {what} ({exc.strerror})"
