"""The state of one plan while it compiles: document, model, diagnostics.

Also the helpers every compile step shares: finding the YAML position of a
key or value, and parsing plus checking an expression where it was written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from dsl import ast, schema
from dsl.checker import Scope, check, expect
from dsl.choices import Declared, never_values, unlisted_filters
from dsl.errors import Diagnostic, Span, error, warning
from dsl.parser import parse
from dsl.source import Document, Scalar, child, offset_span, scalar_is_mapped
from dsl.types import DATE, INTEGER, TEXT

ROW_BUILTINS = {"event_id": TEXT, "customer": TEXT, "date": DATE}
RESERVED_FIELDS = ("event_id", "customer", "timestamp", "date")
PERIOD = {"period.start": DATE, "period.end": DATE, "period.days": INTEGER}
RESERVED_LINES = ("subtotal", "total", "minimum")
METRIC_KINDS = ("count", "sum", "max", "min", "unique", "last", "time_weighted", "opening", "prorated")
KEYWORDS = ("if", "then", "else", "and", "or", "not", "in", "true", "false")
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _everywhere(span: Span) -> Callable[[int, int], Span]:
    """Where each part of a value lies when the value is not text in the file (a YAML number, a boolean)."""
    return lambda _offset, _length: span


def name_problem(name: str, what: str) -> str | None:
    """Why `name` cannot be written in an expression (None when it can)."""
    if not _PLAIN_NAME.match(name):
        return f"{what} name {name!r} must be a plain name (letters, digits and _, not starting with a digit) so expressions can use it"
    if name in KEYWORDS:
        return f"{name!r} is a word of the expression language; choose another {what} name"
    return None


class Compiler:
    """Holds the document, the model and the diagnostics while one plan compiles."""

    def __init__(self, doc: Document, model: schema.Plan):
        self.doc = doc
        self.model = model
        self.diagnostics: list[Diagnostic] = []
        self.currency = model.currency
        self.broken_metrics: set[str] = set()  # metrics with errors: used silently, not reported again
        self.choices: Declared = {}  # declared `values:` of text fields and attributes, once compiled
        self.unlisted: set[str] = set()  # usage text fields without `values:`
        self.warned_unlisted: set[str] = set()

    # -- positions -------------------------------------------------------
    def node(self, *path):
        node = self.doc.root
        key = None
        for step in path:
            key, node = child(node, step)
            if node is None:
                return None, None
        return key, node

    def span(self, *path) -> Span:
        key, node = self.node(*path)
        if node is not None:
            return node.span
        for cut in range(len(path) - 1, 0, -1):
            key, node = self.node(*path[:cut])
            if node is not None:
                return node.span
        return Span(self.doc.path, 1, 1)

    def key_span(self, *path) -> Span:
        key, node = self.node(*path)
        return key.span if key is not None else self.span(*path)

    def in_currency(self, *path) -> bool:
        """Whether the plain value at `path` is written with a currency (`100 USD`)."""
        _, node = self.node(*path)
        return isinstance(node, Scalar) and node.style is None and any(ch.isalpha() for ch in node.text)

    def fail(self, span: Span, message: str, code: str = "plan") -> None:
        self.diagnostics.append(error(span, message, code))

    def row_filter(self, expr) -> None:
        """Warn (once per field) about a row filter on usage text without `values:`."""
        self.diagnostics.extend(unlisted_filters(expr, self.unlisted, self.warned_unlisted))

    # -- expressions -----------------------------------------------------
    def parse(self, value, *path) -> ast.Expr | None:
        _, node = self.node(*path)
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        locate: Callable[[int, int], Span]
        if isinstance(node, Scalar):
            text = node.text if not isinstance(value, bool) else text
            locate = functools.partial(offset_span, self.doc.text, node)
            if not scalar_is_mapped(self.doc.text, node):
                where = Span(node.span.file, node.span.line, node.span.column)
                self.diagnostics.append(
                    warning(
                        where, "problems inside this value are shown at its start: its escapes could not be matched to the file", "yaml"
                    )
                )
        else:
            locate = _everywhere(self.span(*path))
        expr, problems = parse(text, locate)
        self.diagnostics.extend(problems)
        return expr

    def expression(self, value, scope: Scope, path: tuple, wanted: tuple[str, ...] | None = None, what: str = ""):
        """Parse and check one expression; returns (tree expr or None, referenced names)."""
        if value is None:
            return None, set()
        node = self.parse(value, *path)
        if node is None:
            return None, set()
        result = check(node, scope, self.currency)
        if wanted:
            expect(result, wanted, what)
        self.diagnostics.extend(result.diagnostics)
        self.diagnostics.extend(never_values(result.expr, self.choices))
        return result.expr, result.references
