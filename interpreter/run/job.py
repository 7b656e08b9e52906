"""A billing run: every customer under its own plan, from one ledger.

The customers file says which plan each customer has (a `plan` column or
key: the plan id or its file name, with or without `.yaml`) and their
attributes. A name that could mean two plans is refused, never guessed. Each
plan rates its customers' share of the ledger (`run.shares`), duplicates
judged over the whole ledger. Rows of customers without a plan are
rejected, and every rejected row keeps its row number in the original ledger.
As in `rate`, a document whose plan expression fails is one of its plan's
failures while the others are still rated, and customers start from the
balances of `--balances` (each plan sees its own customers' only).
`run.output` writes the result into `--out`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dsl import tree
from dsl.loader import PLAN_SUFFIXES, Loaded, load_paths, plan_files
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import connect, rate
from interpreter.ledger import rows as ledger
from interpreter.pricing import balances as carried_balances, timelines as subscriptions
from interpreter.pricing.customers import CustomerProblem, read_customers
from interpreter.pricing.documents import Document
from interpreter.pricing.stage2 import Failure
from interpreter.run import shares
from interpreter.run.output import check_out, colliding, input_checksums, write_outputs


@dataclass(frozen=True)
class PlanRun:
    plan: tree.Plan
    customers: tuple[str, ...]
    documents: list[Document]
    rejected: list[ledger.Rejected]
    failures: list[Failure] = field(default_factory=list)  # documents not rated (a plan expression failed)
    source: str = ""  # the plan file's text, to show a failure's line
    carried: carried_balances.Balances = field(default_factory=dict)  # what each customer's last document left


@dataclass(frozen=True)
class RunResult:
    runs: list[PlanRun]
    unassigned: list[ledger.Rejected]  # rows of customers the customers file gives no plan
    opening: carried_balances.Balances = field(default_factory=dict)  # every row of `--balances`

    @property
    def rejected(self) -> list[ledger.Rejected]:
        rows = [r for run in self.runs for r in run.rejected] + self.unassigned
        # a row of a customer with subscriptions is judged by each of their plans: listed once, as the first judged it
        first: dict[int, ledger.Rejected] = {}
        for r in sorted(rows, key=lambda r: r.row):
            first.setdefault(r.row, r)
        return list(first.values())

    @property
    def failures(self) -> list[Failure]:
        return [f for run in self.runs for f in run.failures]

    def closing(self) -> list[carried_balances.Balance]:
        """The balances the next run starts from: the opening ones, updated by every plan's documents
        (check `balances.unclosed_reason` first)."""
        carried = {key: balance for run in self.runs for key, balance in run.carried.items()}
        return carried_balances.closing_balances(self.opening, carried)


ON_TIMELINE = " subscriptions"  # the plan label of rows of a customer with subscriptions (no plan id has a space)


class PlanChoiceProblem(Exception):
    """The plans folder does not say which plan is meant (a plan problem: exit 1)."""


def _plan(item: Loaded) -> tree.Plan:
    """The plan of a file `billing_run` has checked loads without errors."""
    assert item.plan is not None
    return item.plan


def _plans_by_name(loaded: list[Loaded]) -> dict[str, list[Loaded]]:
    """Every name a customer may give a plan by (its id, its file name with or without the
    suffix), with the plans it names; two plans declaring one id are refused outright."""
    by_id: dict[str, Loaded] = {}
    for item in loaded:
        plan_id = _plan(item).id
        if plan_id in by_id:
            raise PlanChoiceProblem(f"{by_id[plan_id].path} and {item.path} both declare plan {plan_id!r}; give each plan its own id")
        by_id[plan_id] = item
    out: dict[str, list[Loaded]] = {}
    for item in loaded:
        path = Path(item.path)
        plan_id = _plan(item).id
        names = (plan_id, path.name, path.stem) if path.suffix in PLAN_SUFFIXES else (plan_id, path.name)
        for name in dict.fromkeys(names):
            if item not in out.setdefault(name, []):
                out[name].append(item)
    return out


def _chosen(plans: dict[str, list[Loaded]], customers_path: str, customer: str, name: str) -> Loaded:
    found = plans.get(name, [])
    if len(found) > 1:
        which = " and ".join(f"{item.path} (plan {_plan(item).id!r})" for item in found)
        raise PlanChoiceProblem(
            f"{customers_path}: customer {customer!r} has plan {name!r}, but {name!r} names two plans: {which}; give the plan id"
        )
    if not found:
        known = ", ".join(sorted({_plan(item).id for items in plans.values() for item in items}))
        raise RateProblem(f"{customers_path}: customer {customer!r} has plan {name!r}, not one of: {known}")
    return found[0]


def billing_run(
    plans_dir: str, usage: str, customers_path: str, period: str | None = None, as_of: str | None = None, balances: str | None = None
) -> tuple[RunResult | None, list[Loaded]]:
    """Rate every customer under their plan, from the opening `balances` file if given;
    (None, broken plans) when a plan has errors. A document whose plan expression fails is
    one of its plan's `failures`; the others are still rated."""
    if not Path(plans_dir).is_dir():
        raise RateProblem(f"{plans_dir}: no such folder of plans")
    loaded, problems = load_paths([plans_dir])
    broken = [item for item in loaded if item.plan is None]
    if broken or problems:
        return None, broken + ([Loaded(plans_dir, "", None, tuple(problems))] if problems else [])
    plans = _plans_by_name(loaded)
    try:
        records = read_customers(customers_path)
        opening = carried_balances.read_balances(balances) if balances else {}
    except (CustomerProblem, carried_balances.BalanceProblem) as problem:
        raise RateProblem(str(problem)) from None
    if not records:
        raise RateProblem(f"{customers_path}: lists no customers; a billing run needs each customer with their plan")
    # a customer with subscriptions is on each of their plans in turn: their rows go to all of them,
    # and each plan bills the customer's windows on it only
    try:
        found = subscriptions.timelines(records)
    except subscriptions.TimelineProblem as problem:
        raise RateProblem(str(problem)) from None
    timelines = {c: _resolved(plans, customers_path, t) for c, t in found.items() if t.subscriptions}
    for customer, t in timelines.items():
        records[customer] = {**records[customer], subscriptions.TIMELINE: t}
    assignment = {
        customer: _plan(_chosen(plans, customers_path, customer, str(attrs.get("plan") or "").strip())).id
        for customer, attrs in records.items()
        if customer not in timelines
    }
    on_plan = {(c, s.plan) for c, t in timelines.items() for s in t.subscriptions if s.plan is not None}
    by_id = {_plan(item).id: item for items in plans.values() for item in items}
    used_ids = sorted(set(assignment.values()) | {plan_id for _, plan_id in on_plan})
    clash = colliding({plan_id: by_id[plan_id].path for plan_id in used_ids})
    if clash:
        raise PlanChoiceProblem(clash)
    work = []
    for plan_id in used_ids:
        mine = {c: {k: v for k, v in records[c].items() if k != "plan"} for c, p in assignment.items() if p == plan_id}
        mine.update({c: records[c] for c, p in on_plan if p == plan_id})
        # each plan sees its own customers' balances only: another plan may hold an id in another currency
        work.append((by_id[plan_id], mine, {key: balance for key, balance in opening.items() if key[0] in mine}))
    con = connect(_plan(next(iter(by_id.values()))))
    try:
        # a customer whose subscriptions name no plan (only cancellations) is left unlabelled: their rows are rejected
        shares.label(con, {**assignment, **{c: ON_TIMELINE for c, _ in on_plan}}, sorted(on_plan))
        try:
            read = shares.reading(con, usage, [_plan(item) for item, _, _ in work])
        except ledger.LedgerProblem as problem:
            raise RateProblem(str(problem)) from None
        # Rated on the assumption that no event id repeats while the whole ledger is checked for repeats (and
        # for rows outside every plan); should one repeat, the plans are rated again from `run_ledger`. The
        # check starts once the first plan's usage is aggregated, beside the pricing in Python, as in `rate`.
        with shares.Check(con, read) as check:
            try:
                runs, failed = _rated(con, read, usage, work, period, as_of, False, check.start), None
            except RateProblem as problem:  # reported unless the ledger is unreadable, or a repeat explains it
                runs, failed = [], problem
            try:
                repeats, outside = check.result()
            except duckdb.Error as exc:
                raise RateProblem(str(ledger.unreadable(usage, exc))) from None
        if repeats:
            shares.marked(con, usage, read)
            runs = _rated(con, read, usage, work, period, as_of, True)
        elif failed is not None:
            raise failed
        unplanned, before = shares.outside(con, read, bool(repeats)) if repeats or outside else ([], {})
    finally:
        con.close()
    runs = [dataclasses.replace(run, rejected=sorted(run.rejected + before.get(run.plan.id, []), key=lambda r: r.row)) for run in runs]
    unassigned = [
        ledger.Rejected(row, event_id, _unassigned_reason(event_id, customer, customers_path)) for row, event_id, customer in unplanned
    ]
    # rows of customers with subscriptions go to each of their plans: their duplicates are reported once, here
    unassigned = sorted(unassigned + before.get(None, []) + before.get(ON_TIMELINE, []), key=lambda r: r.row)
    return RunResult(runs, unassigned, opening), []


def _rated(
    con,
    read: shares.Reading,
    usage: str,
    work: list[tuple[Loaded, dict, carried_balances.Balances]],
    period: str | None,
    as_of: str | None,
    repeats: bool,
    priced: Callable[[], None] = lambda: None,
) -> list[PlanRun]:
    """Each plan (with its customers and their balances) rated on its share of the ledger's first rows;
    `priced` is called as a plan's documents start being priced."""
    rows = shares.first_rows(read, repeats)
    runs = []
    for item, mine, held in work:
        plan = _plan(item)
        result = rate(
            item.versions or plan,
            usage,
            period=period,
            as_of=as_of,
            customer_records=mine,
            balance_records=held,
            keep_going=True,
            lines=True,  # documents priced in SQL where the plan allows it, as JSON lines
            progress=lambda stage, _done, _total: priced() if stage == "rating customers" else None,
            share=shares.share(con, rows, read.native, plan.id),
        )
        runs.append(PlanRun(plan, tuple(sorted(mine)), result.documents, result.rejected, result.failures, item.text, result.carried))
    return runs


def billing_job(
    plans_dir: str,
    usage: str,
    customers_path: str,
    out_dir: str,
    force: bool = False,
    period: str | None = None,
    as_of: str | None = None,
    balances: str | None = None,
) -> tuple[RunResult | None, list[Loaded], list[Path]]:
    """`ratecard run`: `--out` checked first, the run rated (its inputs hashed meanwhile, for the
    manifest), then written as one unit; (None, broken plans, []) when a plan has errors."""
    check_out(out_dir, force)
    with ThreadPoolExecutor(max_workers=1) as pool:
        inputs = pool.submit(input_checksums, customers_path, plan_files([plans_dir])[0], usage, balances)
        result, broken = billing_run(plans_dir, usage, customers_path, period=period, as_of=as_of, balances=balances)
        if result is None:
            return None, broken, []
        return result, [], write_outputs(result, out_dir, force, inputs.result(), period, as_of)


def _unassigned_reason(event_id, customer, customers_path: str) -> str:
    """Why a row no plan rates is rejected: the first of `rate`'s reasons that applies, then the plan."""
    if not str(event_id or "").strip():
        return "missing event_id"
    if not str(customer or "").strip():
        return "missing customer"
    return f"customer {customer!r} has no plan in {Path(customers_path).name}"


def _resolved(plans: dict[str, list[Loaded]], customers_path: str, t: subscriptions.Timeline) -> subscriptions.Timeline:
    """The timeline with each subscription's plan name (id or file name) made the plan's id."""
    out = []
    for sub in t.subscriptions:
        if sub.plan is None:
            out.append(sub)
            continue
        if sub.plan not in plans:
            known = sorted({_plan(item).id for items in plans.values() for item in items})
            close = difflib.get_close_matches(sub.plan, list(plans), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the plans are {', '.join(known)}"
            raise RateProblem(f"{t.where(sub.line)}: subscription to plan {sub.plan!r}, which is not in the plans folder{hint}")
        chosen = _chosen(plans, customers_path, t.customer, sub.plan)
        out.append(dataclasses.replace(sub, plan=_plan(chosen).id))
    return dataclasses.replace(t, subscriptions=tuple(out))
