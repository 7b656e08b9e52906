"""The interface every engine implements, and the plain data the core and an engine pass each other.

The core (`engines.core`) decides what to rate and asks an engine six
things: load the ledger under a plan version, give the range of its dated
rows, compute stage 1 of a `Task`, run stage 2 over the parts stage 1 made,
list the rows it rejected, and find the rows on days a customer has no
subscription. A new engine implements `Engine` in its own
module under `interpreter/engines/` and a front end that calls `core.rate`
with it (see `duckdb.engine` and `spark.engine`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from dsl import tree
from interpreter.ledger.files import LedgerProblem
from interpreter.ledger.rows import Rejected
from interpreter.ledger.uncovered import Days
from interpreter.periods import Period
from interpreter.pricing.balances import Balances
from interpreter.pricing.stage2 import Failure


@dataclass(frozen=True)
class Task:
    """What to rate under one plan version, as the core decided it."""

    plan: tree.Plan
    windows: tuple[Period, ...]  # the periods this version rates: those starting while it is in force
    earlier: tuple[Period, ...]  # the whole periods before them, when the plan reads `previous.*`
    listed: tuple[str, ...]  # customers billed every period, usage or not (from the customers file)
    as_of: datetime.datetime | None  # the moment an open period is rated up to
    customer: str | None  # the only customer wanted, if any
    # customers of the customers file with subscriptions: their windows on this plan (they have no others)
    timelines: dict[str, tuple[Period, ...]] = field(default_factory=dict)
    # the customers file's records, raw (for an engine that reads their attributes in stage 1)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Pricing:
    """What stage 2 needs besides the facts: customers, opening balances, and what to do on a failure."""

    customers: dict[str, dict[str, Any]]  # raw attributes, as read from the customers file
    opening: dict[str, dict[str, Decimal]]  # the balances each customer starts from, by credit or discount id
    estimate: bool  # rating an open period (`--as-of`)
    keep_going: bool  # list a document that fails among the failures; without, raise the first
    # customers' negotiated plans: (customer, plan id, effective) -> (plan, overridden paths)
    variants: dict[tuple[str, str, datetime.date | None], tuple[tree.Plan, tuple[str, ...]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What stage 2 made: the documents in customer and period order, those that failed, the balances left."""

    documents: list  # `Document`s, or their JSON text where an engine renders them where they are built
    failures: list[Failure]
    carried: Balances
    prepared: Any = None  # what the engine's caller asked to have made of the documents meanwhile
    written: int = 0  # documents written to an output path instead of returned


class Engine(Protocol):
    """How one engine computes what the core asks; `Ledger` and `Part` are the engine's own handles."""

    errors: tuple[type[Exception], ...]  # what the engine raises about the data it reads

    def load(self, usage: str, plan: tree.Plan, whole: bool) -> Any:
        """The ledger read and checked under `plan`; `whole`: this plan rates every row of every customer."""

    def dated(self, ledger: Any) -> tuple[datetime.date, datetime.date] | None:
        """The first and last local day of the ledger's dated rows, accepted or not (None if none is dated)."""

    def stage1(self, ledger: Any, task: Task) -> Any:
        """The aggregates of `task`'s periods, of the periods before, and the listed customers' empty ones."""

    def stage2(self, parts: list[Any], pricing: Pricing) -> Outcome:
        """The documents of every part, each customer's built in period order across versions."""

    def rejected(self, ledger: Any) -> list[tuple[Rejected, datetime.date | None]]:
        """Every rejected row of the ledger with its local date (None when it has no readable date)."""

    def uncovered(self, ledger: Any, days: tuple[Days, ...], as_of: datetime.datetime | None) -> list[tuple[Rejected, datetime.date]]:
        """The accepted rows of each of `days`' customers on those days (up to `as_of`), rejected with their local date."""

    def unreadable(self, usage: str, exc: Exception) -> LedgerProblem:
        """The problem to report when the engine fails on the ledger (one of `errors`)."""

    def release(self, ledger: Any) -> None:
        """Free what `load` holds (views, cached rows, connections)."""
