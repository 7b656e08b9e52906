"""Expression text -> our AST, with spans in the plan file.

The Lark LALR parser is built once, lazily. Lark's parse errors and our own
literal checks become `Diagnostic`s; nothing escapes as an exception.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from dsl import ast
from dsl.errors import Diagnostic, Span, error

MAX_EXPRESSION_LENGTH = 10_000
MAX_DEPTH = 150

Locate = Callable[[int, int], Span]

_TOKEN_NAMES = {
    "NUMBER": "a number",
    "PERCENT": "a percent",
    "STRING": "a string",
    "DATE": "a date",
    "NAME": "a name",
    "COMPARE": "a comparison",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "DOT": "'.'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "IF": "'if'",
    "THEN": "'then'",
    "ELSE": "'else'",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
    "IN": "'in'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "$END": "the end of the expression",
}


class ParseFailure(Exception):
    """Raised inside the transformer; always caught in `parse`."""

    def __init__(self, offset: int, length: int, message: str):
        super().__init__(message)
        self.offset, self.length, self.message = offset, length, message


@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def text_locator(file: str, line: int = 1, column: int = 1) -> Locate:
    """A locator for a one-line expression that starts at `file:line:column`."""

    def locate(offset: int, length: int) -> Span:
        return Span(file, line, column + offset, line, column + offset + max(1, length))

    return locate


def parse(text: str, locate: Locate) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse one expression; on failure return None and the located problem."""
    from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if len(text) > MAX_EXPRESSION_LENGTH:
        return None, [error(locate(0, 1), f"expression is longer than {MAX_EXPRESSION_LENGTH} characters", "syntax")]
    if not text.strip():
        return None, [error(locate(0, 1), "expression is empty", "syntax")]
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        return None, [_bad_character(text, exc.pos_in_stream or 0, locate)]
    except UnexpectedEOF as exc:
        return None, [_ends_early(text, exc.expected, locate)]
    except UnexpectedToken as exc:
        token = exc.token
        expected = exc.accepts or exc.expected
        if token.type == "$END":
            return None, [_ends_early(text, expected, locate)]
        offset = token.start_pos or 0
        if token.type in ("COMPARE", "IN") and "AND" in expected:
            message = "comparisons cannot be chained; write `a < b and b < c`"
            return None, [error(locate(offset, len(token)), message, "syntax")]
        return None, [error(locate(offset, len(token)), f"unexpected {str(token)!r}; expected " + _expected(expected), "syntax")]
    except LarkError as exc:  # pragma: no cover - any other parser complaint
        return None, [error(locate(0, 1), f"cannot parse expression: {exc}", "syntax")]
    deep = _too_deep(tree)
    if deep is not None:
        message = f"expression is nested more than {MAX_DEPTH} levels deep (brackets, operators or calls inside each other); split it into named metrics or lines"
        return None, [error(locate(deep, 1), message, "syntax")]
    try:
        return _Builder(text, locate).build(tree), []
    except ParseFailure as exc:
        return None, [error(locate(exc.offset, exc.length), exc.message, "syntax")]


def _ends_early(text: str, expected, locate: Locate) -> Diagnostic:
    return error(locate(len(text.rstrip()), 1), "expression ends too early; expected " + _expected(expected), "syntax")


def _bad_character(text: str, offset: int, locate: Locate) -> Diagnostic:
    char = text[offset] if offset < len(text) else ""
    if char in "\"'":
        message = f"this text is not closed: add the closing {char} (on the same line)"
    elif char == "=":
        message = "unexpected '='; compare with ==, or write != for 'not equal'"
    else:
        message = f"unexpected character {char!r}"
    return error(locate(offset, 1), message, "syntax")


_VALUE_TOKENS = {"NUMBER", "PERCENT", "STRING", "DATE", "NAME", "TRUE", "FALSE", "LPAR", "MINUS", "PLUS", "NOT", "IF"}
_OPERATOR_TOKENS = {"PLUS", "MINUS", "STAR", "SLASH", "COMPARE", "AND", "OR", "IN", "NOT"}


def _expected(names) -> str:
    """What the parser would have accepted, in words a plan author knows."""
    names = set(names)
    shown = []
    if {"NUMBER", "NAME"} <= names:
        shown.append("a value (a number, name, text, date or '(')")
        names -= _VALUE_TOKENS
    elif "STAR" in names and "PLUS" in names:
        shown.append("an operator (+ - * /, a comparison, and, or, in)")
        names -= _OPERATOR_TOKENS
    shown += sorted(_TOKEN_NAMES.get(name, name.lower()) for name in names if name != "$END")
    if "$END" in names:
        shown.append(_TOKEN_NAMES["$END"])
    return " or ".join(shown) if shown else "something else"


def _too_deep(tree) -> int | None:
    """The offset of a node deeper than MAX_DEPTH, checked without recursion."""
    from lark import Tree

    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return getattr(node.meta, "start_pos", 0) if isinstance(node, Tree) else 0
        if isinstance(node, Tree):
            stack.extend((kid, depth + 1) for kid in node.children if isinstance(kid, Tree))
    return None


def _number(token: str) -> Decimal:
    return Decimal(token.replace("_", ""))


class _Builder:
    """Turns the Lark tree into `dsl.ast` nodes (depth already bounded)."""

    def __init__(self, text: str, locate: Locate):
        self.text = text
        self.locate = locate

    def span(self, node) -> Span:
        meta = node.meta
        start = getattr(meta, "start_pos", 0)
        end = getattr(meta, "end_pos", start + 1)
        return self.locate(start, end - start)

    def build(self, node) -> ast.Expr:
        from lark import Token

        if isinstance(node, Token):  # a bare token only appears for inlined atoms
            raise ParseFailure(node.start_pos or 0, len(node), f"unexpected {str(node)!r}")
        kind = node.data
        kids = node.children
        span = self.span(node)
        if kind == "number":
            return ast.Number(_number(kids[0]), span)
        if kind == "money":
            return ast.Money(_number(kids[0]), str(kids[1]), span)
        if kind == "percent":
            return ast.Percent(_number(kids[0][:-1]) / 100, span)
        if kind == "string":
            return ast.Text(_unquote(kids[0]), span)
        if kind == "date":
            try:
                value = datetime.date.fromisoformat(str(kids[0]))
            except ValueError:
                raise ParseFailure(kids[0].start_pos, len(kids[0]), f"{str(kids[0])!r} is not a valid date") from None
            return ast.Date(value, span)
        if kind in ("true", "false"):
            return ast.Bool(kind == "true", span)
        if kind == "name":
            return ast.Name(tuple(str(k) for k in kids), span)
        if kind == "call":
            args = tuple(self.build(k) for k in kids[1:] if k is not None)
            return ast.Call(str(kids[0]), args, span)
        if kind in ("neg", "pos", "not_"):
            op = {"neg": "-", "pos": "+", "not_": "not"}[kind]
            return ast.Unary(op, self.build(kids[0]), span)
        if kind == "compare":
            return ast.Binary(str(kids[1]), self.build(kids[0]), self.build(kids[2]), span)
        if kind in _BINARY:
            return ast.Binary(_BINARY[kind], self.build(kids[0]), self.build(kids[1]), span)
        if kind in ("in_", "not_in"):
            options = tuple(self.build(k) for k in kids[1].children if k is not None)
            return ast.In(self.build(kids[0]), options, kind == "not_in", span)
        if kind == "conditional":
            return ast.Conditional(self.build(kids[0]), self.build(kids[1]), self.build(kids[2]), span)
        raise ParseFailure(getattr(node.meta, "start_pos", 0), 1, f"unsupported construct {kind!r}")


_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "and_": "and", "or_": "or"}


def _unquote(token: str) -> str:
    body = token[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
