"""Public entry points: plan files and folders in, compiled plans and problems out.

The stages run in order (read YAML, validate keys, compile) and each returns
its diagnostics; a later stage runs only when the earlier one produced what it
needs. Only the command line decides what to do with the problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dsl import tree
from dsl.compiler import compile_plan
from dsl.lint import lint
from dsl.errors import Diagnostic, Span, error, has_errors, sort_key
from dsl.source import MAX_FILE_BYTES, read_document
from dsl.validate import validate

PLAN_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading one plan file."""

    path: str
    text: str
    plan: tree.Plan | None  # None when there were errors
    diagnostics: tuple[Diagnostic, ...]


def load_plan_text(path: str, text: str) -> Loaded:
    doc, problems = read_document(path, text)
    if doc is None or has_errors(problems):
        return Loaded(path, text, None, tuple(sorted(problems, key=sort_key)))
    model, schema_problems = validate(doc)
    problems += schema_problems
    if model is None:
        return Loaded(path, text, None, tuple(sorted(problems, key=sort_key)))
    plan, compile_problems = compile_plan(doc, model)
    problems += compile_problems
    if plan is not None and not has_errors(problems):
        problems += lint(plan)
    problems = sorted(set(problems), key=sort_key)
    return Loaded(path, text, None if has_errors(problems) else plan, tuple(problems))


def load_plan(path: str | Path) -> Loaded:
    """Load one plan file; a missing or unreadable file is a diagnostic too."""
    name = str(path)
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            return Loaded(name, "", None, (error(Span(name, 1, 1), f"plan file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", "file"),))
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Loaded(name, "", None, (error(Span(name, 1, 1), "no such file", "file"),))
    except IsADirectoryError:
        return Loaded(name, "", None, (error(Span(name, 1, 1), "is a folder, not a plan file", "file"),))
    except UnicodeDecodeError as exc:
        return Loaded(name, "", None, (error(Span(name, 1, 1), f"not UTF-8 text ({exc.reason} at byte {exc.start})", "file"),))
    except OSError as exc:
        return Loaded(name, "", None, (error(Span(name, 1, 1), f"cannot read file: {exc.strerror}", "file"),))
    return load_plan_text(name, text)


def plan_files(paths: list[str]) -> tuple[list[str], list[Diagnostic]]:
    """Expand folders into their plan files (recursively, skipping scenarios)."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix in PLAN_SUFFIXES and p.is_file() and "scenarios" not in p.relative_to(path).parts
            )
            if not found:
                problems.append(error(Span(raw, 1, 1), "folder holds no plan files (*.yaml)", "file"))
            files.extend(str(p) for p in found)
        else:
            files.append(raw)
    return files, problems


def load_paths(paths: list[str]) -> tuple[list[Loaded], list[Diagnostic]]:
    files, problems = plan_files(paths)
    return [load_plan(f) for f in files], problems
