"""Public entry points: plan files and folders in, compiled plans and problems out.

The stages run in order (read YAML, validate keys, compile) and each returns
its diagnostics; a later stage runs only when the earlier one produced what it
needs. Only the command line decides what to do with the problems.
"""

from __future__ import annotations

import datetime
import itertools
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from dsl import tree
from dsl.compiler import compile_plan
from dsl.errors import Diagnostic, Span, error, has_errors, sort_key
from dsl.lint import lint
from dsl.source import MAX_FILE_BYTES, Mapping, read_documents
from dsl.validate import validate

PLAN_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading one plan file."""

    path: str
    text: str
    plan: tree.Plan | None  # None when there were errors; the latest version otherwise
    diagnostics: tuple[Diagnostic, ...]
    versions: tuple[tree.Plan, ...] = ()  # every version, oldest first (one for an unversioned plan)


def load_plan_text(path: str, text: str) -> Loaded:
    """Load a plan file; several YAML documents (separated by `---`) are successive versions."""
    docs, problems = read_documents(path, text)
    if docs is None or has_errors(problems):
        return Loaded(path, text, None, tuple(sorted(problems, key=sort_key)))
    plans = []
    for doc in docs:
        plan, found = _compile_one(doc)
        problems += found
        plans.append(plan)
    problems = sorted(set(problems), key=sort_key)
    compiled = [plan for plan in plans if plan is not None]
    if has_errors(problems) or len(compiled) != len(plans):
        return Loaded(path, text, None, tuple(problems))
    versions, version_problems = order_versions(compiled)
    problems += version_problems
    if has_errors(problems):
        return Loaded(path, text, None, tuple(sorted(problems, key=sort_key)))
    return Loaded(path, text, versions[-1], tuple(problems), tuple(versions))


def compile_document(doc) -> tuple[tree.Plan | None, list[Diagnostic]]:
    """One located YAML document checked and compiled: the plan (None on errors) and every problem."""
    return _compile_one(doc)


def _compile_one(doc) -> tuple[tree.Plan | None, list[Diagnostic]]:
    model, problems, omitted = validate(doc)
    if model is None:
        return None, problems
    plan, compile_problems = compile_plan(doc, model)
    if omitted:  # entries left out for schema errors: do not report them again as unknown
        compile_problems = [d for d in compile_problems if not any(f"'{name}'" in d.message and d.code == "name" for name in omitted)]
    problems += compile_problems
    if plan is not None:
        # Warnings are shown beside errors, except in a part (a charge, a discount) that has
        # an error itself: there they would be about something other than what was written.
        broken = {_part_at(doc, d.span) for d in problems if d.severity == "error"}
        problems += [w for w in lint(plan) if not broken or _part_at(doc, w.span) not in broken]
    return (None if has_errors(problems) else plan), problems


def _part_at(doc, span: Span) -> tuple[str, str | None] | None:
    """The section and entry (`charges`, `storage`) a position falls in; None outside every section."""
    where = (span.line, span.column)
    if not isinstance(doc.root, Mapping):
        return None
    for key, value in doc.root.items:
        if not (key.span.line, key.span.column) <= where <= (value.span.end_line or 0, value.span.end_column or 0):
            continue
        for entry, inner in value.items if isinstance(value, Mapping) else ():
            if (entry.span.line, entry.span.column) <= where <= (inner.span.end_line or 0, inner.span.end_column or 0):
                return key.text, entry.text
        return key.text, None
    return None


def order_versions(plans: list[tree.Plan]) -> tuple[list[tree.Plan], list[Diagnostic]]:
    """Versions sorted by `effective`; they must be one plan, each with its own date."""
    if len(plans) == 1:
        return plans, []
    problems = []
    first = plans[0]
    for plan in plans:
        if plan.effective is None:
            problems.append(error(plan.span, f"plan {plan.id!r} has several versions: each needs `effective: YYYY-MM-DD`", "version"))
        for key in ("id", "kind", "currency", "period", "timezone"):
            if getattr(plan, key) != getattr(first, key):
                problems.append(
                    error(
                        plan.span,
                        f"every version must keep the same {key} ({getattr(first, key)!r}), not {getattr(plan, key)!r}",
                        "version",
                    )
                )
    dated = sorted((p for p in plans if p.effective is not None), key=lambda p: p.effective or datetime.date.min)  # all dated here
    for before, after in itertools.pairwise(dated):
        if before.effective == after.effective:
            problems.append(error(after.span, f"two versions take effect on {after.effective}", "version"))
    return dated, problems


def in_force(versions: tuple[tree.Plan, ...] | list[tree.Plan], day) -> tree.Plan | None:
    """The version in force on `day` (the latest that took effect on or before it)."""
    chosen = None
    for plan in versions:
        if plan.effective is None or plan.effective <= day:
            chosen = plan
    return chosen


def load_plan(path: str | Path) -> Loaded:
    """Load one plan file; a missing or unreadable file is a diagnostic too."""
    name = str(path)
    file = Path(path)
    if file.is_dir():
        return _load_folder(file)
    try:
        data = _read_bytes(file)
        text = data.decode("utf-8")
    except _Unreadable as exc:
        return Loaded(name, "", None, (error(Span(name, 1, 1), str(exc), "file"),))
    except FileNotFoundError:
        return Loaded(name, "", None, (error(Span(name, 1, 1), "no such file", "file"),))
    except IsADirectoryError:
        return _load_folder(file)
    except UnicodeDecodeError as exc:
        return Loaded(name, "", None, (not_utf8(name, data, exc),))
    except OSError as exc:
        return Loaded(name, "", None, (error(Span(name, 1, 1), f"cannot read file: {exc.strerror}", "file"),))
    return load_plan_text(name, text)


class _Unreadable(ValueError):
    """An input path that is not a regular file, or is too large; the message says which."""


def read_input(path: str | Path, what: str, limit: int) -> bytes:
    """The bytes of an input file other than a plan (a customers file, say), read as plan files
    are: a regular file only, never waiting on a pipe, at most `limit` bytes. Raises a
    `ValueError` saying why not (a NUL in the path is one too), or the `OSError` of opening it."""
    return _read_bytes(Path(path), what, limit)


def _read_bytes(file: Path, what: str = "plan file", limit: int | None = None) -> bytes:
    """At most the size limit, from a regular file only: a device (`/dev/zero`, or a `.yaml`
    link to one) would be read until memory runs out, and a pipe would wait for a writer."""
    limit = MAX_FILE_BYTES if limit is None else limit
    if not stat.S_ISREG(os.stat(file).st_mode):  # follows links, as opening does
        raise _Unreadable(f"not a regular file (a device, pipe or socket?): a {what} is text")
    descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # never waits, if swapped for a pipe
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise _Unreadable(f"not a regular file (a device, pipe or socket?): a {what} is text")
        if status.st_size > limit:
            raise _Unreadable(f"{what} is larger than {_size(limit)}")
        data = handle.read(limit + 1)  # the file may have grown since
    if len(data) > limit:
        raise _Unreadable(f"{what} is larger than {_size(limit)}")
    return data


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"


def _load_folder(folder: Path) -> Loaded:
    """A folder of plan files, each one version of the same plan."""
    files = sorted(p for p in folder.iterdir() if p.suffix in PLAN_SUFFIXES and not p.is_dir())
    if not files:
        return Loaded(str(folder), "", None, (error(Span(str(folder), 1, 1), "folder holds no plan versions (*.yaml)", "file"),))
    loaded = [load_plan(f) for f in files]
    if any(item.plan is None for item in loaded):
        return Loaded(str(folder), "", None, tuple(d for item in loaded for d in item.diagnostics))
    return _merge_versions(str(folder), loaded)


def _merge_versions(name: str, loaded: list[Loaded]) -> Loaded:
    """Plan files that are versions of one plan, as one plan with every version."""
    problems = [d for item in loaded for d in item.diagnostics]
    versions, version_problems = order_versions([v for item in loaded for v in item.versions])
    problems += version_problems
    plan = None if has_errors(problems) else versions[-1]
    return Loaded(name, "", plan, tuple(sorted(problems, key=sort_key)), tuple(versions) if plan else ())


def not_utf8(name: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    """Where the first byte that is not UTF-8 sits, as line and column."""
    before = data[: exc.start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
    byte = data[exc.start : exc.start + 1].hex()
    return error(Span(name, line, column), f"the file is not UTF-8 text (byte 0x{byte}); save it as UTF-8", "file")


def plan_files(paths: list[str]) -> tuple[list[str], list[Diagnostic]]:
    """Expand folders into their plan files (recursively, skipping scenarios)."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                # not only regular files: a device or broken link named *.yaml is reported, not skipped
                if p.suffix in PLAN_SUFFIXES and not p.is_dir() and "scenarios" not in p.relative_to(path).parts
            )
            if not found:
                problems.append(error(Span(raw, 1, 1), "folder holds no plan files (*.yaml)", "file"))
            files.extend(str(p) for p in found)
        else:
            files.append(raw)
    return files, problems


def load_paths(paths: list[str]) -> tuple[list[Loaded], list[Diagnostic]]:
    """Plan files and folders, each plan once: files of one folder holding the same plan
    are its versions, checked together as `rate` would use them."""
    files, problems = plan_files(paths)
    loaded = [load_plan(f) for f in files]
    groups: dict[tuple[str, str], list[Loaded]] = {}
    for item in loaded:
        if item.plan is not None:
            groups.setdefault((str(Path(item.path).parent), item.plan.id), []).append(item)
    out = []
    for item in loaded:
        key = (str(Path(item.path).parent), item.plan.id) if item.plan is not None else None
        if key is None or len(groups[key]) == 1:
            out.append(item)
        elif groups[key][0] is item:
            out.append(_merge_versions(key[0], groups[key]))
    return out, problems
