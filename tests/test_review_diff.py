"""`ratecard diff`: the revenue impact of a plan edit, through click's CliRunner.

The shipped PortOne plan is edited by script (the 100M-500M bracket raised
from 300,000 to 350,000 KRW) and rated against its sample ledger: of the five
merchants only megamart (net volume 119,000,000 KRW) sits in that bracket, so
exactly one invoice moves, by 50,000 KRW plus 5,000 KRW VAT. Git revisions
are resolved in a throwaway repository made in the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from dsl.loader import load_plan_text
from interpreter.engines.duckdb.engine import rate
from interpreter.review import diff as plan_diff
from plan_helpers import PLANS, PORTONE

LEDGER = PLANS / "portone_one_payment_infra" / "ledger_2024_11.csv"
OLD_BRACKET = "{below: 500_000_000, flat: 300_000}"
NEW_BRACKET = "{below: 500_000_000, flat: 350_000}"


def edited(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the edit {old!r} must match exactly once"
    return text.replace(old, new)


@pytest.fixture
def raised(tmp_path: Path) -> Path:
    """The PortOne plan with the 100M-500M bracket raised to 350,000 KRW."""
    path = tmp_path / "portone_raised.yaml"
    path.write_text(edited(PORTONE.read_text(encoding="utf-8"), OLD_BRACKET, NEW_BRACKET), encoding="utf-8")
    return path


def diff_json(ratecard, old, new, *extra: str) -> tuple[int, dict]:
    result = ratecard("diff", old, new, "--usage", LEDGER, "--period", "2024-11", "--format", "json", *extra)
    return result.exit_code, json.loads(result.stdout)


# --- a raised tier price on the shipped plan ---------------------------------------


def test_raised_bracket_moves_only_the_customer_in_it(ratecard, raised):
    status, data = diff_json(ratecard, PORTONE, raised)
    assert status == 0
    assert data["changes"] == [
        {
            "customer": "megamart",
            "period": "2024-11-01..2024-11-30",
            "currency": "KRW",
            "old_total": "330000",
            "new_total": "385000",
            "delta": "55000",
            "percent": "16.67",
            "lines": [
                {"id": "platform_fee", "old": "300000", "new": "350000"},
                {"id": "tax:vat", "old": "30000", "new": "35000"},
            ],
        }
    ]
    assert data["summary"] == {
        "revenue_old": {"KRW": "990000"},  # 0 + 0 + 110,000 + 330,000 + 550,000
        "revenue_new": {"KRW": "1045000"},
        "documents": 5,
        "up": 1,
        "down": 0,
        "same_total_lines_moved": 0,
        "unchanged": 4,
        "largest_movers": [{"customer": "megamart", "period": "2024-11-01..2024-11-30", "delta": "+55000"}],
        "new_lines": [],
        "vanished_lines": [],
    }


def test_raised_bracket_as_markdown_for_a_pull_request(ratecard, raised):
    result = ratecard("diff", PORTONE, raised, "--usage", LEDGER, "--period", "2024-11", "--format", "markdown")
    assert result.exit_code == 0
    assert result.stdout == textwrap.dedent(f"""\
        ### Revenue impact: `{PORTONE}` → `{raised}`

        - Revenue (KRW): ₩990,000 → ₩1,045,000 (+₩55,000)
        - Documents: 5 — 1 up, 0 down, 4 unchanged

        | customer | period | old total | new total | change | % | lines changed |
        |---|---|---:|---:|---:|---:|---|
        | megamart | 2024-11-01..2024-11-30 | ₩330,000 | ₩385,000 | +₩55,000 | +16.67% | platform_fee ₩300,000→₩350,000, tax:vat ₩30,000→₩35,000 |
    """)


def test_raised_bracket_as_a_terminal_table(ratecard, raised):
    result = ratecard("diff", PORTONE, raised, "--usage", LEDGER, "--period", "2024-11")
    assert result.exit_code == 0
    out = result.stdout
    assert "megamart" in out and "+₩55,000" in out and "+16.67%" in out
    for untouched in ("cafe-haneul", "bookstore", "studio-maru", "travelco"):
        assert untouched not in out
    assert "revenue KRW: ₩990,000 -> ₩1,045,000 (+₩55,000)" in out
    assert "platform_fee ₩300,000 -> ₩350,000" in out
    assert "documents: 5 (1 up, 0 down, 4 unchanged)" in out


def test_lowered_price_counts_customers_down(ratecard, tmp_path):
    # The top bracket 500,000 -> 450,000: travelco (587,500,000 KRW net) pays 55,000 less.
    lowered = tmp_path / "lowered.yaml"
    lowered.write_text(edited(PORTONE.read_text(encoding="utf-8"), "- {flat: 500_000}", "- {flat: 450_000}"), encoding="utf-8")
    status, data = diff_json(ratecard, PORTONE, lowered)
    assert status == 0
    assert [(c["customer"], c["old_total"], c["new_total"], c["delta"], c["percent"]) for c in data["changes"]] == [
        ("travelco", "550000", "495000", "-55000", "-10"),
    ]
    assert (data["summary"]["up"], data["summary"]["down"], data["summary"]["unchanged"]) == (0, 1, 4)
    assert data["summary"]["largest_movers"][0]["delta"] == "-55000"


def test_a_free_bracket_becoming_paid_moves_both_customers_in_it(ratecard, tmp_path):
    # cafe-haneul (12,300,000) and bookstore (49,900,000) are in the free bracket.
    paid = tmp_path / "paid.yaml"
    paid.write_text(
        edited(PORTONE.read_text(encoding="utf-8"), "{below: 50_000_000, flat: 0}", "{below: 50_000_000, flat: 10_000}"), encoding="utf-8"
    )
    status, data = diff_json(ratecard, PORTONE, paid)
    assert status == 0
    moved = {c["customer"]: (c["old_total"], c["new_total"], c["delta"], c["percent"]) for c in data["changes"]}
    assert moved == {"bookstore": ("0", "11000", "11000", None), "cafe-haneul": ("0", "11000", "11000", None)}
    result = ratecard("diff", PORTONE, paid, "--usage", LEDGER, "--period", "2024-11", "--format", "markdown")
    assert (
        "| bookstore | 2024-11-01..2024-11-30 | ₩0 | ₩11,000 | +₩11,000 | - | platform_fee ₩0→₩10,000, tax:vat ₩0→₩1,000 |" in result.stdout
    )


# --- nothing changed, and --fail-on-change ---------------------------------------------


def test_unchanged_plan_reports_no_changes(ratecard, tmp_path):
    copy = tmp_path / "copy.yaml"
    copy.write_text(PORTONE.read_text(encoding="utf-8") + "\n# a comment changes no invoice\n", encoding="utf-8")
    status, data = diff_json(ratecard, PORTONE, copy)
    assert status == 0
    assert data["changes"] == []
    assert data["summary"]["revenue_old"] == data["summary"]["revenue_new"] == {"KRW": "990000"}
    assert (data["summary"]["up"], data["summary"]["down"], data["summary"]["unchanged"]) == (0, 0, 5)
    markdown = ratecard("diff", PORTONE, copy, "--usage", LEDGER, "--period", "2024-11", "--format", "markdown")
    assert markdown.exit_code == 0
    assert "No document changes." in markdown.stdout
    assert "Revenue (KRW): ₩990,000 → ₩990,000 (₩0)" in markdown.stdout


def test_fail_on_change_exits_4_only_when_something_moved(ratecard, tmp_path, raised):
    copy = tmp_path / "copy.yaml"
    copy.write_text(PORTONE.read_text(encoding="utf-8"), encoding="utf-8")
    same = ratecard("diff", PORTONE, copy, "--usage", LEDGER, "--period", "2024-11", "--fail-on-change")
    assert same.exit_code == 0, same.output
    moved = ratecard("diff", PORTONE, raised, "--usage", LEDGER, "--period", "2024-11", "--fail-on-change", "--format", "json")
    assert moved.exit_code == 4
    assert json.loads(moved.stdout)["changes"][0]["customer"] == "megamart"  # the report is still printed
    assert ratecard("diff", PORTONE, raised, "--usage", LEDGER, "--period", "2024-11").exit_code == 0  # without the flag


def test_renamed_tax_moves_lines_without_moving_totals(ratecard, tmp_path):
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(
        edited(PORTONE.read_text(encoding="utf-8"), "vat: {name: VAT, rate: 10%}", "value_added_tax: {name: VAT, rate: 10%}"),
        encoding="utf-8",
    )
    status, data = diff_json(ratecard, PORTONE, renamed, "--fail-on-change")
    assert status == 4  # every document's lines moved, though no total did
    assert data["summary"]["new_lines"] == ["tax:value_added_tax"]
    assert data["summary"]["vanished_lines"] == ["tax:vat"]
    summary = data["summary"]
    assert (summary["up"], summary["down"], summary["same_total_lines_moved"], summary["unchanged"]) == (0, 0, 5, 0)
    assert {c["delta"] for c in data["changes"]} == {"0"}
    megamart = next(c for c in data["changes"] if c["customer"] == "megamart")
    assert megamart["lines"] == [{"id": "tax:value_added_tax", "old": None, "new": "30000"}, {"id": "tax:vat", "old": "30000", "new": None}]


def test_customers_file_is_used_on_both_sides(ratecard, tmp_path, raised):
    # megamart billed annually from 2024-11 without a qualifying October: billed monthly
    # (notice), so the raised bracket still reaches it; travelco on an annual term paid
    # earlier (started 2024-06) pays nothing in November under either plan.
    customers = tmp_path / "customers.yaml"
    customers.write_text(
        textwrap.dedent("""\
        megamart: {billing: annual, annual_start: 2024-11-01}
        travelco: {billing: annual, annual_start: 2024-06-01}
    """),
        encoding="utf-8",
    )
    status, data = diff_json(ratecard, PORTONE, raised, "--customers", customers)
    assert status == 0
    assert [(c["customer"], c["delta"]) for c in data["changes"]] == [("megamart", "55000")]
    assert data["summary"]["revenue_old"] == {"KRW": "440000"}  # 0 + 0 + 110,000 + 330,000 + 0


# --- errors ----------------------------------------------------------------------------


def test_missing_plan_file_is_a_usage_error(ratecard, tmp_path):
    result = ratecard("diff", tmp_path / "nope.yaml", PORTONE, "--usage", LEDGER)
    assert result.exit_code == 2
    assert "nope.yaml: no such plan file" in result.output


def test_broken_new_plan_is_a_plan_error_with_its_line(ratecard, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(edited(PORTONE.read_text(encoding="utf-8"), "on: net_volume", "on: net_volum"), encoding="utf-8")
    result = ratecard("diff", PORTONE, broken, "--usage", LEDGER)
    assert result.exit_code == 1
    assert f"{broken}:44:" in result.output and "did you mean 'net_volume'" in result.output


def test_missing_ledger_is_a_usage_error(ratecard, tmp_path, raised):
    result = ratecard("diff", PORTONE, raised, "--usage", tmp_path / "none.csv")
    assert result.exit_code == 2
    assert "no such ledger file" in result.output


# --- git revisions, in a throwaway repository -------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding plan.yaml (the shipped PortOne plan), committed, then edited."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    plan = root / "plan.yaml"
    plan.write_text(PORTONE.read_text(encoding="utf-8"), encoding="utf-8")
    git(root, "add", "plan.yaml")
    git(root, "commit", "-q", "-m", "plan")
    plan.write_text(edited(plan.read_text(encoding="utf-8"), OLD_BRACKET, NEW_BRACKET), encoding="utf-8")
    return root


def changed_customers(result) -> list[tuple[str, str]]:
    assert result.exit_code == 0, result.output
    return [(c["customer"], c["delta"]) for c in json.loads(result.stdout)["changes"]]


def test_path_at_head_against_the_working_file(ratecard, repo, monkeypatch):
    monkeypatch.chdir(repo)
    result = ratecard("diff", "plan.yaml@HEAD", "plan.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "json")
    assert changed_customers(result) == [("megamart", "55000")]


def test_git_rev_path_form(ratecard, repo, monkeypatch):
    monkeypatch.chdir(repo)
    result = ratecard("diff", "git:HEAD:plan.yaml", "plan.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "json")
    assert changed_customers(result) == [("megamart", "55000")]
    markdown = ratecard("diff", "git:HEAD:plan.yaml", "plan.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "markdown")
    assert markdown.stdout.startswith("### Revenue impact: `git:HEAD:plan.yaml` → `plan.yaml`\n")


def test_absolute_path_at_revision_from_another_working_directory(ratecard, repo):
    # The command runs from wherever pytest runs; the repository is found from the file.
    result = ratecard(
        "diff", f"{repo / 'plan.yaml'}@HEAD", repo / "plan.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "json"
    )
    assert changed_customers(result) == [("megamart", "55000")]


def test_earlier_revisions_and_a_subfolder(ratecard, repo, monkeypatch):
    (repo / "plans").mkdir()
    git(repo, "mv", "plan.yaml", "plans/plan.yaml")
    git(repo, "commit", "-q", "-am", "raise the 100M bracket, move to plans/")
    monkeypatch.chdir(repo / "plans")
    same = ratecard("diff", "plan.yaml@HEAD", "plan.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "json")
    assert changed_customers(same) == []
    monkeypatch.chdir(repo)
    before_move = ratecard(
        "diff", "git:HEAD~1:plan.yaml", "plans/plan.yaml@main", "--usage", LEDGER, "--period", "2024-11", "--format", "json"
    )
    assert changed_customers(before_move) == [("megamart", "55000")]


def test_unknown_revision_is_a_usage_error_with_a_clear_message(ratecard, repo, monkeypatch):
    monkeypatch.chdir(repo)
    for spec in ("plan.yaml@no-such-branch", "git:no-such-branch:plan.yaml"):
        result = ratecard("diff", spec, "plan.yaml", "--usage", LEDGER)
        assert result.exit_code == 2, spec
        assert "cannot read plan.yaml at revision 'no-such-branch'" in result.output
        assert "Traceback" not in result.output


def test_file_missing_at_that_revision_is_a_usage_error(ratecard, repo, monkeypatch):
    monkeypatch.chdir(repo)
    result = ratecard("diff", "git:HEAD:other.yaml", "plan.yaml", "--usage", LEDGER)
    assert result.exit_code == 2
    assert "cannot read other.yaml at revision 'HEAD'" in result.output


def test_revision_outside_a_git_repository_is_a_usage_error(ratecard, tmp_path, monkeypatch):
    (tmp_path / "plain").mkdir()
    plan = tmp_path / "plain" / "plan.yaml"
    plan.write_text(PORTONE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path / "plain")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # do not find a repository above tmp_path
    result = ratecard("diff", "plan.yaml@HEAD", "plan.yaml", "--usage", LEDGER)
    assert result.exit_code == 2
    assert "cannot read plan.yaml at revision 'HEAD'" in result.output


def test_malformed_git_spec_says_how_to_write_it(ratecard):
    result = ratecard("diff", "git:HEAD", PORTONE, "--usage", LEDGER)
    assert result.exit_code == 2
    assert "write git:REVISION:path/to/plan.yaml" in result.output
    empty = ratecard("diff", "plan.yaml@", PORTONE, "--usage", LEDGER)  # not the staged copy, which git reads for ':path'
    assert empty.exit_code == 2
    assert "write the revision after @" in empty.output


# --- #DATE pins a version ---------------------------------------------------------------

VERSIONED = textwrap.dedent("""\
    plan: metered
    currency: KRW
    effective: 2024-01-01
    usage: {units: integer}
    metrics:
      units: {sum: units}
    charges:
      usage: {model: per_unit, on: units, unit_price: 10}
    ---
    plan: metered
    currency: KRW
    effective: 2024-03-01
    usage: {units: integer}
    metrics:
      units: {sum: units}
    charges:
      usage: {model: per_unit, on: units, unit_price: 12}
""")

VERSIONED_LEDGER = textwrap.dedent("""\
    event_id,customer,timestamp,units
    1,acme,2024-01-10T10:00:00,5
    2,acme,2024-03-10T10:00:00,5
    3,bolt,2024-03-11T10:00:00,100
""")


@pytest.fixture
def versioned(tmp_path: Path) -> tuple[Path, Path]:
    plan, ledger = tmp_path / "metered.yaml", tmp_path / "usage.csv"
    plan.write_text(VERSIONED, encoding="utf-8")
    ledger.write_text(VERSIONED_LEDGER, encoding="utf-8")
    return plan, ledger


def test_pinning_two_versions_of_one_file(ratecard, versioned):
    plan, ledger = versioned
    result = ratecard("diff", f"{plan}#2024-01-01", f"{plan}#2024-03-01", "--usage", ledger, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # Every period of the ledger under the January version, then under the March one.
    assert [(c["customer"], c["period"], c["old_total"], c["new_total"]) for c in data["changes"]] == [
        ("acme", "2024-01-01..2024-01-31", "50", "60"),
        ("acme", "2024-03-01..2024-03-31", "50", "60"),
        ("bolt", "2024-03-01..2024-03-31", "1000", "1200"),
    ]


def test_unpinned_versioned_plan_rates_each_period_under_its_own_version(ratecard, versioned):
    plan, ledger = versioned
    pinned_old = ratecard("diff", f"{plan}#2024-02-15", plan, "--usage", ledger, "--format", "json")
    assert pinned_old.exit_code == 0, pinned_old.output
    # Against the versions as they stand only March moves: January is under the first version on both sides.
    assert [(c["customer"], c["period"][:7]) for c in json.loads(pinned_old.stdout)["changes"]] == [
        ("acme", "2024-03"),
        ("bolt", "2024-03"),
    ]


def test_pin_before_the_first_version_or_not_a_date(ratecard, versioned):
    plan, ledger = versioned
    early = ratecard("diff", f"{plan}#2023-12-31", plan, "--usage", ledger)
    assert early.exit_code == 2
    assert "no version is in force on 2023-12-31" in early.output
    garbage = ratecard("diff", f"{plan}#soon", plan, "--usage", ledger)
    assert garbage.exit_code == 2
    assert "after # write the date whose version to use" in garbage.output


def test_pin_combines_with_a_git_revision(ratecard, versioned, monkeypatch):
    plan, ledger = versioned
    root = plan.parent
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "metered.yaml")
    git(root, "commit", "-q", "-m", "versions")
    monkeypatch.chdir(root)
    result = ratecard(
        "diff",
        "metered.yaml@HEAD#2024-01-01",
        "git:HEAD:metered.yaml#2024-03-01",
        "--usage",
        ledger,
        "--period",
        "2024-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert [(c["customer"], c["old_total"], c["new_total"]) for c in json.loads(result.stdout)["changes"]] == [("acme", "50", "60")]


# --- the module functions ------------------------------------------------------------------


def test_compare_documents_present_on_one_side_only(tmp_path):
    """A customer rated only under the new plan has no old total: shown as new, not as a percent."""
    loaded = load_plan_text("metered.yaml", VERSIONED.split("---")[0])
    old_ledger, new_ledger = tmp_path / "old.csv", tmp_path / "new.csv"
    old_ledger.write_text("event_id,customer,timestamp,units\n1,acme,2024-01-10T10:00:00,5\n", encoding="utf-8")
    new_ledger.write_text(
        "event_id,customer,timestamp,units\n1,acme,2024-01-10T10:00:00,5\n2,bolt,2024-01-11T10:00:00,7\n", encoding="utf-8"
    )
    report = plan_diff.compare(rate(loaded.plan, str(old_ledger)).documents, rate(loaded.plan, str(new_ledger)).documents)
    assert [(c.customer, c.old, c.new, c.delta, c.percent) for c in report.moved] == [("bolt", None, 70, 70, None)]
    markdown = plan_diff.to_markdown(report, "old", "new")
    assert "| bolt | 2024-01-01..2024-01-31 | - | ₩70 | +₩70 | new | usage -→₩70 |" in markdown
    assert plan_diff.summary(report)["up"] == 1 and plan_diff.summary(report)["unchanged"] == 1


def test_split_pin_and_read_source(tmp_path):
    assert plan_diff.split_pin("plans/x.yaml") == ("plans/x.yaml", None)
    base, pin = plan_diff.split_pin("plans/x.yaml@main#2025-01-01")
    assert (base, pin.isoformat()) == ("plans/x.yaml@main", "2025-01-01")
    odd = tmp_path / "odd@name.yaml"  # an existing file whose name holds '@' is read as a file
    odd.write_text("plan: x\n", encoding="utf-8")
    assert plan_diff.read_source(str(odd)) == (str(odd), b"plan: x\n")


# --- revisions and paths that must reach git as data, never as options ------------------


@pytest.mark.parametrize(
    "spec",
    [
        "plan.yaml@--output=written.txt",
        "git:--output=written.txt:plan.yaml",
        "plan.yaml@-p",
        "git:-c:plan.yaml",
    ],
)
def test_a_revision_that_starts_with_a_dash_is_refused(ratecard, repo, monkeypatch, spec):
    """`plan.yaml@--output=FILE` once reached `git show` as an option and wrote FILE."""
    monkeypatch.chdir(repo)
    before = sorted(p.name for p in repo.iterdir())
    result = ratecard("diff", spec, "plan.yaml", "--usage", LEDGER, "--period", "2024-11")
    assert result.exit_code == 2, result.output
    assert "a revision cannot start with '-'" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in repo.iterdir()) == before  # nothing written


def test_git_is_called_with_a_list_and_never_an_option_after_end_of_options(ratecard, repo, monkeypatch):
    """Every git call passes its arguments as a list (no shell), and the revision comes after
    --end-of-options, so even a revision that slipped past the check would be read as one."""
    monkeypatch.chdir(repo)
    calls = []
    real = subprocess.run

    def recording(args, *rest, **options):
        calls.append((args, options.get("shell", False)))
        return real(args, *rest, **options)

    monkeypatch.setattr(plan_diff.subprocess, "run", recording)
    assert changed_customers(
        ratecard("diff", "plan.yaml@HEAD", "plan.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "json")
    ) == [("megamart", "55000")]
    assert calls and all(isinstance(args, list) and not shell for args, shell in calls)
    reading = [args for args, _ in calls if "HEAD:plan.yaml" in args]
    assert len(reading) == 1
    assert reading[0].index("--end-of-options") < reading[0].index("HEAD:plan.yaml")


def test_paths_with_spaces_colons_and_korean_letters(ratecard, tmp_path, monkeypatch):
    root = tmp_path / " 요금 plans: v2 "  # leading and trailing spaces too
    (root / "sub dir").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    plan = root / "sub dir" / "플랜 a:b.yaml"
    plan.write_text(PORTONE.read_text(encoding="utf-8"), encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "plan")
    plan.write_text(edited(plan.read_text(encoding="utf-8"), OLD_BRACKET, NEW_BRACKET), encoding="utf-8")
    absolute = ratecard("diff", f"{plan}@HEAD", plan, "--usage", LEDGER, "--period", "2024-11", "--format", "json")
    assert changed_customers(absolute) == [("megamart", "55000")]
    monkeypatch.chdir(root / "sub dir")
    relative = ratecard("diff", "git:HEAD:플랜 a:b.yaml", "플랜 a:b.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "json")
    assert changed_customers(relative) == [("megamart", "55000")]


def test_a_plan_that_is_not_utf8_is_a_plan_error_with_its_place(ratecard, repo, monkeypatch):
    monkeypatch.chdir(repo)
    latin = repo / "latin.yaml"
    latin.write_bytes(
        PORTONE.read_text(encoding="utf-8").replace("name: One Payment Infra", "name: Caf\u00e9").encode("latin-1", "replace")
    )
    git(repo, "add", "latin.yaml")
    git(repo, "commit", "-q", "-m", "latin-1")
    for spec in ("latin.yaml", "latin.yaml@HEAD", "git:HEAD:latin.yaml"):
        result = ratecard("diff", spec, "plan.yaml", "--usage", LEDGER, "--period", "2024-11")
        assert result.exit_code == 1, (spec, result.output)
        assert "Traceback" not in result.output
        assert f"{spec}:6:10:" in result.output and "not UTF-8" in result.output, result.output


def test_a_revision_may_hold_an_at_sign(ratecard, repo, monkeypatch):
    """`main@{1}` and `HEAD@{0}` are git revisions: the plan path ends at its .yaml."""
    monkeypatch.chdir(repo)
    for spec in ("plan.yaml@HEAD@{0}", "plan.yaml@main@{0}"):
        result = ratecard("diff", spec, "plan.yaml", "--usage", LEDGER, "--period", "2024-11", "--format", "json")
        assert changed_customers(result) == [("megamart", "55000")], spec


def test_a_folder_of_versions_is_read_as_rate_reads_it(ratecard, tmp_path, versioned):
    _, ledger = versioned
    folder = tmp_path / "metered"
    folder.mkdir()
    first, second = VERSIONED.split("---\n")
    (folder / "2024-01.yaml").write_text(first, encoding="utf-8")
    (folder / "2024-03.yaml").write_text(second, encoding="utf-8")
    result = ratecard("diff", f"{folder}#2024-01-01", folder, "--usage", ledger, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [(c["customer"], c["period"][:7]) for c in json.loads(result.stdout)["changes"]] == [("acme", "2024-03"), ("bolt", "2024-03")]
