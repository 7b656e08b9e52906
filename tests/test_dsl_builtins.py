"""Built-in functions, checked and evaluated exactly as a plan would run them.

`value(text, **inputs)` parses and type-checks an expression (inputs become
formula inputs of the given type) and evaluates it with Decimal arithmetic.
"""

from __future__ import annotations

import datetime
import inspect
import itertools
from decimal import Decimal
from typing import get_args

import pytest

from dsl import ast, schema, tree
from dsl.builtins import BUILTINS, Builtin, FunctionProblem
from dsl.checker import Scope, Symbol, check
from dsl.errors import Span
from dsl.loader import load_plan
from dsl.parser import parse, text_locator
from dsl.rounding import MODES
from dsl.rows import ROW_FUNCTIONS
from dsl.types import BOOL, DATE, INTEGER, NUMBER, PERCENT, TEXT, Type, money
from interpreter.ledger.sql import literal
from interpreter.pricing.evaluate import EvaluationError, evaluate
from interpreter.pricing.formulas import run_formula
from plan_helpers import PLANS, load_text

D = datetime.date


def value(text: str, **inputs):
    """The value of `text`; keyword inputs are Decimals (money), ints (integer), dates or text."""
    names, env = {}, {}
    for name, given in inputs.items():
        if isinstance(given, datetime.date):
            kind = DATE
        elif isinstance(given, int):
            kind, given = INTEGER, Decimal(given)
        elif isinstance(given, str):
            kind = TEXT
        else:
            kind = money("KRW")
        names[name] = Symbol("input", name, kind)
        env[("input", name)] = given
    node, problems = parse(text, text_locator("test"))
    assert problems == [], problems
    result = check(node, Scope(names, "a test"))
    assert result.diagnostics == [], result.diagnostics
    return evaluate(result.expr, env)


ARITHMETIC = [
    ("max(0, -5)", 0),
    ("max(1, 7, 3)", 7),
    ("min(3, 1, 2)", 1),
    ("min(-1.5, 2)", Decimal("-1.5")),
    ("abs(-2.5)", Decimal("2.5")),
    ("abs(4)", 4),
    ("10% * 300_000", 30_000),
    ("3.3% * 1_000", 33),
    ("1 / 3 * 3", Decimal("0." + "9" * 40)),  # 40 significant digits, then rounded per line
    ("0.1 + 0.2", Decimal("0.3")),
    ("if 2 > 1 then 10 else 20", 10),
    ("-(2 - 5)", 3),
]


@pytest.mark.parametrize(("text", "expected"), ARITHMETIC, ids=[c[0] for c in ARITHMETIC])
def test_arithmetic_is_exact_decimal(text, expected):
    result = value(text)
    assert isinstance(result, Decimal)
    assert result == expected


def test_min_and_max_keep_money_money():
    fee = Decimal("300000")
    assert value("max(0, fee * (1 - 30%) * 12 - fee * max(7, 6))", fee=fee) == Decimal("420000")
    assert value("max(0, fee * (1 - 10%) * 12 - fee * max(11, 6))", fee=fee) == 0


ROUNDING = [
    # value, step, mode, expected
    ("2.5", "1", "half_up", "3"),
    ("2.5", "1", "half_even", "2"),
    ("3.5", "1", "half_even", "4"),
    ("2.5", "1", "down", "2"),
    ("2.1", "1", "up", "3"),
    ("-2.5", "1", "half_up", "-3"),
    ("-2.5", "1", "half_even", "-2"),
    ("-2.7", "1", "down", "-2"),
    ("-2.1", "1", "up", "-3"),
    ("12345", "10", "half_up", "12350"),
    ("12345", "10", "half_even", "12340"),
    ("12349", "10", "down", "12340"),
    ("12341", "10", "up", "12350"),
    ("1.005", "0.01", "half_up", "1.01"),
    ("1.005", "0.01", "half_even", "1.00"),
    ("7.3", "0.5", "half_up", "7.5"),
    ("7.2", "0.5", "down", "7.0"),
    ("0.4", "1", "half_up", "0"),
]


@pytest.mark.parametrize(("number", "step", "mode", "expected"), ROUNDING, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in ROUNDING])
def test_round_to_any_step_in_each_mode(number, step, mode, expected):
    assert value(f'round({number}, {step}, "{mode}")') == Decimal(expected)


def test_round_without_mode_is_half_up():
    assert value("round(12345, 10)") == Decimal("12350")
    assert value("round(2.5, 1)") == Decimal("3")


def test_truncate_to_ten_won():
    assert value('round(fee, 10, "down")', fee=Decimal("98765.4")) == Decimal("98760")


def test_round_with_zero_step_is_a_located_error():
    with pytest.raises(EvaluationError) as raised:
        value('round(5, 0, "down")')
    assert "round() step must be above zero" in raised.value.message
    assert (raised.value.span.line, raised.value.span.column) == (1, 1)


def test_rounding_mode_given_at_run_time_is_checked():
    with pytest.raises(EvaluationError) as raised:
        value("round(5, 1, mode)", mode="nearest")
    assert raised.value.message == "unknown rounding mode 'nearest'; use one of half_up, half_even, down, up"


DATES = [
    ("days_between(2024-01-01, 2024-03-01)", Decimal(60)),
    ("days_between(2023-01-01, 2023-03-01)", Decimal(59)),
    ("days_between(2024-03-01, 2024-01-01)", Decimal(-60)),
    ("days_between(2024-11-03, 2024-11-03)", Decimal(0)),
    ("days_in_month(2024-02-10)", Decimal(29)),
    ("days_in_month(2023-02-10)", Decimal(28)),
    ("days_in_month(2000-02-01)", Decimal(29)),
    ("days_in_month(1900-02-01)", Decimal(28)),
    ("days_in_month(2024-04-30)", Decimal(30)),
    ("days_in_month(2024-12-31)", Decimal(31)),
    ("month_start(2024-02-29)", D(2024, 2, 1)),
    ("month_start(2024-02-01)", D(2024, 2, 1)),
    ("month_end(2024-02-10)", D(2024, 2, 29)),
    ("month_end(2023-02-10)", D(2023, 2, 28)),
    ("month_end(2024-12-01)", D(2024, 12, 31)),
    ("2024-02-28 + 1", D(2024, 2, 29)),
    ("2024-03-01 - 1", D(2024, 2, 29)),
    ("2024-03-01 - 2024-02-01", Decimal(29)),
    ("month_end(2024-02-10) - month_start(2024-02-10) + 1", Decimal(29)),
]


@pytest.mark.parametrize(("text", "expected"), DATES, ids=[c[0] for c in DATES])
def test_date_functions(text, expected):
    assert value(text) == expected


BUSINESS_DAYS = [
    # Chuseok 2024: Monday 16 to Wednesday 18 September are public holidays in Korea.
    ('business_days_between(2024-09-13, 2024-09-20, "KR")', 2),  # Fri -> Fri: only Thu 19 and Fri 20
    ("business_days_between(2024-09-13, 2024-09-20)", 2),  # Korea is the default
    ('business_days_between(2024-09-20, 2024-09-13, "KR")', -2),  # backwards counts negative
    ('business_days_between(2024-09-13, 2024-09-20, "US")', 5),  # no Chuseok in the US
    ('business_days_between(2024-09-13, 2024-09-18, "KR")', 0),  # weekend, then three holidays
    ('business_days_between(2024-09-12, 2024-09-13, "KR")', 1),  # Thu -> Fri
    ('business_days_between(2024-11-08, 2024-11-11, "KR")', 1),  # Fri -> Mon over a weekend
    ('business_days_between(2024-11-08, 2024-11-10, "KR")', 0),  # Fri -> Sun
    ('business_days_between(2024-11-04, 2024-11-04, "KR")', 0),
    # 2024: 261 weekdays after Mon Jan 1, less 15 weekday holidays (Seollal x2, Mar 1, election day,
    # Children's day substitute, Buddha's birthday, Jun 6, Aug 15, Chuseok x3, Oct 1, 3, 9, Christmas)
    ('business_days_between(2024-01-01, 2024-12-31, "KR")', 246),
]


@pytest.mark.parametrize(("text", "expected"), BUSINESS_DAYS, ids=[c[0] for c in BUSINESS_DAYS])
def test_business_days_skip_weekends_and_public_holidays(text, expected):
    assert value(text) == Decimal(expected)


def test_business_days_agree_with_a_day_by_day_count():
    """The arithmetic count equals walking the days one by one, over two years."""
    import holidays

    kr = holidays.country_holidays("KR", years=[2024, 2025])
    start = D(2024, 1, 1)
    for span in (1, 6, 7, 30, 200, 700):
        end = start + datetime.timedelta(days=span)
        walked = sum(1 for n in range(1, span + 1) if (day := start + datetime.timedelta(days=n)).weekday() < 5 and day not in kr)
        assert value("business_days_between(a, b)", a=start, b=end) == walked


def test_chuseok_2024_comes_from_the_holidays_library():
    import holidays

    kr = holidays.country_holidays("KR", years=2024)
    assert {D(2024, 9, 16), D(2024, 9, 17), D(2024, 9, 18)} <= set(kr)


def test_business_days_over_centuries_is_a_located_error_not_a_hang():
    with pytest.raises(EvaluationError) as raised:
        value("business_days_between(0001-01-01, 9999-12-31)")
    assert "spans more than 200 years" in raised.value.message


def test_dates_out_of_range_are_located_errors():
    with pytest.raises(EvaluationError) as raised:
        value("9999-12-31 + 1")
    assert raised.value.message == "the date falls outside the years 1 to 9999"


def test_results_are_never_float():
    for text in (
        "1 / 3",
        "days_between(2024-01-01, 2024-02-01)",
        'business_days_between(2024-01-01, 2024-02-01, "KR")',
        "days_in_month(2024-02-01)",
        'round(1.5, 0.1, "up")',
        "abs(-1)",
        "max(1, 2.5)",
    ):
        assert isinstance(value(text), Decimal), text


def test_a_plan_formula_rounds_money_once_to_the_currency():
    loaded = load_text("""\
        plan: t
        currency: KRW
        formulas:
          prorated:
            inputs: {paid: money, start: date, requested: date}
            value: paid * (days_in_month(start) - days_between(start, requested) - 1) / days_in_month(start)
          withholding:
            inputs: {income: money}
            value: round(income * 3.3%, 10, "down")
        """)
    assert loaded.diagnostics == ()
    prorated, withholding = loaded.plan.formulas
    result = run_formula(loaded.plan, prorated, {"paid": "100000", "start": "2024-02-10", "requested": "2024-02-20"})
    assert result.value.quantize(Decimal("0.0001")) == Decimal("62068.9655")  # 100000 x 18/29, exact to 40 digits
    assert result.text == "62069"
    assert run_formula(loaded.plan, withholding, {"income": "123456"}).text == "4070"


def test_country_given_at_run_time_is_checked():
    with pytest.raises(EvaluationError) as raised:
        value("business_days_between(2024-01-01, 2024-02-01, country)", country="XX")
    assert raised.value.message == "unknown country 'XX' for public holidays (use an ISO code such as \"KR\")"


# -- the table of built-ins: each entry's signature, implementation and SQL form agree ----

SPAN = Span("test", 1, 1)
SAMPLES = [  # (type, value, the literal a plan would write), for each kind of argument
    (INTEGER, Decimal(3), ast.Number(Decimal(3), SPAN)),
    (NUMBER, Decimal("-2.5"), ast.Number(Decimal("-2.5"), SPAN)),
    (Type("number", literal=True), Decimal("7.25"), ast.Number(Decimal("7.25"), SPAN)),
    (PERCENT, Decimal("0.1"), ast.Percent(Decimal("0.1"), SPAN)),
    (money("KRW"), Decimal("1200"), ast.Money(Decimal("1200"), "KRW", SPAN)),
    (DATE, D(2024, 1, 31), ast.Date(D(2024, 1, 31), SPAN)),
    (DATE, D(2024, 2, 29), ast.Date(D(2024, 2, 29), SPAN)),
    (TEXT, "half_even", ast.Text("half_even", SPAN)),
    (TEXT, "KR", ast.Text("KR", SPAN)),
    (BOOL, True, ast.Bool(True, SPAN)),
]
PYTHON_TYPES = {
    "integer": Decimal,
    "number": Decimal,
    "percent": Decimal,
    "money": Decimal,
    "date": datetime.date,
    "text": str,
    "bool": bool,
}


def accepted_calls(builtin: Builtin, most: int = 3):
    """Every call of up to `most` sample arguments the signature accepts, with the type it gives."""
    for count in range(most + 1):
        for args in itertools.product(SAMPLES, repeat=count):
            result = builtin.signature([t for t, _, _ in args], tuple(node for _, _, node in args))
            if isinstance(result, Type):
                yield [value for _, value, _ in args], result


def counts_taken(function) -> set[int]:
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return set(range(1, 4))
    required = sum(1 for p in parameters if p.default is p.empty)
    return set(range(required, len(parameters) + 1))


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_each_signature_matches_its_implementation(name):
    builtin = BUILTINS[name]
    assert builtin.name == name
    calls = list(accepted_calls(builtin))
    assert calls, f"{name}() accepts no call of the sample arguments"
    counts = {len(values) for values, _ in calls}
    if counts_taken(builtin.implementation) != set(range(1, 4)):
        assert counts == counts_taken(builtin.implementation)
    computed = 0
    for values, result in calls:
        try:
            out = builtin.implementation(*values)
        except FunctionProblem:
            continue  # a value the function refuses when it runs (a zero step), not a wrong signature
        computed += 1
        assert isinstance(out, PYTHON_TYPES[result.kind]) and not isinstance(out, float), (name, values, out)
        assert result.kind == "bool" or not isinstance(out, bool)
    assert computed, name


@pytest.mark.parametrize("name", sorted(n for n, b in BUILTINS.items() if b.sql is not None))
def test_each_sql_form_computes_what_the_implementation_does(name):
    import duckdb

    builtin = BUILTINS[name]
    con = duckdb.connect()
    for values, _ in accepted_calls(builtin):
        query = "SELECT " + builtin.sql([literal(v) for v in values])
        assert con.execute(query).fetchone()[0] == builtin.implementation(*values), (query, values)


def test_row_expressions_may_call_exactly_the_functions_with_a_sql_form():
    assert set(ROW_FUNCTIONS) == {"min", "max", "abs", "days_between", "days_in_month", "month_start", "month_end"}
    assert tuple(MODES) == get_args(schema.Rounding)


def test_every_function_a_shipped_plan_calls_is_in_the_table():
    called = set()
    for path in sorted(PLANS.glob("*.yaml")):
        loaded = load_plan(path)
        assert loaded.plan is not None, path
        called |= {node.function for root in tree.expressions(loaded.plan) for node in tree.walk(root) if isinstance(node, tree.Call)}
    assert called and called <= set(BUILTINS)
