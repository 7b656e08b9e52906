"""DuckDB's reading of CSV text: RFC 4180, every column as text under names given, never a guessed dialect.

CSV ledgers are read this way, and so are the rows a JSON lines ledger's
Python reading writes into a temporary CSV file.
"""

from __future__ import annotations

from collections.abc import Sequence

from interpreter.ledger.sql import literal

CSV_DIALECT = "delim = ',', quote = '\"', escape = '\"', comment = ''"  # RFC 4180; `#` starts no comment


def csv_scan(path: str, names: Sequence[str], header_line: int) -> str:
    """DuckDB's reading of a CSV file: every column as text, under the names of `csv_header`."""
    columns = "{" + ", ".join(f"{literal(name)}: 'VARCHAR'" for name in names) + "}"
    return f"read_csv({literal(path)}, header = true, skip = {header_line - 1}, auto_detect = false, columns = {columns}, {CSV_DIALECT})"
