"""Names and static types: each kind of error, at its exact line and column in the plan.

Every case is one part added to the same small plan (`BASE`, lines 1-15), so
the expected positions can be read straight off the case text: its first line
is line 16 of the plan. `BASE` ends inside `metrics:`, so a case that starts
with an indented line adds metrics.
"""

from __future__ import annotations

import pytest

from plan_helpers import codes_of, problems_of

BASE = """\
plan: test
currency: KRW
usage:
  amount: money
  kind: {type: text, values: [approval, refund]}
  paid_on: date
  seats: integer
customer:
  segment: text
  since: date
metrics:
  gross: {sum: amount, where: kind == "approval"}
  orders: {count: true}
  net_volume: gross * 1
  seat_total: {sum: seats}
"""


def with_base(part: str) -> str:
    """BASE plus `part`, which is written indented by 8 spaces in this file."""
    lines = [line[8:] if line.startswith(" " * 8) else line for line in part.splitlines(keepends=True)]
    return BASE + "".join(lines)


def errors_in(part: str) -> list[tuple[int, int, str]]:
    return problems_of(with_base(part))


CASES = [
    # --- arithmetic between types -------------------------------------
    (
        "money_plus_date",
        """\
        charges:
          fee: {model: formula, amount: gross + 2024-01-01}
        """,
        17,
        33,
        "cannot compute money (KRW) + date",
    ),
    (
        "text_times_number",
        """\
        formulas:
          twice:
            inputs: {label: text}
            value: label * 2
        """,
        19,
        12,
        "cannot compute text * integer",
    ),
    (
        "money_times_money",
        """\
        charges:
          fee:
            model: formula
            amount: gross * net_volume
        """,
        19,
        13,
        "cannot multiply money by money",
    ),
    (
        "money_in_another_currency",
        """\
        charges:
          fee:
            model: formula
            amount: gross + 5 USD
        """,
        19,
        21,
        "'5 USD' is in USD, but the plan's currency is KRW (amounts are never converted)",
    ),
    (
        "unknown_currency_literal",
        """\
        charges:
          fee:
            model: formula
            amount: gross + 5 KRX
        """,
        19,
        21,
        "'KRX' is not a currency code",
    ),
    (
        "number_divided_by_money",
        """\
        formulas:
          share:
            inputs: {fee: money}
            value: 1 / fee
        """,
        19,
        12,
        "cannot divide a number by money",
    ),
    (
        "negate_text",
        """\
        formulas:
          f:
            inputs: {label: text}
            value: -label
        """,
        19,
        12,
        "cannot negate text",
    ),
    (
        "not_of_a_number",
        """\
        notices:
          n: {when: not orders, message: hi}
        """,
        17,
        13,
        "'not' needs true/false, not integer",
    ),
    (
        "and_with_a_number",
        """\
        notices:
          n: {when: orders and true, message: hi}
        """,
        17,
        13,
        "'and' needs true/false on both sides, not integer",
    ),
    (
        "compare_text_with_number",
        """\
        notices:
          n: {when: customer.segment == 1, message: hi}
        """,
        17,
        13,
        "cannot compare text with integer",
    ),
    (
        "order_booleans",
        """\
        formulas:
          f:
            inputs: {a: bool}
            value: a < true
        """,
        19,
        12,
        "cannot order bool values with '<'",
    ),
    (
        "in_list_of_another_type",
        """\
        notices:
          n: {when: 'customer.segment in ["a", 2]', message: hi}
        """,
        17,
        40,
        "cannot compare text with integer",
    ),
    (
        "in_list_not_literal",
        """\
        notices:
          n: {when: 'orders in [1, seat_total]', message: hi}
        """,
        17,
        28,
        "the list after 'in' may hold only literal values",
    ),
    # --- function calls ------------------------------------------------
    (
        "round_with_one_argument",
        """\
        charges:
          fee:
            model: formula
            amount: round(gross)
        """,
        19,
        13,
        "round() takes 2 or 3 arguments (value, step, mode), got 1",
    ),
    (
        "days_in_month_with_two_arguments",
        """\
        formulas:
          f:
            inputs: {a: date, b: date}
            value: days_in_month(a, b)
        """,
        19,
        12,
        "days_in_month() takes 1 argument, got 2",
    ),
    (
        "max_with_one_argument",
        """\
        formulas:
          f:
            inputs: {a: money}
            value: max(a)
        """,
        19,
        12,
        "max() takes at least 2 arguments, got 1",
    ),
    (
        "abs_of_text",
        """\
        formulas:
          f:
            inputs: {a: text}
            value: 1 + abs(a)
        """,
        19,
        16,
        "abs() takes a number or money, not text",
    ),
    (
        "days_between_numbers",
        """\
        formulas:
          f:
            inputs: {a: integer}
            value: days_between(a, 2024-01-01)
        """,
        19,
        12,
        "days_between() takes dates, not integer",
    ),
    (
        "max_of_money_and_bool",
        """\
        charges:
          fee: {model: formula, amount: 'max(gross, true)'}
        """,
        17,
        34,
        "max() takes numbers or money, not bool",
    ),
    (
        "round_step_is_text",
        """\
        charges:
          fee: {model: formula, amount: 'round(gross, "10")'}
        """,
        17,
        34,
        "round() step must be a number, not text",
    ),
    (
        "unknown_rounding_mode",
        """\
        charges:
          fee:
            model: formula
            amount: round(gross, 10, "nearest")
        """,
        19,
        13,
        "unknown rounding mode 'nearest'; use one of half_up, half_even, down, up",
    ),
    (
        "unknown_country",
        """\
        formulas:
          f:
            inputs: {a: date, b: date}
            value: business_days_between(a, b, "XX")
        """,
        19,
        12,
        "unknown country 'XX' for public holidays",
    ),
    (
        "unknown_function_with_suggestion",
        """\
        charges:
          fee:
            model: formula
            amount: 1 KRW + roud(gross, 10)
        """,
        19,
        21,
        "unknown function 'roud'; did you mean 'round'?",
    ),
    (
        "unknown_function_lists_functions",
        """\
        charges:
          fee:
            model: formula
            amount: zzz(gross)
        """,
        19,
        13,
        "unknown function 'zzz'; functions are ",
    ),
    (
        "function_used_as_a_name",
        """\
        charges:
          fee:
            model: formula
            amount: gross + max
        """,
        19,
        21,
        "'max' is a function; call it as max(...)",
    ),
    # --- names -----------------------------------------------------------
    (
        "unknown_name_with_suggestion",
        """\
        charges:
          fee:
            model: per_unit
            on: net_volum
            unit_price: 1
        """,
        19,
        9,
        "unknown name 'net_volum' in charge 'fee'; did you mean 'net_volume'?",
    ),
    (
        "unknown_customer_attribute",
        """\
        notices:
          n: {when: customer.segmnt == "b2b", message: hi}
        """,
        17,
        13,
        "unknown name 'customer.segmnt' in notice 'n'; did you mean 'customer.segment'?",
    ),
    (
        "usage_field_in_a_charge",
        """\
        charges:
          fee:
            model: formula
            amount: amount * 2
        """,
        19,
        13,
        "'amount' cannot be used in charge 'fee': it is a usage field",
    ),
    (
        "usage_field_in_a_derived_metric",
        """\
          doubled: amount * 2
        """,
        16,
        12,
        "'amount' cannot be used in metric 'doubled': it is a usage field",
    ),
    (
        "formula_sees_only_its_inputs",
        """\
        formulas:
          f:
            inputs: {a: money}
            value: a + gross
        """,
        19,
        16,
        "unknown name 'gross' in formula 'f' (it sees only its inputs)",
    ),
    (
        "metric_in_a_where",
        """\
          big: {count: true, where: amount > gross}
        """,
        16,
        38,
        "unknown name 'gross' in the where of metric 'big'",
    ),
    # --- what each part must be -------------------------------------------
    (
        "when_is_not_a_bool",
        """\
        charges:
          fee:
            model: formula
            amount: 1000
            when: gross
        """,
        20,
        11,
        "`when` must be true or false, but this is money (KRW)",
    ),
    (
        "where_is_not_a_bool",
        """\
          big: {count: true, where: amount}
        """,
        16,
        29,
        "a where condition must be true or false, but this is money (KRW)",
    ),
    (
        "charge_amount_is_a_bool",
        """\
        charges:
          fee: {model: formula, amount: gross > 0}
        """,
        17,
        33,
        "the amount of 'fee' must be money, but this is bool",
    ),
    (
        "quantity_is_a_date",
        """\
        charges:
          fee: {model: per_unit, on: 2024-01-01, unit_price: 1}
        """,
        17,
        30,
        "the quantity of 'fee' must be money or a number, but this is date",
    ),
    (
        "if_branches_differ",
        """\
        charges:
          fee:
            model: formula
            amount: 'if orders > 10 then gross else "none"'
        """,
        19,
        14,
        "'then' gives money (KRW) but 'else' gives text",
    ),
    (
        "if_condition_not_bool",
        """\
        charges:
          fee:
            model: formula
            amount: if orders then gross else 0
        """,
        19,
        16,
        "the condition after 'if' must be true/false, not integer",
    ),
    (
        "row_expression_divides",
        """\
          half: {count: true, where: amount / 2 > 100}
        """,
        16,
        30,
        "a where condition cannot divide",
    ),
]


@pytest.mark.parametrize(("part", "line", "column", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_is_reported_at_its_line_and_column(part, line, column, message):
    found = errors_in(part)
    assert len(found) == 1, found
    assert found[0][:2] == (line, column), found
    assert message in found[0][2]


NAME_ERRORS = {
    "unknown_function_with_suggestion",
    "unknown_function_lists_functions",
    "function_used_as_a_name",
    "unknown_name_with_suggestion",
    "unknown_customer_attribute",
    "usage_field_in_a_charge",
    "usage_field_in_a_derived_metric",
    "formula_sees_only_its_inputs",
    "metric_in_a_where",
}


@pytest.mark.parametrize(("case", "part"), [c[:2] for c in CASES], ids=[c[0] for c in CASES])
def test_error_has_its_code(case, part):
    expected = "row" if case == "row_expression_divides" else "name" if case in NAME_ERRORS else "type"
    assert codes_of(with_base(part)) == [expected]


def test_base_plan_is_clean():
    assert problems_of(BASE) == []


def test_a_cycle_between_derived_metrics_is_reported_once():
    found = errors_in("""\
          a: b + 1
          b: c * 2
          c: a - gross
        """)
    assert found == [(16, 3, "metrics form a cycle: a -> b -> c -> a")]


def test_a_metric_using_itself_is_a_cycle():
    found = errors_in("""\
          loop: loop + 1
        """)
    assert found == [(16, 3, "metrics form a cycle: loop -> loop")]


def test_derived_metrics_may_be_written_in_any_order():
    assert (
        errors_in("""\
          total: half + half
          half: net_volume / 2
        """)
        == []
    )


def test_a_broken_metric_causes_no_second_message_where_it_is_used():
    found = errors_in("""\
          broken: {sum: amonut}
          twice: broken * 2
        charges:
          fee: {model: formula, amount: broken + twice}
        """)
    assert found == [(16, 17, "metric 'broken': 'amonut' is not a usage field; did you mean 'amount'?")]


def test_settlement_line_cannot_use_a_later_line():
    text = """\
        plan: s
        kind: settlement
        currency: KRW
        usage: {amount: money}
        metrics:
          paid: {sum: amount}
        lines:
          fee: payout * 10%
          payout: paid - fee
        total: payout
        """
    assert problems_of(text) == [(8, 8, "'payout' cannot be used in line 'fee': line 'payout' comes later; lines are computed in order")]


@pytest.mark.parametrize(
    ("section", "name", "message"),
    [
        ("metrics", '"net volume": 1 KRW', "metric name 'net volume' must be a plain name"),
        ("metrics", "true: 1 KRW", "'true' is a word of the expression language; choose another metric name"),
        ("usage", "if: text", "'if' is a word of the expression language; choose another field name"),
    ],
)
def test_names_must_be_writable_in_expressions(section, name, message):
    found = problems_of(f"plan: t\ncurrency: KRW\n{section}:\n  {name}\n")
    assert [(line, column) for line, column, _ in found] == [(4, 3)]
    assert message in found[0][2]


def test_a_date_plus_whole_days_is_a_date_and_date_minus_date_is_days():
    assert (
        errors_in("""\
        formulas:
          due:
            inputs: {start: date}
            value: start + 30
          days:
            inputs: {a: date, b: date}
            value: a - b + 1
        """)
        == []
    )


@pytest.mark.parametrize(
    ("expression", "column", "message"),
    [
        (
            'customer.type == "b2b"',
            13,
            "unknown name 'customer.type' in notice 'n'; customer attributes are declared under `customer:` in the plan",
        ),
        ("period.length > 1", 13, "unknown name 'period.length' in notice 'n'; did you mean 'period.end'?"),
        ("previous.grosss > 1", 13, "unknown name 'previous.grosss' in notice 'n'; did you mean 'previous.gross'?"),
        ("gross > 5 krw", 21, "'krw' is not a currency code (write amounts like 5_000 KRW or 12.50 USD); did you mean 'KRW'?"),
        ("gross > 1e5", 21, "write numbers in full, such as 100_000: exponents (1e5) are not used in plans"),
    ],
)
def test_unknown_dotted_names_and_currencies_get_a_hint(expression, column, message):
    text = f"plan: t\ncurrency: KRW\nusage: {{amount: money}}\nmetrics:\n  gross: {{sum: amount}}\nnotices:\n  n: {{when: {expression}, message: m}}\n"
    assert problems_of(text) == [(7, column, message)]


@pytest.mark.parametrize(
    ("default", "message"),
    [
        ("0.1", "a percent default needs the % sign: write 0.1% or 10%, whichever you mean"),
        ("10", "a percent default needs the % sign: write 10% or 1000%, whichever you mean"),
    ],
)
def test_a_percent_default_must_say_percent(default, message):
    text = f"plan: t\ncurrency: KRW\ncustomer:\n  discount: {{type: percent, default: {default}}}\n"
    assert problems_of(text) == [(4, 38, message)]
    assert problems_of(text.replace(f"default: {default}", "default: 10%")) == []
