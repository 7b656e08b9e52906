"""The core install (no Spark extra) must rate every kind of plan.

DuckDB hands TIMESTAMPTZ values to Python only through pytz, which comes
with the Spark extra (via pandas) but not with ratecard itself; CI installs
that extra, so this test hides pytz to keep the core path honest.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WITHOUT_PYTZ = "import sys; sys.modules['pytz'] = None; import cli; cli.main()"


@pytest.mark.parametrize("scenario", [
    "plans/steppay_seats/scenarios/quota_rejections.yaml",            # quota: the sequential pass
    "plans/steppay_seats_prepaid/scenarios/quota_changes.yaml",        # opening / prorated levels
    "plans/portone_one_payment_infra/scenarios/annual_eligible.yaml",  # previous-period metrics
])
def test_scenarios_rate_without_pytz(scenario):
    done = subprocess.run([sys.executable, "-c", WITHOUT_PYTZ, "test", scenario],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 ok, 0 failing" in done.stdout
