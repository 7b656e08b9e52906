"""The shape of a plan file, as pydantic models (the YAML boundary only).

Every field has a description: `ratecard schema` turns these models into the
JSON Schema that editors use for completion and hover help. Expressions are
kept as text here; `dsl.compiler` parses and checks them with their positions.
The values keys take are in `dsl.schema_values`, the charges in `dsl.schema_charges`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StrictBool, StrictStr, Tag

from dsl.schema_charges import Charge
from dsl.schema_values import Amount, Expression, Rounding, Strict, TypeName

# A plan id names output files (`run` writes <plan id>.json): no path separators, no
# leading dot or dash, nothing a shell or a file system reads specially.
PLAN_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"


def _shape(value: Any) -> str:
    return "spec" if isinstance(value, dict) else "short"


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
