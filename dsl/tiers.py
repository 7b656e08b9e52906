"""Tier tables: bounds checked and turned into evaluation-tree tiers.

A tier is bounded by `up_to` (inclusive) or `below` (exclusive), never both;
only the last tier is open, and each bound must let its tier hold something
beyond the previous one. A block tier (`block:`, `block_price:`) prices whole
blocks instead of units.
"""

from __future__ import annotations

from dsl import schema_charges, tree
from dsl.context import Compiler


def compile_tiers(c: Compiler, tiers: list[schema_charges.Tier] | None, path: tuple) -> tuple[tree.Tier, ...]:
    out: list[tree.Tier] = []
    if not tiers:
        c.fail(c.span(*path), "a tier table needs at least one tier", "tiers")
        return ()
    previous: tree.Tier | None = None
    last = len(tiers) - 1
    for index, spec in enumerate(tiers):
        here = (*path, index)
        if spec.up_to is not None and spec.below is not None:
            c.fail(c.key_span(*here, "below"), "a tier has either `up_to` (inclusive) or `below` (exclusive), not both", "tiers")
            continue
        bound = spec.up_to if spec.up_to is not None else spec.below
        inclusive = spec.up_to is not None
        key = "up_to" if inclusive else "below"
        if bound is None and index != last:
            c.fail(c.span(*here), "only the last tier may be open; give this tier `up_to` or `below`", "tiers")
            continue
        if bound is not None and index == last:
            c.fail(c.key_span(*here, key), "the last tier must be open (no `up_to`/`below`): it takes every larger quantity", "tiers")
        if not _block_ok(c, spec, here):
            continue
        tier = tree.Tier(bound, inclusive, spec.unit_price, spec.flat, c.span(*here), spec.block, spec.block_price)
        if previous is not None and previous.bound is not None and bound is not None and not _after(previous, tier):
            c.fail(c.span(*here, key), f"tier bounds must increase: {bound} does not go past the previous tier's {previous.bound}", "tiers")
        out.append(tier)
        previous = tier
    return tuple(out)


def _block_ok(c: Compiler, spec: schema_charges.Tier, here: tuple) -> bool:
    """A block tier names its block size and the block's price, and prices nothing per unit."""
    if spec.block is None and spec.block_price is None:
        return True
    if spec.block is None or spec.block_price is None:
        missing, given = ("block", "block_price") if spec.block is None else ("block_price", "block")
        c.fail(c.key_span(*here, given), f"a block tier needs both `block` and `block_price`: `{missing}` is missing", "tiers")
        return False
    if spec.block <= 0:
        c.fail(c.span(*here, "block"), "block must be above zero", "tiers")
        return False
    if spec.unit_price:
        c.fail(c.key_span(*here, "unit_price"), "a block tier is priced by `block_price`, not `unit_price`", "tiers")
        return False
    return True


def _after(previous: tree.Tier, tier: tree.Tier) -> bool:
    """True when `tier` holds at least one quantity that goes past `previous`."""
    low, high = previous.bound, tier.bound
    if low is None or high is None:
        return True
    return high > low or (not previous.holds(low) and tier.holds(low))
