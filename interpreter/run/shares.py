"""The ledger of a billing run, read once for every plan: each plan's share, and the rows no plan rates.

The ledger is read with the union of the plans' fields (`reading`), and
the customers' plans are tables of the run's connection (`label`). Each
plan rates its share (`share`) on a cursor of that connection, so no
plan's rows are copied anywhere. Duplicates are judged over the whole
ledger, whichever plans its rows go to, and each plan sees first rows only:

- in the usual case no event id repeats (`check` finds none, while the
  plans are rated): a share is the ledger file itself, read with a filter
  (a CSV file's text is parsed once, into a table of its cells only), and only
  when `check` counts rows outside every plan are they listed;
- otherwise the ledger is copied once into the table `run_ledger`, where
  each later row of an event points at its first (`marked`), and the
  shares and the rows outside them are read from there.

Either way a row keeps its row number in the ledger, and `outside` says
the same of the rows no plan rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dsl import tree
from dsl.types import TEXT
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb import ledger as duck_ledger
from interpreter.engines.duckdb.background import Alongside
from interpreter.ledger import rows as ledger
from interpreter.ledger.duplicates import event_key, reason as duplicate_reason, repeated_count_sql
from interpreter.ledger.sql import ident, literal, trimmed

CELLS = "run_cells"  # a CSV ledger's cells
MARKED = "run_ledger"  # the ledger's rows with their first rows, when an event repeats


@dataclass(frozen=True)
class Reading:
    """The ledger as every plan of the run reads it, over the union of the plans' fields."""

    source: str  # the SELECT of the rows, numbered, as `source_sql` gives it
    native: dict[str, str]  # the columns kept in their own type
    columns: tuple[str, ...]  # the builtin columns, then the plans' fields


def label(con, assignment: dict[str, str], on_plan: Sequence[tuple[str, str]]) -> None:
    """The tables `run_plans` (each customer's plan, or the mark of a customer with subscriptions) and
    `run_timelines` (the plans of those customers); not temporary, so the plans' cursors read them."""
    # one statement each: an INSERT per customer costs a round trip each
    con.execute(
        "CREATE OR REPLACE TABLE run_plans AS SELECT unnest($customers) AS customer, unnest($plans) AS plan",
        {"customers": list(assignment), "plans": list(assignment.values())},
    )
    con.execute(
        "CREATE OR REPLACE TABLE run_timelines AS "
        "SELECT unnest(CAST($customers AS VARCHAR[])) AS customer, unnest(CAST($plans AS VARCHAR[])) AS plan",
        {"customers": [c for c, _ in on_plan], "plans": [p for _, p in on_plan]},
    )


def reading(con, usage: str, plans: list[tree.Plan]) -> Reading:
    """How the run reads the ledger: cells as text (exact), or in their own type where every plan reads them alike."""
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
    fields = tuple(seen.values())
    columns = ("event_id", "customer", "timestamp", *seen)
    if not usage.lower().endswith(".csv"):  # Parquet is read again cheaply; JSON lines are already a table
        source, native = duck_ledger.source_sql(con, usage, fields)
        return Reading(source, native, columns)
    # CSV text costs more to parse than a table to read: it is parsed once, in several threads (its rows not
    # numbered), into a table whose row ids keep the file's order, as the table keeps the order rows came in
    source, native = duck_ledger.source_sql(con, usage, fields, numbered=False)
    con.execute("SET preserve_insertion_order = true")
    try:
        # the cells only: a column of NULL row numbers and one of NULL problems (only JSON lines have
        # lines that are no rows) would take a seventh of the table
        con.execute(f"CREATE OR REPLACE TABLE {CELLS} AS SELECT * EXCLUDE (__row, __problem) FROM ({source}) AS src")
    except Exception as exc:
        raise RateProblem(str(ledger.unreadable(usage, exc))) from None
    return Reading(f"SELECT CAST(rowid + 1 AS BIGINT) AS __row, *, CAST(NULL AS VARCHAR) AS __problem FROM {CELLS}", native, columns)


def check_sql(read: Reading) -> str:
    """A list of two counts over the whole ledger: rows that may repeat an earlier row's event
    (`repeated_count_sql`), and rows outside every plan's share (no plan, or no row of their own accord)."""
    outside = f"""
        SELECT coalesce(sum(g.rows) FILTER (WHERE p.plan IS NULL), 0) + coalesce(sum(g.unreadable), 0)
        FROM (SELECT customer, count(*) AS rows, count(__problem) AS unreadable FROM ({read.source}) AS r GROUP BY customer) AS g
        LEFT JOIN run_plans AS p ON trim(g.customer) = p.customer
    """
    return f"SELECT [({repeated_count_sql(read.source)}), ({outside})]"


class Check:
    """`check_sql` run on a cursor of its own from the first `start()` on, while the caller goes on;
    `result()` waits for its counts (starting it if need be). Leaving the `with` block early interrupts it."""

    def __init__(self, con, read: Reading) -> None:
        self._con = con
        self._sql = check_sql(read)
        self._running: Alongside | None = None

    def start(self) -> None:
        if self._running is None:
            self._running = Alongside(self._con, self._sql)

    def result(self) -> tuple[int, int]:
        self.start()
        assert self._running is not None
        repeats, outside = self._running.result()
        return repeats, outside

    def __enter__(self) -> Check:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._running is not None:
            self._running.__exit__(*exc_info)


def marked(con, usage: str, read: Reading) -> None:
    """The table `run_ledger`: every row with `__first`, the row of its event that counts (its own but for a repeat)."""
    try:
        con.execute(f"CREATE OR REPLACE TABLE {MARKED} AS SELECT *, __row AS __first FROM ({read.source}) AS src")
    except Exception as exc:
        raise RateProblem(str(ledger.unreadable(usage, exc))) from None
    # Later rows of an event point at its first row; a hash aggregate finds the (usually few) repeats
    # more cheaply than a window over every row would.
    key = event_key("CAST(event_id AS VARCHAR)")
    con.execute(f"""
        UPDATE {MARKED} SET __first = d.__first
        FROM (SELECT {key} AS __key, min(__row) AS __first FROM {MARKED}
              WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1) AS d
        WHERE {event_key(f"CAST({MARKED}.event_id AS VARCHAR)")} = d.__key AND {MARKED}.__row > d.__first
    """)


def first_rows(read: Reading, repeats: bool) -> str:
    """The ledger's first rows: all of them, or those of `run_ledger` that count when an event repeats."""
    if not repeats:
        return read.source
    return f"SELECT {', '.join(['__row', *(ident(c) for c in read.columns), '__problem'])} FROM {MARKED} WHERE __first = __row"


def share(con, rows: str, native: dict[str, str], plan_id: str) -> duck_ledger.Share:
    """The rows a plan rates: its customers' (those on it by their subscriptions too) first rows that are rows of their own accord."""
    mine = (
        f"{trimmed('customer')} IN (SELECT customer FROM run_plans WHERE plan = {literal(plan_id)} "
        f"UNION ALL SELECT customer FROM run_timelines WHERE plan = {literal(plan_id)})"
    )
    return duck_ledger.Share(con, f"SELECT * FROM ({rows}) AS r WHERE __problem IS NULL AND {mine}", native)


def outside(con, read: Reading, repeats: bool) -> tuple[list[tuple[int, str | None, str | None]], dict[str | None, list[ledger.Rejected]]]:
    """The rows no plan rates: (row, event id, customer) of first rows of customers without a plan, and by
    their customer's plan (None: none) the rows rejected before rating (repeats, lines that are no rows)."""
    rows = f"SELECT *, __row AS __first FROM ({read.source}) AS src" if not repeats else f"SELECT * FROM {MARKED}"
    unassigned: list[tuple[int, str | None, str | None]] = []
    rejected: dict[str | None, list[ledger.Rejected]] = {}
    for row, event_id, key, customer, problem, first, plan_id in con.execute(f"""
        SELECT r.__row, r.event_id, {event_key("CAST(r.event_id AS VARCHAR)")}, r.customer, r.__problem, r.__first, p.plan
        FROM ({rows}) AS r LEFT JOIN run_plans AS p ON {trimmed("r.customer")} = p.customer
        WHERE r.__first < r.__row OR r.__problem IS NOT NULL OR p.plan IS NULL ORDER BY r.__row
    """).fetchall():
        if first < row:
            rejected.setdefault(plan_id, []).append(ledger.Rejected(int(row), event_id, duplicate_reason(first)))
        elif problem is not None:
            rejected.setdefault(plan_id, []).append(ledger.Rejected(int(row), key, problem))
        else:
            unassigned.append((int(row), event_id, customer))
    return unassigned, rejected
