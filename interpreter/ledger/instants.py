"""Ledger timestamps as instants: which text is a time, which years are allowed, and each engine's SQL.

A ledger timestamp is an ISO 8601 date, optionally with a time and an
offset of at most 18 hours (no place on earth is further from UTC), the
forms DuckDB and Spark read alike; without an offset it is local time of
the plan's zone. DuckDB alone would also take `infinity`, `epoch`,
`2024/11/03`, zone names and `+25:00`; those rows are rejected instead.
Every instant and date lies in the years 1 to 9999 of the plan's zone, the
years a Python date holds: a Parquet `infinity`, a year 0 or 10000 (even one
reached through an offset) is a rejected row with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from interpreter.ledger.sql import literal

_AFTER_YEAR = (
    r"-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-]((0[0-9]|1[0-7])(:?[0-5][0-9])?|18(:?00)?))?)?"
)
ISO_INSTANT = "[0-9]{4}" + _AFTER_YEAR
_OTHER_YEAR = "([+-]?[0-9]{5,}|[+-][0-9]{4}|0000)" + _AFTER_YEAR  # a year before 1 or after 9999, as written
FIRST_DAY, LAST_DAY = "0001-01-01", "9999-12-31"
OUTSIDE_YEARS = "is outside the years 1 to 9999"


@dataclass(frozen=True)
class Dialect:
    """The SQL fragments in which engines differ, each written in DuckDB's dialect.

    DuckDB reads timestamps in its session time zone, which `duckdb.engine.connect`
    sets to the plan's; an engine whose session stays in UTC (Spark) converts
    explicitly instead. Everything else in stage 1 is the same SQL text.
    """

    text_instant: Callable[[str], str]  # trimmed ISO 8601 text -> instant (NULL when unreadable)
    native_instant: Callable[[str, str], str]  # (column, its type) -> instant (NULL when outside the years 1 to 9999)
    local_date: Callable[[str], str]  # instant -> date in the plan's time zone
    local_instant: Callable[[str], str]  # local date-time text (a SQL literal) -> instant


def duckdb_dialect(timezone: str) -> Dialect:
    """DuckDB, in a session whose time zone is the plan's (`duckdb.engine.connect`).

    A local date through DuckDB's time-zone tables costs several times the
    rest of a row's typing; where the zone's offset is steady (see
    `periods.steady_offset`) it is computed from the instant instead, and
    outside that span, or in a zone with daylight saving, DuckDB converts.
    """
    from interpreter.periods import STEADY_FROM, STEADY_UNTIL, steady_offset

    offset = steady_offset(timezone)

    def local_date(instant: str) -> str:
        converted = f"CAST({instant} AS DATE)"
        if offset is None:
            return converted
        shifted = f"CAST(make_timestamp(epoch_us({instant}) + {offset * 1_000_000}) AS DATE)"
        return (
            f"(CASE WHEN {instant} >= TIMESTAMPTZ '{STEADY_FROM.isoformat()}' "
            f"AND {instant} < TIMESTAMPTZ '{STEADY_UNTIL.isoformat()}' THEN {shifted} ELSE {converted} END)"
        )

    return Dialect(
        text_instant=lambda text: f"TRY_CAST({text} AS TIMESTAMPTZ)",
        native_instant=lambda column, _type: f"CAST({column} AS TIMESTAMPTZ)",
        local_date=local_date,
        local_instant=lambda text: f"CAST({text} AS TIMESTAMPTZ)",
    )


@dataclass(frozen=True)
class TimestampSQL:
    """How `rows.checked_sql` reads the `timestamp` column, layer by layer.

    `cells` are computed over the source row, `reads` over the cells
    (`__ts_read`, the instant as the engine reads it), `instant` over the
    reads (`__ts`: NULL outside the years 1 to 9999); `reason` says why a
    row has no `__ts` (NULL when it has one).
    """

    cells: tuple[str, ...]
    reads: tuple[str, ...]
    instant: str
    reason: str


def timestamp_sql(dialect: Dialect, native_type: str | None, trimmed: Callable[[str], str], quoted: str) -> TimestampSQL:
    """The timestamp column read as text (`native_type` None) or in its own Parquet type.

    `trimmed` trims a text cell; `quoted` formats a SQL text value shown in quotes.
    """
    if native_type is not None:
        cells = ('"timestamp" AS __ts_text', dialect.native_instant('"timestamp"', native_type) + " AS __ts_read")
        reads: tuple[str, ...] = ()
        reason = f"CASE WHEN __ts_text IS NULL THEN 'missing timestamp' WHEN __ts IS NULL THEN 'timestamp {OUTSIDE_YEARS}' END"
    else:
        column = '"timestamp"'
        cells = (f"{column} AS __ts_raw", f"NULLIF({trimmed(column)}, '') AS __ts_text")
        reads = (
            f"(CASE WHEN regexp_full_match(__ts_text, {literal(ISO_INSTANT)}) AND __ts_text NOT LIKE '0000%' "
            f"THEN {dialect.text_instant('__ts_text')} END) AS __ts_read",
        )
        shown = "'timestamp ' || " + quoted.format("__ts_raw")
        reason = (
            f"CASE WHEN __ts_text IS NULL THEN 'missing timestamp' WHEN __ts IS NOT NULL THEN NULL "
            f"WHEN __ts_read IS NOT NULL OR regexp_full_match(__ts_text, {literal(_OTHER_YEAR)}) "
            f"THEN {shown} || ' {OUTSIDE_YEARS}' ELSE {shown} || ' is not an ISO 8601 date-time' END"
        )
    first, last = dialect.local_instant(f"'{FIRST_DAY} 00:00:00'"), dialect.local_instant(f"'{LAST_DAY} 23:59:59.999999'")
    instant = f"(CASE WHEN __ts_read >= {first} AND __ts_read <= {last} THEN __ts_read END) AS __ts"
    return TimestampSQL(cells, reads, instant, reason)
