"""`ratecard test --update` on hostile scenarios: any file name, any content.

A scenario arrives with the change under review, so its name and every value
in it are untrusted. Whatever they are, the command ends with a message and
an exit status (never a traceback) and writes nothing but regular snapshot
files directly in the snapshot folder.
"""

from __future__ import annotations

import contextlib
import shutil
import traceback
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from plan_helpers import PLANS, PORTONE

NAME = "portone_one_payment_infra"
SNAPSHOTS = Path("tests") / "__snapshots__" / "test_scenarios"
MARKER = "private-row-7f3a"

HOSTILE_TEXT = st.sampled_from(
    [
        "../../../../outside/secret.csv",
        "../../../outside/secret.csv",
        "../ledger_2024_11.csv",
        "/etc/hostname",
        "..",
        ".",
        "~",
        "-rf",
        "--output=x",
        "$(touch pwned)",
        "`touch pwned`",
        "x; touch pwned",
        "a\nb",
        "%s%n",
        "..\\..\\x",
        "NUL",
        "CON",
        "con.yaml",
        "../../../tests/__snapshots__/test_scenarios/x.json",
        "plans/x.yaml@--output=pwned",
        "\u202e",
        "플랜",
        "a\x00b",
    ]
) | st.text(max_size=30)
SCALARS = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | HOSTILE_TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3), max_leaves=8)
KEYS = (
    st.sampled_from(
        ["description", "plan", "period", "as_of", "customers", "usage", "usage_file", "expect", "formula", "cases", "expected", "totl"]
    )
    | HOSTILE_TEXT
)
ROWS = st.lists(
    st.fixed_dictionaries(
        {"event_id": SCALARS, "customer": st.sampled_from(["acme", "", "rejected", "a b"]) | HOSTILE_TEXT},
        optional={
            "timestamp": st.sampled_from(["2024-11-03T10:00:00+09:00", "2024-11-31", "x"]) | SCALARS,
            "kind": st.sampled_from(["approval", "cancel"]) | SCALARS,
            "amount": SCALARS,
            "extra": SCALARS,
        },
    ),
    max_size=4,
)
AMOUNTS = st.integers(-(10**6), 10**9) | st.none() | HOSTILE_TEXT
DOCUMENT = st.fixed_dictionaries(
    {},
    optional={
        "total": AMOUNTS,
        "lines": st.dictionaries(st.sampled_from(["platform_fee"]) | HOSTILE_TEXT, AMOUNTS, max_size=2),
        "taxes": st.dictionaries(st.just("vat"), AMOUNTS),
        "notices": st.lists(HOSTILE_TEXT, max_size=2) | st.none(),
    },
)
# Scenarios that get as far as rating, with hostile values where a path, a period or a name goes.
RATED = st.fixed_dictionaries(
    {"usage": ROWS},
    optional={
        "period": st.sampled_from(["2024-11", "2024", "2024-Q4", "2024-13", "2024-11-01..2024-10-01", "0001-01..9999-12"]),
        "as_of": st.sampled_from(["2024-11-15", "2024-11-15T25:00", "9999-12-31"]),
        "customers": st.dictionaries(HOSTILE_TEXT, st.dictionaries(HOSTILE_TEXT, SCALARS, max_size=2), max_size=2),
        "expect": st.dictionaries(st.sampled_from(["acme", "acme 2024-11", "a b"]) | HOSTILE_TEXT, DOCUMENT, max_size=2),
    },
)
LEDGER_FILE = st.fixed_dictionaries({"usage_file": HOSTILE_TEXT}, optional={"period": st.just("2024-11")})
FORMULA = st.fixed_dictionaries(
    {
        "formula": st.sampled_from(["annual_refund"]) | HOSTILE_TEXT,
        "cases": st.lists(
            st.fixed_dictionaries(
                {"set": st.dictionaries(st.sampled_from(["monthly_fee", "discount", "months_used"]) | HOSTILE_TEXT, SCALARS, max_size=3)},
                optional={"expect": SCALARS},
            ),
            max_size=2,
        ),
    }
)
SHAPED = RATED | LEDGER_FILE | FORMULA | st.fixed_dictionaries({}, optional={"plan": HOSTILE_TEXT, "usage": ROWS})
CONTENT = (
    (SHAPED | st.dictionaries(KEYS, VALUES, max_size=5)).map(lambda data: yaml.safe_dump(data, allow_unicode=True).encode())
    | st.binary(max_size=120)
    | st.sampled_from([b"", b"- a\n", b"&a [*a]\n", b"x: !!python/object/apply:os.system [ls]\n", b"a: {b: [c\n"])
)
NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=40).filter(
    lambda name: name not in (".", "..") and len(name.encode()) < 200
)


def files_outside(root: Path, snapshots: Path) -> dict[str, tuple]:
    """Every entry under `root` but the snapshot folder (and the folders that hold it), with its content."""
    holders = {snapshots, *snapshots.parents}
    out = {}
    for path in sorted(root.rglob("*")):
        if path == snapshots or snapshots in path.parents or (path in holders and path.is_dir()):
            continue
        mode = path.lstat().st_mode
        out[str(path.relative_to(root))] = (mode, path.read_bytes() if path.is_file() and not path.is_symlink() else None)
    return out


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=NAMES, content=CONTENT)
def test_any_scenario_ends_with_a_message_and_writes_only_snapshots(ratecard, tmp_path_factory, name, content):
    root = tmp_path_factory.mktemp("hostile")
    repo, outside, work = root / "repo", root / "outside", root / "work"
    scenarios = repo / "plans" / NAME / "scenarios"
    scenarios.mkdir(parents=True)
    outside.mkdir()
    work.mkdir()
    shutil.copy(PORTONE, repo / "plans" / f"{NAME}.yaml")
    shutil.copy(PLANS / NAME / "ledger_2024_11.csv", repo / "plans" / NAME / "ledger_2024_11.csv")
    (outside / "secret.csv").write_text(f"event_id,customer,timestamp\n{MARKER},acme,2024-11-03\n", encoding="utf-8")
    (scenarios / f"{name}.yaml").write_bytes(content)
    snapshots = repo / SNAPSHOTS
    before = files_outside(root, snapshots)

    with contextlib.chdir(work):  # a relative path written by mistake would land here
        result = ratecard("test", str(repo / "plans"), "--update")

    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))
    assert result.exit_code in (0, 1), result.output
    assert MARKER not in result.output  # a file outside the plan folder is never read
    assert files_outside(root, snapshots) == before
    if snapshots.exists():
        for entry in snapshots.iterdir():
            assert entry.is_file() and not entry.is_symlink(), entry
            assert entry.name.startswith(f"test_scenario[{NAME}-") and entry.name.endswith("].json"), entry
