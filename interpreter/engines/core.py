"""Rate a ledger under a plan: stage 1 in DuckDB, stage 2 in Python, documents out.

`rate()` is what `ratecard rate` and `ratecard explain` run. Problems with the
command's inputs (ledger, period, customers or balances file) raise
`RateProblem`; a plan expression that fails while running raises
`interpreter.pricing.evaluate.EvaluationError`, or with `keep_going` is listed among
the result's `failures` while the other documents are still rated.
"""

from __future__ import annotations

import datetime
import gc
from dataclasses import dataclass, field
from typing import Any, Callable

from dsl import tree
from dsl.loader import in_force
from interpreter.ledger import aggregate as stage1
from interpreter.pricing import balances as carried_balances
from interpreter.ledger import rows as ledger
from interpreter.pricing.customers import CustomerProblem, read_customers
from interpreter.pricing.documents import Document
from interpreter.pricing.evaluate import EvaluationError
from interpreter.periods import Period, PeriodProblem, calendar_period, parse_as_of, parse_range, split
from interpreter.pricing.stage2 import Failure, Work, rate_in_order, work_order
from interpreter.ledger.sql import literal


class RateProblem(Exception):
    """An input of the rating command cannot be used; the message says which and why."""


@dataclass(frozen=True)
class RateResult:
    documents: list[Document]
    rejected: list[ledger.Rejected]
    prepared: Any = None  # what `prepare` made of the documents
    failures: list[Failure] = field(default_factory=list)  # documents not rated (with `keep_going`)
    opening: carried_balances.Balances = field(default_factory=dict)  # the balances the customers started from
    carried: carried_balances.Balances = field(default_factory=dict)  # what each customer's last document left


def connect(plan: tree.Plan):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET TimeZone = {literal(plan.timezone)}")
    con.execute("SET enable_progress_bar = false")
    return con


def periods_for(con, plan: tree.Plan, period: str | None, as_of: datetime.datetime | None) -> list[Period]:
    if period is not None:
        start, end = parse_range(period)
    elif as_of is not None:
        local = (as_of - datetime.timedelta(microseconds=1)).astimezone(datetime.timezone.utc)
        day = con.execute("SELECT CAST($t AS TIMESTAMPTZ)::DATE", {"t": local.isoformat()}).fetchone()[0]
        start, end = calendar_period(plan.period, day)
    else:
        # every dated row, accepted or not: a later version's rule must not hide an earlier period
        first, last = con.execute('SELECT min("date"), max("date") FROM checked_rows').fetchone()
        if first is None:
            return []
        start, end = calendar_period(plan.period, first)[0], calendar_period(plan.period, last)[1]
    windows = split(plan.period, start, end)
    if as_of is not None:
        cutoff = as_of.astimezone(datetime.timezone.utc)
        windows = [w for w in windows if _starts_before(con, w, cutoff)]
    return windows


def _starts_before(con, window: Period, cutoff: datetime.datetime) -> bool:
    start = con.execute("SELECT CAST($d AS DATE)::TIMESTAMPTZ < CAST($t AS TIMESTAMPTZ)",
                        {"d": window.start.isoformat(), "t": cutoff.isoformat()}).fetchone()[0]
    return bool(start)


def previous_period(plan: tree.Plan, period: Period) -> Period | None:
    """The whole calendar period before the one `period` lies in (None before the year 1: no usage there)."""
    if period.full_start == datetime.date.min:
        return None
    start, end = calendar_period(plan.period, period.full_start - datetime.timedelta(days=1))
    return Period(start, end, (end - start).days + 1, start, end)


def _previous_facts(con, plan: tree.Plan, windows: list[Period], customer: str | None) -> dict:
    if not plan.uses_previous:
        return {}
    earlier = sorted({p for p in (previous_period(plan, w) for w in windows) if p is not None}, key=lambda p: p.start)
    return {(f.customer, f.period): f for f in stage1.aggregate(con, plan, earlier, None, customer)}


def _previous_of(plan: tree.Plan, facts: stage1.Facts, before: dict) -> stage1.Facts | None:
    if not plan.uses_previous:
        return None
    period = previous_period(plan, facts.period)
    return before.get((facts.customer, period)) or stage1.Facts(facts.customer, period or facts.period, 0, {})


def rate(plan: tree.Plan | tuple[tree.Plan, ...], usage: str, period: str | None = None, as_of: str | None = None,
         customer: str | None = None, customers: str | None = None,
         customer_records: dict | None = None, progress: Callable[[str, int, int], None] | None = None,
         trace: bool = False, prepare: Callable[[list[Document]], Any] | None = None,
         balances: str | None = None, balance_records: carried_balances.Balances | None = None,
         keep_going: bool = False) -> RateResult:
    """Every document of the ledger (or of one customer) for the requested periods.

    `plan` may be the versions of one plan (oldest first): each period is rated
    under the version in force on its first day. Customer attributes come from
    the `customers` file or, already read, from `customer_records`; opening
    balances of credits and carried discounts from the `balances` file or
    `balance_records`. `prepare` (rendering, say) is given the sorted documents;
    rating a whole ledger, it runs while the duplicate check finishes.
    With `keep_going`, a document whose plan expression fails is listed in
    `failures` and the others are still rated; without, the first is raised.
    """
    import duckdb

    versions = tuple(plan) if isinstance(plan, (tuple, list)) else (plan,)
    latest = versions[-1]
    report = progress or (lambda stage, done, total: None)
    try:
        raw_customers = read_customers(customers) if customers else dict(customer_records or {})
        opening = carried_balances.read_balances(balances) if balances else dict(balance_records or {})
        carried_balances.check(opening, versions)
        stage2 = _Stage2(raw_customers, opening, trace, keep_going, report)
        moment = parse_as_of(as_of, latest.timezone) if as_of else None
        con = connect(latest)
        report("reading and checking the ledger", 0, 0)
        prepare = prepare or (lambda documents: None)
        if len(versions) == 1 and customer is None and latest.quota is None:
            return _rated_while_checking(con, latest, usage, period, moment, stage2, report, prepare)
        ledger.load(con, usage, latest)
        windows = periods_for(con, latest, period, moment)
        work: list[Work] = []
        groups = dict((id(v), g) for v, g in _by_version(versions, windows))
        if len(versions) == 1:
            rejected = ledger.rejected_rows(con)
            work += _work(con, latest, groups.get(id(latest), []), moment, customer, raw_customers, report)
        else:
            rejected = []
            for version in reversed(versions):
                if version is not latest:
                    con = connect(version)
                    ledger.load(con, usage, version)
                rejected += _judged_by(con, version, versions)
                if id(version) in groups:
                    work += _work(con, version, groups[id(version)], moment, customer, raw_customers, report)
            rejected.sort(key=lambda r: r.row)
    except (ledger.LedgerProblem, PeriodProblem, CustomerProblem, carried_balances.BalanceProblem) as problem:
        raise RateProblem(str(problem)) from None
    except duckdb.Error as exc:  # a sum past DECIMAL(38), say, on the paths `_rated_while_checking` does not take
        raise RateProblem(str(ledger.unreadable(usage, exc))) from None
    documents, failures, carried = _rated(stage2, work, moment)
    return RateResult(documents, rejected, prepare(documents), failures, opening, carried)


def _rated_while_checking(con, plan: tree.Plan, usage: str, period, moment, stage2: _Stage2, report,
                          prepare: Callable[[list[Document]], Any]) -> RateResult:
    """Rate the whole ledger while the duplicate check runs alongside.

    The aggregate pass also counts the refused rows. The duplicate check
    (`ledger.repeated_ids_sql`) then runs on DuckDB's threads while Python
    prices the documents and `prepare`s them. Should an event id repeat,
    those documents are dropped and the ledger is rated again the exact way
    (`ledger.load`). Rows are numbered only when needed: for rejected rows,
    and to break ties of `last`.
    """
    import duckdb

    from interpreter.engines.background import Alongside

    needs_rows = any(m.aggregation == "last" for m in plan.metrics)
    try:
        source = ledger.view(con, usage, plan, numbered=needs_rows)
        windows = periods_for(con, plan, period, moment)
        _by_version((plan,), windows)  # every window at or after the plan's `effective`
        report("aggregating usage", 0, 0)
        facts, refused = stage1.aggregate_counting_refused(con, plan, windows, moment)
        with Alongside(con, ledger.repeated_ids_sql(source)) as repeated:
            documents, failures, carried = _rated(stage2, _work(con, plan, windows, moment, None, stage2.customers, report, facts), moment)
            prepared = prepare(documents)
            report("checking event ids", 0, 0)
            duplicates = repeated.result()
        if duplicates:
            ledger.load(con, usage, plan)
            documents, failures, carried = _rated(stage2, _work(con, plan, windows, moment, None, stage2.customers, report), moment)
            return RateResult(documents, ledger.rejected_rows(con), prepare(documents), failures, stage2.opening, carried)
        if refused and not needs_rows:
            ledger.view(con, usage, plan, numbered=True)
        ledger.keep_rejected(con, refused)
        return RateResult(documents, ledger.rejected_rows(con), prepared, failures, stage2.opening, carried)
    except duckdb.Error as exc:
        raise ledger.unreadable(usage, exc) from None


def _judged_by(con, version: tree.Plan, versions: tuple[tree.Plan, ...]) -> list[ledger.Rejected]:
    """The rows `version` rejects among those it judges: the rows dated while it is in force
    (rows dated before the first version by the first; rows without a readable date by the latest)."""
    rows = con.execute("""
        SELECT r.__row, r.event_id, r.__reason, c."date"
        FROM rejected AS r LEFT JOIN (SELECT __row, "date" FROM checked_rows) AS c ON r.__row = c.__row
        ORDER BY r.__row
    """).fetchall()
    latest = versions[-1]
    return [
        ledger.Rejected(int(row), event_id, reason)
        for row, event_id, reason, day in rows
        if ((in_force(versions, day) or versions[0]) is version if day is not None else version is latest)
    ]


def _listed_without_usage(facts, windows, customer, raw_customers) -> list[stage1.Facts]:
    """Customers named in the customers file get a document every period, usage or not
    (a subscription's base fee is owed even in a month without usage)."""
    seen = {(f.customer, f.period) for f in facts}
    listed = [c for c in sorted(raw_customers) if customer is None or c == customer]
    return [stage1.Facts(c, w, 0, {}) for w in windows for c in listed if (c, w) not in seen]


def _by_version(versions: tuple[tree.Plan, ...], windows: list[Period]) -> list[tuple[tree.Plan, list[Period]]]:
    groups: dict[int, list[Period]] = {}
    for window in windows:
        version = in_force(versions, window.start)
        if version is None:
            first = versions[0]
            raise PeriodProblem(f"no version of plan {first.id!r} is in force on {window.start} (the first takes effect on {first.effective})")
        groups.setdefault(versions.index(version), []).append(window)
    return [(versions[index], group) for index, group in sorted(groups.items(), key=lambda item: -item[0])]


def _work(con, plan: tree.Plan, windows: list[Period], moment, customer, raw_customers, report,
          facts: list[stage1.Facts] | None = None) -> list[Work]:
    """What stage 2 builds for one plan version: each customer's facts of each period, with the period before."""
    if facts is None:
        report("aggregating usage", 0, 0)
        facts = stage1.aggregate(con, plan, windows, moment, customer)
    facts += _listed_without_usage(facts, windows, customer, raw_customers)
    before = _previous_facts(con, plan, windows, customer)
    return [(plan, f, _previous_of(plan, f, before)) for f in facts]


@dataclass(frozen=True)
class _Stage2:
    """What building the documents needs besides the work: customers, opening balances, options."""

    customers: dict
    opening: carried_balances.Balances
    trace: bool
    keep_going: bool
    report: Callable[[str, int, int], None]


def _rated(stage2: _Stage2, work: list[Work], moment) -> tuple[list[Document], list[Failure], carried_balances.Balances]:
    """The documents in customer and period order, the failures, and the balances the documents left."""
    work.sort(key=work_order)
    documents: list[Document] = []
    failures: list[Failure] = []
    carried: carried_balances.Balances = {}
    opening = carried_balances.by_customer(stage2.opening)
    # Documents are acyclic; pausing the cycle collector spares it from
    # rescanning millions of young Decimals while they are built.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for index, item in enumerate(rate_in_order(work, stage2.customers, opening, moment is not None, stage2.trace, carried)):
            if index % 2000 == 0:
                stage2.report("rating customers", index, len(work))
            if type(item) is Failure:
                if not stage2.keep_going:
                    raise EvaluationError(item.span, item.reason)
                failures.append(item)
            else:
                documents.append(item)
        stage2.report("rating customers", len(work), len(work))
    finally:
        if collecting:
            gc.enable()
    return documents, failures, carried
