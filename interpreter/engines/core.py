"""What to rate, decided once for every engine: periods, plan versions, rejected rows, previous periods.

`rate(engine, ...)` reads the customers and balances files, asks the engine
to load the ledger, decides the periods (`periods`), the plan version that
rates each (`by_version`), the periods before them for `previous.*`
(`earlier_periods`) and the customers billed without usage (`listed`), has
the engine compute stage 1 and stage 2, and keeps each rejected row that
the version judging it rejects (`judge`), and rejects the rows of a customer
with subscriptions on the days none covers (`uncovered_days`). The pure helpers are also what
an engine's stage 2 calls (`previous_of`, `without_usage`), on the driver
or on Spark's executors.

Problems with the command's inputs (ledger, period, customers or balances
file) raise `RateProblem`; a plan expression that fails while running
raises `interpreter.pricing.evaluate.EvaluationError`, or with `keep_going`
is listed among the result's `failures` while the other documents are
still rated.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dsl import tree
from dsl.loader import in_force
from interpreter.engines.interface import Engine, Pricing, Task
from interpreter.ledger import uncovered as uncovered_rows
from interpreter.ledger.aggregate import Facts
from interpreter.ledger.files import LedgerProblem
from interpreter.ledger.rows import Rejected
from interpreter.periods import FIRST_DAY, LAST_DAY, Period, PeriodProblem, calendar_period, local_midnight, parse_as_of, parse_range, split
from interpreter.pricing import balances as carried_balances, timelines as subscriptions
from interpreter.pricing.customers import CustomerProblem, read_customers
from interpreter.pricing.stage2 import Failure

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class RateProblem(Exception):
    """An input of the rating command cannot be used; the message says which and why."""


@dataclass(frozen=True)
class RateResult:
    documents: list  # `Document`s sorted by customer, then period (their JSON text from Spark)
    rejected: list[Rejected]
    prepared: Any = None  # what the engine's caller asked to have made of the documents
    failures: list[Failure] = field(default_factory=list)  # documents not rated (with `keep_going`)
    opening: carried_balances.Balances = field(default_factory=dict)  # the balances the customers started from
    carried: carried_balances.Balances = field(default_factory=dict)  # what each customer's last document left
    written: int = 0  # documents written to an output path instead (Spark)


def rate(
    engine: Engine,
    plan: tree.Plan | tuple[tree.Plan, ...],
    usage: str,
    period: str | None = None,
    as_of: str | None = None,
    customer: str | None = None,
    customers: str | None = None,
    customer_records: dict | None = None,
    balances: str | None = None,
    balance_records: carried_balances.Balances | None = None,
    keep_going: bool = False,
    progress: Progress | None = None,
) -> RateResult:
    """Every document of the ledger (or of one customer) for the requested periods, computed by `engine`.

    `plan` may be the versions of one plan (oldest first): each period is rated
    under the version in force on its first day. Customer attributes come from
    the `customers` file or, already read, from `customer_records`; opening
    balances of credits and carried discounts from the `balances` file or
    `balance_records`.
    """
    versions = tuple(plan) if isinstance(plan, (tuple, list)) else (plan,)
    latest = versions[-1]
    report = progress or (lambda _stage, _done, _total: None)
    loaded: dict[int, Any] = {}
    try:
        raw_customers = read_customers(customers) if customers else dict(customer_records or {})
        opening = carried_balances.read_balances(balances) if balances else dict(balance_records or {})
        carried_balances.check(opening, versions)
        moment = parse_as_of(as_of, latest.timezone) if as_of else None
        timelines = subscriptions.timelines(raw_customers)
        check_timelines(versions, timelines)
        variants = subscriptions.negotiated(versions, {c: t for c, t in timelines.items() if customer in (None, c)})
        report("reading and checking the ledger", 0, 0)
        # windows of a timeline overlap the periods: the one pass that also counts refused rows assumes they do not
        whole = len(versions) == 1 and customer is None and not timelines
        loaded[id(latest)] = engine.load(usage, latest, whole)
        windows = periods(latest, period, moment, lambda: engine.dated(loaded[id(latest)]))
        groups = {id(version): group for version, group in by_version(versions, windows)}
        parts = []
        uncovered: list[tuple[Rejected, datetime.date]] = []
        for version in reversed(versions):
            if id(version) not in loaded:
                loaded[id(version)] = engine.load(usage, version, whole)
            if id(version) in groups:
                task = Task(
                    version,
                    tuple(groups[id(version)]),
                    tuple(earlier_periods(version, groups[id(version)])),
                    listed(raw_customers, customer),
                    moment,
                    customer,
                    timeline_windows(version, groups[id(version)], timelines, customer, moment),
                    raw_customers,
                )
                parts.append(engine.stage1(loaded[id(version)], task))
                days = uncovered_days(groups[id(version)], timelines, customer)
                if days:
                    uncovered += engine.uncovered(loaded[id(version)], days, moment)
        outcome = engine.stage2(
            parts, Pricing(raw_customers, carried_balances.by_customer(opening), moment is not None, keep_going, variants)
        )
        refused = [row for version in versions for row, day in engine.rejected(loaded[id(version)]) if judge(versions, day) is version]
        rejected = sorted(refused + [row for row, _ in uncovered if row.row not in {r.row for r in refused}], key=lambda r: r.row)
    except (LedgerProblem, PeriodProblem, CustomerProblem, carried_balances.BalanceProblem, subscriptions.TimelineProblem) as problem:
        raise RateProblem(str(problem)) from None
    except engine.errors as exc:  # a sum past DECIMAL(38), say, or a file the engine fails on while rating
        raise RateProblem(str(engine.unreadable(usage, exc))) from None
    finally:
        for ledger in loaded.values():
            engine.release(ledger)
    return RateResult(outcome.documents, rejected, outcome.prepared, outcome.failures, opening, outcome.carried, outcome.written)


def periods(
    plan: tree.Plan, period: str | None, as_of: datetime.datetime | None, dated: Callable[[], tuple[datetime.date, datetime.date] | None]
) -> list[Period]:
    """The windows to rate: those of `--period`, the period `--as-of` falls in, or every period of the
    ledger's dated rows (`dated` gives their first and last local day, asked only then)."""
    if period is not None:
        start, end = parse_range(period)
    elif as_of is not None:
        start, end = calendar_period(plan.period, _local_day(as_of - datetime.timedelta(microseconds=1), plan.timezone))
    else:
        # every dated row, accepted or not: a later version's rule must not hide an earlier period
        days = dated()
        if days is None:
            return []
        start, end = calendar_period(plan.period, days[0])[0], calendar_period(plan.period, days[1])[1]
    windows = split(plan.period, start, end)
    if as_of is not None:
        windows = [w for w in windows if local_midnight(w.start, plan.timezone) < as_of]
    return windows


def _local_day(moment: datetime.datetime, timezone: str) -> datetime.date:
    try:
        return moment.astimezone(ZoneInfo(timezone)).date()
    except OverflowError:  # the moment is in the years 1 to 9999 in UTC, but not in the plan's zone
        raise PeriodProblem(
            f"--as-of {(moment + datetime.timedelta(microseconds=1)).isoformat()} is outside the days "
            f"ratecard can rate ({FIRST_DAY} to {LAST_DAY}) in the plan's time zone {timezone}"
        ) from None


def by_version(versions: tuple[tree.Plan, ...], windows: list[Period]) -> list[tuple[tree.Plan, list[Period]]]:
    """The windows each version rates (the version in force on a window's first day), latest version first."""
    groups: dict[int, list[Period]] = {}
    for window in windows:
        version = in_force(versions, window.start)
        if version is None:
            first = versions[0]
            raise PeriodProblem(
                f"no version of plan {first.id!r} is in force on {window.start} (the first takes effect on {first.effective})"
            )
        groups.setdefault(versions.index(version), []).append(window)
    return [(versions[index], group) for index, group in sorted(groups.items(), key=lambda item: -item[0])]


def judge(versions: tuple[tree.Plan, ...], day: datetime.date | None) -> tree.Plan:
    """The version whose rules judge a row: the one in force on its local date (the first version
    for a row dated before it takes effect; the latest for a row without a readable date)."""
    if day is None:
        return versions[-1]
    return in_force(versions, day) or versions[0]


def previous_period(plan: tree.Plan, period: Period) -> Period | None:
    """The whole calendar period before the one `period` lies in (None before the year 1: no usage there)."""
    if period.full_start == datetime.date.min:
        return None
    start, end = calendar_period(plan.period, period.full_start - datetime.timedelta(days=1))
    return Period(start, end, (end - start).days + 1, start, end)


def earlier_periods(plan: tree.Plan, windows: Iterable[Period]) -> list[Period]:
    """The periods stage 1 also aggregates when the plan reads `previous.<metric>`, in order (else none)."""
    if not plan.uses_previous:
        return []
    return sorted({p for p in (previous_period(plan, w) for w in windows) if p is not None}, key=lambda p: p.start)


def previous_of(plan: tree.Plan, facts: Facts, before: Mapping[tuple[str, Period], Facts]) -> Facts | None:
    """The facts of the period before `facts`' (empty when the customer had no usage then), or None
    when the plan does not read `previous.*`; `before` holds the facts of `earlier_periods`."""
    if not plan.uses_previous:
        return None
    period = previous_period(plan, facts.period)
    if period is None:
        return Facts(facts.customer, facts.period, 0, {})
    return before.get((facts.customer, period)) or Facts(facts.customer, period, 0, {})


def listed(raw_customers: Mapping[str, Any], customer: str | None) -> tuple[str, ...]:
    """The customers of the customers file (or the one asked for): each gets a document every period,
    usage or not (a subscription's base fee is owed even in a month without usage)."""
    return tuple(c for c in sorted(raw_customers) if customer is None or c == customer)


def without_usage(facts: Iterable[Facts], windows: Iterable[Period], customers: Iterable[str]) -> list[Facts]:
    """Empty facts for each of `customers` in each window where `facts` has none of theirs."""
    seen = {(f.customer, f.period) for f in facts}
    return [Facts(c, w, 0, {}) for w in windows for c in customers if (c, w) not in seen]


def check_timelines(versions: tuple[tree.Plan, ...], timelines: Mapping[str, subscriptions.Timeline]) -> None:
    """Refuse a subscription to this plan that starts before any version of it is in force."""
    first = versions[0]
    if first.effective is None:
        return
    for t in timelines.values():
        for sub in t.subscriptions:
            if sub.plan == first.id and sub.start < first.effective:
                raise subscriptions.TimelineProblem(
                    f"{t.where(sub.line)}: the subscription to plan {first.id!r} from {sub.start} starts before any version "
                    f"of the plan is in force (the first takes effect on {first.effective})"
                )


def timeline_windows(
    plan: tree.Plan,
    periods: Iterable[Period],
    timelines: Mapping[str, subscriptions.Timeline],
    customer: str | None,
    as_of: datetime.datetime | None = None,
) -> dict[str, tuple[Period, ...]]:
    """The windows each customer with subscriptions has on `plan` within `periods` (none for another plan's);
    with `as_of`, those that have started by then."""
    out = {}
    for c, t in timelines.items():
        if t.subscriptions and customer in (None, c):
            windows = subscriptions.windows(t, plan.id, periods)
            out[c] = tuple(w for w in windows if as_of is None or local_midnight(w.start, plan.timezone) < as_of)
    return out


def uncovered_days(
    periods: Iterable[Period], timelines: Mapping[str, subscriptions.Timeline], customer: str | None
) -> tuple[uncovered_rows.Days, ...]:
    """The days of `periods` each customer (or the one asked for) has no subscription on, whatever the plan:
    their rows on those days are rejected. A day on another plan is not one: that plan bills it."""
    periods = tuple(periods)
    return tuple(
        (c, first, last)
        for c, t in sorted(timelines.items())
        if customer in (None, c)
        for first, last in subscriptions.uncovered(t, periods)
    )


def aggregated(task: Task) -> tuple[Period, ...]:
    """The windows stage 1 aggregates: the periods, then each customer's subscription windows."""
    if not task.timelines:
        return task.windows
    extra = {w for windows in task.timelines.values() for w in windows} - set(task.windows)
    return task.windows + tuple(sorted(extra, key=lambda p: (p.start, p.end)))


def scoped(
    facts: Iterable[Facts], periods: Iterable[Period], timelines: Mapping[str, tuple[Period, ...]], customers: Iterable[str]
) -> list[Facts]:
    """The facts each customer is billed for: those of the periods, or of their own windows for a
    customer with subscriptions; with empty facts where a listed customer (`customers`) has no usage."""
    periods = tuple(periods)
    if not timelines:
        facts = list(facts)
        return facts + without_usage(facts, periods, customers)
    plain = set(periods)
    kept = [f for f in facts if f.period in (set(timelines[f.customer]) if f.customer in timelines else plain)]
    listed = tuple(customers)
    out = kept + without_usage(kept, periods, [c for c in listed if c not in timelines])
    for c in listed:
        if c in timelines:
            out += without_usage([f for f in kept if f.customer == c], timelines[c], (c,))
    return out
