"""Plan versions (dsl/loader.py, interpreter/engines/core.py): `effective:` dates, several
versions in one file or one folder, each period rated under the version in force
on its first day; version mistakes are located errors.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dsl.loader import in_force, load_paths, load_plan
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import rate
from plan_helpers import load_text


def version(effective: str | None, price: str, *, currency: str = "KRW", plan: str = "metered") -> str:
    """One version of a small metered plan (7 or 8 lines), priced per unit."""
    return "".join(
        [
            f"plan: {plan}\n",
            f"currency: {currency}\n",
            "timezone: Asia/Seoul\n",
            f"effective: {effective}\n" if effective else "",
            "usage: {units: integer}\n",
            "metrics:\n",
            "  units: {sum: units}\n",
            "charges:\n",
            f"  usage: {{model: per_unit, on: units, unit_price: {price}}}\n",
        ]
    )


TWO = version("2024-01-01", "10") + "---\n" + version("2024-02-15", "12")

LEDGER = textwrap.dedent("""\
    event_id,customer,timestamp,units
    1,acme,2024-01-20T10:00:00,5
    2,acme,2024-02-20T10:00:00,5
    3,acme,2024-03-05T10:00:00,5
    4,bolt,2024-03-06T10:00:00,100
""")


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "usage.csv"
    path.write_text(LEDGER, encoding="utf-8")
    return path


def totals(result) -> list[tuple[str, str, str]]:
    assert result.exit_code == 0, result.output
    return [(d["customer"], d["period"]["start"], d["total"]) for d in json.loads(result.stdout)["documents"]]


# --- rating under the version in force ----------------------------------------------------------


def test_one_file_two_versions_each_period_under_its_own(ratecard, tmp_path, ledger):
    plan = tmp_path / "metered.yaml"
    plan.write_text(TWO, encoding="utf-8")
    # The second version takes effect mid-February: February is still under the first
    # (in force on its first day), March under the second.
    assert totals(ratecard("rate", plan, "--usage", ledger, "--format", "json")) == [
        ("acme", "2024-01-01", "50"),
        ("acme", "2024-02-01", "50"),
        ("acme", "2024-03-01", "60"),
        ("bolt", "2024-03-01", "1200"),
    ]
    assert totals(ratecard("rate", plan, "--usage", ledger, "--period", "2024-01", "--format", "json")) == [("acme", "2024-01-01", "50")]
    assert totals(ratecard("rate", plan, "--usage", ledger, "--period", "2024-03", "--format", "json")) == [
        ("acme", "2024-03-01", "60"),
        ("bolt", "2024-03-01", "1200"),
    ]


def test_versions_in_any_order_in_the_file(tmp_path, ledger):
    plan = tmp_path / "metered.yaml"
    plan.write_text(version("2024-02-15", "12") + "---\n" + version("2024-01-01", "10"), encoding="utf-8")
    loaded = load_plan(plan)
    assert [str(v.effective) for v in loaded.versions] == ["2024-01-01", "2024-02-15"]
    assert loaded.plan is loaded.versions[-1]  # the latest is "the plan"
    assert [d.total for d in rate(loaded.versions, str(ledger)).documents] == [50, 50, 60, 1200]


def test_a_folder_of_versions(ratecard, tmp_path, ledger):
    folder = tmp_path / "metered"
    folder.mkdir()
    (folder / "2024-01.yaml").write_text(version("2024-01-01", "10"), encoding="utf-8")
    (folder / "2024-03.yaml").write_text(version("2024-03-01", "15"), encoding="utf-8")
    (folder / "notes.txt").write_text("not a plan", encoding="utf-8")
    assert totals(ratecard("rate", folder, "--usage", ledger, "--format", "json")) == [
        ("acme", "2024-01-01", "50"),
        ("acme", "2024-02-01", "50"),
        ("acme", "2024-03-01", "75"),
        ("bolt", "2024-03-01", "1500"),
    ]
    result = ratecard("check", folder)
    assert result.exit_code == 0, result.output


def test_in_force_picks_the_latest_that_took_effect():
    import datetime

    loaded = load_text(TWO)
    day = datetime.date.fromisoformat
    assert in_force(loaded.versions, day("2023-12-31")) is None
    assert in_force(loaded.versions, day("2024-01-01")).effective == day("2024-01-01")
    assert in_force(loaded.versions, day("2024-02-14")).effective == day("2024-01-01")
    assert in_force(loaded.versions, day("2024-02-15")).effective == day("2024-02-15")
    assert in_force(loaded.versions, day("2030-01-01")).effective == day("2024-02-15")


def test_a_single_dated_version_still_starts_somewhere(ratecard, tmp_path, ledger):
    plan = tmp_path / "late.yaml"
    plan.write_text(version("2024-03-01", "10"), encoding="utf-8")
    assert totals(ratecard("rate", plan, "--usage", ledger, "--period", "2024-03", "--format", "json"))[0] == ("acme", "2024-03-01", "50")
    early = ratecard("rate", plan, "--usage", ledger, "--period", "2024-01")
    assert early.exit_code == 2
    assert "no version of plan 'metered' is in force on 2024-01-01 (the first takes effect on 2024-03-01)" in early.output


def test_a_period_before_the_first_version_is_a_usage_error(ratecard, tmp_path, ledger):
    plan = tmp_path / "metered.yaml"
    plan.write_text(TWO, encoding="utf-8")
    result = ratecard("rate", plan, "--usage", ledger, "--period", "2023-12")
    assert result.exit_code == 2
    assert "no version of plan 'metered' is in force on 2023-12-01 (the first takes effect on 2024-01-01)" in result.output
    with pytest.raises(RateProblem, match="in force on 2023-12-01"):
        rate(load_plan(plan).versions, str(ledger), period="2023-12")


def test_ledger_rows_before_the_first_version_are_a_usage_error_too(ratecard, tmp_path):
    plan = tmp_path / "metered.yaml"
    plan.write_text(TWO, encoding="utf-8")
    early = tmp_path / "early.csv"
    early.write_text(LEDGER + "5,acme,2023-12-31T23:00:00+09:00,1\n", encoding="utf-8")
    result = ratecard("rate", plan, "--usage", early)
    assert result.exit_code == 2
    assert "in force on 2023-12-01" in result.output


# --- version mistakes are located errors ------------------------------------------------------


def located(text: str) -> list[tuple[int, int, str]]:
    loaded = load_text(text)
    assert loaded.plan is None
    return [(d.span.line, d.span.column, d.message) for d in loaded.diagnostics if d.severity == "error"]


def second_line(text: str) -> int:
    """The line of the second document's `plan:` key."""
    return text.splitlines().index("---") + 2


def test_missing_effective_on_any_version():
    text = version("2024-01-01", "10") + "---\n" + version(None, "12")
    assert located(text) == [(second_line(text), 7, "plan 'metered' has several versions: each needs `effective: YYYY-MM-DD`")]
    both = version(None, "10") + "---\n" + version(None, "12")
    assert [line for line, _, _ in located(both)] == [1, second_line(both)]


def test_two_versions_on_the_same_date():
    text = version("2024-01-01", "10") + "---\n" + version("2024-01-01", "12")
    assert located(text) == [(second_line(text), 7, "two versions take effect on 2024-01-01")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"currency": "USD"}, "every version must keep the same currency ('KRW'), not 'USD'"),
        ({"plan": "renamed"}, "every version must keep the same id ('metered'), not 'renamed'"),
    ],
)
def test_a_version_that_changes_what_the_plan_is(change, message):
    text = version("2024-01-01", "10") + "---\n" + version("2024-03-01", "12", **change)
    assert located(text) == [(second_line(text), 7, message)]


def test_a_version_that_changes_the_period_or_time_zone():
    second = version("2024-03-01", "12").replace("timezone: Asia/Seoul", "timezone: UTC\nperiod: quarter")
    text = version("2024-01-01", "10") + "---\n" + second
    assert [m for _, _, m in located(text)] == [
        "every version must keep the same period ('month'), not 'quarter'",
        "every version must keep the same timezone ('Asia/Seoul'), not 'UTC'",
    ]


def test_errors_inside_a_version_point_into_that_document():
    text = version("2024-01-01", "10") + "---\n" + version("2024-03-01", "12").replace("on: units", "on: unit")
    (problem,) = located(text)
    assert problem[:2] == (second_line(text) + 8, 32)  # `on: unit` in the second version
    assert "unknown name 'unit'" in problem[2]


def test_check_reports_version_errors_with_file_and_line(ratecard, tmp_path):
    plan = tmp_path / "metered.yaml"
    text = version("2024-01-01", "10") + "---\n" + version("2024-01-01", "12", currency="USD")
    plan.write_text(text, encoding="utf-8")
    result = ratecard("check", plan)
    assert result.exit_code == 1
    line = second_line(text)
    assert f"{plan}:{line}:7: error: every version must keep the same currency ('KRW'), not 'USD'" in result.output
    assert f"{plan}:{line}:7: error: two versions take effect on 2024-01-01" in result.output


def test_folder_version_errors_name_each_file(tmp_path):
    folder = tmp_path / "metered"
    folder.mkdir()
    (folder / "a.yaml").write_text(version(None, "10"), encoding="utf-8")
    (folder / "b.yaml").write_text(version("2024-03-01", "12", currency="USD"), encoding="utf-8")
    loaded = load_plan(folder)
    assert loaded.plan is None
    assert [(Path(d.span.file).name, d.span.line, d.message) for d in loaded.diagnostics] == [
        ("a.yaml", 1, "plan 'metered' has several versions: each needs `effective: YYYY-MM-DD`"),
        ("b.yaml", 1, "every version must keep the same currency ('KRW'), not 'USD'"),
    ]


def test_check_on_a_folder_checks_its_versions_together(ratecard, tmp_path):
    """`check` sees the same problems `rate` would hit: the folder's files are one plan."""
    folder = tmp_path / "metered"
    folder.mkdir()
    (folder / "a.yaml").write_text(version("2024-01-01", "10"), encoding="utf-8")
    (folder / "b.yaml").write_text(version("2024-01-01", "12"), encoding="utf-8")
    result = ratecard("check", folder)
    assert result.exit_code == 1
    assert f"{folder / 'b.yaml'}:1:7: error: two versions take effect on 2024-01-01" in result.output
    loaded, _ = load_paths([str(tmp_path)])  # also when found inside a folder of plans
    assert [(Path(item.path).name, item.plan) for item in loaded] == [("metered", None)]


def test_plans_of_different_ids_in_one_folder_stay_separate(tmp_path):
    (tmp_path / "a.yaml").write_text(version(None, "10", plan="alpha"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(version(None, "12", plan="beta"), encoding="utf-8")
    loaded, problems = load_paths([str(tmp_path)])
    assert problems == []
    assert [item.plan.id for item in loaded] == ["alpha", "beta"]


def test_a_rule_added_by_a_later_version_does_not_reach_back(tmp_path):
    """January is rated under the first version, which has no rule: its row counts there and
    is not rejected; only March's row breaks the rule of the version in force in March."""
    first = version("2024-01-01", "10")
    later = version("2024-03-01", "12").replace("metrics:", "require:\n  - {rule: units <= 100, message: too many units}\nmetrics:")
    plan = tmp_path / "metered.yaml"
    plan.write_text(first + "---\n" + later, encoding="utf-8")
    usage = tmp_path / "usage.csv"
    usage.write_text(
        "event_id,customer,timestamp,units\n1,acme,2024-01-15T10:00:00,500\n2,acme,2024-03-15T10:00:00,5\n3,acme,2024-03-16T10:00:00,500\n",
        encoding="utf-8",
    )
    result = rate(load_plan(plan).versions, str(usage))
    assert [(str(d.period_start), d.total) for d in result.documents] == [("2024-01-01", 5000), ("2024-03-01", 60)]
    assert [r.row for r in result.rejected] == [3]
