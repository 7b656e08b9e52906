"""Spans and diagnostics: where a problem is and how it is shown.

Errors are values. Every stage returns what it built together with a list of
`Diagnostic`; the loader collects them all and reports them at once.
"""

from __future__ import annotations

import re
import unicodedata
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


# What YAML counts as a line break (so line numbers agree with the parser's).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_SHOWN = 160  # longest source line shown in full


def format_diagnostic(d: Diagnostic, source: str | None = None) -> str:
    """`path:line:col: message`, with the source line and a caret when known.

    The caret is placed by terminal cells, so it stays under the spot after
    wide characters (Korean, Japanese, Chinese) earlier in the line.
    """
    head = f"{d.span.file}:{d.span.line}:{d.span.column}: {d.severity}: {d.message}"
    if source is None:
        return head
    lines = _LINE_BREAK.split(source)
    if not 1 <= d.span.line <= len(lines):
        return head
    text = lines[d.span.line - 1].replace("\t", " ")  # a tab counts as one column
    start = min(d.span.column - 1, len(text))
    width = 1
    if d.span.end_line == d.span.line and d.span.end_column:
        width = max(1, d.span.end_column - d.span.column)
    end = min(start + width, len(text))
    if len(text) > _SHOWN:  # show a window around the spot
        begin = max(0, start - _SHOWN // 3)
        stop = min(len(text), begin + _SHOWN)
        before, shown, after = ("…" if begin else ""), text[begin:stop], ("…" if stop < len(text) else "")
        text, start, end = before + shown + after, start - begin + len(before), min(end, stop) - begin + len(before)
    caret = " " * _cells(text[:start]) + "^" * max(1, _cells(text[start:end]))
    return f"{head}\n    {text}\n    {caret}"


def _cells(text: str) -> int:
    """Terminal width of `text`: wide characters take two cells, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def diagnostic_json(d: Diagnostic) -> dict:
    return {
        "file": d.span.file,
        "line": d.span.line,
        "column": d.span.column,
        "severity": d.severity,
        "code": d.code,
        "message": d.message,
    }
