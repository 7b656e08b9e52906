"""`ratecard init`: each starter plan checks clean and its scenario's hand-written totals hold."""

from __future__ import annotations

import pytest

from interpreter.review.scenarios import run
from interpreter.starters.init_plan import examples


def test_the_examples():
    assert examples() == ["api_usage", "brackets", "seats"]


@pytest.mark.parametrize("example", examples())
def test_a_starter_checks_clean_and_its_scenario_holds(ratecard, example, tmp_path):
    folder = tmp_path / "plans"
    result = ratecard("init", "--example", example, "--dir", folder)
    assert result.exit_code == 0, result.output
    plan, scenario = folder / f"{example}.yaml", folder / example / "scenarios" / "first_month.yaml"
    assert f"wrote {plan}" in result.output and f"wrote {scenario}" in result.output
    checked = ratecard("check", plan)
    assert checked.exit_code == 0 and "0 error(s), 0 warning(s)" in checked.output, checked.output
    outcome = run(scenario)
    assert outcome.failures == ()
    assert outcome.data["documents"] and outcome.data["rejected"] == []
    assert ratecard("test", folder, "--update").exit_code == 0
    assert ratecard("test", folder).output.endswith("scenarios: 1 ok, 0 failing\n")


def test_init_never_overwrites(ratecard, tmp_path):
    folder = tmp_path / "plans"
    assert ratecard("init", "--dir", folder).exit_code == 0
    plan = folder / "api_usage.yaml"
    plan.write_text("plan: mine\n", encoding="utf-8")
    (folder / "api_usage" / "scenarios" / "first_month.yaml").unlink()
    result = ratecard("init", "--dir", folder)
    assert result.exit_code == 2
    assert "already exists; nothing was written" in result.output
    assert plan.read_text(encoding="utf-8") == "plan: mine\n"
    assert not (folder / "api_usage" / "scenarios" / "first_month.yaml").exists()


def test_unknown_example(ratecard, tmp_path):
    result = ratecard("init", "--example", "nope", "--dir", tmp_path)
    assert result.exit_code == 2 and "choose one of api_usage, brackets, seats" in result.output
    assert list(tmp_path.iterdir()) == []
