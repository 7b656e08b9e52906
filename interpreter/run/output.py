"""The output folder of a billing run (`ratecard run --out`), written as one unit.

`--out` receives one `<plan id>.json` per plan (`{"documents": [...], "rejected": [...]}`,
and `"failures"` when a document was not rated), `rejected.csv`, `balances.csv`
(the closing balances, unless the run is an estimate or a document failed) and
`manifest.json`. Every file is first written whole into a
private staging folder inside `--out` (the same file system, so moving a file
in is an atomic rename). While files are moved in, the manifest in place says
`"complete": false` and lists the earlier run's files and this run's; the
manifest saying `"complete": true` is moved in last. So a run stopped at any
moment leaves either the earlier run untouched or a folder that says it is
unfinished, and the next run knows which files were a run's to replace.

A plan id never becomes a path: it is percent-encoded into one file name.
An exclusive lock on `--out/.ratecard.lock` (there only while a run writes)
keeps two runs from writing one folder at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from interpreter.output.render import output_data, rejects_csv, visible

MANIFEST = "manifest.json"
REJECTS = "rejected.csv"
BALANCES = "balances.csv"
LOCK = ".ratecard.lock"
STAGING = ".ratecard-staging-"
_NAME_CHARACTERS = 200  # of the encoded id; file systems take 255 bytes per name


class OutputProblem(Exception):
    """`--out` cannot take this run (a usage problem: exit 2)."""


def output_name(plan_id: str) -> str:
    """The file of a plan's documents: `<id>.json`, every character of the id other than a
    letter, digit, `-`, `_`, `.` or `~` percent-encoded. Distinct ids get distinct names:
    the marks added for a leading dot, an empty id or a long one hold a `%` that encoding
    never writes (not followed by two hex digits)."""
    name = quote(plan_id, safe="")
    if name.startswith("."):
        name = "%2E" + name[1:]  # not hidden, never `.` or `..`
    if not name:
        name = "%~"
    if len(name) > _NAME_CHARACTERS:
        name = name[: _NAME_CHARACTERS - 18] + "%~" + hashlib.sha256(plan_id.encode("utf-8")).hexdigest()[:16]
    return name + ".json"


def colliding(paths_by_id: dict[str, str]) -> str | None:
    """Why the plans' files cannot share one folder, if they cannot (a name that only
    differs in case is one file on macOS and Windows; `manifest.json` is the run's)."""
    seen: dict[str, str] = {MANIFEST.casefold(): ""}
    for plan_id, path in sorted(paths_by_id.items()):
        name = output_name(plan_id)
        other = seen.setdefault(name.casefold(), plan_id)
        if other == "":
            return f"plan {plan_id!r} ({path}) would write {MANIFEST}, the run's manifest; give the plan another id"
        if other != plan_id:
            return (
                f"plans {other!r} ({paths_by_id[other]}) and {plan_id!r} ({path}) would write files whose names differ "
                "only in case; give one of them another id"
            )
    return None


def check_out(out_dir: str, force: bool) -> None:
    """Refuse an `--out` that cannot take the run, before the run is rated."""
    folder = Path(out_dir)
    try:
        if folder.exists():
            if not folder.is_dir():
                raise OutputProblem(f"{out_dir}: not a folder; --out names the folder for the run's files")
            if not force:
                _refuse_unless_empty(folder)
            return
        for parent in folder.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputProblem(f"{out_dir}: {parent} is not a folder")
                return
    except OSError as exc:
        raise OutputProblem(f"{out_dir}: cannot use the folder: {exc.strerror or exc}") from None


def _refuse_unless_empty(folder: Path) -> None:
    names = sorted(n for n in os.listdir(folder) if n != LOCK and not n.startswith(STAGING))  # a killed run's
    if MANIFEST in names:
        raise OutputProblem(f"{folder}: holds an earlier run ({MANIFEST}); give --force to replace it, or choose another --out")
    if names:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise OutputProblem(
            f"{folder}: is not empty ({shown}); choose an empty or new folder, or give --force to write the run beside these files"
        )


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the folder's run lock: an advisory `flock` on `.ratecard.lock`, released (and the
    file removed) when the run has written its files, or by the system if the process dies."""
    import fcntl

    path = folder / LOCK
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise OutputProblem(f"another run is writing {folder}; wait for it to finish") from None
        try:
            if os.stat(path).st_ino == os.fstat(handle).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(handle)  # locked a file the run before removed as it finished: lock the new one
    try:
        yield
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)  # before the lock is released, so no run locks a file no longer there
        os.close(handle)


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def input_checksums(customers: str, plans: list[str], usage: str, balances: str | None = None) -> dict | None:
    """What the run read, for the manifest: each file's SHA-256 and one over them all
    (None when an input is no regular file: the run refuses it, and a device never ends)."""
    if not all(Path(path).is_file() for path in (customers, usage, *plans, *([balances] if balances else []))):
        return None
    entries: dict[str, Any] = {
        "customers": {"path": customers, "sha256": file_sha256(customers)},
        "usage": {"path": usage, "sha256": file_sha256(usage)},
        "plans": [{"path": path, "sha256": file_sha256(path)} for path in sorted(plans)],
    }
    if balances:
        entries["balances"] = {"path": balances, "sha256": file_sha256(balances)}
    every = [entries["customers"], entries["usage"], *entries["plans"], *([entries["balances"]] if balances else [])]
    return entries | {"sha256": hashlib.sha256("".join(e["sha256"] for e in every).encode("ascii")).hexdigest()}


def pretty_json(data) -> str:
    """`json.dumps(data, indent=2, ensure_ascii=False)`, byte for byte, written by orjson.

    Python's json module indents in Python, value by value: for a run of
    50,000 documents that took longer than rating them.
    """
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    except (orjson.JSONEncodeError, TypeError):  # what orjson does not write (an integer past 64 bits, a lone surrogate)
        return json.dumps(data, indent=2, ensure_ascii=False)


def write_outputs(
    result, out_dir: str, force: bool = False, inputs: dict | None = None, period: str | None = None, as_of: str | None = None
) -> list[Path]:
    """Write a `RunResult` into `out_dir` as one unit; the paths written, the manifest last."""
    from interpreter.pricing.balances import balances_csv, unclosed_reason

    check_out(out_dir, force)
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputProblem(f"{out_dir}: cannot create the folder: {exc.strerror or exc}") from None
    with locked(folder):
        if not force:
            _refuse_unless_empty(folder)  # again: another run may have finished meanwhile
        for leftover in folder.glob(STAGING + "*"):  # of a run that was killed; none is live under the lock
            shutil.rmtree(leftover, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))
        try:
            files = []
            for run in result.runs:
                text = pretty_json(output_data(run.documents, run.rejected, run.failures)) + "\n"
                files.append(
                    {
                        "name": output_name(run.plan.id),
                        "plan": run.plan.id,
                        "customers": len(run.customers),
                        "documents": len(run.documents),
                        "rejected": len(run.rejected),
                        "failures": len(run.failures),
                    }
                    | _staged(staging, output_name(run.plan.id), text)
                )
            files.append({"name": REJECTS, "rows": len(result.rejected)} | _staged(staging, REJECTS, rejects_csv(result.rejected)))
            if unclosed_reason(as_of is not None, len(result.failures)) is None:
                closing = result.closing()
                files.append({"name": BALANCES, "rows": len(closing)} | _staged(staging, BALANCES, balances_csv(closing)))
            manifest = {"complete": True, "period": period, "as_of": as_of, "inputs": inputs, "files": files}
            _commit(folder, staging, manifest)
        except OSError as exc:
            raise OutputProblem(f"{out_dir}: cannot write the run's files: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return [folder / f["name"] for f in files] + [folder / MANIFEST]


def _staged(staging: Path, name: str, text: str) -> dict:
    _write_staged(staging / name, text)
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def _write_staged(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())  # on disk before it is renamed into place


def _move_in(staged: Path, target: Path) -> None:
    os.replace(staged, target)


def _commit(folder: Path, staging: Path, manifest: dict) -> None:
    new = [f["name"] for f in manifest["files"]]
    earlier = _run_files(folder)
    unfinished = {"complete": False, "files": [{"name": name} for name in sorted(set(earlier) | set(new))]}
    _manifest(folder, staging, unfinished)
    for name in new:
        _move_in(staging / name, folder / name)
    for name in earlier:
        if name not in new:
            (folder / name).unlink(missing_ok=True)
    _sync(folder)
    _manifest(folder, staging, manifest)
    _sync(folder)


def _manifest(folder: Path, staging: Path, data: dict) -> None:
    _write_staged(staging / MANIFEST, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    _move_in(staging / MANIFEST, folder / MANIFEST)


def _run_files(folder: Path) -> list[str]:
    """The files an earlier manifest in `folder` lists: only plain names of a run's kinds of file,
    whatever the manifest says (it is a file anyone could edit)."""
    try:
        listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files", [])
        names = [entry["name"] for entry in listed if isinstance(entry, dict) and isinstance(entry.get("name"), str)]
    except (OSError, ValueError, AttributeError):
        return []
    return [
        n
        for n in names
        if n == Path(n).name
        and n not in (MANIFEST, LOCK)
        and (n.endswith(".json") or n in (REJECTS, BALANCES))
        and "\x00" not in n
        and (folder / n).is_file()
    ]


def _sync(folder: Path) -> None:
    """The renames in `folder` on disk (a directory is synced through a descriptor of its own)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _value(line: str, key: str) -> str:
    """The text value of a top-level `key` of a document's JSON line (kind, currency, total). Inside a JSON
    string every quote is escaped, so `"key":"` can only be the key itself, and the first one is the document's."""
    start = line.index(f'"{key}":"') + len(key) + 4
    return line[start : line.index('"', start)]


def _totals(documents) -> str:
    """What a plan's documents add up to, for people: `, invoiced ₩990,000` (a sum per kind and currency)."""
    from interpreter.output.human import money

    sums: dict[tuple[str, str], Decimal] = {}
    for doc in documents:
        if isinstance(doc, str):  # its JSON line, whose keys are ratecard's: found by their text, not parsed again
            key, total = (_value(doc, "kind"), _value(doc, "currency")), Decimal(_value(doc, "total"))
        else:
            key, total = (doc.plan.kind, doc.plan.currency), doc.total
        sums[key] = sums.get(key, Decimal(0)) + total
    words = {"invoice": "invoiced", "settlement": "paid out"}
    return "".join(f", {words.get(kind, kind)} {money(total, currency)}" for (kind, currency), total in sorted(sums.items()))


def summary(result, written: list[Path], customers: str, period: str | None, as_of: str | None = None) -> tuple[list[str], list[str]]:
    """What `ratecard run` says when it is done: (lines for stdout, lines for stderr)."""
    from interpreter.output.render import failure_report
    from interpreter.pricing.balances import unclosed_reason

    out = [f"wrote {visible(path)}" for path in written]
    out += [
        f"{visible(run.plan.id)}: {len(run.customers)} customer(s), {len(run.documents)} document(s), "
        f"{len(run.rejected)} rejected row(s)"
        + (f", {len(run.failures)} document(s) not rated" if run.failures else "")
        + _totals(run.documents)
        for run in result.runs
    ]
    if result.unassigned:
        out.append(f"{len(result.unassigned)} row(s) rejected before rating (no customer, no plan, or a repeated event_id)")
    err = []
    if not any(run.documents for run in result.runs):
        err.append(
            f"no documents: the ledger has no accepted rows of the customers in {customers}"
            + (f" in period {period}" if period else "; give --period to bill them for a period without usage")
        )
    unclosed = unclosed_reason(as_of is not None, len(result.failures))
    if unclosed:
        err.append(f"balances not written to {BALANCES}: {unclosed}")
    err += [failure_report(run.failures, run.source, "written").rstrip("\n") for run in result.runs if run.failures]
    return out, err
