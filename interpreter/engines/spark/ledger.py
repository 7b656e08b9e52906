"""Stage 1 on Apache Spark: the ledger read, typed and checked by the same SQL as DuckDB's.

The SQL text comes from `interpreter.ledger` (`rows`, `duplicates`, `quota`,
`aggregate`), in DuckDB's dialect, and is translated with sqlglot. Only what
must differ is done here: reading the file with 1-based row numbers; time zones (Spark's
session stays in UTC and the plan's zone is applied explicitly, where DuckDB
reads in a session set to the plan's zone); `regexp_full_match`, which Spark
lacks; and duplicate and quota marks, which DuckDB writes with UPDATE and
Spark joins back (the quota's sequential check runs per customer on the
executors, in `quota.quota_refusals`). Numbers stay DECIMAL(38,10) throughout.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from dsl import tree
from interpreter.ledger import rows as ledger_rows
from interpreter.ledger.duplicates import marked_sql, repeated_sql
from interpreter.ledger.files import LedgerProblem, csv_header, distinct_names, parquet_names, utf8_problem
from interpreter.ledger.instants import FIRST_DAY, LAST_DAY, Dialect
from interpreter.ledger.jsonl import PROBLEM
from interpreter.ledger.quota import quota_rows_sql
from interpreter.ledger.sql import literal
from interpreter.periods import calendar_period

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Only the ISO 8601 forms of `instants.ISO_INSTANT` reach the cast (`ledger_rows.checked_sql` sees to that).
_OFFSET = r":[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"  # after the time: `2024-11-03` ends in no offset
_ROW_BITS = 33  # monotonically_increasing_id(): partition index << 33 | position in the partition


def spark_dialect(timezone: str) -> Dialect:
    """Stage 1's time-zone fragments for a session in UTC: local times are read in `timezone`."""
    zone = literal(timezone)

    def text_instant(text: str) -> str:
        return (
            f"(CASE WHEN regexp_matches({text}, {literal(_OFFSET)}) THEN TRY_CAST({text} AS TIMESTAMPTZ) "
            f"ELSE to_utc_timestamp(TRY_CAST({text} AS TIMESTAMP), {zone}) END)"
        )

    def native_instant(column: str, kind: str) -> str:
        if kind == "TIMESTAMP WITH TIME ZONE":
            return column
        # A wall-clock time or a date is local. Outside the years 1 to 9999 (a Parquet `infinity`)
        # it is no instant: shifting it by the zone's offset would overflow.
        wall = f"CAST({column} AS TIMESTAMP)"
        inside = (
            f"{column} BETWEEN DATE '{FIRST_DAY}' AND DATE '{LAST_DAY}'"
            if kind == "DATE"
            else f"{wall} BETWEEN TIMESTAMP '{FIRST_DAY} 00:00:00' AND TIMESTAMP '{LAST_DAY} 23:59:59.999999'"
        )
        return f"(CASE WHEN {inside} THEN to_utc_timestamp({wall}, {zone}) END)"

    return Dialect(
        text_instant,
        native_instant,
        lambda instant: f"CAST({instant} AT TIME ZONE {zone} AS DATE)",
        lambda text: f"to_utc_timestamp(CAST({text} AS TIMESTAMP), {zone})",
    )


def to_spark(sql: str, ordered: bool = True) -> str:
    """DuckDB SQL as Spark SQL (sqlglot), with full regular-expression matches anchored.

    `ordered=False` drops the outermost ORDER BY: the rows are partitioned
    and sorted by customer afterwards anyway.
    """
    import sqlglot
    from sqlglot import exp

    def anchored(node):
        if isinstance(node, exp.RegexpFullMatch) and isinstance(node.expression, exp.Literal):
            # RLIKE finds; `\z` (not `$`) so that a final line break is no match either
            return exp.RegexpLike(this=node.this, expression=exp.Literal.string(f"^(?:{node.expression.this})\\z"))
        return node

    query = sqlglot.parse_one(sql, read="duckdb").transform(anchored)
    if not ordered:
        query.set("order", None)
    return query.sql(dialect="spark")


@dataclass
class Ledger:
    """A ledger loaded into Spark: every row with its reason (NULL when accepted), and the accepted rows."""

    checked: DataFrame  # __row, event_id, customer, __ts, date, fields..., __reason (duplicates, quota marked)
    marked: str  # temp view of `checked`
    events: str  # temp view of the rows aggregated: every checked row, with its `__reason`
    refused: int
    views: tuple[str, ...]
    cached: tuple = ()  # DataFrames kept in memory for this rating


def column_name(name: str) -> str:
    """A column name as the DataFrame API reads it: a ledger's header may hold dots and backticks."""
    return "`" + name.replace("`", "``") + "`"


def is_local(path: str) -> bool:
    """A plain path (checked here) rather than a URL such as s3a:// or hdfs:// (Spark's to read)."""
    return urlparse(path).scheme == ""


def _duck_type(spark_type) -> str:
    """The DuckDB name of a Spark column type, for `ledger_rows.usable_as_is`."""
    from pyspark.sql import types as T

    names = {
        T.ByteType: "TINYINT",
        T.ShortType: "SMALLINT",
        T.IntegerType: "INTEGER",
        T.LongType: "BIGINT",
        T.BooleanType: "BOOLEAN",
        T.DateType: "DATE",
        T.TimestampType: "TIMESTAMP WITH TIME ZONE",
        T.TimestampNTZType: "TIMESTAMP",
        T.StringType: "VARCHAR",
        T.FloatType: "FLOAT",
        T.DoubleType: "DOUBLE",
    }
    if isinstance(spark_type, T.DecimalType):
        return f"DECIMAL({spark_type.precision},{spark_type.scale})"
    return names.get(type(spark_type), spark_type.simpleString().upper())


def numbered(frame, name: str):
    """`frame` with a 1-based `name`: each row's position in the file, counted across partitions.

    A file is split into partitions in file order; the rows of the partitions
    before a row's own are counted (one small aggregate in the same query),
    so no partition has to hold the whole file.
    """
    from pyspark.sql import Window, functions as F

    columns = frame.columns
    if _partitions(frame) == 1:
        return frame.select((F.monotonically_increasing_id() + 1).alias(name), *(F.col(column_name(c)) for c in columns))
    frame = frame.withColumn("__mid", F.monotonically_increasing_id())
    part = F.shiftright(F.col("__mid"), _ROW_BITS)
    counts = frame.groupBy(part.alias("__part")).count()
    with warnings.catch_warnings():  # "no partition defined for window": one row per file partition, on purpose
        warnings.simplefilter("ignore")
        offsets = counts.select(
            F.col("__part").alias("__p"), (F.sum("count").over(Window.orderBy("__part")) - F.col("count")).alias("__offset")
        )
    position = F.col("__mid").bitwiseAND((1 << _ROW_BITS) - 1)
    return frame.join(F.broadcast(offsets), part == F.col("__p")).select(
        (F.col("__offset") + position + 1).cast("bigint").alias(name), *(F.col(column_name(c)) for c in columns)
    )


def _partitions(frame) -> int | None:
    """How many partitions a file scan has (planned, not run); None where that is not known (Spark Connect)."""
    try:
        return frame.rdd.getNumPartitions()
    except Exception:
        return None


def check_path(path: str) -> str:
    """The ledger's suffix; a local file must exist (a URL is Spark's to read)."""
    if is_local(path) and not Path(path).is_file():
        raise LedgerProblem(f"{path}: no such ledger file")
    suffix = Path(urlparse(path).path).suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson", ".parquet"):
        raise LedgerProblem(f"{path}: ledger must be .csv, .jsonl or .parquet")
    return suffix


def read_source(spark, path: str, fields: tuple[tree.Field, ...]):
    """(DataFrame with `__row` and the file's columns, their DuckDB type names when not text).

    CSV is read as text with DuckDB's dialect (comma, double quotes doubled,
    no comments), a row with more or fewer fields than the header failing
    the reading; JSON lines through `jsonl.json_cells`, so numbers keep the
    text they are written with; Parquet in its own column types. A column
    named twice is refused, as DuckDB's reading refuses it; a ledger
    column whose name starts with `__` (no plan field's does) is left out.
    """
    from pyspark.sql import functions as F, types as T

    suffix = check_path(path)
    if suffix != ".parquet" and is_local(path) and (problem := utf8_problem(path)):
        raise LedgerProblem(problem)  # as DuckDB refuses it; Spark would read such bytes as U+FFFD
    try:
        if suffix == ".csv":
            if is_local(path):
                csv_header(path)
            frame = (
                spark.read.option("header", True)
                .option("sep", ",")
                .option("quote", '"')
                .option("escape", '"')
                .option("inferSchema", False)
                .option("mode", "FAILFAST")
                .csv(path)
            )
            frame = frame.toDF(*(c.lstrip("\ufeff") for c in frame.columns))
            return numbered(_own_columns(path, frame), "__row"), {}
        if suffix in (".jsonl", ".ndjson"):
            from interpreter.engines.spark.executors import json_rows

            columns = (*ledger_rows.BUILTIN_COLUMNS, *(f.name for f in fields))
            schema = T.StructType(
                [
                    T.StructField("__row", T.LongType()),
                    *(T.StructField(c, T.StringType()) for c in columns),
                    T.StructField(PROBLEM, T.StringType()),
                ]
            )
            # rows are numbered as data rows, lines as lines (for messages): a blank line is no row
            lines = numbered(spark.read.text(path), "__line")
            rows = numbered(lines.where(r"NOT (value RLIKE '^[ \t]*$' OR (__line = 1 AND value RLIKE '^\uFEFF[ \t]*$'))"), "__row")
            return rows.mapInArrow(lambda batches: json_rows(batches, columns, path), schema), {}
        if is_local(path):
            import duckdb

            distinct_names(path, parquet_names(duckdb.connect(), path), "")
        frame = _own_columns(path, spark.read.parquet(path))
        types = {f.name: _duck_type(f.dataType) for f in frame.schema.fields}
        frame = frame.select((F.col("_metadata.row_index") + 1).alias("__row"), "*")
        return frame, {name: kind for name, kind in types.items() if kind != "VARCHAR"}
    except LedgerProblem:
        raise
    except Exception as exc:  # Spark raises its own error kinds for unreadable files
        raise unreadable(path, exc) from None


def _own_columns(path: str, frame):
    """The file's columns but those named `__...`; a name given twice (ignoring case) refused."""
    distinct_names(path, frame.columns, "")
    return frame.select(*(column_name(c) for c in frame.columns if not c.startswith("__")))


def unreadable(path: str, exc: Exception) -> LedgerProblem:
    """A Spark error while reading the ledger, worded as `ledger_rows.unreadable` words DuckDB's."""
    text = str(exc).strip()
    if "LedgerProblem: " in text:  # raised by jsonl.json_cells on an executor
        return LedgerProblem(text.split("LedgerProblem: ", 1)[1].splitlines()[0])
    if not is_local(path):
        return LedgerProblem(f"{path}: cannot read ledger: {text.splitlines()[0] if text else type(exc).__name__}")
    return ledger_rows.unreadable(path, exc)


def _view(frame, views: list[str], what: str) -> str:
    name = f"ratecard_{what}_{uuid.uuid4().hex[:12]}"
    frame.createOrReplaceTempView(name)
    views.append(name)
    return name


def load(spark, path: str, plan: tree.Plan) -> Ledger:
    """Check every row as DuckDB does (`ledger_rows.checked_sql`), duplicates and the quota marked alike.

    The checked rows are kept in memory for the queries that follow (with
    the quota, the marked rows instead: the quota is sequential work).
    Duplicate event ids are found by one aggregate, usually empty, and
    joined back.
    """
    from pyspark import StorageLevel

    views: list[str] = []
    frame, types = read_source(spark, path, plan.fields)
    source = _view(frame, views, "source")
    names = [c for c in frame.columns if c not in ("__row", PROBLEM)]
    parts, native = ledger_rows.select_columns(path, names, types, plan.fields)
    problem = f"NULLIF({PROBLEM}, '')" if PROBLEM in frame.columns else "CAST(NULL AS VARCHAR)"
    select = f"SELECT __row, {', '.join(parts)}, {problem} AS __problem FROM {source}"
    checked = spark.sql(to_spark(ledger_rows.checked_sql(select, native, plan, spark_dialect(plan.timezone))))
    cached = [checked.persist(StorageLevel.MEMORY_AND_DISK)]
    first = _view(checked, views, "checked")
    repeated = spark.sql(to_spark(repeated_sql(first))).persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(repeated)
    columns = ["__row", "event_id", "customer", "__ts", "date", *(f.name for f in plan.fields)]
    marked = spark.sql(to_spark(marked_sql(first, _view(repeated, views, "repeated"), columns)))
    if plan.quota is not None:
        marked = _quota(spark, marked, plan, plan.quota, views).persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(marked)
    name = _view(marked, views, "marked")
    try:
        refused = spark.sql(f"SELECT count(*) FROM {name} WHERE __reason IS NOT NULL").first()[0]
    except Exception as exc:
        release(spark, Ledger(marked, name, name, 0, tuple(views), tuple(cached)))
        raise unreadable(path, exc) from None
    if plan.quota is not None:  # the marked rows are kept; what they were made from is no longer needed
        for frame in cached[:-1]:
            frame.unpersist()
        cached = cached[-1:]
    return Ledger(marked, name, name, int(refused), tuple(views), tuple(cached))


def _quota(spark, marked, plan: tree.Plan, quota: tree.Quota, views: list[str]):
    """`quota.quota_refusals` per customer on the executors, joined back as row reasons."""
    from pyspark.sql import functions as F, types as T

    from interpreter.engines.spark.executors import quota_rows

    name = _view(marked, views, "before_quota")
    rows = spark.sql(to_spark(quota_rows_sql(quota, name)))
    schema = T.StructType([T.StructField("__refused_row", T.LongType()), T.StructField("__refusal", T.StringType())])

    def refusals(batches):
        return quota_rows(batches, quota, (lambda day: calendar_period(plan.period, day)[0]))

    refused = rows.repartition("customer").sortWithinPartitions("customer", "__ts", "__row").mapInArrow(refusals, schema)
    joined = marked.join(refused, marked["__row"] == refused["__refused_row"], "left")
    columns = [F.col(column_name(c)) for c in marked.columns if c != "__reason"]
    return joined.select(*columns, F.coalesce(F.col("__reason"), F.col("__refusal")).alias("__reason"))


def release(spark, loaded: Ledger) -> None:
    """Drop the temp views and the cached rows of one rating."""
    # Frames first: with Spark Connect a frame is SQL over the views, resolved when used.
    for frame in loaded.cached:
        _quietly(frame.unpersist)
    for name in loaded.views:
        _quietly(functools.partial(spark.catalog.dropTempView, name))


def _quietly(step) -> None:
    with contextlib.suppress(Exception):  # cleaning up must not hide the error that ended the rating
        step()
