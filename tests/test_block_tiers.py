"""Block tiers (`block:`, `block_price:`) in graduated and volume tables.

The hand-worked cases are Kill Bill's tiered-block tests
(killbill/killbill, invoice/src/test/java/org/killbill/billing/invoice/usage/
TestContiguousIntervalConsumableInArrear.java: testComputeBilledUsageWith_ALL_TIERS,
testComputeBilledUsageWith_TOP_TIER, testComputeBilledUsageSizeOneWith_ALL_TIERS,
testComputeMissingItems), restated as ratecard tables: Kill Bill's ALL_TIERS
policy is `graduated`, TOP_TIER is `volume`, and a tier of `max` blocks of
`size` units ends `max x size` units after the previous tier.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from dsl.pricing_models import MODELS
from dsl.rounding import CONTEXT
from interpreter.output.render import document_data
from plan_helpers import compile_plan, problems_of, rate_csv

PLAN = """
    plan: blocks
    currency: USD
    usage:
      units: integer
    metrics:
      units: {sum: units}
    charges:
      usage:
        model: %s
        on: units
        tiers:
%s
"""


def plan_of(model: str, tiers: str):
    return compile_plan(PLAN % (model, tiers))


def price(plan, quantity: int) -> Decimal:
    charge = plan.charges[0]
    return MODELS[charge.model].price(Decimal(quantity), charge, False).amount


KILLBILL_ALL_TIERS = """\
          - {up_to: 1000, block: 100, block_price: 1}
          - {block: 1000, block_price: 1}
"""
KILLBILL_TOP_TIER = """\
          - {up_to: 1000, block: 100, block_price: 1}
          - {up_to: 101000, block: 1000, block_price: 1}
          - {block: 1000, block_price: 0.5}
"""
KILLBILL_SIZE_ONE = """\
          - {up_to: 10, block: 1, block_price: 1.5}
          - {up_to: 110, block: 1, block_price: 1.0}
          - {block: 1, block_price: 0.5}
"""


def test_killbill_all_tiers_is_graduated_blocks():
    # 5325 units: 1000 in tier 1 = 10 blocks of 100 at 1; 4325 in tier 2 = 5 started blocks of 1000 at 1: 15
    assert price(plan_of("graduated", KILLBILL_ALL_TIERS), 5325) == 15
    # 111 units in blocks of 1: 10 x 1.5 + 100 x 1.0 + 1 x 0.5 = 115.5
    assert price(plan_of("graduated", KILLBILL_SIZE_ONE), 111) == Decimal("115.5")
    # 130 + 271 = 401 units, blocks of 100 at 1: 5 blocks (Kill Bill's testComputeMissingItems)
    assert price(plan_of("graduated", "          - {block: 100, block_price: 1}\n"), 401) == 5


@pytest.mark.parametrize(("units", "amount"), [(1000, "10"), (101000, "101"), (101001, "51"), (300000, "150"), (0, "0")])
def test_killbill_top_tier_is_volume_blocks(units, amount):
    # all units at the one tier the quantity falls in, counted in started blocks
    assert price(plan_of("volume", KILLBILL_TOP_TIER), units) == Decimal(amount)


def test_killbill_size_one_top_tier():
    # 111 units fall in the last tier: 111 blocks of 1 at 0.5 = 55.5
    assert price(plan_of("volume", KILLBILL_SIZE_ONE), 111) == Decimal("55.5")


def test_block_tiers_keep_their_flat_and_mix_with_unit_tiers(tmp_path):
    # 250 units: tier 1 prices 100 units at 0.10 = 10.00; tier 2 the next 150 in blocks of 100:
    # 2 started blocks x 3.00 + flat 1.00 = 7.00; 17.00 in all.
    tiers = "          - {up_to: 100, unit_price: 0.10}\n          - {block: 100, block_price: 3, flat: 1}\n"
    plan = plan_of("graduated", tiers)
    result = rate_csv(plan, tmp_path, "event_id,customer,timestamp,units\n1,a,2024-11-02T00:00:00Z,250\n", period="2024-11")
    assert [(line["quantity"], line["amount"]) for line in document_data(result.documents[0])["lines"]] == [("250", "17.00")]


def test_trace_counts_blocks():
    plan = plan_of("graduated", KILLBILL_ALL_TIERS)
    charge = plan.charges[0]
    steps = MODELS["graduated"].price(Decimal(5325), charge, True).steps
    assert [(s.text, s.quantity, s.price, s.amount) for s in steps] == [
        ("tier 1 (up to 1000, 1000 units in blocks of 100)", 10, 1, 10),
        ("tier 2 (and above, 4325 units in blocks of 1000)", 5, 1, 5),
    ]


def test_check_refuses_half_a_block_tier_and_a_unit_price_beside_it():
    tiers = "          - {up_to: 10, block: 5}\n          - {block: 0, block_price: 1, unit_price: 2}\n"
    messages = [m for _, _, m in problems_of(PLAN % ("graduated", tiers))]
    assert messages == ["a block tier needs both `block` and `block_price`: `block_price` is missing", "block must be above zero"]
    tiers = "          - {block: 10, block_price: 1, unit_price: 2}\n"
    assert [m for _, _, m in problems_of(PLAN % ("volume", tiers))] == ["a block tier is priced by `block_price`, not `unit_price`"]


def test_volume_cliff_warning_understands_blocks():
    # at 1000 units the first tier charges 10 blocks x 1 = 10; entering the last tier, 1 block x 0.5 = 0.5
    tiers = "          - {up_to: 1000, block: 100, block_price: 1}\n          - {block: 1000, block_price: 0.5}\n"
    messages = [m for _, _, m in problems_of(PLAN % ("volume", tiers))]
    assert messages == [
        "at 1000 the charge 'usage' drops from 10 to 0.5 when usage enters this tier: more usage, smaller bill (add `allow_decrease: true` if intended)"
    ]
    # priced per unit instead (1000 x 1 = 1000 -> 1000 x 0.5 = 500) the warning is the same kind; with blocks
    # that keep the amount rising there is none
    tiers = "          - {up_to: 1000, block: 100, block_price: 1}\n          - {block: 100, block_price: 1.5}\n"
    assert problems_of(PLAN % ("volume", tiers)) == []


def test_unreachable_tier_check_still_holds_with_blocks():
    tiers = "          - {below: 10, block: 5, block_price: 1}\n          - {up_to: 9.5, block: 5, block_price: 1}\n          - {block: 5, block_price: 1}\n"
    messages = [m for _, _, m in problems_of(PLAN % ("graduated", tiers))]
    assert any("can never be reached" in m or "must increase" in m for m in messages)


def test_block_tiers_curve_is_stepped():
    assert MODELS["graduated"].stepped(plan_of("graduated", KILLBILL_ALL_TIERS).charges[0])
    assert not MODELS["graduated"].stepped(plan_of("graduated", "          - {unit_price: 1}\n").charges[0])


@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_a_block_that_does_not_divide_the_quantity_counts_started_blocks_exactly(model):
    # 10 / 3 never ends as a decimal: the started blocks are counted without a rounded quotient
    plan = plan_of(model, "          - {block: 3, block_price: 2}\n")
    with decimal.localcontext(CONTEXT):  # as documents are priced
        prices = [price(plan, q) for q in (0, 1, 3, 10, 3 * 10**30 + 1)]
    assert prices == [0, 2, 2, 8, 2 * (10**30 + 1)]
