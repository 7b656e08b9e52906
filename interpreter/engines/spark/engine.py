"""`ratecard rate --engine spark`: the same documents as DuckDB's, rated on Apache Spark.

What to rate is decided by `engines.core`, as for DuckDB; `Spark` is its
`Engine`. Stage 1 runs the SQL of `interpreter.ledger` (typing, duplicates,
aggregates), translated to Spark's dialect (`spark.ledger`). Stage 2 runs on
the executors: the stage-1 rows are partitioned and sorted by customer and
`mapInArrow` hands each partition to `spark.executors`, which calls the
very `stage2.rate_in_order` and `render.document_line` the DuckDB path
calls and yields one JSON document per row. Documents are returned, or
written to an output path (JSON lines, or Parquet for a path ending in
`.parquet`) without passing through the driver.

Exactness: ANSI mode, DECIMAL(38,10) columns, no silent loss of decimal
precision (an overflow is an error), session time zone UTC with the plan's
zone applied explicitly, Arrow between the JVM and Python, microsecond
Parquet timestamps. pyspark is imported only when this engine is used.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl import tree
from interpreter.engines import core
from interpreter.engines.core import RateProblem, RateResult
from interpreter.engines.interface import Outcome, Pricing, Task
from interpreter.engines.spark import ledger as spark_ledger
from interpreter.engines.spark.executors import DOCUMENT_COLUMNS, FACTS, LISTED, PREVIOUS, Job, Version, document_rows, failure_of
from interpreter.ledger import uncovered as uncovered_rows
from interpreter.ledger.aggregate import aggregate_sql
from interpreter.ledger.files import LedgerProblem
from interpreter.ledger.rows import Rejected
from interpreter.ledger.sql import literal
from interpreter.pricing.balances import Balance
from interpreter.pricing.customers import CustomerProblem
from interpreter.pricing.evaluate import EvaluationError

DEFAULT_MASTER = "local[2]"

# Settings that the documents' exactness depends on; set on every session used.
SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


class SparkUnavailable(RateProblem):
    """pyspark is not installed (or no Spark session can be started)."""


def session(master: str = DEFAULT_MASTER):
    """A Spark session for `master`: `local[N]`, `spark://host:port`, or a Spark Connect `sc://` URL."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("--engine spark needs pyspark: pip install 'ratecard[spark]'") from None
    builder = SparkSession.builder.appName("ratecard")
    if master.startswith("sc://"):
        builder = builder.remote(master)
    else:
        if master.startswith("local"):  # the executors run the pricing code: in this very Python
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.master(master)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, or the master cannot be reached
        raise SparkUnavailable(f"cannot start Spark at {master}: {str(exc).strip().splitlines()[0]}") from None
    configure(spark)
    if not master.startswith("sc://"):
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def _active():
    try:
        from pyspark.sql import SparkSession

        return SparkSession.getActiveSession()
    except Exception:  # no pyspark (session() says so), or no JVM yet
        return None


def configure(spark) -> None:
    for key, value in SETTINGS.items():
        spark.conf.set(key, value)


def rate(
    plan: tree.Plan | tuple[tree.Plan, ...],
    usage: str,
    period: str | None = None,
    as_of: str | None = None,
    customer: str | None = None,
    customers: str | None = None,
    customer_records: dict | None = None,
    balances: str | None = None,
    balance_records: dict | None = None,
    keep_going: bool = False,
    *,
    spark=None,
    master: str = DEFAULT_MASTER,
    output: str | None = None,
    closing: bool = False,
) -> RateResult:
    """Every document of the ledger, as `core.rate` decides them, rated on Spark.

    The result's documents are their JSON text. With `output`, they are
    written there (sorted by customer and period) and not returned; the
    closing balances are collected only when asked (`closing`). `spark` is
    a session to use (kept open); without it one is started for `master`
    and stopped at the end.
    """
    if output is not None and spark_ledger.is_local(output) and os.path.exists(output):
        raise RateProblem(f"{output}: already exists; remove it or choose another --output")
    try:
        spark_ledger.check_path(usage)  # before a session is started for nothing
    except LedgerProblem as problem:
        raise RateProblem(str(problem)) from None
    own = spark is None and _active() is None  # a session this process already has is left running
    spark = spark or session(master)
    configure(spark)
    try:
        return core.rate(
            Spark(spark, output, closing or output is None),
            plan,
            usage,
            period,
            as_of,
            customer,
            customers,
            customer_records,
            balances,
            balance_records,
            keep_going,
        )
    finally:
        if own:
            spark.stop()


@dataclass(frozen=True)
class Part:
    """Stage 1 of one task: the rows of its facts, of the periods before, and of its listed customers."""

    rows: Any  # DataFrame: `aggregate_sql`'s columns and `__kind`
    task: Task


class Spark:
    """The `Engine` on a Spark session: stage 1 in Spark SQL, stage 2 on the executors.

    `output` is a path to write the documents to instead of returning them;
    with `closing`, the balances the documents left are collected.
    """

    def __init__(self, spark, output: str | None, closing: bool) -> None:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        self.spark = spark
        self.output = output
        self.closing = closing
        self.errors: tuple[type[Exception], ...] = (Py4JJavaError, PySparkException)  # the JVM's, through py4j or Spark Connect

    def load(self, usage: str, plan: tree.Plan, _whole: bool) -> spark_ledger.Ledger:
        return spark_ledger.load(self.spark, usage, plan)

    def dated(self, ledger: spark_ledger.Ledger) -> tuple[datetime.date, datetime.date] | None:
        first, last = self.spark.sql(f"SELECT min(`date`), max(`date`) FROM {ledger.marked}").first()
        return None if first is None else (first, last)

    def stage1(self, ledger: spark_ledger.Ledger, task: Task) -> Part:
        from pyspark.sql import functions as F

        plan = task.plan
        wanted = literal(task.customer) if task.customer is not None else None

        def aggregates(periods, as_of):
            sql = aggregate_sql(plan, list(periods), as_of, wanted, events=ledger.events)
            return self.spark.sql(spark_ledger.to_spark(sql, ordered=False))

        rows = aggregates(core.aggregated(task), task.as_of).withColumn("__kind", F.lit(FACTS))
        if task.earlier:
            rows = rows.unionByName(aggregates(task.earlier, None).withColumn("__kind", F.lit(PREVIOUS)), allowMissingColumns=True)
        if task.listed:
            frame = self.spark.createDataFrame([(c,) for c in task.listed], "__customer string")
            frame = frame.withColumn("__rows", F.lit(0).cast("bigint")).withColumn("__kind", F.lit(LISTED))
            rows = rows.unionByName(frame, allowMissingColumns=True)
        return Part(rows, task)

    def stage2(self, parts: list[Part], pricing: Pricing) -> Outcome:
        """Each customer's rows of every version together on one executor, which builds their documents."""
        from pyspark.sql import functions as F

        if not parts:
            rows = self.spark.createDataFrame([], DOCUMENT_COLUMNS)
        else:
            versions, frames = [], []
            for index, part in enumerate(parts):
                # mapInArrow cannot take column names with a dot (`seats.__base`), and versions name their
                # metrics alike: number each version's columns, and name them again inside
                names = tuple(part.rows.columns)
                columns = tuple((name if name.startswith("__") else f"__v{index}m{i}", name) for i, name in enumerate(names))
                frames.append(part.rows.toDF(*(column for column, _ in columns)).withColumn("__version", F.lit(index)))
                versions.append(
                    Version(part.task.plan, core.aggregated(part.task), part.task.earlier, columns, part.task.windows, part.task.timelines)
                )
            union = frames[0]
            for frame in frames[1:]:
                union = union.unionByName(frame, allowMissingColumns=True)
            job = Job(tuple(versions), pricing.customers, pricing.opening, pricing.estimate, pricing.variants)
            rows = (
                union.repartition("__customer")
                .sortWithinPartitions("__customer")
                .mapInArrow(lambda batches: document_rows(batches, job), DOCUMENT_COLUMNS)
            )
        documents, written, failures, carried = _finish(rows, self.output, pricing.keep_going, self.closing)
        return Outcome(documents, failures, carried, written=written)

    def rejected(self, ledger: spark_ledger.Ledger) -> list[tuple[Rejected, datetime.date | None]]:
        if not ledger.refused:
            return []
        rows = ledger.checked.where("__reason IS NOT NULL").select("__row", "event_id", "__reason", "date").collect()
        return [(Rejected(int(row), event_id, reason), day) for row, event_id, reason, day in rows]

    def uncovered(
        self, ledger: spark_ledger.Ledger, days: tuple[uncovered_rows.Days, ...], as_of: datetime.datetime | None
    ) -> list[tuple[Rejected, datetime.date]]:
        sql = spark_ledger.to_spark(uncovered_rows.uncovered_sql(days, as_of, ledger.events))
        return uncovered_rows.rejected(tuple(row) for row in self.spark.sql(sql).collect())

    def unreadable(self, usage: str, exc: Exception) -> LedgerProblem:
        return spark_ledger.unreadable(usage, exc)

    def release(self, ledger: spark_ledger.Ledger) -> None:
        spark_ledger.release(self.spark, ledger)


def _finish(rows, output: str | None, keep_going: bool, closing: bool) -> tuple[list[str], int, list, dict]:
    """Raise the first problem (as the DuckDB path would) or list the failures, then return or write the
    documents; and the balances the customers' last documents left (when `closing`)."""
    from pyspark import StorageLevel

    if output is None:
        found = rows.collect()
        failures = _failures([r for r in found if r["problem"] is not None], keep_going)
        found = sorted((r for r in found if r["document"] is not None), key=lambda r: (r["customer"], r["period_start"]))
        return [r["document"] for r in found], 0, failures, _carried(found if closing else [])
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        failures = _failures(rows.where("problem IS NOT NULL").collect(), keep_going)
        ordered = rows.where("document IS NOT NULL").select("customer", "period_start", "document").orderBy("customer", "period_start")
        if output.rstrip("/").endswith(".parquet"):
            ordered.write.parquet(output)
        else:
            ordered.select("document").write.text(output)
        carried = _carried(rows.where("carried IS NOT NULL").select("customer", "carried").collect() if closing else [])
        return [], rows.where("document IS NOT NULL").count(), failures, carried
    finally:
        rows.unpersist()


def _carried(found: list) -> dict:
    """The balances left, from the `carried` column of each customer's last row."""
    out = {}
    for r in found:
        if r["carried"] is not None:
            for key, currency, amount in json.loads(r["carried"]):
                out[(r["customer"], key)] = Balance(r["customer"], key, currency, Decimal(amount))
    return out


def _failures(problems: list, keep_going: bool) -> list:
    """The failures in document order; a customer problem, or without `keep_going` the first failure, is raised."""
    problems = sorted(problems, key=lambda r: (r["customer"], r["period_start"]))
    failures = []
    for row in problems:
        problem = json.loads(row["problem"])
        if problem["kind"] != "evaluation":
            raise CustomerProblem(problem["message"])
        failure = failure_of(row["customer"], row["period_start"], problem)
        if not keep_going:
            raise EvaluationError(failure.span, failure.reason)
        failures.append(failure)
    return failures
