"""Ledger files into DuckDB: read, typed and checked by the SQL of `interpreter.ledger`, rejected rows kept.

A CSV file is read by DuckDB with the columns of its header and RFC 4180
quoting, never a dialect guessed from a sample; a JSON lines file by
`duckdb.jsonl` into a table of text cells, so that numbers keep the text
they are written with; a Parquet file in its own column types where they
hold the values exactly. The views `checked_rows` and `events` then hold
every row with its `__reason`; `load` marks duplicates (`duplicates`) and
the quota (`quota`) in a table when there are any, and keeps the rejected
rows in the table `rejected`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsl import tree
from interpreter.engines.duckdb.csv_text import csv_scan
from interpreter.engines.duckdb.jsonl import jsonl_table
from interpreter.ledger import duplicates as duplicates_sql
from interpreter.ledger.files import LedgerProblem, csv_header, distinct_names, parquet_names
from interpreter.ledger.jsonl import PROBLEM
from interpreter.ledger.quota import quota_refusals, quota_rows_sql
from interpreter.ledger.rows import BUILTIN_COLUMNS, Rejected, checked_sql, select_columns, unreadable
from interpreter.ledger.sql import literal
from interpreter.periods import calendar_period

_REJECTED = '__row, event_id, __reason, "date"'  # the columns of the table `rejected`


@dataclass(frozen=True)
class Share:
    """The rows of a ledger that one plan rates, read by a caller that has already opened the ledger
    (a billing run): `con` is the caller's connection, `source` the SELECT of the rows (numbered) as
    `source_sql` gives it, `native` the columns kept in their own type. No event id repeats among
    them: the caller has judged duplicates."""

    con: Any
    source: str
    native: dict[str, str]


def source_sql(con, path: str, fields: tuple[tree.Field, ...], numbered: bool = True) -> tuple[str, dict[str, str]]:
    """A SELECT over the file with a 1-based `__row`, and the columns kept in their own exact type (-> that type).

    CSV and JSON lines are read as text; Parquet columns whose type already
    holds the field's values exactly are used as they are, the rest as text.
    Numbering a CSV file's rows makes DuckDB read it in one thread, so a
    reading that needs no row numbers may ask for none (`__row` is NULL).
    """
    file = Path(path)
    if not file.is_file():
        raise LedgerProblem(f"{path}: no such ledger file")
    suffix = file.suffix.lower()
    problem = "CAST(NULL AS VARCHAR)"  # why a row cannot be read (JSON lines only)
    if suffix == ".csv":
        # The header read here, the rows by DuckDB in RFC 4180 with the columns given, not a dialect
        # guessed from a sample: a quote first used late in the file must still quote, `#` must not
        # start a comment that drops a row unseen, and a ragged row is an error, not a new header.
        scan = csv_scan(str(file), *csv_header(str(file)))
    elif suffix in (".jsonl", ".ndjson"):
        scan = jsonl_table(con, file, (*BUILTIN_COLUMNS, *(f.name for f in fields)))
        problem = f"NULLIF({PROBLEM}, '')"
    elif suffix == ".parquet":
        scan = f"read_parquet({literal(str(file))}, file_row_number = true)"
    else:
        raise LedgerProblem(f"{path}: ledger must be .csv, .jsonl or .parquet")
    try:
        if suffix == ".parquet":
            distinct_names(path, parquet_names(con, str(file)), "")
        description = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        names = [row[0] for row in description]
        described = [row[1] for row in description]
    except LedgerProblem:
        raise
    except Exception as exc:  # duckdb raises its own error kinds for unreadable files
        raise unreadable(path, exc) from None
    types = dict(zip(names, described, strict=True)) if suffix == ".parquet" else {}
    parts, native = select_columns(path, names, types, fields)
    if suffix == ".parquet":
        row = "CAST(file_row_number + 1 AS BIGINT)"
    elif suffix in (".jsonl", ".ndjson"):
        row = "CAST(__data_row AS BIGINT)"
    elif numbered:
        row = "CAST(row_number() OVER () AS BIGINT)"
    else:
        row = "CAST(NULL AS BIGINT)"
    return f"SELECT {row} AS __row, {', '.join(parts)}, {problem} AS __problem FROM {scan}", native


def view(con, path: str, plan: tree.Plan, numbered: bool = True, share: Share | None = None) -> str:
    """Make the views `checked_rows` and `events` (typed rows, each with its `__reason`, NULL when accepted)
    over the file (or the `share` of it), without reading it yet; return the source SELECT they are made from."""
    if share is None:
        source, native = source_sql(con, path, plan.fields, numbered)
    else:
        source, native = share.source, share.native
    con.execute(f"CREATE OR REPLACE TEMP VIEW checked_rows AS {checked_sql(source, native, plan)}")
    con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM checked_rows")
    return source


def load(con, path: str, plan: tree.Plan, share: Share | None = None) -> None:
    """Make `events` (typed rows, each with its `__reason`, NULL when accepted) and `rejected`.

    Each row's reason (a bad or missing value, a failed rule) is computed in
    one expression. One pass over the ledger then counts possible duplicate
    events and rejected rows; in the usual case (no duplicates, no quota)
    `events` is a view over the file and nothing is copied. Otherwise the
    typed rows are kept in a table where duplicates and the quota are marked.
    """
    try:
        view(con, path, plan, share=share)
        possible = "0" if share is not None else duplicates_sql.possible_duplicates_sql()  # a share's are judged
        duplicates, refused = con.execute(f"SELECT {possible}, count(*) FILTER (WHERE __reason IS NOT NULL) FROM checked_rows").fetchone()
    except Exception as exc:
        raise unreadable(path, exc) from None
    if not duplicates and plan.quota is None:
        keep_rejected(con, refused)
        return
    con.execute("CREATE OR REPLACE TEMP TABLE checked AS SELECT * FROM checked_rows")
    if duplicates:
        con.execute(duplicates_sql.update_sql("checked"))
    if plan.quota is not None:
        _check_quota(con, plan, plan.quota)
    con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM checked")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rejected AS SELECT {_REJECTED} FROM checked WHERE __reason IS NOT NULL")


def keep_rejected(con, refused: int) -> None:
    """The table `rejected` from the (numbered) view `checked_rows`, when no row is a duplicate."""
    if refused:
        con.execute(f"CREATE OR REPLACE TEMP TABLE rejected AS SELECT {_REJECTED} FROM checked_rows WHERE __reason IS NOT NULL")
    else:
        con.execute('CREATE OR REPLACE TEMP TABLE rejected (__row BIGINT, event_id VARCHAR, __reason VARCHAR, "date" DATE)')


def _check_quota(con, plan: tree.Plan, quota: tree.Quota) -> None:
    """Reject the rows of the table `checked` that take running usage above the running limit (`quota`)."""
    # ordered in SQL and fetched without __ts: a TIMESTAMPTZ handed to Python would need pytz
    rows = con.execute(f"""
        SELECT __row, customer, "date", __usage, __limit FROM ({quota_rows_sql(quota, "checked")}) AS q
        ORDER BY customer, __ts, __row
    """).fetchall()
    refused = quota_refusals(rows, quota, lambda day: calendar_period(plan.period, day)[0])
    if refused:  # one statement: an UPDATE per refused row costs a round trip each (tens of thousands of them)
        con.execute(
            "UPDATE checked SET __reason = r.reason FROM (SELECT unnest($rows) AS row, unnest($reasons) AS reason) AS r "
            "WHERE checked.__row = r.row",
            {"rows": [row for row, _ in refused], "reasons": [reason for _, reason in refused]},
        )


def rejected_rows(con) -> list[tuple[Rejected, datetime.date | None]]:
    """The rows of the table `rejected`, each with its local date (None when it has none)."""
    rows = con.execute(f"SELECT {_REJECTED} FROM rejected ORDER BY __row").fetchall()
    return [(Rejected(int(row), event_id, reason), day) for row, event_id, reason, day in rows]
