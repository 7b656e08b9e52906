"""YAML plan files read safely, keeping the line and column of every key and value.

PyYAML only *composes* the document here (no Python objects are ever built from
tags); we resolve scalars ourselves so that `100_000` and `12.50` become
`Decimal`, never float, and `on:` stays the word "on", not a boolean. Limits on
file size, node count (alias expansion) and nesting depth turn hostile files into
one clear error, as does a `\\ud800` escape: a lone surrogate is no text.
"""

from __future__ import annotations

import functools
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
        lone = next((c for c in node.value if "\ud800" <= c <= "\udfff"), None)
        if lone is not None:  # no UTF-8 output (a document, a message, a file name) could hold it
            diags.append(
                error(
                    span,
                    f"invalid text: a lone surrogate \\u{ord(lone):04x} (YAML's \\u escape of half a pair; write the character itself)",
                    "yaml",
                )
            )
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


# What PyYAML reads as a line break, and what each break becomes in a folded value.
_BREAKS = "\r\n\x85\u2028\u2029"
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_BLANKS = " \t"
_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r", "e": "\x1b",
    " ": " ", '"': '"', "\\": "\\", "/": "/", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
Extents = tuple[tuple[int, int], ...]


def offset_span(text: str, node: Scalar, offset: int, length: int = 1) -> Span:
    """The file position of characters `offset` to `offset + length` of a scalar's value.

    The value is walked against the raw file text (see `_extents`), so that
    escapes (`\\"`, `\\u00e9`), doubled quotes (`''`), indentation and folded
    line breaks each cover what they take in the file: the span starts and ends
    where its text really is, on another line if the value was folded. When the
    value cannot be matched to the file, use `scalar_is_mapped` to find out:
    the position is then the start of the scalar.
    """
    raw = text[node.start_index : node.end_index]
    extents = _extents(raw, node.style, node.text)
    if extents is None:
        return Span(node.span.file, node.span.line, node.span.column, node.span.line, node.span.column + 1)
    if offset < len(extents):
        first = extents[offset][0]
        last = extents[min(offset + max(1, length), len(extents)) - 1][1]
    else:  # just after the value: after its last character (before a closing quote)
        first = last = extents[-1][1] if extents else _body_start(raw, node.style)
    line, column = _position(node, raw, first)
    end_line, end_column = _position(node, raw, last)
    if (end_line, end_column) <= (line, column):
        end_line, end_column = line, column + 1
    return Span(node.span.file, line, column, end_line, end_column)


def scalar_is_mapped(text: str, node: Scalar) -> bool:
    """Whether every character of the scalar's value was matched to its place in the file."""
    return _extents(text[node.start_index : node.end_index], node.style, node.text) is not None


def _position(node: Scalar, raw: str, index: int) -> tuple[int, int]:
    """Line and column in the file of `raw[index]`, counting line breaks as PyYAML does."""
    breaks = list(_BREAK.finditer(raw, 0, index))
    if not breaks:
        return node.span.line, node.span.column + index
    return node.span.line + len(breaks), index - breaks[-1].end() + 1


def _body_start(raw: str, style: str | None) -> int:
    if style in ("'", '"'):
        return 1
    if style in ("|", ">"):  # the value starts on the line after the `|` or `>` header
        found = _BREAK.search(raw)
        return found.end() if found else len(raw)
    return 0


@functools.lru_cache(maxsize=256)
def _extents(raw: str, style: str | None, value: str) -> Extents | None:
    """For each character of `value`, where in `raw` (a scalar as written) it came from.

    Follows what PyYAML's scanner does: an escape or a doubled quote gives one
    character; spaces before a line break are dropped and the break with the
    indentation after it becomes one space (or the blank lines after it become
    line breaks); an escaped line break gives nothing. Whatever a folded run of
    whitespace gives lies on the run. None when the value does not match the
    file, so that no position inside it is trusted.
    """
    out: list[tuple[int, int]] = []
    i, j = _body_start(raw, style), 0
    while j < len(value):
        if i >= len(raw):
            # the last line breaks of a block value (kept by `|+`) may lie past the node's end
            return tuple(out) + ((len(raw), len(raw)),) * (len(value) - j) if value[j:].isspace() else None
        r = raw[i]
        if style == '"' and r == "\\":
            nxt = raw[i + 1 : i + 2]
            if nxt and nxt in _BREAKS:  # an escaped line break joins the lines: only blank lines after it count
                end, given = _blank_lines(raw, _after_break(raw, i + 1))
            else:
                end = i + 2 + _ESCAPE_DIGITS.get(nxt, 0)
                escaped = _ESCAPES.get(nxt) if nxt not in _ESCAPE_DIGITS else _code(raw[i + 2 : end])
                if escaped is None:
                    return None
                given = escaped
        elif style == "'" and raw.startswith("''", i):
            end, given = i + 2, "'"
        elif style in ("|", ">"):
            if r not in _BLANKS + _BREAKS:
                end, given = i + 1, r
            else:  # no escapes in a block value: its whitespace runs are matched by what follows them
                end = i
                while end < len(raw) and raw[end] in _BLANKS + _BREAKS:
                    end += 1
                stop = j
                while stop < len(value) and value[stop] in _BLANKS + _BREAKS:
                    stop += 1
                given = value[j:stop]
        elif r in _BLANKS + _BREAKS and _folds(raw, i):
            end, given = _fold(raw, i)
        else:
            end, given = i + 1, r
        if value[j : j + len(given)] != given:
            return None
        out.extend([(i, end)] * len(given))
        i, j = end, j + len(given)
    return tuple(out)


def _code(digits: str) -> str | None:
    try:
        return chr(int(digits, 16))
    except ValueError:
        return None


def _after_break(raw: str, i: int) -> int:
    return i + 2 if raw.startswith("\r\n", i) else i + 1


def _given_by_break(raw: str, i: int) -> str:
    return raw[i] if raw[i] in "\u2028\u2029" else "\n"


def _blank_lines(raw: str, i: int) -> tuple[int, str]:
    """Indentation and blank lines after a line break: each blank line gives a line break."""
    given = ""
    while True:
        while i < len(raw) and raw[i] in _BLANKS:
            i += 1
        if i < len(raw) and raw[i] in _BREAKS:
            given += _given_by_break(raw, i)
            i = _after_break(raw, i)
        else:
            return i, given


def _folds(raw: str, i: int) -> bool:
    """Whether the whitespace at `i` of a flow value runs into a line break."""
    while i < len(raw) and raw[i] in _BLANKS:
        i += 1
    return i < len(raw) and raw[i] in _BREAKS


def _fold(raw: str, i: int) -> tuple[int, str]:
    """Spaces, a line break and what follows it in a quoted or plain value: a space, or the blank lines."""
    while raw[i] in _BLANKS:
        i += 1
    first = _given_by_break(raw, i)
    end, breaks = _blank_lines(raw, _after_break(raw, i))
    if first != "\n":
        return end, first + breaks
    return end, breaks or " "
