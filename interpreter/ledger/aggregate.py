"""Stage 1: per customer and period, the exact aggregates a plan needs, in one SQL query.

The engine only sums, counts, takes extremes and compares; prices are left to
stage 2. Time-weighted metrics need no per-day rows: the sum of daily levels
over a window is `level at start x days + sum(change x days it is held)`,
which is a plain aggregate. Percentage charges are summed exactly by counting
the events whose fee falls below the minimum or above the maximum and summing
the amounts in between.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from dsl import tree
from dsl.pricing_models import MODELS
from dsl.rounding import CONTEXT, divide
from interpreter.ledger import free_events, groups
from interpreter.ledger.rows import NUMBER_SQL
from interpreter.ledger.sql import decimal_literal, ident, to_sql
from interpreter.periods import Period, local_midnight


@dataclass(frozen=True)
class Facts:
    """What the ledger says about one customer in one period."""

    customer: str
    period: Period
    rows: int
    values: dict[str, Any]  # column name -> exact value
    group: tuple[tuple[str, Any], ...] | None = None  # a group's facts: its (field, value) pairs
    groups: tuple[Facts, ...] = ()  # the facts of each group of the grouped charges, in this period


# Rows come with their `__reason`; only accepted rows count. The test sits in
# every FILTER rather than in a WHERE: DuckDB would push a WHERE down into the
# typing of each cell and evaluate that again for every aggregate. It is
# computed once a row, with the row's place against its window (`__in`: in
# it, `__before`: before it, for carried levels), and each FILTER's test is a
# column of its own (`_Rows`).
_JOINED = (
    "e.*, w.__pid, w.__we, w.__fe, w.__ts_start, "
    "(e.__reason IS NULL AND e.__ts >= w.__ts_start) AS __in, (e.__reason IS NULL AND e.__ts < w.__ts_start) AS __before"
)


class _Rows:
    """The columns each row of the aggregate query is given before it is grouped, each computed once a row.

    The query is layered: the rows joined to their window (`_JOINED`, and
    `joined`: what reads the window functions of free events), then `tests`
    (which rows an aggregate takes), then `values` (what an aggregate takes
    of a row, where that is more than a column: computed only on the rows
    its test takes, so a product or a date difference is not worked out for
    every row of the ledger). Each layer names the one below `e`; equal SQL
    shares one column.
    """

    def __init__(self) -> None:
        self.joined: list[str] = []
        self.tests: dict[str, str] = {}  # SQL -> column name
        self.values: dict[str, str] = {}

    def test(self, sql: str) -> str:
        return "e." + self.tests.setdefault(sql, f"__t{len(self.tests)}")

    def value(self, sql: str, test: str) -> str:
        """`sql` on the rows of the column `test`, NULL on the others."""
        return "e." + self.values.setdefault(f"CASE WHEN {test} THEN {sql} END", f"__x{len(self.values)}")

    def layered(self, source: str) -> str:
        """The FROM of the aggregate query, over `source` (the rows joined to their windows, as `e`)."""
        for columns in (self.tests, self.values):
            if columns:
                source = f"(SELECT e.*, {', '.join(f'{sql} AS {name}' for sql, name in columns.items())} FROM {source} AS e)"
        return source


def _window_values(periods: list[Period], timezone: str, as_of: datetime.datetime | None) -> str:
    rows = []
    for index, p in enumerate(periods):
        start = local_midnight(p.start, timezone)
        last_day = p.end
        if p.end == datetime.date.max:  # the midnight after 9999-12-31 has no Python date; SQL adds the day
            end_sql = f"(TIMESTAMPTZ '{local_midnight(p.end, timezone).isoformat()}' + INTERVAL 1 DAY)"
        else:
            end_sql = f"TIMESTAMPTZ '{local_midnight(p.end + datetime.timedelta(days=1), timezone).isoformat()}'"
        if as_of is not None and (p.end == datetime.date.max or as_of < local_midnight(p.end + datetime.timedelta(days=1), timezone)):
            end_sql = f"TIMESTAMPTZ '{as_of.isoformat()}'"
            last_day = min(p.end, (as_of - datetime.timedelta(microseconds=1)).astimezone(start.tzinfo).date())
        rows.append(
            f"({index}, DATE '{p.start.isoformat()}', DATE '{last_day.isoformat()}', DATE '{p.full_end.isoformat()}', "
            f"TIMESTAMPTZ '{start.isoformat()}', {end_sql})"
        )
    return ", ".join(rows)


def _where(expr: tree.Expr | None, inside: bool = True) -> str:
    """The test of an accepted row in its window (`inside`) or before it, meeting `expr` (SQL over the joined rows)."""
    place = "e.__in" if inside else "e.__before"
    return place if expr is None else f"{place} AND ({to_sql(expr)})"


def metric_columns(plan: tree.Plan, rows: _Rows | None = None) -> list[tuple[str, str]]:
    """(column name, SQL aggregate) for every aggregate metric and charge priced on events.

    A charge priced on events (the percentage model) gets the counts and sums
    its pricing reads: events under its minimum fee, over its maximum fee,
    and the count and sum of those between. The aggregates read the columns
    they are given in `rows`.
    """
    rows = rows if rows is not None else _Rows()
    out = []
    for m in plan.metrics:
        if m.aggregation is None:
            continue
        inside = rows.test(_where(m.where))
        raw = f"({to_sql(m.value)})" if m.value is not None else ""

        def taken(test: str, raw: str = raw, plain: bool = isinstance(m.value, tree.Ref)) -> str:
            """The value as the aggregate takes it on the rows of `test`: a field as it is, else computed on those rows only."""
            return raw if plain else rows.value(raw, test)

        if m.aggregation == "count":
            out.append((m.name, f"count(*) FILTER (WHERE {inside})"))
        elif m.aggregation == "sum":
            out.append((m.name, f"coalesce(sum({taken(inside)}) FILTER (WHERE {inside}), 0)"))
        elif m.aggregation in ("max", "min"):
            out.append((m.name, f"{m.aggregation}({taken(inside)}) FILTER (WHERE {inside})"))
        elif m.aggregation == "unique":
            out.append((m.name, f"count(DISTINCT {taken(inside)}) FILTER (WHERE {inside})"))
        elif m.aggregation == "last":
            out.append((m.name, f"arg_max({taken(inside)}, (e.__ts, e.__row)) FILTER (WHERE {inside})"))
        elif m.aggregation in ("opening", "time_weighted"):
            before = rows.test(_where(m.where, inside=False))
            out.append((f"{m.name}.__base", f"coalesce(sum({taken(before)}) FILTER (WHERE {before}), 0)"))
        if m.aggregation in ("time_weighted", "prorated"):
            last = "e.__we" if m.aggregation == "time_weighted" else "e.__fe"
            held = rows.value(f"{raw} * CAST(date_diff('day', e.\"date\", {last}) + 1 AS DECIMAL(18,0))", inside)
            out.append((f"{m.name}.__held", f"coalesce(sum({held}) FILTER (WHERE {inside}), 0)"))
    windowed = {id(ch): k for k, ch in free_events.windowed(plan)}
    for ch in plan.charges:
        if MODELS[ch.model].priced_on != "events":
            continue
        field, rate = ch.field, ch.rate
        assert field is not None and rate is not None  # a charge priced on events has both (`dsl.pricing_models`)
        inside = _where(ch.where)
        amount = f"CAST(e.{ident(field)} AS {NUMBER_SQL})"
        summed = f"e.{ident(field)}"
        k = windowed.get(id(ch))
        if k is not None:  # only paying events count, on their part above the free amount
            # read where the window functions are joined, as columns of the rows
            rows.joined += [f"({free_events.free_sql(ch, k)}) AS __free{k}", f"({free_events.paid_sql(ch, k)}) AS __paid{k}"]
            out.append((f"{ch.id}.__free", f"count(*) FILTER (WHERE {rows.test(f'{inside} AND e.__free{k}')})"))
            inside = f"{inside} AND NOT e.__free{k}"
            amount = summed = f"e.__paid{k}"
        low = groups.per_entry(ch, partial(_fee_below, amount))
        high = groups.per_entry(ch, partial(_fee_above, amount))
        # the fee is worked out on the charge's own rows only
        out.append((f"{ch.id}.__low", f"count(*) FILTER (WHERE {rows.test(f'CASE WHEN {inside} THEN {low} ELSE FALSE END')})"))
        out.append((f"{ch.id}.__high", f"count(*) FILTER (WHERE {rows.test(f'CASE WHEN {inside} THEN {high} ELSE FALSE END')})"))
        middle = rows.test(f"CASE WHEN {inside} THEN NOT ({low}) AND NOT ({high}) ELSE FALSE END")
        out.append((f"{ch.id}.__count", f"count(*) FILTER (WHERE {middle})"))
        out.append((f"{ch.id}.__sum", f"coalesce(sum({summed}) FILTER (WHERE {middle}), 0)"))
    return out


def _fee(amount: str, ch: tree.Charge) -> str:
    # A native column keeps its width through `*` (DECIMAL(18,2) x DECIMAL(12,10) is DECIMAL(18,12)):
    # the fee is computed on the amount as wide as a text amount is read, or a large one would overflow.
    assert ch.rate is not None  # a charge priced on events has a rate (`dsl.pricing_models`)
    return f"({amount} * {decimal_literal(ch.rate)} + {decimal_literal(ch.fixed_fee)})"


def _fee_below(amount: str, ch: tree.Charge) -> str:
    return f"{_fee(amount, ch)} < {decimal_literal(ch.min_fee)}" if ch.min_fee is not None else "FALSE"


def _fee_above(amount: str, ch: tree.Charge) -> str:
    return f"{_fee(amount, ch)} > {decimal_literal(ch.max_fee)}" if ch.max_fee is not None else "FALSE"


def aggregate_sql(
    plan: tree.Plan,
    periods: list[Period],
    as_of: datetime.datetime | None = None,
    customer: str | None = None,
    events: str = "events",
    refused: bool = False,
    ordered: bool = True,
) -> str:
    """The one query of stage 1: a row per customer and period (index `__pid` into `periods`).

    Columns `__customer, __pid, __rows, __we` (the last day counted), then
    `metric_columns`. `events` holds the checked rows, each with its
    `__reason` (NULL when accepted). `customer` is the SQL (a parameter) of
    the only customer wanted, if any. Rows come ordered by customer and period.

    With `refused`, the same pass also counts the refused rows of the whole
    ledger, each once (`__refused`, in rows that may not be documents; those
    that are have `__document`).

    With `ordered=False` the rows come in no order: a query that wraps this
    one (pricing the documents, say) then runs on every thread instead of
    one, and orders what it fetches itself.
    """
    rows = _Rows()
    columns = metric_columns(plan, rows)
    carried = [name for name, _ in columns if name.endswith(".__base")]
    history = bool(carried)
    select = ",\n".join(f"{sql} AS {ident(name)}" for name, sql in columns)
    document = " OR ".join(["__rows > 0", *(f"{ident(name)} <> 0" for name in carried)])
    join = "e.__ts < w.__ts_end" if history else "e.__ts >= w.__ts_start AND e.__ts < w.__ts_end"
    filter_customer = f"WHERE e.customer = {customer}" if customer is not None else ""
    counted = ""
    if refused:
        # A row joins the window it falls in and, kept for carried levels, every later one;
        # a row before the first window joins them all, one after the last (or undated) none.
        refusing = rows.test("e.__reason IS NOT NULL AND (e.__pid IS NULL OR e.__ts >= e.__ts_start OR e.__pid = 0)")
        counted = f",\ncount(*) FILTER (WHERE {refusing}) AS __refused"
    joined = f"""(SELECT {", ".join([_JOINED, *rows.joined])}
        FROM {events} AS e {"LEFT " if refused else ""}JOIN w ON {join}
        {free_events.join_sql(plan, events)}
        {filter_customer})"""
    grouped = f"""
        WITH w(__pid, __ws, __we, __fe, __ts_start, __ts_end) AS (VALUES {_window_values(periods, plan.timezone, as_of)})
        SELECT e.customer AS __customer, e.__pid AS __pid,
               count(*) FILTER (WHERE e.__in) AS __rows,
               max(e.__we) AS __we
               {("," + select) if select else ""}{counted}{groups.select_sql(plan)}
        FROM {rows.layered(joined)} AS e
        {groups.group_by_sql(plan, "e.customer, e.__pid")}
    """
    if refused:
        return f"""
            SELECT *, ({document}) AS __document FROM ({grouped}) AS g
            WHERE {document} OR __refused > 0
            {"ORDER BY __customer, __pid" if ordered else ""}
        """
    return f"{grouped} HAVING {document}" + (" ORDER BY e.customer, e.__pid" if ordered else "")


def aggregate(
    con, plan: tree.Plan, periods: list[Period], as_of: datetime.datetime | None = None, customer: str | None = None
) -> list[Facts]:
    """Facts for every customer with rows in a period, or carried time-weighted state."""
    if not periods:
        return []
    query = aggregate_sql(plan, periods, as_of, "$customer" if customer is not None else None)
    params = {"customer": customer} if customer is not None else {}
    result = con.execute(query, params)
    names = [d[0] for d in result.description]
    return merged([facts_of(plan, periods, dict(zip(names, row, strict=True))) for row in result.fetchall()])


def aggregate_counting_refused(
    con, plan: tree.Plan, periods: list[Period], as_of: datetime.datetime | None = None
) -> tuple[list[Facts], int]:
    """`aggregate` for the whole ledger, and the number of refused rows in it, in one pass."""
    if not periods:
        return [], con.execute("SELECT count(*) FROM events WHERE __reason IS NOT NULL").fetchone()[0]
    result = con.execute(aggregate_sql(plan, periods, as_of, refused=True))
    names = [d[0] for d in result.description]
    facts, refused = [], 0
    for row in result.fetchall():
        record = dict(zip(names, row, strict=True))
        group = groups.group_of(plan, record)
        if group is None:  # each refused row is counted in its document's row, and again in its groups'
            refused += record["__refused"]
        if record["__document"]:
            facts.append(facts_of(plan, periods, record))
    return merged(facts), refused


def facts_of(plan: tree.Plan, periods: list[Period], record: dict[str, Any]) -> Facts:
    """One row of `aggregate_sql` (column name -> value, as the engine hands them over) as Facts."""
    period = periods[record["__pid"]]
    values = {k: _exact(v) for k, v in record.items() if not k.startswith("__")}
    _time_weighted(plan, values, period, record["__we"])
    return Facts(record["__customer"], period, int(record["__rows"]), values, groups.group_of(plan, record))


def merged(found: list[Facts]) -> list[Facts]:
    """The facts of whole documents, each holding the facts of its groups (from the same query's group rows)."""
    if all(f.group is None for f in found):
        return found
    by_group: dict[tuple[str, Period], list[Facts]] = {}
    for f in found:
        if f.group is not None:
            by_group.setdefault((f.customer, f.period), []).append(f)
    return [replace(f, groups=tuple(by_group.get((f.customer, f.period), ()))) for f in found if f.group is None]


def _exact(value: Any) -> Any:
    """Counts come back from the engine as int; every quantity is handed over as Decimal."""
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _time_weighted(plan: tree.Plan, values: dict, period: Period, last_day: datetime.date) -> None:
    """Turn base levels and held changes into opening levels, averages and prorated sums."""
    days_counted = Decimal((last_day - period.start).days + 1)
    days = Decimal(period.days)
    for m in plan.metrics:
        if m.aggregation == "time_weighted":
            base = values.pop(f"{m.name}.__base")
            held = values.pop(f"{m.name}.__held")
            values[m.name] = divide(CONTEXT.add(CONTEXT.multiply(base, days_counted), held), days)
        elif m.aggregation == "opening":
            values[m.name] = values.pop(f"{m.name}.__base")
        elif m.aggregation == "prorated":
            values[m.name] = divide(values.pop(f"{m.name}.__held"), days)
