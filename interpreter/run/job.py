"""A billing run: every customer under its own plan, from one ledger.

The customers file says which plan each customer has (a `plan` column or
key: the plan id or its file name, with or without `.yaml`) and their
attributes. A name that could mean two plans is refused, never guessed. The
ledger is read once into DuckDB, each row labelled with its customer's plan;
each plan then rates its own rows. Rows of customers without a plan are
rejected, and every rejected row keeps its row number in the original ledger.
As in `rate`, a document whose plan expression fails is one of its plan's
failures while the others are still rated, and customers start from the
balances of `--balances` (each plan sees its own customers' only).
`run.output` writes the result into `--out`.
"""

from __future__ import annotations

import dataclasses
import difflib
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dsl import tree
from dsl.loader import PLAN_SUFFIXES, Loaded, load_paths, plan_files
from dsl.types import TEXT
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb import ledger as duck_ledger
from interpreter.engines.duckdb.engine import connect, rate
from interpreter.ledger import rows as ledger
from interpreter.ledger.duplicates import event_key, reason as duplicate_reason
from interpreter.ledger.sql import ident, literal
from interpreter.pricing import balances as carried_balances, timelines as subscriptions
from interpreter.pricing.customers import CustomerProblem, read_customers
from interpreter.pricing.documents import Document
from interpreter.pricing.stage2 import Failure
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
    with tempfile.TemporaryDirectory(prefix="ratecard-run-") as tmp:
        con = connect(_plan(next(iter(by_id.values()))))
        used = [_plan(by_id[plan_id]) for plan_id in used_ids]
        try:
            # a customer whose subscriptions name no plan (only cancellations) is left unlabelled: their rows are rejected
            on_timeline = {c: ON_TIMELINE for c, _ in on_plan}
            _read_once(con, usage, used, {**assignment, **on_timeline}, sorted(on_plan))
        except ledger.LedgerProblem as problem:
            raise RateProblem(str(problem)) from None
        duplicates = _duplicates(con)
        for plan_id, rows in _unreadable(con).items():
            duplicates.setdefault(plan_id, []).extend(rows)
        runs = []
        for number, plan_id in enumerate(used_ids):
            item = by_id[plan_id]
            share = Path(tmp) / f"plan-{number}.parquet"  # numbered: a plan id is no file name
            # Duplicates are judged over the whole ledger (below), so each plan sees first rows only.
            mine_sql = (
                f"(__plan = {literal(plan_id)} OR (__plan = {literal(ON_TIMELINE)} AND trim(customer) IN "
                f"(SELECT customer FROM run_timelines WHERE plan = {literal(plan_id)}))) "
                "AND __first_row = __source_row AND __problem IS NULL"
            )
            con.execute(
                f"COPY (SELECT * EXCLUDE (__plan, __first_row, __problem) FROM run_ledger WHERE {mine_sql} "
                f"ORDER BY __source_row) TO {literal(str(share))} (FORMAT parquet)"
            )
            mine = {c: {k: v for k, v in records[c].items() if k != "plan"} for c, p in assignment.items() if p == plan_id}
            mine.update({c: records[c] for c, p in on_plan if p == plan_id})
            # each plan sees its own customers' balances only: another plan may hold an id in another currency
            held = {key: balance for key, balance in opening.items() if key[0] in mine}
            result = rate(
                item.versions or _plan(item),
                str(share),
                period=period,
                as_of=as_of,
                customer_records=mine,
                balance_records=held,
                keep_going=True,
                lines=True,  # documents priced in SQL where the plan allows it, as JSON lines
            )
            source_rows: list[int] = []  # the ledger's row of each row of the plan's share, when one is rejected
            if result.rejected:
                source_rows = [
                    r[0] for r in con.execute(f"SELECT __source_row FROM run_ledger WHERE {mine_sql} ORDER BY __source_row").fetchall()
                ]
            rejected = [ledger.Rejected(source_rows[r.row - 1], r.event_id, r.reason) for r in result.rejected]
            rejected = sorted(rejected + duplicates.get(plan_id, []), key=lambda r: r.row)
            runs.append(PlanRun(_plan(item), tuple(sorted(mine)), result.documents, rejected, result.failures, item.text, result.carried))
        unassigned = [
            ledger.Rejected(int(row), event_id, _unassigned_reason(event_id, customer, customers_path))
            for row, event_id, customer in con.execute(
                "SELECT __source_row, event_id, customer FROM run_ledger "
                "WHERE __plan IS NULL AND __first_row = __source_row AND __problem IS NULL ORDER BY __source_row"
            ).fetchall()
        ]
        # rows of customers with subscriptions go to each of their plans: their duplicates are reported once, here
        unassigned = sorted(unassigned + duplicates.get(None, []) + duplicates.get(ON_TIMELINE, []), key=lambda r: r.row)
    return RunResult(runs, unassigned, opening), []


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


def _duplicates(con) -> dict[str | None, list[ledger.Rejected]]:
    """Rows repeating an earlier row's event id anywhere in the ledger, by their customer's plan."""
    out: dict[str | None, list[ledger.Rejected]] = {}
    for row, event_id, first, plan_id in con.execute(
        "SELECT __source_row, event_id, __first_row, __plan FROM run_ledger WHERE __first_row < __source_row ORDER BY __source_row"
    ).fetchall():
        out.setdefault(plan_id, []).append(ledger.Rejected(int(row), event_id, duplicate_reason(first)))
    return out


def _unreadable(con) -> dict[str | None, list[ledger.Rejected]]:
    """First rows that are no rows of their own accord (a JSON line repeating a key), by their customer's plan."""
    out: dict[str | None, list[ledger.Rejected]] = {}
    for row, event_id, problem, plan_id in con.execute(
        f"SELECT __source_row, {event_key('CAST(event_id AS VARCHAR)')}, __problem, __plan FROM run_ledger "
        "WHERE __problem IS NOT NULL AND __first_row = __source_row ORDER BY __source_row"
    ).fetchall():
        out.setdefault(plan_id, []).append(ledger.Rejected(int(row), event_id, problem))
    return out


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


def _read_once(con, usage: str, plans: list[tree.Plan], assignment: dict[str, str], on_plan: Sequence[tuple[str, str]] = ()) -> None:
    """The ledger as text columns (exact), each row labelled with its customer's plan (or ON_TIMELINE:
    the customer's subscriptions, `on_plan`, say which plans rate the row)."""
    kinds: dict[str, set[str]] = {}
    for plan in plans:
        for f in plan.fields:
            kinds.setdefault(f.name, set()).add(f.type.kind)
    seen: dict[str, tree.Field] = {}
    for plan in plans:
        for f in plan.fields:
            # A Parquet column every plan types alike stays in its own type where that holds the values
            # exactly (each plan then reads it as it would read the ledger); otherwise it is kept as text,
            # which each plan types. A column the ledger lacks comes through empty.
            alike = f.type if len(kinds[f.name]) == 1 else TEXT
            seen.setdefault(f.name, tree.Field(f.name, alike, "", None, f.span))
    source, _ = duck_ledger.source_sql(con, usage, tuple(seen.values()))
    # one statement each: an INSERT per customer costs a round trip each
    con.execute(
        "CREATE OR REPLACE TEMP TABLE run_plans AS SELECT unnest($customers) AS customer, unnest($plans) AS plan",
        {"customers": list(assignment), "plans": list(assignment.values())},
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE run_timelines AS "
        "SELECT unnest(CAST($customers AS VARCHAR[])) AS customer, unnest(CAST($plans AS VARCHAR[])) AS plan",
        {"customers": [c for c, _ in on_plan], "plans": [p for _, p in on_plan]},
    )
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE run_ledger AS
            SELECT src.__row AS __source_row, {", ".join("src." + ident(c) for c in ("event_id", "customer", "timestamp", *seen))},
                   p.plan AS __plan, src.__problem, src.__row AS __first_row
            FROM ({source}) AS src LEFT JOIN run_plans AS p ON trim(src.customer) = p.customer
        """)
    except Exception as exc:
        raise RateProblem(str(ledger.unreadable(usage, exc))) from None
    # Later rows of an event point at its first row; a hash aggregate finds the (usually no) repeats
    # more cheaply than a window over every row would.
    key = event_key("CAST(event_id AS VARCHAR)")
    con.execute(f"""
        UPDATE run_ledger SET __first_row = d.__first
        FROM (SELECT {key} AS __key, min(__source_row) AS __first FROM run_ledger
              WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1) AS d
        WHERE {event_key("CAST(run_ledger.event_id AS VARCHAR)")} = d.__key AND run_ledger.__source_row > d.__first
    """)
