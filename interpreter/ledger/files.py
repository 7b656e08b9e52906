"""The shape of a ledger file, checked before the engine reads its rows and explained when it cannot.

A column named twice would leave the engine to pick one of two values
(DuckDB renames the second `amount_1`, Spark `amount4`), so such a file is
refused. A CSV file's header is read here, the rows by the engine, which
is told the columns instead of guessing the dialect from a sample. When
the engine fails on a CSV file, what it says ("Error when sniffing file", a
line count of its own) is replaced by what this module finds reading the
file again with Python's csv module: the line, and what was expected there.
Both engines thus give the same message.

Line numbers here are lines of the file (1 is the header). Row numbers of
rejected rows count data rows: the header and blank lines are not rows.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

_BOM = "\ufeff"
_EMPTY = "the file is empty; a CSV ledger starts with a header line naming its columns"
_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}


class LedgerProblem(Exception):
    """The ledger cannot be read at all (missing file, unknown format, a column missing or named twice,
    broken CSV structure); the message names the file and, where known, the line."""


class _LineProblem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


def distinct_names(path: str, names: Sequence[str], where: str) -> None:
    """Refuse a file that names a column twice (ignoring case, as both engines match column names)."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names, 1):
        first = seen.setdefault(name.lower(), index)
        if first != index:
            raise LedgerProblem(
                f"{path}{where}: the {'header' if where else 'file'} names the column {names[first - 1]!r} twice "
                f"(columns {first} and {index}); each column needs a name of its own"
            )


def parquet_names(con, path: str) -> list[str]:
    """The top-level column names of a Parquet file as written (DuckDB would rename a repeated one)."""
    rows = con.execute("SELECT name, coalesce(num_children, 0) FROM parquet_schema($1)", [path]).fetchall()
    names, pending = [], 0  # pending: nested columns still to skip under the current top-level one
    for name, children in rows[1:]:  # the first row is the schema's root
        if pending:
            pending += children - 1
            continue
        names.append(name)
        pending = children
    return names


def csv_header(path: str) -> tuple[list[str], int]:
    """The header's column names (a blank one named `columnN`) and its line (after any blank lines)."""
    try:
        for line, record in _records(path):
            if record:
                _header_shape(line, record)
                names = [name or f"column{index}" for index, name in enumerate(record)]
                distinct_names(path, names, f":{line}")
                return names, line
    except _LineProblem as problem:
        raise LedgerProblem(f"{path}:{problem.line}: {problem}") from None
    raise LedgerProblem(f"{path}: {_EMPTY}")


def _header_shape(line: int, record: list[str]) -> None:
    if any("\x00" in name for name in record):
        raise _LineProblem(line, f"line {line} holds a NUL byte (0x00): the file may be damaged or not text")
    if len(record) == 1:
        for mark, said in _DELIMITERS.items():
            if mark in record[0]:
                raise _LineProblem(line, f"the header is one column {record[0]!r}; a ledger's columns are separated by commas, not {said}")


def csv_problem(path: str) -> str | None:
    """What is wrong with the structure of a CSV file, with its line: `path:LINE: ...`; None if nothing is."""
    try:
        width = None
        for line, record in _records(path):
            if not record:
                continue  # a blank line is no row
            if width is None:
                _header_shape(line, record)
                width = len(record)
            elif len(record) != width:
                damaged = " (it holds NUL bytes: the file may be damaged)" if any("\x00" in cell for cell in record) else ""
                fields = f"{len(record)} field{'s' if len(record) != 1 else ''}"
                raise _LineProblem(line, f"line {line} has {fields} where the header has {width}{damaged}")
        if width is None:
            return f"{path}: {_EMPTY}"
    except _LineProblem as problem:
        return f"{path}:{problem.line}: {problem}"
    except OSError:
        return None
    return None


def utf8_problem(path: str) -> str | None:
    """`path:LINE: line LINE is not UTF-8 text ...` for the first line that is not; None when every line is.

    The bytes are decoded in large blocks and lines counted only once one fails,
    so a good file costs one pass at the decoder's speed. Spark's reading would
    put U+FFFD in the place of such bytes and bill the row under another text.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 24):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        try:
            for _ in _text_lines(Path(path)):
                pass
        except _LineProblem as problem:
            return f"{path}:{problem.line}: {problem}"
        return f"{path}: the file ends inside a character; save the ledger as UTF-8"
    return None


def _records(path: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of each record; a line that is not UTF-8 or a broken quote is a `_LineProblem`."""
    lines = _text_lines(Path(path))
    reader = csv.reader(lines, strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc) or "EOF" in str(exc):
                raise _LineProblem(start, f"line {start} opens a quoted cell that is never closed") from None
            if "expected after" in str(exc):
                raise _LineProblem(
                    reader.line_num,
                    f'line {reader.line_num} has a quoted cell followed by more text (a quote inside a quoted cell is written twice: "")',
                ) from None
            raise _LineProblem(reader.line_num, f"line {reader.line_num}: {exc}") from None
        yield start, record
        start = reader.line_num + 1


def _text_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _LineProblem(
                    number,
                    f"line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start + 1}); save the ledger as UTF-8",
                ) from None
            yield text[1:] if number == 1 and text.startswith(_BOM) else text
