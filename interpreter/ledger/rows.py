"""Ledger rows typed and checked in SQL: each row's values and the reason it is rejected, if it is.

An engine reads the file with every column as text (or, from Parquet, in a
type that already holds the values exactly); `checked_sql` then types it:
numbers become DECIMAL(38,10) (never DOUBLE), timestamps honour their
offset or fall in the plan's time zone. A row with a missing or malformed
value or a failed `require:` rule gets a reason; the duplicate rule
(`duplicates`) and the quota (`quota`) add theirs. Such rows count nowhere
and are all reported. The SQL is DuckDB's dialect; Spark runs it
translated. A file the engine cannot read at all is a `LedgerProblem`
(exit status 2), worded by `unreadable`; `files` checks and explains the
shape of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dsl import tree
from interpreter.ledger.files import LedgerProblem, csv_problem
from interpreter.ledger.groups import price_rules
from interpreter.ledger.instants import FIRST_DAY, LAST_DAY, OUTSIDE_YEARS, Dialect, duckdb_dialect, timestamp_sql
from interpreter.ledger.sql import ident, literal, to_sql, trimmed

NUMBER_SQL = "DECIMAL(38,10)"
INTEGER_SQL = "DECIMAL(38,0)"
BUILTIN_COLUMNS = ("event_id", "customer", "timestamp")
_QUOTED = "('''' || {} || '''')"  # a SQL text value shown in single quotes


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


def _nested(duck: str) -> bool:
    """A DuckDB (`VARCHAR[]`, `STRUCT(...)`) or Spark (`ARRAY<...>`) type holding several values."""
    return duck.endswith("]") or duck.startswith(("STRUCT", "MAP", "UNION", "ARRAY", "LIST"))


def select_columns(
    path: str, names: list[str], types: Mapping[str, str], fields: tuple[tree.Field, ...]
) -> tuple[list[str], dict[str, str]]:
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
        return LedgerProblem(
            f"{path}: a sum or product of the ledger's values has more than 38 digits and cannot be computed exactly ({overflow[:300]})"
        )
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


_TOO_LARGE = {
    kind: "has more than 38 digits" if kind == "integer" else "has more than 28 digits before the decimal point"
    for kind in ("money", "number", "percent", "integer")
}


def _reading(f: tree.Field, native: bool, c: str) -> _Reading:
    """How field `f` is read from the cell column named `c`."""
    column = ident(f.name)
    kind = f.type.kind
    if native:  # the column's own type already holds the values exactly
        # Money and numbers stay in that type (sums of DECIMAL(18,2) are much cheaper than of
        # DECIMAL(38,10), and just as exact); a percent or integer field takes the plan's type.
        if kind in ("percent", "integer"):  # a HUGEINT, or 10^30 as a percent, does not fit: rejected, not an error
            n = f"{c}_n"
            return _Reading(
                column,
                ((n, f"TRY_CAST({c} AS {NUMBER_SQL if kind == 'percent' else INTEGER_SQL})"),),
                n,
                f"{n} IS NULL",
                literal(f"{f.name} {_TOO_LARGE[kind]}"),
            )
        if kind == "date":  # a Parquet date may be `infinity`, or of a year Python has no date for
            return _Reading(
                column, (), c, f"NOT ({c} BETWEEN DATE '{FIRST_DAY}' AND DATE '{LAST_DAY}')", literal(f"{f.name} {OUTSIDE_YEARS}")
            )
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
            (
                (n, f"TRY_CAST({digits} AS {INTEGER_SQL if whole else NUMBER_SQL})"),
                (ok, f"(CASE WHEN {underscores} THEN {grouped} AND {plain} ELSE {plain} END)"),
            ),
            n,
            f"NOT {ok} OR {n} IS NULL",
            f"{shown} || CASE WHEN {ok} THEN ' {_TOO_LARGE[kind]}' "
            f"ELSE ' is not {'a whole number' if whole else 'a number (at most 10 decimal places)'}' END",
        )
    if kind == "percent":
        return _Reading(
            cell,
            (
                (n, f"TRY_CAST(regexp_replace({c}, '%$', '') AS {NUMBER_SQL})"),
                (ok, f"regexp_full_match({c}, '[-+]?[0-9]+(\\.[0-9]{{1,8}})?%?')"),
            ),
            f"(CASE WHEN {c} LIKE '%\\%' ESCAPE '\\' THEN CAST({n} * CAST('0.01' AS DECIMAL(3,2)) AS {NUMBER_SQL}) ELSE {n} END)",
            f"NOT {ok} OR {n} IS NULL",
            f"{shown} || CASE WHEN {ok} THEN ' {_TOO_LARGE[kind]}' ELSE ' is not a percent' END",
        )
    if kind == "bool":
        lowered = f"{c}_lower"
        return _Reading(
            cell,
            ((lowered, f"lower({c})"),),
            f"{lowered} IN ('true', '1')",
            f"{lowered} NOT IN ('true', 'false', '1', '0')",
            f"{shown} || ' is not true or false'",
        )
    if kind == "date":
        return _Reading(
            cell,
            ((n, f"TRY_CAST({c} AS DATE)"),),
            n,
            f"NOT regexp_full_match({c}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') OR {c} LIKE '0000%' OR {n} IS NULL",
            f"{shown} || ' is not a date (YYYY-MM-DD)'",
        )
    untrimmed = f"NULLIF({column}, '')"  # text is taken as written
    if f.values:
        allowed = ", ".join(literal(v) for v in f.values)
        return _Reading(untrimmed, (), c, f"{c} NOT IN ({allowed})", f"{shown} || {literal(' is not one of ' + ', '.join(f.values))}")
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
    values, reasons = (
        [],
        [
            "__problem",  # a JSON line that is ambiguous in itself
            # blank once trimmed; only a cell starting with a space is trimmed to find out
            "CASE WHEN __id IS NULL OR __id = '' OR (__id LIKE ' %' AND trim(__id) = '') THEN 'missing event_id' END",
            "CASE WHEN customer IS NULL OR customer = '' THEN 'missing customer' END",
            stamp.reason,
        ],
    )
    # Each test is enough for its reason above to be NULL (a row failing one may still have none):
    # a row passing them all skips the reasons, which most rows have none of.
    clean = ["__problem IS NULL", "__id <> '' AND __id NOT LIKE ' %'", "customer <> ''", "__ts IS NOT NULL"]
    for index, f in enumerate(plan.fields):
        cell = f"__c{index}"
        reading = _reading(f, f.name in native, cell)
        cells.append(f"{reading.cell} AS {cell}")
        reads += [f"{expr} AS {name}" for name, expr in reading.helpers]
        default = _default_sql(f)
        if default is None and reading.value == cell:  # the cell as it is (a CASE would copy every row's value)
            values.append(f"{cell} AS {ident(f.name)}")
        else:
            values.append(f"(CASE WHEN {cell} IS NULL THEN {default or 'NULL'} ELSE {reading.value} END) AS {ident(f.name)}")
        missing = "NULL" if default is not None else literal(f"missing value for {f.name}")
        reasons.append(f"(CASE WHEN {cell} IS NULL THEN {missing} WHEN {reading.bad} THEN {reading.problem} END)")
        clean.append(f"{cell} IS NOT NULL AND NOT ({reading.bad})")
    typed = f"""
        SELECT __row, {trimmed("__id")} AS event_id, customer, __ts, {dialect.local_date("__ts")} AS "date"{"".join(", " + v for v in values)},
               CASE WHEN {" AND ".join(f"({test})" for test in clean)} THEN NULL ELSE coalesce({", ".join(reasons)}) END AS __reason
        FROM (SELECT *, {stamp.instant} FROM (SELECT {", ".join(reads)} FROM (SELECT {", ".join(cells)} FROM ({source}) AS src) AS cells) AS reads) AS instants
    """
    rules = [f"CASE WHEN NOT ({to_sql(rule.test)}) THEN {literal(rule.message)} END" for rule in plan.rules]
    rules += price_rules(plan)  # rows of a grouped charge that no price matches
    if not rules:
        return typed
    kept = ", ".join(["__row", "event_id", "customer", "__ts", '"date"', *(ident(f.name) for f in plan.fields)])
    return f"SELECT {kept}, coalesce(__reason, {', '.join(rules)}) AS __reason FROM ({typed}) AS t"
