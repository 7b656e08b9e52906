"""The shape of a plan file, as pydantic models (the YAML boundary only).

Every field has a description: `ratecard schema` turns these models into the
JSON Schema that editors use for completion and hover help. Expressions are
kept as text here; `dsl.compiler` parses and checks them with their positions.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from dsl.currency import currency_problem, split_money
from dsl.values import digits_problem, percent_text

TypeName = Literal["money", "number", "integer", "percent", "bool", "text", "date"]
Rounding = Literal["half_up", "half_even", "down", "up"]
# A plan id names output files (`run` writes <plan id>.json): no path separators, no
# leading dot or dash, nothing a shell or a file system reads specially.
PLAN_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"

_AMOUNT = re.compile(r"^\s*([-+]?\d(_?\d)*(\.\d(_?\d)*)?)\s*(%?)\s*$")


def parse_amount(value: Any) -> Any:
    """`100_000`, `12.50`, `10%` or `3.3%` as an exact Decimal (percent as a fraction)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    if isinstance(value, (Decimal, int)):
        return _exact(Decimal(value), f"{Decimal(value):f}")
    if isinstance(value, str):
        match = _AMOUNT.match(value)
        if match:
            try:
                number = Decimal(match.group(1).replace("_", ""))
            except InvalidOperation:  # pragma: no cover - the pattern admits only digits
                raise ValueError(f"{value!r} is not a number") from None
            if match.group(5):
                return _exact(number / 100, percent_text(value.strip(), number / 100))
            return _exact(number, f"{number:f}")
        raise ValueError(f"{value!r} is not a number (write 100_000, 12.50 or 3.3%)")
    raise ValueError("expected a number")


def _exact(number: Decimal, written: str) -> Decimal:
    problem = digits_problem(number, written)
    if problem:
        raise ValueError(problem)
    return number


_NUMBER_PATTERN = r"[-+]?\d(_?\d)*(\.\d(_?\d)*)?"


def _spelled(suffix: str) -> dict:
    return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": f"^{_NUMBER_PATTERN}{suffix}$"}]}


Amount = Annotated[Decimal, BeforeValidator(parse_amount), WithJsonSchema(_spelled("%?"))]


def _money(value: Any, info: ValidationInfo, percent: bool) -> Any:
    """A number, or a number in the plan's currency (`0.002 USD`); the currency comes from the
    validation context, so `49 EUR` in a USD plan fails here, at the value."""
    if isinstance(value, str):
        written = split_money(value)
        if written is not None:
            plan_currency = (info.context or {}).get("currency")
            problem = currency_problem(value.strip(), written[1], plan_currency if isinstance(plan_currency, str) else None)
            if problem:
                raise ValueError(problem)
            return _exact(written[0], value.strip())
        if not percent and value.strip().endswith("%") and _AMOUNT.match(value):
            raise ValueError(f"{value.strip()!r} is an amount of money, not a percent")
    return parse_amount(value)


# Money: a number or a number in the plan's currency. A price per unit may also be a
# percent, since the quantity may itself be money (2% of the volume in a tier).
Money = Annotated[
    Decimal,
    BeforeValidator(lambda value, info: _money(value, info, percent=False)),
    WithJsonSchema(_spelled(r"( ?[A-Z]{3})?")),
]
Price = Annotated[
    Decimal,
    BeforeValidator(lambda value, info: _money(value, info, percent=True)),
    WithJsonSchema(_spelled(r"(%| ?[A-Z]{3})?")),
]


def _expression(value: Any) -> Any:
    if isinstance(value, (bool, Decimal, str)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    raise ValueError("expected an expression (text, a number or true/false)")


Expression = Annotated[
    Any,
    BeforeValidator(_expression),
    WithJsonSchema({"type": ["string", "number", "boolean"], "description": "An expression in the ratecard expression language."}),
]


def _shape(value: Any) -> str:
    return "spec" if isinstance(value, dict) else "short"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(Strict):
    """A typed field of the usage ledger or of a customer record."""

    type: TypeName = Field(description="Value type: money, number, integer, percent, bool, text or date.")
    default: StrictBool | Decimal | StrictStr | None = Field(
        None, description="Value used when the cell is empty; without a default an empty cell rejects the row."
    )
    values: list[StrictStr] | None = Field(None, description="For text fields: the only values allowed.")
    description: str | None = Field(None, description="What the field holds, for readers of the plan.")


class Rule(Strict):
    """A validation rule every usage row must pass, else it is rejected."""

    rule: Expression = Field(description="A true/false expression over the row's fields.")
    message: str = Field(description="Why the row is rejected when the rule is false.")


class Quota(Strict):
    """Running usage may never exceed the running limit; a row that would is rejected."""

    usage: StrictStr = Field(description="Usage field of signed changes in units used (e.g. record).")
    limit: StrictStr = Field(description="Usage field of signed changes in units allowed (e.g. quota).")
    message: str = Field("usage above the quota", description="Reason given for a rejected row.")
    reset: Literal["never", "period"] = Field(
        "never", description="never: running sums over all time (seats); period: both start again each period (usage)."
    )


class MetricSpec(Strict):
    """An aggregate of the customer's usage rows: a usage field or an expression over one row."""

    count: StrictBool | StrictStr | None = Field(None, description="Count the rows (write `count: true`).")
    sum: Expression | None = Field(None, description="Sum of a usage field (or row expression) over the period.")
    max: Expression | None = Field(None, description="Largest value in the period.")
    min: Expression | None = Field(None, description="Smallest value in the period.")
    unique: Expression | None = Field(None, description="Number of distinct values in the period.")
    last: Expression | None = Field(None, description="Value in the period's latest row.")
    time_weighted: Expression | None = Field(
        None,
        description="Signed changes (e.g. seats): the running level over the customer's whole history, "
        "summed per day (the level at the end of each local day) and divided by the period's days; "
        "a seat held all period counts 1.",
    )
    opening: Expression | None = Field(None, description="Signed changes: the running level when the period starts (all earlier history).")
    prorated: Expression | None = Field(
        None,
        description="Signed changes made in the period, each weighted by the share of the period left "
        "(its own day included): a change on April 10 of a 30-day April counts 21/30.",
    )
    where: Expression | None = Field(None, description="Only rows for which this expression is true.")
    description: str | None = Field(None, description="What the metric measures.")


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


class Discount(Strict):
    """A reduction of charges, applied before tax and never below zero."""

    name: str | None = Field(None, description="Line description shown on the document.")
    percent: Expression | None = Field(None, description="Share taken off, e.g. 10%.")
    amount: Expression | None = Field(None, description="Fixed amount taken off.")
    applies_to: list[StrictStr] | None = Field(None, description="Charge ids discounted (default: every charge).")
    when: Expression | None = Field(None, description="Apply only when this expression is true.")
    carry: bool = Field(
        False,
        description="A fixed amount larger than the charges it applies to: carry the rest to the next period (else it is dropped, with a notice).",
    )


class Tax(Strict):
    """A tax on the rounded subtotal."""

    included: bool = Field(
        False, description="Prices include this tax: its part is taken out of the subtotal (rate / (1 + rate)), not added."
    )

    name: str | None = Field(None, description="Tax name shown on the document.")
    rate: Amount = Field(description="Tax rate, e.g. 10%.")
    on: Literal["subtotal"] = Field("subtotal", description="What the tax is computed on.")
    rounding: Rounding | None = Field(None, description="Rounding of the tax (default: the plan's).")
    when: Expression | None = Field(None, description="Apply the tax only when this expression is true.")


class Credit(Strict):
    """A balance the customer holds (deposit, points) applied to the amount due after tax."""

    name: str | None = Field(None, description="Line description shown on the document.")
    balance: Expression = Field(description="The balance available, e.g. customer.deposit.")
    when: Expression | None = Field(None, description="Apply only when this expression is true.")


class Notice(Strict):
    """A message put on the document when its condition holds."""

    when: Expression = Field(description="Show the notice when this expression is true.")
    message: str = Field(description="The notice text.")


class Formula(Strict):
    """A named formula with typed inputs (refunds and the like), run with `ratecard eval`."""

    description: str | None = Field(None, description="What the formula computes.")
    inputs: dict[str, TypeName] = Field(default_factory=dict, description="Input names and their types.")
    value: Expression = Field(description="The expression computed from the inputs.")
    rounding: Rounding | None = Field(None, description="Rounding of a money result (default: the plan's).")


class LineSpec(Strict):
    """A settlement line: an expression of metrics and earlier lines."""

    name: str | None = Field(None, description="Line description shown on the statement.")
    value: Expression = Field(description="Expression for the line amount.")
    rounding: Rounding | None = Field(None, description="Rounding of this line (default: the plan's).")
    tax_included: Amount | None = Field(
        None, description="The line is the tax at this rate included in `value`: value x rate / (1 + rate), e.g. 10% is value / 11."
    )


class Schedule(Strict):
    """When the document is issued and paid, as days of the month after the period."""

    issue_day: int | None = Field(None, ge=1, le=28, description="Day the document is issued.")
    dispute_until_day: int | None = Field(None, ge=1, le=28, description="Last day to dispute the document.")
    charge_day: int | None = Field(None, ge=1, le=28, description="Day the amount is charged or paid out.")
    charge_time: str | None = Field(None, pattern=r"^\d{2}:\d{2}$", description="Local time of the charge, HH:MM.")


# A key that takes a full mapping or a one-line shorthand; the shape of the value
# picks the branch, so that errors come from that branch only.
FieldOrShorthand = Annotated[Annotated[FieldSpec, Tag("spec")] | Annotated[TypeName, Tag("short")], Discriminator(_shape)]
MetricOrShorthand = Annotated[Annotated[MetricSpec, Tag("spec")] | Annotated[Expression, Tag("short")], Discriminator(_shape)]
LineOrShorthand = Annotated[Annotated[LineSpec, Tag("spec")] | Annotated[Expression, Tag("short")], Discriminator(_shape)]


class Plan(Strict):
    """A ratecard plan file."""

    plan: str = Field(
        description="Plan id, used in documents and output file names: letters, digits, _, - and . (not first).",
        json_schema_extra={"pattern": PLAN_ID},
    )
    name: str | None = Field(None, description="Plan name for people.")
    description: str | None = Field(None, description="What the plan is for.")
    kind: Literal["invoice", "settlement"] = Field("invoice", description="invoice (charges) or settlement (lines).")
    currency: str = Field(description="ISO 4217 currency code, e.g. KRW or USD.")
    period: Literal["month", "quarter", "year", "week", "day"] = Field(
        "month", description="Billing period, calendar-aligned in the plan's time zone."
    )
    timezone: str = Field("UTC", description="IANA time zone for period bounds and days, e.g. Asia/Seoul.")
    rounding: Rounding = Field("half_up", description="Default rounding of each document line.")
    effective: datetime.date | None = Field(None, description="First day this version of the plan is in force.")
    usage: dict[str, FieldOrShorthand] = Field(
        default_factory=dict, description="Typed ledger fields beyond event_id, customer and timestamp."
    )
    customer: dict[str, FieldOrShorthand] = Field(
        default_factory=dict, description="Customer attributes read from --customers, as customer.<name>."
    )
    require: list[Rule] = Field(default_factory=list, description="Rules every usage row must pass.")
    quota: Quota | None = Field(
        None, description="Reject rows that take running usage above the running limit (when the customer has a limit)."
    )
    metrics: dict[str, MetricOrShorthand] = Field(
        default_factory=dict, description="Per customer and period: aggregates, or expressions of other metrics."
    )
    charges: dict[str, Charge] = Field(default_factory=dict, description="Invoice lines and their pricing models.")
    discounts: dict[str, Discount] = Field(default_factory=dict, description="Discounts applied before tax.")
    minimum: Expression | None = Field(None, description="Minimum subtotal; a true-up line makes up the rest.")
    taxes: dict[str, Tax] = Field(default_factory=dict, description="Taxes on the rounded subtotal.")
    credits: dict[str, Credit] = Field(
        default_factory=dict,
        description="Balances applied in order to the amount due after tax; never below zero, the rest carried.",
    )
    notices: dict[str, Notice] = Field(default_factory=dict, description="Messages shown when a condition holds.")
    formulas: dict[str, Formula] = Field(default_factory=dict, description="Named formulas run with `ratecard eval`.")
    lines: dict[str, LineOrShorthand] = Field(default_factory=dict, description="Settlement lines, in order; each may use earlier ones.")
    total: str | None = Field(None, description="Settlement plans: the line that is the document's total.")
    schedule: Schedule | None = Field(None, description="Billing schedule printed on every document.")


def json_schema() -> dict:
    """JSON Schema of plan files, for editors."""
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ratecard plan"
    return schema
