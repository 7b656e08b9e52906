"""`ratecard test`: plan scenarios against stored snapshots, without writing Python.

Each test lays out a repository of plan files alone in a temporary folder,
the way a product team would keep one:

    plans/portone_one_payment_infra.yaml
    plans/portone_one_payment_infra/scenarios/x.yaml
    tests/__snapshots__/test_scenarios/test_scenario[portone_one_payment_infra-x].json

and runs the command there. The snapshots it writes must be the very files
the project's syrupy suite (tests/test_scenarios.py) stores, byte for byte.
"""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from interpreter.review import snapshots
from interpreter.review.scenarios import run as run_scenario
from plan_helpers import PLANS, PORTONE, ROOT

STORED = ROOT / "tests" / "__snapshots__" / "test_scenarios"
NAME = "portone_one_payment_infra"

SCENARIO = textwrap.dedent("""\
    description: one merchant in the 100M-500M bracket, one in the free bracket
    period: 2024-11
    usage:
      - {event_id: m1, customer: mid, timestamp: "2024-11-03T10:00:00+09:00", kind: approval, amount: 120_000_000}
      - {event_id: s1, customer: small, timestamp: "2024-11-04T10:00:00+09:00", kind: approval, amount: 1_000_000}
    expect:
      small: {total: 0, lines: {platform_fee: 0}}
      rejected: 0
""")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository of plan files only: the PortOne plan and one scenario, no snapshots yet."""
    plans = tmp_path / "plans"
    (plans / NAME / "scenarios").mkdir(parents=True)
    shutil.copy(PORTONE, plans / f"{NAME}.yaml")
    (plans / NAME / "scenarios" / "x.yaml").write_text(SCENARIO, encoding="utf-8")
    return tmp_path


def snapshot_of(repo: Path, scenario: str = "x") -> Path:
    return repo / "tests" / "__snapshots__" / "test_scenarios" / f"test_scenario[{NAME}-{scenario}].json"


def set_bracket(repo: Path, old: str, new: str) -> None:
    plan = repo / "plans" / f"{NAME}.yaml"
    text = plan.read_text(encoding="utf-8")
    assert text.count(old) == 1
    plan.write_text(text.replace(old, new), encoding="utf-8")


# --- the review loop ----------------------------------------------------------------------


def test_new_scenario_fails_until_update(ratecard, repo):
    first = ratecard("test", repo / "plans")
    assert first.exit_code == 1
    assert f"FAIL {NAME}-x" in first.output
    assert "no snapshot yet" in first.output and "run with --update" in first.output
    assert "scenarios: 0 ok, 1 failing" in first.output
    assert not snapshot_of(repo).exists()  # failing never writes

    update = ratecard("test", repo / "plans", "--update")
    assert update.exit_code == 0, update.output
    assert f"UPDATED {NAME}-x (new snapshot written)" in update.output
    assert "1 snapshot(s) updated" in update.output
    assert snapshot_of(repo).is_file()

    again = ratecard("test", repo / "plans")
    assert again.exit_code == 0, again.output
    assert f"ok   {NAME}-x" in again.output
    assert "scenarios: 1 ok, 0 failing" in again.output


def test_changed_price_fails_with_a_readable_diff_until_accepted(ratecard, repo):
    assert ratecard("test", repo / "plans", "--update").exit_code == 0
    accepted = snapshot_of(repo).read_bytes()
    set_bracket(repo, "{below: 500_000_000, flat: 300_000}", "{below: 500_000_000, flat: 350_000}")

    failing = ratecard("test", repo / "plans")
    assert failing.exit_code == 1
    assert f"FAIL {NAME}-x" in failing.output
    assert "documents differ from the snapshot:" in failing.output
    out = failing.output
    # a unified diff, stored snapshot first, of exactly what moved: the fee, VAT, subtotal, total
    assert "(stored)" in out and "(now)" in out
    for removed, added in (
        ('"amount": "300000"', '"amount": "350000"'),
        ('"amount": "30000"', '"amount": "35000"'),
        ('"subtotal": "300000"', '"subtotal": "350000"'),
        ('"total": "330000"', '"total": "385000"'),
    ):
        assert any(line.lstrip().startswith("-") and removed in line for line in out.splitlines()), removed
        assert any(line.lstrip().startswith("+") and added in line for line in out.splitlines()), added
    assert '"customer": "small"' not in "".join(line for line in out.splitlines() if line.lstrip()[:1] in "+-")
    assert snapshot_of(repo).read_bytes() == accepted  # a failing run leaves the snapshot alone

    update = ratecard("test", repo / "plans", "--update")
    assert update.exit_code == 0, update.output
    assert f"UPDATED {NAME}-x (changed snapshot written)" in update.output
    assert '"total": "385000"' in snapshot_of(repo).read_text(encoding="utf-8")
    assert ratecard("test", repo / "plans").exit_code == 0


def test_hand_written_expectation_cannot_be_fixed_by_update(ratecard, repo):
    scenario = repo / "plans" / NAME / "scenarios" / "x.yaml"
    scenario.write_text(
        SCENARIO.replace("rejected: 0", "mid: {total: 330000, lines: {platform_fee: 300000}}\n  rejected: 0"), encoding="utf-8"
    )
    assert ratecard("test", repo / "plans", "--update").exit_code == 0
    set_bracket(repo, "{below: 500_000_000, flat: 300_000}", "{below: 500_000_000, flat: 350_000}")

    for args in (("--update",), (), ("--update",)):
        result = ratecard("test", repo / "plans", *args)
        assert result.exit_code == 1, args
        assert f"FAIL {NAME}-x" in result.output
        assert "mid: total expected 330000, got 385000" in result.output
        assert "mid: line platform_fee expected 300000, got 350000" in result.output


def test_update_does_not_write_a_snapshot_whose_expectations_fail(ratecard, repo):
    scenario = repo / "plans" / NAME / "scenarios" / "x.yaml"
    scenario.write_text(SCENARIO.replace("rejected: 0", "mid: {total: 330000}\n  rejected: 0"), encoding="utf-8")
    assert ratecard("test", repo / "plans", "--update").exit_code == 0
    accepted = snapshot_of(repo).read_bytes()
    set_bracket(repo, "{below: 500_000_000, flat: 300_000}", "{below: 500_000_000, flat: 350_000}")
    assert ratecard("test", repo / "plans", "--update").exit_code == 1
    assert snapshot_of(repo).read_bytes() == accepted  # the wrong documents were not accepted


def test_unchanged_scenarios_print_ok_and_update_writes_nothing(ratecard, repo):
    assert ratecard("test", repo / "plans", "--update").exit_code == 0
    before = snapshot_of(repo).stat().st_mtime_ns
    result = ratecard("test", repo / "plans", "--update")
    assert result.exit_code == 0
    assert "UPDATED" not in result.output and f"ok   {NAME}-x" in result.output
    assert snapshot_of(repo).stat().st_mtime_ns == before


def test_a_plan_folder_or_one_scenario_file_uses_the_same_snapshots(ratecard, repo, monkeypatch):
    assert ratecard("test", repo / "plans", "--update").exit_code == 0
    for path in (repo / "plans" / NAME, repo / "plans" / NAME / "scenarios" / "x.yaml"):
        result = ratecard("test", path)
        assert result.exit_code == 0, (path, result.output)
        assert f"ok   {NAME}-x" in result.output
    monkeypatch.chdir(repo)  # the default PATH is plans/
    assert "scenarios: 1 ok, 0 failing" in ratecard("test").output


def test_snapshots_option_names_another_folder(ratecard, repo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    assert ratecard("test", repo / "plans", "--update", "--snapshots", elsewhere).exit_code == 0
    assert (elsewhere / f"test_scenario[{NAME}-x].json").is_file()
    assert not snapshot_of(repo).exists()
    assert ratecard("test", repo / "plans", "--snapshots", elsewhere).exit_code == 0


def test_broken_scenario_is_reported_and_the_others_still_run(ratecard, repo):
    assert ratecard("test", repo / "plans", "--update").exit_code == 0
    (repo / "plans" / NAME / "scenarios" / "broken.yaml").write_text("period: 2024-11\nusage: [\n", encoding="utf-8")
    result = ratecard("test", repo / "plans")
    assert result.exit_code == 1
    assert f"ERROR {NAME}-broken: " in result.output and "broken.yaml:" in result.output
    assert f"ok   {NAME}-x" in result.output
    assert "scenarios: 1 ok, 1 failing" in result.output


def test_no_scenarios_or_no_such_path_is_a_usage_error(ratecard, tmp_path):
    missing = ratecard("test", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    (tmp_path / "plans").mkdir()
    empty = ratecard("test", tmp_path / "plans")
    assert empty.exit_code == 2 and "no scenarios found" in empty.output


# --- one source of truth with the syrupy suite ---------------------------------------------

SHIPPED = [
    ("portone_one_payment_infra", "rejected_rows"),  # rejected rows with reasons
    ("portone_one_payment_infra", "sample_month"),  # usage_file beside the plan folder
    ("portone_one_payment_infra", "annual_refund"),  # a formula scenario
    ("onehour_business_partner", "academy_month"),  # a settlement
]


@pytest.mark.parametrize(("plan", "scenario"), SHIPPED, ids=[f"{p}-{s}" for p, s in SHIPPED])
def test_update_writes_the_bytes_syrupy_stores(ratecard, tmp_path, plan, scenario):
    """Copy a shipped plan folder into a fresh layout, accept its snapshots with `ratecard test
    --update`, and compare with the file the pytest suite keeps for the same scenario."""
    stored = STORED / f"test_scenario[{plan}-{scenario}].json"
    assert stored.is_file()
    plans = tmp_path / "plans"
    plans.mkdir()
    shutil.copy(PLANS / f"{plan}.yaml", plans / f"{plan}.yaml")
    shutil.copytree(PLANS / plan, plans / plan, ignore=shutil.ignore_patterns("*.yaml"))  # ledgers beside
    shutil.copy(PLANS / plan / "scenarios" / f"{scenario}.yaml", plans / plan / "scenarios" / f"{scenario}.yaml")
    result = ratecard("test", plans, "--update")
    assert result.exit_code == 0, result.output
    written = tmp_path / "tests" / "__snapshots__" / "test_scenarios" / stored.name
    assert written.read_bytes() == stored.read_bytes()


def test_shipped_snapshots_pass_under_ratecard_test(ratecard):
    """`ratecard test` reads the suite's own snapshot folder: every PortOne scenario is ok."""
    result = ratecard("test", PLANS / NAME)
    assert result.exit_code == 0, result.output
    count = len(list((PLANS / NAME / "scenarios").glob("*.yaml")))
    assert f"scenarios: {count} ok, 0 failing" in result.output


def test_serialization_is_syrupys_own():
    """The same text as syrupy's JSON extension, including text outside ASCII and every kind of value."""
    data = run_scenario(PLANS / NAME / "scenarios" / "rejected_rows.yaml").data
    extension = JSONSnapshotExtension()
    assert snapshots.serialize(data) == extension.serialize(data)
    odd = {"b": [{"z": None, "a": True}, 7], "a": "플랫폼 수수료 — “quoted” \\ \n tab\t", "é": {}}
    assert snapshots.serialize(odd) == extension.serialize(odd)


def test_snapshot_names_match_the_suites_test_ids():
    path = PLANS / NAME / "scenarios" / "sample_month.yaml"
    assert snapshots.snapshot_file(STORED, path) == STORED / "test_scenario[portone_one_payment_infra-sample_month].json"
    assert snapshots.default_dir(PLANS / NAME / "scenarios" / "sample_month.yaml") == STORED
    assert snapshots.default_dir(PLANS) == STORED


# --- a misspelled expectation is an error, never a check switched off -----------------------


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("expect:", "expected:", "x.yaml:6:1", "unknown key 'expected' in the scenario; did you mean 'expect'?"),
        ("small: {total: 0,", "small: {totl: 0,", "x.yaml:7:11", "unknown key 'totl' in expect.small; did you mean 'total'?"),
    ],
)
def test_a_misspelled_expectation_fails_and_update_writes_nothing(ratecard, repo, old, new, where, message):
    scenario = repo / "plans" / NAME / "scenarios" / "x.yaml"
    scenario.write_text(SCENARIO.replace(old, new), encoding="utf-8")
    for args in (("--update",), ()):
        result = ratecard("test", repo / "plans", *args)
        assert result.exit_code == 1, result.output
        assert f"ERROR {NAME}-x: " in result.output
        assert f"{where}: error: {message}" in result.output
        assert "scenarios: 0 ok, 1 failing" in result.output
        assert not snapshot_of(repo).exists()


# --- snapshots are regular files in a real folder; scenarios read their own folder only -------


def accepted(ratecard, repo: Path) -> Path:
    assert ratecard("test", repo / "plans", "--update").exit_code == 0
    return snapshot_of(repo)


def test_a_symlinked_snapshot_is_neither_read_nor_written_through(ratecard, repo, tmp_path):
    snapshot = accepted(ratecard, repo)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("a private file\n", encoding="utf-8")
    snapshot.unlink()
    snapshot.symlink_to(elsewhere)
    for args in ((), ("--update",)):
        result = ratecard("test", repo / "plans", *args)
        assert result.exit_code == 1, result.output
        assert f"ERROR {NAME}-x: {snapshot}: the snapshot is a symbolic link" in result.output
        assert "a private file" not in result.output  # its target is not read into a diff
        assert elsewhere.read_text(encoding="utf-8") == "a private file\n"
        assert snapshot.is_symlink()


def test_a_dangling_symlink_is_not_followed_to_create_its_target(ratecard, repo, tmp_path):
    snapshot = snapshot_of(repo)
    snapshot.parent.mkdir(parents=True)
    target = tmp_path / "created_elsewhere.json"
    snapshot.symlink_to(target)
    result = ratecard("test", repo / "plans", "--update")
    assert result.exit_code == 1, result.output
    assert "the snapshot is a symbolic link" in result.output
    assert not target.exists()


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_folder_or_fifo_where_a_snapshot_should_be(ratecard, repo, kind):
    snapshot = accepted(ratecard, repo)
    snapshot.unlink()
    if kind == "folder":
        snapshot.mkdir()
    else:
        os.mkfifo(snapshot)  # reading it must not wait for a writer
    for args in ((), ("--update",)):
        result = ratecard("test", repo / "plans", *args)
        assert result.exit_code == 1, result.output
        assert f"ERROR {NAME}-x: {snapshot}: " in result.output
        assert ("is a folder where a snapshot file should be" if kind == "folder" else "is not a regular file") in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert snapshot.is_dir() if kind == "folder" else stat.S_ISFIFO(snapshot.lstat().st_mode)


def test_a_snapshot_that_is_not_utf8(ratecard, repo):
    snapshot = accepted(ratecard, repo)
    snapshot.write_bytes(b'{\n  "documents": "caf\xe9"\n}\n')
    for args in ((), ("--update",)):
        result = ratecard("test", repo / "plans", *args)
        assert result.exit_code == 1, result.output
        assert f"ERROR {NAME}-x: {snapshot}:2:20: error: the file is not UTF-8 text (byte 0xe9)" in result.output
        assert "delete it and run ratecard test --update" in result.output
    assert snapshot.read_bytes() == b'{\n  "documents": "caf\xe9"\n}\n'  # --update does not overwrite what it cannot show


@pytest.mark.parametrize("linked", ["tests", "tests/__snapshots__", "tests/__snapshots__/test_scenarios"])
def test_a_snapshot_folder_under_a_symbolic_link_is_refused(ratecard, repo, tmp_path, linked):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = repo / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    result = ratecard("test", repo / "plans", "--update")
    assert result.exit_code == 2, result.output
    assert f"{link}: the snapshot folder is under a symbolic link" in result.output
    assert list(elsewhere.rglob("*")) == []


def test_a_snapshots_option_naming_a_symbolic_link_or_a_file_is_refused(ratecard, repo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere, target_is_directory=True)
    linked = ratecard("test", repo / "plans", "--update", "--snapshots", tmp_path / "link")
    assert linked.exit_code == 2 and "the snapshot folder is under a symbolic link" in linked.output
    assert list(elsewhere.iterdir()) == []
    (tmp_path / "file").write_text("", encoding="utf-8")
    a_file = ratecard("test", repo / "plans", "--update", "--snapshots", tmp_path / "file")
    assert a_file.exit_code == 2 and "is not a folder" in a_file.output


@pytest.mark.parametrize(
    ("usage_file", "message"),
    [
        ("../../../outside.csv", "is outside"),
        ("/etc/hostname", "is outside"),
        ("linked.csv", "is outside"),  # a symbolic link inside the folder, pointing out of it
        ("..", "is not a file"),
        ("missing.csv", "is not a file"),
    ],
)
def test_a_usage_file_outside_the_plan_folder_is_refused(ratecard, repo, usage_file, message):
    outside = repo / "outside.csv"
    outside.write_text("event_id,customer,timestamp,kind,amount\ne1,acme,2024-11-03T10:00:00+09:00,approval,1\n", encoding="utf-8")
    scenarios = repo / "plans" / NAME / "scenarios"
    (scenarios / "linked.csv").symlink_to(outside)
    (scenarios / "x.yaml").write_text(f"period: 2024-11\nusage_file: {usage_file!r}\n", encoding="utf-8")
    result = ratecard("test", repo / "plans", "--update")
    assert result.exit_code == 1, result.output
    assert f"x.yaml:2:13: error: usage_file {usage_file!r} {message}" in result.output
    assert not snapshot_of(repo).exists()


def test_a_usage_file_inside_the_plan_folder_through_a_symlink_is_read(ratecard, repo):
    plan_folder = repo / "plans" / NAME
    shutil.copy(PLANS / NAME / "ledger_2024_11.csv", plan_folder / "ledger.csv")
    (plan_folder / "scenarios" / "linked.csv").symlink_to(plan_folder / "ledger.csv")
    (plan_folder / "scenarios" / "x.yaml").write_text(
        "period: 2024-11\nusage_file: linked.csv\nexpect: {megamart: {total: 330000}}\n", encoding="utf-8"
    )
    result = ratecard("test", repo / "plans", "--update")
    assert result.exit_code == 0, result.output


def test_a_plan_named_outside_the_plans_folder_is_refused(ratecard, repo, tmp_path):
    shutil.copy(PORTONE, tmp_path / "elsewhere.yaml")
    (repo / "plans" / NAME / "scenarios" / "x.yaml").write_text(
        "plan: ../../../../elsewhere.yaml\nperiod: 2024-11\nusage: []\n", encoding="utf-8"
    )
    result = ratecard("test", repo / "plans", "--update")
    assert result.exit_code == 1, result.output
    assert "x.yaml:1:7: error: plan '../../../../elsewhere.yaml' is outside" in result.output


@pytest.mark.parametrize("kind", ["not_utf8", "folder"])
def test_a_scenario_that_is_not_utf8_or_a_folder(ratecard, repo, kind):
    broken = repo / "plans" / NAME / "scenarios" / "broken.yaml"
    if kind == "folder":
        broken.mkdir()
    else:
        broken.write_bytes(b"period: 2024-11\ndescription: caf\xe9\nusage: []\n")
    result = ratecard("test", repo / "plans")
    assert result.exit_code == 1, result.output
    expected = (
        "broken.yaml:2:17: error: the file is not UTF-8 text (byte 0xe9)"
        if kind == "not_utf8"
        else "broken.yaml:1:1: error: a scenario is a file; this is not one"
    )
    assert f"ERROR {NAME}-broken: " in result.output and expected in result.output
    assert "FAIL" in result.output or "no snapshot yet" in result.output  # x.yaml still ran
