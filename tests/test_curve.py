"""`ratecard curve`: every point is what `rate` charges for that quantity, bounds and neighbours included."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dsl.loader import load_plan
from interpreter.engines.duckdb.engine import rate
from interpreter.output.curve import curve, quantities, to_csv, to_data
from plan_helpers import PLANS, PORTONE, compile_plan


def rated_line_amounts(plan, charge_id: str, event, points, tmp_path: Path) -> dict[Decimal, str]:
    """Rate one ledger holding one event per quantity (`event(q)` gives its fields), each for its own
    customer; the charge's line per quantity."""
    fields = ["event_id", "customer", "timestamp", *event(Decimal(1))]
    ledger = tmp_path / "one_event_each.csv"
    with open(ledger, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        for index, (quantity, _) in enumerate(points):
            writer.writerow([f"e{index}", f"q{index}", "2024-11-15T12:00:00+09:00", *event(quantity).values()])
    result = rate(plan, str(ledger), period="2024-11")
    assert result.rejected == []
    by_customer = {doc.customer: doc for doc in result.documents}
    out = {}
    for index, (quantity, _) in enumerate(points):
        [line] = [line for line in by_customer[f"q{index}"].lines if line.id == charge_id]
        out[quantity] = line.amount
    return out


# Shipped charges whose metric is a plain sum (or max) of one field: one event of quantity q gives metric q.
# (A payment of 0 is a rejected row: quantity 0 is a month with only an identity check.)
SHIPPED = [
    (PORTONE, "platform_fee", lambda q: {"kind": "approval" if q else "verification", "amount": q}),
    (PLANS / "bacobill_saas.yaml", "api_usage", lambda q: {"service": "api", "quantity": q}),
    (PLANS / "bacobill_saas.yaml", "storage", lambda q: {"service": "storage", "quantity": q}),
    (PLANS / "bacobill_saas.yaml", "sms", lambda q: {"service": "sms", "quantity": q}),
    (PLANS / "steppay_usage.yaml", "usage", lambda q: {"record": q}),
]


@pytest.mark.parametrize("path, charge_id, event", SHIPPED, ids=[f"{p.stem}-{c}" for p, c, _ in SHIPPED])
def test_every_point_of_a_shipped_charge_is_what_rate_charges(path, charge_id, event, tmp_path):
    plan = load_plan(path).plan
    drawn = curve(plan, charge_id)
    assert rated_line_amounts(plan, charge_id, event, drawn.points, tmp_path) == dict(drawn.points)


TIER_PLAN = """\
plan: drawn
currency: {currency}
timezone: Asia/Seoul
usage:
  units: number
metrics:
  used: {{sum: units}}
charges:
  priced:
    model: {model}
    on: used
    rounding: {rounding}
{body}
"""

prices = st.sampled_from(["0", "0.5", "1", "2.25", "10", "0.0015", "333.333"])
flats = st.sampled_from(["0", "100", "1000.5", "7"])


@st.composite
def tier_tables(draw):
    bounds = sorted(draw(st.sets(st.integers(1, 5000), min_size=0, max_size=4)))
    tiers = []
    for bound in bounds:
        side = draw(st.sampled_from(["below", "up_to"]))
        tiers.append(f"      - {{{side}: {bound}, unit_price: {draw(prices)}, flat: {draw(flats)}}}")
    tiers.append(f"      - {{unit_price: {draw(prices)}, flat: {draw(flats)}}}")
    return "    allow_decrease: true\n    tiers:\n" + "\n".join(tiers)


@st.composite
def charges(draw):
    model = draw(st.sampled_from(["graduated", "volume", "package", "per_unit"]))
    if model in ("graduated", "volume"):
        body = draw(tier_tables())
    elif model == "package":
        body = (
            f"    package_size: {draw(st.integers(1, 500))}\n    package_price: {draw(prices)}\n    free_units: {draw(st.integers(0, 300))}"
        )
    else:
        body = f"    unit_price: {draw(prices)}\n    free_units: {draw(st.integers(0, 300))}"
    if draw(st.booleans()):
        body += f"\n    multiplier: {draw(st.sampled_from(['3', '0.5', '12']))}"
    currency = draw(st.sampled_from(["KRW", "USD", "BHD"]))
    rounding = draw(st.sampled_from(["half_up", "half_even", "down", "up"]))
    return TIER_PLAN.format(currency=currency, model=model, rounding=rounding, body=body)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=charges(), to=st.one_of(st.none(), st.integers(0, 12000)))
def test_every_point_equals_rate_on_a_one_event_ledger(text, to, tmp_path):
    plan = compile_plan(text)
    drawn = curve(plan, "priced", None if to is None else Decimal(to))
    assert rated_line_amounts(plan, "priced", lambda q: {"units": q}, drawn.points, tmp_path) == dict(drawn.points)


def test_each_bound_and_its_neighbours_are_points():
    plan = load_plan(PORTONE).plan
    drawn = curve(plan, "platform_fee")
    shown = [q for q, _ in drawn.points]
    assert shown == sorted(set(shown)) and shown[0] == 0 and shown[-1] == Decimal(1_000_000_000)
    for bound in (50_000_000, 100_000_000, 500_000_000):
        assert {Decimal(bound - 1), Decimal(bound), Decimal(bound + 1)} <= set(shown)
    amounts = dict(drawn.points)
    assert amounts[Decimal(49_999_999)] == 0 and amounts[Decimal(50_000_000)] == 100_000
    up_to = compile_plan(
        TIER_PLAN.format(
            currency="KRW",
            model="volume",
            rounding="half_up",
            body="    tiers:\n      - {up_to: 100, unit_price: 1}\n      - {unit_price: 2}",
        )
    )
    assert {Decimal(99), Decimal(100), Decimal(101)} <= set(quantities(up_to.charges[0], Decimal(300)))


def test_csv_and_json_shapes():
    drawn = curve(load_plan(PORTONE).plan, "platform_fee", Decimal(60_000_000))
    rows = list(csv.reader(io.StringIO(to_csv(drawn))))
    assert rows[0] == ["quantity", "amount"]
    assert ["49999999", "0"] in rows and ["50000000", "100000"] in rows
    assert [Decimal(q) for q, _ in rows[1:]] == sorted(Decimal(q) for q, _ in rows[1:])
    data = to_data(drawn)
    assert set(data) == {"charge", "currency", "points"}
    assert data["charge"] == "platform_fee" and data["currency"] == "KRW"
    assert data["points"][0] == {"quantity": "0", "amount": "0"}
    assert all(isinstance(p["quantity"], str) and isinstance(p["amount"], str) for p in data["points"])


def test_small_quantities_are_every_whole_unit():
    drawn = curve(load_plan(PORTONE).plan, "annual_fee", Decimal(3))
    assert [q for q, _ in drawn.points] == [0, 1, 2, 3]


def test_cli_formats(ratecard, tmp_path):
    result = ratecard("curve", PORTONE, "platform_fee", "--to", "60_000_000")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("quantity,amount\n0,0\n")
    result = ratecard("curve", PORTONE, "platform_fee", "--format", "json", "--to", "100")
    assert json.loads(result.output)["points"][-1] == {"quantity": "100", "amount": "0"}
    result = ratecard("curve", PORTONE, "platform_fee", "--format", "svg")
    assert result.exit_code == 0 and result.output.lstrip().startswith("<svg")
    assert "One Payment Infra fee" in result.output
    png = tmp_path / "curve.png"
    result = ratecard("curve", PORTONE, "platform_fee", "--format", "png", "--output", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_problems(ratecard, tmp_path):
    result = ratecard("curve", PORTONE, "platform_fe")
    assert result.exit_code == 2 and "did you mean 'platform_fee'?" in result.output
    result = ratecard("curve", PLANS / "bacobill_saas.yaml", "base_fee")
    assert result.exit_code == 2 and "'flat' model" in result.output
    result = ratecard("curve", PORTONE, "platform_fee", "--to", "lots")
    assert result.exit_code == 2 and "--to 'lots'" in result.output
    result = ratecard("curve", PORTONE, "platform_fee", "--to", "-5")
    assert result.exit_code == 2 and "--to must be 0 or more" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(textwrap.dedent(PORTONE.read_text(encoding="utf-8")).replace("on: net_volume", "on: net_volum"), encoding="utf-8")
    result = ratecard("curve", broken, "platform_fee")
    assert result.exit_code == 1 and "net_volum" in result.output


@pytest.mark.parametrize("where", ["missing/curve.csv", "a_file/curve.csv", ".", "/dev/full"])
def test_an_output_that_cannot_be_written_is_a_usage_error(ratecard, tmp_path, where):
    (tmp_path / "a_file").write_text("in the way", encoding="utf-8")
    output = where if where.startswith("/") else tmp_path / where
    result = ratecard("curve", PORTONE, "platform_fee", "--output", output)
    assert result.exit_code == 2, result.output
    assert f"error: cannot write --output {output}: " in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "to, message",
    [
        ("NaN", "'NaN' is not a number"),
        ("Infinity", "'Infinity' is not a number"),
        ("sNaN", "'sNaN' is not a number"),
        ("1e999999", "'1e999999' is not a number"),
        ("1e-999999", "'1e-999999' is not a number"),
        ("9" * 41, "has 41 before the decimal point"),
        ("0.00000000001", "too many decimal places"),
    ],
)
def test_a_to_that_is_no_quantity_rated_exactly_is_a_usage_error(ratecard, to, message):
    result = ratecard("curve", PORTONE, "platform_fee", "--to", to)
    assert result.exit_code == 2, result.output
    assert f"--to {to!r}: " in result.stderr and message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_amount_past_the_digits_computed_exactly_is_a_usage_error(ratecard, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "plan: p\ncurrency: USD\nusage: {units: integer}\nmetrics: {used: {sum: units}}\ncharges:\n"
        "  use: {model: per_unit, on: used, unit_price: 999999999999999999.99, multiplier: 999999999999999999}\n",
        encoding="utf-8",
    )
    result = ratecard("curve", plan, "use", "--to", "999999999999999999")
    assert result.exit_code == 2, result.output
    assert "has more than 40 digits and cannot be computed exactly" in result.stderr
