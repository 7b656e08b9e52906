"""Differential test: the engine and tests/reference_rater.py rate random plans and ledgers alike."""

from __future__ import annotations

import csv
import datetime
import random
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import reference_rater
from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import output_data
from plan_helpers import compile_plan

ZONES = ["Asia/Seoul", "UTC", "America/New_York"]
MODES = ["half_up", "half_even", "down", "up"]
CURRENCIES = {"USD": 2, "KRW": 0, "BHD": 3}
CUSTOMERS = ["acme", "bolt", "Zeta", "카페-하늘"]
HEADER = ["event_id", "customer", "timestamp", "kind", "amount", "units", "flag"]

prices = st.decimals(min_value=0, max_value=100, places=3)
flats = st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=1000, places=2))


def sometimes(draw, percent: int) -> bool:
    """True in about `percent`% of draws (away from the ends, which hypothesis favours)."""
    return 30 <= draw(st.integers(0, 99)) < 30 + percent


@st.composite
def tiers(draw) -> str:
    count = draw(st.integers(1, 4)) if sometimes(draw, 20) else draw(st.integers(2, 4))
    out, bound, inclusive_before = [], Decimal(0), None
    for index in range(count):
        price, flat = draw(prices), draw(flats)
        # a block tier prices started blocks instead of units
        priced = (
            f"block: {draw(st.sampled_from(['1', '2', '5', '0.5']))}, block_price: {price}"
            if sometimes(draw, 25)
            else f"unit_price: {price}"
        )
        if index == count - 1:
            out.append(f"{{{priced}, flat: {flat}}}")
            break
        inclusive = draw(st.booleans())
        # small bounds, so that counts and sums often land exactly on one
        gap = draw(st.sampled_from([Decimal(n) for n in ("1", "2", "0", "1", "3", "1", "12.5", "1000")]))
        if gap == 0 and (index == 0 and not inclusive or index > 0 and not (inclusive_before is False and inclusive)):
            gap = Decimal(3)
        bound += gap
        out.append(f"{{{'up_to' if inclusive else 'below'}: {bound}, {priced}, flat: {flat}}}")
        inclusive_before = inclusive
    return "[" + ", ".join(out) + "]"


def percentage(draw) -> str:
    """A percentage charge's keys, sometimes with free events and a free amount."""
    body = (
        f"on: amount, rate: {draw(st.sampled_from(['2.9%', '1%', '0%', '12.5%']))}, fixed_fee: {draw(st.sampled_from(['0', '0.30', '1']))}"
    )
    if draw(st.booleans()):
        body += ', where: kind == "sale"'
    if sometimes(draw, 40):
        body += f", min_fee: {draw(st.sampled_from(['0.5', '2']))}, max_fee: {draw(st.sampled_from(['5', '40']))}"
    if sometimes(draw, 50):
        body += f", free_events: {draw(st.integers(0, 4))}"
    if sometimes(draw, 50):
        body += f", free_amount: {draw(st.sampled_from(['0', '10', '100.5', '3000']))}"
    return body


def group(draw, model: str) -> str:
    """`group_by:` and a price table; without the charge's own price (`prices` only), unpriced rows are rejected."""
    fields = draw(st.sampled_from([["kind"], ["flag"], ["kind", "flag"]]))
    entries = []
    for _ in range(draw(st.integers(0, 2))):
        match = []
        if "kind" in fields and draw(st.booleans()):
            match.append(f"kind: {draw(st.sampled_from(['sale', 'refund', 'test']))}")
        if "flag" in fields and draw(st.booleans()):
            match.append(f"flag: {draw(st.sampled_from(['true', 'false']))}")
        if model == "percentage":
            keys = f"rate: {draw(st.sampled_from(['5%', '0.5%']))}, free_events: {draw(st.integers(0, 2))}"
        elif model in ("graduated", "volume"):
            keys = f"tiers: {draw(tiers())}"
        elif model == "package":
            keys = f"package_price: {draw(flats)}"
        else:
            keys = f"unit_price: {draw(prices)}"
        entries.append(f"{{match: {{{', '.join(match)}}}, {keys}}}")
    return f", group_by: [{', '.join(fields)}]" + (f", prices: [{', '.join(entries)}]" if entries else "")


@st.composite
def plans(draw, balances: bool = False) -> str:
    """A random plan of the reference rater's family; with `balances`, fixed discounts (carried or not) and credits."""
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    quantity = st.sampled_from(["units", "events", "net", "sales"])
    charges = []
    for index in range(draw(st.integers(1, 4))):
        model = draw(st.sampled_from(["flat", "per_unit", "graduated", "volume", "package", "percentage"]))
        rounding = f", rounding: {draw(st.sampled_from(MODES))}" if draw(st.booleans()) else ""
        if sometimes(draw, 25):
            rounding += f", minimum: {draw(flats)}"
        if sometimes(draw, 25):
            rounding += f", maximum: {draw(st.decimals(min_value=1000, max_value=5000, places=2))}"
        if model != "flat" and sometimes(draw, 35):
            rounding += group(draw, model)
        if model == "flat":
            body = f"amount: {draw(flats)}"
        elif model == "percentage":
            body = percentage(draw)
        elif model == "per_unit" and "prices: [{" in rounding and draw(st.booleans()):
            body = f"on: {draw(quantity)}"  # only its entries price it: rows of other groups are rejected
        elif model == "per_unit":
            body = f"on: {draw(quantity)}, unit_price: {draw(prices)}, free_units: {draw(st.integers(0, 20))}"
        elif model == "package":
            body = f"on: {draw(quantity)}, package_size: {draw(st.sampled_from(['1', '3', '10', '2.5']))}, package_price: {draw(flats)}, free_units: {draw(st.integers(0, 5))}"
        else:
            body = f"on: {draw(quantity)}, tiers: {draw(tiers())}"
        charges.append(f"  c{index}: {{model: {model}, {body}{rounding}}}")
    lines = [
        "plan: differential",
        f"currency: {currency}",
        f"timezone: {draw(st.sampled_from(ZONES))}",
        f"rounding: {draw(st.sampled_from(MODES))}",
        "usage:",
        "  kind: {type: text, values: [sale, refund, test]}",
        "  amount: money",
        "  units: {type: integer, default: 1}",
        "  flag: {type: bool, default: false}",
        "require:",
        "  - {rule: amount >= 0, message: negative amount}",
        "metrics:",
        '  sales: {sum: amount, where: kind == "sale" and not flag}',
        '  refunds: {sum: amount, where: kind == "refund"}',
        "  net: sales - refunds",
        '  units: {sum: units, where: kind != "test"}',
        "  events: {count: true}",
        "charges:",
        *charges,
    ]
    discounts = []
    if draw(st.booleans()):
        targets = draw(st.lists(st.sampled_from([f"c{i}" for i in range(len(charges))]), unique=True, max_size=2))
        applies = f", applies_to: [{', '.join(targets)}]" if targets else ""
        discounts.append(f"  promo: {{name: Promotion, percent: {draw(st.decimals(min_value=0, max_value=100, places=1))}%{applies}}}")
    for index in range(draw(st.integers(1, 2)) if balances else 0):
        targets = draw(st.lists(st.sampled_from([f"c{i}" for i in range(len(charges))]), unique=True, max_size=2))
        applies = f", applies_to: [{', '.join(targets)}]" if targets else ""
        carry = ", carry: true" if draw(st.booleans()) else ""
        discounts.insert(
            draw(st.integers(0, len(discounts))), f"  coupon{index}: {{name: Coupon {index}, amount: {draw(flats)}{applies}{carry}}}"
        )
    if discounts:
        lines += ["discounts:", *discounts]
    if draw(st.booleans()):
        lines.append(f"minimum: {draw(st.decimals(min_value=0, max_value=2000, places=2))}")
    taxes = draw(st.lists(st.tuples(st.sampled_from(["10%", "8.875%", "0%", "3.3%", "12.5%"]), st.sampled_from(MODES)), max_size=2))
    if taxes:
        lines += ["taxes:", *(f"  tax{i}: {{rate: {r}, rounding: {m}}}" for i, (r, m) in enumerate(taxes))]
    credits = draw(st.lists(st.decimals(min_value=0, max_value=3000, places=3), max_size=2)) if balances else []
    if credits:
        lines += ["credits:", *(f"  credit{i}: {{name: Credit {i}, balance: {b}}}" for i, b in enumerate(credits))]
    return "\n".join(lines) + "\n"


def timestamp(moment: datetime.datetime, form: int) -> str:
    if form == 0:
        return moment.replace(tzinfo=None).isoformat()  # local, no offset
    if form == 1:
        return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    if form == 2:
        return moment.isoformat()  # local offset
    if form == 3:
        return moment.replace(tzinfo=None).isoformat(sep=" ")
    return moment.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()  # some other offset


@st.composite
def ledgers(draw, zone: str) -> list[list[str]]:
    rows = []
    customers = draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3, unique=True))
    for index in range(draw(st.integers(3, 30))):
        minute = draw(st.integers(0, 60 * 24 * 34))
        local = datetime.datetime(2024, 10, 30, tzinfo=ZoneInfo(zone)) + datetime.timedelta(minutes=minute)
        local = local.astimezone(ZoneInfo(zone))
        kind = (
            draw(st.sampled_from(["", "Sale"])) if sometimes(draw, 5) else draw(st.sampled_from(["sale", "refund", "sale", "test", "sale"]))
        )
        if sometimes(draw, 10):
            amount = draw(st.sampled_from(["", "-5", "abc", "1_000", " 7.5 ", "0.1", "0.2"]))
        elif draw(st.booleans()):
            amount = str(draw(st.integers(0, 12)))
        else:
            amount = str(draw(st.decimals(min_value=0, max_value=5000, places=draw(st.integers(0, 4)))))
        units = draw(st.sampled_from(["1.5", "-3", "17", "2.00"])) if sometimes(draw, 5) else draw(st.sampled_from(["", "0", "1", "2", ""]))
        flag = draw(st.sampled_from(["yes", "true", "false", "1", "0"])) if sometimes(draw, 10) else ""
        event = f"e{draw(st.integers(0, max(index - 1, 0)))}" if sometimes(draw, 5) else f"e{index}"
        customer = "" if sometimes(draw, 3) else draw(st.sampled_from(customers))
        rows.append([event, customer, timestamp(local, draw(st.integers(0, 4))), kind, amount, units, flag])
    return rows


def write(path: Path, rows) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


def engine(plan, path: str) -> dict:
    result = rate(plan, path, period="2024-11")
    data = output_data(result.documents, result.rejected)
    return {"documents": data["documents"], "rejected": [r["row"] for r in data["rejected"]]}


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_engine_and_reference_rater_agree(tmp_path, data):
    plan_text = data.draw(plans(), label="plan")
    plan = compile_plan(plan_text)
    rows = data.draw(ledgers(plan.timezone), label="ledger")
    path = write(tmp_path / "ledger.csv", rows)
    assert engine(plan, path) == reference_rater.rate_csv(plan, path, "2024-11")


@st.composite
def breadth_plans(draw) -> str:
    """A plan that always uses the pricing breadth: free events, groups priced by entries only, block tiers, bounds."""
    free = f", free_events: {draw(st.integers(0, 4))}, free_amount: {draw(st.sampled_from(['0', '10', '100.5', '3000']))}"
    entries = [
        f"{{match: {{kind: {k}}}, unit_price: {draw(prices)}}}"
        for k in draw(st.lists(st.sampled_from(["sale", "refund", "test"]), min_size=1, max_size=2))
    ]
    lines = [
        "plan: breadth",
        f"currency: {draw(st.sampled_from(sorted(CURRENCIES)))}",
        f"timezone: {draw(st.sampled_from(ZONES))}",
        "usage:",
        "  kind: {type: text, values: [sale, refund, test]}",
        "  amount: money",
        "  units: {type: integer, default: 1}",
        "  flag: {type: bool, default: false}",
        "require:",
        "  - {rule: amount >= 0, message: negative amount}",
        "metrics:",
        "  units: {sum: units}",
        "  sales: {sum: amount}",
        "charges:",
        f"  fees: {{model: percentage, on: amount, rate: {draw(st.sampled_from(['2.9%', '1%', '12.5%']))}, fixed_fee: 0.30,"
        f" min_fee: 0.5, max_fee: {draw(st.sampled_from(['5', '40']))}{free}" + (", group_by: [flag]" if draw(st.booleans()) else "") + "}",
        f"  usage: {{model: per_unit, on: units, group_by: [kind, flag], prices: [{', '.join(entries)}]}}",
        f"  blocks: {{model: {draw(st.sampled_from(['graduated', 'volume']))}, on: sales, tiers: {draw(tiers())},"
        f" minimum: {draw(flats)}, maximum: {draw(st.decimals(min_value=1000, max_value=5000, places=2))}"
        + (", group_by: [flag]" if draw(st.booleans()) else "")
        + "}",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_pricing_breadth_is_rated_alike(tmp_path, data):
    plan = compile_plan(data.draw(breadth_plans(), label="plan"))
    path = write(tmp_path / "ledger.csv", data.draw(ledgers(plan.timezone), label="ledger"))
    assert engine(plan, path) == reference_rater.rate_csv(plan, path, "2024-11")


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_balances_are_passed_on_from_month_to_month_alike(tmp_path, data):
    """Fixed discounts (carried, or dropped with a notice) and credits over the three months the ledgers touch."""
    plan = compile_plan(data.draw(plans(balances=True), label="plan"))
    path = write(tmp_path / "ledger.csv", data.draw(ledgers(plan.timezone), label="ledger"))
    result = rate(plan, path, period="2024-10-01..2024-12-31")
    data = output_data(result.documents, result.rejected)
    ours = {"documents": data["documents"], "rejected": [r["row"] for r in data["rejected"]]}
    assert ours == reference_rater.rate_csv(plan, path, ["2024-10", "2024-11", "2024-12"])


@pytest.mark.parametrize(
    "bounds",
    [
        ("up_to: 2", "up_to: 4", "up_to: 6"),
        ("below: 2", "below: 4", "below: 6"),
        ("up_to: 2", "below: 4", "up_to: 4"),
        ("below: 0", "up_to: 0", "below: 3"),
        ("up_to: 0", "below: 5", "up_to: 5"),
    ],
)
def test_engine_and_reference_rater_agree_at_every_tier_boundary(tmp_path, bounds):
    tiers = ", ".join(
        f"{{{b}, unit_price: {p}, flat: {f}}}" for b, p, f in zip(bounds, ("3.10", "2.20", "1.30"), ("7", "11", "13"), strict=True)
    )
    tiers = f"[{tiers}, {{unit_price: 0.40, flat: 17}}]"
    plan = compile_plan(f"""
        plan: boundaries
        currency: USD
        usage: {{kind: text, amount: money, units: integer, flag: bool}}
        metrics:
          units: {{sum: units}}
          events: {{count: true}}
        charges:
          graduated_units: {{model: graduated, on: units, tiers: {tiers}}}
          volume_units: {{model: volume, on: units, tiers: {tiers}}}
          graduated_events: {{model: graduated, on: events, tiers: {tiers}}}
          volume_events: {{model: volume, on: events, tiers: {tiers}}}
    """)
    rows = []
    for quantity in range(9):
        rows += [[f"u{quantity}-{i}", f"c{quantity}", "2024-11-05T00:00:00Z", "sale", "1", "1", "false"] for i in range(quantity)]
        rows += [[f"z{quantity}", f"c{quantity}", "2024-11-06T00:00:00Z", "sale", "1", "0", "false"]]
    path = write(tmp_path / "ledger.csv", rows)
    ours = engine(plan, path)
    assert [doc["lines"][0]["quantity"] for doc in ours["documents"]] == [str(q) for q in range(9)]
    assert ours == reference_rater.rate_csv(plan, path, "2024-11")


def test_engine_and_reference_rater_agree_on_a_larger_seeded_ledger(tmp_path):
    chooser = random.Random(20241130)
    plan = compile_plan("""
        plan: larger
        currency: KRW
        timezone: Asia/Seoul
        usage:
          kind: {type: text, values: [sale, refund, test]}
          amount: money
          units: {type: integer, default: 1}
          flag: {type: bool, default: false}
        require:
          - {rule: amount >= 0, message: negative amount}
        metrics:
          sales: {sum: amount, where: kind == "sale" and not flag}
          refunds: {sum: amount, where: kind == "refund"}
          net: sales - refunds
          units: {sum: units, where: kind != "test"}
          events: {count: true}
        charges:
          base: {model: flat, amount: 9_900}
          brackets:
            model: volume
            on: net
            tiers: [{below: 1_000_000, flat: 0}, {below: 5_000_000, flat: 10_000}, {flat: 30_000}]
          per_unit: {model: graduated, on: units, tiers: [{up_to: 100, unit_price: 9.9}, {unit_price: 8.7}]}
          boxes: {model: package, on: events, package_size: 50, package_price: 1_000, free_units: 10}
        discounts:
          promo: {percent: 15%, applies_to: [per_unit]}
        minimum: 20_000
        taxes:
          vat: {rate: 10%}
    """)
    rows = []
    for index in range(3000):
        local = datetime.datetime(2024, 10, 28, tzinfo=ZoneInfo("Asia/Seoul")) + datetime.timedelta(seconds=chooser.randrange(40 * 86400))
        amount = chooser.choice([str(chooser.randrange(0, 400_000)), str(chooser.randrange(0, 9999)) + ".5", "x", "-1"])
        rows.append(
            [
                f"e{index if chooser.random() > 0.01 else chooser.randrange(max(index, 1))}",
                chooser.choice(["acme", "bolt", "cafe", "dome", "echo"] + [f"c{n}" for n in range(40)]),
                timestamp(local, chooser.randrange(5)),
                chooser.choice(["sale"] * 6 + ["refund", "test", "bad"]),
                amount,
                chooser.choice(["", "1", "3", "250"]),
                chooser.choice(["", "", "", "true"]),
            ]
        )
    path = write(tmp_path / "ledger.csv", rows)
    ours = engine(plan, path)
    assert len(ours["documents"]) == 45 and len(ours["rejected"]) > 100
    assert ours == reference_rater.rate_csv(plan, path, "2024-11")


def test_reference_rater_refuses_plans_outside_its_family():
    plan = compile_plan("""
        plan: outside
        currency: USD
        usage: {seats: integer}
        metrics: {seats: {time_weighted: seats}}
        charges: {seats: {model: per_unit, on: seats, unit_price: 1}}
    """)
    with pytest.raises(reference_rater.Unsupported):
        reference_rater.rate_csv(plan, "unused.csv", "2024-11")


@st.composite
def timelines(draw) -> dict:
    """Random subscriptions (this plan, another or none, from days of October to December) and trials."""
    out = {}
    for customer in draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3, unique=True)):
        days = sorted(set(draw(st.lists(st.integers(0, 91), min_size=1, max_size=4))))
        subs = [
            (
                draw(st.sampled_from(["differential", "differential", "other", None])),
                datetime.date(2024, 10, 1) + datetime.timedelta(days=d),
            )
            for d in days
        ]
        trial = datetime.date(2024, 10, 1) + datetime.timedelta(days=draw(st.integers(0, 91))) if draw(st.booleans()) else None
        out[customer] = (subs, trial)
    return out


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_subscription_windows_trials_and_balances_alike(tmp_path, data):
    """Customers switching plans, cancelling and in trials: one document per window, flat charges prorated."""
    # a base fee that windows and trials always cut, beside the random charges
    base = f"  base: {{model: flat, amount: {data.draw(st.sampled_from(['29.99', '0.03', '100', '7.5']), label='base fee')}}}\n"
    plan = compile_plan(data.draw(plans(balances=True), label="plan").replace("charges:\n", "charges:\n" + base, 1))
    path = write(tmp_path / "ledger.csv", data.draw(ledgers(plan.timezone), label="ledger"))
    given_timelines = data.draw(timelines(), label="subscriptions")
    records = {
        customer: {
            "subscriptions": [{"plan": p, "from": day.isoformat()} for p, day in subs],
            **({"trial_until": trial.isoformat()} if trial else {}),
        }
        for customer, (subs, trial) in given_timelines.items()
    }
    result = rate(plan, path, period="2024-10-01..2024-12-31", customer_records=records)
    data = output_data(result.documents, result.rejected)
    ours = {"documents": data["documents"], "rejected": [r["row"] for r in data["rejected"]]}
    assert ours == reference_rater.rate_csv(plan, path, ["2024-10", "2024-11", "2024-12"], given_timelines)
