"""`ratecard rate --engine spark`: the same documents as DuckDB's, rated on Apache Spark.

Stage 1 runs the SQL of `interpreter.ledger.rows` and `interpreter.ledger.aggregate`,
translated to Spark's dialect (`interpreter.engines.spark.ledger`). Stage 2 runs on
the executors: the stage-1 rows are partitioned and sorted by customer and
`mapInArrow` hands each partition to `interpreter.engines.spark.executors`, which
calls the very `documents.build` and `render.document_line` the DuckDB path
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
from dataclasses import dataclass, field

from dsl import tree
from interpreter.engines.spark import ledger as spark_ledger
from interpreter.ledger.rows import LedgerProblem, Rejected

DEFAULT_MASTER = "local[2]"
FORMATS = ("json", "jsonl", "yaml")  # what `output_text` writes; tables and CSV need the documents' objects

# Settings that the documents' exactness depends on; set on every session used.
SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


class SparkUnavailable(Exception):
    """pyspark is not installed (or no Spark session can be started)."""


@dataclass(frozen=True)
class SparkResult:
    """Documents as compact JSON text sorted by customer then period (none when written), rejected rows,
    documents not rated (with `keep_going`), and the balances as `rate.RateResult` has them."""

    documents: list[str]
    rejected: list[Rejected]
    written: int = 0
    failures: list = field(default_factory=list)
    opening: dict = field(default_factory=dict)
    carried: dict = field(default_factory=dict)


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
        builder = (builder.master(master)
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
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


def rate(plan: tree.Plan | tuple[tree.Plan, ...], usage: str, period: str | None = None, as_of: str | None = None,
         customer: str | None = None, customers: str | None = None, customer_records: dict | None = None,
         balances: str | None = None, balance_records: dict | None = None, keep_going: bool = False,
         *, spark=None, master: str = DEFAULT_MASTER, output: str | None = None, closing: bool = False) -> SparkResult:
    """Every document of the ledger, as `interpreter.engines.core.rate` gives it, rated on Spark.

    With `output`, the documents are written there (sorted by customer and
    period) and not returned; the closing balances are collected only when
    asked (`closing`). `spark` is a session to use (kept open); without it
    one is started for `master` and stopped at the end.
    """
    from interpreter.pricing import balances as carried_balances
    from interpreter.pricing.customers import CustomerProblem, read_customers
    from interpreter.periods import PeriodProblem, parse_as_of
    from interpreter.engines.core import RateProblem, _by_version

    versions = tuple(plan) if isinstance(plan, (tuple, list)) else (plan,)
    latest = versions[-1]
    if output is not None:
        _check_output(output)
    try:
        spark_ledger.check_path(usage)  # before a session is started for nothing
    except LedgerProblem as problem:
        raise RateProblem(str(problem)) from None
    own = spark is None and _active() is None  # a session this process already has is left running
    spark = spark or session(master)
    configure(spark)
    loaded: list[spark_ledger.Ledger] = []
    try:
        raw_customers = read_customers(customers) if customers else dict(customer_records or {})
        opening = carried_balances.read_balances(balances) if balances else dict(balance_records or {})
        carried_balances.check(opening, versions)
        moment = parse_as_of(as_of, latest.timezone) if as_of else None
        loaded.append(spark_ledger.load(spark, usage, latest))
        windows = _periods(spark, loaded[0], latest, period, moment)
        groups = {id(v): g for v, g in _by_version(versions, windows)}
        parts = []  # (ledger, version, windows) of each version with periods to rate
        if len(versions) == 1:
            rejected = spark_ledger.rejected_rows(spark, loaded[0])
            if groups.get(id(latest)):
                parts.append((loaded[0], latest, groups[id(latest)]))
        else:
            rejected = []
            for version in reversed(versions):
                ledger = loaded[0]
                if version is not latest:
                    ledger = spark_ledger.load(spark, usage, version)
                    loaded.append(ledger)
                rejected += _judged_by(ledger, version, versions)
                if id(version) in groups:
                    parts.append((ledger, version, groups[id(version)]))
            rejected.sort(key=lambda r: r.row)
        rows = _documents(spark, parts, moment, customer, raw_customers, carried_balances.by_customer(opening))
        documents, written, failures, carried = _finish(rows, output, keep_going, closing or output is None)
    except (LedgerProblem, PeriodProblem, CustomerProblem, carried_balances.BalanceProblem) as problem:
        raise RateProblem(str(problem)) from None
    except _spark_errors() as exc:  # a sum past DECIMAL(38), a file Spark fails on while rating
        raise RateProblem(str(spark_ledger._problem(usage, exc))) from None
    finally:
        for ledger in loaded:
            spark_ledger.release(spark, ledger)
        if own:
            spark.stop()
    return SparkResult(documents, rejected, written, failures, opening, carried)


def _spark_errors() -> tuple[type[Exception], ...]:
    """The errors Spark raises about the data of a query (the JVM's, through py4j or Spark Connect)."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return Py4JJavaError, PySparkException


def _judged_by(ledger: spark_ledger.Ledger, version: tree.Plan, versions: tuple[tree.Plan, ...]) -> list[Rejected]:
    """The rows `version` rejects among those it judges, as `rate._judged_by` decides."""
    from dsl.loader import in_force

    if not ledger.refused:
        return []
    rows = ledger.checked.where("__reason IS NOT NULL").select("__row", "event_id", "__reason", "date").collect()
    latest = versions[-1]
    return sorted((
        Rejected(int(row), event_id, reason)
        for row, event_id, reason, day in rows
        if ((in_force(versions, day) or versions[0]) is version if day is not None else version is latest)
    ), key=lambda r: r.row)


def _check_output(output: str) -> None:
    from interpreter.engines.core import RateProblem

    if spark_ledger._is_local(output) and os.path.exists(output):
        raise RateProblem(f"{output}: already exists; remove it or choose another --output")


def _periods(spark, ledger: spark_ledger.Ledger, plan: tree.Plan, period: str | None, moment) -> list:
    """The windows to rate, found by `rate.periods_for` itself.

    It reads the ledger's first and last local day from DuckDB tables; they
    are given the days Spark found (over every row, and over accepted rows).
    """
    from interpreter.engines.core import connect, periods_for

    days = [None] * 4
    if period is None and moment is None:
        days = list(spark.sql(
            "SELECT min(`date`), max(`date`), min(`date`) FILTER (WHERE __reason IS NULL), "
            f"max(`date`) FILTER (WHERE __reason IS NULL) FROM {ledger.marked}").first())
    con = connect(plan)
    for name, (first, last) in (("checked_rows", days[:2]), ("events", days[2:])):
        con.execute(f'CREATE TEMP TABLE {name} AS SELECT CAST($1 AS DATE) AS "date" UNION ALL SELECT CAST($2 AS DATE)',
                    [first, last])
    return periods_for(con, plan, period, moment)


def _documents(spark, parts: list, moment: datetime.datetime | None, customer: str | None, raw_customers: dict,
               opening: dict):
    """Stage 1 of each version on the ledger's accepted rows, then stage 2 on the executors, each customer's
    rows of every version together: (customer, period_start, document, problem, carried)."""
    from interpreter.engines.spark.executors import DOCUMENT_COLUMNS, Job, document_rows

    if not parts:
        return spark.createDataFrame([], DOCUMENT_COLUMNS)
    versions, rows = [], None
    for index, (ledger, plan, windows) in enumerate(parts):
        frame, version = _stage1(spark, ledger, plan, windows, moment, customer, raw_customers, index)
        versions.append(version)
        rows = frame if rows is None else rows.unionByName(frame, allowMissingColumns=True)
    job = Job(tuple(versions), raw_customers, opening, moment is not None)
    return rows.repartition("__customer").sortWithinPartitions("__customer").mapInArrow(
        lambda batches: document_rows(batches, job), DOCUMENT_COLUMNS)


def _stage1(spark, ledger: spark_ledger.Ledger, plan: tree.Plan, windows: list, moment, customer: str | None,
            raw_customers: dict, index: int):
    """The stage-1 rows of one version (facts, the periods before, listed customers), tagged `__version`."""
    from pyspark.sql import functions as F

    from interpreter.ledger.aggregate import aggregate_sql
    from interpreter.engines.core import previous_period
    from interpreter.engines.spark.executors import FACTS, LISTED, PREVIOUS, Version
    from interpreter.ledger.sql import literal

    wanted = literal(customer) if customer is not None else None

    def stage1(periods, as_of):
        sql = aggregate_sql(plan, periods, as_of, wanted, events=ledger.events)
        return spark.sql(spark_ledger.to_spark(sql, ordered=False))

    rows = stage1(windows, moment).withColumn("__kind", F.lit(FACTS))
    earlier: list = []
    if plan.uses_previous:
        earlier = sorted({p for p in (previous_period(plan, w) for w in windows) if p is not None}, key=lambda p: p.start)
        rows = rows.unionByName(stage1(earlier, None).withColumn("__kind", F.lit(PREVIOUS)), allowMissingColumns=True)
    listed = [c for c in sorted(raw_customers) if customer is None or c == customer]
    if listed:
        pairs = [(c, pid) for pid in range(len(windows)) for c in listed]
        frame = spark.createDataFrame(pairs, "__customer string, __pid int")
        frame = frame.withColumn("__rows", F.lit(0).cast("bigint")).withColumn("__kind", F.lit(LISTED))
        rows = rows.unionByName(frame, allowMissingColumns=True)
    # mapInArrow cannot take column names with a dot (`seats.__base`), and versions name their
    # metrics alike: number each version's columns, and name them again inside
    names = tuple(rows.columns)
    columns = tuple((name if name.startswith("__") else f"__v{index}m{i}", name) for i, name in enumerate(names))
    rows = rows.toDF(*(column for column, _ in columns)).withColumn("__version", F.lit(index))
    return rows, Version(plan, tuple(windows), tuple(earlier), columns)


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
        ordered = (rows.where("document IS NOT NULL").select("customer", "period_start", "document")
                   .orderBy("customer", "period_start"))
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
    from decimal import Decimal

    from interpreter.pricing.balances import Balance

    out = {}
    for r in found:
        if r["carried"] is not None:
            for key, currency, amount in json.loads(r["carried"]):
                out[(r["customer"], key)] = Balance(r["customer"], key, currency, Decimal(amount))
    return out


def _failures(problems: list, keep_going: bool) -> list:
    """The failures in document order; a customer problem, or without `keep_going` the first failure, is raised."""
    from interpreter.pricing.evaluate import EvaluationError
    from interpreter.engines.core import RateProblem
    from interpreter.engines.spark.executors import failure_of

    problems = sorted(problems, key=lambda r: (r["customer"], r["period_start"]))
    failures = []
    for row in problems:
        problem = json.loads(row["problem"])
        if problem["kind"] != "evaluation":
            raise RateProblem(problem["message"])
        failure = failure_of(row["customer"], row["period_start"], problem)
        if not keep_going:
            raise EvaluationError(failure.span, failure.reason)
        failures.append(failure)
    return failures


def output_text(result: SparkResult, fmt: str) -> str:
    """The documents and rejected rows as `ratecard rate --format json|jsonl|yaml` prints them (as render does)."""
    from interpreter.output.render import failure_data, failure_lines, rejected_data

    rejected = rejected_data(result.rejected)
    if fmt == "jsonl":
        lines = [*result.documents, *(json.dumps({"rejected": r}, ensure_ascii=False, separators=(",", ":")) for r in rejected),
                 *failure_lines(result.failures)]
        return "".join(line + "\n" for line in lines)
    data = {"documents": [json.loads(d, parse_float=_no_float) for d in result.documents], "rejected": rejected}
    if result.failures:
        data["failures"] = failure_data(result.failures)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _no_float(text: str):
    # amounts in documents are decimal strings; a bare fraction would mean a float slipped in
    raise ValueError(f"a number {text} in a document, where amounts are decimal strings")
