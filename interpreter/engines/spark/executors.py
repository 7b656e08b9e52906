"""What runs on Spark's executors: JSON lines read, quota refusals, and documents built.

Each function takes the Arrow record batches of one partition and yields
record batches (`DataFrame.mapInArrow`). They call the very code the DuckDB
path calls — `jsonl.json_cells`, `quota.quota_refusals`,
`stage2.rate_in_order` and `render.document_line` — so a document is the
same text on either engine. Nothing here imports pyspark; only pyarrow.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from dsl import tree
from dsl.errors import Span
from interpreter.engines.core import previous_of, scoped
from interpreter.ledger.aggregate import Facts, facts_of, merged
from interpreter.ledger.jsonl import PROBLEM, json_cells
from interpreter.ledger.quota import quota_refusals
from interpreter.output.render import document_line
from interpreter.periods import Period
from interpreter.pricing.customers import CustomerProblem
from interpreter.pricing.stage2 import Failure, rate_in_order, work_order

PREVIOUS, FACTS, LISTED = 0, 1, 2  # kinds of stage-2 input rows
DOCUMENT_COLUMNS = "customer string, period_start date, document string, problem string, carried string"
_BATCH = 1024


def json_rows(batches, columns: tuple[str, ...], path: str) -> Iterator:
    """Numbered non-blank text lines (`__row`, `__line`, `value`) -> `__row`, one text column per ledger
    column and `__problem` (why the line is no row, if it is not)."""
    import pyarrow as pa

    for batch in batches:
        rows: list[int] = []
        cells: list[list[str | None]] = [[] for _ in (*columns, PROBLEM)]
        lines = zip(batch.column("__row").to_pylist(), batch.column("__line").to_pylist(), batch.column("value").to_pylist(), strict=True)
        for row, number, line in lines:
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a byte order mark, as Python's utf-8-sig reading drops it
            found = json_cells(line, number, columns, path)
            if found is None:
                continue
            rows.append(row)
            for column, cell in zip(cells, found, strict=True):
                column.append(cell if cell != "" else None)  # an empty cell is a missing value, as in a CSV
        yield pa.RecordBatch.from_arrays(
            [pa.array(rows, pa.int64()), *(pa.array(c, pa.string()) for c in cells)], names=["__row", *columns, PROBLEM]
        )


def quota_rows(batches, quota: tree.Quota, period_start) -> Iterator:
    """Quota rows sorted by customer, instant and row -> (`__refused_row`, `__refusal`)."""
    import pyarrow as pa

    def rows():
        for batch in batches:
            yield from zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True)

    refused = quota_refusals(rows(), quota, period_start)
    yield pa.RecordBatch.from_arrays(
        [pa.array([row for row, _ in refused], pa.int64()), pa.array([reason for _, reason in refused], pa.string())],
        names=["__refused_row", "__refusal"],
    )


@dataclass(frozen=True)
class Version:
    """What stage 2 needs of one plan version; its rows carry `__version`, its index in `Job.versions`."""

    plan: tree.Plan
    windows: tuple[Period, ...]  # `__pid` of FACTS rows indexes these
    earlier: tuple[Period, ...]  # `__pid` of PREVIOUS rows indexes these
    columns: tuple[tuple[str, str], ...]  # (column of the batches, stage-1 column name) of this version's rows
    periods: tuple[Period, ...] = ()  # the periods billed (`windows` adds the customers' subscription windows)
    timelines: dict[str, tuple[Period, ...]] = dataclasses.field(default_factory=dict)  # see `interface.Task`


@dataclass(frozen=True)
class Job:
    """What every executor needs to build the documents of one plan's versions."""

    versions: tuple[Version, ...]
    customers: dict[str, dict[str, Any]]  # raw attributes, as read from the customers file
    opening: dict[str, dict[str, Any]]  # opening balances by customer, then credit or discount id
    estimate: bool
    variants: dict = dataclasses.field(default_factory=dict)  # customers' negotiated plans (see `interface.Pricing`)


def document_rows(batches, job: Job) -> Iterator:
    """Stage-1 rows of whole customers (each customer's rows together) -> one row per document.

    A customer's PREVIOUS rows give the period before each (for
    `previous.<metric>`, as `core.previous_of` finds it); a LISTED row (a
    customer of the customers file) makes a document in each period where
    the customer has no FACTS (`core.without_usage`). Each customer's
    documents are built in period order, across versions, by
    `stage2.rate_in_order`, as on DuckDB. A document that
    failed is a `problem` row (the driver lists or raises it); the last row
    of a customer holds the balances the customer's documents left.
    """
    import pyarrow as pa

    def records():
        for batch in batches:
            names = batch.schema.names
            for values in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                yield dict(zip(names, values, strict=True))

    out: list[tuple] = []
    collecting = gc.isenabled()
    gc.disable()  # documents are acyclic; see `DuckDB._rated` (duckdb.engine)
    try:
        for customer, group in groupby(records(), key=lambda r: r["__customer"]):
            out += _customer_rows(job, customer, group)
            if len(out) >= _BATCH:
                yield _batch(pa, out)
                out = []
    finally:
        if collecting:
            gc.enable()
    yield _batch(pa, out)


def _customer_rows(job: Job, customer: str, group) -> list[tuple]:
    facts: dict[int, list[Facts]] = {}  # by version
    before: dict[int, dict[tuple[str, Period], Facts]] = {}
    listed: set[int] = set()
    for record in group:
        index, kind = record["__version"], record["__kind"]
        version = job.versions[index]
        if kind == LISTED:
            listed.add(index)
            continue
        named = {name: record[column] for column, name in version.columns}
        if kind == PREVIOUS:
            found = facts_of(version.plan, list(version.earlier), named)
            if found.group is None:  # `previous.<metric>` reads whole documents only
                before.setdefault(index, {})[(customer, found.period)] = found
        else:
            facts.setdefault(index, []).append(facts_of(version.plan, list(version.windows), named))
    work = []
    for index, version in enumerate(job.versions):
        mine = scoped(merged(facts.get(index, [])), version.periods, version.timelines, (customer,) if index in listed else ())
        work += [(version.plan, f, previous_of(version.plan, f, before.get(index, {}))) for f in mine]
    work.sort(key=work_order)
    rows: list[tuple] = []
    carried: dict = {}
    current: list = [None]  # the work item being rated, should a customer attribute fail

    def tracked():
        for item in work:
            current[0] = item
            yield item

    try:
        for item in rate_in_order(tracked(), job.customers, job.opening, job.estimate, carried=carried, variants=job.variants):
            rows.append(_row(item))
    except CustomerProblem as exc:  # raised on the driver as the DuckDB path raises it
        rows.append((customer, current[0][1].period.start, None, json.dumps({"kind": "customer", "message": str(exc)}), None))
    if carried and rows:
        balances = [[b.id, b.currency, str(b.amount)] for b in carried.values()]
        rows[-1] = (*rows[-1][:4], json.dumps(balances))
    return rows


def _row(item) -> tuple:
    """A document as its JSON line, or a failure as a problem the driver reads back (`failure_of`)."""
    if type(item) is Failure:
        problem = {
            "kind": "evaluation",
            "plan": item.plan,
            "period_end": item.period_end.isoformat(),
            "message": item.reason,
            "span": dataclasses.asdict(item.span),
        }
        return item.customer, item.period_start, None, json.dumps(problem), None
    return item.customer, item.period_start, document_line(item), None, None


def failure_of(customer: str, period_start, problem: dict) -> Failure:
    """The `stage2.Failure` of an evaluation problem row."""
    return Failure(
        customer,
        problem["plan"],
        period_start,
        datetime.date.fromisoformat(problem["period_end"]),
        Span(**problem["span"]),
        problem["message"],
    )


def _batch(pa, rows: list[tuple]):
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(columns[0], pa.string()),
            pa.array(columns[1], pa.date32()),
            pa.array(columns[2], pa.string()),
            pa.array(columns[3], pa.string()),
            pa.array(columns[4], pa.string()),
        ],
        names=["customer", "period_start", "document", "problem", "carried"],
    )
