"""JSON lines ledgers: every value as the text it is written with, never a float.

DuckDB's JSON reader turns every non-integer number into a DOUBLE, so
`1234567.1234567891` would come back as `...892`; Python's json module can
hand over the number's own text instead. Used by DuckDB (`jsonl_table`) and by
the Spark executors (`json_cells`) alike.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Iterable

from interpreter.ledger import _CSV_DIALECT, LedgerProblem
from interpreter.sql import literal


class _Number(str):
    """The text of a JSON number, as written."""


def _json_cell(value) -> str:
    if isinstance(value, _Number) and "e" in value.lower():
        return format(Decimal(value), "f")  # 1e-05 is exactly 0.00001
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # an object or list: kept as its JSON text


def json_cells(line: str, number: int, columns: Iterable[str], file) -> list[str] | None:
    """One line of a JSON lines ledger as text cells ("" when absent), or None for a blank line.

    Numbers keep the text they are written with (never a float); `number` is
    the line's number in `file`, for the message when it is not an object.
    """
    if not line.strip():
        return None
    try:
        record = json.loads(line, parse_float=_Number, parse_int=_Number, parse_constant=str)
    except ValueError as exc:
        raise LedgerProblem(f"{file}:{number}: not a JSON object: {exc}") from None
    if not isinstance(record, dict):
        raise LedgerProblem(f"{file}:{number}: not a JSON object")
    return [_json_cell(record.get(name)) for name in columns]


def jsonl_table(con, file: Path, columns: tuple[str, ...]) -> str:
    """The JSON lines as a table of text columns, numbers kept exactly as written.

    The rows go to DuckDB through a temporary CSV file (fast, and typed as
    text like any CSV ledger); `__line` is the line number in the file, blank
    lines skipped.
    """
    import csv
    import os
    import tempfile

    handle, temp = tempfile.mkstemp(suffix=".csv", prefix="ratecard-ledger-")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out, \
                file.open(encoding="utf-8-sig") as lines:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("__line", *columns))
            for number, line in enumerate(lines, 1):
                cells = json_cells(line, number, columns, file)
                if cells is not None:
                    writer.writerow((number, *cells))
        con.execute(
            "CREATE OR REPLACE TABLE __ledger_lines AS SELECT * FROM "  # not TEMP: other cursors read it too
            f"read_csv({literal(temp)}, header = true, all_varchar = true, {_CSV_DIALECT})"
        )
    except UnicodeDecodeError as exc:
        raise LedgerProblem(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    finally:
        os.unlink(temp)
    return "__ledger_lines"
