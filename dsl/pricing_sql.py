"""The SQL form of the pricing models: a charge's unrounded amount in exact DECIMAL arithmetic.

A quantity reaches SQL as a `Ratio`: a DECIMAL numerator over a whole
number of days (a time-weighted or prorated metric is the sum of its daily
levels over the period's days), or over nothing. A model gives its amount
over the same denominator (`Amount`), so that no quotient is ever taken in
DECIMAL, where DuckDB would turn it into a float. A whole number of
packages or blocks is found by integer division on HUGEINT.

Where a quotient the Python interpreter rounds to 40 digits could land on
the other side of an edge than the exact one (a whole package, a whole
block), the model says so in `edges`: SQL conditions true when the exact
amount lies on such an edge, which hand the document to the interpreter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from dsl import tree


@dataclass(frozen=True)
class Ratio:
    """`num / den` in SQL: `den` is None for a quantity without a denominator."""

    num: str
    den: str | None = None
    scale: int = 20  # the decimal places every unrounded amount is held at

    def amount(self, sql: str) -> str:
        """`sql` as an amount. DuckDB gives a CASE, least() or greatest() over DECIMAL(38) values of
        several scales the type of one of them, which can drop decimal places: every branch is cast."""
        return f"CAST({sql} AS DECIMAL(38,{self.scale}))"

    def times(self, value: Decimal | str) -> str:
        """`value` (a constant or SQL) over this ratio's denominator: `value x den`."""
        sql = number(value) if isinstance(value, Decimal) else value
        return sql if self.den is None else f"({sql} * {self.den})"


@dataclass(frozen=True)
class Amount:
    """A charge's unrounded amount, `num / den` of its quantity's ratio, and its exact edges."""

    num: str
    edges: tuple[str, ...] = ()


def number(value: Decimal) -> str:
    """A plan's constant as an exact DECIMAL literal (a plan writes at most 10 decimal places)."""
    exponent = value.as_tuple().exponent
    scale = max(0, -exponent) if isinstance(exponent, int) else 0
    return f"CAST('{value:f}' AS DECIMAL(38,{scale}))"


def quantity(sql: str) -> str:
    """`sql` as a quantity: at most 10 decimal places (see `Ratio.amount` for why it is cast)."""
    return f"CAST({sql} AS DECIMAL(38,10))"


def _at_least_zero(sql: str) -> str:
    return f"greatest({quantity(sql)}, {quantity('0')})"


def units(sql: str) -> str:
    """A DECIMAL with at most 10 decimal places as a HUGEINT count of 10^-10."""
    return f"CAST(replace(CAST(CAST({sql} AS DECIMAL(38,10)) AS VARCHAR), '.', '') AS HUGEINT)"


def whole_parts(value: str, size: str) -> tuple[str, str]:
    """How many parts of `size` (> 0) a started part counts as whole in `value` (>= 0), and the
    condition that `value` holds a whole number of them exactly."""
    v, s = units(value), units(size)
    return f"CAST(({v} + {s} - 1) // {s} AS DECIMAL(38,0))", f"({v} % {s} = 0)"


def _tier_amount(q: Ratio, tier: tree.Tier, portion: str) -> Amount:
    """What `portion` (over q's denominator) costs in `tier`, over the same denominator."""
    if tier.block is None:
        return Amount(f"({portion} * {number(tier.unit_price)} + {q.times(tier.flat)})")
    assert tier.block_price is not None  # a block tier has its block price (`dsl.tiers`)
    blocks, exact = whole_parts(_at_least_zero(portion), q.times(tier.block))
    return Amount(q.times(f"({blocks} * {number(tier.block_price)} + {number(tier.flat)})"), (exact,))


def holds(q: Ratio, tier: tree.Tier) -> str:
    """Whether `tier` holds the quantity `q`."""
    if tier.bound is None:
        return "TRUE"
    return f"({q.num} {'<=' if tier.inclusive else '<'} {q.times(tier.bound)})"


def per_unit(q: Ratio, charge: tree.Charge) -> Amount:
    assert charge.unit_price is not None  # a per_unit charge always has one
    return Amount(f"({_at_least_zero(f'{q.num} - {q.times(charge.free_units)}')} * {number(charge.unit_price)})")


def graduated(q: Ratio, charge: tree.Charge) -> Amount:
    """Each tier the quantity reaches (none before it holds the quantity) adds its portion's amount."""
    parts, edges = [], []
    lower = Decimal(0)
    previous: tree.Tier | None = None
    for tier in charge.tiers:
        upper = q.num if tier.bound is None else f"least({quantity(q.num)}, {quantity(q.times(tier.bound))})"
        priced = _tier_amount(q, tier, _at_least_zero(f"{upper} - {q.times(lower)}"))
        reached = "TRUE" if previous is None else f"NOT {holds(q, previous)}"
        parts.append(f"(CASE WHEN {reached} THEN {q.amount(priced.num)} ELSE {q.amount('0')} END)")
        edges += [f"({reached} AND {edge})" for edge in priced.edges]
        if tier.bound is None:
            break
        lower, previous = max(lower, tier.bound), tier
    return Amount("(" + " + ".join(parts) + ")", tuple(edges))


def volume(q: Ratio, charge: tree.Charge) -> Amount:
    """The whole quantity at the price of the tier that holds it."""
    billable = _at_least_zero(q.num)
    cases, edges = [], []
    for tier in charge.tiers:
        priced = _tier_amount(q, tier, billable)
        cases.append(f"WHEN {holds(q, tier)} THEN {q.amount(priced.num)}")
        edges += [f"({holds(q, tier)} AND {edge})" for edge in priced.edges]
    return Amount(f"(CASE {' '.join(cases)} END)", tuple(edges))


def package(q: Ratio, charge: tree.Charge) -> Amount:
    size, price = charge.package_size, charge.package_price
    assert size is not None and price is not None  # a package charge always has both
    packages, exact = whole_parts(_at_least_zero(f"{q.num} - {q.times(charge.free_units)}"), q.times(size))
    return Amount(q.times(f"({packages} * {number(price)})"), (exact,))


def percentage(columns: Mapping[str, str], charge: tree.Charge) -> Amount:
    """The sum of per-event fees from stage 1's counts and sums (`columns`: its column SQL by name)."""
    assert charge.rate is not None  # a percentage charge always has one
    parts = [
        f"{columns[f'{charge.id}.__sum']} * {number(charge.rate)}",
        f"{columns[f'{charge.id}.__count']} * {number(charge.fixed_fee)}",
    ]
    if charge.min_fee is not None:
        parts.append(f"{columns[f'{charge.id}.__low']} * {number(charge.min_fee)}")
    if charge.max_fee is not None:
        parts.append(f"{columns[f'{charge.id}.__high']} * {number(charge.max_fee)}")
    return Amount("(" + " + ".join(parts) + ")")


def amount(value: Ratio, _charge: tree.Charge) -> Amount:
    """flat and formula: the amount is the value of the charge's expression."""
    return Amount(value.num)
