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
from interpreter.ledger.jsonl import PROBLEM, json_cells
from interpreter.ledger.sql import ident, literal

TABLE = "__ledger_lines"  # not TEMP: other cursors read it too
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


def jsonl_table(con, file: Path, columns: tuple[str, ...]) -> str:
    """The JSON lines as the table `__ledger_lines`: `__data_row` (blank lines not counted), a text
    column per name in `columns` (NULL when absent or "") and `__problem` (why the line is no row)."""
    if not all(_PLAIN.fullmatch(name) for name in columns) or _holds(file, (b"\r", b"\x01")):
        return python_table(con, file, columns)
    try:
        blanks, others = _lines(con, file)
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error:  # not UTF-8, a line too long: the Python reading says where
        return python_table(con, file, columns)
    number = (
        "CAST(__line - sum(CAST(__blank AS INTEGER)) OVER (ORDER BY __line ROWS UNBOUNDED PRECEDING) AS BIGINT)" if blanks else "__line"
    )
    paths = "[" + ", ".join(literal(f'$."{name}"') for name in columns) + "]"
    cells = ", ".join(f"{_cell(i, name)} AS {ident(name)}" for i, name in enumerate(columns, 1))
    flat = f"""
        SELECT __data_row, {cells}, CAST(NULL AS VARCHAR) AS {PROBLEM}
        FROM (SELECT __data_row, __text, CAST(json_extract(__text, {paths}) AS VARCHAR[]) AS __v FROM (SELECT {number} AS __data_row, * FROM __ledger_raw) WHERE NOT __blank AND NOT __python)
    """
    if not others:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS {flat}")
    else:
        rows = con.execute(f"""
            SELECT __data_row, __line, __text FROM (SELECT {number} AS __data_row, * FROM __ledger_raw)
            WHERE __python AND NOT __blank ORDER BY __line
        """).fetchall()
        with _python_rows(file, columns, rows) as scan:
            con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM ({flat} UNION ALL SELECT * FROM {scan}) ORDER BY __data_row")
    con.execute("DROP TABLE __ledger_raw")
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


def _lines(con, file: Path) -> tuple[int, int]:
    """The temporary table `__ledger_raw` of every line: its number, text, whether it is blank and whether
    Python reads it; the numbers of blank lines and of other lines Python reads."""
    read = (
        f"read_csv({literal(str(file))}, columns = {{'__text': 'VARCHAR'}}, header = false, auto_detect = false, "
        "delim = '\x01', quote = '', escape = '', comment = '')"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __ledger_raw AS
        SELECT __line, __text, NOT regexp_full_match(__text, {literal(_FLAT)}) AS __python,
               CASE WHEN prefix(__text, ' ') OR prefix(__text, '\t') THEN trim(__text, ' \t') = '' ELSE __text = '' END AS __blank
        FROM (SELECT row_number() OVER () AS __line, coalesce(__text, '') AS __text FROM {read})
    """)
    # A key given twice makes a rejected row, read by Python; the lists of keys of a ledger are few
    keys = "CASE WHEN NOT __python THEN json_keys(__text) END"
    lists = con.execute(f"SELECT DISTINCT {keys} FROM __ledger_raw WHERE NOT __python").fetchall()
    repeated = [names for (names,) in lists if names is not None and len(set(names)) != len(names)]
    if repeated:
        con.execute(
            f"UPDATE __ledger_raw SET __python = TRUE WHERE coalesce(list_contains($repeated, {keys}), FALSE)", {"repeated": repeated}
        )
    return con.execute(
        "SELECT count(*) FILTER (WHERE __blank), count(*) FILTER (WHERE __python AND NOT __blank) FROM __ledger_raw"
    ).fetchone()


def _holds(file: Path, marks: tuple[bytes, ...]) -> bool:
    """Whether the file holds any of the bytes `marks` (searched at memory speed)."""
    if file.stat().st_size == 0:
        return False
    with file.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return any(data.find(mark) >= 0 for mark in marks)


class _python_rows:
    """The rows Python reads, through a temporary CSV file, as a DuckDB scan (a context manager)."""

    def __init__(self, file: Path, columns: tuple[str, ...], lines) -> None:
        self.file, self.columns, self.lines = file, columns, lines

    def __enter__(self) -> str:
        handle, self.temp = tempfile.mkstemp(suffix=".csv", prefix="ratecard-ledger-")
        names = ("__data_row", *self.columns, PROBLEM)
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a lone \r too stays in its cell
            writer.writerow(names)
            for row, number, line in self.lines:
                cells = json_cells(line, number, self.columns, self.file)
                if cells is not None:  # a blank line is no row, as the Python reading has it
                    writer.writerow((row, *cells))
        casts = ", ".join(["CAST(__data_row AS BIGINT)", *(ident(name) for name in names[1:])])
        return f"(SELECT {casts} FROM {csv_scan(self.temp, names, 1)})"

    def __exit__(self, *_exc) -> None:
        os.unlink(self.temp)


def python_table(con, file: Path, columns: tuple[str, ...]) -> str:
    """`jsonl_table` with every line read by `json_cells`, through a temporary CSV file."""
    handle, temp = tempfile.mkstemp(suffix=".csv", prefix="ratecard-ledger-")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out, file.open(encoding="utf-8-sig") as lines:
            writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a lone \r too stays in its cell
            names = ("__data_row", *columns, PROBLEM)
            writer.writerow(names)
            row = 0
            for number, line in enumerate(lines, 1):
                cells = json_cells(line, number, columns, file)
                if cells is not None:
                    row += 1
                    writer.writerow((row, *cells))
        # the columns given, so that no sample of the rows is guessed at
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM {csv_scan(temp, names, 1)}")
    except UnicodeDecodeError as exc:
        raise LedgerProblem(utf8_problem(str(file)) or f"{file}: not UTF-8 text ({exc.reason})") from None
    finally:
        os.unlink(temp)
    return TABLE
