"""JSON lines ledgers: every value as the text it is written with, never a float.

DuckDB's JSON reader turns every non-integer number into a DOUBLE, so
`1234567.1234567891` would come back as `...892`; Python's json module can
hand over the number's own text instead. Both engines read a line with
`json_cells`: DuckDB through a temporary CSV file, Spark on its executors.

Each line stands alone: a line that is not a JSON object stops the reading
(the file is damaged), but a line that is ambiguous in itself (a key given
twice, an object or a list where a value belongs) or holds a string no text
can (a lone surrogate escape such as `\\ud800`) is a rejected row with
that reason (the `__problem` column), and the other rows are billed.
Rows are numbered as data rows: blank lines are not rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal

from interpreter.ledger.files import LedgerProblem

PROBLEM = "__problem"  # the column holding why a line cannot be a row ("" when it can)
_JSON_SPACE = " \t\r\n"  # the only white space JSON allows between values
_DIGITS = 60  # a number with an exponent is written out only when it stays this short


class _Number(str):
    """The text of a JSON number, as written."""


class _Object(dict):
    """A JSON object that remembers the keys written more than once in it."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> _Object:
    record = _Object(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        twice = []
        for key, _ in pairs:
            if key in seen:
                twice.append(key)
            seen.add(key)
        record.repeated = tuple(dict.fromkeys(twice))
    return record


def _json_cell(value) -> str:
    if isinstance(value, _Number) and "e" in value.lower():
        number = Decimal(value)
        if number.is_zero():
            return "0"
        # 1e-05 is exactly 0.00001; 1e999999999 would be a billion digits, and is no amount anyway
        return format(number, "f") if abs(number.adjusted()) <= _DIGITS else str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value  # a string, or the text of a number


def _lone_surrogate(text: str) -> str:
    """The first surrogate code point standing alone in `text` ("" if none): JSON's `\\ud800` escapes
    one, and no UTF-8 text, no engine's string column nor any document can hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return ""


def blank(line: str) -> bool:
    """A line with nothing but JSON white space is no row."""
    return not line.strip(_JSON_SPACE)


def json_cells(line: str, number: int, columns: Iterable[str], file) -> list[str] | None:
    """One line of a JSON lines ledger as text cells ("" when absent) then its problem ("" when none);
    None for a blank line.

    Numbers keep the text they are written with (never a float); `number` is
    the line's number in `file`, for the message when it is not an object.
    """
    if blank(line):
        return None
    try:
        record = json.loads(line, parse_float=_Number, parse_int=_Number, parse_constant=str, object_pairs_hook=_object)
    except RecursionError:
        raise LedgerProblem(f"{file}:{number}: line {number} is JSON nested too deeply to read") from None
    except ValueError as exc:
        raise LedgerProblem(f"{file}:{number}: not a JSON object: {exc}") from None
    if not isinstance(record, _Object):
        raise LedgerProblem(f"{file}:{number}: not a JSON object")
    cells, problems = [], [f"the key {key!r} appears twice in the row" for key in record.repeated]
    for name in columns:
        value = record.get(name)
        if name in record.repeated:
            value = None  # of two values, neither is picked
        elif isinstance(value, (dict, list)):
            problems.append(f"{name}: {'an object' if isinstance(value, dict) else 'a list'} in JSON, where a single value belongs")
            value = None
        elif isinstance(value, str) and (lone := _lone_surrogate(value)):
            problems.append(f"{name}: invalid text: a lone surrogate \\u{ord(lone):04x}")
            value = None
        cells.append(_json_cell(value))
    return [*cells, problems[0] if problems else ""]
