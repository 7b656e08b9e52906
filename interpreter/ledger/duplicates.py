"""The duplicate rule: which rows are the same event, and which of them is the duplicate.

Two rows are the same event when their event ids are equal once trimmed of
spaces; a blank id is nobody's duplicate (the row is rejected for the
missing id instead). The first row of an event counts; every later one is
rejected as a duplicate, whatever else is wrong with it, naming the row it
repeats. Every engine, and the billing run that splits one ledger between
plans, states the rule with the SQL below, all of it over `event_key`:
Spark joins the marks (`marked_sql`), DuckDB writes them into its table
(`update_sql`) after looking for any repeat in one cheap pass.
"""

from __future__ import annotations

from collections.abc import Iterable

from interpreter.ledger.sql import ident, trimmed

REASON = "'duplicate event_id (first seen at row ' || CAST({first} AS VARCHAR) || ')'"


def event_key(event_id: str) -> str:
    """The SQL of what makes two rows one event: the id trimmed, NULL when blank."""
    return f"NULLIF({trimmed(event_id)}, '')"


def repeated_count_sql(relation: str) -> str:
    """How many rows of `relation` (column `event_id`) may repeat an earlier row's event (0: none does).

    The 64-bit hashes of the keys are sorted and each compared with the one
    before: much cheaper on millions of rows than a set of the ids, and about
    half the memory of a hash table of the hashes. Equal ids always hash
    alike, so no duplicate is missed; a rare collision only costs the exact
    check of `marked_sql`. Each id is trimmed once, in a layer of its own; a
    blank one has no hash (NULL equals nothing), rather than being filtered
    out by a WHERE that would trim it a second time.
    """
    key = f"SELECT {trimmed('event_id')} AS k FROM ({relation}) AS s"
    hashed = f"SELECT CASE WHEN k <> '' THEN hash(k) END AS h FROM ({key}) AS k"
    return f"SELECT count(*) FILTER (WHERE h = before) FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before FROM ({hashed}) AS t) AS o"


def possible_duplicates_sql(column: str = "event_id") -> str:
    """An aggregate over checked rows: above 0 when two rows may be one event (a hash collision may say so wrongly)."""
    return f"count({event_key(column)}) - count(DISTINCT hash({event_key(column)}))"


def repeated_sql(relation: str) -> str:
    """The events of `relation` seen more than once: `__key`, and `__first`, the row that counts."""
    return f"""
        SELECT {event_key("event_id")} AS __key, min(__row) AS __first FROM {relation}
        WHERE {event_key("event_id")} IS NOT NULL
        GROUP BY {event_key("event_id")} HAVING count(*) > 1
    """


def marked_sql(relation: str, repeated: str, columns: Iterable[str]) -> str:
    """The rows of `relation` with `__reason` saying which are duplicates (`repeated` as `repeated_sql` gives it).

    `columns` are the other columns kept, by name.
    """
    kept = ", ".join(f"c.{ident(name)}" for name in columns)
    return f"""
        SELECT {kept},
               CASE WHEN c.__row > d.__first THEN {REASON.format(first="d.__first")} ELSE c.__reason END AS __reason
        FROM {relation} AS c LEFT JOIN {repeated} AS d ON {event_key("c.event_id")} = d.__key
    """


def update_sql(table: str) -> str:
    """The same marks written into `table` in place (an engine that updates tables: DuckDB)."""
    return f"""
        UPDATE {table} SET __reason = {REASON.format(first="d.__first")}
        FROM ({repeated_sql(table)}) AS d
        WHERE {event_key(f"{table}.event_id")} = d.__key AND {table}.__row > d.__first
    """


def reason(first: int) -> str:
    """The reason of a duplicate row, as the SQL above words it."""
    return f"duplicate event_id (first seen at row {first})"
