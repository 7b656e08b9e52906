"""Usage ledgers into DuckDB: typed, validated, and every rejected row kept.

The file is read once with every column as text, then typed in SQL: numbers
become DECIMAL(38,10) (never DOUBLE), timestamps honour their offset or fall
in the plan's time zone. A row with a missing or malformed value, a duplicate
`event_id` (the later one), a failed `require:` rule or a record above the
running quota gets a reason; such rows count nowhere and are all reported.
A file the engine cannot read at all is a `LedgerProblem` (exit status 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from dsl import tree
from interpreter.sql import ident, literal, to_sql

NUMBER_SQL = "DECIMAL(38,10)"
INTEGER_SQL = "DECIMAL(38,0)"
BUILTIN_COLUMNS = ("event_id", "customer", "timestamp")
_QUOTED = "('''' || {} || '''')"  # a SQL text value shown in single quotes


class LedgerProblem(Exception):
    """The ledger cannot be read at all (missing file, unknown format, missing column)."""


@dataclass(frozen=True)
class Rejected:
    """A ledger row that was not counted, and why."""

    row: int
    event_id: str | None
    reason: str


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_TIMESTAMP_TYPES = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE"}


def _scale(duck: str) -> int | None:
    if duck.startswith("DECIMAL(") and duck.endswith(")"):
        return int(duck[8:-1].split(",")[1])
    return None


def usable_as_is(kind: str, duck: str) -> bool:
    """Whether a Parquet column of type `duck` holds `kind` values exactly (no text round trip).

    Floating-point columns never qualify: they go through their shortest text
    form and the same checks as a CSV cell, so no binary fraction is summed.
    """
    scale = _scale(duck)
    if kind in ("money", "number", "percent"):
        return duck in _INTEGER_TYPES or (scale is not None and scale <= 10)
    if kind == "integer":
        return duck in _INTEGER_TYPES or scale == 0
    if kind == "bool":
        return duck == "BOOLEAN"
    if kind == "date":
        return duck == "DATE"
    if kind == "timestamp":
        return duck in _TIMESTAMP_TYPES
    return False


def source_sql(con, path: str, fields: tuple[tree.Field, ...]) -> tuple[str, set[str]]:
    """A SELECT over the file with a 1-based `__row`, and the columns kept in their own exact type.

    CSV and JSON lines are read as text; Parquet columns whose type already
    holds the field's values exactly are used as they are, the rest as text.
    """
    file = Path(path)
    if not file.is_file():
        raise LedgerProblem(f"{path}: no such ledger file")
    quoted = literal(str(file))
    suffix = file.suffix.lower()
    if suffix == ".csv":
        scan = f"read_csv({quoted}, header = true, all_varchar = true)"
    elif suffix in (".jsonl", ".ndjson"):
        scan = _jsonl_table(con, file, (*BUILTIN_COLUMNS, *(f.name for f in fields)))
    elif suffix == ".parquet":
        scan = f"read_parquet({quoted}, file_row_number = true)"
    else:
        raise LedgerProblem(f"{path}: ledger must be .csv, .jsonl or .parquet")
    try:
        description = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        names = [row[0] for row in description]
        described = [row[1] for row in description]
    except Exception as exc:  # duckdb raises its own error kinds for unreadable files
        raise LedgerProblem(f"{path}: cannot read ledger: {_first_line(exc)}") from None
    for column in BUILTIN_COLUMNS:
        if column not in names:
            raise LedgerProblem(f"{path}: ledger has no {column!r} column (columns: {', '.join(names)})")
    parts = []
    for f in fields:
        if f.name not in names and f.default is None:
            raise LedgerProblem(f"{path}: ledger has no {f.name!r} column and the plan gives it no default")
    types = dict(zip(names, described)) if suffix == ".parquet" else {}
    kinds = {"event_id": "text", "customer": "text", "timestamp": "timestamp", **{f.name: f.type.kind for f in fields}}
    native: set[str] = set()
    for name in (*BUILTIN_COLUMNS, *(f.name for f in fields)):
        if name not in names:
            parts.append(f"NULL::VARCHAR AS {ident(name)}")
        elif usable_as_is(kinds[name], types.get(name, "VARCHAR")):
            native.add(name)
            parts.append(ident(name))
        else:
            parts.append(f"CAST({ident(name)} AS VARCHAR) AS {ident(name)}")
    if suffix == ".parquet":
        row = "CAST(file_row_number + 1 AS BIGINT)"
    elif suffix in (".jsonl", ".ndjson"):
        row = "CAST(__line AS BIGINT)"
    else:
        row = "CAST(row_number() OVER () AS BIGINT)"
    return f"SELECT {row} AS __row, {', '.join(parts)} FROM {scan}", native


def _jsonl_table(con, file: Path, columns: tuple[str, ...]) -> str:
    """The JSON lines as a temp table of text columns, numbers kept exactly as written.

    DuckDB's JSON reader turns every non-integer number into a DOUBLE, so
    `1234567.1234567891` would come back as `...892`; Python's json module can
    hand over the number's own text instead. The rows go to DuckDB through a
    temporary CSV file (fast, and typed as text like any CSV ledger); `__line`
    is the line number in the file, blank lines skipped.
    """
    import csv
    import json
    import os
    import tempfile

    class Number(str):
        """The text of a JSON number, as written."""

    def cell(value) -> str:
        if isinstance(value, Number) and "e" in value.lower():
            return format(Decimal(value), "f")  # 1e-05 is exactly 0.00001
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)  # an object or list: kept as its JSON text

    handle, temp = tempfile.mkstemp(suffix=".csv", prefix="ratecard-ledger-")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out, \
                file.open(encoding="utf-8-sig") as lines:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("__line", *columns))
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, parse_float=Number, parse_int=Number, parse_constant=str)
                except ValueError as exc:
                    raise LedgerProblem(f"{file}:{number}: not a JSON object: {exc}") from None
                if not isinstance(record, dict):
                    raise LedgerProblem(f"{file}:{number}: not a JSON object")
                writer.writerow((number, *(cell(record.get(name)) for name in columns)))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __ledger_lines AS SELECT * FROM "
            f"read_csv({literal(temp)}, header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"')"
        )
    except UnicodeDecodeError as exc:
        raise LedgerProblem(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    finally:
        os.unlink(temp)
    return "__ledger_lines"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _typed_native(f: tree.Field) -> tuple[str, str]:
    """(SQL value, SQL reason-or-NULL) for a field whose column already has an exact type."""
    column = ident(f.name)
    kind = f.type.kind
    value = f"CAST({column} AS {NUMBER_SQL})" if kind in ("money", "number", "percent") else (
        f"CAST({column} AS {INTEGER_SQL})" if kind == "integer" else column)
    default = _default_sql(f)
    missing = "NULL" if default is not None else f"'missing value for {f.name}'"
    final = f"(CASE WHEN {column} IS NULL THEN {default or 'NULL'} ELSE {value} END)" if default is not None else value
    return final, f"(CASE WHEN {column} IS NULL THEN {missing} END)"


def _default_sql(f: tree.Field) -> str | None:
    if f.default is None:
        return None
    if f.type.kind in ("money", "number", "percent"):
        return f"CAST({literal(f.default)} AS {NUMBER_SQL})"
    if f.type.kind == "integer":
        return f"CAST({literal(f.default)} AS {INTEGER_SQL})"
    return literal(f.default)


def _typed(f: tree.Field) -> tuple[str, str]:
    """(SQL value, SQL reason-or-NULL) for one usage field read from text."""
    raw = f"NULLIF(trim({ident(f.name)}), '')"
    label = f.name
    kind = f.type.kind
    shown = f"'{label}: ' || {_QUOTED.format(raw)}"
    digits = f"replace({raw}, '_', '')"  # 100_000 as in plan files; only between digits
    grouped = f"regexp_full_match({raw}, '[-+]?[0-9](_?[0-9])*(\\.[0-9](_?[0-9])*)?')"
    if kind in ("money", "number"):
        ok = f"({grouped} AND regexp_full_match({digits}, '[-+]?[0-9]+(\\.[0-9]{{1,10}}0*)?'))"  # zeros past 10 places change nothing
        value = f"TRY_CAST({digits} AS {NUMBER_SQL})"
        bad = f"NOT {ok} OR {value} IS NULL"
        problem = f"{shown} || ' is not a number (at most 10 decimal places)'"
    elif kind == "integer":
        ok = f"({grouped} AND regexp_full_match({digits}, '[-+]?[0-9]+(\\.0+)?'))"  # 5.00 from a DECIMAL column is whole
        value = f"TRY_CAST({digits} AS {INTEGER_SQL})"
        bad = f"NOT {ok} OR {value} IS NULL"
        problem = f"{shown} || ' is not a whole number'"
    elif kind == "percent":
        number = f"regexp_replace({raw}, '%$', '')"
        ok = f"regexp_full_match({raw}, '[-+]?[0-9]+(\\.[0-9]{{1,8}})?%?')"
        scaled = f"TRY_CAST({number} AS {NUMBER_SQL})"
        value = f"(CASE WHEN {raw} LIKE '%\\%' ESCAPE '\\' THEN CAST({scaled} * CAST('0.01' AS DECIMAL(3,2)) AS {NUMBER_SQL}) ELSE {scaled} END)"
        bad = f"NOT {ok}"
        problem = f"{shown} || ' is not a percent'"
    elif kind == "bool":
        value = f"lower({raw}) IN ('true', '1')"
        bad = f"lower({raw}) NOT IN ('true', 'false', '1', '0')"
        problem = f"{shown} || ' is not true or false'"
    elif kind == "date":
        value = f"TRY_CAST({raw} AS DATE)"
        bad = f"NOT regexp_full_match({raw}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') OR {value} IS NULL"
        problem = f"{shown} || ' is not a date (YYYY-MM-DD)'"
    else:
        value = f"{ident(f.name)}"
        raw = f"NULLIF({ident(f.name)}, '')"
        bad = "FALSE"
        problem = "NULL"
        if f.values:
            allowed = ", ".join(literal(v) for v in f.values)
            bad = f"{value} NOT IN ({allowed})"
            problem = f"{shown} || ' is not one of {', '.join(f.values)}'"
    default = _default_sql(f)
    final = f"(CASE WHEN {raw} IS NULL THEN {default or 'NULL'} ELSE {value} END)"
    missing = "NULL" if default is not None else f"'missing value for {label}'"
    reason = f"(CASE WHEN {raw} IS NULL THEN {missing} WHEN {bad} THEN {problem} END)"
    return final, reason


def load(con, path: str, plan: tree.Plan) -> None:
    """Make `events` (accepted, typed rows) and `rejected` (row, event_id, reason).

    Each row's reason (a bad or missing value, a failed rule) is computed in
    one expression. One pass over the ledger then counts duplicate event ids
    and rejected rows; in the usual case (no duplicates, no quota) `events`
    is a view over the file and nothing is copied. Otherwise the typed rows
    are kept in a table where duplicates and the quota are marked.
    """
    source, native = source_sql(con, path, plan.fields)
    if "timestamp" in native:
        ts = 'CAST("timestamp" AS TIMESTAMPTZ)'
        ts_reason = "CASE WHEN \"timestamp\" IS NULL THEN 'missing timestamp' END"
    else:
        ts = 'TRY_CAST(trim("timestamp") AS TIMESTAMPTZ)'
        ts_reason = ("CASE WHEN NULLIF(trim(\"timestamp\"), '') IS NULL THEN 'missing timestamp' "
                     f"WHEN {ts} IS NULL THEN 'timestamp ' || " + _QUOTED.format('"timestamp"') + " || ' is not an ISO 8601 date-time' END")
    columns, reasons = [], [
        "CASE WHEN NULLIF(trim(event_id), '') IS NULL THEN 'missing event_id' END",
        "CASE WHEN NULLIF(trim(customer), '') IS NULL THEN 'missing customer' END",
        ts_reason,
    ]
    for f in plan.fields:
        value, reason = _typed_native(f) if f.name in native else _typed(f)
        columns.append(f"{value} AS {ident(f.name)}")
        reasons.append(reason)
    typed = ", ".join(columns)
    rules = [f"CASE WHEN NOT ({to_sql(rule.test)}) THEN {literal(rule.message)} END" for rule in plan.rules]
    row_typed = f"""
        SELECT __row, trim(event_id) AS event_id, trim(customer) AS customer, {ts} AS __ts,
               CAST({ts} AS DATE) AS "date" {', ' + typed if typed else ''},
               coalesce({', '.join(reasons)}) AS __reason
        FROM ({source}) AS src
    """
    checked = f"SELECT *, {'coalesce(__reason, ' + ', '.join(rules) + ')' if rules else '__reason'} AS __why FROM ({row_typed}) AS t"
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW checked_rows AS SELECT * EXCLUDE (__reason, __why), __why AS __reason FROM ({checked}) AS c")
        duplicates, refused = con.execute(
            "SELECT count(event_id) - count(DISTINCT event_id), count(*) FILTER (WHERE __reason IS NOT NULL) FROM checked_rows"
        ).fetchone()
    except Exception as exc:
        raise LedgerProblem(f"{path}: cannot read ledger: {_first_line(exc)}") from None
    if not duplicates and plan.quota is None:
        con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * EXCLUDE (__reason) FROM checked_rows WHERE __reason IS NULL")
        if refused:
            con.execute("CREATE OR REPLACE TEMP TABLE rejected AS SELECT __row, event_id, __reason FROM checked_rows WHERE __reason IS NOT NULL")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE rejected (__row BIGINT, event_id VARCHAR, __reason VARCHAR)")
        return
    con.execute("CREATE OR REPLACE TEMP TABLE checked AS SELECT * FROM checked_rows")
    if duplicates:
        _mark_duplicates(con)
    if plan.quota is not None:
        from interpreter.periods import calendar_period

        _check_quota(con, plan.quota, lambda day: calendar_period(plan.period, day)[0])
    con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * EXCLUDE (__reason) FROM checked WHERE __reason IS NULL")
    con.execute("CREATE OR REPLACE TEMP TABLE rejected AS SELECT __row, event_id, __reason FROM checked WHERE __reason IS NOT NULL")


def _mark_duplicates(con) -> None:
    """Every row after the first with the same event id is a duplicate (whatever else is wrong with it)."""
    con.execute("""
        UPDATE checked SET __reason = 'duplicate event_id (first seen at row ' || d.first_row || ')'
        FROM (
            SELECT event_id, min(__row) AS first_row FROM checked
            WHERE NULLIF(event_id, '') IS NOT NULL
            GROUP BY event_id HAVING count(*) > 1
        ) AS d
        WHERE checked.event_id = d.event_id AND checked.__row > d.first_row
    """)


def _check_quota(con, quota: tree.Quota, period_start=None) -> None:
    """Reject rows that take running usage above the running limit, in time order.

    Sequential by nature (a rejected row does not count toward later ones), so
    it runs in Python over only the rows that change usage or limit. A customer
    is limited from their first limit change on; before it (or without any)
    usage is unlimited. With `reset: period`, both running sums start again at
    each period (`period_start` maps a row's local date to its period).
    """
    usage, limit = ident(quota.usage), ident(quota.limit)
    rows = con.execute(f"""
        SELECT __row, customer, "date", {usage}, {limit}
        FROM checked
        WHERE __reason IS NULL AND ({usage} <> 0 OR {limit} <> 0)
        ORDER BY customer, __ts, __row
    """).fetchall()
    refused = []
    current, used, allowed, limited = None, 0, 0, False
    for row, customer, day, change, allowance in rows:
        key = (customer, period_start(day) if quota.reset == "period" and period_start else None)
        if key != current:
            if current is None or key[0] != current[0]:
                limited = False
            current, used, allowed = key, 0, 0
        allowed += allowance
        limited = limited or allowance != 0
        if limited and change > 0 and used + change > allowed:
            refused.append((row, f"{quota.message} (running usage {used + change} > quota {allowed})"))
            continue
        used += change
    if refused:
        con.executemany("UPDATE checked SET __reason = ? WHERE __row = ?", [(reason, row) for row, reason in refused])


def rejected_rows(con) -> list[Rejected]:
    rows = con.execute("SELECT __row, event_id, __reason FROM rejected ORDER BY __row").fetchall()
    return [Rejected(int(row), event_id, reason) for row, event_id, reason in rows]
