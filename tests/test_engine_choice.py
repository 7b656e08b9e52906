"""`ratecard rate --engine`: choosing Spark without it installed, --output only with Spark, and no Spark import otherwise."""

from __future__ import annotations

import subprocess
import sys

from plan_helpers import PLANS, PORTONE

LEDGER = PLANS / "onehour_business_partner" / "scenarios" / "academy_month_2024_11.csv"
ONEHOUR = PLANS / "onehour_business_partner.yaml"


def test_spark_without_pyspark_is_a_usage_error_that_says_what_to_install(ratecard, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    result = ratecard("rate", str(ONEHOUR), "--usage", str(LEDGER), "--engine", "spark", "--format", "json")
    assert result.exit_code == 2
    assert "pip install 'ratecard[spark]'" in result.output


def test_output_is_only_for_spark(ratecard):
    result = ratecard("rate", str(ONEHOUR), "--usage", str(LEDGER), "--output", "out")
    assert result.exit_code == 2 and "--output is for --engine spark" in result.output


def test_an_unknown_engine_is_refused(ratecard):
    result = ratecard("rate", str(ONEHOUR), "--usage", str(LEDGER), "--engine", "flink")
    assert result.exit_code == 2 and "flink" in result.output


def test_check_eval_and_duckdb_rating_never_import_spark():
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import cli\n"
        f"runner = CliRunner()\n"
        f"assert runner.invoke(cli.main, ['check', {str(PORTONE)!r}]).exit_code == 0\n"
        f"assert runner.invoke(cli.main, ['eval', {str(PORTONE)!r}, 'annual_refund', '--set', 'monthly_fee=100000',"
        " '--set', 'discount=10%', '--set', 'months_used=3']).exit_code == 0\n"
        f"assert runner.invoke(cli.main, ['rate', {str(ONEHOUR)!r}, '--usage', {str(LEDGER)!r}, '--format', 'json']).exit_code == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'sqlglot', 'pyarrow', 'pandas'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=PLANS.parent)
