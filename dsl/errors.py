"""Spans and diagnostics: where a problem is and how it is shown.

Errors are values. Every stage returns what it built together with a list of
`Diagnostic`; the loader collects them all and reports them at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A place in a plan file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a plan, with the place it points at."""

    span: Span
    message: str
    severity: str = "error"  # "error" | "warning"
    code: str = "plan"


def error(span: Span, message: str, code: str = "plan") -> Diagnostic:
    return Diagnostic(span, message, "error", code)


def warning(span: Span, message: str, code: str = "plan") -> Diagnostic:
    return Diagnostic(span, message, "warning", code)


def has_errors(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.column, d.message)


def format_diagnostic(d: Diagnostic, source: str | None = None) -> str:
    """`path:line:col: message`, with the source line and a caret when known."""
    head = f"{d.span.file}:{d.span.line}:{d.span.column}: {d.severity}: {d.message}"
    if source is None:
        return head
    lines = source.splitlines()
    if not 1 <= d.span.line <= len(lines):
        return head
    text = lines[d.span.line - 1].expandtabs(1)
    width = 1
    if d.span.end_line == d.span.line and d.span.end_column:
        width = max(1, d.span.end_column - d.span.column)
    width = min(width, max(1, len(text) - d.span.column + 1))
    caret = " " * (d.span.column - 1) + "^" * width
    return f"{head}\n    {text}\n    {caret}"


def diagnostic_json(d: Diagnostic) -> dict:
    return {
        "file": d.span.file,
        "line": d.span.line,
        "column": d.span.column,
        "severity": d.severity,
        "code": d.code,
        "message": d.message,
    }
