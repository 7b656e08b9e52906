"""JSON lines ledgers read by DuckDB: a table of text cells, numbers kept as written, no Python per row.

DuckDB's JSON functions turn every number into a DOUBLE (`12.30` comes back
as `12.3`, `1234567.1234567891` as `...892`), so DuckDB parses each line for
its strings, true, false and null, and a number's text is taken from the
line itself, after its key. That is done for the lines DuckDB and Python's
json module read alike and whose keys can be found by their text: a flat
object (text, numbers without an exponent, true, false, null), each key once
and written without escapes, checked by a regular expression of JSON's own
grammar. Every other line (a nested value, an exponent, a key given twice,
a line that is no JSON object) is read by `jsonl.json_cells`, as Spark reads
every line, so its cells, its rejection reason and the message that stops
the reading are those of the Python reading. A file DuckDB would split into
other lines than Python does (a carriage return, a \\x01 byte) or cannot
read (not UTF-8, a line past 2 MB) is read by `json_cells` altogether.
"""

from __future__ import annotations

import csv
import mmap
import os
import re
import tempfile
from pathlib import Path

import duckdb

from interpreter.engines.duckdb.csv_text import csv_scan
from interpreter.ledger.files import LedgerProblem, utf8_problem
from interpreter.ledger.jsonl import PROBLEM, blank, json_cells
from interpreter.ledger.sql import ident, literal

TABLE = "__ledger_lines"  # not TEMP: other cursors read it too
PYTHON = "__ledger_python"  # the rows Python reads
CELLS = "__ledger_cells"  # the cells DuckDB reads, a row per line that is not blank
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a column name that is a JSON path as it stands

# JSON's own grammar for a flat object, less what Python and DuckDB read apart or a key found by its text could
# not be: \u0000 and lone surrogates (held differently), an escape in a key, white space before a colon
_HEX = "[0-9a-fA-F]"
_UNICODE = f"u(?:[1-9a-cA-CefEF]{_HEX}{{3}}|[dD][0-7]{_HEX}{{2}}|0(?:[1-9a-fA-F]{_HEX}{{2}}|0(?:[1-9a-fA-F]{_HEX}|0[1-9a-fA-F])))"
_STRING = rf'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|{_UNICODE}))*"'  # no \x00-\x1f in a string, as JSON forbids
_KEY = r'"[^"\\\x00-\x1f]*"'
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"  # no exponent: `json_cells` writes such a number out
_SPACE = r"[ \t]*"
_PAIR = f"{_KEY}:{_SPACE}(?:{_STRING}|{_NUMBER}|true|false|null)"
_FLAT = rf"{_SPACE}\{{{_SPACE}(?:{_PAIR}{_SPACE}(?:,{_SPACE}{_PAIR}{_SPACE})*)?\}}{_SPACE}"
_BLANK = "CASE WHEN prefix(__text, ' ') OR prefix(__text, '\t') THEN trim(__text, ' \t') = '' ELSE __text = '' END"


def jsonl_table(con, file: Path, columns: tuple[str, ...]) -> str:
    """The JSON lines as the view `__ledger_lines`: `__data_row` (blank lines not counted), a text
    column per name in `columns` (NULL when absent or "") and `__problem` (why the line is no row)."""
    con.execute(f"DROP VIEW IF EXISTS {TABLE}")
    if not all(_PLAIN.fullmatch(name) for name in columns) or _holds(file, (b"\r", b"\x01")):
        return python_table(con, file, columns)
    read = _read(file)
    try:
        blanks, others, repeated = _survey(con, read)
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error:  # not UTF-8, a line too long: the Python reading says where
        return python_table(con, file, columns)
    lines = f"(SELECT coalesce(__text, '') AS __text FROM {read})"
    if blanks:
        lines = f"(SELECT __text FROM {lines} WHERE NOT {_BLANK})"
    paths = "[" + ", ".join(literal(f'$."{name}"') for name in columns) + "]"
    cells = ", ".join(f"{_cell(i, name)} AS {ident(name)}" for i, name in enumerate(columns, 1))
    python = others or repeated
    values = f"CAST(json_extract(__text, {paths}) AS VARCHAR[])"
    if python:  # DuckDB parses only the lines Python does not read: another may be no JSON at all
        flag = f"NOT regexp_full_match(__text, {literal(_FLAT)})"
        if repeated:
            flag = f"CASE WHEN {flag} THEN TRUE ELSE coalesce(list_contains($repeated, json_keys(__text)), FALSE) END"
        lines = f"(SELECT __text, {flag} AS __python FROM {lines})"
        values = f"CASE WHEN NOT __python THEN {values} END"
    # Made on every thread, in the order of the lines (DuckDB keeps the order of insertion): the row id numbers them
    con.execute(
        f"CREATE OR REPLACE TABLE {CELLS} AS SELECT {'__python, ' if python else ''}{cells} FROM (SELECT *, {values} AS __v FROM {lines})",
        {"repeated": repeated} if repeated else None,
    )
    names = ", ".join(ident(name) for name in columns)
    flat = f"SELECT rowid + 1 AS __data_row, {names}, CAST(NULL AS VARCHAR) AS {PROBLEM} FROM {CELLS}"
    if python:
        _python_rows(con, file, columns, repeated)
        flat = f"{flat} WHERE NOT __python UNION ALL SELECT * FROM {PYTHON}"
    con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS {flat}")
    return TABLE


def _cell(index: int, name: str) -> str:
    """The text `json_cells` gives the value of key `name` ("" and null as NULL, as DuckDB reads an empty
    cell); `__v[index]` is the value as DuckDB writes it again (a number through a DOUBLE)."""
    value = f"__v[{index}]"
    text = f"CASE WHEN contains({value}, '\\') THEN json_extract_string({value}, '$') ELSE substring({value}, 2, length({value}) - 2) END"
    # A number's own text follows its key: in a flat object whose keys hold no escapes, "name": can only be that key
    # (a string's closing quote is never followed by a letter, nor one inside a string by the closing quote and a colon).
    key = f'"{name}":'
    number = f"regexp_extract(substring(__text, strpos(__text, {literal(key)}) + {len(key)}), '^[ \\t]*(-?[0-9.]+)', 1)"
    return (
        f"CASE WHEN {value} IS NULL OR {value} = 'null' THEN NULL WHEN starts_with({value}, '\"') THEN nullif({text}, '') "
        f"WHEN {value} IN ('true', 'false') THEN {value} ELSE {number} END"
    )


def _read(file: Path) -> str:
    """DuckDB's reading of the file as one text column `__text` per line (NULL for an empty line)."""
    return (
        f"read_csv({literal(str(file))}, columns = {{'__text': 'VARCHAR'}}, header = false, auto_detect = false, "
        "delim = '\x01', quote = '', escape = '', comment = '')"
    )


def _survey(con, read: str) -> tuple[int, int, list[list[str]]]:
    """The numbers of blank lines and of other lines Python reads, and the lists of keys given twice
    in a flat line (such a line is a rejected row, read by Python). One pass on every thread."""
    groups = con.execute(f"""
        SELECT count(*) FILTER (WHERE __blank), count(*) FILTER (WHERE NOT __flat AND NOT __blank), __keys
        FROM (SELECT __blank, __flat, CASE WHEN __flat THEN json_keys(__text) END AS __keys
              FROM (SELECT __text, regexp_full_match(__text, {literal(_FLAT)}) AS __flat, {_BLANK} AS __blank
                    FROM (SELECT coalesce(__text, '') AS __text FROM {read})))
        GROUP BY __keys
    """).fetchall()
    # the lists of keys of a ledger are few
    repeated = [keys for _, _, keys in groups if keys is not None and len(set(keys)) != len(keys)]
    return sum(group[0] for group in groups), sum(group[1] for group in groups), repeated


def _python_rows(con, file: Path, columns: tuple[str, ...], repeated: list[list[str]]) -> None:
    """The table `__ledger_python` of the lines of `numbered` that Python reads (no flat object, or a
    key given twice), each line numbered in the file for the message that may stop the reading."""
    python = "FALSE"
    if repeated:  # json_keys only on a flat line: another may be no JSON at all
        python = "coalesce(list_contains($repeated, json_keys(__text)), FALSE)"
    # each line's number in the file beside its number as a data row (blank lines left out of the latter)
    lines = f"(SELECT row_number() OVER () AS __line, coalesce(__text, '') AS __text FROM {_read(file)})"
    rows = con.execute(
        f"""
        SELECT __data_row, __line, __text FROM (SELECT row_number() OVER () AS __data_row, __line, __text FROM {lines} WHERE NOT {_BLANK})
        WHERE CASE WHEN regexp_full_match(__text, {literal(_FLAT)}) THEN {python} ELSE TRUE END ORDER BY __line
        """,
        {"repeated": repeated} if repeated else None,
    ).fetchall()
    _python_table(con, file, columns, ((row, number, line) for row, number, line in rows))


def _python_table(con, file: Path, columns: tuple[str, ...], lines) -> None:
    """The table `__ledger_python` of `lines` (data row, line number, text) read by `json_cells`,
    through a temporary CSV file (no sample of the rows is guessed at: the columns are given)."""
    handle, temp = tempfile.mkstemp(suffix=".csv", prefix="ratecard-ledger-")
    try:
        names = ("__data_row", *columns, PROBLEM)
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a lone \r too stays in its cell
            writer.writerow(names)
            for row, number, line in lines:
                cells = json_cells(line, number, columns, file)
                if cells is not None:  # a blank line is no row, as the Python reading has it
                    writer.writerow((row, *cells))
        casts = ", ".join(["CAST(__data_row AS BIGINT) AS __data_row", *(ident(name) for name in names[1:])])
        con.execute(f"CREATE OR REPLACE TABLE {PYTHON} AS SELECT {casts} FROM {csv_scan(temp, names, 1)}")
    finally:
        os.unlink(temp)


def _holds(file: Path, marks: tuple[bytes, ...]) -> bool:
    """Whether the file holds any of the bytes `marks` (searched at memory speed)."""
    if file.stat().st_size == 0:
        return False
    with file.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return any(data.find(mark) >= 0 for mark in marks)


def python_table(con, file: Path, columns: tuple[str, ...]) -> str:
    """`jsonl_table` with every line read by `json_cells`."""

    def lines():
        row = 0
        with file.open(encoding="utf-8-sig") as text:
            for number, line in enumerate(text, 1):
                if not blank(line):
                    row += 1
                yield row, number, line

    try:
        _python_table(con, file, columns, lines())
    except UnicodeDecodeError as exc:
        raise LedgerProblem(utf8_problem(str(file)) or f"{file}: not UTF-8 text ({exc.reason})") from None
    con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS SELECT * FROM {PYTHON}")
    return TABLE
