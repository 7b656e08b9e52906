"""YAML plan files read safely, keeping the line and column of every key and value.

PyYAML only *composes* the document here (no Python objects are ever built from
tags); we resolve scalars ourselves so that `100_000` and `12.50` become
`Decimal`, never float, and `on:` stays the word "on", not a boolean. Limits on
file size, node count (alias expansion) and nesting depth turn hostile files into
one clear error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from dsl.errors import Diagnostic, Span, error
from dsl.yaml_slips import explain

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

_STANDARD_TAGS = {"tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}
_NUMBER = re.compile(r"^[-+]?\d(_?\d)*(\.\d(_?\d)*)?$")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


@dataclass(frozen=True)
class Scalar:
    """A scalar as written: its text, quoting style and where it sits."""

    text: str
    style: str | None  # None (plain), "'", '"', "|" or ">"
    span: Span
    start_index: int
    end_index: int


@dataclass(frozen=True)
class Mapping:
    """A YAML mapping; keys are scalars, in file order."""

    items: tuple[tuple[Scalar, Node], ...]
    span: Span


@dataclass(frozen=True)
class Sequence:
    """A YAML sequence."""

    items: tuple[Node, ...]
    span: Span


Node = Scalar | Mapping | Sequence


@dataclass(frozen=True)
class Document:
    """A plan file read into located nodes, with its text for caret lines."""

    path: str
    text: str
    root: Node | None


class _TooBig(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


def read_documents(path: str, text: str) -> tuple[list[Document] | None, list[Diagnostic]]:
    """Compose every YAML document of `text` (versions separated by `---`) into located nodes."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return None, [error(Span(path, 1, 1), f"plan file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")]
    try:
        composed_all = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        slip = explain(text, exc)
        if slip is not None:
            return None, [error(Span(path, slip[0], slip[1]), f"invalid YAML: {slip[2]}", "yaml")]
        mark = exc.problem_mark or exc.context_mark
        where = _mark_span(path, mark) if mark else Span(path, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if "'\\t'" in problem:
            problem += " (indent with spaces, not tabs)"
        return None, [error(where, f"invalid YAML: {problem}", "yaml")]
    except yaml.reader.ReaderError as exc:
        return None, [
            error(_offset_span(path, text, exc.position), f"character {_codepoint(exc.character)} is not allowed in a YAML file", "yaml")
        ]
    except yaml.YAMLError as exc:
        return None, [error(Span(path, 1, 1), f"invalid YAML: {exc}", "yaml")]
    except RecursionError:
        return None, [error(Span(path, 1, 1), "YAML nested too deeply", "yaml")]
    diagnostics: list[Diagnostic] = []
    counter = [0]
    documents = []
    try:
        for composed in composed_all:
            root = None if composed is None else _convert(path, composed, 0, counter, diagnostics)
            documents.append(Document(path, text, root))
    except _TooBig as exc:
        where = _mark_span(path, exc.mark) if exc.mark else Span(path, 1, 1)
        return None, [error(where, exc.message, "yaml")]
    return documents or [Document(path, text, None)], diagnostics


def read_document(path: str, text: str) -> tuple[Document | None, list[Diagnostic]]:
    """Compose `text`, which must hold one YAML document, into located nodes."""
    documents, problems = read_documents(path, text)
    if documents is None:
        return None, problems
    if len(documents) > 1:
        second = documents[1].root.span if documents[1].root is not None else Span(path, 1, 1)
        return None, problems + [error(second, "expected one YAML document, found several (separated by ---)", "yaml")]
    return documents[0], problems


def _offset_span(path: str, text: str, offset: int) -> Span:
    before = text[:offset]
    line = before.count("\n") + 1
    return Span(path, line, offset - (before.rfind("\n") + 1) + 1)


def _codepoint(character) -> str:
    code = character if isinstance(character, int) else ord(character)
    return f"U+{code:04X}"


def _mark_span(path: str, mark: yaml.Mark, end: yaml.Mark | None = None) -> Span:
    if end is None:
        return Span(path, mark.line + 1, mark.column + 1)
    return Span(path, mark.line + 1, mark.column + 1, end.line + 1, end.column + 1)


def _convert(path: str, node: yaml.Node, depth: int, counter: list[int], diags: list[Diagnostic]) -> Node:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise _TooBig(node.start_mark, f"plan has more than {MAX_NODES} YAML nodes (alias expansion?)")
    if depth > MAX_DEPTH:
        raise _TooBig(node.start_mark, f"YAML nested more than {MAX_DEPTH} levels deep (recursive alias?)")
    span = _mark_span(path, node.start_mark, node.end_mark)
    if node.tag not in _STANDARD_TAGS and node.tag != "tag:yaml.org,2002:merge":
        diags.append(error(span, f"YAML tag {node.tag!r} is not allowed in plan files", "yaml"))
    if isinstance(node, yaml.ScalarNode):
        return Scalar(node.value, node.style or None, span, node.start_mark.index, node.end_mark.index)
    if isinstance(node, yaml.SequenceNode):
        items = tuple(_convert(path, child, depth + 1, counter, diags) for child in node.value)
        return Sequence(items, span)
    pairs: list[tuple[Scalar, Node]] = []
    seen: dict[str, Scalar] = {}
    for key_node, value_node in node.value:
        key = _convert(path, key_node, depth + 1, counter, diags)
        value = _convert(path, value_node, depth + 1, counter, diags)
        if not isinstance(key, Scalar):
            diags.append(error(key.span, "mapping keys must be plain names", "yaml"))
            continue
        if key.text == "<<" and key.style is None:
            diags.append(error(key.span, "YAML merge keys (<<) are not supported in plan files", "yaml"))
            continue
        if key.text in seen:
            first = seen[key.text].span
            diags.append(error(key.span, f"duplicate key {key.text!r} (first defined on line {first.line})", "yaml"))
            continue
        seen[key.text] = key
        pairs.append((key, value))
    return Mapping(tuple(pairs), span)


def scalar_value(node: Scalar) -> Any:
    """Resolve a scalar: quoted text stays text; plain text may be null, bool or Decimal."""
    if node.style is not None:
        return node.text
    text = node.text
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _NUMBER.match(text):
        return Decimal(text.replace("_", ""))
    return text


def to_plain(node: Node | None) -> Any:
    """The node as plain Python data (dict, list, str, Decimal, bool, None)."""
    if node is None:
        return None
    if isinstance(node, Scalar):
        return scalar_value(node)
    if isinstance(node, Sequence):
        return [to_plain(item) for item in node.items]
    return {key.text: to_plain(value) for key, value in node.items}


def child(node: Node | None, step: str | int) -> tuple[Scalar | None, Node | None]:
    """The key and value at one step of a path (key is None for sequence items)."""
    if isinstance(node, Mapping) and isinstance(step, str):
        for key, value in node.items:
            if key.text == step:
                return key, value
    if isinstance(node, Sequence) and isinstance(step, int) and 0 <= step < len(node.items):
        return None, node.items[step]
    return None, None


_ESCAPE_LENGTHS = {"x": 4, "u": 6, "U": 10}
_RAW_SPACE = " \t\r\n"


def offset_span(text: str, node: Scalar, offset: int, length: int = 1) -> Span:
    """The file position of character `offset` of a scalar's value.

    Quoted and block scalars, and plain scalars folded over several lines, are
    walked against the raw file text so that the position is the real one:
    escapes (`\\"`, `\\u00e9`, an escaped line break), doubled quotes (`''`),
    indentation and folded line breaks are each matched to what they became.
    """
    raw = text[node.start_index : node.end_index]
    i = 0
    if node.style in ("'", '"'):
        i = 1
    elif node.style in ("|", ">"):
        newline = raw.find("\n")
        i = newline + 1 if newline >= 0 else len(raw)
    value = node.text
    j = 0
    while j < offset and i < len(raw) and j < len(value):
        r, v = raw[i], value[j]
        if r == "\\" and node.style == '"':
            nxt = raw[i + 1 : i + 2]
            if nxt in ("\n", "\r"):  # an escaped line break joins the lines: it gives nothing
                i += 2
                while i < len(raw) and raw[i] in _RAW_SPACE:
                    i += 1
                continue
            i += _ESCAPE_LENGTHS.get(nxt, 2)
            j += 1
        elif r == "'" and node.style == "'" and raw[i : i + 2] == "''":
            i += 2
            j += 1
        elif r == v:
            i += 1
            j += 1
        elif r in _RAW_SPACE and v in " \n":
            # A folded line break (with its indentation) became one space or newline(s).
            while i < len(raw) and raw[i] in _RAW_SPACE:
                i += 1
            while j < offset and j < len(value) and value[j] in " \n":
                j += 1
        elif r in _RAW_SPACE:
            i += 1
        else:
            i += 1
            j += 1
    # Indentation, blank lines and escaped line breaks in front of the character give no value character.
    while i < len(raw) and j < len(value) and value[j] not in " \t\n":
        if raw[i] in _RAW_SPACE:
            i += 1
        elif node.style == '"' and raw[i] == "\\" and raw[i + 1 : i + 2] in ("\n", "\r"):
            i += 2
        else:
            break
    before = raw[:i]
    line = node.span.line + before.count("\n")
    column = len(before) - before.rfind("\n") if "\n" in before else node.span.column + i
    return Span(node.span.file, line, column, line, column + max(1, length))
