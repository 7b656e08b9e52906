"""Plan file shape: schema errors and tier tables, each at its line and column.

Also: every problem of a plan is reported in one run, not just the first.
"""

from __future__ import annotations

import pytest

from plan_helpers import codes_of, problems_of

HEAD = "plan: test\ncurrency: KRW\nusage: {amount: money}\nmetrics:\n  volume: {sum: amount}\n"  # lines 1-5


def tiered(*tiers: str, model: str = "graduated") -> str:
    """HEAD plus one tiered charge; tier i (from 0) sits on line 11 + i."""
    rows = "".join(f"      - {tier}\n" for tier in tiers)
    return HEAD + f"charges:\n  fee:\n    model: {model}\n    on: volume\n    tiers:\n{rows}"


TIER_ERRORS = [
    (
        "both_bounds",
        ["{up_to: 10, below: 10, unit_price: 1}", "{unit_price: 2}"],
        [(11, 21, "a tier has either `up_to` (inclusive) or `below` (exclusive), not both")],
    ),
    (
        "bounds_not_increasing",
        ["{below: 100, unit_price: 3}", "{below: 50, unit_price: 2}", "{unit_price: 1}"],
        [(12, 17, "tier bounds must increase: 50 does not go past the previous tier's 100")],
    ),
    (
        "equal_exclusive_bounds",
        ["{below: 100, unit_price: 3}", "{below: 100, unit_price: 2}", "{unit_price: 1}"],
        [(12, 17, "tier bounds must increase: 100 does not go past the previous tier's 100")],
    ),
    (
        "equal_inclusive_bounds",
        ["{up_to: 100, unit_price: 3}", "{up_to: 100, unit_price: 2}", "{unit_price: 1}"],
        [(12, 17, "tier bounds must increase")],
    ),
    (
        "open_tier_not_last",
        ["{below: 10, unit_price: 3}", "{unit_price: 2}", "{below: 100, unit_price: 1}"],
        [
            (12, 9, "only the last tier may be open; give this tier `up_to` or `below`"),
            (13, 10, "the last tier must be open (no `up_to`/`below`): it takes every larger quantity"),
        ],
    ),
    ("last_tier_bounded", ["{below: 10, unit_price: 3}", "{up_to: 100, unit_price: 1}"], [(12, 10, "the last tier must be open")]),
]


@pytest.mark.parametrize(("tiers", "expected"), [c[1:] for c in TIER_ERRORS], ids=[c[0] for c in TIER_ERRORS])
def test_tier_table_errors(tiers, expected):
    found = problems_of(tiered(*tiers))
    assert [(line, column) for line, column, _ in found] == [(line, column) for line, column, _ in expected]
    for (_, _, message), (_, _, wanted) in zip(found, expected, strict=True):
        assert wanted in message
    assert set(codes_of(tiered(*tiers))) == {"tiers"}


def test_below_then_up_to_at_the_same_bound_is_allowed():
    """`below: 100` then `up_to: 100` leaves exactly 100 for the second tier."""
    assert problems_of(tiered("{below: 100, unit_price: 3}", "{up_to: 100, unit_price: 2}", "{unit_price: 1}")) == []


def test_empty_tier_table():
    text = HEAD + "charges:\n  fee: {model: volume, on: volume, tiers: []}\n"
    assert problems_of(text) == [(7, 43, "a tier table needs at least one tier")]


SCHEMA_ERRORS = [
    (
        "unknown_key_with_suggestion",
        tiered("{belwo: 10, flat: 0}", "{flat: 1}"),
        (11, 10, "unknown key 'belwo' in charges.fee.tiers[0]; did you mean 'below'?"),
    ),
    (
        "unknown_top_level_key",
        HEAD + "discount:\n  x: {percent: 10%}\n",
        (6, 1, "unknown key 'discount' in the plan; did you mean 'discounts'?"),
    ),
    (
        "missing_required_key",
        HEAD + "charges:\n  fee:\n    model: per_unit\n    on: volume\n",
        (7, 3, "charges.fee: missing required key 'unit_price'"),
    ),
    ("missing_plan_id", "currency: KRW\n", (1, 1, "missing required key 'plan'")),
    (
        "unknown_pricing_model",
        HEAD + "charges:\n  fee:\n    model: volum\n    on: volume\n",
        (8, 12, "charges.fee: unknown pricing model 'volum'; did you mean 'volume'?"),
    ),
    ("charge_without_model", HEAD + "charges:\n  fee:\n    on: volume\n", (7, 3, "charges.fee: a charge needs `model:`")),
    (
        "bad_rounding_literal",
        HEAD + "taxes:\n  vat: {rate: 10%, rounding: nearest}\n",
        (7, 30, "taxes.vat.rounding: expected 'half_up', 'half_even', 'down' or 'up'"),
    ),
    (
        "bad_period_literal",
        "plan: t\ncurrency: KRW\nperiod: monthly\n",
        (3, 9, "period: expected 'month', 'quarter', 'year', 'week' or 'day'"),
    ),
    (
        "bad_amount",
        tiered("{below: 10, flat: abc}", "{flat: 1}"),
        (11, 27, "charges.fee.tiers[0].flat: 'abc' is not a number (write 100_000, 12.50 or 3.3%)"),
    ),
    (
        "bad_type_name",
        "plan: t\ncurrency: KRW\nusage:\n  amount: monye\n",
        (4, 11, "usage.amount: expected 'money', 'number', 'integer', 'percent', 'bool', 'text' or 'date'"),
    ),
    (
        "list_where_a_mapping_belongs",
        "plan: t\ncurrency: KRW\ncharges: [a, b]\n",
        (3, 10, "charges: expected keys and values (`name: value` lines, or {name: value})"),
    ),
    ("bad_schedule_day", "plan: t\ncurrency: KRW\nschedule: {issue_day: 31}\n", (3, 23, "schedule.issue_day: must be at most 28")),
    (
        "bad_effective_date",
        "plan: t\ncurrency: KRW\neffective: 2024-13-01\n",
        (3, 12, "effective: expected a date such as 2024-11-01 (month value is outside expected range of 1-12)"),
    ),
    (
        "charge_is_a_single_value",
        HEAD + "charges:\n  fee: 5\n",
        (7, 8, "charges.fee: a charge is written as keys such as `model:` and `on:`, not a single value"),
    ),
    (
        "bad_time",
        "plan: t\ncurrency: KRW\nschedule: {charge_time: '9am'}\n",
        (3, 25, "schedule.charge_time: expected a time written HH:MM, such as 10:00"),
    ),
    (
        "fraction_for_a_day",
        "plan: t\ncurrency: KRW\nschedule: {charge_day: 1.5}\n",
        (3, 24, "schedule.charge_day: expected a whole number, not a fraction"),
    ),
    (
        "default_of_no_type",
        "plan: t\ncurrency: KRW\nusage: {amount: {type: money, default: [1]}}\n",
        (3, 40, "usage.amount.default: expected true, false, a number or text"),
    ),
    ("unknown_currency", "plan: t\ncurrency: WON\n", (2, 11, "unknown currency 'WON' (use an ISO 4217 code such as KRW or USD)")),
    ("unknown_time_zone", "plan: t\ncurrency: KRW\ntimezone: Asia/Seol\n", (3, 11, "unknown time zone 'Asia/Seol'")),
    ("duplicate_key", "plan: t\ncurrency: KRW\nplan: u\n", (3, 1, "duplicate key 'plan' (first defined on line 1)")),
    ("not_a_mapping", "- plan: t\n", (1, 1, "a plan file must be a mapping of keys such as plan:, currency:, charges:")),
    ("empty_file", "", (1, 1, "a plan file must be a mapping")),
    (
        "python_tag",
        "plan: !!python/object/apply:os.system [ls]\ncurrency: KRW\n",
        (1, 7, "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed in plan files"),
    ),
    ("merge_key", "base: &b {plan: t}\n<<: *b\n", (2, 1, "YAML merge keys (<<) are not supported in plan files")),
    ("invalid_yaml", "plan: t\ncurrency: [KRW\n", (2, 11, "invalid YAML: this `[` is not closed")),
    ("tab_indentation", "plan: t\ncharges:\n\tfee: 1\n", (3, 1, "indent with spaces, not tabs")),
    ("nul_character", "plan: t\x00\n", (1, 8, "character U+0000 is not allowed in a YAML file")),
    (
        "lone_surrogate",
        'plan: t\ncurrency: KRW\nusage:\n  kind: {type: text, values: [a, "b\\udfff"]}\n',
        (4, 34, "invalid text: a lone surrogate \\udfff (YAML's \\u escape of half a pair; write the character itself)"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in SCHEMA_ERRORS], ids=[c[0] for c in SCHEMA_ERRORS])
def test_schema_error_is_located(text, expected):
    found = problems_of(text)
    line, column, message = expected
    assert [(f[0], f[1]) for f in found][:1] == [(line, column)], found
    assert message in found[0][2]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (tiered("{belwo: 10, flat: 0}", "{flat: 1}"), "schema"),
        ("a: &a [*a]\n", "yaml"),
        ("plan: t\ncurrency: [KRW\n", "yaml"),
        ("plan: t\ncurrency: WON\n", "plan"),
    ],
)
def test_schema_and_file_errors_have_their_code(text, code):
    assert codes_of(text) == [code]


def test_every_unrelated_problem_is_reported_in_one_run():
    text = """\
plan: several
currency: KRW
usage:
  amount: money
  kind: {type: text, values: [approval, refund]}
metrics:
  gross: {sum: amount, where: kind == "approval"}
  orders: {count: true}
  share: gross / "all"
charges:
  base:
    model: formula
    amount: 10_000 + nett_volume
  usage:
    model: graduated
    on: orders
    tiers:
      - {up_to: 100, unit_price: 10}
      - {up_to: 50, unit_price: 5}
      - {unit_price: 1}
  bonus:
    model: formula
    amount: max(gross, 0
discounts:
  loyal: {percent: 10%, when: orders}
notices:
  big: {when: gross >= 1_000_000 and kind == "x", message: Big month}
formulas:
  refund:
    inputs: {paid: money, used: integer}
    value: paid * (1 - used / days_in_month(used))
"""
    assert problems_of(text) == [
        (9, 10, "cannot compute money (KRW) / text"),
        (13, 22, "unknown name 'nett_volume' in charge 'base'"),
        (19, 17, "tier bounds must increase: 50 does not go past the previous tier's 100"),
        (23, 25, "expression ends too early; expected ')' or ','"),
        (25, 31, "`when` must be true or false, but this is integer"),
        (27, 38, "'kind' cannot be used in notice 'big': it is a usage field; use it in a metric"),
        (31, 31, "days_in_month() takes dates, not integer"),
    ]


def test_several_schema_errors_are_reported_together():
    text = (
        HEAD
        + """\
charges:
  a: {model: flat, amout: 1}
  b: {model: per_unit, on: volume}
taxes:
  vat: {rate: ten}
"""
    )
    found = problems_of(text)
    assert [(line, column) for line, column, _ in found] == [(7, 3), (7, 20), (8, 3), (10, 15)]
    assert "missing required key 'amount'" in found[0][2]
    assert "unknown key 'amout'" in found[1][2] and "did you mean 'amount'?" in found[1][2]
    assert "missing required key 'unit_price'" in found[2][2]
    assert "'ten' is not a number" in found[3][2]
