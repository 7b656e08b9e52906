"""What runs on Spark's executors: JSON lines read, quota refusals, and documents built.

Each function takes the Arrow record batches of one partition and yields
record batches (`DataFrame.mapInArrow`). They call the very code the DuckDB
path calls — `jsonl.json_cells`, `quota.quota_refusals`, `documents.build`
and `render.document_line` — so a document is the same text on either
engine. Nothing here imports pyspark; only pyarrow.
"""

from __future__ import annotations

import dataclasses
import gc
import json
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Iterator

from dsl import tree
from interpreter.aggregate import Facts, facts_of
from interpreter.jsonl import PROBLEM, json_cells
from interpreter.quota import quota_refusals
from interpreter.periods import Period

PREVIOUS, FACTS, LISTED = 0, 1, 2  # kinds of stage-2 input rows, in the order a customer's rows arrive
DOCUMENT_COLUMNS = "customer string, period_start date, document string, problem string"
_BATCH = 1024


def json_rows(batches, columns: tuple[str, ...], path: str) -> Iterator:
    """Numbered non-blank text lines (`__row`, `__line`, `value`) -> `__row`, one text column per ledger
    column and `__problem` (why the line is no row, if it is not)."""
    import pyarrow as pa

    for batch in batches:
        rows: list[int] = []
        cells: list[list[str | None]] = [[] for _ in (*columns, PROBLEM)]
        lines = zip(batch.column("__row").to_pylist(), batch.column("__line").to_pylist(), batch.column("value").to_pylist())
        for row, number, line in lines:
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a byte order mark, as Python's utf-8-sig reading drops it
            found = json_cells(line, number, columns, path)
            if found is None:
                continue
            rows.append(row)
            for column, cell in zip(cells, found):
                column.append(cell if cell != "" else None)  # an empty cell is a missing value, as in a CSV
        yield pa.RecordBatch.from_arrays([pa.array(rows, pa.int64()), *(pa.array(c, pa.string()) for c in cells)],
                                         names=["__row", *columns, PROBLEM])


def quota_rows(batches, quota: tree.Quota, period_start) -> Iterator:
    """Quota rows sorted by customer, instant and row -> (`__refused_row`, `__refusal`)."""
    import pyarrow as pa

    def rows():
        for batch in batches:
            yield from zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)))

    refused = quota_refusals(rows(), quota, period_start)
    yield pa.RecordBatch.from_arrays([pa.array([row for row, _ in refused], pa.int64()),
                                      pa.array([reason for _, reason in refused], pa.string())],
                                     names=["__refused_row", "__refusal"])


@dataclass(frozen=True)
class Job:
    """What every executor needs to build the documents of one plan version."""

    plan: tree.Plan
    windows: tuple[Period, ...]  # `__pid` of FACTS and LISTED rows indexes these
    earlier: tuple[Period, ...]  # `__pid` of PREVIOUS rows indexes these
    customers: dict[str, dict[str, Any]]  # raw attributes, as read from the customers file
    estimate: bool
    columns: tuple[str, ...]  # the stage-1 column names, in order (the batches' names are placeholders)


def document_rows(batches, job: Job) -> Iterator:
    """Stage-1 rows of whole customers, sorted by customer, kind and period -> one JSON document each.

    A customer's PREVIOUS rows (the period before each, for `previous.<metric>`)
    come first; a LISTED row (a customer of the customers file) makes a
    document without usage unless the customer has FACTS in that period.
    A plan expression or customer attribute that fails becomes a `problem`
    row, raised on the driver as the DuckDB path would raise it.
    """
    import pyarrow as pa

    def records():
        for batch in batches:
            for values in zip(*(column.to_pylist() for column in batch.columns)):
                yield dict(zip(job.columns, values))

    out: list[tuple] = []
    collecting = gc.isenabled()
    gc.disable()  # documents are acyclic; see rate._documents
    try:
        for customer, group in groupby(records(), key=lambda r: r["__customer"]):
            before: dict[Period, Facts] = {}
            rated: set[int] = set()
            for record in group:
                kind = record.pop("__kind")
                if kind == PREVIOUS:
                    facts = facts_of(job.plan, job.earlier, record)
                    before[facts.period] = facts
                    continue
                if kind == LISTED:
                    if record["__pid"] in rated:
                        continue
                    facts = Facts(customer, job.windows[record["__pid"]], 0, {})
                else:
                    rated.add(record["__pid"])
                    facts = facts_of(job.plan, job.windows, record)
                out.append(_document(job, facts, before))
                if len(out) >= _BATCH:
                    yield _batch(pa, out)
                    out = []
    finally:
        if collecting:
            gc.enable()
    yield _batch(pa, out)


def _document(job: Job, facts: Facts, before: dict[Period, Facts]) -> tuple:
    from interpreter.customers import CustomerProblem, attributes
    from interpreter.documents import build
    from interpreter.evaluate import EvaluationError
    from interpreter.rate import previous_period
    from interpreter.render import document_line

    previous = None
    if job.plan.uses_previous:
        period = previous_period(job.plan, facts.period)
        previous = before.get(period) or Facts(facts.customer, period or facts.period, 0, {})
    try:
        doc = build(job.plan, facts, attributes(job.plan, facts.customer, job.customers),
                    estimate=job.estimate, previous=previous)
    except EvaluationError as exc:
        problem = {"kind": "evaluation", "message": exc.message, "span": dataclasses.asdict(exc.span)}
        return facts.customer, facts.period.start, None, json.dumps(problem)
    except CustomerProblem as exc:
        return facts.customer, facts.period.start, None, json.dumps({"kind": "customer", "message": str(exc)})
    text = document_line(doc)
    return facts.customer, facts.period.start, text, None


def _batch(pa, rows: list[tuple]):
    columns = list(zip(*rows)) if rows else [[], [], [], []]
    return pa.RecordBatch.from_arrays(
        [pa.array(columns[0], pa.string()), pa.array(columns[1], pa.date32()),
         pa.array(columns[2], pa.string()), pa.array(columns[3], pa.string())],
        names=["customer", "period_start", "document", "problem"])
