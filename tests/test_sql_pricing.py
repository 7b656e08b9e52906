"""Documents priced in SQL (interpreter/ledger/priced.py) against the Python interpreter, byte for byte.

`rate --format jsonl` prices a plan's documents in the stage-1 query when
every line has an exact SQL form; `RATECARD_PRICING=python` makes the
interpreter build them all. Every shipped scenario, hypothesis-made plans
and ledgers (every model with an SQL form, bounds, rounding modes,
currencies with 0, 2 and 3 digits, negative and time-weighted quantities,
hostile names) and the edges where SQL hands a document back to the
interpreter must give the very same lines both ways.
"""

from __future__ import annotations

import datetime
import json
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dsl.loader import load_plan
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb import engine as duck_engine
from interpreter.ledger import priced
from interpreter.review.scenarios import plan_path_for, rate_inputs, read_spec, scenario_files
from plan_helpers import PLANS, compile_plan


@pytest.fixture
def counted(monkeypatch):
    """How many documents SQL priced (the rest the interpreter built) in the ratings of the test."""
    seen = {"sql": 0, "python": 0}
    original = duck_engine.DuckDB._priced

    def recording(self, ledger, task, windows):
        part = original(self, ledger, task, windows)
        if part is not None:
            seen["sql"] += len(part.texts)
            seen["python"] += len(part.work)
        return part

    monkeypatch.setattr(duck_engine.DuckDB, "_priced", recording)
    return seen


def both_ways(monkeypatch, plan, ledger: str, **options) -> tuple[list[str], list[str]]:
    """The JSON lines of `plan` over `ledger` priced in SQL where it can be, and by the interpreter alone."""
    sql = duck_engine.rate(plan, ledger, lines=True, keep_going=True, **options)
    with monkeypatch.context() as m:
        m.setenv(priced.PRICING_ENV, "python")
        python = duck_engine.rate(plan, ledger, lines=True, keep_going=True, **options)
    assert sql.rejected == python.rejected
    return sql.documents, python.documents


def usage_scenarios() -> list[Path]:
    return [p for p in scenario_files(PLANS) if "usage" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", usage_scenarios(), ids=lambda p: f"{p.parent.parent.name}-{p.stem}")
def test_every_shipped_scenario_is_priced_alike(monkeypatch, tmp_path, counted, path):
    scenario = read_spec(path)
    if not hasattr(scenario, "usage"):
        pytest.skip("a formula scenario rates no ledger")
    loaded = load_plan(plan_path_for(path, scenario))
    ledger, options = rate_inputs(path, scenario, tmp_path / "usage.jsonl")
    sql, python = both_ways(monkeypatch, loaded.versions or loaded.plan, ledger, **options)
    assert sql == python
    timelines = any("subscriptions" in attributes for attributes in options["customer_records"].values())
    if priced.unsupported((loaded.versions or (loaded.plan,))[-1]) is None and sql and not timelines:
        assert counted["sql"] > 0  # not the interpreter on both sides (subscriptions are priced by it)


def test_the_shipped_plans_sql_prices_are_those_it_can_price_exactly():
    """Which shipped plans SQL prices (the scenario test above is not vacuous), and why the others not."""
    found = {}
    for path in sorted(PLANS.glob("*.yaml")):
        loaded = load_plan(path)
        found[path.stem] = priced.unsupported((loaded.versions or (loaded.plan,))[-1])
    assert [name for name, reason in found.items() if reason is None] == [
        "card_payments",
        "kr_streaming_vat",
        "saas_pro",
        "saas_starter",
        "steppay_seats",
        "steppay_seats_tiered",
        "steppay_usage",
        "telecom_minutes",
    ]
    assert found["onehour_business_partner"] == "settlement statements are priced by the interpreter"
    assert found["bacobill_saas"] == "the plan has credits"
    assert found["portone_one_payment_infra"] == "the plan has previous periods"
    assert found["steppay_seats_prepaid"] == "the prorated metric 'quota_raised' in an expression"


def write_ledger(tmp_path: Path, rows: list[dict]) -> str:
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return str(path)


SEATS = """\
plan: seats
currency: USD
usage: {seats: number}
metrics:
  seats: {time_weighted: seats}
charges:
  seats: {model: per_unit, on: seats, unit_price: PRICE, rounding: MODE}
"""


@pytest.mark.parametrize(
    ("mode", "price", "amount"),
    [("half_up", "0.15", "0.00"), ("half_even", "0.15", "0.00"), ("up", "0.3", "0.01"), ("down", "0.3", "0.00")],
)
def test_a_time_weighted_amount_on_an_exact_edge_is_left_to_the_interpreter(monkeypatch, tmp_path, counted, mode, price, amount):
    """One seat-day of a 30-day month at 0.15 is exactly half a cent (0.15 / 30 = 0.005), at 0.3 exactly a
    cent; the interpreter multiplies the 40-digit quotient 0.0333...3 and gets just under it. The
    documents agree because SQL hands this one back."""
    plan = compile_plan(SEATS.replace("PRICE", price).replace("MODE", mode))
    rows = [
        {"event_id": "a", "customer": "edge", "timestamp": "2024-11-30T10:00:00Z", "seats": "1"},
        {"event_id": "b", "customer": "plain", "timestamp": "2024-11-16T10:00:00Z", "seats": "2"},
    ]
    sql, python = both_ways(monkeypatch, plan, write_ledger(tmp_path, rows), period="2024-11")
    assert sql == python
    assert counted == {"sql": 1, "python": 1}  # 'plain' (15 days x 2 seats: 0.15 exactly) stays in SQL
    assert json.loads(sql[0])["lines"][0]["amount"] == amount


def test_a_quantity_past_the_digits_the_prices_leave_is_priced_by_the_interpreter(monkeypatch, tmp_path, counted):
    plan = compile_plan(
        """\
        plan: big
        currency: USD
        usage: {units: number}
        metrics:
          units: {sum: units}
        charges:
          units: {model: per_unit, on: units, unit_price: 0.0000000001}
        """.replace("        ", "")
    )
    rows = [
        {"event_id": "a", "customer": "huge", "timestamp": "2024-11-03T10:00:00Z", "units": "12345678901234567890123.5"},
        {"event_id": "b", "customer": "small", "timestamp": "2024-11-03T10:00:00Z", "units": "7"},
    ]
    sql, python = both_ways(monkeypatch, plan, write_ledger(tmp_path, rows), period="2024-11")
    assert sql == python
    assert json.loads(sql[0])["lines"][0]["amount"] == "1234567890123.46"
    assert counted == {"sql": 1, "python": 1}


def test_hostile_names_and_customer_ids_come_out_as_the_interpreter_writes_them(monkeypatch, tmp_path, counted):
    plan = compile_plan(
        textwrap.dedent(
            """\
            plan: hostile
            name: "Plan ' \\" \\\\ </script>"
            currency: KRW
            usage: {units: number}
            metrics:
              units: {sum: units}
            charges:
              "it's":
                name: "Calls ' || 'x \\" \\\\n é 🚀 \\u2028"
                model: per_unit
                on: units
                unit_price: 10
            taxes:
              "v'at": {rate: 10%, name: "VAT ' ; DROP TABLE x; --"}
            """
        )
    )
    customers = ["o'brien", 'quote"d', "back\\slash", "tab\there", "bell\x07", "é 🚀", "ctl\x1f", "del\x7f", "line\u2028sep"]
    rows = [{"event_id": f"e{i}", "customer": c, "timestamp": "2024-11-03T10:00:00Z", "units": str(i + 1)} for i, c in enumerate(customers)]
    sql, python = both_ways(monkeypatch, plan, write_ledger(tmp_path, rows), period="2024-11")
    assert sql == python
    assert counted["sql"] >= 5 and counted["python"] >= 1  # ids with control characters go to the interpreter
    assert {json.loads(line)["customer"] for line in sql} <= set(customers)


def test_rows_rejected_without_a_date_are_reported_when_sql_prices(monkeypatch, tmp_path, counted):
    """A row with no readable time joins no period; the query that prices must still count it."""
    plan = compile_plan(SEATS.replace("PRICE", "3").replace("MODE", "half_up"))
    rows = [
        {"event_id": "a", "customer": "c", "timestamp": "2024-11-30T10:00:00Z", "seats": "1"},
        {"event_id": "b", "customer": "c", "timestamp": "yesterday", "seats": "1"},
    ]
    sql, python = both_ways(monkeypatch, plan, write_ledger(tmp_path, rows))
    assert sql == python and counted["sql"] == 1
    result = duck_engine.rate(plan, write_ledger(tmp_path, rows), lines=True)
    assert [(r.row, r.reason) for r in result.rejected] == [(2, "timestamp 'yesterday' is not an ISO 8601 date-time")]


ATTRIBUTES = """\
plan: tiers
currency: USD
usage: {units: number}
customer:
  tier: {type: text, values: [basic, pro]}
  rate: {type: number, default: 0.5}
metrics:
  units: {sum: units}
charges:
  units: {model: per_unit, on: units, unit_price: 2, multiplier: customer.rate, when: customer.tier == "pro"}
  base: {model: flat, amount: 10, when: customer.tier == "basic"}
"""


def test_customer_attributes_are_read_in_sql_and_refused_as_the_interpreter_refuses_them(monkeypatch, tmp_path, counted):
    plan = compile_plan(ATTRIBUTES)
    assert priced.unsupported(plan) is None
    rows = [{"event_id": f"e{c}", "customer": c, "timestamp": "2024-11-03T10:00:00Z", "units": "3"} for c in ("p", "b")]
    ledger = write_ledger(tmp_path, rows)
    records = {"p": {"tier": "pro", "rate": "1.25"}, "b": {"tier": "basic"}, "idle": {"tier": "pro"}}
    sql, python = both_ways(monkeypatch, plan, ledger, period="2024-11", customer_records=records)
    assert sql == python
    assert counted["sql"] == 2  # 'idle' has no usage: the interpreter builds their document
    assert [json.loads(line)["total"] for line in sql] == ["10.00", "0.00", "7.50"]  # b, idle, p
    for wrong in ({"p": {"tier": "gold"}, "b": {"tier": "basic"}}, {"b": {"tier": "basic"}}):  # not a value; no tier at all
        problems = []
        for mode in ("sql", "python"):
            with monkeypatch.context() as m:
                if mode == "python":
                    m.setenv(priced.PRICING_ENV, "python")
                with pytest.raises(RateProblem) as raised:
                    duck_engine.rate(plan, ledger, period="2024-11", lines=True, customer_records=wrong)
                problems.append(str(raised.value))
        assert problems[0] == problems[1] and "customer 'p'" in problems[0]


def test_the_interpreter_alone_when_asked(monkeypatch, tmp_path, counted):
    plan = compile_plan(SEATS.replace("PRICE", "3").replace("MODE", "half_up"))
    rows = [{"event_id": "a", "customer": "c", "timestamp": "2024-11-30T10:00:00Z", "seats": "1"}]
    monkeypatch.setenv(priced.PRICING_ENV, "python")
    duck_engine.rate(plan, write_ledger(tmp_path, rows), period="2024-11", lines=True)
    assert counted == {"sql": 0, "python": 0}
    assert priced.unsupported(plan) == "RATECARD_PRICING=python"


# -- hypothesis: plans of every model SQL prices, ledgers with negative and time-weighted quantities --------

CURRENCIES = {"KRW": 0, "USD": 2, "BHD": 3}
MODES = ["half_up", "half_even", "up", "down"]


def amounts(places: int, top: int) -> st.SearchStrategy[str]:
    return st.decimals(Decimal(0), Decimal(top), places=places).map(lambda d: format(d, "f"))


@st.composite
def tier_table(draw) -> str:
    bounds = sorted(draw(st.sets(st.integers(1, 60), min_size=1, max_size=3)))
    rows = []
    for index in range(len(bounds) + 1):
        bound = "" if index == len(bounds) else f"{draw(st.sampled_from(['up_to', 'below']))}: {bounds[index]}, "
        if draw(st.integers(0, 4)) == 0:
            price = f"block: {draw(st.sampled_from(['1', '3', '2.5']))}, block_price: {draw(amounts(2, 40))}"
        else:
            price = f"unit_price: {draw(amounts(3, 9))}"
        flat = f", flat: {draw(amounts(2, 20))}" if draw(st.booleans()) else ""
        rows.append(f"      - {{{bound}{price}{flat}}}")
    return "\n".join(rows)


CUSTOMER = """customer:
  tier: {type: text, values: [basic, pro], default: basic}
  rate: {type: number, default: 1.5}
  vip: {type: bool, default: false}
"""
CUSTOMERS = {"a": {"tier": "pro", "rate": "2.25"}, "b": {"vip": "true", "rate": "0.125"}}  # c takes the defaults


def conditions(customers: bool = False) -> st.SearchStrategy[str]:
    plain = ["m_sum > 50", "m_count >= 3", "m_max < 10 or m_min < 0", "not (m_sum == 0)", "m_last in [1, 2]", "period.days == 31"]
    return st.sampled_from(plain + (['customer.tier == "pro"', "customer.vip or m_sum > 5", "customer.rate > 1"] if customers else []))


@st.composite
def sql_plans(draw) -> tuple[str, bool]:
    """A plan text, and whether it reads the attributes of `CUSTOMERS`."""
    currency = draw(st.sampled_from(list(CURRENCIES)))
    customers = draw(st.booleans())
    multipliers = ["-1", "2", "0.5", "m_count", "-m_count"] + (["customer.rate", "if customer.vip then 0.5 else 1"] if customers else [])
    charges = []
    metrics = ["sum", "max", "count", "time_weighted", "prorated", "opening", "min", "last"]
    for index in range(draw(st.integers(1, 4))):
        model = draw(st.sampled_from(["per_unit", "graduated", "volume", "package", "percentage", "flat"]))
        metric = f"m_{draw(st.sampled_from(metrics))}"
        lines = [f"  c{index}:", f"    model: {model}", f"    rounding: {draw(st.sampled_from(MODES))}"]
        if model == "per_unit":
            lines += [f"    on: {metric}", f"    unit_price: {draw(amounts(4, 30))}", f"    free_units: {draw(st.integers(0, 3))}"]
        elif model in ("graduated", "volume"):
            lines += [f"    on: {metric}", "    allow_decrease: true", "    tiers:", draw(tier_table())]
        elif model == "package":
            lines += [f"    on: {metric}", f"    package_size: {draw(st.sampled_from(['1', '3', '2.5', '10']))}"]
            lines += [f"    package_price: {draw(amounts(2, 50))}", f"    free_units: {draw(st.integers(0, 2))}"]
        elif model == "percentage":
            lines += ["    on: q", f"    rate: {draw(amounts(3, 1))}", f"    fixed_fee: {draw(amounts(2, 1))}"]
            if draw(st.booleans()):
                lines.append(f"    min_fee: {draw(amounts(2, 1))}")
            if draw(st.booleans()):
                lines.append(f"    max_fee: {draw(st.integers(2, 9))}")
        else:
            lines.append(f"    amount: {draw(amounts(3, 100))}")
        if draw(st.integers(0, 3)) == 0:
            lines.append(f"    minimum: {draw(amounts(3, 5))}")
        if draw(st.integers(0, 3)) == 0:
            lines.append(f"    maximum: {draw(st.integers(20, 90))}")
        if draw(st.integers(0, 5)) == 0:
            lines.append("    memo: true")
        if draw(st.integers(0, 3)) == 0:
            lines.append(f"    when: {draw(conditions(customers))}")
        if draw(st.integers(0, 4)) == 0:
            lines.append(f"    multiplier: {draw(st.sampled_from(multipliers))}")
        charges.append("\n".join(lines))
    taxes = ""
    if draw(st.booleans()):
        included = ", included: true" if draw(st.booleans()) else ""
        when = f", when: '{draw(conditions(customers))}'" if draw(st.integers(0, 3)) == 0 else ""
        taxes = f"taxes:\n  tax: {{rate: {draw(amounts(4, 1))}, rounding: {draw(st.sampled_from(MODES))}{included}{when}}}\n"
    extra = ""
    if draw(st.integers(0, 2)) == 0:
        extra += f"minimum: {draw(st.sampled_from(['25', '0.555', '1_000']))}\n"
    if draw(st.integers(0, 2)) == 0:
        extra += f'notices:\n  busy: {{when: \'{draw(conditions())}\', message: "Busy month: it\'s \\"big\\""}}\n'
    discounts = []
    for index in range(draw(st.integers(0, 3))):
        ids = draw(st.lists(st.sampled_from([f"c{i}" for i in range(len(charges))]), unique=True, max_size=2))
        keys = [f"percent: {draw(amounts(2, 1))}" if draw(st.booleans()) else f"amount: {draw(amounts(2, 60))}"]
        if ids:
            keys.append(f"applies_to: [{', '.join(ids)}]")
        if draw(st.integers(0, 2)) == 0:
            keys.append(f"when: '{draw(conditions(customers))}'")
        discounts.append(f"  d{index}: {{{', '.join(keys)}}}")
    if discounts:
        extra += "discounts:\n" + "\n".join(discounts) + "\n"
    metric_lines = "\n".join(f"  m_{m}: {{{m}: q}}" if m != "count" else "  m_count: {count: true}" for m in metrics)
    text = (
        f"plan: drawn\ncurrency: {currency}\nperiod: month\ntimezone: Asia/Seoul\nusage:\n  q: {{type: number}}\n"
        f"metrics:\n{metric_lines}\ncharges:\n" + "\n".join(charges) + "\n" + taxes + extra + (CUSTOMER if customers else "")
    )
    return text, customers


@st.composite
def sql_ledgers(draw) -> list[dict]:
    rows = []
    for index in range(draw(st.integers(1, 30))):
        day = draw(st.integers(0, 74))
        moment = datetime.datetime(2024, 10, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=day, hours=draw(st.integers(0, 23)))
        quantity = draw(st.decimals(Decimal(-40), Decimal(120), places=draw(st.integers(0, 4))))
        rows.append(
            {
                "event_id": f"e{index}",
                "customer": draw(st.sampled_from(["a", "b", "c"])),
                "timestamp": moment.isoformat(),
                "q": format(quantity, "f"),
            }
        )
    if draw(st.integers(0, 3)) == 0:  # rejected rows, one without a date: counted by the pass that prices
        rows.append({"event_id": "bad-time", "customer": "a", "timestamp": "not a time", "q": "1"})
        rows.append({"event_id": "bad-number", "customer": "b", "timestamp": "2024-10-05T00:00:00Z", "q": "x"})
    return rows


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_drawn_plans_and_ledgers_are_priced_alike(monkeypatch, tmp_path, data):
    text, customers = data.draw(sql_plans())
    plan = compile_plan(text)
    assert priced.unsupported(plan) is None, text
    ledger = write_ledger(tmp_path, data.draw(sql_ledgers()))
    records = CUSTOMERS if customers else {}
    sql, python = both_ways(monkeypatch, plan, ledger, period=data.draw(st.sampled_from(["2024-10", "2024-Q4"])), customer_records=records)
    assert sql == python, text
