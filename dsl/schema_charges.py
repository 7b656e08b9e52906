"""The charges of a plan file, as pydantic models: one per pricing model, tiers and price entries.

`Charge` is their union, told apart by the charge's `model:` key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from dsl.schema_values import Amount, Expression, Money, Price, Rounding, Strict


class Tier(Strict):
    """One range of a tier table."""

    up_to: Price | None = Field(None, description="Upper bound, inclusive (quantity <= up_to).")
    below: Price | None = Field(None, description="Upper bound, exclusive (quantity < below).")
    unit_price: Price = Field(Decimal(0), description="Price per unit of the quantity in this tier.")
    flat: Money = Field(Decimal(0), description="Fixed amount added when the quantity reaches this tier.")
    block: Amount | None = Field(
        None, description="Price blocks of this many units instead of units: the quantity is counted in whole blocks, rounded up."
    )
    block_price: Money | None = Field(None, description="Price of one block (with `block`).")


class PriceEntry(Strict):
    """One entry of a grouped charge's price table: the groups it matches and how it prices them.

    Keys left out are the charge's own; the first entry that matches a group prices it.
    """

    match: dict[StrictStr, StrictBool | StrictInt | Decimal | StrictStr] = Field(
        description="Group values this entry prices, by `group_by` field (e.g. {cloud: aws}); fields left out match any value."
    )
    model: Literal["flat", "per_unit", "graduated", "volume", "package", "percentage", "formula"] | None = Field(
        None, description="Pricing model of these groups (default: the charge's)."
    )
    amount: Expression | None = Field(None, description="flat and formula: the amount.")
    unit_price: Price | None = Field(None, description="Price per unit.")
    free_units: Price | None = Field(None, description="Units included at no charge.")
    tiers: list[Tier] | None = Field(None, description="Tiers in increasing order; the last has no bound.")
    allow_decrease: bool | None = Field(None, description="The table lowers the charge when usage grows past a bound, on purpose.")
    package_size: Amount | None = Field(None, description="Units per package.")
    package_price: Money | None = Field(None, description="Price of one package.")
    rate: Amount | None = Field(None, description="Rate per event, e.g. 2.9%.")
    fixed_fee: Money | None = Field(None, description="Fixed fee added per event.")
    min_fee: Money | None = Field(None, description="Smallest fee per event.")
    max_fee: Money | None = Field(None, description="Largest fee per event.")
    free_events: Amount | None = Field(None, description="percentage: the period's first events that are free.")
    free_amount: Money | None = Field(None, description="percentage: events are free while their running sum stays within this.")
    minimum: Money | None = Field(None, description="Smallest amount of each group's line.")
    maximum: Money | None = Field(None, description="Largest amount of each group's line.")


# The keys a charge with a price table may leave to its entries (it then prices no group by default).
PRICING_KEYS = ("amount", "unit_price", "tiers", "package_size", "package_price", "rate")


class ChargeBase(Strict):
    name: str | None = Field(None, description="Line description shown on the document.")
    description: str | None = Field(None, description="Notes for readers of the plan.")
    when: Expression | None = Field(None, description="Charge only when this expression is true.")
    rounding: Rounding | None = Field(None, description="Rounding of this line (default: the plan's).")
    multiplier: Expression | None = Field(None, description="Multiply the priced amount by this number (e.g. 12 for a year paid up front).")
    memo: bool = Field(False, description="Show the line for information only (e.g. a refund that would be due); not added to the total.")
    prorate: bool = Field(
        False,
        description="Multiply by the window's days over the period's days when a subscription starts or ends mid-period (always for flat).",
    )
    trial: Literal["free", "paid"] | None = Field(
        None, description="During a customer's trial (trial_until): free or paid (default: free for flat charges, paid for the others)."
    )
    minimum: Money | None = Field(
        None, description="Smallest amount of this line (per period, per group): a smaller amount is raised to it."
    )
    maximum: Money | None = Field(None, description="Largest amount of this line (per period, per group): a larger amount is capped at it.")
    group_by: list[StrictStr] | None = Field(
        None, description="Usage fields (text, integer or bool): one line per distinct value or combination, id `charge[v1,v2]`."
    )
    prices: list[PriceEntry] | None = Field(
        None, description="Per group, the first entry whose `match:` holds prices it; the charge's own keys price the others."
    )

    @model_validator(mode="before")
    @classmethod
    def _left_to_entries(cls, data: Any) -> Any:
        """With `prices:`, the charge's own price keys may be left out: groups no entry matches are then rejected rows."""
        if isinstance(data, dict) and data.get("prices") is not None:
            missing = {key: None for key in PRICING_KEYS if key in cls.model_fields and key not in data}
            return {**data, **missing}
        return data


class FlatCharge(ChargeBase):
    """A fixed amount per period."""

    model: Literal["flat"] = Field(description="Pricing model.")
    amount: Expression | None = Field(description="The amount charged.")


class PerUnitCharge(ChargeBase):
    """Quantity x unit price."""

    model: Literal["per_unit"] = Field(description="Pricing model.")
    on: Expression = Field(description="The quantity: a metric or an expression of metrics.")
    unit_price: Price | None = Field(description="Price per unit.")
    free_units: Price = Field(Decimal(0), description="Units included at no charge.")


class TieredCharge(ChargeBase):
    """A tier table: graduated (each portion at its tier) or volume (all at one tier)."""

    model: Literal["graduated", "volume"] = Field(description="Pricing model.")
    on: Expression = Field(description="The quantity: a metric or an expression of metrics.")
    tiers: list[Tier] | None = Field(description="Tiers in increasing order; the last has no bound.")
    allow_decrease: bool = Field(False, description="The table lowers the charge when usage grows past a bound, on purpose (no warning).")


class PackageCharge(ChargeBase):
    """Units sold in packages; a started package is charged whole."""

    model: Literal["package"] = Field(description="Pricing model.")
    on: Expression = Field(description="The quantity: a metric or an expression of metrics.")
    package_size: Amount | None = Field(description="Units per package.")
    package_price: Money | None = Field(description="Price of one package.")
    free_units: Price = Field(Decimal(0), description="Units included at no charge.")


class PercentageCharge(ChargeBase):
    """A fee per event: rate x the event's amount + fixed fee, clamped."""

    model: Literal["percentage"] = Field(description="Pricing model.")
    on: StrictStr = Field(description="The usage field (money) the rate applies to.")
    where: Expression | None = Field(None, description="Only events for which this expression is true.")
    rate: Amount | None = Field(description="Rate per event, e.g. 2.9%.")
    fixed_fee: Money = Field(Decimal(0), description="Fixed fee added per event.")
    min_fee: Money | None = Field(None, description="Smallest fee per event.")
    max_fee: Money | None = Field(None, description="Largest fee per event.")
    free_events: Amount | None = Field(None, description="The period's first events (in timestamp order) that are free: a whole number.")
    free_amount: Money | None = Field(
        None, description="Events are free while their running sum stays within this; the event that crosses it pays on its part above."
    )


class FormulaCharge(ChargeBase):
    """An amount given by an expression."""

    model: Literal["formula"] = Field(description="Pricing model.")
    amount: Expression | None = Field(description="Expression for the amount.")


Charge = Annotated[
    FlatCharge | PerUnitCharge | TieredCharge | PackageCharge | PercentageCharge | FormulaCharge,
    Field(discriminator="model"),
]
