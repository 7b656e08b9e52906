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
import json
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
_PART = 1 << 24  # bytes of the file searched at a time
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a column name that is a JSON path as it stands

# JSON's own grammar for a flat object, less what Python and DuckDB read apart or a key found by its text could
# not be: \u0000 and lone surrogates (held differently), an escape in a key, white space before a colon
_HEX = "[0-9a-fA-F]"
_UNICODE = f"u(?:[1-9a-cA-CefEF]{_HEX}{{3}}|[dD][0-7]{_HEX}{{2}}|0(?:[1-9a-fA-F]{_HEX}{{2}}|0(?:[1-9a-fA-F]{_HEX}|0[1-9a-fA-F])))"
_STRING = rf'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|{_UNICODE}))*"'  # no \x00-\x1f in a string, as JSON forbids
_KEY = r'"[^"\\\x00-\x1f]*"'
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"  # no exponent: `json_cells` writes such a number out
_SPACE = r"[ \t]*"
_VALUE = f"(?:{_STRING}|{_NUMBER}|true|false|null)"
_PAIR = f"{_KEY}:{_SPACE}{_VALUE}"
_RAW_KEY = re.compile(_KEY)
_WORD = re.compile(r"[^A-Za-z0-9_]")
_FLAT = rf"{_SPACE}\{{{_SPACE}(?:{_PAIR}{_SPACE}(?:,{_SPACE}{_PAIR}{_SPACE})*)?\}}{_SPACE}"
_BLANK = "CASE WHEN prefix(__text, ' ') OR prefix(__text, '\t') THEN trim(__text, ' \t') = '' ELSE __text = '' END"


def jsonl_table(con, file: Path, columns: tuple[str, ...]) -> str:
    """The JSON lines as the view `__ledger_lines`: `__data_row` (blank lines not counted), a text
    column per name in `columns` (NULL when absent or "") and `__problem` (why the line is no row)."""
    con.execute(f"DROP VIEW IF EXISTS {TABLE}")
    if not all(_PLAIN.fullmatch(name) for name in columns) or _holds(file, (b"\r", b"\x01")):
        return python_table(con, file, columns)
    shape = literal(json.dumps(dict.fromkeys(columns, "VARCHAR")))
    cells = ", ".join(f"{_cell(name)} AS {ident(name)}" for name in columns)
    # A key given twice makes a rejected row, read by Python. The lines of a ledger mostly give the keys of its
    # first line, in that order: a line that matches them (`_same_keys`) gives each once, the others are counted.
    python = f"""
        CASE WHEN NOT regexp_full_match(__text, {literal(_FLAT)}) THEN TRUE
        ELSE list_unique(json_keys(__text)) <> len(json_keys(__text)) END
    """
    same = _same_keys(file)
    if same is not None:
        python = f"CASE WHEN regexp_full_match(__text, {literal(same)}) THEN FALSE ELSE {python} END"
    lines = f"SELECT __text, {python} AS __python FROM (SELECT coalesce(__text, '') AS __text FROM {_read(file)}) WHERE NOT {_BLANK}"
    try:
        # Made on every thread, in the order of the lines (the table keeps the order rows came in): the row id
        # numbers them. DuckDB parses only the lines Python does not read: another may be no JSON at all.
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            f"""CREATE OR REPLACE TABLE {CELLS} AS SELECT __python, {cells}
            FROM (SELECT *, CASE WHEN NOT __python THEN json_transform(__text, {shape}) END AS __v FROM ({lines}))""",
        )
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error:  # not UTF-8, a line too long: the Python reading says where
        return python_table(con, file, columns)
    names = ", ".join(ident(name) for name in columns)
    flat = f"SELECT rowid + 1 AS __data_row, {names}, CAST(NULL AS VARCHAR) AS {PROBLEM} FROM {CELLS}"
    if con.execute(f"SELECT count(*) FILTER (WHERE __python) FROM {CELLS}").fetchone()[0]:
        _python_rows(con, file, columns)
        flat = f"{flat} WHERE NOT __python UNION ALL SELECT * FROM {PYTHON}"
    con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS {flat}")
    return TABLE


def _same_keys(file: Path) -> str | None:
    """`_FLAT` for the keys of the file's first line, given each once and in that order (None when that line
    is no JSON object giving its keys once, each written without escapes)."""
    with file.open("rb") as handle:
        line = handle.readline()
    try:
        # an object's keys as a tuple, which JSON gives for nothing else
        keys = json.loads(line.decode("utf-8-sig"), object_pairs_hook=lambda pairs: tuple(key for key, _ in pairs))
    except (ValueError, RecursionError):
        return None
    if not isinstance(keys, tuple) or len(set(keys)) != len(keys) or not all(_written(key) for key in keys):
        return None
    # each character but a letter, digit or _ by its code point: nothing of a key is read as the regular expression's
    written = (_WORD.sub(lambda found: "\\x{" + format(ord(found[0]), "x") + "}", key) for key in keys)
    pairs = f"{_SPACE},{_SPACE}".join(f'"{key}":{_SPACE}{_VALUE}' for key in written)
    return rf"{_SPACE}\{{{_SPACE}{pairs}{_SPACE}\}}{_SPACE}"


def _written(key: str) -> bool:
    """Whether a key is written in the line as it stands (no escape) and is UTF-8 text."""
    return _RAW_KEY.fullmatch(f'"{key}"') is not None and not any(0xD800 <= ord(c) <= 0xDFFF for c in key)


def _cell(name: str) -> str:
    """The text `json_cells` gives the value of key `name` ("" and null as NULL, as DuckDB reads an empty
    cell); `__v` holds each value as text as DuckDB reads it: a string unescaped, a number through a DOUBLE."""
    value = f"__v.{ident(name)}"
    # A number's own text follows its key: in a flat object whose keys hold no escapes, "name": can only be that key
    # (a string's closing quote is never followed by a letter, nor one inside a string by the closing quote and a colon).
    # Only a value written as DuckDB writes a number (a sign or digit first, no colon) is looked for in the line.
    key = f'"{name}":'
    number = f"regexp_extract(substring(__text, strpos(__text, {literal(key)}) + {len(key)}), '^[ \\t]*(-?[0-9.]+)', 1)"
    return (
        f"CASE WHEN {value} >= '-' AND {value} < ':' AND NOT contains({value}, ':') THEN coalesce(nullif({number}, ''), {value}) "
        f"ELSE nullif({value}, '') END"
    )


def _read(file: Path) -> str:
    """DuckDB's reading of the file as one text column `__text` per line (NULL for an empty line)."""
    return (
        f"read_csv({literal(str(file))}, columns = {{'__text': 'VARCHAR'}}, header = false, auto_detect = false, "
        "delim = '\x01', quote = '', escape = '', comment = '')"
    )


def _python_rows(con, file: Path, columns: tuple[str, ...]) -> None:
    """The table `__ledger_python` of the lines that `__ledger_cells` marks for Python, each with its
    number in the file for the message that may stop the reading."""
    lines = f"(SELECT row_number() OVER () AS __line, coalesce(__text, '') AS __text FROM {_read(file)})"
    rows = con.execute(f"""
        SELECT __data_row, __line, __text FROM (SELECT row_number() OVER () AS __data_row, __line, __text FROM {lines} WHERE NOT {_BLANK})
        WHERE __data_row IN (SELECT rowid + 1 FROM {CELLS} WHERE __python) ORDER BY __line
    """).fetchall()
    _python_table(con, file, columns, rows)


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
    """Whether the file holds any of the bytes `marks`, read a part at a time: a mapping of the whole file
    would count every page of it as this process's memory."""
    with file.open("rb") as handle:
        while part := handle.read(_PART):
            if any(mark in part for mark in marks):
                return True
    return False


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
