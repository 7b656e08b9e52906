"""The DuckDB engine: stage 1 in an in-process DuckDB, stage 2 in this Python process, documents out.

`rate()` is what `ratecard rate`, `explain`, `diff`, `run`, `test` and the
workbench run. Each plan version reads the ledger on a connection of its
own, whose time zone is the plan's (`connect`).

When one plan rates the whole ledger (one version, every customer, no
quota), the ledger is not checked before it is rated: the aggregate pass
also counts the refused rows, and the duplicate check (`duplicates`) runs
on DuckDB's threads while Python prices the documents and `prepare`s them.
Should an event repeat, those documents are dropped and the ledger is
rated again the exact way (`duckdb.ledger.load`). Rows are numbered only when
needed: for rejected rows, and to break ties of `last`.
"""

from __future__ import annotations

import datetime
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dsl import tree
from interpreter.engines import core
from interpreter.engines.duckdb import ledger as duck_ledger, memory
from interpreter.engines.duckdb.background import Alongside
from interpreter.engines.interface import Outcome, Pricing, Task
from interpreter.ledger import aggregate as stage1, free_events, priced, priced_attributes, priced_expressions, uncovered as uncovered_rows
from interpreter.ledger.duplicates import repeated_count_sql
from interpreter.ledger.files import LedgerProblem
from interpreter.ledger.rows import Rejected, unreadable
from interpreter.ledger.sql import literal
from interpreter.output.render import document_line
from interpreter.pricing import balances as carried_balances
from interpreter.pricing.documents import Document
from interpreter.pricing.evaluate import EvaluationError
from interpreter.pricing.stage2 import Failure, Work, rate_in_order, work_order


def connect(plan: tree.Plan, on: Any = None):
    """A connection in the plan's time zone, within the memory limit, spilling past it (see `duckdb.memory`);
    with `on`, a cursor of that connection (its database and tables, its memory limit)."""
    try:
        con = duckdb.connect(config=memory.config()) if on is None else on.cursor()
    except duckdb.Error as exc:
        raise core.RateProblem(str(memory.problem(exc))) from None
    except memory.MemoryProblem as exc:
        raise core.RateProblem(str(exc)) from None
    con.execute(f"SET TimeZone = {literal(plan.timezone)}")
    con.execute("SET enable_progress_bar = false")
    return con


def rate(
    plan: tree.Plan | tuple[tree.Plan, ...],
    usage: str,
    period: str | None = None,
    as_of: str | None = None,
    customer: str | None = None,
    customers: str | None = None,
    customer_records: dict | None = None,
    progress: core.Progress | None = None,
    trace: bool = False,
    prepare: Callable[[list[Document]], Any] | None = None,
    balances: str | None = None,
    balance_records: carried_balances.Balances | None = None,
    keep_going: bool = False,
    lines: bool = False,
    share: duck_ledger.Share | None = None,
) -> core.RateResult:
    """Every document of the ledger (or of one customer), as `core.rate` decides them, rated on DuckDB.

    `trace` keeps how each line was computed (for `explain` and HTML
    invoices); `prepare` (rendering, say) is given the sorted documents,
    and what it makes is the result's `prepared`. With `lines`, the
    documents are their JSON lines (also the result's `prepared`), priced
    in SQL where the plan allows it (`ledger.priced`). With `share`, only
    those rows of the ledger are rated (`usage` names it in messages). See
    `core.rate` for the rest.
    """
    report = progress or (lambda _stage, _done, _total: None)
    return core.rate(
        DuckDB(report, trace, prepare, share, lines),
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
        report,
    )


@dataclass
class Ledger:
    """The ledger on one connection, read under one plan version."""

    con: Any
    plan: tree.Plan
    usage: str
    exact: bool  # duplicates and the quota marked, rejected rows kept (`duckdb.ledger.load`)
    source: str = ""  # the SELECT over the file (while not exact)
    numbered: bool = True  # whether that SELECT numbers the rows
    refused: int = 0  # refused rows counted by the aggregate pass (while not exact)
    check: Alongside | None = None  # the duplicate check running while stage 2 prices (while not exact)


@dataclass
class Part:
    """Stage 1 of one task: each customer's facts of each period, with the period before."""

    ledger: Ledger
    task: Task
    work: list[Work]
    texts: list[tuple[str, datetime.date, str]] = field(default_factory=list)  # documents priced in SQL


class DuckDB:
    """The `Engine` on DuckDB; `report` is told the stages and the customers rated."""

    errors: tuple[type[Exception], ...] = (duckdb.Error,)

    def __init__(
        self,
        report: core.Progress,
        trace: bool = False,
        prepare: Callable[[list[Document]], Any] | None = None,
        share: duck_ledger.Share | None = None,
        lines: bool = False,
    ) -> None:
        self.report = report
        self.trace = trace
        self.prepare = prepare or (lambda _documents: None)
        self.share = share
        self.lines = lines

    def load(self, usage: str, plan: tree.Plan, whole: bool) -> Ledger:
        con = connect(plan, self.share.con if self.share else None)
        if whole and plan.quota is None:  # checked while rated (see the module's docstring)
            # ties in time are broken by ledger order: `last` and free events need the row numbers
            numbered = any(m.aggregation == "last" for m in plan.metrics) or bool(free_events.windowed(plan))
            source = duck_ledger.view(con, usage, plan, numbered=numbered, share=self.share)
            return Ledger(con, plan, usage, exact=False, source=source, numbered=numbered)
        duck_ledger.load(con, usage, plan, self.share)
        return Ledger(con, plan, usage, exact=True)

    def dated(self, ledger: Ledger) -> tuple[datetime.date, datetime.date] | None:
        first, last = ledger.con.execute('SELECT min("date"), max("date") FROM checked_rows').fetchone()
        return None if first is None else (first, last)

    def stage1(self, ledger: Ledger, task: Task) -> Part:
        self.report("aggregating usage", 0, 0)
        plan, windows = task.plan, list(core.aggregated(task))
        if self.lines and not task.timelines and windows and priced.unsupported(plan) is None:
            part = self._priced(ledger, task, windows)
            if part is not None:
                return part
        if ledger.exact:
            facts = stage1.aggregate(ledger.con, plan, windows, task.as_of, task.customer)
        else:  # the whole ledger: refused rows counted in the same pass, event ids checked alongside
            facts, ledger.refused = stage1.aggregate_counting_refused(ledger.con, plan, windows, task.as_of)
            # a share's duplicates are judged by its caller: none repeats
            ledger.check = Alongside(ledger.con, "SELECT 0" if self.share else repeated_count_sql(ledger.source))
        facts = core.scoped(facts, task.windows, task.timelines, task.listed)
        earlier = stage1.aggregate(ledger.con, plan, list(task.earlier), None, task.customer)
        before = {(f.customer, f.period): f for f in earlier}
        return Part(ledger, task, [(plan, f, core.previous_of(plan, f, before)) for f in facts])

    def _priced(self, ledger: Ledger, task: Task, windows: list) -> Part | None:
        """Stage 1 with the documents priced in the same query; the interpreter builds those it leaves NULL.
        None when stage 1 gives a value in a type SQL cannot price exactly (a float, say)."""
        plan, con = task.plan, ledger.con
        params = {"customer": task.customer} if task.customer is not None and ledger.exact else {}
        if ledger.exact:
            query, document = stage1.aggregate_sql(plan, windows, task.as_of, "$customer" if params else None, ordered=False), "TRUE"
        else:
            query, document = stage1.aggregate_sql(plan, windows, task.as_of, refused=True, ordered=False), "g.__document"
        if not priced_expressions.exact_types({row[0]: row[1] for row in con.execute(f"DESCRIBE {query}", params).fetchall()}):
            return None
        try:
            found = priced_attributes.load(con, plan, task.records) if plan.customer else None
            sql = priced.Documents(plan, windows, task.as_of is not None, found).sql(query, document)
        except priced.NoSql:  # numbers of these customers too wide for DECIMAL(38), say
            return None
        con.execute(f"CREATE OR REPLACE TEMP TABLE priced AS {sql}", params)
        if not ledger.exact:
            ledger.refused = int(con.execute("SELECT coalesce(sum(__refused), 0) FROM priced").fetchone()[0])
            ledger.check = Alongside(con, "SELECT 0" if self.share else repeated_count_sql(ledger.source))
        texts = [
            (customer, windows[pid].start, doc)
            for customer, pid, doc in con.execute(
                "SELECT __customer, __pid, __doc FROM priced WHERE __doc IS NOT NULL ORDER BY __customer, __pid"
            ).fetchall()
        ]
        result = con.execute(f"SELECT * EXCLUDE (__doc) FROM priced AS g WHERE __doc IS NULL AND ({document}) ORDER BY __customer, __pid")
        names = [d[0] for d in result.description]
        facts = [stage1.facts_of(plan, windows, dict(zip(names, row, strict=True))) for row in result.fetchall()]
        seen = {(customer, start) for customer, start, _ in texts} | {(f.customer, f.period.start) for f in facts}
        facts += [stage1.Facts(c, w, 0, {}) for w in task.windows for c in task.listed if (c, w.start) not in seen]
        return Part(ledger, task, [(plan, f, None) for f in facts], texts)

    def stage2(self, parts: list[Part], pricing: Pricing) -> Outcome:
        outcome = self._rated(parts, pricing)
        checked = [part for part in parts if part.ledger.check is not None]
        if checked:
            self.report("checking event ids", 0, 0)
        repeated = [part for part in checked if self._settle(part.ledger)]
        if repeated:  # rated again, the exact way
            parts = [self.stage1(part.ledger, part.task) if part in repeated else part for part in parts]
            outcome = self._rated(parts, pricing)
        return outcome

    def rejected(self, ledger: Ledger) -> list[tuple[Rejected, datetime.date | None]]:
        if not ledger.exact and ledger.check is None:  # nothing to rate: the ledger is checked the exact way
            duck_ledger.load(ledger.con, ledger.usage, ledger.plan, self.share)
            ledger.exact = True
        return duck_ledger.rejected_rows(ledger.con)

    def uncovered(
        self, ledger: Ledger, days: tuple[uncovered_rows.Days, ...], as_of: datetime.datetime | None
    ) -> list[tuple[Rejected, datetime.date]]:
        return uncovered_rows.rejected(ledger.con.execute(uncovered_rows.uncovered_sql(days, as_of)).fetchall())

    def unreadable(self, usage: str, exc: Exception) -> LedgerProblem:
        return unreadable(usage, exc)

    def release(self, ledger: Ledger) -> None:
        if ledger.check is not None:
            ledger.check.__exit__(None, None, None)
        ledger.con.close()

    def _settle(self, ledger: Ledger) -> bool:
        """Finish checking a ledger rated before it was checked: True when an event repeats (it is
        then loaded the exact way), else the rejected rows are kept."""
        check = ledger.check
        assert check is not None  # only a ledger still being checked is settled
        try:
            duplicates = check.result()
        finally:
            check.__exit__(None, None, None)
            ledger.check = None
        if duplicates:
            duck_ledger.load(ledger.con, ledger.usage, ledger.plan, self.share)
        else:
            if ledger.refused and not ledger.numbered:
                duck_ledger.view(ledger.con, ledger.usage, ledger.plan, numbered=True, share=self.share)
            duck_ledger.keep_rejected(ledger.con, ledger.refused)
        ledger.exact = True
        return bool(duplicates)

    def _rated(self, parts: list[Part], pricing: Pricing) -> Outcome:
        """The documents in customer and period order, the failures, and the balances the documents left."""
        work = sorted((item for part in parts for item in part.work), key=work_order)
        documents: list[Document] = []
        failures: list[Failure] = []
        carried: carried_balances.Balances = {}
        # Documents are acyclic; pausing the cycle collector spares it from
        # rescanning millions of young Decimals while they are built.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for index, item in enumerate(
                rate_in_order(work, pricing.customers, pricing.opening, pricing.estimate, self.trace, carried, pricing.variants)
            ):
                if index % 2000 == 0:
                    self.report("rating customers", index, len(work))
                if isinstance(item, Failure):
                    if not pricing.keep_going:
                        raise EvaluationError(item.span, item.reason)
                    failures.append(item)
                else:
                    documents.append(item)
            self.report("rating customers", len(work), len(work))
        finally:
            if collecting:
                gc.enable()
        if self.lines:  # each document's JSON line, those priced in SQL among them, in customer and period order
            lines = [(doc.customer, doc.period_start, document_line(doc)) for doc in documents]
            lines += [text for part in parts for text in part.texts]
            if len(parts) > 1 or any(part.work for part in parts):
                lines.sort(key=lambda text: (text[0], text[1]))
            texts = [text for _, _, text in lines]
            return Outcome(texts, failures, carried, texts)
        return Outcome(documents, failures, carried, self.prepare(documents))
