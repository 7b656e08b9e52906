"""Every command under random command lines: never a traceback.

Hypothesis draws the option values a tired billing engineer or a hostile file
could give to `rate` and `run`, and to `check`, `eval`, `explain`, `diff`,
`test` and `curve`: periods and `--as-of` moments in and out of the calendar,
paths that are missing, folders, devices or files in the way, customers,
plan, scenario and ledger files with odd content, formula inputs and curve
quantities past what is computed exactly, plan and customer ids made to
escape a folder or a terminal.
Whatever the draw, the command ends with one of the defined exit statuses,
click's `SystemExit` is the only exception, and nothing is written outside
the folder the command was told to write to.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

EXIT_STATUSES = {0, 1, 2, 3}

PLAN = textwrap.dedent("""\
    plan: {plan_id}
    currency: USD
    timezone: {timezone}
    usage:
      units: integer
    customer:
      segment: {{type: text, values: [startup, enterprise], default: startup}}
    metrics:
      used: {{sum: units}}
    charges:
      use: {{model: per_unit, on: used, unit_price: 0.5}}
      support: {{model: flat, amount: 10, when: customer.segment == "enterprise"}}
""")

LEDGER = (
    "event_id,customer,timestamp,units\n"
    "1,acme,2024-11-02T10:00:00,3\n"
    "2,=cmd|' /C calc'!A0,2024-11-03T10:00:00,1\n"
    '3,"evil\x1b[2J",2024-12-01T00:00:00Z,2\n'
    "4,[bold]x,2024-11-05T10:00:00,nope\n"
    "=5,acme,2024-11-05T10:00:00,1\n"
)
FAR_LEDGER = "event_id,customer,timestamp,units\n1,acme,9999-12-31T10:00:00,1\n"

HOSTILE_IDS = ["ok-plan", "../../escaped", "/tmp/ratecard-fuzz", "..", ".", "manifest", "a\\b", "\x1b[31mred", "[bold]b", "=1+1"]

digits = st.integers(min_value=0, max_value=10_000)
# about half the draws are ordinary values, so that the commands get as far as writing
periods = st.one_of(
    st.sampled_from([None, "2024-11", "2024-11-01..2024-12-31", "2024"]),
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", digits, st.integers(0, 14)),
    st.builds(lambda y, q: f"{y:04d}-Q{q}", digits, st.integers(0, 5)),
    st.builds(lambda y: f"{y:04d}", digits),
    st.builds(lambda a, b: f"{a.isoformat()}..{b.isoformat()}", st.dates(), st.dates()),
    st.sampled_from(["9999", "9999-12", "0001", "0001-01", "2024-11", "2024-11-01..2024-11-30", "", " ", "２０２４-１１", "last month"]),
    st.text(max_size=12),
)
moments = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.sampled_from([None, *(datetime.timezone(datetime.timedelta(hours=h)) for h in (-12, 0, 9, 14))])).map(
        lambda t: t.isoformat()
    ),
    st.sampled_from(["9999-12-31", "0001-01-01T00:00:00+09:00", "2024-11-15", "2024-11-15T25:00", "soon"]),
    st.text(max_size=12),
)
odd_text = st.lists(st.sampled_from(list("ab,=+-@\"'\n\r\t\x00\x1b[]{}:- ä") + ["plan", "customer", "ok-plan"]), max_size=30).map("".join)
customers_files = st.one_of(
    st.just((".csv", "customer,plan,segment\nacme,ok-plan,enterprise\n=cmd|' /C calc'!A0,{plan_id}\n")),
    st.tuples(
        st.just(".csv"),
        st.sampled_from(
            [
                "customer,plan,segment\nacme,ok-plan,enterprise\n",
                "customer,plan\n",
                "",
                "plan\nok-plan\n",
                "customer,plan\nacme,ok-plan\nacme,ok-plan\n",
                "customer,customer\na,b\n",
                "customer,plan\n=cmd,{plan_id}\nacme,{plan_id}.yaml\n",
            ]
        ),
    ),
    st.tuples(
        st.just(".yaml"),
        st.sampled_from(
            [
                "acme: {plan: ok-plan}\n",
                "[]\n",
                "- {customer: null}\n",
                "acme: [1]\n",
                "- {customer: acme, plan: '{plan_id}'}\n- {customer: acme, plan: ok-plan}\n",
                "'{plan_id}': {plan: '{plan_id}', segment: enterprise}\n",
                "acme: {plan: ok-plan, segment: [1]}\n",
                '"\\ud800": {plan: ok-plan}\nacme: {plan: ok-plan, segment: "enter\\udfffprise"}\n',
            ]
        ),
    ),
    st.tuples(st.sampled_from([".csv", ".yaml", ".txt"]), odd_text),
    st.tuples(st.sampled_from([".csv", ".yaml"]), st.binary(max_size=40)),
)
# where a command reads a file from, or writes one to: names resolved in the example's folder
read_paths = st.one_of(st.just("good"), st.sampled_from(["missing", "folder", "far", "/dev/null", "/dev/full"]))
write_paths = st.one_of(
    st.just("outputs/new"),
    st.sampled_from(
        ["outputs/existing_folder", "outputs/a_file", "outputs/a_file/inside", "outputs/missing/deeper/file", "/dev/null", "/dev/full"]
    ),
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def files_under(root: Path, *skip: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(p.is_relative_to(s) for s in skip)
    }


def prepare(root: Path, plan_id: str, timezone: str, customers) -> dict[str, str]:
    """The example's files, afresh: a plans folder, the ledger, the customers file, outputs/."""
    for child in root.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    (root / "plans").mkdir()
    (root / "plans" / "ok_plan.yaml").write_text(PLAN.format(plan_id="ok-plan", timezone=timezone), encoding="utf-8")
    quoted = plan_id.replace("\\", "\\\\").replace('"', '\\"').replace("\x1b", "\\e")
    (root / "plans" / "other.yaml").write_text(PLAN.format(plan_id=f'"{quoted}"', timezone=timezone), encoding="utf-8")
    (root / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    (root / "far.csv").write_text(FAR_LEDGER, encoding="utf-8")
    suffix, content = customers
    path = root / f"customers{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content.replace("{plan_id}", plan_id), encoding="utf-8")
    (root / "folder").mkdir()
    (root / "tmp").mkdir()
    outputs = root / "outputs"
    (outputs / "existing_folder").mkdir(parents=True)
    (outputs / "existing_folder" / "notes.txt").write_text("earlier", encoding="utf-8")
    (outputs / "a_file").write_text("in the way", encoding="utf-8")
    return {"good": str(path), "missing": str(root / "missing.csv"), "folder": str(root / "folder"), "far": str(root / "far.csv")}


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["rate", "run"]),
    plan_id=st.sampled_from(HOSTILE_IDS),
    timezone=st.sampled_from(["UTC", "Asia/Seoul", "Pacific/Kiritimati"]),
    period=periods,
    as_of=moments,
    customers=customers_files,
    customers_at=read_paths,
    usage_at=read_paths,
    target=write_paths,
    force=st.booleans(),
    fmt=st.sampled_from(["table", "json", "csv", "jsonl", "yaml"]),
    customer=st.sampled_from([None, "acme", "=cmd|' /C calc'!A0", "nobody"]),
)
def test_rate_and_run_end_with_a_defined_status_and_write_only_where_told(
    ratecard,
    workspace,
    monkeypatch,
    command,
    plan_id,
    timezone,
    period,
    as_of,
    customers,
    customers_at,
    usage_at,
    target,
    force,
    fmt,
    customer,
):
    root = workspace
    paths = prepare(root, plan_id, timezone, customers)
    paths["good_usage"] = str(root / "ledger.csv")
    monkeypatch.setattr(tempfile, "tempdir", str(root / "tmp"))  # the run's temporary files: checked like the rest
    usage = paths["good_usage"] if usage_at == "good" else paths.get(usage_at, usage_at)
    customers_file = paths["good"] if customers_at == "good" else paths.get(customers_at, customers_at)
    written = target if target.startswith("/") else str(root / target)
    if command == "rate":
        args = ["rate", str(root / "plans" / "ok_plan.yaml"), "--usage", usage, "--format", fmt, "--rejects", written, "--quiet"]
        if force:  # drawn for run; for rate it says whether a customers file is given
            args += ["--customers", customers_file]
        if customer is not None:
            args += ["--customer", customer]
    else:
        args = ["run", "--customers", customers_file, "--plans", str(root / "plans"), "--usage", usage, "--out", written]
        args += ["--force"] if force else []
    args += ["--period", period] if period is not None else []
    args += ["--as-of", as_of] if as_of is not None else []
    before = files_under(root, root / "outputs")
    result = ratecard(*args)
    event(f"{command} exit {result.exit_code}")  # what the draws reached: --hypothesis-show-statistics
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output, result.exc_info)
    assert result.exit_code in EXIT_STATUSES, (args, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 2 and not result.output:
        raise AssertionError(("a usage error without a message", args))
    assert files_under(root, root / "outputs") == before, args  # nothing outside outputs/, temporary files gone
    assert not Path("/tmp/ratecard-fuzz.json").exists()


# --- check, eval, explain, diff, test and curve ---------------------------------------------------

FORMULA = textwrap.dedent("""\
    formulas:
      refund:
        inputs: {paid: money, charged_on: date, share: percent, used: bool, months: integer}
        value: "if used then paid * share / months else paid - days_between(charged_on, 2024-11-30) * 1 USD"
""")
SCENARIO = textwrap.dedent("""\
    period: 2024-11
    usage:
      - {event_id: a1, customer: acme, timestamp: "2024-11-02T10:00:00", units: 3}
    expect:
      acme: {total: 1.50}
""")
# small hostile files: text made of the characters that break parsers, raw bytes, and near-misses of valid files
plan_texts = st.one_of(
    odd_text,
    st.binary(max_size=40),
    st.sampled_from(
        [
            PLAN.format(plan_id="ok-plan", timezone="UTC").replace("unit_price: 0.5", "unit_price: 1e999999"),
            PLAN.format(plan_id="ok-plan", timezone="UTC").replace("unit_price: 0.5", "unit_price: 10%"),
            PLAN.format(plan_id="ok-plan", timezone="Mars/Olympus") + FORMULA,
            PLAN.format(plan_id="ok-plan", timezone="UTC").replace("sum: units", "sum: nope"),
            PLAN.format(plan_id="\x1b[2J", timezone="UTC").replace("charges:", "charges: {}\nx:"),
            "plan: a\n---\nplan: a\neffective: 9999-12-31\n",
            "plan: [1, {2: 3}]\ncurrency: XXX\n",
            "&a [*a, *a]\n",
            "plan: x\ncurrency: USD\n" + "  " * 200 + "a: 1\n",
        ]
    ),
)
scenario_texts = st.one_of(
    odd_text,
    st.binary(max_size=40),
    st.sampled_from(
        [
            SCENARIO.replace("1.50", "'1.50'"),
            SCENARIO.replace("period: 2024-11", "period: 9999-12"),
            SCENARIO.replace("period: 2024-11", "period: 2024-11\nusage_file: ../../../../../../etc/passwd"),
            SCENARIO.replace("period: 2024-11", "period: 2024-11\nplan: /dev/zero"),
            SCENARIO.replace("period: 2024-11", "period: 2024-11\nas_of: 0001-01-01T00:00:00+14:00"),
            SCENARIO.replace("acme: {total: 1.50}", '"\x1b[31m": {total: 1e999999}'),
            "formula: refund\ninputs: {paid: 1, months: 0, used: true, share: 1%, charged_on: 2024-11-01}\nexpect: 1\n",
            "formula: refund\ninputs: {paid: x}\nexpect: 1\n",
        ]
    ),
)
# about half the draws are the good files and values, so that the commands get as far as rating and writing
plans_at = st.just("plans/ok_plan.yaml") | st.sampled_from(
    ["plans/drawn.yaml", "plans", "missing.yaml", "folder", "/dev/null", "/dev/zero", "ledger.csv"]
)
ledgers_at = st.just("ledger.csv") | st.sampled_from(["drawn_ledger.csv", "far.csv", "missing.csv", "folder", "/dev/null"])
customer_ids = st.just("acme") | st.sampled_from(["nobody", "=cmd|' /C calc'!A0", "evil\x1b[2J", "", "[bold]x"])
set_values = st.one_of(
    st.sampled_from(
        [
            "150000",
            "30%",
            "2024-11-03",
            "true",
            "0",
            "-1",
            "1e999999",
            "NaN",
            "Infinity",
            "9" * 40,
            "",
            "２",
            "10000-01-01",
            "0001-01-01",
            "1_000",
            "0.00000000001",
            "maybe",
        ]
    ),
    st.text(max_size=8),
)
GOOD_SETTINGS = ["paid=150000", "charged_on=2024-11-03", "share=30%", "used=true", "months=3"]
settings_given = st.just(GOOD_SETTINGS) | st.lists(
    st.one_of(
        st.builds(
            lambda n, v: f"{n}={v}", st.sampled_from(["paid", "charged_on", "share", "used", "months", "nope", " ", "paid "]), set_values
        ),
        st.sampled_from(GOOD_SETTINGS),
        st.text(max_size=8),
    ),
    max_size=6,
)
specs = st.one_of(
    plans_at,
    st.sampled_from(
        [
            "plans/ok_plan.yaml@main",
            "plans/ok_plan.yaml@--output=/tmp/ratecard-fuzz.json",
            "git:HEAD:plans/ok_plan.yaml",
            "git::",
            "plans/ok_plan.yaml#2024-01-01",
            "plans/ok_plan.yaml#soon",
            "@",
            "#",
            "-",
        ]
    ),
    st.text(max_size=8),
)
snapshot_dirs = st.sampled_from([None, "outputs/snaps", "outputs/a_file", "outputs/existing_folder", "outputs/missing/deeper", "/dev/null"])
quantities = st.one_of(
    st.none(),
    st.sampled_from(
        ["100", "0", "-5", "1e999999", "NaN", "Infinity", "-Infinity", "1_000_000", "9" * 40, "0.0000001", "1e-999999", "", "sNaN"]
    ),
    st.text(max_size=6),
)

# exit statuses each command defines (click's usage errors are 2)
STATUSES = {"check": {0, 1, 2}, "eval": {0, 1, 2}, "explain": {0, 1, 2}, "diff": {0, 1, 2, 4}, "test": {0, 1, 2}, "curve": {0, 1, 2}}


def optional(option: str, value) -> list[str]:
    return [] if value is None else [option, value]


def command_line(data, command: str) -> list[str]:
    """A command line of `command`, drawn: its arguments among the example's files and hostile values."""
    draw = data.draw
    if command == "check":
        return [
            "check",
            *draw(st.lists(plans_at | st.just("plans/ok_plan/scenarios/first.yaml"), min_size=1, max_size=3)),
            "--format",
            draw(st.sampled_from(["text", "json"])),
        ]
    if command == "eval":
        sets = [item for value in draw(settings_given) for item in ("--set", value)]
        return [
            "eval",
            draw(plans_at),
            draw(st.just("refund") | st.sampled_from(["nope", "", "\x1b"]) | st.text(max_size=6)),
            *sets,
            "--format",
            draw(st.sampled_from(["text", "json"])),
        ]
    if command == "explain":
        return [
            "explain",
            draw(plans_at),
            "--usage",
            draw(ledgers_at),
            "--customer",
            draw(customer_ids),
            *optional("--period", draw(periods)),
            *optional("--as-of", draw(moments)),
            *optional("--customers", draw(st.sampled_from([None, "customers.csv", "missing.csv", "/dev/null"]))),
        ]
    if command == "diff":
        return [
            "diff",
            draw(specs),
            draw(specs),
            "--usage",
            draw(ledgers_at),
            *optional("--period", draw(periods)),
            "--format",
            draw(st.sampled_from(["table", "json", "markdown"])),
            *(["--fail-on-change"] if draw(st.booleans()) else []),
        ]
    if command == "test":
        return [
            "test",
            draw(
                st.sampled_from(
                    [
                        "plans",
                        "plans/ok_plan",
                        "plans/ok_plan/scenarios/first.yaml",
                        "plans/ok_plan/scenarios/drawn.yaml",
                        "missing",
                        "ledger.csv",
                        "folder",
                        "/dev/null",
                    ]
                )
            ),
            *optional("--snapshots", draw(snapshot_dirs)),
            *(["--update"] if draw(st.booleans()) else []),
        ]
    return [
        "curve",
        draw(plans_at),
        draw(st.just("use") | st.sampled_from(["support", "nope", "", "\x1b[2J"])),
        *optional("--to", draw(quantities)),
        "--format",
        draw(st.sampled_from(["csv", "json", "svg", "png"])),
        *optional(
            "--output",
            draw(
                st.sampled_from(
                    [
                        None,
                        "outputs/curve.out",
                        "outputs/a_file",
                        "outputs/a_file/inside",
                        "outputs/existing_folder",
                        "outputs/missing/deeper/file",
                        "/dev/full",
                    ]
                )
            ),
        ),
    ]


def prepare_others(root: Path, plan_text, scenario_text, ledger_text) -> None:
    """The files of an example of the other commands, afresh, under `root` (the working folder)."""
    prepare(root, "ok-plan", "UTC", (".csv", "customer,plan,segment\nacme,ok-plan,enterprise\n"))
    (root / "plans" / "other.yaml").unlink()
    (root / "plans" / "ok_plan.yaml").write_text(PLAN.format(plan_id="ok-plan", timezone="UTC") + FORMULA, encoding="utf-8")
    (root / "customers.csv").write_text("customer,segment\nacme,enterprise\n", encoding="utf-8")
    for path, content in (
        (root / "plans" / "drawn.yaml", plan_text),
        (root / "drawn_ledger.csv", ledger_text),
        (root / "plans" / "ok_plan" / "scenarios" / "drawn.yaml", scenario_text),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    (root / "plans" / "ok_plan" / "scenarios" / "first.yaml").write_text(SCENARIO, encoding="utf-8")


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    command=st.sampled_from(sorted(STATUSES)),
    plan_text=plan_texts,
    scenario_text=scenario_texts,
    ledger_text=st.one_of(st.just(LEDGER), odd_text, st.binary(max_size=40)),
)
def test_the_other_commands_end_with_a_defined_status_and_write_only_where_told(
    ratecard, workspace, monkeypatch, data, command, plan_text, scenario_text, ledger_text
):
    root = workspace
    prepare_others(root, plan_text, scenario_text, ledger_text)
    monkeypatch.chdir(root)  # relative paths (`plans`, the default snapshot folder) stay in the example's folder
    monkeypatch.setattr(tempfile, "tempdir", str(root / "tmp"))
    args = command_line(data, command)
    # `test --update` may write snapshots beside plans/ (tests/__snapshots__), the others only into outputs/
    before = files_under(root, root / "outputs", root / "tests")
    result = ratecard(*args)
    event(f"{command} exit {result.exit_code}")
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output, result.exc_info)
    assert result.exit_code in STATUSES[command], (args, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 2 and not result.output:
        raise AssertionError(("a usage error without a message", args))
    assert files_under(root, root / "outputs", root / "tests") == before, args
    if command != "test":
        assert not (root / "tests").exists(), args
    assert not Path("/tmp/ratecard-fuzz.json").exists()
