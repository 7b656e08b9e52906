"""Usage ledgers into DuckDB: typed, validated, and every rejected row kept.

The file is read once with every column as text, then typed in SQL: numbers
become DECIMAL(38,10) (never DOUBLE), timestamps honour their offset or fall
in the plan's time zone. A row with a missing or malformed value, a duplicate
`event_id` (the later one), a failed `require:` rule or a record above the
running quota gets a reason; such rows count nowhere and are all reported.
A file the engine cannot read at all is a `LedgerProblem` (exit status 2);
`ledger_files` checks and explains the shape of the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from dsl import tree
from interpreter.ledger.instants import FIRST_DAY, LAST_DAY, OUTSIDE_YEARS, Dialect, duckdb_dialect, timestamp_sql
from interpreter.ledger.files import LedgerProblem, csv_header, csv_problem, csv_scan, distinct_names, parquet_names
from interpreter.ledger.sql import ident, literal, to_sql

NUMBER_SQL = "DECIMAL(38,10)"
INTEGER_SQL = "DECIMAL(38,0)"
BUILTIN_COLUMNS = ("event_id", "customer", "timestamp")
_QUOTED = "('''' || {} || '''')"  # a SQL text value shown in single quotes


def trimmed(text: str) -> str:
    """`trim(text)`, called only where there is a space to remove: most cells have none,
    and a value left as it is keeps DuckDB's dictionary encoding from Parquet."""
    return f"(CASE WHEN {text} LIKE ' %' OR {text} LIKE '% ' THEN trim({text}) ELSE {text} END)"


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
        from interpreter.ledger.jsonl import PROBLEM, jsonl_table

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
    types = dict(zip(names, described)) if suffix == ".parquet" else {}
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


def _nested(duck: str) -> bool:
    """A DuckDB (`VARCHAR[]`, `STRUCT(...)`) or Spark (`ARRAY<...>`) type holding several values."""
    return duck.endswith("]") or duck.startswith(("STRUCT", "MAP", "UNION", "ARRAY", "LIST"))


def select_columns(path: str, names: list[str], types: Mapping[str, str],
                   fields: tuple[tree.Field, ...]) -> tuple[list[str], dict[str, str]]:
    """The source's columns (builtins, then the plan's fields) as SQL, and those kept in their exact type.

    `types` gives the DuckDB type name of a column that has one of its own
    (Parquet); the rest are text. A missing field with a default is NULL.
    """
    for column in BUILTIN_COLUMNS:
        if column not in names:
            raise LedgerProblem(f"{path}: ledger has no {column!r} column (columns: {', '.join(names)})")
    for f in fields:
        if f.name not in names and f.default is None:
            raise LedgerProblem(f"{path}: ledger has no {f.name!r} column and the plan gives it no default")
    kinds = {"event_id": "text", "customer": "text", "timestamp": "timestamp", **{f.name: f.type.kind for f in fields}}
    parts, native = [], {}
    for name in (*BUILTIN_COLUMNS, *(f.name for f in fields)):
        if name not in names:
            parts.append(f"CAST(NULL AS VARCHAR) AS {ident(name)}")
        elif _nested(types.get(name, "VARCHAR")):
            raise LedgerProblem(f"{path}: the column {name!r} holds lists or records; a ledger column holds one value a row")
        elif usable_as_is(kinds[name], types.get(name, "VARCHAR")):
            native[name] = types[name]
            parts.append(ident(name))
        else:
            parts.append(f"CAST({ident(name)} AS VARCHAR) AS {ident(name)}")
    return parts, native


# How DuckDB and Spark say that a number does not fit its exact type (DECIMAL(38) at most)
_OVERFLOW = ("Out of Range Error", "Overflow in", "ARITHMETIC_OVERFLOW", "NUMERIC_VALUE_OUT_OF_RANGE", "DECIMAL_PRECISION_EXCEEDS")


def unreadable(path: str, exc: Exception) -> LedgerProblem:
    """The problem to report when the engine fails on the ledger.

    A CSV file is read again to say which line is malformed and how; a
    number past what DECIMAL(38) holds is said to be one; otherwise the
    first line of the engine's message.
    """
    text = str(exc).strip()
    lines = text.splitlines() or [type(exc).__name__]
    if Path(path).suffix.lower() == ".csv" and Path(path).is_file() and ("CSV" in text or "FAILFAST" in text):
        described = csv_problem(path)
        if described is not None:
            return LedgerProblem(described)
    overflow = next((line.strip() for line in lines if any(mark in line for mark in _OVERFLOW)), None)
    if overflow is not None:
        return LedgerProblem(f"{path}: a sum or product of the ledger's values has more than 38 digits and cannot "
                             f"be computed exactly ({overflow[:300]})")
    return LedgerProblem(f"{path}: cannot read ledger: {lines[0]}")


def _default_sql(f: tree.Field) -> str | None:
    if f.default is None:
        return None
    if f.type.kind in ("money", "number", "percent"):
        return f"CAST({literal(f.default)} AS {NUMBER_SQL})"
    if f.type.kind == "integer":
        return f"CAST({literal(f.default)} AS {INTEGER_SQL})"
    return literal(f.default)


@dataclass(frozen=True)
class _Reading:
    """How one field is read from its cell (trimmed, NULL when blank), each piece computed once per row.

    `cell` is the SQL of the cell over the source column; `helpers` are
    (column, SQL over the cell) computed beside it; `value`, `bad` and
    `problem` may use both.
    """

    cell: str
    helpers: tuple[tuple[str, str], ...]
    value: str
    bad: str
    problem: str


_TOO_LARGE = {kind: "has more than 38 digits" if kind == "integer" else "has more than 28 digits before the decimal point"
              for kind in ("money", "number", "percent", "integer")}


def _reading(f: tree.Field, native: bool, c: str) -> _Reading:
    """How field `f` is read from the cell column named `c`."""
    column = ident(f.name)
    kind = f.type.kind
    if native:  # the column's own type already holds the values exactly
        # Money and numbers stay in that type (sums of DECIMAL(18,2) are much cheaper than of
        # DECIMAL(38,10), and just as exact); a percent or integer field takes the plan's type.
        if kind in ("percent", "integer"):  # a HUGEINT, or 10^30 as a percent, does not fit: rejected, not an error
            n = f"{c}_n"
            return _Reading(column, ((n, f"TRY_CAST({c} AS {NUMBER_SQL if kind == 'percent' else INTEGER_SQL})"),), n,
                            f"{n} IS NULL", literal(f"{f.name} {_TOO_LARGE[kind]}"))
        if kind == "date":  # a Parquet date may be `infinity`, or of a year Python has no date for
            return _Reading(column, (), c, f"NOT ({c} BETWEEN DATE '{FIRST_DAY}' AND DATE '{LAST_DAY}')",
                            literal(f"{f.name} {OUTSIDE_YEARS}"))
        return _Reading(column, (), c, "FALSE", "NULL")
    cell = f"NULLIF({trimmed(column)}, '')"
    shown = f"{literal(f.name + ': ')} || {_QUOTED.format(c)}"
    n, ok = f"{c}_n", f"{c}_ok"
    if kind in ("money", "number", "integer"):
        whole = kind == "integer"
        places = "(\\.0+)?" if whole else "(\\.[0-9]{1,10}0*)?"  # zeros past 10 places change nothing
        # 100_000 as in plan files, underscores only between digits; most cells have none,
        # and for them the one pattern below says all
        grouped = f"regexp_full_match({c}, '[-+]?[0-9](_?[0-9])*(\\.[0-9](_?[0-9])*)?')"
        underscores = f"contains({c}, '_')"
        digits = f"(CASE WHEN {underscores} THEN replace({c}, '_', '') ELSE {c} END)"
        plain = f"regexp_full_match({digits}, '[-+]?[0-9]+{places}')"
        return _Reading(
            cell,
            ((n, f"TRY_CAST({digits} AS {INTEGER_SQL if whole else NUMBER_SQL})"),
             (ok, f"(CASE WHEN {underscores} THEN {grouped} AND {plain} ELSE {plain} END)")),
            n, f"NOT {ok} OR {n} IS NULL",
            f"{shown} || CASE WHEN {ok} THEN ' {_TOO_LARGE[kind]}' "
            f"ELSE ' is not {'a whole number' if whole else 'a number (at most 10 decimal places)'}' END",
        )
    if kind == "percent":
        return _Reading(
            cell,
            ((n, f"TRY_CAST(regexp_replace({c}, '%$', '') AS {NUMBER_SQL})"),
             (ok, f"regexp_full_match({c}, '[-+]?[0-9]+(\\.[0-9]{{1,8}})?%?')")),
            f"(CASE WHEN {c} LIKE '%\\%' ESCAPE '\\' THEN CAST({n} * CAST('0.01' AS DECIMAL(3,2)) AS {NUMBER_SQL}) ELSE {n} END)",
            f"NOT {ok} OR {n} IS NULL", f"{shown} || CASE WHEN {ok} THEN ' {_TOO_LARGE[kind]}' ELSE ' is not a percent' END",
        )
    if kind == "bool":
        lowered = f"{c}_lower"
        return _Reading(cell, ((lowered, f"lower({c})"),), f"{lowered} IN ('true', '1')",
                        f"{lowered} NOT IN ('true', 'false', '1', '0')", f"{shown} || ' is not true or false'")
    if kind == "date":
        return _Reading(cell, ((n, f"TRY_CAST({c} AS DATE)"),), n,
                        f"NOT regexp_full_match({c}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') OR {c} LIKE '0000%' OR {n} IS NULL",
                        f"{shown} || ' is not a date (YYYY-MM-DD)'")
    untrimmed = f"NULLIF({column}, '')"  # text is taken as written
    if f.values:
        allowed = ", ".join(literal(v) for v in f.values)
        return _Reading(untrimmed, (), c, f"{c} NOT IN ({allowed})",
                        f"{shown} || {literal(' is not one of ' + ', '.join(f.values))}")
    return _Reading(untrimmed, (), c, "FALSE", "NULL")


def checked_sql(source: str, native: Mapping[str, str], plan: tree.Plan, dialect: Dialect | None = None) -> str:
    """Every row of `source` typed, with `__reason` saying why it is refused (NULL when accepted).

    Columns: `__row, event_id, customer, __ts` (the instant), `"date"` (its
    local date), the plan's fields, `__reason`. `source` selects `__row` and
    the columns of `select_columns`; `native` names those in their own type.
    A row's reasons (a missing or bad value, then a failed rule) are one
    expression: the first that applies is the one reported.

    The query is layered so each cell is trimmed, parsed and matched once per
    row: cells, then what is read from them, then values and reasons, then rules.
    `dialect` is DuckDB's unless given.
    """
    dialect = dialect or duckdb_dialect(plan.timezone)
    cells = ["__row", "__problem", "event_id AS __id", f"{trimmed('customer')} AS customer"]
    stamp = timestamp_sql(dialect, native.get("timestamp"), trimmed, _QUOTED)
    cells += stamp.cells
    reads = ["*", *stamp.reads]
    values, reasons = [], [
        "__problem",  # a JSON line that is ambiguous in itself
        # blank once trimmed; only a cell starting with a space is trimmed to find out
        "CASE WHEN __id IS NULL OR __id = '' OR (__id LIKE ' %' AND trim(__id) = '') THEN 'missing event_id' END",
        "CASE WHEN customer IS NULL OR customer = '' THEN 'missing customer' END",
        stamp.reason,
    ]
    for index, f in enumerate(plan.fields):
        cell = f"__c{index}"
        reading = _reading(f, f.name in native, cell)
        cells.append(f"{reading.cell} AS {cell}")
        reads += [f"{expr} AS {name}" for name, expr in reading.helpers]
        default = _default_sql(f)
        values.append(f"(CASE WHEN {cell} IS NULL THEN {default or 'NULL'} ELSE {reading.value} END) AS {ident(f.name)}")
        missing = "NULL" if default is not None else literal(f"missing value for {f.name}")
        reasons.append(f"(CASE WHEN {cell} IS NULL THEN {missing} WHEN {reading.bad} THEN {reading.problem} END)")
    typed = f"""
        SELECT __row, {trimmed('__id')} AS event_id, customer, __ts, {dialect.local_date('__ts')} AS "date"{''.join(', ' + v for v in values)},
               coalesce({', '.join(reasons)}) AS __reason
        FROM (SELECT *, {stamp.instant} FROM (SELECT {', '.join(reads)} FROM (SELECT {', '.join(cells)} FROM ({source}) AS src) AS cells) AS reads) AS instants
    """
    rules = [f"CASE WHEN NOT ({to_sql(rule.test)}) THEN {literal(rule.message)} END" for rule in plan.rules]
    if not rules:
        return typed
    kept = ", ".join(["__row", "event_id", "customer", "__ts", '"date"', *(ident(f.name) for f in plan.fields)])
    return f"SELECT {kept}, coalesce(__reason, {', '.join(rules)}) AS __reason FROM ({typed}) AS t"


def view(con, path: str, plan: tree.Plan, numbered: bool = True) -> str:
    """Make the views `checked_rows` and `events` (typed rows, each with its `__reason`, NULL when accepted)
    over the file, without reading it yet; return the source SELECT they are made from."""
    source, native = source_sql(con, path, plan.fields, numbered)
    con.execute(f"CREATE OR REPLACE TEMP VIEW checked_rows AS {checked_sql(source, native, plan)}")
    con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM checked_rows")
    return source


def repeated_ids_sql(source: str) -> str:
    """How many rows of `source` may repeat an earlier row's event id (0: none does).

    The 64-bit hashes of the ids are sorted and each compared with the one
    before: much cheaper on millions of rows than a set of the ids, and about
    half the memory of a hash table of the hashes. Equal ids always hash
    alike, so no duplicate is missed; a rare collision only sends the run down
    the exact path of `load`.
    """
    hashed = f"SELECT hash({trimmed('event_id')}) AS h FROM ({source}) AS s WHERE event_id IS NOT NULL"
    return f"SELECT count(*) FILTER (WHERE h = before) FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before FROM ({hashed}) AS t) AS o"


def load(con, path: str, plan: tree.Plan) -> None:
    """Make `events` (typed rows, each with its `__reason`, NULL when accepted) and `rejected` (row, event_id, reason).

    Each row's reason (a bad or missing value, a failed rule) is computed in
    one expression. One pass over the ledger then counts duplicate event ids
    and rejected rows; in the usual case (no duplicates, no quota) `events`
    is a view over the file and nothing is copied. Otherwise the typed rows
    are kept in a table where duplicates and the quota are marked.
    """
    try:
        view(con, path, plan)
        duplicates, refused = con.execute(
            "SELECT count(event_id) - count(DISTINCT hash(event_id)), count(*) FILTER (WHERE __reason IS NOT NULL) FROM checked_rows"
        ).fetchone()  # distinct hashes: equal ids hash alike, a collision only takes the exact path
    except Exception as exc:
        raise unreadable(path, exc) from None
    if not duplicates and plan.quota is None:
        keep_rejected(con, refused)
        return
    con.execute("CREATE OR REPLACE TEMP TABLE checked AS SELECT * FROM checked_rows")
    if duplicates:
        _mark_duplicates(con)
    if plan.quota is not None:
        from interpreter.periods import calendar_period
        from interpreter.ledger.quota import check_quota

        check_quota(con, plan.quota, lambda day: calendar_period(plan.period, day)[0])
    con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM checked")
    con.execute("CREATE OR REPLACE TEMP TABLE rejected AS SELECT __row, event_id, __reason FROM checked WHERE __reason IS NOT NULL")


def keep_rejected(con, refused: int) -> None:
    """The table `rejected` from the (numbered) view `checked_rows`, when no row is a duplicate."""
    if refused:
        con.execute("CREATE OR REPLACE TEMP TABLE rejected AS SELECT __row, event_id, __reason FROM checked_rows WHERE __reason IS NOT NULL")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE rejected (__row BIGINT, event_id VARCHAR, __reason VARCHAR)")


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


def rejected_rows(con) -> list[Rejected]:
    rows = con.execute("SELECT __row, event_id, __reason FROM rejected ORDER BY __row").fetchall()
    return [Rejected(int(row), event_id, reason) for row, event_id, reason in rows]
