"""Differential test: DuckDB and Apache Spark (local[2]) rate the same ledgers into byte-identical documents.

Every shipped plan scenario, then seeded random ledgers in CSV, JSON lines
and Parquet, a versioned plan, documents written to an output path, and the
errors the DuckDB path raises. One Spark session serves the whole module;
without pyspark the module is skipped.
"""

from __future__ import annotations

import csv
import datetime
import importlib
import json
import os
import random
import re
import textwrap
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import test_sql_pricing as sql_pricing
from dsl.loader import load_plan, load_plan_text
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import rate
from interpreter.output.render import document_data, rejected_data
from interpreter.pricing.evaluate import EvaluationError
from interpreter.review import scenarios

pytestmark = pytest.mark.spark
REQUIRED = bool(os.environ.get("RATECARD_REQUIRE_SPARK"))  # set by .ci/run: a missing Spark fails, not skips
for _module in ("pyspark", "pyarrow", "sqlglot"):
    if REQUIRED:
        importlib.import_module(_module)
    else:
        pytest.importorskip(_module, reason=f"{_module} is not installed (pip install -e '.[spark]')")

from interpreter.engines.spark import engine as spark_engine  # noqa: E402  (only once pyspark is known to be there)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = [f for f in scenarios.scenario_files(ROOT / "plans") if isinstance(scenarios.read_spec(f), scenarios.UsageScenario)]


@pytest.fixture(scope="module")
def spark():
    try:
        session = spark_engine.session("local[2]")
    except spark_engine.SparkUnavailable as problem:
        if REQUIRED:
            raise
        pytest.skip(str(problem))
    session.sparkContext.setLogLevel("ERROR")
    session.conf.set("spark.sql.shuffle.partitions", "2")  # tiny ledgers: fewer, emptier tasks
    yield session
    session.stop()


def duckdb_side(plan, ledger: str, **options) -> tuple[list[str], list[dict]]:
    result = rate(plan, ledger, **options)
    return (
        [json.dumps(document_data(d), ensure_ascii=False, separators=(",", ":")) for d in result.documents],
        rejected_data(result.rejected),
    )


def spark_side(spark, plan, ledger: str, **options) -> tuple[list[str], list[dict]]:
    result = spark_engine.rate(plan, ledger, spark=spark, **options)
    return result.documents, rejected_data(result.rejected)


def assert_same(spark, plan, ledger: str, **options) -> tuple[list[str], list[dict]]:
    return compare(duckdb_side(plan, ledger, **options), spark_side(spark, plan, ledger, **options))


def compare(expected: tuple[list[str], list[dict]], got: tuple[list[str], list[dict]]) -> tuple[list[str], list[dict]]:
    assert got[1] == expected[1]  # rejected rows: same rows, same reasons
    assert len(got[0]) == len(expected[0])
    for ours, theirs in zip(got[0], expected[0], strict=True):
        assert ours == theirs  # byte for byte
    return expected


def compile_plan(text: str):
    loaded = load_plan_text("spark.yaml", textwrap.dedent(text))
    assert loaded.plan is not None, [f"{d.span.line}: {d.message}" for d in loaded.diagnostics]
    return loaded.versions or loaded.plan


def scenario_inputs(path: Path, folder: Path) -> tuple:
    """(plan versions, ledger file, rate options) of a scenario, as `scenarios.run` rates it."""
    spec = scenarios.read_spec(path)
    loaded = load_plan(scenarios.plan_path_for(path, spec))
    ledger, options = scenarios.rate_inputs(path, spec, folder / f"{path.parent.parent.name}-{path.stem}.jsonl")
    return loaded.versions or loaded.plan, ledger, options


@pytest.fixture(scope="module")
def rated_on_spark(spark, tmp_path_factory):
    """Every scenario rated on Spark, four at a time (Spark's small jobs mostly wait; they overlap well)."""
    folder = tmp_path_factory.mktemp("scenarios")
    inputs = {path: scenario_inputs(path, folder) for path in SCENARIOS}

    def run(item):
        plan, ledger, options = item
        try:
            return spark_side(spark, plan, ledger, **options)
        except Exception as exc:  # raised again by the scenario's own test
            return exc

    with ThreadPoolExecutor(4) as pool:
        return inputs, dict(zip(inputs, pool.map(run, inputs.values()), strict=True))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_scenario_is_rated_alike(rated_on_spark, path):
    inputs, results = rated_on_spark
    plan, ledger, options = inputs[path]
    if isinstance(results[path], Exception):
        raise results[path]
    documents, _ = compare(duckdb_side(plan, ledger, **options), results[path])
    assert documents or scenarios.read_spec(path).expect is None


RANDOM_PLAN = """
    plan: spark-random
    currency: USD
    period: month
    timezone: America/New_York
    usage:
      kind: {type: text, values: [sale, refund, test, seat]}
      amount: {type: money, default: 0}
      units: {type: integer, default: 1}
      seats: {type: integer, default: 0}
      limit: {type: integer, default: 0}
      flag: {type: bool, default: false}
      share: {type: percent, default: 0%}
      due: {type: date, default: 2024-01-01}
      region: {type: text, default: us}
    require:
      - {rule: amount >= 0, message: negative amount}
      - {rule: units <= 1_000, message: too many units}
    quota: {usage: seats, limit: limit, message: seats above the limit}
    customer:
      tier: {type: text, values: [basic, pro], default: basic}
    metrics:
      sales: {sum: amount, where: kind == "sale" and not flag}
      refunds: {sum: amount, where: kind == "refund"}
      net: sales - refunds
      units: {sum: units, where: 'kind != "test" and region in ["us", "eu"]'}
      events: {count: true}
      biggest: {max: amount}
      smallest: {min: amount, where: kind == "sale"}
      regions: {unique: region}
      last_region: {last: region}
      shares: {sum: share}
      overdue: {count: true, where: "days_between(due, date) > 30 and days_in_month(date) == 30"}
      seat_months: {time_weighted: seats}
      opening_limit: {opening: limit}
      added_limit: {prorated: limit, where: limit > 0}
    charges:
      base: {model: flat, amount: 9.90}
      volume: {model: volume, on: net, tiers: [{below: 1_000, flat: 0}, {up_to: 5_000, unit_price: 0.01}, {unit_price: 0.005, flat: 25}]}
      per_unit: {model: graduated, on: units, tiers: [{up_to: 100, unit_price: 0.099}, {unit_price: 0.087}]}
      boxes: {model: package, on: events, package_size: 50, package_price: 10, free_units: 10}
      seats: {model: per_unit, on: seat_months, unit_price: 7.5}
      limits: {model: per_unit, on: added_limit, unit_price: 3.33}
      fees: {model: percentage, on: amount, where: kind == "sale", rate: 2.9%, fixed_fee: 0.30, min_fee: 0.50, max_fee: 20}
      regions: {model: formula, amount: 'regions * 1.25 USD + (if last_region == "eu" then 1 USD else 0 USD)'}
    discounts:
      pro: {percent: 12.5%, when: customer.tier == "pro"}
    minimum: 15
    taxes:
      tax: {rate: 8.875%, rounding: half_even}
    notices:
      big: {when: biggest > 4_000, message: a big sale}
"""
COLUMNS = ["event_id", "customer", "timestamp", "kind", "amount", "units", "seats", "limit", "flag", "share", "due", "region"]
ZONE = ZoneInfo("America/New_York")


def timestamp(moment: datetime.datetime, form: int) -> str:
    if form == 0:
        return moment.replace(tzinfo=None).isoformat()
    if form == 1:
        return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    if form == 2:
        return moment.isoformat()
    if form == 3:
        return moment.replace(tzinfo=None).isoformat(sep=" ")
    if form == 4:
        return moment.date().isoformat()  # a local day: its midnight
    return moment.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()


def random_rows(seed: int, count: int) -> list[dict[str, str]]:
    """A ledger over October-December 2024 in New York time (across the end of daylight saving time)
    with every kind of mistake now and then."""
    chooser = random.Random(seed)
    rows = []
    for index in range(count):
        local = datetime.datetime(2024, 10, 1, tzinfo=ZONE) + datetime.timedelta(seconds=chooser.randrange(92 * 86400))
        local = local.astimezone(ZONE)
        stamp = timestamp(local, chooser.randrange(6))
        if chooser.random() < 0.02:
            stamp = chooser.choice(["", "yesterday", "2024-11-31T10:00:00", "2024-11-05T10:00:00+0100", "2024-11-03 01:30:00"])
        amount = chooser.choice(
            [
                str(chooser.randrange(0, 5000)),
                f"{chooser.randrange(0, 999)}.{chooser.randrange(100):02d}",
                f"{chooser.randrange(10)}.{chooser.randrange(10**10):010d}",
                "",
                "1_000",
            ]
        )
        if chooser.random() < 0.03:
            amount = chooser.choice(["-5", "abc", "1.12345678901", " 7.5 ", "1e3", "1,5"])
        seats = chooser.choice(["", "", "", "1", "2", "-1"])
        limit = chooser.choice([""] * 12 + ["3", "1", "-1"])
        rows.append(
            {
                "event_id": f"e{index}" if chooser.random() > 0.02 else f"e{chooser.randrange(max(index, 1))}",
                "customer": chooser.choice(["acme", "bolt", "Zeta", "카페-하늘", "dome"] + [f"c{n:02d}" for n in range(25)] + [""]),
                "timestamp": stamp,
                "kind": chooser.choice(["sale"] * 5 + ["refund", "test", "seat", "Sale"]),
                "amount": amount,
                "units": chooser.choice(["", "1", "3", "250", "2000", "1.5"]),
                "seats": seats,
                "limit": limit,
                "flag": chooser.choice(["", "", "", "true", "0", "yes"]),
                "share": chooser.choice(["", "", "10%", "2.5%", "0.3", "150%", "x%"]),
                "due": chooser.choice(["", "", "2024-09-15", "2024-10-20", "2024-02-30", "tomorrow"]),
                "region": chooser.choice(["us", "eu", "ap", ""]),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> str:
    """JSON numbers where a cell is a plain number (read exactly, never as a float), a blank line now and then."""
    with path.open("w", encoding="utf-8") as handle:
        for index, row in enumerate(rows):
            parts = []
            for name, cell in row.items():
                if cell == "":
                    continue  # absent: a missing value
                number = name in ("amount", "units") and re.fullmatch(r"[0-9]+(\.[0-9]+)?", cell)
                parts.append(f"{json.dumps(name)}: {cell if number else json.dumps(cell, ensure_ascii=False)}")
            handle.write("{" + ", ".join(parts) + "}\n" + ("\n" if index % 97 == 0 else ""))
    return str(path)


def write_parquet(path: Path, rows: list[dict[str, str]], local: bool = False) -> str:
    """Typed columns where the cell is clean (exact DECIMAL, BIGINT, DATE, TIMESTAMPTZ or, with `local`,
    wall-clock TIMESTAMP in the plan's zone), text otherwise."""
    import duckdb

    source = write_csv(path.with_suffix(".csv"), rows)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute(f"CREATE TABLE ledger AS SELECT * FROM read_csv('{source}', header = true, all_varchar = true)")
    stamp = 'CAST(TRY_CAST("timestamp" AS TIMESTAMPTZ) AS TIMESTAMP)' if local else 'TRY_CAST("timestamp" AS TIMESTAMPTZ)'
    con.execute(f"""
        COPY (SELECT event_id, customer, {stamp} AS "timestamp", kind,
                     TRY_CAST(amount AS DECIMAL(18, 10)) AS amount, TRY_CAST(units AS BIGINT) AS units,
                     seats, "limit", flag, share, TRY_CAST(due AS DATE) AS due, region
              FROM ledger)
        TO '{path}' (FORMAT parquet)
    """)
    return str(path)


@pytest.mark.parametrize("form", ["csv", "jsonl", "parquet", "local-time parquet"])
def test_a_random_ledger_is_rated_alike_in_every_file_format(spark, tmp_path, form):
    plan = compile_plan(RANDOM_PLAN)
    rows = random_rows(20241130, 1500)
    if form == "local-time parquet":
        ledger = write_parquet(tmp_path / "ledger.parquet", rows, local=True)
    else:
        ledger = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}[form](tmp_path / f"ledger.{form}", rows)
    customers = {"acme": {"tier": "pro"}, "listed-only": {"tier": "basic"}, "Zeta": {"tier": "pro"}}
    documents, rejected = assert_same(spark, plan, ledger, customer_records=customers)
    assert len(documents) > 60 and len(rejected) > 50  # three months of thirty customers, and many mistakes
    reasons = " ".join(r["reason"] for r in rejected)
    for reason in ("duplicate event_id", "seats above the limit", "negative amount", "is not a percent"):
        assert reason in reasons
    if "parquet" not in form:  # typed Parquet columns hold no malformed values, only missing ones
        assert "is not an ISO 8601" in reasons and "is not a number" in reasons and "is not a date" in reasons
    assert any('"customer":"listed-only"' in d for d in documents)


@pytest.mark.parametrize("form", ["csv", "jsonl"])
def test_row_numbers_count_across_many_partitions_of_one_file(spark, tmp_path, form):
    """Split into 2 kB partitions, the file's rows keep the numbers DuckDB gives them."""
    plan = compile_plan(RANDOM_PLAN)
    rows = random_rows(99, 600)
    ledger = (write_csv if form == "csv" else write_jsonl)(tmp_path / f"ledger.{form}", rows)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    try:
        assert spark.read.text(ledger).rdd.getNumPartitions() >= 15
        _, rejected = assert_same(spark, plan, ledger, period="2024-11")
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert len(rejected) > 20 and rejected[-1]["row"] > 550


# ISO 8601 forms both engines read, in a zone with daylight saving time: the skipped hour of
# March 10 and the repeated hour of November 3 in New York, offsets of every width, dates alone.
TIMESTAMPS = [
    "2024-03-10 02:30:00",
    "2024-03-10T01:59:59",
    "2024-03-10T03:00",
    "2024-11-03 01:30:00",
    "2024-11-03 02:00",
    "2024-11-03 00:59:59.999999",
    "2024-11-03T10:00:00.123456789+09:00",
    "2024-11-03T23:59:59.9999999",
    "2024-1-3",
    "2024-01-03T1:02",
    "2024-11-03T10:00:00-00",
    "2024-11-03T10:00:00+0530",
    "2024-11-03T22:00:00+05",
    "2024-11-03T10:00:00Z",
    "2024-02-29",
    " 2024-11-30 ",
    "2024-12-31T23:59:59-05:00",
    "2024-11-03T10:00:00z",
    "2024-11-03t10:00",
    "2024-13-01",
    "2023-02-29",
    "2024-11-03T10:00:60",
    "2024-11-03T10:60",
    "2024-11",
    "2024",
]


def test_every_iso_timestamp_form_falls_on_the_same_day(spark, tmp_path):
    plan = compile_plan("""
        plan: days
        currency: USD
        period: day
        timezone: America/New_York
        usage: {amount: money}
        metrics: {total: {sum: amount}}
        charges: {usage: {model: per_unit, on: total, unit_price: 1}}
    """)
    path = tmp_path / "ledger.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer", "timestamp", "amount"])
        writer.writerows([f"e{i}", f"c{i:02d}", stamp, "1"] for i, stamp in enumerate(TIMESTAMPS))
    documents, rejected = assert_same(spark, plan, str(path), period="2024-01-01..2024-12-31")
    days = {json.loads(d)["customer"]: json.loads(d)["period"]["start"] for d in documents}
    assert days["c00"] == "2024-03-10" and days["c06"] == "2024-11-02" and days["c14"] == "2024-02-29"
    assert days["c15"] == "2024-11-30" and days["c16"] == "2024-12-31"
    assert len(rejected) == 8  # z and t in lower case, month 13, February 29 of 2023, second 60, minute 60, no day (twice)


def test_one_customer_an_estimate_and_a_period_range(spark, tmp_path):
    plan = compile_plan(RANDOM_PLAN)
    ledger = write_csv(tmp_path / "ledger.csv", random_rows(7, 400))
    assert_same(spark, plan, ledger, period="2024-10-15..2024-12-10", customer="acme")
    documents, _ = assert_same(spark, plan, ledger, as_of="2024-11-20T12:00")
    assert documents and all('"estimate":true' in d for d in documents)


def test_each_period_under_the_version_in_force(spark, tmp_path):
    versions = compile_plan("""
        plan: versioned
        currency: USD
        effective: 2024-01-01
        usage: {amount: money}
        require: [{rule: amount < 1_000, message: too large for the first version}]
        metrics: {total: {sum: amount}}
        charges: {usage: {model: per_unit, on: total, unit_price: 0.10}}
        ---
        plan: versioned
        currency: USD
        effective: 2024-11-01
        usage: {amount: money}
        metrics: {total: {sum: amount}}
        charges: {usage: {model: per_unit, on: total, unit_price: 0.12}, base: {model: flat, amount: 5}}
    """)
    rows = [
        {
            "event_id": f"v{i}",
            "customer": f"c{i % 3}",
            "timestamp": f"2024-{10 + i % 2}-{1 + i % 27:02d}T08:00:00Z",
            "amount": str(i * 97 % 1500),
        }
        for i in range(60)
    ]
    path = tmp_path / "ledger.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["event_id", "customer", "timestamp", "amount"])
        writer.writeheader()
        writer.writerows(rows)
    documents, rejected = assert_same(spark, versions, str(path))
    assert {json.loads(d)["period"]["start"] for d in documents} == {"2024-10-01", "2024-11-01"}
    assert rejected


def test_documents_written_to_an_output_path(spark, tmp_path):
    plan = compile_plan(RANDOM_PLAN)
    ledger = write_csv(tmp_path / "ledger.csv", random_rows(11, 300))
    expected, _ = duckdb_side(plan, ledger)
    result = spark_engine.rate(plan, ledger, spark=spark, output=str(tmp_path / "out"))
    assert result.documents == [] and result.written == len(expected)
    parts = sorted((tmp_path / "out").glob("part-*"))
    assert [line for part in parts for line in part.read_text(encoding="utf-8").splitlines()] == expected
    spark_engine.rate(plan, ledger, spark=spark, output=str(tmp_path / "out.parquet"))
    table = spark.read.parquet(str(tmp_path / "out.parquet")).orderBy("customer", "period_start").collect()
    assert [row["document"] for row in table] == expected
    with pytest.raises(RateProblem, match="already exists"):
        spark_engine.rate(plan, ledger, spark=spark, output=str(tmp_path / "out"))


def test_problems_are_reported_as_the_duckdb_path_reports_them(spark, tmp_path):
    plan = compile_plan("""
        plan: problems
        currency: USD
        usage: {amount: money}
        customer: {divisor: {type: number}}
        metrics: {total: {sum: amount}}
        charges: {share: {model: formula, amount: total / customer.divisor}}
    """)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"event_id": "a", "customer": "acme", "timestamp": "2024-11-02", "amount": 5}\n', encoding="utf-8")
    for records, kind in (({"acme": {"divisor": "0"}}, EvaluationError), ({}, RateProblem)):
        with pytest.raises(kind) as duck:
            rate(plan, str(ledger), customer_records=records)
        with pytest.raises(kind) as ours:
            spark_engine.rate(plan, str(ledger), spark=spark, customer_records=records)
        assert str(ours.value) == str(duck.value)
        if kind is EvaluationError:
            assert ours.value.span == duck.value.span
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"event_id": "a", "customer": "acme", "timestamp": "2024-11-02", "amount": 5}\n[1, 2]\n', encoding="utf-8")
    for path in (broken, tmp_path / "missing.csv", tmp_path / "ledger.txt"):
        with pytest.raises(RateProblem) as duck:
            rate(plan, str(path), customer_records={"acme": {"divisor": "2"}})
        with pytest.raises(RateProblem) as ours:
            spark_engine.rate(plan, str(path), spark=spark, customer_records={"acme": {"divisor": "2"}})
        assert str(ours.value) == str(duck.value)


def test_the_translated_sql_keeps_numbers_exact():
    """Full-match regular expressions are anchored, decimals stay DECIMAL, no DOUBLE appears."""
    from interpreter.engines.spark.ledger import to_spark

    sql = to_spark("SELECT regexp_full_match(x, '[0-9]+(\\.[0-9]{1,10})?'), CAST(x AS DECIMAL(38,10)) FROM t")
    assert "RLIKE '^(?:[0-9]+(\\\\.[0-9]{1,10})?)\\\\z'" in sql
    assert "DECIMAL(38, 10)" in sql and "DOUBLE" not in sql and "FLOAT" not in sql


@pytest.mark.usefixtures("spark")
def test_the_command_line_prints_the_same_bytes_on_either_engine(tmp_path):
    from click.testing import CliRunner

    import cli

    spec = scenarios.read_spec(ROOT / "plans" / "portone_one_payment_infra" / "scenarios" / "rejected_rows.yaml")
    ledger = tmp_path / "usage.jsonl"
    ledger.write_text("".join(json.dumps({k: scenarios._cell(v) for k, v in row.items()}) + "\n" for row in spec.usage), encoding="utf-8")
    plan = str(ROOT / "plans" / "portone_one_payment_infra.yaml")
    runner = CliRunner()
    printed = {}
    for fmt in ("json", "jsonl", "yaml"):
        outputs = {}
        for engine in ("duckdb", "spark"):
            rejects = tmp_path / f"rejects-{engine}.csv"
            result = runner.invoke(
                cli.main,
                [
                    "rate",
                    plan,
                    "--usage",
                    str(ledger),
                    "--period",
                    "2024-11",
                    "--format",
                    fmt,
                    "--engine",
                    engine,
                    "--rejects",
                    str(rejects),
                ],
            )
            outputs[engine] = (result.exit_code, result.stdout, rejects.read_text(encoding="utf-8"))
        assert outputs["spark"] == outputs["duckdb"]
        assert outputs["spark"][0] == 3  # rows were rejected
        printed[fmt] = outputs["duckdb"][1]
    result = runner.invoke(
        cli.main, ["rate", plan, "--usage", str(ledger), "--period", "2024-11", "--engine", "spark", "--output", str(tmp_path / "out")]
    )
    assert result.exit_code == 3 and "written to" in result.stdout
    written = [line for part in sorted((tmp_path / "out").glob("part-*")) for line in part.read_text(encoding="utf-8").splitlines()]
    assert written == [line for line in printed["jsonl"].splitlines() if not line.startswith('{"rejected"')]
    result = runner.invoke(cli.main, ["rate", plan, "--usage", str(ledger), "--engine", "spark", "--format", "table"])
    assert result.exit_code == 2 and "--output" in result.output


BALANCES_PLAN = """
    plan: balances
    currency: USD
    effective: 2024-01-01
    usage: {gb: number}
    customer:
      deposit: {type: money, default: 0}
      divisor: {type: number, default: 1}
    metrics: {gb: {sum: gb}}
    charges:
      base: {model: flat, amount: 10.00}
      storage: {model: per_unit, on: gb, unit_price: 1.00}
      share: {model: formula, amount: gb * 1 USD / customer.divisor}
    discounts:
      welcome: {name: Welcome coupon, amount: 25.00, applies_to: [storage], when: period.start < 2024-12-01, carry: true}
      promo: {name: Base fee promotion, amount: 100.00, applies_to: [base]}
    taxes: {vat: {rate: 10%}}
    credits:
      deposit: {name: Prepaid deposit, balance: customer.deposit}
      goodwill: {name: Goodwill credit, balance: 30.00}
"""


def balances_inputs(tmp_path: Path):
    """Two versions (storage dearer from December), four months of usage, a customer listed without usage,
    one whose documents fail (divisor 0), opening balances for some."""
    from interpreter.pricing.balances import Balance

    first = textwrap.dedent(BALANCES_PLAN)
    versions = compile_plan(first + "---\n" + first.replace("2024-01-01", "2024-12-01").replace("unit_price: 1.00", "unit_price: 2.00"))
    chooser = random.Random(7)
    rows = [
        [
            f"e{i}",
            chooser.choice(["acme", "bolt", "cora", "dome"]),
            f"2024-{chooser.choice(['10', '11', '12'])}-{chooser.randrange(1, 29):02d}",
            str(chooser.randrange(0, 40)),
        ]
        for i in range(60)
    ]
    rows += [["j1", "acme", "2025-01-05", "3"], ["j2", "dome", "2025-01-09", "70"]]
    path = tmp_path / "ledger.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer", "timestamp", "gb"])
        writer.writerows(rows)
    customers = {"acme": {"deposit": "45"}, "bolt": {"divisor": "0"}, "quiet": {"deposit": "5"}, "dome": {}}
    opening = {
        ("cora", "goodwill"): Balance("cora", "goodwill", "USD", Decimal("3.50")),
        ("quiet", "welcome"): Balance("quiet", "welcome", "USD", Decimal("12.00")),
        ("zed", "deposit"): Balance("zed", "deposit", "USD", Decimal("1.00")),
    }
    options = {"period": "2024-10-01..2025-01-31", "customer_records": customers, "balance_records": opening, "keep_going": True}
    return versions, str(path), options


def test_balances_and_failures_are_carried_alike(spark, tmp_path):
    from interpreter.output.formats import TEXT_FORMATS, printed, text_printed
    from interpreter.output.render import failure_data
    from interpreter.pricing.balances import closing_balances

    versions, ledger, options = balances_inputs(tmp_path)
    duck = rate(versions, ledger, **options)
    ours = spark_engine.rate(versions, ledger, spark=spark, **options)
    expected = [json.dumps(document_data(d), ensure_ascii=False, separators=(",", ":")) for d in duck.documents]
    assert ours.documents == expected
    assert failure_data(ours.failures) == failure_data(duck.failures)
    assert {f.customer for f in duck.failures} == {"bolt"} and len(duck.failures) == 4
    assert closing_balances(ours.opening, ours.carried) == closing_balances(duck.opening, duck.carried)
    for fmt in TEXT_FORMATS:  # as `ratecard rate --format FMT` prints them, failures included
        assert text_printed(ours, fmt) == "".join(printed(fmt, duck))
    documents = [json.loads(d) for d in expected]
    assert any(d["carried"] and d["carried"][0]["closing"] != "0.00" for d in documents)
    assert any(n["id"] == "promo.unused" for d in documents for n in d["notices"])
    assert [d["period"]["start"] for d in documents if d["customer"] == "quiet"] == ["2024-10-01", "2024-11-01", "2024-12-01", "2025-01-01"]
    written = spark_engine.rate(versions, ledger, spark=spark, output=str(tmp_path / "out"), closing=True, **options)
    parts = sorted((tmp_path / "out").glob("part-*"))
    assert [line for part in parts for line in part.read_text(encoding="utf-8").splitlines()] == expected
    assert written.written == len(expected) and failure_data(written.failures) == failure_data(duck.failures)
    assert closing_balances(written.opening, written.carried) == closing_balances(duck.opening, duck.carried)
    without = dict(options, keep_going=False)
    with pytest.raises(EvaluationError) as raised:
        spark_engine.rate(versions, ledger, spark=spark, **without)
    assert (raised.value.message, raised.value.span) == (duck.failures[0].reason, duck.failures[0].span)


STAMPS_PLAN = """
    plan: stamps
    currency: USD
    timezone: Asia/Seoul
    usage: {amount: money, day: {type: date, default: 2024-11-01}}
    metrics: {total: {sum: amount}, last_day: {max: day}}
    charges: {usage: {model: per_unit, on: total, unit_price: 1}}
"""


@pytest.mark.parametrize("form", ["csv", "jsonl", "parquet"])
def test_timestamps_that_are_not_times_are_rejected_alike(spark, tmp_path, form):
    """`infinity`, `epoch`, offsets past 18 hours, years outside 1..9999: the same rejected rows, the same reasons;
    the first and the last year are rated alike."""
    import duckdb

    import hostile

    plan = compile_plan(STAMPS_PLAN)
    stamps = [stamp for stamp, _ in hostile.TIMESTAMPS] + ["9999-12-15T10:00:00", "0001-01-01T10:00:00Z", "2024-11-03"]
    path = tmp_path / "ledger.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer", "timestamp", "amount"])
        writer.writerows([f"e{i}", "acme", stamp, str(i)] for i, stamp in enumerate(stamps))
    ledger = str(path)
    if form == "jsonl":
        ledger = str(tmp_path / "ledger.jsonl")
        with open(ledger, "w", encoding="utf-8") as handle:
            handle.writelines(
                json.dumps({"event_id": f"e{i}", "customer": "acme", "timestamp": s, "amount": i}) + "\n" for i, s in enumerate(stamps)
            )
    elif form == "parquet":
        ledger = str(tmp_path / "ledger.parquet")
        duckdb.execute(f"COPY (SELECT * FROM read_csv('{path}', all_varchar = true)) TO '{ledger}' (FORMAT parquet)")
    starts = []
    periods = ("0001-01-01..0001-01-31", "2024-11", "9999-12-01..9999-12-31") if form == "csv" else ("2024-11",)
    for period in periods:
        documents, rejected = assert_same(spark, plan, ledger, period=period)
        assert [r["reason"] for r in rejected] == [f"timestamp {stamp!r} {reason}" for stamp, reason in hostile.TIMESTAMPS]
        starts += [json.loads(d)["period"]["start"] for d in documents]
    assert starts == (["0001-01-01", "2024-11-01", "9999-12-01"] if form == "csv" else ["2024-11-01"])


def test_typed_parquet_values_outside_the_years_1_to_9999_are_rejected_alike(spark, tmp_path):
    import duckdb

    plan = compile_plan(STAMPS_PLAN)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    odd = [
        ("'infinity'::TIMESTAMPTZ", "NULL"),
        ("'-infinity'::TIMESTAMPTZ", "NULL"),
        ("'10000-06-01'::TIMESTAMPTZ", "NULL"),
        ("'2024-11-03 10:00:00+09'::TIMESTAMPTZ", "'infinity'::DATE"),
        ("'2024-11-03 10:00:00+09'::TIMESTAMPTZ", "'0001-01-01 (BC)'::DATE"),
        ("'2024-11-03 10:00:00+09'::TIMESTAMPTZ", "'2024-11-04'::DATE"),
    ]
    rows = ", ".join(f"('e{i}', 'acme', {stamp}, CAST({i} AS DECIMAL(18,2)), {day})" for i, (stamp, day) in enumerate(odd))
    for kind in ("TIMESTAMPTZ", "TIMESTAMP", "DATE"):
        ledger = tmp_path / f"{kind}.parquet"
        con.execute(
            f'COPY (SELECT event_id, customer, CAST(ts AS {kind}) AS "timestamp", amount, day '
            f"FROM (VALUES {rows}) AS t(event_id, customer, ts, amount, day)) TO '{ledger}' (FORMAT parquet)"
        )
        documents, rejected = assert_same(spark, plan, str(ledger))
        assert [r["event_id"] for r in rejected] == ["e0", "e1", "e2", "e3", "e4"]
        assert len(documents) == 1


def test_hostile_strings_are_only_data_on_spark_too(spark, tmp_path):
    """The plan and ledger of `test_sql`'s hostile strings (through values, defaults, `where:`, `require:`,
    customer and event ids, `--customer`), and a ledger column named with a backtick and a dot."""
    import hostile

    strings = hostile.STRINGS
    plan = compile_plan(hostile.hostile_plan(strings))
    rows = [{**row, "odd`name.x": "ignored"} for row in hostile.hostile_rows(strings)]
    ledger = hostile.write_ledger(tmp_path, rows, "jsonl")
    documents, rejected = assert_same(spark, plan, ledger, period="2024-11")
    assert [(r["row"], r["event_id"], r["reason"]) for r in rejected] == hostile.expected_rejections(strings)
    assert len(documents) == len(strings)
    # a CSV cell may not span lines on Spark; the rest again as CSV, for one customer
    ledger = hostile.write_ledger(tmp_path, [row for row in rows if not any("\n" in v for v in row.values())], "csv")
    customer = f"c{strings[-3]}c"  # the one that would read a file
    documents, _ = assert_same(spark, plan, ledger, period="2024-11", customer=customer)
    assert [json.loads(d)["customer"] for d in documents] == [customer]


FILES_PLAN = """
    plan: files
    currency: USD
    usage: {kind: {type: text, default: sale}, amount: money}
    metrics: {total: {sum: amount}}
    charges: {usage: {model: per_unit, on: total, unit_price: 1}}
"""


def test_ambiguous_json_lines_are_rejected_rows_alike_and_rows_are_data_rows(spark, tmp_path):
    plan = compile_plan(FILES_PLAN)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        "\n".join(
            [
                "",
                '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}',
                "   ",
                '{"event_id": "b", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "amount": 500}',
                '{"event_id": "c", "event_id": "d", "customer": "acme", "timestamp": "2024-11-03", "amount": 7}',
                '{"event_id": "e", "customer": {"id": 1}, "timestamp": "2024-11-03", "amount": 7}',
                '{"event_id": "f", "customer": "acme", "timestamp": "2024-11-03", "amount": 1e999999999, "kind": [1]}',
                '{"event_id": "g", "customer": "acme", "timestamp": "2024-11-03", "amount": "x"}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    _, rejected = assert_same(spark, plan, str(ledger))
    assert [(r["row"], r["event_id"]) for r in rejected] == [(2, "b"), (3, None), (4, "e"), (5, "f"), (6, "g")]


def test_json_lines_holding_a_lone_surrogate_are_rejected_rows_alike(spark, tmp_path):
    plan = compile_plan(FILES_PLAN)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        "\n".join(
            [
                '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}',
                '{"event_id": "b", "customer": "\\ud800", "timestamp": "2024-11-03", "amount": 5}',
                '{"event_id": "c", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "kind": "\\ud83d\\ude00\\udfff"}',
                '{"event_id": "d", "customer": "acme", "timestamp": "2024-11-03", "amount": 5, "kind": "\\ud83d\\ude00\\uffff"}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    _, rejected = assert_same(spark, plan, str(ledger))
    assert [(r["row"], r["reason"]) for r in rejected] == [
        (2, "customer: invalid text: a lone surrogate \\ud800"),
        (3, "kind: invalid text: a lone surrogate \\udfff"),
    ]


@pytest.mark.parametrize(
    "name, content",
    [
        ("ledger.csv", "event_id,customer,timestamp,amount,Amount\ne1,acme,2024-11-03,5,7\n"),
        ("ledger.csv", "event_id,customer,timestamp,amount\ne1,acme,2024-11-03,5\ne2,acme,2024-11-03\n"),
        ("ledger.csv", "event_id,customer,timestamp,amount\ne1,acme,2024-11-03,5\ne2,acme,2024-11-03,5,9\n"),
        ("ledger.csv", 'event_id,customer,timestamp,amount\ne1,acme,2024-11-03,5\ne2,"acme,2024-11-03,5\ne3,a,2024-11-03,5\n'),
        ("ledger.csv", "event_id;customer;timestamp;amount\ne1;acme;2024-11-03;5\n"),
        ("ledger.csv", ""),
        ("ledger.jsonl", '{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": ' + "[" * 5000 + "]" * 5000 + "}\n"),
    ],
)
def test_broken_and_ambiguous_files_are_refused_with_the_same_message(spark, tmp_path, name, content):
    plan = compile_plan(FILES_PLAN)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RateProblem) as duck:
        rate(plan, str(path))
    with pytest.raises(RateProblem) as ours:
        spark_engine.rate(plan, str(path), spark=spark)
    assert str(ours.value) == str(duck.value)
    assert re.search(r"ledger\.\w+(:\d+)?: ", str(duck.value)) and "cannot read ledger" not in str(duck.value)


@pytest.mark.parametrize(
    "name, content",
    [
        ("ledger.csv", b"event_id,customer,timestamp,amount\ne1,acme,2024-11-03,5\ne2,\xed\xa0\x80,2024-11-03,5\n"),
        ("ledger.csv", b"event_id,customer,timestamp,amount\ne1,acme,2024-11-03,5\ne2,caf\xe9,2024-11-03,5\n"),
        ("ledger.jsonl", b'{"event_id": "a", "customer": "acme", "timestamp": "2024-11-03", "amount": 5}\n{"event_id": "b\xff"}\n'),
    ],
)
def test_bytes_that_are_not_utf8_are_refused_with_their_line_alike(spark, tmp_path, name, content):
    """Spark's reading would put U+FFFD in their place and bill the row under another customer id."""
    plan = compile_plan(FILES_PLAN)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RateProblem) as duck:
        rate(plan, str(path))
    with pytest.raises(RateProblem) as ours:
        spark_engine.rate(plan, str(path), spark=spark)
    assert str(ours.value) == str(duck.value)
    assert re.search(rf"{name}:[23]: line [23] is not UTF-8 text", str(duck.value)), str(duck.value)


def test_a_sum_past_38_digits_is_a_problem_of_the_command_on_spark_too(spark, tmp_path):
    plan = compile_plan(FILES_PLAN)
    path = tmp_path / "ledger.csv"
    path.write_text(f"event_id,customer,timestamp,amount\ne1,acme,2024-11-03,{'9' * 28}\ne2,acme,2024-11-04,{'9' * 28}\n", encoding="utf-8")
    expected = "ledger.csv: a sum or product of the ledger's values has more than 38 digits and cannot be computed exactly"
    for options in ({}, {"customer": "acme"}):
        with pytest.raises(RateProblem, match=expected):
            rate(plan, str(path), **options)
        with pytest.raises(RateProblem, match=expected):
            spark_engine.rate(plan, str(path), spark=spark, **options)


def test_percentage_fees_past_a_parquet_columns_width_are_rated_alike(spark, tmp_path):
    """A DECIMAL(18,2) amount of 50,000,000 at 2.12345678% pays a fee with more integer digits than
    the column's width keeps; both engines widen it before comparing it with the fee limits."""
    import duckdb

    plan = compile_plan("""
        plan: large-fees
        currency: USD
        usage: {amount: money}
        metrics: {payments: {count: true}}
        charges:
          fees: {model: percentage, on: amount, rate: 2.12345678%, fixed_fee: 0.30, min_fee: 0.50, max_fee: 5_000_000}
    """)
    ledger = tmp_path / "ledger.parquet"
    rows = ", ".join(
        f"('e{i}', 'acme', TIMESTAMPTZ '2024-11-02 00:00:00+00', CAST('{a}' AS DECIMAL(18,2)))"
        for i, a in enumerate(["50000000", "300000000", "10", "1"])
    )
    duckdb.connect().execute(
        f"COPY (SELECT * FROM (VALUES {rows}) AS t(event_id, customer, \"timestamp\", amount)) TO '{ledger}' (FORMAT parquet)"
    )
    (document,), _ = assert_same(spark, plan, str(ledger), period="2024-11")
    assert json.loads(document)["total"] == "6061729.70"


def test_subscription_windows_trials_negotiated_prices_and_included_tax_alike(spark, tmp_path):
    """Customers switching plans mid-month (New York time, across the end of daylight saving time), cancelling,
    in a trial and with negotiated prices, on a plan whose tax is included in its prices."""
    plan = compile_plan(
        RANDOM_PLAN.replace("tax: {rate: 8.875%, rounding: half_even}", "tax: {rate: 8.875%, rounding: half_even, included: true}")
    )
    ledger = write_csv(tmp_path / "ledger.csv", random_rows(20241203, 1200))
    customers = {
        "acme": {"tier": "pro", "subscriptions": [{"plan": "spark-random", "from": "2024-10-12"}, {"plan": "other", "from": "2024-11-03"}]},
        "bolt": {"subscriptions": [{"plan": "other", "from": "2024-09-01"}, {"plan": "spark-random", "from": "2024-11-01"}]},
        "Zeta": {
            "subscriptions": [{"plan": "spark-random", "from": "2024-10-01"}, {"plan": None, "from": "2024-12-16"}],
            "trial_until": "2024-10-20",
        },
        "카페-하늘": {
            "overrides": {
                "spark-random": {
                    "charges.per_unit.tiers.1.unit_price": "0.05",
                    "discounts.vip": {"percent": "5%"},
                    "minimum": "40",
                }
            }
        },
        "listed-only": {"subscriptions": [{"plan": "spark-random", "from": "2024-11-20"}]},
    }
    documents, rejected = assert_same(spark, plan, ledger, customer_records=customers, period="2024-10-01..2024-12-31")
    periods = {(json.loads(d)["customer"], json.loads(d)["period"]["start"], json.loads(d)["period"]["end"]) for d in documents}
    assert ("acme", "2024-10-12", "2024-10-31") in periods and ("acme", "2024-11-01", "2024-11-02") in periods
    assert not any(c == "acme" and start >= "2024-11-03" for c, start, _ in periods)
    assert ("Zeta", "2024-12-01", "2024-12-15") in periods
    assert ("listed-only", "2024-11-20", "2024-11-30") in periods
    assert any('"overrides":["charges.per_unit.tiers.1.unit_price","discounts.vip","minimum"]' in d for d in documents)
    assert all('"included":true' in d for d in documents)
    # rows on days without a subscription are rejected alike; a day on the other plan is not one of them
    uncovered = {(m[1], m[2]) for r in rejected if (m := re.fullmatch(r"customer '(.+)' has no subscription on (\S+)", r["reason"]))}
    assert {c for c, _ in uncovered} == {"acme", "Zeta"}
    assert all(day < "2024-10-12" for c, day in uncovered if c == "acme")
    assert all(day >= "2024-12-16" for c, day in uncovered if c == "Zeta")
    _, estimated = assert_same(spark, plan, ledger, customer_records=customers, as_of="2024-12-20T12:00:00")
    late = {m[1] for r in estimated if (m := re.fullmatch(r"customer 'Zeta' has no subscription on (\S+)", r["reason"]))}
    assert late and max(late) <= "2024-12-20"


BREADTH_PLAN = """
    plan: spark-breadth
    currency: USD
    usage:
      region: {type: text, values: [eu, us, ap]}
      size: integer
      gpu: {type: bool, default: false}
      hours: number
      amount: {type: money, default: 0}
    metrics:
      hours: {sum: hours}
      paid: {count: true, where: amount > 0}
    charges:
      compute:
        model: per_unit
        on: hours
        group_by: [region, gpu]
        prices:
          - {match: {region: eu, gpu: true}, model: graduated, tiers: [{up_to: 10, unit_price: 2.5}, {block: 5, block_price: 7}]}
          - {match: {region: eu}, unit_price: 0.12, minimum: 1}
          - {match: {region: us}, unit_price: 0.10, maximum: 3}
      by_size:
        model: volume
        on: hours
        group_by: [size]
        tiers: [{below: 4, block: 2, block_price: 1}, {unit_price: 0.5}]
      card:
        model: percentage
        on: amount
        where: amount > 0
        group_by: [region]
        rate: 2.9%
        fixed_fee: 0.30
        min_fee: 0.50
        max_fee: 5
        free_events: 2
        free_amount: 20
        prices:
          - {match: {region: us}, rate: 1.5%, fixed_fee: 0.10, free_events: 1}
"""


def breadth_rows(seed: int, count: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for number in range(count):
        day = rng.randint(1, 60)
        moment = datetime.datetime(2024, 10, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=day, minutes=rng.randint(0, 1000))
        rows.append(
            {
                "event_id": f"e{number}",
                "customer": rng.choice(["acme", "bolt", "cafe"]),
                "timestamp": moment.isoformat(),
                "region": rng.choice(["eu", "us", "ap", "eu", "us"]),
                "size": str(rng.choice([1, 2, 8])),
                "gpu": rng.choice(["true", "false", ""]),
                "hours": str(rng.choice([0, 1, 2.5, 7, 13])),
                "amount": rng.choice(["", "0", "12.00", "250.00", "3.10"]),
            }
        )
    return rows


def test_groups_blocks_bounds_and_free_events_are_rated_alike(spark, tmp_path):
    plan = compile_plan(BREADTH_PLAN)
    ledger = tmp_path / "breadth.csv"
    with ledger.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(breadth_rows(0, 1)[0]))
        writer.writeheader()
        writer.writerows(breadth_rows(7, 120))
    documents, rejected = assert_same(spark, plan, str(ledger), period="2024-10-01..2024-11-30")
    assert any("compute[eu,true]" in d for d in documents) and any("by_size[8]" in d for d in documents)
    assert rejected and all(r["reason"].startswith("no price for region=ap") for r in rejected)


def test_a_free_amount_keeps_the_tenth_decimal_place(spark, tmp_path):
    # 0.005 past a free amount of 0.0000000001 pays on 0.0049999999: 0.00 at 100%, not the 0.01 that
    # dropping the tenth place (DECIMAL(38,10) arithmetic losing a digit) would round half up to
    plan = compile_plan("""
        plan: fees
        currency: USD
        usage:
          amount: number
        metrics:
          payments: {count: true}
        charges:
          fees: {model: percentage, on: amount, rate: 100%, free_amount: 0.0000000001}
    """)
    ledger = tmp_path / "fees.csv"
    ledger.write_text("event_id,customer,timestamp,amount\n1,c,2024-10-02T00:00:00Z,0.005\n2,d,2024-10-02T00:00:00Z,0.0050000001\n")
    documents, _ = assert_same(spark, plan, str(ledger), period="2024-10")
    assert [json.loads(d)["total"] for d in documents] == ["0.00", "0.01"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_documents_priced_in_sql_are_those_spark_rates(spark, tmp_path, data):
    """The documents DuckDB prices in SQL (`rate --format jsonl`) against Spark's, which its executors
    build with the interpreter: drawn plans of every model with an SQL form, conditions, multipliers,
    discounts, minimum, notices, conditional and included taxes (tests/test_sql_pricing.py)."""
    text, customers = data.draw(sql_pricing.sql_plans())
    plan = compile_plan(text)
    ledger = sql_pricing.write_ledger(tmp_path, data.draw(sql_pricing.sql_ledgers()))
    period = data.draw(st.sampled_from(["2024-10", "2024-Q4"]))
    records = sql_pricing.CUSTOMERS if customers else {}
    priced = rate(plan, ledger, period=period, lines=True, customer_records=records)
    on_spark = spark_engine.rate(plan, ledger, spark=spark, period=period, customer_records=records)
    assert on_spark.documents == priced.documents, text
    assert rejected_data(on_spark.rejected) == rejected_data(priced.rejected)
